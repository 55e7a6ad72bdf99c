"""Which transcript files changed since the last ingest, found without the parser (DESIGN §3.1).

Every report starts with an incremental ingest, and most find nothing new: then the answer comes from
one query of the `files` table and one `stat` (plus one pread of the consumed tail) per file. This
module is what that costs to import: the transcript parser, the failure classifier and the secret
patterns (ledger/ingest.py) load only when a file has something to read (`ingest_changes`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from claimback.core.digest import sha256
from claimback.ledger.store import Ledger, restore_deferred_indexes
from claimback.sources.discovery import TranscriptFile, classify_path, walk_transcripts

ProgressFn = Callable[[int, int, str], None]

# A meta row set while rows are written and cleared once the cross-file steps ran (ledger/ingest.py): a
# run that finds it (a crashed run's) has those steps to finish even when no file changed.
LINKS_PENDING = "ingest_links_pending"

TAIL_BYTES = 4096


@dataclass
class IngestSummary:
    files_seen: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    bytes_read: int = 0
    lines_read: int = 0
    new_requests: int = 0
    new_failures: dict[str, int] = field(default_factory=dict)
    new_tasks: int = 0
    new_prompts: int = 0
    lines_skipped: dict[str, int] = field(default_factory=dict)
    # Records of a type (or system subtype) this claimback neither reads nor skips by name: a newer
    # client's. Counted, never guessed at (docs/design.md, "Transcript records").
    unknown_records: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    partial_lines_left: int = 0
    seconds: float = 0.0
    ledger: str = ""
    roots: list[str] = field(default_factory=list)


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


@dataclass
class Changes:
    """What an ingest of `roots` has to do: the files to read (with their stat and stored state)."""

    summary: IngestSummary
    work: list[tuple[TranscriptFile, os.stat_result, dict | None]]  # with the file's stored `files` row
    links_pending: bool
    first_load: bool  # the ledger has no file of this machine yet
    started: float

    @property
    def nothing_to_do(self) -> bool:
        return not self.work and not self.links_pending


def find_changes(ledger: Ledger, roots: Iterable[Path], machine: str) -> Changes:
    """Compare every transcript under `roots` with what the ledger remembers of it (device, inode, size,
    mtime, the hash of the bytes before the consumed offset): the unchanged ones are counted, not read."""
    started = time.perf_counter()
    roots = list(roots)
    summary = IngestSummary(ledger=ledger.location, roots=[str(r) for r in roots])
    # Only what the check compares: the parser state (~500 bytes a file) is read below, when a file changed.
    seen = {row[0]: row[1:] for row in ledger.execute(
        "SELECT path, size, mtime_ns, inode, device, byte_offset, tail_hash FROM files WHERE machine_id = ?",
        (machine,))}
    links_pending = ledger.scalar("SELECT value FROM meta WHERE key = ?", (LINKS_PENDING,)) is not None
    changed: list[tuple[str, os.stat_result, Path]] = []
    for path, st, root in walk_transcripts(roots):
        summary.files_seen += 1
        if st is None:
            try:
                st = os.stat(path)
            except OSError:
                summary.unreadable.append(path)
                continue
        previous = seen.get(path)
        if (previous is not None and previous[0] == st.st_size and previous[1] == st.st_mtime_ns
                and previous[2] == st.st_ino and previous[3] == st.st_dev
                and _unchanged_tail(path, previous[5], previous[4])):
            summary.files_unchanged += 1
            continue
        changed.append((path, st, root))
    known: dict[str, dict] = {}
    if changed:
        known = {row["path"]: row for row in ledger.rows(
            "SELECT path, device, inode, size, mtime_ns, byte_offset, head_hash, lines_read, lines_skipped, "
            "state, tail_hash FROM files WHERE machine_id = ?", (machine,))}
    work = [(classify_path(Path(path), root), st, known.get(path)) for path, st, root in changed]
    return Changes(summary, work, links_pending, first_load=not seen, started=started)


def ingest_changes(ledger: Ledger, roots: Iterable[Path], *, progress: ProgressFn | None = None,
                   machine: str | None = None) -> IngestSummary:
    """`ledger.ingest.ingest`, with the same result, for callers that mostly find nothing new (every
    report): when no file changed, the parser is never imported."""
    from claimback.config import machine_id

    machine = machine or machine_id()
    roots = list(roots)
    changes = find_changes(ledger, roots, machine)
    if changes.nothing_to_do:
        # What ingest() does with no work: the deferred indexes a crashed first load left out come back.
        restore_deferred_indexes(ledger)
        changes.summary.seconds = round(time.perf_counter() - changes.started, 3)
        return changes.summary
    from claimback.ledger.ingest import ingest

    return ingest(ledger, roots, progress=progress, machine=machine, changes=changes)
