"""`claimback outages` (windows), `claimback outages import FILE`, and `claimback status`."""

from __future__ import annotations

import click

from claimback.cli import main
from claimback.cli._common import (
    db_option,
    demo_option,
    json_option,
    no_ingest_option,
    parse_range,
    print_json,
    range_options,
    source_option,
    warn_roots,
)


def _offline_options(func):  # type: ignore[no-untyped-def]
    func = click.option("--refresh", is_flag=True,
                        help="Ask the status page now even if the cache is fresh (3 s limit).")(func)
    func = click.option("--offline", is_flag=True,
                        help="No network: use the cached status page, the ledger and the bundled archive.")(func)
    return func


@main.group(invoke_without_command=True)
@range_options
@_offline_options
@click.option("-v", "--verbose", is_flag=True, help="Details for status-page-only windows too.")
@json_option
@demo_option
@db_option
@source_option
@no_ingest_option
@click.pass_context
def outages(ctx: click.Context, since: str | None, until: str | None, offline: bool, refresh: bool, verbose: bool,
            as_json: bool, demo: bool, db: str | None, sources: tuple[str, ...], no_ingest: bool) -> None:
    """Outage windows: Anthropic's status-page incidents joined with error bursts in your logs.

    \b
    A window is a status-page incident that touches Claude Code (Claude API / Claude Code components,
    claude.ai login, or a model you used), or a burst of >= 3 outage-class failures (5xx, 529,
    dropped streams) within 10 minutes of each other in your logs; overlapping ones merge. Each says
    whether the status page, your logs, or both confirm it. 429/usage-limit errors never make a window.

    \b
    Incident data: the live status page (3 s limit), else its cache, else incidents stored in the
    ledger, else the archive bundled with claimback; the report says which and how old.

    \b
    Examples:
      claimback outages                   windows over your recorded activity
      claimback outages --since 7d        the last week
      claimback outages --offline --json  no network; machine-readable (and importable) output
      claimback outages import saved.json incidents saved from status.claude.com
      claimback outages --demo            the built-in founding outage (2026-05-15)
    """
    if ctx.invoked_subcommand is not None:
        return
    from claimback.analysis.outages import export_payload, outages_report
    from claimback.outputs.outages import render_outages
    from claimback.workspace import open_workspace

    since_day, until_day = parse_range(since, until)
    with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest) as ws:
        warn_roots(ws)
        report = outages_report(ws.ledger, since_day, until_day, offline or demo, refresh=refresh and not demo,
                                demo=demo)
    if as_json:
        print_json(export_payload(report))
    else:
        render_outages(report, verbose=verbose)


@outages.command("import")
@click.argument("file", type=click.Path(dir_okay=True, path_type=str))
@json_option
@db_option
def import_cmd(file: str, as_json: bool, db: str | None) -> None:
    """Store the incidents of a saved file in the ledger (kept for good).

    \b
    Accepted: a Statuspage incidents.json, incidents/unresolved.json or summary.json; a Statuspage
    history feed (Atom history.atom or RSS history.rss); claimback's own `outages --json` export;
    claimback's incident archive format. Imported incidents override the bundled archive, never the
    live feed.
    """
    from dataclasses import asdict

    from claimback.ledger import open_ledger
    from claimback.sources.statuspage import import_file

    with open_ledger(db) as ledger:
        result = import_file(ledger, file)
    if as_json:
        print_json(asdict(result))
        return
    skipped = f", {result.skipped} skipped (no incident id)" if result.skipped else ""
    click.echo(f"Imported {result.incidents} incidents ({result.updates} updates) from {result.path} "
               f"[{result.format}]{skipped}.")


@main.command()
@click.option("--offline", is_flag=True, help="No network: report from the status-page cache only.")
@click.option("--refresh", is_flag=True, help="Ask the status page now even if the cache is fresh.")
@json_option
@db_option
def status(offline: bool, refresh: bool, as_json: bool, db: str | None) -> None:
    """Incidents affecting Claude Code right now, and how old that knowledge is.

    Reads Anthropic's status page (3 s limit; cached for 5 minutes), lists unresolved incidents that
    touch Claude Code (Claude API, Claude Code, claude.ai login, or named models) and the state of
    those components. When the page cannot be reached it says so and falls back to the cache.
    Exit code 0 either way; `claimback preflight` is the gate that fails.
    """
    from claimback.analysis.outages import current_status, status_payload
    from claimback.ledger import open_ledger
    from claimback.outputs.outages import render_status

    with open_ledger(db) as ledger:
        result = current_status(ledger, offline=offline, refresh=refresh)
    if as_json:
        print_json(status_payload(result))
    else:
        render_status(result)
