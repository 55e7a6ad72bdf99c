"""`claimback audit`: the main job in one command."""

from __future__ import annotations

import click
import msgspec

from claimback.cli import main
from claimback.cli._common import (
    db_option,
    demo_option,
    json_option,
    no_ingest_option,
    parse_day,
    print_json,
    progress_bar,
    range_options,
    source_option,
)


@main.command()
@demo_option
@range_options
@source_option
@db_option
@no_ingest_option
@json_option
def audit(demo: bool, since: str | None, until: str | None, sources: tuple[str, ...], db: str | None,
          no_ingest: bool, as_json: bool) -> None:
    """Ingest your Claude Code logs, then show what outages cost you.

    Reads new transcript lines into the ledger, then reports the period's usage, failures by class
    and the subagent tasks that API failures killed. Without --since/--until the period is the 7 days
    ending at your last recorded activity. `--demo` runs the founding-outage scenario instead.
    """
    from claimback.audit import run_audit
    from claimback.outputs.terminal import render_audit
    from claimback.workspace import open_workspace

    since_day, until_day = parse_day(since, "--since"), parse_day(until, "--until")
    with progress_bar("ingest", enabled=not as_json) as progress:
        with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest, progress=progress) as ws:
            report = run_audit(ws, since_day, until_day)
    if as_json:
        print_json(msgspec.to_builtins(report))
    else:
        render_audit(report)
