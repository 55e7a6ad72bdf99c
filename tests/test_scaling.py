"""Analysis that reads shared rows once per report (issue 17) must give exactly the per-window answers."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from claimback.analysis.loss import ReportRows, attribute_window
from claimback.analysis.quota import TokenHistory, p90_week_tokens
from claimback.core.times import format_iso, parse_utc
from claimback.demo import build_demo
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.ledger.store import Ledger


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    root = tmp_path_factory.mktemp("scaling")
    demo = build_demo(root / "demo")
    ledger = open_ledger(root / "ledger.sqlite3")
    ingest(ledger, [demo.projects_dir], machine="m")
    yield ledger
    ledger.close()


def _direct(ledger: Ledger, lo: str, hi: str) -> int:
    return int(ledger.scalar(
        "SELECT COALESCE(SUM(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0) "
        "FROM requests WHERE ts >= ? AND ts < ?", (lo, hi)))


def test_hourly_history_sums_equal_range_scans(demo_ledger: Ledger) -> None:
    first, last = demo_ledger.execute("SELECT MIN(ts), MAX(ts) FROM requests").fetchone()
    history = TokenHistory(demo_ledger)
    # Every request's own timestamp (a boundary on a row), whole hours, and random instants around them.
    stamps = [r[0] for r in demo_ledger.execute("SELECT ts FROM requests ORDER BY ts LIMIT 40").fetchall()]
    stamps += [first[:13] + ":00:00.000Z", last[:13] + ":00:00.000Z", "2000-01-01T00:00:00.000Z",
               "2100-01-01T00:00:00.000Z", first, last]
    rng = random.Random(17)
    lo_s, hi_s = parse_utc(first).timestamp() - 7200, parse_utc(last).timestamp() + 7200
    from datetime import datetime, timezone
    for _ in range(60):
        moment = datetime.fromtimestamp(rng.uniform(lo_s, hi_s), timezone.utc)
        stamps.append(moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z")
    assert _direct(demo_ledger, first, last) > 0
    for _ in range(200):
        lo, hi = sorted(rng.sample(stamps, 2))
        assert history.tokens_between(lo, hi) == _direct(demo_ledger, lo, hi), (lo, hi)


def test_p90_week_with_a_shared_history_equals_the_range_scans(demo_ledger: Ledger) -> None:
    from datetime import timedelta

    last = parse_utc(demo_ledger.scalar("SELECT MAX(ts) FROM requests"))
    history = TokenHistory(demo_ledger)
    for days in (0, 3, 9, 20):
        before = last - timedelta(days=days, minutes=37)
        weeks = []
        for k in range(1, 9):
            lo = (before - timedelta(days=7 * k)).replace(microsecond=0)
            hi = (before - timedelta(days=7 * (k - 1))).replace(microsecond=0)
            total = _direct(demo_ledger, lo.strftime("%Y-%m-%dT%H:%M:%S.000Z"), hi.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            if total:
                weeks.append(total)
        expected = None
        if len(weeks) >= 2:
            weeks.sort()
            expected = weeks[min(len(weeks) - 1, max(0, round(0.9 * (len(weeks) - 1))))]
        assert p90_week_tokens(demo_ledger, before, history) == expected


@dataclass
class _Window:
    id: str
    start: str
    end: str


def test_report_rows_shared_by_windows_give_the_per_window_loss(demo_ledger: Ledger) -> None:
    rows = demo_ledger.execute("SELECT ts FROM failures WHERE failure_class = 'outage' ORDER BY ts").fetchall()
    assert rows, "the demo has outage failures"
    first, last = rows[0][0], rows[-1][0]
    windows = [_Window("all", first, last), _Window("early", first, first), _Window("late", last, last)]
    shared = ReportRows(demo_ledger)
    for window in windows:
        alone = attribute_window(demo_ledger, window)
        together = attribute_window(demo_ledger, window, shared=shared)
        assert together == alone
    assert attribute_window(demo_ledger, windows[0]).measured_tokens > 0


def test_daily_totals_from_the_hourly_history_equal_the_grouped_scan(demo_ledger: Ledger) -> None:
    from datetime import date, timedelta

    from claimback.audit import usage_by_day
    from claimback.workspace import Workspace

    ws = Workspace(demo_ledger, [], None)
    first, last = (date.fromisoformat(v[:10]) for v in
                   demo_ledger.execute("SELECT MIN(ts), MAX(ts) FROM requests").fetchone())
    history = TokenHistory(demo_ledger)
    history.tokens_before("2000-01-01T00:00:00.000Z")  # loaded, as after a report's P90 weeks
    assert history.loaded
    ranges = [(first, last), (first + timedelta(days=1), last - timedelta(days=1)), (last, last),
              (first - timedelta(days=30), first - timedelta(days=1)), (first, first)]
    for since, until in ranges:
        from_hours = usage_by_day(ws, since, until, history)
        scanned = usage_by_day(ws, since, until)
        assert from_hours == scanned, (since, until)
    assert any(day.requests for day in usage_by_day(ws, first, last, history))


def test_the_hourly_scan_reads_the_hour_index_not_a_sort(demo_ledger: Ledger) -> None:
    # Migration 95: the grouped scan walks requests_hour in order and reads nothing else.
    from claimback.analysis.quota import HOURLY_SQL

    plan = " ".join(str(row[-1]) for row in demo_ledger.execute("EXPLAIN QUERY PLAN " + HOURLY_SQL))
    assert "COVERING INDEX requests_hour" in plan and "TEMP B-TREE" not in plan, plan


def test_a_windows_scope_pieces_read_the_session_index_not_the_table(demo_ledger: Ledger) -> None:
    # Migration 110: requests_session holds provider and the token counts beside (session_id, ts).
    from claimback.analysis.scope import piece_sql

    for lower, upper in ((">=", "<="), (">", "<")):
        plan = " ".join(str(row[-1]) for row in demo_ledger.execute(
            "EXPLAIN QUERY PLAN " + piece_sql(2, lower, upper),
            ("a", "2026-01-01", "2026-02-01", "anthropic", "b", "2026-01-01", "2026-02-01", "anthropic")))
        assert "COVERING INDEX requests_session" in plan, plan


def _scope_by_itself(ledger: Ledger, sessions: list[str], lo: str, hi: str, provider: str) -> int:
    """A scope's total as one statement over its own rows: what the merged pieces must give."""
    from claimback.core.provider import SQL_PROVIDER

    if not sessions:
        return 0
    marks = ", ".join("?" for _ in sessions)
    return int(ledger.scalar(
        "SELECT COALESCE(SUM(input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens), 0) "
        f"FROM requests WHERE session_id IN ({marks}) AND ts >= ? AND ts <= ? AND {SQL_PROVIDER} = ?",
        (*sessions, lo, hi, provider)))


def test_scope_totals_summed_once_for_all_windows_equal_each_scopes_own_sum(ledger_db: str, tmp_path: Path) -> None:
    # analysis/scope.py cuts each session's time line at every scope's bounds and sums each piece once;
    # each scope's total must be what its own statement gives: overlapping, nested, disjoint, identical
    # and one-instant scopes, bounds on a row's own timestamp (inclusive at both ends), an empty range,
    # sessions with no rows, and rows of other providers (and a NULL provider, read as Anthropic).
    from claimback.analysis.scope import Scope, scope_totals

    ledger = open_ledger(ledger_db)
    try:
        ingest(ledger, [build_demo(tmp_path / "demo").projects_dir], machine="m")
        keys = [r[0] for r in ledger.execute("SELECT request_key FROM requests ORDER BY ts").fetchall()]
        with ledger.transaction():
            for i, key in enumerate(keys):
                if i % 7 == 3:
                    ledger.execute("UPDATE requests SET provider = 'bedrock' WHERE request_key = ?", (key,))
                elif i % 11 == 5:
                    ledger.execute("UPDATE requests SET provider = NULL WHERE request_key = ?", (key,))
        rows = ledger.execute("SELECT session_id, ts FROM requests ORDER BY ts").fetchall()
        sessions = sorted({r[0] for r in rows}) + ["no-such-session"]
        stamps = [r[1] for r in rows]
        rng = random.Random(160)
        scopes: list[Scope] = []
        for _ in range(80):
            i, j = sorted(rng.sample(range(len(rows)), 2))
            if rng.random() < 0.15:
                j = i  # one instant: the rows at exactly that time
            lo, hi = stamps[i], stamps[j]
            chosen = rng.sample(sessions, rng.randint(0, min(3, len(sessions))))
            if rng.random() < 0.8:
                chosen.append(rows[rng.randint(i, j)][0])  # mostly a session with rows inside
            scopes.append(Scope(chosen, lo, hi, rng.choice(["anthropic", "anthropic", "bedrock", "vertex"])))
        first, last = stamps[0], stamps[-1]
        scopes += [Scope(sessions, first, last, "anthropic"), Scope(sessions, first, last, "anthropic"),
                   Scope(sessions[:1], first, last, "bedrock"), Scope(sessions, last, first, "anthropic"),
                   Scope([], first, last, "anthropic")]
        expected = [_scope_by_itself(ledger, list(s.sessions), s.lo, s.hi, s.provider) for s in scopes]
        assert scope_totals(ledger, scopes) == expected
        assert sum(1 for total in expected if total) > 40
        assert any(total for s, total in zip(scopes, expected) if s.provider == "bedrock")
        # One scope at a time gives the same (the single-window path of attribute_window).
        assert [scope_totals(ledger, [s])[0] for s in scopes[:20]] == expected[:20]
    finally:
        ledger.close()


def _read_everything() -> type:
    """The oracle: a window's data read as the attribution read it before, every row of every session
    around the window up to 12 h after it, and every main-thread prompt in that span."""
    from claimback.analysis import loss as loss_module
    from claimback.core.provider import SQL_PROVIDER
    from claimback.core.times import format_iso

    class ReadEverything(loss_module._WindowData):  # type: ignore[misc, valid-type]
        def __init__(self, ledger: Ledger, window, shared=None, scope=None) -> None:
            super().__init__(ledger, window, shared, scope)
            lo = format_iso(parse_utc(window.start) - loss_module.ACTIVE_BEFORE - loss_module.CACHE_TTL_1H)
            hi = format_iso(parse_utc(window.end) + loss_module.AFTER_WINDOW)
            marks = ", ".join("?" for _ in self.sessions) or "NULL"
            provider = getattr(window, "provider", None) or "anthropic"
            self.requests = ledger.rows(
                f"SELECT {loss_module._REQUEST_COLUMNS} FROM requests WHERE session_id IN ({marks}) AND ts >= ? "
                f"AND ts <= ? AND {SQL_PROVIDER} = ? ORDER BY ts", (*self.sessions, lo, hi, provider))
            self.scope_total = sum(loss_module._tokens(r) for r in self.requests)
            self.prompts = ledger.rows(
                "SELECT prompt_key, session_id, ts, text_hash, text_len FROM prompts WHERE is_sidechain = 0 "
                "AND ts >= ? AND ts <= ? ORDER BY ts", (lo, hi))

        def first_after(self, session_id, agent_id):  # from the rows read, not a seek
            return next((r for r in self.requests if r["session_id"] == session_id and r["agent_id"] == agent_id
                         and r["ts"] > self.end), None)

        def turns_going_on(self, turns):  # the rows read reach 12 h past the window: attribute_window sees them
            return set()

        def turn_rows_elsewhere(self, turns):  # every session's rows are read already
            return []

    return ReadEverything


def test_window_rows_read_only_up_to_the_end_give_the_loss_of_reading_12_hours_after(
        demo_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    from claimback.analysis import loss as loss_module
    from claimback.analysis.outages import find_windows

    ReadEverything = _read_everything()

    rows = demo_ledger.execute("SELECT ts FROM failures WHERE failure_class = 'outage' ORDER BY ts").fetchall()
    first, last = rows[0][0], rows[-1][0]
    windows = [*find_windows(demo_ledger, offline=True, demo=True), _Window("all", first, last),
               _Window("early", first, first), _Window("late", last, last)]
    ours = [attribute_window(demo_ledger, w) for w in windows]
    monkeypatch.setattr(loss_module, "_WindowData", ReadEverything)
    oracle = [attribute_window(demo_ledger, w) for w in windows]
    assert ours == oracle
    lost = {r.category for w in ours for r in w.lost_requests}
    assert {"killed_subagents", "abandoned_turns", "cache_rebuild"} <= lost, lost
    assert any(w.scope_total_tokens for w in ours)


def test_an_abandoned_turns_row_in_a_session_the_outage_did_not_hit_is_still_counted(
        demo_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rows an ended turn owns outside the hit sessions are read only for a re-sent turn
    # (_WindowData.turn_rows_elsewhere): one of a demo turn's rows moved to a session of its own, which
    # is then active around the window but hit by nothing, is still abandoned-turn loss, as the oracle says.
    from claimback.analysis import loss as loss_module
    from claimback.analysis.outages import find_windows

    copy_path = tmp_path / "moved.sqlite3"
    with sqlite3.connect(copy_path) as target:
        demo_ledger.conn.backup(target)
    ledger = open_ledger(copy_path)
    try:
        moved = None
        for window in find_windows(ledger, offline=True, demo=True):
            floor = format_iso(parse_utc(window.start) - loss_module.ACTIVE_BEFORE)
            rows = [r for r in attribute_window(ledger, window).lost_requests
                    if r.category == "abandoned_turns" and r.ts >= floor]
            if rows:
                moved = (window, rows[0].request_key)
                break
        assert moved is not None, "the demo has an abandoned turn inside its window"
        window, key = moved
        with ledger.transaction():
            ledger.execute("UPDATE requests SET session_id = 'moved-session' WHERE request_key = ?", (key,))
        ours = attribute_window(ledger, window)
        monkeypatch.setattr(loss_module, "_WindowData", _read_everything())
        assert ours == attribute_window(ledger, window)
        assert any(r.request_key == key and r.session_id == "moved-session" and r.category == "abandoned_turns"
                   for r in ours.lost_requests)
    finally:
        ledger.close()


@dataclass
class _ChartedWindow:
    start: str
    end: str
    logs_start: str | None


def test_timelines_from_bins_summed_once_equal_each_charts_own_scan(demo_ledger: Ledger) -> None:
    # The packet sums the requests of every ten-minute bin once over the windows' charts merged
    # (outputs/evidence.py _request_bins); each chart must show what a scan of its own span gives.
    ts = [r[0] for r in demo_ledger.execute("SELECT ts FROM requests ORDER BY ts").fetchall()]
    rng = random.Random(7)
    drawn = []
    for _ in range(12):  # overlapping, nested, disjoint and one-instant windows, some without a log start
        a, b = sorted(rng.sample(ts, 2))
        drawn.append(_ChartedWindow(a, b if rng.random() < 0.8 else a, a if rng.random() < 0.7 else None))
    # A long chart with a short one inside it and nothing after: the merged stretch must keep its end.
    inner = next(t for t in ts if parse_utc(t) >= parse_utc(ts[0]) + timedelta(hours=3))
    nested = [_ChartedWindow(ts[0], ts[-1], ts[0]), _ChartedWindow(inner, inner, inner)]
    charted = 0
    for windows in (drawn, nested):
        charted += _charts_equal_their_own_scans(demo_ledger, windows)
    assert charted > 0


def _charts_equal_their_own_scans(demo_ledger: Ledger, windows: list[_ChartedWindow]) -> int:
    from claimback.outputs.evidence import _chart_span, _failure_rows, _request_bins, _timeline

    bins = _request_bins(demo_ledger, [_chart_span(w) for w in windows])
    # the failures too are read once over the charts merged: each chart counts what its own span holds
    failures = _failure_rows(demo_ledger, [_chart_span(w) for w in windows])
    charted = 0
    for window in windows:
        lo, hi = (format_iso(t) for t in _chart_span(window))
        timeline = _timeline(demo_ledger, window, [], bins, failures)
        assert timeline == _timeline(demo_ledger, window, [], bins)
        assert sum(e["failures"] for e in timeline["bins"]) == demo_ledger.scalar(
            "SELECT COUNT(*) FROM failures WHERE ts >= ? AND ts < ? AND kind <> 'interrupt'", (lo, hi))
        for entry in timeline["bins"]:
            end = format_iso(parse_utc(entry["start"]) + timedelta(minutes=timeline["bin_minutes"]))
            n = demo_ledger.scalar("SELECT COUNT(*) FROM requests WHERE ts >= ? AND ts < ?", (entry["start"], end))
            assert (entry["requests"], entry["tokens"]) == (n, _direct(demo_ledger, entry["start"], end))
            charted += n
        assert sum(e["requests"] for e in timeline["bins"]) == demo_ledger.scalar(
            "SELECT COUNT(*) FROM requests WHERE ts >= ? AND ts < ?", (lo, hi))
    return charted


def test_request_bins_seek_by_bin_equal_a_grouped_scan_by_prefix(ledger_db: str, tmp_path: Path) -> None:
    # _request_bins seeks each ten-minute bin on its own (a statement grouping a stretch by prefix sorted
    # all its rows); on either engine it must give the grouped scan's (requests, tokens) per prefix, for
    # spans on and off bin boundaries, overlapping, nested and disjoint.
    from datetime import datetime, timezone

    from claimback.outputs.evidence import _request_bins

    ledger = open_ledger(ledger_db)
    try:
        ingest(ledger, [build_demo(tmp_path / "demo").projects_dir], machine="m")
        ts = [r[0] for r in ledger.execute("SELECT ts FROM requests ORDER BY ts").fetchall()]
        rng = random.Random(161)
        first, last = parse_utc(ts[0]).timestamp(), parse_utc(ts[-1]).timestamp()
        spans = []
        for _ in range(10):
            a, b = sorted(rng.uniform(first - 3600, last + 3600) for _ in range(2))
            spans.append((datetime.fromtimestamp(a, timezone.utc), datetime.fromtimestamp(b, timezone.utc)))
        spans += [(parse_utc(ts[0]), parse_utc(ts[-1])), (parse_utc(ts[3]), parse_utc(ts[3]) + timedelta(minutes=1))]
        merged: list[list] = []
        for lo, hi in sorted(spans):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        expected: dict[str, tuple[int, int]] = {}
        for lo, hi in merged:
            for prefix, n, tokens in ledger.execute(
                    "SELECT SUBSTR(ts, 1, 15), COUNT(*), SUM(input_tokens + output_tokens + cache_creation_tokens "
                    "+ cache_read_tokens) FROM requests WHERE ts >= ? AND ts < ? GROUP BY SUBSTR(ts, 1, 15)",
                    (format_iso(lo), format_iso(hi))).fetchall():
                expected[prefix] = (int(n), int(tokens or 0))
        assert len(expected) > 10
        assert _request_bins(ledger, spans) == expected
    finally:
        ledger.close()
