"""The main job: ingest → outages → loss → claim packet, as one pipeline function.

`run_audit` returns plain data; the CLI renders it. Each stage reads the ledger the previous stage
filled, so the same function serves the demo and the user's own logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from claimback.ledger.changes import IngestSummary
from claimback.workspace import Workspace

KILLED_OUTCOMES = ("killed", "no_result")
_TOTAL = "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens"


@dataclass
class DayUsage:
    date: str
    requests: int
    total_tokens: int
    failures: dict[str, int] = field(default_factory=dict)


@dataclass
class KilledTask:
    tool_use_id: str
    session_id: str | None
    agent_id: str | None
    description: str | None
    subagent_type: str | None
    launched_at: str | None
    ended_at: str | None
    outcome: str
    parent_was_told: str | None  # what the parent's tool_result said ("completed", "failed", none)
    tokens: int
    requests: int


@dataclass
class AuditReport:
    demo: bool
    ledger: str
    period_start: str
    period_end: str
    ingest: IngestSummary | None
    days: list[DayUsage]
    killed_tasks: list[KilledTask]
    windows: list[Any] = field(default_factory=list)
    loss: Any = None
    packet: Any = None
    notes: list[str] = field(default_factory=list)
    packet_skipped: str | None = None  # why no packet was written although one was asked for


def default_period(ws: Workspace, since: date | None, until: date | None) -> tuple[date, date]:
    """The 7 days ending at the last recorded activity (or today), unless the user says otherwise."""
    if until is None:
        last = ws.ledger.scalar("SELECT MAX(ts) FROM requests")
        last_failure = ws.ledger.scalar("SELECT MAX(ts) FROM failures")
        latest = max(filter(None, (last, last_failure)), default=None)
        until = date.fromisoformat(latest[:10]) if latest else datetime.now(timezone.utc).date()
    if since is None:
        since = until - timedelta(days=6)
    return since, until


def usage_by_day(ws: Workspace, since: date, until: date, history: Any = None) -> list[DayUsage]:
    """Requests, tokens and failures per UTC day. `history` (analysis.quota.TokenHistory), once the
    loss report has read its hourly totals, gives the days as sums of hours: no second scan."""
    start, end = since.isoformat(), (until + timedelta(days=1)).isoformat()
    days: dict[str, DayUsage] = {}
    if history is not None and history.loaded:
        for day, n, tokens in history.days(start, end):
            days[day] = DayUsage(day, n, tokens)
    else:
        for row in ws.ledger.rows(
            f"SELECT substr(ts, 1, 10) AS day, COUNT(*) AS n, SUM({_TOTAL}) AS tokens FROM requests "
            "WHERE ts >= ? AND ts < ? GROUP BY substr(ts, 1, 10) ORDER BY day", (start, end)):
            days[row["day"]] = DayUsage(row["day"], row["n"], int(row["tokens"] or 0))
    for row in ws.ledger.rows(
        "SELECT substr(ts, 1, 10) AS day, failure_class, COUNT(*) AS n FROM failures "
        "WHERE ts >= ? AND ts < ? GROUP BY substr(ts, 1, 10), failure_class", (start, end)):
        day = days.setdefault(row["day"], DayUsage(row["day"], 0, 0))
        day.failures[row["failure_class"]] = row["n"]
    return [days[d] for d in sorted(days)]


def killed_tasks(ws: Workspace, since: date, until: date) -> list[KilledTask]:
    start, end = since.isoformat(), (until + timedelta(days=1)).isoformat()
    rows = ws.ledger.rows(
        "SELECT t.tool_use_id, t.session_id, t.agent_id, t.description, t.subagent_type, t.launched_ts, "
        "t.outcome, t.result_status, t.result_ts, a.last_event_ts, "
        f"(SELECT COALESCE(SUM({_TOTAL}), 0) FROM requests AS r WHERE r.agent_id = t.agent_id) AS tokens, "
        "(SELECT COUNT(*) FROM requests AS r WHERE r.agent_id = t.agent_id) AS n "
        "FROM tasks AS t LEFT JOIN agents AS a ON a.agent_id = t.agent_id "
        "WHERE t.outcome IN (?, ?) AND t.launched_ts >= ? AND t.launched_ts < ? "
        "ORDER BY t.launched_ts DESC, t.tool_use_id", (*KILLED_OUTCOMES, start, end))
    return [
        KilledTask(r["tool_use_id"], r["session_id"], r["agent_id"], r["description"], r["subagent_type"],
                   r["launched_ts"], r["last_event_ts"] or r["result_ts"], r["outcome"], r["result_status"],
                   int(r["tokens"]), int(r["n"]))
        for r in rows
    ]


def run_audit(ws: Workspace, since: date | None = None, until: date | None = None, *, packet: bool = True,
              out_dir: str | None = None, force: bool = False, offline: bool = False) -> AuditReport:
    since, until = default_period(ws, since, until)
    # Outages → loss → claim packet: the same functions `claimback loss` and `claimback claim` use.
    from claimback.analysis.quota import TokenHistory
    from claimback.analysis.report import loss_for_workspace
    from claimback.claim import outage_windows, write_claim_packet

    windows, originals, coverage = outage_windows(ws, since, until, offline)
    # One grouped scan of the requests per report: the windows' P90 weeks and the daily table share it.
    history = TokenHistory(ws.ledger)
    loss = loss_for_workspace(ws, since=since, until=until, offline=offline or ws.demo, windows=windows,
                              coverage=coverage, history=history)
    report = AuditReport(
        demo=ws.demo,
        ledger="(temporary demo ledger)" if ws.demo else ws.ledger.location,
        period_start=since.isoformat(),
        period_end=until.isoformat(),
        ingest=ws.ingest_summary,
        days=usage_by_day(ws, since, until, history),
        killed_tasks=killed_tasks(ws, since, until),
        windows=list(originals.values()),
        loss=loss,
    )
    # An unreadable CLAUDE_CONFIG_DIR is the CLI's warning (cli._common.warn_roots), as in every command.
    if not ws.roots and not ws.demo and not ws.roots_warning:
        report.notes.append("no transcript directory found: reporting on the ledger as it is")
    if packet:
        why = _nothing_to_claim(ws, report, originals, since, until)
        if why is None:
            report.packet = write_claim_packet(ws, report.loss, originals, out_dir=out_dir, force=force,
                                               since=since, until=until)
        else:
            # A packet that says "nothing to claim" is a folder of nothing: say why instead.
            report.packet_skipped = why
            report.notes.append(f"no claim packet written: {why}")
    return report


def _nothing_to_claim(ws: Workspace, report: AuditReport, originals: dict[str, Any], since: date,
                      until: date) -> str | None:
    """Why a packet would claim nothing, or None when there is something to claim (or it is the demo)."""
    from claimback.analysis.loss import NOT_CHARGED, NOT_CHARGED_NOTE
    from claimback.outputs.evidence import is_affected

    if ws.demo:
        return None
    windows = report.loss.windows
    touched = [w for w in windows if w.claimable and is_affected(w, originals.get(w.id))]
    if any(w.measured_tokens or w.estimated_tokens for w in touched):
        return None
    if touched:
        # Failures, but nothing lost: 529s do not count against the quota, and no work was cut short.
        uncharged = sum(w.loss[NOT_CHARGED].attempts for w in touched if NOT_CHARGED in w.loss)
        note = f" ({uncharged} overloaded (529) attempts {NOT_CHARGED_NOTE})" if uncharged else ""
        return ("the Anthropic outage windows that touched your sessions show no lost usage, measured or "
                f"estimated{note}: there is nothing to claim")
    if not report.days:
        source = "no Claude Code transcripts were found" if not ws.roots else "your transcripts"
        return (f"{source} and the ledger hold no requests or failures from {since} to {until}: there is "
                "nothing to claim")
    if report.loss.coverage_missing:
        from claimback.analysis.outages import coverage_note

        return coverage_note(report.loss.coverage_missing)
    if any(is_affected(w, originals.get(w.id)) for w in windows):
        return ("the failures in your logs came through another provider, not Anthropic's API: there is "
                "nothing to claim with Anthropic (see the windows above for where such a claim goes)")
    return ("no Anthropic API outage touched your sessions in this period: there is nothing to claim "
            "(`claimback claim` writes a packet that says so, if you need one)")
