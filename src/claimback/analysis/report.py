"""Outage windows plus their loss, for one workspace: what `loss`, `audit` and `claim` share."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from claimback.analysis.loss import LossReport, build_loss_report
from claimback.analysis.pricing import PricingTable
from claimback.config import load_config
from claimback.core.times import format_iso
from claimback.errors import BadInput
from claimback.workspace import Workspace


def _bound(day: date | None, end: bool) -> str | None:
    if day is None:
        return None
    moment = datetime.combine(day + timedelta(days=1) if end else day, time(0), timezone.utc)
    return format_iso(moment)


def find_outage_windows(ws: Workspace, since: date | None, until: date | None, offline: bool) -> list[Any]:
    return find_outages(ws, since, until, offline).windows


def find_outages(ws: Workspace, since: date | None, until: date | None, offline: bool) -> Any:
    """The period's OutagesReport: its windows and the months no incident data covers
    (`coverage_missing`, read once per run: pass it on to `loss_for_workspace`)."""
    from claimback.analysis.outages import outages_report

    return outages_report(ws.ledger, since, until, offline or ws.demo, demo=ws.demo)


def loss_for_workspace(ws: Workspace, *, since: date | None = None, until: date | None = None,
                       window_id: str | None = None, plan: str | None = None, pricing_file: str | None = None,
                       offline: bool = False, windows: list[Any] | None = None,
                       coverage: list[str] | None = None, history: Any = None) -> LossReport:
    """`windows` and `coverage` (the months no incident data covers) as `find_outages` gave them, when
    the caller has them; each is found here otherwise."""
    config = load_config()
    pricing = PricingTable.load(pricing_file or config.pricing_file)
    if windows is None:
        found = find_outages(ws, since, until, offline)
        windows, coverage = found.windows, found.coverage_missing
    if window_id is not None:
        chosen = [w for w in windows if w.id == window_id]
        if not chosen:
            known = ", ".join(w.id for w in windows[:10]) or "none in this period"
            raise BadInput(f"no outage window {window_id!r} (known: {known}); see `claimback outages`")
        windows = chosen
    if coverage is None:
        coverage = []
        if not ws.demo:
            from claimback.analysis.outages import incident_coverage

            coverage = incident_coverage(ws.ledger, _bound(since, False), _bound(until, True))
    if plan is None and ws.demo:
        from claimback.demo import DEMO_PLAN

        plan = DEMO_PLAN  # the founding case is a Max user: the demo never reads the user's config
    report = build_loss_report(ws.ledger, windows, pricing=pricing, plan=plan or config.plan,
                               weekly_reset=config.weekly_reset, history=history)
    if coverage:
        from claimback.analysis.outages import coverage_note

        report.coverage_missing = coverage
        note = coverage_note(coverage)
        # "No outage windows" would claim too much where no official data exists: say what is known.
        report.notes = [note] if not report.windows else [*report.notes, note]
    return report
