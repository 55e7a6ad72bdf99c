"""One command's view of the world: the ledger to read, fresh from an incremental ingest.

Every reporting command opens a workspace: the user's ledger (or, with `--demo`, a temporary ledger fed
from the generated demo corpus), after ingesting new transcript lines unless told not to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from claimback.errors import BadInput
from claimback.ledger import Ledger, open_ledger
from claimback.ledger.changes import IngestSummary, ProgressFn, ingest_changes
from claimback.sources.discovery import resolve_roots


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
        """The one warning of every command that reads the user's transcript roots, when the configured
        ones could not be read: the report goes on with the ledger alone, but must not look complete."""
        return f"warning: {self.roots_warning}; reporting on the ledger as it is" if self.roots_warning else None


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

    roots_warning = None
    try:
        roots = resolve_roots(sources)
    except BadInput as exc:
        if require_transcripts or sources:
            raise
        roots = []  # a reporting command still works on the ledger alone
        if os.environ.get("CLAUDE_CONFIG_DIR", "").strip():
            roots_warning = str(exc)
    if require_transcripts and not roots:
        raise BadInput(
            "no Claude Code transcripts found in ~/.config/claude/projects or ~/.claude/projects; "
            "set CLAUDE_CONFIG_DIR or pass --source PATH"
        )
    ledger = open_ledger(db)
    try:
        # Most reports find nothing new: then the parser is not even imported (ledger/changes.py).
        summary = ingest_changes(ledger, roots, progress=progress) if (run_ingest and roots) else None
        yield Workspace(ledger, roots, summary, roots_warning=roots_warning)
    finally:
        ledger.close()
