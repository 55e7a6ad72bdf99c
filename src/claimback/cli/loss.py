"""`claimback loss` and `claimback statusline`."""

from __future__ import annotations

import sys

import click
import msgspec

from claimback.cli import main
from claimback.cli._common import (
    db_option,
    demo_option,
    json_option,
    no_ingest_option,
    parse_range,
    print_json,
    pricing_options,
    progress_bar,
    range_options,
    source_option,
    warn_roots,
)

@main.command()
@range_options
@click.option("--window", "window_id", metavar="ID", default=None, help="Only this outage window (see `claimback outages`).")
@pricing_options
@demo_option
@source_option
@db_option
@no_ingest_option
@json_option
def loss(since: str | None, until: str | None, window_id: str | None, plan: str | None, pricing_file: str | None,
         offline: bool, demo: bool, sources: tuple[str, ...], db: str | None, no_ingest: bool, as_json: bool) -> None:
    """What each outage window cost you: measured apart from estimated.

    \b
    Measured (tokens in your logs): killed subagent work, partial responses,
    abandoned turns, cache rebuild. Estimated: failed-attempt exposure (whether
    failed attempts count against a quota is not public). Each figure comes with
    USD at API prices and the share of your weekly quota (measured from statusline
    snapshots when you have them, else estimated against your own P90 week).
    See docs/methodology.md for every formula.
    """
    from claimback.analysis.report import loss_for_workspace
    from claimback.outputs.terminal import render_loss
    from claimback.workspace import open_workspace

    since_day, until_day = parse_range(since, until)
    with progress_bar("ingest", enabled=not as_json) as progress:
        with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest, progress=progress) as ws:
            warn_roots(ws)
            report = loss_for_workspace(ws, since=since_day, until=until_day, window_id=window_id, plan=plan,
                                        pricing_file=pricing_file, offline=offline or demo)
    if as_json:
        print_json(msgspec.to_builtins(report))
    else:
        render_loss(report)


@main.command(context_settings={"ignore_unknown_options": True})
def statusline() -> None:
    """Claude Code status line: record a quota snapshot, print a compact line.

    \b
    Reads Claude Code's status line JSON on stdin, stores a quota snapshot
    (rate_limits.five_hour / seven_day; at most one a minute) and prints the weekly
    and 5-hour usage, the reset time and any active incident. If `[statusline]
    command = "..."` is set in config.toml (guard install --statusline keeps your
    previous command there), that command gets the same stdin and its output is
    shown instead. It never breaks the status line: on any error it falls back.
    Set it in Claude Code's settings.json: "statusLine": {"type": "command",
    "command": "claimback statusline"}.
    """
    from claimback.sources.statusline import run

    sys.exit(run([]))
