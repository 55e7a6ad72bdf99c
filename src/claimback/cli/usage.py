"""`claimback usage daily|session|blocks`: ccusage-compatible usage reports from the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

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

F = TypeVar("F", bound=Callable[..., Any])


def _report_options(func: F) -> F:
    for option in reversed((
        range_options,
        json_option,
        click.option("-b", "--breakdown", is_flag=True, help="Show one line per model under each row."),
        click.option("-z", "--timezone", "tz_name", metavar="TZ", default=None,
                     help="IANA timezone for grouping into days (default: this machine's local zone)."),
        click.option("-m", "--mode", type=click.Choice(["auto", "calculate", "display"]), default="auto",
                     show_default=True,
                     help="Cost: auto = the transcript's costUSD when present, else calculated; calculate = "
                     "always from tokens and the pricing table; display = only the transcript's costUSD."),
        click.option("--pricing", "pricing_file", metavar="FILE", type=click.Path(dir_okay=False),
                     default=None,
                     help="A pricing table in LiteLLM's JSON format (default: the bundled Claude table)."),
        db_option, source_option, no_ingest_option, demo_option,
    )):
        func = option(func)
    return func


@main.group()
def usage() -> None:
    """Token usage and API-equivalent cost, as ccusage reports it.

    \b
    claimback usage daily      one row per day
    claimback usage session    one row per Claude Code session
    claimback usage blocks     5-hour billing blocks
    `--json` keeps ccusage's key names, so scripts written for ccusage work unchanged.
    """


def _run(kind: str, since: str | None, until: str | None, as_json: bool, breakdown: bool,
         tz_name: str | None, mode: str, pricing_file: str | None, db: str | None,
         sources: tuple[str, ...], no_ingest: bool, demo: bool) -> None:
    from claimback.analysis.pricing import PricingTable
    from claimback.analysis.usage import to_ccusage_json, usage_report
    from claimback.workspace import open_workspace

    first = parse_day(since, "--since")
    last = parse_day(until, "--until")
    table = PricingTable.load(pricing_file)
    with progress_bar("ingest", enabled=not as_json) as progress:
        with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest, progress=progress) as ws:
            report = usage_report(ws.ledger, kind, since=first, until=last, tz_name=tz_name, mode=mode,
                                  pricing=table)
            report.demo = ws.demo
    if as_json:
        print_json(to_ccusage_json(report))
        return
    from claimback.outputs.usage import render_usage

    render_usage(report, breakdown=breakdown)


@usage.command()
@_report_options
def daily(**options: Any) -> None:
    """Usage per day (in --timezone), with models and cost."""
    _run("daily", **options)


@usage.command()
@_report_options
def session(**options: Any) -> None:
    """Usage per Claude Code session, newest activity last."""
    _run("session", **options)


@usage.command()
@_report_options
def blocks(**options: Any) -> None:
    """Usage per 5-hour billing block (a block starts at the hour of its first request)."""
    _run("blocks", **options)
