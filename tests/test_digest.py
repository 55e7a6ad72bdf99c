"""core/digest.py: the start-up path's SHA-256 gives hashlib's digests (the ledger stores them)."""

from __future__ import annotations

import hashlib

import pytest

from claimback.core.digest import sha256


@pytest.mark.parametrize("size", [0, 1, 63, 64, 4096, 100_000])
def test_digest_sha256_is_hashlibs(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
