"""Usage reports from the ledger: per day, week, month, session, and 5-hour billing block (ccusage's reports).

The ledger's `requests` table already holds each request once (ingest deduplicates), so a report is a
grouped sum. Daily and session reports aggregate in SQL (per UTC hour — or minute for zones with a
non-whole-hour offset — model and speed), then fold the buckets into local days in Python: an unchanged
re-run reads a few thousand group rows, not every request. Costs stay exact under aggregation because the
tiered price is linear in (tokens, tokens beyond 200k) — see `pricing.TokenSums`.

Key names of the plain data mirror ccusage's JSON so `to_ccusage_json` is a direct mapping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from claimback.analysis.pricing import PricingTable, TokenSums, choose_cost
from claimback.core.digest import sha256
from claimback.core.times import format_iso, parse_utc
from claimback.errors import BadInput
from claimback.ledger.report_cache import cached, ledger_token, plain, remember
from claimback.ledger.store import Ledger

BLOCK_HOURS = 5
_T = 200_000


def resolve_timezone(name: str | None) -> tzinfo | None:
    """None = the machine's local zone (honours TZ), like ccusage's default."""
    if not name:
        return None
    if name.upper() in ("UTC", "Z"):
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # ~3 ms at import: only for a named zone

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(f"unknown timezone {name!r} (use an IANA name such as UTC or Europe/Berlin)") from None


def _local(dt: datetime, tz: tzinfo | None) -> datetime:
    return dt.astimezone(tz) if tz is not None else dt.astimezone()


def _bucket_chars(tz: tzinfo | None) -> int:
    """13 = group by UTC hour; 16 = by minute, needed where the offset is not a whole hour (+05:30)."""
    year = datetime.now(timezone.utc).year
    for month in (1, 7):
        probe = _local(datetime(year, month, 1, 12, tzinfo=timezone.utc), tz)
        offset = probe.utcoffset() or timedelta(0)
        if offset.total_seconds() % 3600:
            return 16
    return 13


def _utc_bound(day: date, tz: tzinfo | None) -> str:
    if tz is None:
        start = datetime.combine(day, time()).astimezone()
    else:
        start = datetime.combine(day, time(), tzinfo=tz)
    return format_iso(start.replace(microsecond=0))


def _parse_bucket(text: str) -> datetime:
    """'YYYY-MM-DDTHH' or 'YYYY-MM-DDTHH:MM' (UTC); by slicing, as strptime is slow in this loop."""
    minute = int(text[14:16]) if len(text) >= 16 else 0
    return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), minute,
                    tzinfo=timezone.utc)


# -- plain data ------------------------------------------------------------------------------------
@dataclass
class ModelBreakdown:
    modelName: str
    inputTokens: int = 0
    outputTokens: int = 0
    cacheCreationTokens: int = 0
    cacheReadTokens: int = 0
    cost: float = 0.0
    requests: int = 0
    unpricedRequests: int = 0


@dataclass
class UsageRow:
    """One day or one session (the `key`)."""

    key: str
    inputTokens: int = 0
    outputTokens: int = 0
    cacheCreationTokens: int = 0
    cacheReadTokens: int = 0
    totalCost: float = 0.0
    requests: int = 0
    unpricedRequests: int = 0
    models: dict[str, ModelBreakdown] = field(default_factory=dict)
    # sessions only
    lastActivity: str | None = None
    firstActivity: str | None = None
    projectPath: str | None = None
    versions: list[str] = field(default_factory=list)
    # daily with a project filter or per project (--project / --instances)
    project: str | None = None
    # sessions with --subagents: the main thread and one row per subagent run (key = agent id)
    mainThread: UsageRow | None = None
    subagents: list[UsageRow] = field(default_factory=list)
    subagentType: str | None = None

    @property
    def totalTokens(self) -> int:
        return self.inputTokens + self.outputTokens + self.cacheCreationTokens + self.cacheReadTokens

    @property
    def modelsUsed(self) -> list[str]:
        return sorted(self.models)

    @property
    def modelBreakdowns(self) -> list[ModelBreakdown]:
        return sorted(self.models.values(), key=lambda m: (-m.cost, m.modelName))

    def add(self, model: str, inp: int, out: int, cw: int, cr: int, cost: float | None, n: int) -> None:
        self.inputTokens += inp
        self.outputTokens += out
        self.cacheCreationTokens += cw
        self.cacheReadTokens += cr
        self.requests += n
        m = self.models.get(model)
        if m is None:
            m = self.models[model] = ModelBreakdown(model)
        m.inputTokens += inp
        m.outputTokens += out
        m.cacheCreationTokens += cw
        m.cacheReadTokens += cr
        m.requests += n
        if cost is None:
            self.unpricedRequests += n
            m.unpricedRequests += n
        else:
            self.totalCost += cost
            m.cost += cost


@dataclass
class Block:
    """A 5-hour billing block as ccusage defines it (or the gap between two)."""

    id: str
    startTime: str
    endTime: str
    actualEndTime: str | None
    isActive: bool
    isGap: bool
    entries: int
    inputTokens: int = 0
    outputTokens: int = 0
    cacheCreationTokens: int = 0
    cacheReadTokens: int = 0
    costUSD: float = 0.0
    unpricedRequests: int = 0
    models: list[str] = field(default_factory=list)
    breakdown: dict[str, ModelBreakdown] = field(default_factory=dict)
    firstEntry: str | None = None
    burnRate: BurnRate | None = None
    projection: Projection | None = None
    tokenLimitStatus: TokenLimitStatus | None = None

    @property
    def totalTokens(self) -> int:
        return self.inputTokens + self.outputTokens + self.cacheCreationTokens + self.cacheReadTokens


@dataclass
class BurnRate:
    """The active block's pace, over its first to its last request (ccusage's definition)."""

    tokensPerMinute: float
    tokensPerMinuteForIndicator: float  # input + output only, as ccusage's HIGH/MODERATE indicator uses
    costPerHour: float


@dataclass
class Projection:
    """Where the active block ends if the pace holds until its end."""

    totalTokens: int
    totalCost: float
    remainingMinutes: int


@dataclass
class TokenLimitStatus:
    limit: int
    percentUsed: float
    projectedUsage: int
    status: str  # ok | warning (>= 80 % projected) | exceeds (> 100 %)


@dataclass
class UsageReport:
    kind: str  # daily | weekly | monthly | session | blocks
    rows: list[UsageRow]
    blocks: list[Block]
    totals: UsageRow
    timezone: str
    mode: str
    pricing: str
    since: str | None
    until: str | None
    unpriced_models: list[str]
    demo: bool = False
    # daily --instances: rows per project (rows then holds every project's rows, in project order)
    projects: dict[str, list[UsageRow]] | None = None
    project_filter: str | None = None
    # Measured, unattributed: usage the client's cost-state records hold beyond the rows above
    # (analysis/unattributed.py); never part of them. Per session too, for the session report.
    unattributed: Any = None
    unattributed_by_session: dict[str, Any] = field(default_factory=dict)


# -- queries ---------------------------------------------------------------------------------------
_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cache_creation_tokens), SUM(cache_creation_1h_tokens), "
    "SUM(cache_read_tokens), "
    f"SUM(CASE WHEN input_tokens > {_T} THEN input_tokens - {_T} ELSE 0 END), "
    f"SUM(CASE WHEN output_tokens > {_T} THEN output_tokens - {_T} ELSE 0 END), "
    f"SUM(CASE WHEN cache_creation_tokens - cache_creation_1h_tokens > {_T} "
    f"THEN cache_creation_tokens - cache_creation_1h_tokens - {_T} ELSE 0 END), "
    f"SUM(CASE WHEN cache_creation_1h_tokens > {_T} THEN cache_creation_1h_tokens - {_T} ELSE 0 END), "
    f"SUM(CASE WHEN cache_read_tokens > {_T} THEN cache_read_tokens - {_T} ELSE 0 END), "
    "SUM(cost_usd), COUNT(*)"
)
_HAS_COST = "CASE WHEN cost_usd IS NULL THEN 0 ELSE 1 END"


def _where(since: date | None, until: date | None, tz: tzinfo | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if since is not None:
        clauses.append("ts >= ?")
        params.append(_utc_bound(since, tz))
    if until is not None:
        clauses.append("ts < ?")
        params.append(_utc_bound(until + timedelta(days=1), tz))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


# -- cached grouped sums ---------------------------------------------------------------------------
def grouped_rows(ledger: Ledger, sql: str, params: list[Any]) -> list[list[Any]]:
    """The rows of a grouping query, from `report_cache` when the ledger has not changed since they were
    computed (ledger/report_cache.py). Any failure to read or write the cache falls back to the query."""
    return cached_rows(ledger, [sql, params], lambda: [[plain(v) for v in row] for row in ledger.execute(sql, params)])


def cached_rows(ledger: Ledger, what: list[Any], compute: Callable[[], list[list[Any]]]) -> list[list[Any]]:
    """`compute()` (JSON-able rows derived from the ledger alone), from `report_cache` while the ledger is
    unchanged. `what` names the rows (a query and its parameters): the same `what`, the same rows."""
    key = "rows:" + sha256(json.dumps(what).encode()).hexdigest()[:32]
    token = ledger_token(ledger)
    payload = cached(ledger, key, token)
    if payload is not None:
        try:
            return json.loads(payload)
        except ValueError:
            pass
    rows = compute()
    remember(ledger, key, token, json.dumps(rows, separators=(",", ":")))
    return rows


class _Pricer:
    def __init__(self, table: PricingTable, mode: str) -> None:
        self.table = table
        self.mode = mode
        self.unpriced: set[str] = set()

    def group_cost(self, model: str | None, speed: str | None, has_cost: int, sums: tuple) -> float | None:
        """Cost of one SQL group: sums = (in, out, cw, cw1h, cr, 5 excesses, recorded_cost, n)."""
        recorded = sums[10] if has_cost else None
        calculated = None
        if self.mode != "display" and (self.mode == "calculate" or not has_cost):
            tokens = TokenSums(sums[0], sums[1], max(sums[2] - sums[3], 0), sums[3], sums[4],
                               sums[5], sums[6], sums[7], sums[8], sums[9])
            calculated = self.table.cost_of(model, tokens, speed)
        cost = choose_cost(self.mode, calculated, recorded)
        if cost is None:
            self.unpriced.add(model or "unknown")
        return cost


def display_model(model: str | None, speed: str | None) -> str:
    name = model or "unknown"
    return f"{name}-fast" if speed == "fast" else name


def _ints(values: Iterable[Any]) -> tuple:
    return tuple(int(v or 0) for v in values)


PERIODS = ("daily", "weekly", "monthly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _period_key(day: date, period: str, week_start: int) -> str:
    """The row a local day falls in: the day, its week's first day (ccusage: `week`), or YYYY-MM."""
    if period == "weekly":
        return (day - timedelta(days=(day.weekday() - week_start) % 7)).isoformat()
    if period == "monthly":
        return day.isoformat()[:7]
    return day.isoformat()


def _project_clause(project: str | None) -> tuple[str, list[Any]]:
    """Requests of one project (the transcript folder name under projects/, as ccusage names it)."""
    if project is None:
        return "", []
    return "session_id IN (SELECT session_id FROM sessions WHERE project = ?)", [project]


def _and(where: str, clause: str) -> str:
    if not clause:
        return where
    return f"{where} AND {clause}" if where else f" WHERE {clause}"


def _session_projects(ledger: Ledger) -> dict[str, str]:
    return {r["session_id"]: r["project"] for r in ledger.rows("SELECT session_id, project FROM sessions")
            if r["project"]}


def period_usage(ledger: Ledger, period: str = "daily", *, since: date | None = None, until: date | None = None,
                 tz_name: str | None = None, mode: str = "auto", pricing: PricingTable | None = None,
                 project: str | None = None, instances: bool = False, order: str = "asc",
                 start_of_week: str = "sunday") -> UsageReport:
    """Usage per local day, week (starting on `start_of_week`, ccusage's default Sunday) or month.
    `project` keeps one project; `instances` splits the rows per project (ccusage's `--instances`)."""
    if period not in PERIODS:
        raise BadInput(f"unknown period {period!r} ({', '.join(PERIODS)})")
    if start_of_week not in WEEKDAYS:
        raise BadInput(f"unknown weekday {start_of_week!r} ({', '.join(WEEKDAYS)})")
    week_start = WEEKDAYS.index(start_of_week)
    tz = resolve_timezone(tz_name)
    table = pricing or PricingTable.bundled()
    pricer = _Pricer(table, mode)
    chars = _bucket_chars(tz)
    where, params = _where(since, until, tz)
    clause, extra = _project_clause(project)
    where, params = _and(where, clause), params + extra
    by_session = ", session_id" if instances else ""
    sql = (f"SELECT substr(ts, 1, {chars}), model, speed, {_HAS_COST}{by_session}, {_SUMS} FROM requests{where} "
           f"GROUP BY substr(ts, 1, {chars}), model, speed, {_HAS_COST}{by_session}")
    owners = _session_projects(ledger) if instances else {}
    rows_of: dict[tuple[str, str], UsageRow] = {}
    key_of: dict[str, str] = {}
    for bucket, model, speed, has_cost, *rest in grouped_rows(ledger, sql, params):
        where_from = project or ""
        if instances:
            session_id, rest = rest[0], rest[1:]
            where_from = owners.get(session_id or "", "Unknown Project")
        sums = _ints(rest[:10]) + (float(rest[10] or 0.0), int(rest[11]))
        key = key_of.get(bucket)
        if key is None:
            key = key_of[bucket] = _period_key(_local(_parse_bucket(bucket), tz).date(), period, week_start)
        row = rows_of.get((where_from, key))
        if row is None:
            row = rows_of[(where_from, key)] = UsageRow(key, project=where_from or None)
        cost = pricer.group_cost(model, speed, has_cost, sums)
        row.add(display_model(model, speed), sums[0], sums[1], sums[2], sums[4], cost, sums[11])
    ordered = sorted(rows_of.values(), key=lambda r: (r.project or "", r.key), reverse=False)
    projects: dict[str, list[UsageRow]] | None = None
    if instances:
        projects = {}
        for row in ordered:
            projects.setdefault(row.project or "Unknown Project", []).append(row)
        if order == "desc":
            projects = {name: rows[::-1] for name, rows in projects.items()}
        ordered = [row for rows in projects.values() for row in rows]
    elif order == "desc":
        ordered.reverse()
    report = _report(period, ordered, [], tz_name, mode, table, since, until, pricer)
    report.projects = projects
    report.project_filter = project
    return report


def daily_usage(ledger: Ledger, **options: Any) -> UsageReport:
    return period_usage(ledger, "daily", **options)


def session_usage(ledger: Ledger, *, since: date | None = None, until: date | None = None,
                  tz_name: str | None = None, mode: str = "auto", pricing: PricingTable | None = None,
                  order: str = "asc", subagents: bool = False) -> UsageReport:
    """Usage per session, oldest last activity first. `subagents` adds each session's main thread and one
    row per subagent run (the ledger knows every run's agent id; ccusage has no such report)."""
    tz = resolve_timezone(tz_name)
    table = pricing or PricingTable.bundled()
    pricer = _Pricer(table, mode)
    where, params = _where(since, until, tz)
    sql = (f"SELECT session_id, model, speed, {_HAS_COST}, {_SUMS}, MIN(ts), MAX(ts) FROM requests{where} "
           f"GROUP BY session_id, model, speed, {_HAS_COST}")
    sessions: dict[str, UsageRow] = {}
    for session_id, model, speed, has_cost, *rest in grouped_rows(ledger, sql, params):
        sums = _ints(rest[:10]) + (float(rest[10] or 0.0), int(rest[11]))
        key = session_id or "unknown"
        row = sessions.get(key)
        if row is None:
            row = sessions[key] = UsageRow(key)
        row.add(display_model(model, speed), sums[0], sums[1], sums[2], sums[4],
                pricer.group_cost(model, speed, has_cost, sums), sums[11])
        first, last = rest[12], rest[13]
        if row.firstActivity is None or first < row.firstActivity:
            row.firstActivity = first
        if row.lastActivity is None or last > row.lastActivity:
            row.lastActivity = last
    if sessions:
        info = {r["session_id"]: r for r in ledger.rows("SELECT session_id, project, cc_version FROM sessions")}
        for key, row in sessions.items():
            meta = info.get(key)
            if meta:
                row.projectPath = meta["project"]
                row.versions = [meta["cc_version"]] if meta["cc_version"] else []
    if subagents and sessions:
        _add_subagents(ledger, sessions, table, mode, where, params)
    rows = sorted(sessions.values(), key=lambda r: (r.lastActivity or "", r.key), reverse=order == "desc")
    return _report("session", rows, [], tz_name, mode, table, since, until, pricer)


def _add_subagents(ledger: Ledger, sessions: dict[str, UsageRow], table: PricingTable, mode: str,
                   where: str, params: list[Any]) -> None:
    pricer = _Pricer(table, mode)  # the session rows already counted unpriced models
    sql = (f"SELECT session_id, agent_id, model, speed, {_HAS_COST}, {_SUMS}, MIN(ts), MAX(ts) "
           f"FROM requests{where} GROUP BY session_id, agent_id, model, speed, {_HAS_COST}")
    runs: dict[tuple[str, str | None], UsageRow] = {}
    for session_id, agent_id, model, speed, has_cost, *rest in grouped_rows(ledger, sql, params):
        sums = _ints(rest[:10]) + (float(rest[10] or 0.0), int(rest[11]))
        key = (session_id or "unknown", agent_id or None)
        row = runs.get(key)
        if row is None:
            row = runs[key] = UsageRow(agent_id or "main")
        row.add(display_model(model, speed), sums[0], sums[1], sums[2], sums[4],
                pricer.group_cost(model, speed, has_cost, sums), sums[11])
        first, last = rest[12], rest[13]
        row.firstActivity = first if row.firstActivity is None else min(row.firstActivity, first)
        row.lastActivity = last if row.lastActivity is None else max(row.lastActivity, last)
    kinds = {r["agent_id"]: r["subagent_type"] for r in ledger.rows(
        "SELECT agent_id, subagent_type FROM tasks WHERE agent_id IS NOT NULL")}
    for (session_id, agent_id), row in sorted(runs.items(), key=lambda kv: (kv[1].firstActivity or "", kv[1].key)):
        session = sessions.get(session_id)
        if session is None:
            continue
        if agent_id is None:
            session.mainThread = row
        else:
            row.subagentType = kinds.get(agent_id)
            session.subagents.append(row)


def block_usage(ledger: Ledger, *, since: date | None = None, until: date | None = None,
                tz_name: str | None = None, mode: str = "auto", pricing: PricingTable | None = None,
                now: datetime | None = None, order: str = "asc", active_only: bool = False,
                recent: bool = False, token_limit: str | int | None = None) -> UsageReport:
    """ccusage's blocks: a block starts at the hour of its first request and lasts 5 h; a request more
    than 5 h after the block start or after the previous request opens a new block; a pause longer
    than 5 h between blocks shows as a gap block. since/until select blocks by their start day."""
    tz = resolve_timezone(tz_name)
    table = pricing or PricingTable.bundled()
    pricer = _Pricer(table, mode)
    now = now or datetime.now(timezone.utc)
    span = timedelta(hours=BLOCK_HOURS)
    sql = ("SELECT ts, model, speed, input_tokens, output_tokens, cache_creation_tokens, "
           "cache_creation_1h_tokens, cache_read_tokens, cost_usd FROM requests ORDER BY ts")
    blocks: list[Block] = []
    current: Block | None = None
    start = last = None

    def close() -> None:
        if current is not None:
            end = start + span
            current.isActive = (now - last) < span and now < end
            current.models = sorted(current.breakdown)
            blocks.append(current)

    for ts, model, speed, inp, out, cw, cw1h, cr, recorded in ledger.execute(sql):
        when = parse_utc(ts)
        if current is None or when - start > span or when - last > span:
            close()
            if current is not None and when - last > span:
                gap_start = last + span
                blocks.append(Block(id=f"gap-{format_iso(gap_start)}", startTime=format_iso(gap_start), endTime=format_iso(when),
                                    actualEndTime=None, isActive=False, isGap=True, entries=0))
            start = when.replace(minute=0, second=0, microsecond=0)
            current = Block(id=format_iso(start), startTime=format_iso(start), endTime=format_iso(start + span),
                            actualEndTime=None, isActive=False, isGap=False, entries=0)
        last = when
        if current.firstEntry is None:
            current.firstEntry = format_iso(when)
        current.actualEndTime = format_iso(when)
        current.entries += 1
        inp, out, cw, cw1h, cr = (int(v or 0) for v in (inp, out, cw, cw1h, cr))
        calculated = None
        if mode != "display" and (mode == "calculate" or recorded is None):
            calculated = table.request_cost(model, inp, out, cw, cw1h, cr, speed)
        cost = choose_cost(mode, calculated, recorded)
        current.inputTokens += inp
        current.outputTokens += out
        current.cacheCreationTokens += cw
        current.cacheReadTokens += cr
        name = display_model(model, speed)
        mb = current.breakdown.get(name)
        if mb is None:
            mb = current.breakdown[name] = ModelBreakdown(name)
        mb.inputTokens += inp
        mb.outputTokens += out
        mb.cacheCreationTokens += cw
        mb.cacheReadTokens += cr
        mb.requests += 1
        if cost is None:
            pricer.unpriced.add(model or "unknown")
            current.unpricedRequests += 1
            mb.unpricedRequests += 1
        else:
            current.costUSD += cost
            mb.cost += cost
    close()
    limit = _token_limit(token_limit, blocks)
    for b in blocks:
        if b.isActive:
            _project_block(b, now, limit)
    if recent:  # ccusage's --recent: the last 3 days, and the active block whatever its age
        cutoff = now - timedelta(days=3)
        blocks = [b for b in blocks if b.isActive or parse_utc(b.startTime) >= cutoff]
    if active_only:
        blocks = [b for b in blocks if b.isActive]
    if since is not None or until is not None:
        def keep(b: Block) -> bool:
            day = _local(parse_utc(b.startTime), tz).date()
            return (since is None or day >= since) and (until is None or day <= until)
        blocks = [b for b in blocks if keep(b)]
    totals = UsageRow("total")
    for b in blocks:
        for mb in b.breakdown.values():
            totals.add(mb.modelName, mb.inputTokens, mb.outputTokens, mb.cacheCreationTokens,
                       mb.cacheReadTokens, None if mb.unpricedRequests == mb.requests else mb.cost, mb.requests)
    totals.totalCost = sum(b.costUSD for b in blocks)
    totals.unpricedRequests = sum(b.unpricedRequests for b in blocks)
    if order == "desc":
        blocks.reverse()
    report = _report("blocks", [], blocks, tz_name, mode, table, since, until, pricer)
    report.totals = totals
    return report


def _token_limit(value: str | int | None, blocks: list[Block]) -> int | None:
    """`--token-limit N`, or `max`: the largest finished block so far (ccusage's meaning)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() == "max":
        done = [b.totalTokens for b in blocks if not b.isGap and not b.isActive]
        return max(done) if done else None
    try:
        limit = int(value)
    except ValueError:
        raise BadInput(f"--token-limit {value!r} is not a number of tokens or 'max'") from None
    if limit <= 0:
        raise BadInput("--token-limit must be a positive number of tokens")
    return limit


def _project_block(block: Block, now: datetime, limit: int | None) -> None:
    """ccusage's burn rate (block total over the minutes from its first to its last request) and the
    projection to the block's end; none while the block has a single instant of activity."""
    if block.firstEntry is None or block.actualEndTime is None:
        return
    minutes = (parse_utc(block.actualEndTime) - parse_utc(block.firstEntry)).total_seconds() / 60
    if minutes <= 0:
        return
    per_minute = block.totalTokens / minutes
    per_hour_cost = block.costUSD / minutes * 60
    block.burnRate = BurnRate(per_minute, (block.inputTokens + block.outputTokens) / minutes, per_hour_cost)
    remaining = max(0, round((parse_utc(block.endTime) - now).total_seconds() / 60))
    projected = round(block.totalTokens + per_minute * remaining)
    cost = round(block.costUSD + per_hour_cost / 60 * remaining, 2)
    block.projection = Projection(projected, cost, remaining)
    if limit:
        pct = projected / limit * 100
        status = "exceeds" if pct > 100 else "warning" if pct >= 80 else "ok"
        block.tokenLimitStatus = TokenLimitStatus(limit, pct, projected, status)


def _report(kind: str, rows: list[UsageRow], blocks: list[Block], tz_name: str | None, mode: str,
            table: PricingTable, since: date | None, until: date | None, pricer: _Pricer) -> UsageReport:
    totals = UsageRow("total")
    for row in rows:
        for mb in row.models.values():
            totals.add(mb.modelName, mb.inputTokens, mb.outputTokens, mb.cacheCreationTokens,
                       mb.cacheReadTokens, None, mb.requests)
        totals.totalCost += row.totalCost
    totals.unpricedRequests = sum(r.unpricedRequests for r in rows)
    for name, mb in totals.models.items():
        mb.cost = sum(r.models[name].cost for r in rows if name in r.models)
        mb.unpricedRequests = sum(r.models[name].unpricedRequests for r in rows if name in r.models)
    return UsageReport(
        kind=kind, rows=rows, blocks=blocks, totals=totals,
        timezone=tz_name or "local", mode=mode, pricing=table.describe(),
        since=since.isoformat() if since else None, until=until.isoformat() if until else None,
        unpriced_models=sorted(pricer.unpriced),
    )


def usage_report(ledger: Ledger, kind: str, **options: Any) -> UsageReport:
    if kind in PERIODS:
        report = period_usage(ledger, kind, **options)
    elif kind == "session":
        report = session_usage(ledger, **options)
    elif kind == "blocks":
        report = block_usage(ledger, **options)
    else:
        raise BadInput(f"unknown usage report {kind!r} (daily, weekly, monthly, session or blocks)")
    _add_unattributed(ledger, report, options)
    return report


def _add_unattributed(ledger: Ledger, report: UsageReport, options: dict[str, Any]) -> None:
    """The report's measured, unattributed usage: the runs whose cost-state time falls in its range (and
    project), apart from its rows."""
    if ledger.scalar("SELECT 1 FROM cost_states LIMIT 1") is None:
        return  # no client that writes cost-state: nothing to compare (and nothing more imported)
    from claimback.analysis.unattributed import summarize, unattributed_parts

    parts = unattributed_parts(ledger, options.get("pricing"))
    if not parts:
        return
    tz = resolve_timezone(options.get("tz_name"))
    since, until = options.get("since"), options.get("until")
    low = _utc_bound(since, tz) if since is not None else None
    high = _utc_bound(until + timedelta(days=1), tz) if until is not None else None
    project = options.get("project")
    projects = _session_projects(ledger) if project else {}
    chosen = [p for p in parts if (low is None or (p.until or "") >= low) and (high is None or (p.until or "") < high)
              and (not project or projects.get(p.session_id) == project)]
    if not chosen:
        return
    report.unattributed = summarize(chosen)
    by_session: dict[str, list[Any]] = {}
    for part in chosen:  # one pass, not one per session (206 sessions x 340 parts at 1 GB)
        by_session.setdefault(part.session_id, []).append(part)
    for session_id in report.unattributed.sessions:
        report.unattributed_by_session[session_id] = summarize(by_session[session_id])


# -- ccusage-compatible JSON -----------------------------------------------------------------------
def _breakdowns(models: Iterable[ModelBreakdown]) -> list[dict[str, Any]]:
    rows = []
    for m in models:
        row: dict[str, Any] = {"modelName": m.modelName, "inputTokens": m.inputTokens, "outputTokens": m.outputTokens,
                               "cacheCreationTokens": m.cacheCreationTokens, "cacheReadTokens": m.cacheReadTokens,
                               "cost": m.cost}
        if m.requests and m.unpricedRequests == m.requests:
            row["missingPricing"] = True  # as ccusage 20 marks a model it has no price for
        rows.append(row)
    return rows


def _token_fields(row: UsageRow) -> dict[str, Any]:
    return {"inputTokens": row.inputTokens, "outputTokens": row.outputTokens,
            "cacheCreationTokens": row.cacheCreationTokens, "cacheReadTokens": row.cacheReadTokens,
            "totalTokens": row.totalTokens, "totalCost": row.totalCost}


_PERIOD_KEY = {"daily": "date", "weekly": "week", "monthly": "month"}


def _period_row(report: UsageReport, row: UsageRow) -> dict[str, Any]:
    item = {_PERIOD_KEY[report.kind]: row.key, **_token_fields(row), "modelsUsed": row.modelsUsed,
            "modelBreakdowns": _breakdowns(row.modelBreakdowns), "unpricedRequests": row.unpricedRequests}
    if report.projects is not None or report.project_filter is not None:
        item["project"] = row.project
    return item


def _subagent_row(row: UsageRow) -> dict[str, Any]:
    return {"agentId": row.key, "subagentType": row.subagentType, **_token_fields(row),
            "firstActivity": row.firstActivity, "lastActivity": row.lastActivity, "requests": row.requests,
            "modelsUsed": row.modelsUsed, "modelBreakdowns": _breakdowns(row.modelBreakdowns),
            "unpricedRequests": row.unpricedRequests}


def _plain_dc(value: Any) -> dict[str, Any] | None:
    return None if value is None else dict(value.__dict__)


_COST_KEYS = frozenset({"totalCost", "cost", "costUSD", "unattributedCost"})


def _without_cost(value: Any) -> Any:
    """ccusage's `--no-cost`: every cost key dropped, wherever it is; `burnRate` is left whole as ccusage
    leaves it (its `costPerHour` stays)."""
    if isinstance(value, dict):
        return {k: (v if k == "burnRate" else _without_cost(v)) for k, v in value.items() if k not in _COST_KEYS}
    if isinstance(value, list):
        return [_without_cost(v) for v in value]
    return value


def to_ccusage_json(report: UsageReport, *, subagents: bool = False, cost: bool = True) -> dict[str, Any]:
    """The report with ccusage's key names (scripts written for ccusage read it unchanged); claimback's
    additions (`unpricedRequests`, `subagents`, `claimback`) are extra keys those scripts ignore.
    `cost=False` is ccusage's `--no-cost`."""
    data = _ccusage_json(report, subagents)
    return data if cost else _without_cost(data)


def _ccusage_json(report: UsageReport, subagents: bool) -> dict[str, Any]:
    totals = _token_fields(report.totals)
    totals["unpricedRequests"] = report.totals.unpricedRequests
    if report.unpriced_models:  # ccusage 20 names them in the totals (and omits the key when none)
        totals["unpricedModels"] = report.unpriced_models
    meta = {"timezone": report.timezone, "mode": report.mode, "pricing": report.pricing,
            "since": report.since, "until": report.until, "unpricedModels": report.unpriced_models,
            "demo": report.demo}
    if report.unattributed is not None:
        meta["unattributed"] = report.unattributed.as_json("cost")
    if report.kind in _PERIOD_KEY:
        if report.projects is not None:
            projects = {name: [_period_row(report, r) for r in rows] for name, rows in report.projects.items()}
            return {"projects": projects, "totals": totals, "claimback": meta}
        return {report.kind: [_period_row(report, r) for r in report.rows], "totals": totals, "claimback": meta}
    if report.kind == "session":
        sessions = []
        for row in report.rows:
            # ISO-8601 UTC instants, as ccusage 20 prints them (ccusage 18 printed the local date).
            item = {"sessionId": row.key, **_token_fields(row), "firstActivity": row.firstActivity,
                    "lastActivity": row.lastActivity,
                    "modelsUsed": row.modelsUsed, "modelBreakdowns": _breakdowns(row.modelBreakdowns),
                    "projectPath": row.projectPath or "Unknown Project", "versions": row.versions,
                    "unpricedRequests": row.unpricedRequests}
            extra = report.unattributed_by_session.get(row.key)
            if extra is not None:  # claimback's: measured, unattributed, not in the token fields
                item["unattributedTokens"] = extra.tokens
                item["unattributedCost"] = extra.usd
            if subagents:
                item["mainThread"] = _subagent_row(row.mainThread) if row.mainThread else None
                item["subagents"] = [_subagent_row(r) for r in row.subagents]
            sessions.append(item)
        return {"sessions": sessions, "totals": totals, "claimback": meta}
    blocks = []
    for b in report.blocks:
        item = {
            "id": b.id, "startTime": b.startTime, "endTime": b.endTime, "actualEndTime": b.actualEndTime,
            "isActive": b.isActive, "isGap": b.isGap, "entries": b.entries,
            "tokenCounts": {"inputTokens": b.inputTokens, "outputTokens": b.outputTokens,
                            "cacheCreationInputTokens": b.cacheCreationTokens,
                            "cacheReadInputTokens": b.cacheReadTokens},
            "totalTokens": b.totalTokens, "costUSD": b.costUSD, "models": b.models,
            "burnRate": _plain_dc(b.burnRate), "projection": _plain_dc(b.projection),
            "modelBreakdowns": _breakdowns(sorted(b.breakdown.values(), key=lambda m: (-m.cost, m.modelName))),
            "unpricedRequests": b.unpricedRequests,
        }
        if b.tokenLimitStatus is not None:
            item["tokenLimitStatus"] = _plain_dc(b.tokenLimitStatus)
        blocks.append(item)
    return {"blocks": blocks, "totals": totals, "claimback": meta}
