"""`claimback usage daily|weekly|monthly|session|blocks`: ccusage-compatible usage reports from the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from claimback.cli import main
from claimback.cli._common import (
    FiniteRange,
    db_option,
    demo_option,
    json_option,
    no_ingest_option,
    progress_bar,
    range_options,
    source_option,
    warn_roots,
)

F = TypeVar("F", bound=Callable[..., Any])


def _report_options(func: F) -> F:
    for option in reversed((
        range_options,
        json_option,
        click.option("-b", "--breakdown", is_flag=True, help="Show one line per model under each row."),
        click.option("--no-cost", "no_cost", is_flag=True,
                     help="Leave cost out of the table and the JSON (ccusage's --no-cost)."),
        click.option("-o", "--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True,
                     help="Oldest first (asc) or newest first (desc)."),
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
    claimback usage daily      one row per day (--instances: per project)
    claimback usage weekly     one row per week (--start-of-week)
    claimback usage monthly    one row per month
    claimback usage session    one row per Claude Code session (--subagents: per subagent run)
    claimback usage blocks     5-hour billing blocks (--active: burn rate and projection; --live)
    `--json` keeps ccusage's key names, so scripts written for ccusage work unchanged.
    """


def _run(kind: str, as_json: bool, breakdown: bool, no_cost: bool, **options: Any) -> None:
    from claimback.fastcli import json_answer, usage_output

    subagents = bool(options.get("subagents"))
    warn = lambda line: click.echo(line, err=True)  # noqa: E731
    if as_json:
        click.echo(json_answer(kind, cost=not no_cost, warn=warn, **options), nl=False)
        return
    with progress_bar("ingest", enabled=True) as progress:
        report = usage_output(kind, progress=progress, warn=warn, **options)
    from claimback.outputs.usage import render_usage

    render_usage(report, breakdown=breakdown, subagents=subagents, cost=not no_cost)


@usage.command()
@_report_options
@click.option("-p", "--project", metavar="NAME", default=None,
              help="Only this project (its folder name under projects/, e.g. -home-me-code-app, as ccusage names it).")
@click.option("-i", "--instances", is_flag=True, help="Split the rows per project (ccusage's --instances).")
def daily(**options: Any) -> None:
    """Usage per day (in --timezone), with models and cost."""
    _run("daily", **options)


@usage.command()
@_report_options
@click.option("-w", "--start-of-week", type=click.Choice(
    ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]), default="sunday",
    show_default=True, help="First day of a week (ccusage's default is Sunday).")
def weekly(**options: Any) -> None:
    """Usage per week (in --timezone); `week` is the week's first day."""
    _run("weekly", **options)


@usage.command()
@_report_options
def monthly(**options: Any) -> None:
    """Usage per calendar month (in --timezone)."""
    _run("monthly", **options)


@usage.command()
@_report_options
@click.option("--subagents", is_flag=True,
              help="Under each session, its main thread and one row per subagent run (agent id, type, tokens, cost).")
def session(**options: Any) -> None:
    """Usage per Claude Code session, newest activity last."""
    _run("session", **options)


@usage.command()
@_report_options
@click.option("-a", "--active", "active_only", is_flag=True,
              help="Only the active block, with its burn rate and projection to the block's end.")
@click.option("-r", "--recent", is_flag=True, help="Only blocks of the last 3 days (and the active one).")
@click.option("-t", "--token-limit", metavar="N|max", default=None,
              help="Tokens a block may use: the projection's tokenLimitStatus says ok/warning/exceeds "
              "(max = your largest finished block).")
@click.option("--live", is_flag=True,
              help="A refreshing view of the active block, the guard's incident state and your quota "
              "(Ctrl-C to stop).")
@click.option("--refresh-interval", type=FiniteRange(0.5, 300), default=5.0, show_default=True,
              metavar="SECONDS", help="With --live: seconds between refreshes.")
@click.option("--max-refreshes", type=click.IntRange(1, None), default=None, metavar="N",
              help="With --live: stop after N refreshes (default: until Ctrl-C).")
def blocks(live: bool, refresh_interval: float, max_refreshes: int | None, **options: Any) -> None:
    """Usage per 5-hour billing block (a block starts at the hour of its first request)."""
    if not live:
        _run("blocks", **options)
        return
    if options["as_json"]:
        raise click.UsageError("--live is a terminal view; for scripts use --active --json")
    _live(refresh_interval, max_refreshes, **options)


def _live(refresh_interval: float, max_refreshes: int | None, *, tz_name: str | None, mode: str,
          pricing_file: str | None, db: str | None, sources: tuple[str, ...], no_ingest: bool, demo: bool,
          token_limit: str | None, **_: Any) -> None:
    from claimback.analysis.pricing import PricingTable
    from claimback.prevent.live import live_state
    from claimback.ledger.changes import ingest_changes
    from claimback.outputs.usage import run_live
    from claimback.workspace import open_workspace

    table = PricingTable.load(pricing_file)
    with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest) as ws:
        warn_roots(ws)
        def frame() -> Any:
            if not (no_ingest or ws.demo) and ws.roots:  # new transcript lines since the last frame
                ingest_changes(ws.ledger, ws.roots)
            state = live_state(ws.ledger, tz_name=tz_name, mode=mode, pricing=table, token_limit=token_limit)
            state.demo = ws.demo
            return state

        run_live(frame, refresh_interval=refresh_interval, max_refreshes=max_refreshes)
