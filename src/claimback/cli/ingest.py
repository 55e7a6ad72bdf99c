"""`claimback ingest`: transcripts → ledger."""

from __future__ import annotations

import click

from claimback.cli import main
from claimback.cli._common import db_option, json_option, print_json, progress_bar, source_option


@main.command()
@source_option
@db_option
@json_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def ingest(sources: tuple[str, ...], db: str | None, as_json: bool, quiet: bool) -> None:
    """Read new Claude Code transcript lines into the ledger (incremental, safe to re-run).

    Finds main-session and subagent transcripts (both layouts), keeps each request once, and records
    failed attempts, final API errors, interruptions, subagent launches and prompt hashes (never the
    prompt text). The ledger keeps them after Claude Code deletes old transcripts.
    """
    from claimback.workspace import open_workspace

    with progress_bar("ingest", enabled=not (quiet or as_json)) as progress:
        with open_workspace(db, sources, progress=progress, require_transcripts=True) as ws:
            summary = ws.ingest_summary
    # The renderers (rich) and msgspec only for the output that needs them: `ingest --quiet` from cron or
    # a hook pays for neither.
    if as_json:
        import msgspec

        print_json(msgspec.to_builtins(summary))
    elif not quiet and summary is not None:
        from claimback.outputs.terminal import render_ingest_summary

        render_ingest_summary(summary)
