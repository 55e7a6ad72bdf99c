"""core/files.py: hostile paths are refused at once instead of hanging or filling memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claimback.core.files import UnsafeFile, read_regular_bytes, read_regular_text, read_tail_lines


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "settings.json"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeFile):
        read_regular_text(fifo)


def test_device_is_refused() -> None:
    with pytest.raises(UnsafeFile):
        read_regular_bytes("/dev/zero")


def test_oversized_file_is_refused_and_small_one_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b"x" * 101)
    with pytest.raises(UnsafeFile, match="larger than 100"):
        read_regular_bytes(big, limit=100)
    assert read_regular_bytes(big, limit=101) == b"x" * 101


def test_invalid_utf8_becomes_replacement(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_bytes(b'{"a": "\xff"}')
    assert read_regular_text(f) == '{"a": "\ufffd"}'


def test_tail_drops_the_cut_first_line(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_bytes(b"first line\nsecond\nthird\n")
    assert read_tail_lines(f, 15) == [b"second", b"third", b""]
    assert read_tail_lines(f, 1000) == [b"first line", b"second", b"third", b""]
