"""`claimback team report|register`: one shared ledger (PostgreSQL) for many machines."""

from __future__ import annotations

import dataclasses

import click

from claimback.cli import main
from claimback.cli._common import db_option, json_option, parse_range, print_json, range_options

_USER_HELP = ("User label for this machine's rows (default: CLAIMBACK_USER, then user_label in "
              "config.toml, then your OS login name).")


@main.group()
def team() -> None:
    """Team scale: many machines, one ledger (use --db postgresql://... or CLAIMBACK_DB).

    \b
    Each machine runs `claimback ingest --db URL` (cron or the SessionEnd hook) and/or sends
    Claude Code telemetry to `claimback otel serve`; `team report` reads the shared ledger.
    See docs/team.md.
    """


@team.command("report")
@click.option("--by", type=click.Choice(["user", "machine"]), default="user", show_default=True,
              help="One row per user label or per machine.")
@range_options
@click.option("--user", "user", metavar="LABEL", default=None, help="Only this user label.")
@click.option("--offline", is_flag=True, help="Do not refresh the status page; use incidents in the ledger.")
@click.option("--pricing", "pricing_file", metavar="FILE", type=click.Path(dir_okay=False), default=None,
              help="A pricing table in LiteLLM's JSON format (default: the bundled Claude table).")
@click.option("--no-loss", is_flag=True, help="Skip the outage-loss attribution (faster on big ledgers).")
@db_option
@json_option
def report(by: str, since: str | None, until: str | None, user: str | None, offline: bool,
           pricing_file: str | None, no_loss: bool, db: str | None, as_json: bool) -> None:
    """Usage, failures and outage loss per person (or per machine) across every machine of the ledger.

    \b
    Columns: sessions, requests, tokens and API-equivalent cost; failed attempts (one per failed API
    try), final errors, outage-class failures, killed subagents; outage loss in tokens, measured (from
    the logs) and estimated (failed-attempt exposure), attributed as `claimback loss` does.
    Telemetry rows (origin otel) and transcript rows of the same request count once.
    """
    from claimback.analysis.pricing import PricingTable
    from claimback.analysis.team import team_report
    from claimback.ledger import open_ledger

    since_day, until_day = parse_range(since, until)
    table = PricingTable.load(pricing_file)
    with open_ledger(db) as ledger:
        result = team_report(ledger, by=by, since=since_day, until=until_day, user=user, pricing=table,
                             offline=offline, with_loss=not no_loss)
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    from claimback.outputs.team import render_team_report

    render_team_report(result)


@team.command("register")
@click.option("--user", "user", metavar="LABEL", default=None, help=_USER_HELP)
@db_option
@json_option
def register(user: str | None, db: str | None, as_json: bool) -> None:
    """Record this machine and its user label in the ledger (ingest does this too).

    An explicit label (--user, CLAIMBACK_USER or config) replaces the stored one; the OS login name
    only labels a machine that has none yet.
    """
    from claimback.config import machine_id
    from claimback.ledger import open_ledger
    from claimback.ledger.team import register_machine, resolve_user_label

    label, chosen = resolve_user_label(user)
    with open_ledger(db) as ledger:
        with ledger.transaction():
            stored = register_machine(ledger, machine_id(), label, explicit=chosen)
        location = ledger.location
    if as_json:
        print_json({"machine_id": machine_id(), "user_label": stored, "ledger": location})
    else:
        click.echo(f"machine {machine_id()} is {stored!r} in {location}")
