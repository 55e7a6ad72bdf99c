"""`claimback team report`: usage, failures and outage loss per person (or per machine) in a shared ledger.

Rows are grouped by their `machine_id`, and machines by the user label stored for them
(`ledger/team.py`). Transcript and telemetry rows count once: OTel rows that a transcript row already
records are removed at ingest/receive time, so plain sums are correct here.
Loss comes from the same attribution as `claimback loss` (analysis/loss.py), per outage window, and each
lost request / exposed attempt is credited to the machine whose row it is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from claimback.analysis.pricing import TIER_THRESHOLD, PricingTable, TokenSums
from claimback.ledger.store import Ledger

UNLABELLED = "(unlabelled)"


@dataclass
class TeamMember:
    key: str  # the user label, or the machine id with --by machine
    users: list[str]
    machines: list[str]
    sessions: int = 0
    requests: int = 0
    requests_by_origin: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    total_tokens: int = 0
    usd: float | None = 0.0
    failures_by_class: dict[str, int] = field(default_factory=dict)
    failed_attempts: int = 0  # every failed attempt but the last of each failure (retry rows; telemetry attempts)
    final_errors: int = 0  # kind = final: a turn ended by an API error
    interrupts: int = 0
    outage_failures: int = 0
    killed_subagents: int = 0
    loss_measured_tokens: int = 0
    loss_estimated_tokens: int = 0
    loss_usd_measured: float | None = 0.0
    loss_usd_estimated: float | None = 0.0
    # 529 attempts, sized like the estimate but not charged (Anthropic documents it): never in a claim.
    loss_not_charged_tokens: int = 0


@dataclass
class TeamReport:
    by: str
    since: str | None
    until: str | None
    members: list[TeamMember]
    totals: dict[str, Any]
    windows: list[dict[str, Any]]
    loss_available: bool
    pricing: str
    notes: list[str] = field(default_factory=list)


_TOKENS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_creation_1h_tokens",
           "cache_read_tokens")


def _excess(column: str) -> str:
    return f"SUM(CASE WHEN r.{column} > {TIER_THRESHOLD} THEN r.{column} - {TIER_THRESHOLD} ELSE 0 END)"


def _range(since: date | None, until: date | None, column: str) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(since.isoformat())
    if until is not None:
        clauses.append(f"{column} < ?")
        params.append((until + timedelta(days=1)).isoformat())
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def team_report(
    ledger: Ledger,
    *,
    by: str = "user",
    since: date | None = None,
    until: date | None = None,
    user: str | None = None,
    pricing: PricingTable | None = None,
    offline: bool = False,
    with_loss: bool = True,
) -> TeamReport:
    """Per-person (or per-machine) usage, failures and outage loss over [since, until] (UTC days)."""
    if by not in ("user", "machine"):
        raise ValueError(f"by must be 'user' or 'machine', not {by!r}")
    table = pricing or PricingTable.bundled()
    labels = {row["machine_id"]: row["user_label"] or UNLABELLED
              for row in ledger.rows("SELECT machine_id, user_label FROM machines")}

    def label_of(machine: str | None) -> str:
        return labels.get(machine or "", UNLABELLED)

    def group_of(machine: str | None) -> str:
        return label_of(machine) if by == "user" else (machine or "")

    members: dict[str, TeamMember] = {}

    def member(machine: str | None) -> TeamMember | None:
        if user is not None and label_of(machine) != user:
            return None
        key = group_of(machine)
        found = members.get(key)
        if found is None:
            found = members[key] = TeamMember(key, [], [])
        if machine and machine not in found.machines:
            found.machines.append(machine)
        if label_of(machine) not in found.users:
            found.users.append(label_of(machine))
        return found

    where, params = _range(since, until, "r.ts")
    unpriced: set[str] = set()
    sessions: dict[str, set[str]] = defaultdict(set)
    sql = (
        "SELECT r.machine_id, r.origin, r.model, r.speed, COUNT(*) AS n, "
        + ", ".join(f"SUM(r.{c}) AS {c}" for c in _TOKENS) + ", "
        + ", ".join(f"{_excess(c)} AS x_{c}" for c in _TOKENS)
        + ", SUM(r.cost_usd) AS recorded, COUNT(r.cost_usd) AS n_recorded "
        f"FROM requests AS r WHERE 1 = 1{where} GROUP BY r.machine_id, r.origin, r.model, r.speed"
    )
    for row in ledger.rows(sql, params):
        m = member(row["machine_id"])
        if m is None:
            continue
        s = {c: int(row[c] or 0) for c in _TOKENS}
        x = {c: int(row[f"x_{c}"] or 0) for c in _TOKENS}
        m.requests += int(row["n"])
        m.requests_by_origin[row["origin"]] = m.requests_by_origin.get(row["origin"], 0) + int(row["n"])
        m.input_tokens += s["input_tokens"]
        m.output_tokens += s["output_tokens"]
        m.cache_write_tokens += s["cache_creation_tokens"]
        m.cache_read_tokens += s["cache_read_tokens"]
        one_h = s["cache_creation_1h_tokens"]
        tokens = TokenSums(s["input_tokens"], s["output_tokens"], max(s["cache_creation_tokens"] - one_h, 0),
                           one_h, s["cache_read_tokens"], x["input_tokens"], x["output_tokens"],
                           max(x["cache_creation_tokens"] - x["cache_creation_1h_tokens"], 0),
                           x["cache_creation_1h_tokens"], x["cache_read_tokens"])
        cost = table.cost_of(row["model"], tokens, row["speed"])
        if cost is None and int(row["n_recorded"] or 0) == int(row["n"]):
            cost = float(row["recorded"] or 0.0)  # telemetry's own cost_usd for a model we cannot price
        if cost is None:
            unpriced.add(row["model"] or "unknown")
        m.usd = _add(m.usd, cost) if cost is not None else m.usd
    for row in ledger.rows(f"SELECT DISTINCT r.machine_id, r.session_id FROM requests AS r "
                           f"WHERE r.session_id IS NOT NULL{where}", params):
        sessions[group_of(row["machine_id"])].add(row["session_id"])

    from claimback.analysis.loss import failure_attempts

    fwhere, fparams = _range(since, until, "f.ts")
    for row in ledger.rows(
            # How many attempts a row stands for is loss.failure_attempts (a telemetry failure is one row
            # for all its attempts): grouped by what it reads, so each group is counted by that one rule.
            "SELECT f.machine_id, f.kind, f.failure_class, f.origin, f.attempt, f.max_attempts, COUNT(*) AS n "
            f"FROM failures AS f WHERE 1 = 1{fwhere} "
            "GROUP BY f.machine_id, f.kind, f.failure_class, f.origin, f.attempt, f.max_attempts", fparams):
        m = member(row["machine_id"])
        if m is None:
            continue
        n = int(row["n"])
        # the attempts before the last are failed attempts, as a transcript's retry rows would be
        earlier = n * (failure_attempts(row) - 1)
        cls = row["failure_class"]
        m.failures_by_class[cls] = m.failures_by_class.get(cls, 0) + n + earlier
        if row["kind"] == "retry":
            m.failed_attempts += n
        elif row["kind"] == "final":
            m.final_errors += n
            m.failed_attempts += earlier
        elif row["kind"] == "interrupt":
            m.interrupts += n
        if cls == "outage":
            m.outage_failures += n + earlier
    twhere, tparams = _range(since, until, "t.launched_ts")
    for row in ledger.rows(
            "SELECT t.machine_id, COUNT(*) AS n FROM tasks AS t WHERE t.outcome IN ('killed', 'no_result') "
            f"{twhere} GROUP BY t.machine_id", tparams):
        m = member(row["machine_id"])
        if m is not None:
            m.killed_subagents += int(row["n"])

    notes: list[str] = []
    windows_out: list[dict[str, Any]] = []
    loss_available = False
    if with_loss:
        loss_available, windows_out, loss_notes = _attribute_loss(ledger, table, since, until, offline, member)
        notes += loss_notes
    else:
        notes.append("outage loss not computed (--no-loss)")
    if unpriced:
        notes.append("no price for " + ", ".join(sorted(unpriced)) + ": their cost is left out of USD")

    for key, m in members.items():
        m.sessions = len(sessions.get(key, ()))
        m.total_tokens = m.input_tokens + m.output_tokens + m.cache_write_tokens + m.cache_read_tokens
        m.machines.sort()
        m.users.sort()
        m.failures_by_class = dict(sorted(m.failures_by_class.items()))
        m.usd = round(m.usd, 6) if m.usd is not None else None
        m.loss_usd_measured = round(m.loss_usd_measured, 6) if m.loss_usd_measured is not None else None
        m.loss_usd_estimated = round(m.loss_usd_estimated, 6) if m.loss_usd_estimated is not None else None
    ordered = sorted(members.values(), key=lambda m: (-m.total_tokens, m.key))
    totals = {
        "members": len(ordered),
        "machines": len({x for m in ordered for x in m.machines}),
        "requests": sum(m.requests for m in ordered),
        "total_tokens": sum(m.total_tokens for m in ordered),
        "usd": round(sum(m.usd or 0.0 for m in ordered), 6),
        "failed_attempts": sum(m.failed_attempts for m in ordered),
        "final_errors": sum(m.final_errors for m in ordered),
        "outage_failures": sum(m.outage_failures for m in ordered),
        "killed_subagents": sum(m.killed_subagents for m in ordered),
        "loss_measured_tokens": sum(m.loss_measured_tokens for m in ordered),
        "loss_estimated_tokens": sum(m.loss_estimated_tokens for m in ordered),
    }
    if not ordered:
        notes.append("no rows in the ledger for this period" + (f" and user {user!r}" if user else ""))
    return TeamReport(by, since.isoformat() if since else None, until.isoformat() if until else None,
                      ordered, totals, windows_out, loss_available, table.describe(), notes)


def _attribute_loss(ledger: Ledger, table: PricingTable, since: date | None, until: date | None,
                    offline: bool, member: Any) -> tuple[bool, list[dict[str, Any]], list[str]]:
    """Run the loss attribution per outage window and credit each lost request to its machine."""
    try:
        from claimback.analysis.loss import attribute_window, request_pricer
        from claimback.analysis.outages import find_windows
    except ImportError:  # an install without the analysis stages: failures by class still stand
        return False, [], ["outage loss is not available in this install; failures are shown by class only"]
    windows = find_windows(ledger, since, until, offline=offline)
    cost = request_pricer(table)
    out: list[dict[str, Any]] = []
    for window in windows:
        wid = getattr(window, "window_id", None) or getattr(window, "id", "")
        loss = attribute_window(ledger, window, cost)
        machine_of_request = _machines(ledger, "requests", "request_key",
                                       [r.request_key for r in loss.lost_requests])
        machine_of_failure = _machines(ledger, "failures", "failure_key",
                                       [a.failure_key for a in loss.exposed_attempts])
        for lost in loss.lost_requests:
            m = member(machine_of_request.get(lost.request_key))
            if m is None:
                continue
            m.loss_measured_tokens += lost.tokens
            m.loss_usd_measured = _add(m.loss_usd_measured, lost.usd)
        for attempt in loss.exposed_attempts:
            m = member(machine_of_failure.get(attempt.failure_key))
            if m is None:
                continue
            if not attempt.charged:
                m.loss_not_charged_tokens += attempt.tokens  # a 529: not counted against the quota
                continue
            m.loss_estimated_tokens += attempt.tokens
            m.loss_usd_estimated = _add(m.loss_usd_estimated, attempt.usd)
        out.append({"id": wid, "start": window.start, "end": window.end,
                    "confirmed_by": window.confirmed_by, "incident_ids": list(window.incident_ids),
                    "provider": getattr(window, "provider", "anthropic"),
                    "measured_tokens": loss.measured_tokens, "estimated_tokens": loss.estimated_tokens})
    notes = [] if windows else ["no outage window in this period: no outage loss to attribute"]
    return True, out, notes


def _machines(ledger: Ledger, table: str, key: str, values: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    unique = sorted(set(values))
    for start in range(0, len(unique), 500):
        part = unique[start:start + 500]
        marks = ", ".join("?" for _ in part)
        for row in ledger.rows(f"SELECT {key} AS k, machine_id FROM {table} WHERE {key} IN ({marks})", part):
            found[row["k"]] = row["machine_id"]
    return found
