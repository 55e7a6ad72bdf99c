"""Outage windows (DESIGN §5): status-page incidents joined with error bursts in the user's own logs.

Public API (what `loss`, `claim`, `resume` and `audit` consume)::

    find_windows(ledger, since=None, until=None, offline=False, *, refresh=False, sync=True,
                 demo=False, timeout=3.0) -> list[OutageWindow]
    outages_report(...same arguments...) -> OutagesReport      # windows + where the incident data came from
    get_window(windows, key) -> OutageWindow | None            # by window id or by incident id
    current_status(ledger, offline=False, refresh=False) -> CurrentStatus   # `claimback status`
    incident_relevance(incident) -> Relevance

`since`/`until` accept a `date` (whole UTC days, `until` inclusive), a `datetime`, or an ISO string.
With neither given, windows are sought over the span of the ledger's own activity (requests and
failures). Unless `offline` (or `sync=False`), the status page is consulted first (3 s budget, then the
cache, the ledger, the bundled archive: see `claimback.sources.statuspage`); network faults never raise.

A window is the union of overlapping intervals of two kinds:

* a **relevant incident**: its stated impact window (parsed from update text) or else
  created_at → resolved_at, when it has error impact on Claude Code's request path: components
  "Claude API" / "Claude Code", a name naming the API, models or Claude Code, or a claude.ai incident
  about login/auth. Incidents naming models ("Elevated errors on Claude Opus 4.6") are model-specific:
  they count only where a session of the ledger used that model family inside the interval (a title
  adding "and other models" concerns every model). Notices without error impact, other products
  (Cowork, connectors, desktop app, …) and quality notices are ignored. This judgment lives in
  `claimback.sources.incident_text.incident_relevance`, shared with the guard hook.
* a **detected burst**: ≥ 3 outage-class failures (any sessions and subagents) each ≤ 10 min after the
  previous one's end, where a failure's end is its timestamp plus the retry wait Claude Code announced
  (`retryInMs`): the client was still inside the outage while it waited. quota_rate (429/limits),
  auth and the other classes never start a burst.

Each `OutageWindow` (all times ISO-8601 UTC strings, sortable):

* `window_id` — `YYYYMMDD-HHMM` of the start (UTC); stable for the same ledger contents; `-2`, `-3`
  suffixes on a clash.
* `start`, `end` — the merged interval; `logs_start`/`logs_end` (first failure, last failure + its
  retry wait) and `statuspage_start`/`statuspage_end` give each side's own view (None when absent).
* `confirmed_by` — "statuspage", "logs" or "both".
* `incident_ids`, `incidents` (`IncidentRef`: id, name, link, impact, source, interval and its basis,
  scope "all"/"models", model families, components).
* `sessions` — sessions with outage-class failures in the window, plus (for status-page windows)
  sessions with requests in the window that the incident applies to; `sessions_failed` only the
  former; `agents_failed` — subagent ids with outage-class failures in the window; `user_affected`
  — whether any of your outage-class failures fall inside (status-page-only windows often have none).
* `models` (model ids seen in those sessions inside the window), `model_families`.
* `failures_by_class` — every failure in the window by class (interrupts included, so a reader sees
  429s next to the outage without them making it); `outage_failures` — the outage-class count.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from claimback.core.classify import OUTAGE_WINDOW_CLASSES
from claimback.core.times import parse_iso, to_iso, utc_now_iso
from claimback.ledger.store import Ledger
from claimback.core.provider import ANTHROPIC, CLAIM_DESTINATION, LABELS, SQL_PROVIDER
from claimback.sources.incident_text import Relevance, bodies_oldest_first, families_overlap, model_family
from claimback.sources.incident_text import incident_relevance as _relevance
from claimback.sources.incidents import Incident
from claimback.sources.status_client import CACHE_FRESH_SECONDS, DEFAULT_TIMEOUT, age_seconds, describe_age, read_cache
from claimback.sources.statuspage import StatusSync, ledger_incidents, sync_status

BURST_MIN_FAILURES = 3
BURST_MAX_GAP = timedelta(minutes=10)
OPEN_END_GUESS = timedelta(hours=1)  # an incident with no end anywhere: assume an hour, say so
OUTAGE = "outage"
OPEN_STATUSES = ("investigating", "identified", "monitoring", "in_progress", "verifying")

# -- data --------------------------------------------------------------------------------------------
@dataclass
class IncidentRef:
    incident_id: str
    name: str | None
    link: str
    impact: str | None
    status: str | None
    source: str  # live | import | archive | demo
    start: str
    end: str
    basis: str  # "stated impact window" | "created → resolved" | "open (ongoing)" | ...
    scope: str
    model_families: list[str]
    components: list[str]
    confidence: str | None = None

    @property
    def id(self) -> str:
        return self.incident_id

    @property
    def url(self) -> str:
        return self.link


@dataclass
class OutageWindow:
    window_id: str
    start: str
    end: str
    confirmed_by: str  # statuspage | logs | both
    # Who served the failed requests (core/provider.py). Only `anthropic` windows are claimable with
    # Anthropic; `claim_to` says where a claim for any other goes.
    provider: str = ANTHROPIC
    incident_ids: list[str] = field(default_factory=list)
    incidents: list[IncidentRef] = field(default_factory=list)
    logs_start: str | None = None
    logs_end: str | None = None
    statuspage_start: str | None = None
    statuspage_end: str | None = None
    sessions: list[str] = field(default_factory=list)
    sessions_failed: list[str] = field(default_factory=list)
    agents_failed: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    model_families: list[str] = field(default_factory=list)
    failures_by_class: dict[str, int] = field(default_factory=dict)
    outage_failures: int = 0
    duration_minutes: float = 0.0
    user_affected: bool = False  # any outage-class failure of yours inside the window

    @property
    def claimable(self) -> bool:
        return self.provider == ANTHROPIC

    @property
    def provider_label(self) -> str:
        return LABELS.get(self.provider, self.provider)

    @property
    def claim_to(self) -> str:
        return CLAIM_DESTINATION.get(self.provider, CLAIM_DESTINATION["other"])

    @property
    def links(self) -> list[str]:
        return [i.link for i in self.incidents]

    @property
    def spans(self) -> str:
        return describe_spans(self.statuspage_start, self.statuspage_end, self.logs_start, self.logs_end)

    @property
    def id(self) -> str:  # the name `analysis.loss.WindowLike` uses
        return self.window_id


@dataclass
class DataSource:
    origin: str  # live | cache | ledger | archive | demo | none
    note: str
    fetched_at: str | None
    age_seconds: float | None
    faults: list[str] = field(default_factory=list)


@dataclass
class OutagesReport:
    since: str | None
    until: str | None
    windows: list[OutageWindow]
    data_source: DataSource
    incidents_considered: int
    incidents_relevant: int
    incidents: list[Incident] = field(default_factory=list)  # for the export / `outages import`
    # Where your logs have activity but no official incident data speaks (bundled archive, live feed,
    # imports): "2026-11", or "2026-10 after 2026-10-07" for a month covered in part.
    coverage_missing: list[str] = field(default_factory=list)


NO_INCIDENT_DATA = "no official incident data for this period"


def coverage_note(missing: Sequence[str], *, capital: bool = False) -> str | None:
    """The one sentence every output uses when incident data does not cover the user's logs (terminal,
    JSON, packet files): outputs find it by the report's `coverage_missing`, never by a note's place.
    `capital`: to open a sentence ("No official…")."""
    if not missing:
        return None
    note = (f"{NO_INCIDENT_DATA} ({', '.join(missing)}): the bundled archive does not cover it and the live "
            "status feed could not reach it; only bursts in your own logs can show an outage there")
    return note[0].upper() + note[1:] if capital else note


def incident_coverage(ledger: Ledger, lo: str | None, hi: str | None) -> list[str]:
    """Months (in part or whole) of [lo, hi] with activity in your logs that no incident data covers."""
    from claimback.sources.statuspage import ARCHIVE_FROM_KEY, ARCHIVE_UNTIL_KEY

    spans: list[tuple[str, str]] = []
    a_from = ledger.scalar("SELECT value FROM meta WHERE key = ?", (ARCHIVE_FROM_KEY,))
    a_until = ledger.scalar("SELECT value FROM meta WHERE key = ?", (ARCHIVE_UNTIL_KEY,))
    if a_from and a_until:
        spans.append((str(a_from)[:10], str(a_until)[:10]))
    # The live feed (and imports) speak from their oldest incident to the moment they were fetched.
    row = ledger.rows("SELECT MIN(created_at) AS a, MAX(fetched_at) AS b FROM incidents "
                      "WHERE source IN ('live', 'import', 'demo')")[0]
    if row["a"] and row["b"]:
        spans.append((str(row["a"])[:10], str(row["b"])[:10]))
    days = _active_days(ledger, "requests", lo, hi) | _active_days(ledger, "failures", lo, hi)
    uncovered = sorted(d for d in days if d and not any(a <= d <= b for a, b in spans))
    months: dict[str, list[str]] = {}
    for day in uncovered:
        months.setdefault(day[:7], []).append(day)
    out = []
    for month in sorted(months):
        partial = [b for a, b in spans if b[:7] == month and b >= a]
        out.append(f"{month} after {max(partial)}" if partial else month)
    return out


def _active_days(ledger: Ledger, table: str, lo: str | None, hi: str | None) -> set[str]:
    """The UTC days (YYYY-MM-DD) of [lo, hi] with a row in `table`: one MIN(ts) seek in its ts index per
    day, jumping to the next day (a DISTINCT over every row's day read the whole index: 0.2 s at 5 GB,
    twice per report)."""
    days: set[str] = set()
    cursor = lo
    while True:
        cond, params = _ts_between(cursor, hi)
        first = ledger.scalar(f"SELECT MIN(ts) FROM {table}{cond}", params)
        if not first:
            return days
        day = str(first)[:10]
        try:
            following = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        except (ValueError, OverflowError):  # not a canonical timestamp: read every row's day
            cond, params = _ts_between(lo, hi)
            return {r["d"] for r in ledger.rows(f"SELECT DISTINCT substr(ts, 1, 10) AS d FROM {table}{cond}",
                                                params) if r["d"]}
        days.add(day)
        cursor = following


# -- one description of a window, for every output -------------------------------------------------
INCIDENT_SPAN = "incident span (status page)"
ERROR_SPAN = "error span (Claude Code logs)"


def span_label(start: str | None, end: str | None) -> str | None:
    """`2026-05-15 00:18–01:46 UTC`; across days `2026-05-14 23:50 – 2026-05-15 01:10 UTC`; one instant
    `2026-05-15 05:11 UTC`. The one format every command and packet file shows a span in."""
    if not start:
        return None
    end = end or start
    a, b = start[:10] + " " + start[11:16], end[:10] + " " + end[11:16]
    if a == b:
        return f"{a} UTC"
    if start[:10] == end[:10]:
        return f"{a}–{end[11:16]} UTC"
    return f"{a} – {b} UTC"


def describe_spans(statuspage_start: str | None, statuspage_end: str | None, logs_start: str | None,
                   logs_end: str | None) -> str:
    """`incident span (status page): …; your error span (your logs): …` — each part only when known."""
    parts = []
    incident = span_label(statuspage_start, statuspage_end)
    if incident:
        parts.append(f"{INCIDENT_SPAN}: {incident}")
    errors = span_label(logs_start, logs_end)
    parts.append(f"{ERROR_SPAN}: {errors}" if errors else f"{ERROR_SPAN}: none")
    return "; ".join(parts)


# -- relevance ---------------------------------------------------------------------------------------
def incident_relevance(incident: Incident) -> Relevance:
    """Does this incident touch Claude Code's requests, and for which models? (The one judgment,
    `claimback.sources.incident_text.incident_relevance`, which the guard hook shares.)"""
    bodies = bodies_oldest_first((u.created_at, u.body) for u in incident.updates)
    return _relevance(incident.name, incident.impact, incident.components, bodies)


def incident_interval(incident: Incident, now: datetime | None = None) -> tuple[datetime, datetime, str] | None:
    """(start, end, basis) in UTC, or None when the incident has no usable time at all."""
    now = now or datetime.now(timezone.utc)
    start = parse_iso(incident.impact_start)
    end = parse_iso(incident.impact_end)
    basis = "stated impact window"
    if start is None:
        start = parse_iso(incident.created_at)
        basis = "created → resolved" if end is None else "created → stated end"
    elif end is None:
        basis = "stated start → resolved"
    if start is None:
        return None
    if end is None:
        end = parse_iso(incident.resolved_at)
    if end is None:
        if (incident.status or "") in OPEN_STATUSES and incident.source == "live":
            # Open is known only up to the fetch that said so: a copy fetched days ago (the cache or the
            # ledger, offline) must not stretch the outage to now.
            seen = parse_iso(incident.fetched_at)
            if seen is None or (now - seen).total_seconds() <= CACHE_FRESH_SECONDS:
                end, basis = now, "open (ongoing)"
            else:
                end, basis = seen, f"open when last fetched ({to_iso(seen)}; end unknown)"
        else:
            end, basis = start + OPEN_END_GUESS, basis.replace("resolved", "unknown end (+1 h assumed)")
    if end < start:
        end = start
    return start, end, basis


# -- bursts ------------------------------------------------------------------------------------------
@dataclass
class _Failure:
    ts: datetime
    end: datetime
    session_id: str | None
    agent_id: str | None
    model: str | None
    failure_class: str
    provider: str = ANTHROPIC
    kind: str = "retry"


@dataclass
class _Interval:
    start: datetime
    end: datetime
    incidents: list[IncidentRef] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    from_logs: bool = False
    provider: str = ANTHROPIC


def _is_burst(run: Sequence[_Failure]) -> bool:
    # ≥ 3 failures that span time: a run of final errors stamped at one instant (copies, or one turn's
    # error written by several agents at once) is one event, not an outage; and a window is never zero
    # minutes long. Retries carry their wait (`end`), so a retry run always spans its retry span.
    if len(run) < BURST_MIN_FAILURES:
        return False
    return max(f.end for f in run) > min(f.ts for f in run)


def detect_bursts(failures: Sequence[_Failure]) -> list[_Interval]:
    """Runs of ≥ 3 outage-class failures of one provider, each ≤ 10 min after the previous one's end
    (ts + retry wait), spanning more than an instant. Lost connections (class `network`) count toward a
    run only beside at least one HTTP-level outage error in it: on their own they may be the user's
    network. Providers never mix: a relay's burst is the relay's outage, not Anthropic's."""
    out: list[_Interval] = []
    by_provider: dict[str, list[_Failure]] = {}
    for f in failures:
        if f.failure_class in OUTAGE_WINDOW_CLASSES:
            by_provider.setdefault(f.provider, []).append(f)
    for provider, items in sorted(by_provider.items()):
        run: list[_Failure] = []
        run_end: datetime | None = None

        def close(run: list[_Failure] = run, provider: str = provider) -> None:
            if run and _is_burst(run) and any(f.failure_class == OUTAGE for f in run):
                out.append(_Interval(run[0].ts, max(f.end for f in run), failures=list(run), from_logs=True,
                                     provider=provider))

        for f in sorted(items, key=lambda f: f.ts):
            if run and run_end is not None and f.ts - run_end > BURST_MAX_GAP:
                close(run)
                run = []
                run_end = None
            run.append(f)
            run_end = f.end if run_end is None else max(run_end, f.end)
        close(run)
    return sorted(out, key=lambda i: (i.start, i.end))


# -- helpers -----------------------------------------------------------------------------------------
def _bound(value: date | datetime | str | None, *, end: bool) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        moment = datetime.combine(value + timedelta(days=1) if end else value, time(0), tzinfo=timezone.utc)
        return to_iso(moment - timedelta(milliseconds=1) if end else moment)
    text = str(value)
    if len(text) == 10:
        return _bound(date.fromisoformat(text), end=end)
    return to_iso(text)


def _activity_span(ledger: Ledger) -> tuple[str | None, str | None]:
    lo = [v for v in (ledger.scalar("SELECT MIN(ts) FROM requests"), ledger.scalar("SELECT MIN(ts) FROM failures")) if v]
    hi = [v for v in (ledger.scalar("SELECT MAX(ts) FROM requests"), ledger.scalar("SELECT MAX(ts) FROM failures")) if v]
    return (min(lo) if lo else None, max(hi) if hi else None)


def _ts_between(lo: str | None, hi: str | None) -> tuple[str, list[Any]]:
    """A ` WHERE` clause (or nothing) keeping rows with lo <= ts <= hi, each bound optional."""
    where, params = [], []
    if lo:
        where.append("ts >= ?")
        params.append(lo)
    if hi:
        where.append("ts <= ?")
        params.append(hi)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _load_failures(ledger: Ledger, since: str | None, until: str | None) -> list[_Failure]:
    cond, params = _ts_between(since, until)
    sql = f"SELECT ts, session_id, agent_id, retry_in_ms, model, failure_class, kind, {SQL_PROVIDER} AS provider FROM failures"
    out = []
    for r in ledger.rows(sql + cond + " ORDER BY ts", params):
        ts = parse_iso(r["ts"])
        if ts is None:
            continue
        out.append(_Failure(ts, _retry_end(ts, r["retry_in_ms"]), r["session_id"], r["agent_id"], r["model"],
                            r["failure_class"], r["provider"], r["kind"]))
    return out


def _retry_end(ts: datetime, retry_in_ms: float | None) -> datetime:
    """When a failed attempt's retry was due: the client's announced wait, at most 10 minutes (a
    corrupt or absurd wait must not stretch an error span)."""
    wait = float(retry_in_ms or 0.0)
    return ts + timedelta(milliseconds=min(wait, 10 * 60_000)) if wait > 0 else ts


def _session_models(ledger: Ledger, start: datetime, end: datetime,
                    provider: str = ANTHROPIC) -> dict[str, set[str]]:
    """Model ids each session used in [start, end] through `provider` (requests), for model matching."""
    out: dict[str, set[str]] = {}
    for r in ledger.rows(f"SELECT session_id, model FROM requests WHERE ts >= ? AND ts <= ? AND {SQL_PROVIDER} = ? "
                         "GROUP BY session_id, model", (to_iso(start), to_iso(end), provider)):
        if r["session_id"] and r["model"]:
            out.setdefault(r["session_id"], set()).add(r["model"])
    return out


def _stable_ids(intervals: list[_Interval]) -> list[str]:
    ids: list[str] = []
    for iv in intervals:
        base = iv.start.strftime("%Y%m%d-%H%M")
        wid, n = base, 1
        while wid in ids:
            n += 1
            wid = f"{base}-{n}"
        ids.append(wid)
    return ids


def is_demo_ledger(ledger: Ledger) -> bool:
    """The `--demo` workspace's temporary ledger: never send it to the network."""
    if ledger.scalar("SELECT value FROM meta WHERE key = 'demo'") in ("1", "true"):
        return True
    return ledger.dialect == "sqlite" and ledger.location.endswith("demo-ledger.sqlite3")


# -- the main entry points ---------------------------------------------------------------------------
def outages_report(
    ledger: Ledger,
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    offline: bool = False,
    *,
    refresh: bool = False,
    sync: bool = True,
    demo: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> OutagesReport:
    """Windows plus the provenance of the incident data (see the module docstring)."""
    demo = demo or is_demo_ledger(ledger)
    if sync:
        status = sync_status(ledger, offline=offline, refresh=refresh, timeout=timeout, demo=demo)
    else:
        status = StatusSync("ledger", None, None, "status page: not consulted; incidents as stored in the ledger")
    source = DataSource(status.origin, status.note, status.fetched_at, status.age_seconds, status.faults)

    lo, hi = _bound(since, end=False), _bound(until, end=True)
    if lo is None and hi is None:
        lo, hi = _activity_span(ledger)
        if lo is None:  # an empty ledger: the last 30 days
            now = datetime.now(timezone.utc)
            lo, hi = to_iso(now - timedelta(days=30)), to_iso(now)
    now = datetime.now(timezone.utc)

    incidents = ledger_incidents(ledger, lo, hi)
    intervals: list[_Interval] = []
    relevant_n = 0
    # Failures are read with an hour of margin so a burst straddling the range edge keeps its shape.
    margin = timedelta(hours=1)
    f_lo = to_iso(parse_iso(lo) - margin) if lo else None
    f_hi = to_iso(parse_iso(hi) + margin) if hi else None
    failures = _load_failures(ledger, f_lo, f_hi)
    # Each model-scoped incident looks only at the failures inside its own span (bisected), not at
    # every failure of the period: hundreds of incidents x thousands of failures otherwise.
    by_ts = sorted(failures, key=lambda f: f.ts)
    stamps = [f.ts for f in by_ts]

    for inc in incidents:
        rel = incident_relevance(inc)
        if not rel.relevant:
            continue
        span = incident_interval(inc, now)
        if span is None:
            continue
        start, end, basis = span
        if rel.scope == "models":
            used = _session_models(ledger, start, end)
            hit = {s for s, models in used.items()
                   if families_overlap(rel.model_families, [model_family(m) for m in models])}
            inside = by_ts[bisect.bisect_left(stamps, start):bisect.bisect_right(stamps, end)]
            hit |= {f.session_id for f in inside if f.session_id
                    and f.provider == ANTHROPIC and families_overlap(rel.model_families, [model_family(f.model)])}
            if not hit:
                continue  # the user did not use that model then: not their outage
        relevant_n += 1
        raw = inc.raw or {}
        ref = IncidentRef(inc.incident_id, inc.name, inc.link, inc.impact, inc.status, inc.source, to_iso(start),
                          to_iso(end), basis, rel.scope, rel.model_families, list(inc.components or []),
                          raw.get("confidence") if isinstance(raw.get("confidence"), str) else None)
        intervals.append(_Interval(start, end, incidents=[ref]))

    for burst in detect_bursts(failures):
        if (hi and to_iso(burst.start) > hi) or (lo and to_iso(burst.end) < lo):
            continue
        intervals.append(burst)

    # Anthropic's status page speaks for Anthropic's API only: incidents merge with Anthropic's bursts,
    # never with a relay's or a cloud provider's.
    merged: list[_Interval] = []
    open_by_provider: dict[str, _Interval] = {}
    for iv in sorted(intervals, key=lambda i: (i.start, i.end)):
        cur = open_by_provider.get(iv.provider)
        if cur is not None and iv.start <= cur.end:
            cur.end = max(cur.end, iv.end)
            cur.incidents += iv.incidents
            cur.failures += iv.failures
            cur.from_logs = cur.from_logs or iv.from_logs
        else:
            cur = _Interval(iv.start, iv.end, list(iv.incidents), list(iv.failures), iv.from_logs, iv.provider)
            merged.append(cur)
            open_by_provider[iv.provider] = cur
    merged.sort(key=lambda i: (i.start, i.end))

    windows = [_describe(ledger, iv, wid) for iv, wid in zip(merged, _stable_ids(merged))]
    missing = [] if demo else incident_coverage(ledger, lo, hi)
    return OutagesReport(lo, hi, windows, source, len(incidents), relevant_n, incidents, missing)


def _describe(ledger: Ledger, iv: _Interval, window_id: str) -> OutageWindow:
    start_iso, end_iso = to_iso(iv.start), to_iso(iv.end)
    rows = ledger.rows("SELECT session_id, agent_id, is_sidechain, model, failure_class FROM failures "
                       f"WHERE ts >= ? AND ts <= ? AND {SQL_PROVIDER} = ?", (start_iso, end_iso, iv.provider))
    by_class = Counter(r["failure_class"] for r in rows)
    http_level = any(r["failure_class"] == OUTAGE for r in rows)
    # Lost connections (`network`) count beside HTTP-level outage errors or an incident, never alone.
    counted = OUTAGE_WINDOW_CLASSES if (http_level or iv.incidents) else (OUTAGE,)
    outage_rows = [r for r in rows if r["failure_class"] in counted]
    sessions_failed = sorted({r["session_id"] for r in outage_rows if r["session_id"]})
    agents_failed = sorted({r["agent_id"] for r in outage_rows if r["agent_id"] and r["is_sidechain"]})
    used = _session_models(ledger, iv.start, iv.end, iv.provider)
    sessions = set(sessions_failed)
    if iv.incidents:
        scoped = [i for i in iv.incidents if i.scope == "models"]
        if len(scoped) == len(iv.incidents):
            wanted = {f for i in scoped for f in i.model_families}
            sessions |= {s for s, models in used.items() if families_overlap(wanted, [model_family(m) for m in models])}
        else:
            sessions |= set(used)
    models = sorted({m for s in sessions for m in used.get(s, ())} |
                    {r["model"] for r in outage_rows if r["model"] and r["model"] != "<synthetic>"})
    fams = sorted({f for f in (model_family(m) for m in models) if f})
    logs = http_level and (iv.from_logs or len(outage_rows) >= BURST_MIN_FAILURES)
    confirmed = "both" if (iv.incidents and logs) else ("statuspage" if iv.incidents else "logs")
    # Your error span: every outage-class failure of this provider inside the window, each widened by the
    # retry wait Claude Code announced (the client was still inside the outage while it waited).
    logs_start = logs_end = None
    marks = ", ".join("?" for _ in counted)
    for r in ledger.rows(f"SELECT ts, retry_in_ms FROM failures WHERE failure_class IN ({marks}) AND ts >= ? "
                         f"AND ts <= ? AND {SQL_PROVIDER} = ?", (*counted, start_iso, end_iso, iv.provider)):
        ts = parse_iso(r["ts"])
        if ts is None:
            continue
        until = _retry_end(ts, r["retry_in_ms"])
        logs_start = ts if logs_start is None or ts < logs_start else logs_start
        logs_end = until if logs_end is None or until > logs_end else logs_end
    if logs_end is not None and logs_end > iv.end:
        logs_end = iv.end
    logs_start = to_iso(logs_start) if logs_start else None
    logs_end = to_iso(logs_end) if logs_end else None
    incs = sorted(iv.incidents, key=lambda i: i.start)
    return OutageWindow(
        window_id=window_id, start=start_iso, end=end_iso, confirmed_by=confirmed, provider=iv.provider,
        incident_ids=[i.incident_id for i in incs], incidents=incs,
        logs_start=logs_start, logs_end=logs_end,
        statuspage_start=min((i.start for i in incs), default=None),
        statuspage_end=max((i.end for i in incs), default=None),
        sessions=sorted(sessions), sessions_failed=sessions_failed, agents_failed=agents_failed,
        models=models, model_families=fams, failures_by_class=dict(sorted(by_class.items())),
        outage_failures=len(outage_rows), user_affected=bool(outage_rows), duration_minutes=round((iv.end - iv.start).total_seconds() / 60, 1),
    )


def find_windows(
    ledger: Ledger,
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    offline: bool = False,
    *,
    refresh: bool = False,
    sync: bool = True,
    demo: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[OutageWindow]:
    """The outage windows of the ledger, oldest first (see the module docstring for the fields)."""
    return outages_report(ledger, since, until, offline, refresh=refresh, sync=sync, demo=demo,
                          timeout=timeout).windows


def get_window(windows: Sequence[OutageWindow], key: str) -> OutageWindow | None:
    """A window by its id, or the window holding incident `key`."""
    for w in windows:
        if w.window_id == key:
            return w
    for w in windows:
        if key in w.incident_ids:
            return w
    return None


def export_payload(report: OutagesReport) -> dict[str, Any]:
    """`outages --json`: stable keys; `claimback outages import` reads the `incidents` back."""
    from dataclasses import asdict

    incidents = []
    for inc in report.incidents:
        incidents.append({
            "incident_id": inc.incident_id, "name": inc.name, "status": inc.status, "impact": inc.impact,
            "created_at": inc.created_at, "updated_at": inc.updated_at, "resolved_at": inc.resolved_at,
            "impact_start": inc.impact_start, "impact_end": inc.impact_end, "components": inc.components,
            "models": inc.models, "shortlink": inc.shortlink, "url": inc.url, "source": inc.source,
            "updates": [{"update_id": u.update_id, "status": u.status, "body": u.body,
                         "created_at": u.created_at, "display_at": u.display_at} for u in inc.updates],
        })
    return {
        "claimback": "outages", "format_version": 1, "generated_at": utc_now_iso(),
        "since": report.since, "until": report.until,
        "data_source": asdict(report.data_source),
        "incidents_considered": report.incidents_considered, "incidents_relevant": report.incidents_relevant,
        "coverage": {"missing": list(report.coverage_missing), "note": coverage_note(report.coverage_missing)},
        "windows": [dict(asdict(w), links=w.links, claimable=w.claimable, claim_to=w.claim_to,
                         incident_span=span_label(w.statuspage_start, w.statuspage_end),
                         error_span=span_label(w.logs_start, w.logs_end), spans=w.spans)
                    for w in report.windows],
        "incidents": incidents,
    }


# -- `claimback status` ------------------------------------------------------------------------------
@dataclass
class ComponentState:
    name: str
    status: str


@dataclass
class ActiveIncident:
    incident_id: str
    name: str | None
    status: str | None
    impact: str | None
    started_at: str | None
    link: str
    scope: str
    model_families: list[str]
    latest_update: str | None


@dataclass
class CurrentStatus:
    checked_at: str
    affected: bool  # an unresolved incident or a degraded component touches Claude Code now
    indicator: str | None  # Statuspage's overall indicator: none | minor | major | critical | maintenance
    description: str | None
    components: list[ComponentState]
    incidents: list[ActiveIncident]
    data_source: DataSource
    ignored: int = 0  # unresolved incidents that do not touch Claude Code
    # Claude Code's components under a scheduled maintenance now: shown, but not an incident.
    maintenance: list[str] = field(default_factory=list)


_STATUS_COMPONENTS = ("claude api", "api.anthropic.com", "claude code", "claude.ai")


def current_status(ledger: Ledger, offline: bool = False, refresh: bool = False,
                   timeout: float = DEFAULT_TIMEOUT) -> CurrentStatus:
    """Unresolved incidents that affect Claude Code now, and how old that knowledge is."""
    status = sync_status(ledger, offline=offline, refresh=refresh, timeout=timeout)
    source = DataSource(status.origin, status.note, status.fetched_at, status.age_seconds, status.faults)
    summary = status.summary if isinstance(status.summary, dict) else None
    unresolved = status.unresolved
    if unresolved is None:
        # No live or cached feed: the ledger's last word on incidents still open (possibly stale).
        unresolved = [i for i in ledger_incidents(ledger) if (i.status or "") in OPEN_STATUSES and i.source == "live"
                      and not i.resolved_at]
        if unresolved:
            source.note += " (open incidents as last seen; they may have been resolved since)"
    active, ignored = [], 0
    for inc in unresolved:
        rel = incident_relevance(inc)
        if not rel.relevant:
            ignored += 1
            continue
        latest = max(inc.updates, key=lambda u: u.created_at or "", default=None)
        active.append(ActiveIncident(inc.incident_id, inc.name, inc.status, inc.impact, inc.created_at, inc.link,
                                     rel.scope, rel.model_families, latest.body[:300] if latest else None))
    components: list[ComponentState] = []
    if summary:
        for comp in summary.get("components") or []:
            if isinstance(comp, dict) and isinstance(comp.get("name"), str) and \
                    comp["name"].lower().startswith(_STATUS_COMPONENTS):
                components.append(ComponentState(comp["name"], str(comp.get("status") or "unknown")))
    indicator = description = None
    if summary and isinstance(summary.get("status"), dict):
        indicator = summary["status"].get("indicator")
        description = summary["status"].get("description")
    # A component under_maintenance is a planned window (Statuspage moves components there while a
    # scheduled maintenance runs), never an incident affecting Claude Code.
    degraded = any(c.status not in ("operational", "unknown", "under_maintenance")
                   and not c.name.lower().startswith("claude.ai") for c in components)
    maintenance = [c.name for c in components if c.status == "under_maintenance"]
    return CurrentStatus(utc_now_iso(), bool(active) or degraded, indicator, description, components, active,
                         source, ignored, maintenance)


def status_payload(status: CurrentStatus) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(status)


def cache_age_note() -> str:
    """One line for doctor/preflight: how old the cached unresolved incidents are."""
    cached = read_cache("unresolved")
    if cached is None:
        return "no cached status-page data"
    return f"status-page cache fetched {describe_age(age_seconds(cached.fetched_at))}"


def windows_json(windows: Sequence[OutageWindow]) -> str:
    from dataclasses import asdict

    return json.dumps([asdict(w) for w in windows], indent=2)
