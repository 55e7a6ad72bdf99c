"""A transcript rewritten in place (same inode, size and mtime, or the same first 4 KiB) is re-read
(issue 15 item 8): before, 0 of 37 changed requests were picked up."""

from __future__ import annotations

import os
from pathlib import Path

from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from records import SESSION, assistant, line


def _records(tag: str, n: int = 40) -> bytes:
    return "".join(line(assistant(f"msg_{i:03d}", f"req_{tag}{i:03d}", f"2026-05-15T01:{i % 60:02d}:00.000Z",
                                  out=100 + i)) for i in range(n)).encode()


def _ids(db: Path) -> set[str]:
    with open_ledger(str(db)) as ledger:
        return {r["request_id"] for r in ledger.rows("SELECT request_id FROM requests")}


def _ingested(tmp_path: Path, original: bytes) -> tuple[Path, Path, Path]:
    """One transcript holding `original`, ingested once: (projects, the file, the ledger)."""
    projects = tmp_path / "projects"
    path = projects / "app" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(original)
    db = tmp_path / "l.sqlite3"
    with open_ledger(str(db)) as ledger:
        ingest(ledger, [projects], machine="m")
    return projects, path, db


def test_same_inode_size_and_mtime_rewrite_is_re_read(tmp_path):
    original = _records("a")
    projects, path, db = _ingested(tmp_path, original)
    assert _ids(db) == {f"req_a{i:03d}" for i in range(40)}
    st = os.stat(path)
    # Rewrite every request id in place: same length, same inode; then restore the mtime exactly.
    rewritten = original.replace(b"req_a", b"req_b")
    assert len(rewritten) == len(original)
    with open(path, "r+b") as handle:
        handle.write(rewritten)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    with open_ledger(str(db)) as ledger:
        summary = ingest(ledger, [projects], machine="m")
    assert summary.files_unchanged == 0
    assert {f"req_b{i:03d}" for i in range(40)} <= _ids(db)


def test_a_rewrite_keeping_the_first_4_kib_and_growing_is_re_read_whole(tmp_path):
    original = _records("a")
    projects, path, db = _ingested(tmp_path, original)
    head = original[:4096]
    changed = head + original[4096:].replace(b"req_a", b"req_c") + _records("d", 3)
    with open(path, "r+b") as handle:  # same inode, first 4 KiB unchanged, grown
        handle.write(changed)
    with open_ledger(str(db)) as ledger:
        ingest(ledger, [projects], machine="m")
    ids = _ids(db)
    assert any(i.startswith("req_c") for i in ids), "the rewritten part before the old offset was not re-read"
    assert {f"req_d{i:03d}" for i in range(3)} <= ids


def test_an_untouched_file_stays_unchanged_and_an_appended_one_resumes(tmp_path):
    projects, path, db = _ingested(tmp_path, _records("a"))
    with open_ledger(str(db)) as ledger:
        assert ingest(ledger, [projects], machine="m").files_unchanged == 1
        with open(path, "ab") as handle:
            handle.write(_records("e", 2))
        summary = ingest(ledger, [projects], machine="m")
    assert summary.bytes_read == len(_records("e", 2))  # resumed at the old offset, not re-read
    assert {"req_e000", "req_e001"} <= _ids(db)
