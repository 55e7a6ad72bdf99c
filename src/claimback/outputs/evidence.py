"""The claim packet's one data model: a versioned evidence dict built from a LossReport and ledger rows.

`report.html`, `report.md`, `evidence.json`, `evidence.csv` and `message.txt` are all rendered from the
dict `build_evidence` returns, so they cannot disagree. The dict is already redacted: renderers never see
a raw path, user name, host name or error text. Its shape is documented in docs/evidence-schema.md; any
change to a key's meaning bumps SCHEMA_VERSION.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from claimback.analysis.loss import (
    CATEGORIES,
    DOCS_529_URL,
    EXPOSURE,
    EXPOSURE_ASSUMPTION,
    NOT_CHARGED,
    NOT_CHARGED_NOTE,
    LossReport,
    WindowReport,
)
from claimback.analysis.outages import ERROR_SPAN, INCIDENT_SPAN, coverage_note, span_label
from claimback.core.provider import LABELS as PROVIDER_LABELS
from claimback.core.provider import SQL_PROVIDER
from claimback.core.times import UTC, format_iso, parse_utc, utc_now_iso
from claimback.ledger.store import Ledger, chunks, marks
from claimback.outputs.redact import Redactor

SCHEMA_VERSION = "2"
BIN_MINUTES = 10
CHART_MARGIN = timedelta(hours=2)  # context shown after a window in its timeline (cache rebuilds, re-runs)
CHART_LEAD = timedelta(minutes=40)  # the chart starts this long before your first failure
MAX_CHART_SPAN = timedelta(days=3)  # a longer window is charted from its start, so bins stay readable
CATEGORY_LABELS = {
    "killed_subagents": "Killed subagent work",
    "partial_responses": "Partial responses",
    "abandoned_turns": "Abandoned turns",
    "cache_rebuild": "Cache rebuild",
    EXPOSURE: "Failed-attempt exposure",
    NOT_CHARGED: "Overloaded (529) attempts",
}
CSV_COLUMNS = ("record", "window_id", "time_utc", "session_id", "agent_id", "request_id", "model", "status",
               "error_type", "class", "tokens", "category", "basis")
_TOTAL_SQL = "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens"


def utc_label(ts: str | None) -> str:
    return "" if not ts else parse_utc(ts).strftime("%Y-%m-%d %H:%M UTC")


def _on_local_clock(ts: str, tz: Any = None) -> datetime:
    """The moment on the user's clock (the machine's local time zone unless `tz` is given)."""
    return parse_utc(ts).astimezone(tz) if tz is not None else parse_utc(ts).astimezone()


def _zone_names(moment: datetime) -> tuple[str | None, str]:
    """(the zone's own abbreviation, or None where it has only digits or says UTC; "UTC+05:30"):
    the one rule every local-time label of the packet names its zone by."""
    offset = moment.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    name = moment.tzname() or ""
    return (name if name and not name.startswith(("UTC", "+", "-")) else None), offset


def local_label(ts: str | None, tz: Any = None) -> str:
    """The same moment on the user's clock: `2026-05-15 03:06 CEST (UTC+02:00)`, `… UTC+10:30`."""
    if not ts:
        return ""
    moment = _on_local_clock(ts, tz)
    name, offset = _zone_names(moment)
    return f"{moment:%Y-%m-%d %H:%M} {name} ({offset})" if name else f"{moment:%Y-%m-%d %H:%M} {offset}"


def local_span(start: str | None, end: str | None, tz: Any = None) -> str:
    """` (local time 2026-05-15 03:06–04:31 CEST)` after a UTC span, or nothing when the user's clock is
    UTC (no "UTC+00:00"); the end says its day when it is another."""
    if not start:
        return ""
    a = _on_local_clock(start, tz)
    if a.utcoffset() is not None and a.utcoffset().total_seconds() == 0:
        return ""
    b = parse_utc(end or start).astimezone(a.tzinfo)
    name, offset = _zone_names(a)
    day = "" if a.date() == b.date() else f"{b:%Y-%m-%d} "
    return f" (local time {a:%Y-%m-%d %H:%M}–{day}{b:%H:%M} {name or offset})"


def _timezone(now: str, tz: Any) -> dict[str, str]:
    """The user's local zone when the packet was made: the `*_local` labels are in it."""
    moment = parse_utc(now).astimezone(tz) if tz is not None else parse_utc(now).astimezone()
    offset = moment.strftime("%z") or "+0000"
    return {"name": moment.tzname() or "UTC", "utc_offset": f"{offset[:3]}:{offset[3:]}"}


def is_affected(window: WindowReport, original: Any = None) -> bool:
    """Did this window touch the user: loss in their logs, or failures there?"""
    if window.measured_tokens or window.estimated_tokens:
        return True
    flag = getattr(original, "user_affected", None)
    if flag is not None:
        return bool(flag)
    return window.confirmed_by in ("logs", "both")


def _incidents(window: WindowReport, original: Any) -> list[dict[str, Any]]:
    out = []
    refs = getattr(original, "incidents", None) or window.incidents
    for ref in refs:
        get = (lambda k, ref=ref: ref.get(k)) if isinstance(ref, dict) else (lambda k, ref=ref: getattr(ref, k, None))
        out.append({
            "id": get("incident_id") or get("id"),
            "name": get("name"),
            "url": get("link") or get("url"),
            "impact": get("impact"),
            "status": get("status"),
            "source": get("source"),
            "start": get("start"),
            "end": get("end"),
            "time_basis": get("basis"),
        })
    return out


def _figure(name: str, figure: Any) -> dict[str, Any]:
    data = {
        "category": name,
        "label": CATEGORY_LABELS[name],
        "basis": figure.basis,
        "tokens": int(figure.tokens),
        "usd": None if figure.usd is None else round(float(figure.usd), 4),
        "usd_complete": bool(getattr(figure, "usd_complete", True)),
    }
    if name == EXPOSURE:
        data["attempts"] = int(figure.attempts)
        data["assumption"] = EXPOSURE_ASSUMPTION
    elif name == NOT_CHARGED:
        data["attempts"] = int(figure.attempts)
        data["usd"] = None
        data["note"] = NOT_CHARGED_NOTE
        data["source"] = DOCS_529_URL
    else:
        data["requests"] = int(figure.requests)
        data["request_ids"] = list(figure.request_ids)
    return data


def _quota(quota: Any) -> dict[str, Any] | None:
    if quota is None:
        return None
    keys = ("basis", "share_of_week_pct", "seven_day_delta_pct", "five_hour_delta_pct", "p90_week_tokens",
            "weekly_reset_at", "reset_source", "hours_to_reset", "plan", "plan_value_usd")
    data = {k: getattr(quota, k, None) for k in keys}
    data["notes"] = list(getattr(quota, "notes", []) or [])
    return data


def _round_usd(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _failures(ledger: Ledger, window: WindowReport, redactor: Redactor) -> list[dict[str, Any]]:
    exposure = {a.failure_key: a for a in window.exposed_attempts}
    rows = ledger.rows(
        "SELECT failure_key, kind, session_id, agent_id, ts, status, error_type, error_code, request_id, message, "
        f"failure_class, model, attempt, max_attempts FROM failures WHERE ts >= ? AND ts <= ? AND {SQL_PROVIDER} = ? "
        "ORDER BY ts, failure_key", (window.start, window.end, window.provider))
    out = []
    for row in rows:
        exposed = exposure.get(row["failure_key"])
        out.append({
            "ts": row["ts"],
            "session_id": row["session_id"],
            "agent_id": row["agent_id"],
            "request_id": row["request_id"],
            "model": row["model"],
            "status": row["status"],
            "error_type": row["error_type"],
            "error_code": redactor.text(row["error_code"]),
            "class": row["failure_class"],
            "kind": row["kind"],
            "attempt": row["attempt"],
            "max_attempts": row["max_attempts"],
            "message": redactor.text(row["message"]),
            "exposure_tokens": exposed.tokens if exposed else None,
            "exposure_usd": _round_usd(exposed.usd) if exposed and exposed.charged else None,
            # 529s: Anthropic documents they do not count against the quota; never part of a claim.
            "charged": None if exposed is None else exposed.charged,
        })
    return out


def _lost(window: WindowReport) -> list[dict[str, Any]]:
    return [{
        "ts": r.ts, "request_id": r.request_id, "request_key": r.request_key, "session_id": r.session_id,
        "agent_id": r.agent_id, "model": r.model, "tokens": int(r.tokens), "usd": _round_usd(r.usd),
        "category": r.category, "basis": r.basis,
    } for r in window.lost_requests]


def _tasks(ledger: Ledger, agent_ids: Iterable[str], redactor: Redactor) -> list[dict[str, Any]]:
    agents = sorted(set(agent_ids))
    if not agents:
        return []
    rows = ledger.rows(
        "SELECT tool_use_id, session_id, agent_id, subagent_type, description, launched_ts, outcome, result_status "
        f"FROM tasks WHERE agent_id IN ({marks(agents)}) ORDER BY launched_ts, tool_use_id", tuple(agents))
    return [{
        "tool_use_id": r["tool_use_id"], "session_id": r["session_id"], "agent_id": r["agent_id"],
        "subagent_type": r["subagent_type"], "launched_at": r["launched_ts"], "outcome": r["outcome"],
        "parent_was_told": r["result_status"], "description": redactor.task_text(r["description"]),
    } for r in rows]


def _session_rows(ledger: Ledger, session_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The sessions rows of `session_ids`, read for all of a packet's windows at once (one statement per 500
    ids, not one per window)."""
    ids = sorted({s for s in session_ids if s})
    rows: dict[str, dict[str, Any]] = {}
    for chunk in chunks(ids):
        rows.update((r["session_id"], r) for r in ledger.rows(
            f"SELECT session_id, project, cwd, cc_version FROM sessions WHERE session_id IN ({marks(chunk)})",
            tuple(chunk)))
    return rows


def _sessions(ledger: Ledger, session_ids: Iterable[str], redactor: Redactor,
              known: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """`known`: `_session_rows` of (at least) these ids."""
    ids = sorted({s for s in session_ids if s})
    if not ids:
        return []
    rows = _session_rows(ledger, ids) if known is None else known
    out = []
    for sid in ids:
        row = rows.get(sid, {})
        # The project slug is the cwd with separators replaced: one label for both, from the cwd when known.
        place = row.get("cwd") or row.get("project")
        out.append({"session_id": sid, "project": redactor.project(place),
                    "claude_code_version": row.get("cc_version")})
    return out


def _floor(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % BIN_MINUTES, second=0, microsecond=0)


def _chart_span(window: WindowReport) -> tuple[datetime, datetime]:
    """The [lo, hi) a window's timeline charts, on bin boundaries."""
    start, end = parse_utc(window.start), parse_utc(window.end)
    # Start shortly before the first failure in your logs: hours of an incident's span before you were
    # hit would squeeze what matters into the chart's right edge.
    first = parse_utc(window.logs_start) if window.logs_start else start
    lo = _floor(first - CHART_LEAD)
    hi = _floor(min(end, first + MAX_CHART_SPAN) + CHART_MARGIN) + timedelta(minutes=BIN_MINUTES)
    return lo, hi


# One bin's rows: those of its 15-character prefix inside its span (one seek in requests_hour, by the
# hour prefix and ts), counted and summed in one pass (a scalar subquery returns one value: both as text).
_BIN_SQL = ("SELECT bin.p, (SELECT CAST(COUNT(*) AS TEXT) || ' ' || CAST(COALESCE(SUM({total}), 0) AS TEXT) "
            "FROM requests WHERE SUBSTR(ts, 1, 13) = SUBSTR(bin.p, 1, 13) AND ts >= bin.a AND ts < bin.z) "
            "FROM bin")
_BIN_CHUNK = 300  # bins per statement (3 parameters each)


def _stretches(spans: Sequence[tuple[datetime, datetime]]) -> list[list[datetime]]:
    """`spans` sorted, with overlapping ones merged into one [from, to] stretch."""
    merged: list[list[datetime]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def _request_bins(ledger: Ledger, spans: Sequence[tuple[datetime, datetime]]) -> dict[str, tuple[int, int]]:
    """(requests, tokens) of every ten-minute bin with requests in any of `spans`, keyed by the bin's
    15-character prefix (YYYY-MM-DDTHH:M; bins start on a multiple of ten minutes). Summed in SQL, in the
    covering index `requests_hour` (hour prefix, ts, token counts: migration 126), once per stretch of
    overlapping spans: the windows' charts overlap, and summing each chart's three days apart read the
    same index rows again for every window (7 M of them for 271 windows at 5 GB). Each bin is its own
    seek: one statement grouping a stretch by prefix sorted all its rows first (its GROUP BY is not the
    index's order), 0.3 s of a 5 GB packet whose charts cover every day. The bins are those of the
    canonical times the ledger holds (`YYYY-MM-DDTHH:MM:SS.mmmZ`)."""
    merged = _stretches(spans)
    step = timedelta(minutes=BIN_MINUTES)
    wanted: list[tuple[str, str, str]] = []  # (prefix, from, to): the bin's rows inside its stretch
    for lo, hi in merged:
        lo_iso, hi_iso = format_iso(lo), format_iso(hi)
        at = _floor(lo)
        while at < hi:
            prefix = format_iso(at)[:15]
            # P <= ts < P' (P with its last character the next one) is exactly "ts starts with P"
            after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            wanted.append((prefix, max(prefix, lo_iso), min(after, hi_iso)))
            at += step
    bins: dict[str, tuple[int, int]] = {}
    statement = _BIN_SQL.format(total=_TOTAL_SQL)
    for i in range(0, len(wanted), _BIN_CHUNK):
        chunk = wanted[i:i + _BIN_CHUNK]
        values = ", ".join("(?, ?, ?)" for _ in chunk)
        for prefix, counted in ledger.execute(f"WITH bin(p, a, z) AS (VALUES {values}) " + statement,
                                              [v for piece in chunk for v in piece]).fetchall():
            n, tokens = str(counted).split()
            if int(n):
                bins[prefix] = (int(n), int(tokens))
    return bins


def _failure_rows(ledger: Ledger, spans: Sequence[tuple[datetime, datetime]]) -> list[tuple[str, str]]:
    """(ts, failure_class) of the failures a chart counts (every kind but an interrupt) in any of `spans`,
    in ts order: read once per stretch of overlapping spans, not once per window's chart."""
    merged = _stretches(spans)
    out: list[tuple[str, str]] = []
    for lo, hi in merged:
        out += [(r["ts"], r["failure_class"]) for r in ledger.rows(
            "SELECT ts, failure_class FROM failures WHERE ts >= ? AND ts < ? AND kind <> ? ORDER BY ts",
            (format_iso(lo), format_iso(hi), "interrupt"))]
    return out


def _timeline(ledger: Ledger, window: WindowReport, all_windows: Sequence[dict[str, Any]],
              request_bins: dict[str, tuple[int, int]],
              failure_rows: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """`request_bins`: `_request_bins` over (at least) this window's chart span; `failure_rows`:
    `_failure_rows` over (at least) it, or None to read this chart's own."""
    lo, hi = _chart_span(window)
    step = timedelta(minutes=BIN_MINUTES)
    count = int((hi - lo) / step)
    # lo is whole UTC seconds (a multiple of BIN_MINUTES): isoformat is format_iso's text, ~5x faster
    # (a 3-day chart has 450 bins).
    naive_lo = lo.astimezone(UTC).replace(tzinfo=None)
    bins = [{"start": (naive_lo + i * step).isoformat(timespec="milliseconds") + "Z", "tokens": 0, "requests": 0,
             "failures": 0, "outage_failures": 0} for i in range(count)]

    def index(ts: str) -> int | None:
        i = int((parse_utc(ts) - lo) / step)
        return i if 0 <= i < count else None

    # A bin's rows are those of its 15-character prefix: ledger times are normalised ISO text, so a
    # row of a bin inside [lo, hi) lies inside [lo, hi).
    for entry in bins:
        counted = request_bins.get(entry["start"][:15])
        if counted is not None:
            entry["requests"], entry["tokens"] = counted
    lo_iso, hi_iso = format_iso(lo), format_iso(hi)
    if failure_rows is None:
        failures = [(r["ts"], r["failure_class"]) for r in ledger.rows(
            "SELECT ts, failure_class FROM failures WHERE ts >= ? AND ts < ? AND kind <> ?",
            (lo_iso, hi_iso, "interrupt"))]
    else:  # the rows of [lo_iso, hi_iso), as the statement above compares them (text, code point order)
        from bisect import bisect_left

        failures = failure_rows[bisect_left(failure_rows, (lo_iso,)):bisect_left(failure_rows, (hi_iso,))]
    for ts, failure_class in failures:
        i = index(ts)
        if i is not None:
            bins[i]["failures"] += 1
            if failure_class == "outage":
                bins[i]["outage_failures"] += 1
    quota = [{"ts": r["ts"], "seven_day_pct": r["seven_day_pct"], "five_hour_pct": r["five_hour_pct"]}
             for r in ledger.rows("SELECT ts, seven_day_pct, five_hour_pct FROM quota_snapshots WHERE ts >= ? "
                                  "AND ts < ? ORDER BY ts", (lo_iso, hi_iso))]
    bands = [{"window_id": w["id"], "start": w["start"], "end": w["end"],
              "label": ", ".join(filter(None, (f"{i['id']} {i['name'] or ''}".strip() for i in w["incidents"])))
              or "errors in your logs"}
             for w in all_windows if w["start"] < hi_iso and w["end"] > lo_iso]
    return {"bin_minutes": BIN_MINUTES, "start": lo_iso, "end": hi_iso, "bins": bins, "quota": quota,
            "bands": bands}


def build_evidence(ledger: Ledger, report: LossReport, *, originals: dict[str, Any] | None = None,
                   redactor: Redactor | None = None, since: str | None = None, until: str | None = None,
                   demo: bool = False, selected: str | None = None, generated_at: str | None = None,
                   tz: Any = None, coverage: dict[str, Any] | None = None) -> dict[str, Any]:
    """The packet's evidence. `originals` maps window id → the outage window object (for log/status times);
    `selected` is the window the user asked for (kept even if it touched none of their sessions)."""
    from claimback import __version__

    originals = originals or {}
    redactor = redactor or Redactor()
    now = generated_at or utc_now_iso()
    affected, unaffected, not_claimable = [], [], []
    for window in report.windows:
        original = originals.get(window.id)
        base = {"id": window.id, "start": window.start, "end": window.end, "confirmed_by": window.confirmed_by,
                "provider": window.provider, "provider_label": PROVIDER_LABELS.get(window.provider, window.provider),
                "claimable": window.claimable, "claim_to": window.claim_to,
                "incident_span": span_label(window.statuspage_start, window.statuspage_end),
                "error_span": span_label(window.logs_start, window.logs_end), "spans": window.spans,
                "incidents": _incidents(window, original)}
        if not window.claimable:
            # Not Anthropic's: reported apart, with where such a claim goes; never in the claim's totals.
            if is_affected(window, original) or window.id == selected:
                not_claimable.append({**base, "headline": window.headline,
                                      "measured_tokens": int(window.measured_tokens),
                                      "estimated_tokens": int(window.estimated_tokens),
                                      "outage_failures": int(getattr(original, "outage_failures", 0) or 0)})
        elif is_affected(window, original) or window.id == selected:
            affected.append((window, original, base))
        else:
            unaffected.append(base)

    bands_source = [b for _, _, b in affected] + unaffected
    spans = [_chart_span(window) for window, _, _ in affected]
    request_bins = _request_bins(ledger, spans)
    failure_rows = _failure_rows(ledger, spans)
    rows = [(_failures(ledger, window, redactor), _lost(window)) for window, _, _ in affected]
    known_sessions = _session_rows(ledger, (r["session_id"] for failures, lost in rows for r in (*failures, *lost)))
    windows = []
    for (window, original, base), (failures, lost) in zip(affected, rows, strict=True):
        killed_agents = [r["agent_id"] for r in lost if r["category"] == "killed_subagents" and r["agent_id"]]
        session_ids = [f["session_id"] for f in failures] + [r["session_id"] for r in lost]
        outage_failures = [f for f in failures if f["class"] == "outage"]
        statuses = sorted({f["status"] for f in outage_failures if f["status"] is not None})
        windows.append({
            **base,
            "start_local": local_label(window.start, tz),
            "end_local": local_label(window.end, tz),
            "duration_minutes": round((parse_utc(window.end) - parse_utc(window.start)).total_seconds() / 60, 1),
            "logs_start": window.logs_start,
            "logs_end": window.logs_end,
            "statuspage_start": window.statuspage_start,
            "statuspage_end": window.statuspage_end,
            "headline": window.headline,
            "loss": {name: _figure(name, window.loss[name]) for name in (*CATEGORIES, EXPOSURE, NOT_CHARGED)},
            "resent_same_session": list(window.resent_same_session),
            "measured_tokens": int(window.measured_tokens),
            "estimated_tokens": int(window.estimated_tokens),
            "usd_measured": _round_usd(window.usd_measured),
            "usd_estimated": _round_usd(window.usd_estimated),
            "unpriced_models": list(window.unpriced_models),
            "scope_total_tokens": int(window.scope_total_tokens),
            # measured, unattributed (docs/methodology.md): beside the loss, never in its figures
            "unattributed": dict(window.unattributed) if window.unattributed else None,
            "quota": _quota(window.quota),
            "failure_counts": {
                "total": len(failures), "outage": len(outage_failures),
                # lost connections (reset, timed out) in a window are outage loss too (core/classify.py):
                # the message names them beside the API's errors, or a claim of partial responses they
                # cut would rest on "0 failed requests"
                "network": sum(1 for f in failures if f["class"] == "network"),
                "retries": sum(1 for f in outage_failures if f["kind"] == "retry"),
                "final": sum(1 for f in outage_failures if f["kind"] == "final"),
                "not_charged": sum(1 for f in outage_failures if f["charged"] is False),
                "statuses": statuses,
            },
            "failures": failures,
            "lost_requests": lost,
            "killed_tasks": _tasks(ledger, killed_agents, redactor),
            "sessions": _sessions(ledger, session_ids, redactor, known_sessions),
            "by_session": [{"session_id": b.key, "measured_tokens": b.measured_tokens,
                            "estimated_tokens": b.estimated_tokens} for b in window.by_session],
            "by_model": [{"model": b.key, "measured_tokens": b.measured_tokens,
                          "estimated_tokens": b.estimated_tokens} for b in window.by_model],
            "timeline": _timeline(ledger, window, bands_source, request_bins, failure_rows),
        })

    usd_measured: float | None = sum(w["usd_measured"] or 0.0 for w in windows)
    if any(w["usd_measured"] is None for w in windows):
        usd_measured = None
    totals = {
        "windows": len(windows),
        "measured_tokens": sum(w["measured_tokens"] for w in windows),
        "estimated_tokens": sum(w["estimated_tokens"] for w in windows),
        "usd_measured": None if usd_measured is None else round(usd_measured, 4),
        "usd_estimated": round(sum(w["usd_estimated"] or 0.0 for w in windows), 4),
        "failures": sum(len(w["failures"]) for w in windows),
        "outage_failures": sum(w["failure_counts"]["outage"] for w in windows),
        "network_failures": sum(w["failure_counts"]["network"] for w in windows),
        "lost_requests": sum(len(w["lost_requests"]) for w in windows),
        "killed_tasks": sum(len(w["killed_tasks"]) for w in windows),
        "not_charged_attempts": sum(w["loss"][NOT_CHARGED]["attempts"] for w in windows),
    }
    notes = list(report.notes)
    if not windows and getattr(report, "coverage_missing", None):
        pass  # the coverage note already says what is (not) known
    elif not windows and not not_claimable:
        notes.append("No outage touched your Claude Code sessions in this period: there is no loss to claim.")
    elif not windows:
        notes.append("No Anthropic API outage touched your sessions in this period: the failures in your logs "
                     "came through another provider, so there is nothing to claim with Anthropic.")
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "claimback", "version": __version__, "generated_at": now},
        "demo": demo,
        "period": {"since": since, "until": until},
        "timezone": _timezone(now, tz),
        "redaction": {
            "paths": "included" if redactor.include_paths else "hashed",
            "task_text": "included" if redactor.include_text else "omitted",
            "prompts_and_responses": "never stored",
            "secrets": "scrubbed; every file scanned before the manifest is written",
        },
        "pricing": report.pricing,
        "outage_found": bool(windows),
        "totals": totals,
        "windows": windows,
        "not_claimable": not_claimable,
        "other_windows": unaffected,
        "span_names": {"incident": INCIDENT_SPAN, "errors": ERROR_SPAN,
                       "incident_title": INCIDENT_SPAN[0].upper() + INCIDENT_SPAN[1:],
                       "errors_title": ERROR_SPAN[0].upper() + ERROR_SPAN[1:]},
        # Months of the period the official incident data does not cover (bundled archive and live feed).
        "coverage": coverage or {"missing": list(getattr(report, "coverage_missing", []) or []),
                                 "note": coverage_note(getattr(report, "coverage_missing", []) or [])},
        "sources": {"529_not_charged": DOCS_529_URL},
        "notes": notes,
    }


def csv_rows(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per failure and per lost request, in time order within each window."""
    rows: list[dict[str, Any]] = []
    for window in evidence["windows"]:
        items: list[tuple[str, int, dict[str, Any]]] = []
        for f in window["failures"]:
            exposed = f["exposure_tokens"] is not None
            charged = f["charged"] is not False
            items.append((f["ts"], 0, {
                "record": "failure", "window_id": window["id"], "time_utc": f["ts"], "session_id": f["session_id"],
                "agent_id": f["agent_id"], "request_id": f["request_id"], "model": f["model"],
                "status": f["status"], "error_type": f["error_type"], "class": f["class"],
                "tokens": f["exposure_tokens"] if exposed else None,
                "category": (EXPOSURE if charged else NOT_CHARGED) if exposed else None,
                "basis": ("estimated" if charged else "not charged") if exposed else None,
            }))
        for r in window["lost_requests"]:
            items.append((r["ts"], 1, {
                "record": "lost_request", "window_id": window["id"], "time_utc": r["ts"],
                "session_id": r["session_id"], "agent_id": r["agent_id"], "request_id": r["request_id"] or r["request_key"],
                "model": r["model"], "status": None, "error_type": None, "class": None, "tokens": r["tokens"],
                "category": r["category"], "basis": r["basis"],
            }))
        rows += [item for _, _, item in sorted(items, key=lambda t: (t[0], t[1]))]
    return rows
