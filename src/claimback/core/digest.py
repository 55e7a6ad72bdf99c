"""SHA-256 for the start-up path, without loading OpenSSL.

`import hashlib` loads libcrypto (~3 ms of every report's start-up); CPython's own `_sha2` (3.12+) or
`_sha256` (3.11) module gives the same digests for the few KB a re-run hashes (file tails, cache keys).
"""

from __future__ import annotations

try:
    from _sha2 import sha256  # type: ignore[import-not-found]
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef]
    except ImportError:  # a build without them: hashlib's (OpenSSL) sha256, the same digests
        from hashlib import sha256  # type: ignore[assignment]

__all__ = ["sha256"]
