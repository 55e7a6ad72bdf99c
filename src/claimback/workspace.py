"""One command's view of the world: the ledger to read, fresh from an incremental ingest.

Every reporting command opens a workspace: the user's ledger (or, with `--demo`, a temporary ledger fed
from the generated demo corpus), after ingesting new transcript lines unless told not to.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from claimback.ledger import Ledger, open_ledger
from claimback.ledger.changes import IngestSummary, ProgressFn, ingest_changes
from claimback.sources.discovery import report_roots, roots_warning_line


@dataclass
class Workspace:
    ledger: Ledger
    roots: list[Path]
    ingest_summary: IngestSummary | None
    demo: bool = False
    demo_dir: Path | None = None
    # Why no transcripts were read although some were configured (a CLAUDE_CONFIG_DIR that does not
    # exist): reporting commands go on with the ledger alone and print this as a warning.
    roots_warning: str | None = None

    def warning_line(self) -> str | None:
        return roots_warning_line(self.roots_warning)


@contextmanager
def open_workspace(
    db: str | None = None,
    sources: Sequence[str] = (),
    *,
    demo: bool = False,
    run_ingest: bool = True,
    progress: ProgressFn | None = None,
    require_transcripts: bool = False,
) -> Iterator[Workspace]:
    """Yield a ready ledger. With `demo`, everything lives in a temp dir removed afterwards."""
    if demo:
        import shutil
        import tempfile

        from claimback.demo import build_demo

        tmp = Path(tempfile.mkdtemp(prefix="claimback-demo-"))
        try:
            scenario = build_demo(tmp)
            ledger = open_ledger(tmp / "demo-ledger.sqlite3")
            try:
                from claimback.ledger.ingest import ingest

                summary = ingest(ledger, [scenario.projects_dir], progress=progress, machine="demo")
                scenario.load_extras(ledger)
                yield Workspace(ledger, [scenario.projects_dir], summary, demo=True, demo_dir=tmp)
            finally:
                ledger.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return

    roots, roots_warning = report_roots(sources, require_transcripts=require_transcripts)
    ledger = open_ledger(db)
    try:
        # Most reports find nothing new: then the parser is not even imported (ledger/changes.py).
        summary = ingest_changes(ledger, roots, progress=progress) if (run_ingest and roots) else None
        yield Workspace(ledger, roots, summary, roots_warning=roots_warning)
    finally:
        ledger.close()
