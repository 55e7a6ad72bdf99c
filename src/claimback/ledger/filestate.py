"""Whether a transcript file is as the ledger last read it, judged without the parser (DESIGN §3.1).

Every report starts with an incremental ingest, and most find nothing new: then the answer comes from
one query of the `files` table and one `stat` (plus one pread of the consumed tail) per file. This module
is that check and nothing more, so the unchanged `usage … --json` re-run (claimback.fastcli) can make it
without importing the ingest's plan (ledger/changes.py) or its parser (ledger/ingest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from claimback.core.digest import sha256
from claimback.sources.discovery import walk_transcripts

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing is part of what this path saves
if TYPE_CHECKING:
    from claimback.ledger.store import Ledger

# A meta row set while rows are written and cleared once the cross-file steps ran (ledger/ingest.py): a
# run that finds it (a crashed run's) has those steps to finish even when no file changed.
LINKS_PENDING = "ingest_links_pending"

TAIL_BYTES = 4096


def tail_hash(path: Path | str, offset: int) -> str:
    """A hash of the (up to) 4 KiB just before `offset`, the end of what a run consumed: a file rewritten
    in place with the same inode, size and mtime (or the same first 4 KiB) differs there. One pread."""
    start = max(0, offset - TAIL_BYTES)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        data = os.pread(fd, offset - start, start)
    finally:
        os.close(fd)
    return f"{offset}:{sha256(data).hexdigest()[:32]}"


def same_tail(path: Path | str, stored: str | None, offset: int) -> bool:
    """Whether the consumed bytes still end as they did (True when nothing was stored: older ledgers)."""
    return not stored or tail_hash(path, offset) == stored


def _unchanged_tail(path: str, stored: str | None, offset: int) -> bool:
    try:
        return same_tail(path, stored, offset)
    except OSError:
        return True  # unreadable now: the main read reports it when the file changes


def stored_files(ledger: Ledger, machine: str) -> dict[str, tuple]:
    """path -> (size, mtime_ns, inode, device, byte_offset, tail_hash): only what the check compares (the
    parser state, ~500 bytes a file, is read when a file changed)."""
    return {row[0]: row[1:] for row in ledger.execute(
        "SELECT path, size, mtime_ns, inode, device, byte_offset, tail_hash FROM files WHERE machine_id = ?",
        (machine,))}


def compare_files(roots: Iterable[Path], seen: dict[str, tuple]
                  ) -> Iterator[tuple[str, os.stat_result | None, Path, bool]]:
    """Every transcript under `roots` as (path, stat, root, unchanged), in reading order, compared with
    what the ledger remembers of it (`stored_files`: device, inode, size, mtime, the hash of the bytes
    before the consumed offset). The stat is None for a file that could not be stat'ed."""
    for path, st, root in walk_transcripts(roots):
        if st is None:
            try:
                st = os.stat(path)
            except OSError:
                yield path, None, root, False
                continue
        previous = seen.get(path)
        yield path, st, root, (
            previous is not None and previous[0] == st.st_size and previous[1] == st.st_mtime_ns
            and previous[2] == st.st_ino and previous[3] == st.st_dev
            and _unchanged_tail(path, previous[5], previous[4]))


def nothing_to_ingest(ledger: Ledger, roots: Iterable[Path], machine: str) -> bool:
    """Whether an ingest of `roots` would find no file to read and no unfinished run to complete: what
    `ledger.changes.find_changes(...).nothing_to_do` says, without building the plan."""
    if ledger.scalar("SELECT value FROM meta WHERE key = ?", (LINKS_PENDING,)) is not None:
        return False
    seen = stored_files(ledger, machine)
    # A file that cannot be stat'ed is not read either (find_changes counts it unreadable).
    return all(unchanged or st is None for _, st, _, unchanged in compare_files(roots, seen))
