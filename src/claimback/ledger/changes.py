"""What an ingest has to do: the transcript files that changed since the last one, found without the
parser (the per-file check is ledger/filestate.py), and the summary every ingest returns.

Every report starts with an incremental ingest, and most find nothing new: the transcript parser, the
failure classifier and the secret patterns (ledger/ingest.py) load only when a file has something to
read (`ingest_changes`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from claimback.ledger.filestate import LINKS_PENDING, compare_files, stored_files
from claimback.ledger.store import Ledger, chunks, marks, restore_deferred_indexes
from claimback.sources.discovery import TranscriptFile, classify_path

ProgressFn = Callable[[int, int, str], None]


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
    seen = stored_files(ledger, machine)
    links_pending = ledger.scalar("SELECT value FROM meta WHERE key = ?", (LINKS_PENDING,)) is not None
    changed: list[tuple[str, os.stat_result, Path]] = []
    for path, st, root, unchanged in compare_files(roots, seen):
        summary.files_seen += 1
        if st is None:
            summary.unreadable.append(path)
        elif unchanged:
            summary.files_unchanged += 1
        else:
            changed.append((path, st, root))
    # The stored state of the changed files only, by key (every file's parser state is ~500 bytes: the
    # whole table was read for one appended line).
    known: dict[str, dict] = {}
    paths = [path for path, _, _ in changed if path in seen]
    for part in chunks(paths):
        known.update((row["path"], row) for row in ledger.rows(
            "SELECT path, device, inode, size, mtime_ns, byte_offset, head_hash, lines_read, lines_skipped, "
            f"state, tail_hash FROM files WHERE machine_id = ? AND path IN ({marks(part)})",
            (machine, *part)))
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
