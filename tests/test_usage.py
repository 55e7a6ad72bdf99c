"""`claimback usage daily|session|blocks`: grouping by local day, ranges, 5-hour blocks, cost modes, CLI."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from claimback.analysis.pricing import PricingTable
from claimback.analysis.usage import block_usage, daily_usage, session_usage, to_ccusage_json
from claimback.cli import main
from claimback.errors import BadInput
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from statuspage_payloads import write_open_incident_cache

SID_A = "aaaaaaaa-0000-4000-8000-000000000001"
SID_B = "bbbbbbbb-0000-4000-8000-000000000002"
_n = iter(range(10**6))


def request(ts: str, inp: int, out: int, *, sid: str = SID_A, model: str = "claude-sonnet-4-5-20250929",
            cost: float | None = None, cw: int = 0, cw1h: int = 0, cr: int = 0, speed: str | None = None) -> str:
    k = next(_n)
    usage: dict[str, Any] = {"input_tokens": inp, "cache_creation_input_tokens": cw, "cache_read_input_tokens": cr,
                             "cache_creation": {"ephemeral_5m_input_tokens": cw - cw1h,
                                                "ephemeral_1h_input_tokens": cw1h},
                             "output_tokens": out}
    if speed:
        usage["speed"] = speed
    rec: dict[str, Any] = {"type": "assistant", "sessionId": sid, "isSidechain": False, "timestamp": ts,
                           "uuid": f"u{k}", "requestId": f"req_{k:06d}",
                           "message": {"id": f"msg_{k:06d}", "role": "assistant", "model": model,
                                       "content": [{"type": "text", "text": "ok"}], "usage": usage}}
    if cost is not None:
        rec["costUSD"] = cost
    return json.dumps(rec, separators=(",", ":"))


def write(root: Path, sid: str, lines: list[str]) -> Path:
    path = root / "projects" / "-home-u-app" / f"{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return root / "projects"


@pytest.fixture
def ledger(tmp_path: Path):
    db = open_ledger(tmp_path / "ledger.sqlite3")
    yield db
    db.close()


def load(ledger, tmp_path: Path, by_session: dict[str, list[str]]) -> None:
    root = tmp_path / "claude"
    for sid, lines in by_session.items():
        write(root, sid, lines)
    ingest(ledger, [root / "projects"], machine="test")


def test_days_follow_the_timezone(ledger, tmp_path: Path) -> None:
    load(ledger, tmp_path, {SID_A: [
        request("2026-05-14T23:30:00.000Z", 100, 1),   # UTC 05-14; New York 05-14; Kolkata 05-15 05:00
        request("2026-05-15T03:50:00.000Z", 10, 1),    # UTC 05-15; New York 05-14 23:50; Kolkata 05-15
        request("2026-05-15T18:40:00.000Z", 1, 1),     # UTC 05-15; Kolkata 05-16 00:10 (a +05:30 zone)
    ]})
    def days(tz: str) -> dict[str, int]:
        return {r.key: r.inputTokens for r in daily_usage(ledger, tz_name=tz).rows}
    assert days("UTC") == {"2026-05-14": 100, "2026-05-15": 11}
    assert days("America/New_York") == {"2026-05-14": 110, "2026-05-15": 1}
    assert days("Asia/Kolkata") == {"2026-05-15": 110, "2026-05-16": 1}


def test_local_timezone_is_the_default(ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    load(ledger, tmp_path, {SID_A: [request("2026-05-15T03:50:00.000Z", 10, 1)]})
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert [r.key for r in daily_usage(ledger).rows] == ["2026-05-14"]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_since_until_are_local_days(ledger, tmp_path: Path) -> None:
    load(ledger, tmp_path, {SID_A: [request(f"2026-05-{d:02d}T12:00:00.000Z", d, 1) for d in range(10, 17)]})
    report = daily_usage(ledger, since=date(2026, 5, 12), until=date(2026, 5, 14), tz_name="UTC")
    assert [r.key for r in report.rows] == ["2026-05-12", "2026-05-13", "2026-05-14"]
    assert report.totals.inputTokens == 12 + 13 + 14
    # in UTC+14 the 05-11 12:00Z request is already on 05-12 locally
    kiribati = daily_usage(ledger, since=date(2026, 5, 12), until=date(2026, 5, 12), tz_name="Pacific/Kiritimati")
    assert kiribati.totals.inputTokens == 11


def test_unknown_timezone_is_bad_input(ledger) -> None:
    with pytest.raises(BadInput):
        daily_usage(ledger, tz_name="Mars/Olympus")


def test_breakdown_and_fast_model_names(ledger, tmp_path: Path) -> None:
    load(ledger, tmp_path, {SID_A: [
        request("2026-05-15T10:00:00.000Z", 1000, 10, model="claude-opus-4-6"),
        request("2026-05-15T10:01:00.000Z", 1000, 10, model="claude-opus-4-6", speed="fast"),
        request("2026-05-15T10:02:00.000Z", 5, 5, model="claude-haiku-4-5-20251001"),
    ]})
    row = daily_usage(ledger, tz_name="UTC", mode="calculate").rows[0]
    assert row.modelsUsed == ["claude-haiku-4-5-20251001", "claude-opus-4-6", "claude-opus-4-6-fast"]
    by = {m.modelName: m for m in row.modelBreakdowns}
    assert by["claude-opus-4-6-fast"].cost == pytest.approx(6 * by["claude-opus-4-6"].cost)
    assert row.modelBreakdowns[0].modelName == "claude-opus-4-6-fast"  # most expensive first
    assert row.totalCost == pytest.approx(sum(m.cost for m in row.modelBreakdowns))


def test_cost_modes_use_the_transcript_cost(ledger, tmp_path: Path) -> None:
    load(ledger, tmp_path, {SID_A: [
        request("2026-05-15T10:00:00.000Z", 1000, 10, cost=7.0),
        request("2026-05-15T10:05:00.000Z", 1000, 10),
    ]})
    table = PricingTable.bundled()
    one = table.request_cost("claude-sonnet-4-5-20250929", 1000, 10, 0, 0, 0)
    calc = daily_usage(ledger, tz_name="UTC", mode="calculate").totals
    auto = daily_usage(ledger, tz_name="UTC", mode="auto").totals
    display = daily_usage(ledger, tz_name="UTC", mode="display").totals
    assert calc.totalCost == pytest.approx(2 * one) and calc.unpricedRequests == 0
    assert auto.totalCost == pytest.approx(7.0 + one) and auto.unpricedRequests == 0
    # display mode never invents a cost: the request without costUSD is counted as unpriced
    assert display.totalCost == pytest.approx(7.0) and display.unpricedRequests == 1


def test_unpriced_model_is_reported_not_zeroed(ledger, tmp_path: Path) -> None:
    load(ledger, tmp_path, {SID_A: [request("2026-05-15T10:00:00.000Z", 10, 10, model="claude-nova-1")]})
    report = daily_usage(ledger, tz_name="UTC", mode="calculate")
    assert report.unpriced_models == ["claude-nova-1"]
    assert report.rows[0].unpricedRequests == 1 and report.rows[0].totalTokens == 20
    out = to_ccusage_json(report)
    assert out["daily"][0]["unpricedRequests"] == 1 and out["claimback"]["unpricedModels"] == ["claude-nova-1"]


def test_sessions(ledger, tmp_path: Path) -> None:
    load(ledger, tmp_path, {
        SID_A: [request("2026-05-14T10:00:00.000Z", 1, 1), request("2026-05-15T11:00:00.000Z", 2, 2)],
        SID_B: [request("2026-05-13T09:00:00.000Z", 5, 5, sid=SID_B)],
    })
    report = session_usage(ledger, tz_name="UTC")
    assert [r.key for r in report.rows] == [SID_B, SID_A]  # oldest activity first
    a = report.rows[1]
    assert (a.inputTokens, a.firstActivity, a.lastActivity) == (3, "2026-05-14T10:00:00.000Z",
                                                                "2026-05-15T11:00:00.000Z")
    assert a.projectPath == "-home-u-app"
    recent = session_usage(ledger, since=date(2026, 5, 15), tz_name="UTC")
    assert [r.key for r in recent.rows] == [SID_A] and recent.totals.inputTokens == 2


def test_blocks_follow_ccusage_rules(ledger, tmp_path: Path) -> None:
    load(ledger, tmp_path, {SID_A: [
        request("2026-05-15T01:20:00.000Z", 1, 0),
        request("2026-05-15T05:59:00.000Z", 2, 0),   # 4h39m after the 01:00 start: same block
        request("2026-05-15T06:01:00.000Z", 4, 0),   # 5h01m after the start: new block at 06:00
        request("2026-05-15T14:00:00.000Z", 8, 0),   # 7h59m idle: a gap block, then a block at 14:00
    ]})
    now = datetime(2026, 5, 15, 15, 0, tzinfo=timezone.utc)
    blocks = block_usage(ledger, tz_name="UTC", now=now).blocks
    shape = [(b.id, b.isGap, b.entries, b.inputTokens, b.isActive) for b in blocks]
    assert shape == [
        ("2026-05-15T01:00:00.000Z", False, 2, 3, False),
        ("2026-05-15T06:00:00.000Z", False, 1, 4, False),
        ("gap-2026-05-15T11:01:00.000Z", True, 0, 0, False),
        ("2026-05-15T14:00:00.000Z", False, 1, 8, True),
    ]
    assert blocks[0].endTime == "2026-05-15T06:00:00.000Z" and blocks[0].actualEndTime == "2026-05-15T05:59:00.000Z"
    assert blocks[2].endTime == "2026-05-15T14:00:00.000Z"
    only_late = block_usage(ledger, tz_name="UTC", now=now, since=date(2026, 5, 16))
    assert only_late.blocks == []


def run(args: list[str]) -> Any:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def test_cli_json_keys_match_ccusage(tmp_path: Path) -> None:
    root = write(tmp_path / "claude", SID_A, [request("2026-05-15T10:00:00.000Z", 10, 20, cw=30, cr=40)])
    base = ["--source", str(root), "--db", str(tmp_path / "l.sqlite3"), "--timezone", "UTC", "--json"]
    daily = json.loads(run(["usage", "daily", *base]).output)
    day = daily["daily"][0]
    for key in ("date", "inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens",
                "totalCost", "modelsUsed", "modelBreakdowns"):
        assert key in day
    assert day["totalTokens"] == 100 and daily["totals"]["totalTokens"] == 100
    assert set(day["modelBreakdowns"][0]) >= {"modelName", "inputTokens", "outputTokens", "cacheCreationTokens",
                                              "cacheReadTokens", "cost"}
    sessions = json.loads(run(["usage", "session", *base]).output)
    assert sessions["sessions"][0]["sessionId"] == SID_A and "lastActivity" in sessions["sessions"][0]
    blocks = json.loads(run(["usage", "blocks", *base]).output)
    b = blocks["blocks"][0]
    assert b["tokenCounts"] == {"inputTokens": 10, "outputTokens": 20, "cacheCreationInputTokens": 30,
                                "cacheReadInputTokens": 40}
    assert {"id", "startTime", "endTime", "actualEndTime", "isActive", "isGap", "entries", "totalTokens",
            "costUSD", "models"} <= set(b)


def test_cli_tables_and_no_ingest(tmp_path: Path) -> None:
    root = write(tmp_path / "claude", SID_A, [
        request("2026-05-15T10:00:00.000Z", 1234, 20, model="claude-opus-4-6"),
        request("2026-05-15T10:01:00.000Z", 10, 20, model="claude-nova-1"),
    ])
    db = str(tmp_path / "l.sqlite3")
    out = run(["usage", "daily", "--source", str(root), "--db", db, "--timezone", "UTC", "--breakdown"]).output
    assert "2026-05-15" in out and "1,244" in out and "claude-nova-1" in out and "no price for" in out
    # --no-ingest: a new line in the transcript is not read
    with open(root / "-home-u-app" / f"{SID_A}.jsonl", "a") as fh:
        fh.write(request("2026-05-16T10:00:00.000Z", 5, 5) + "\n")
    stale = json.loads(run(["usage", "daily", "--source", str(root), "--db", db, "--timezone", "UTC",
                            "--json", "--no-ingest"]).output)
    assert [d["date"] for d in stale["daily"]] == ["2026-05-15"]
    fresh = json.loads(run(["usage", "daily", "--source", str(root), "--db", db, "--timezone", "UTC",
                            "--json"]).output)
    assert [d["date"] for d in fresh["daily"]] == ["2026-05-15", "2026-05-16"]
    for kind in ("session", "blocks"):
        assert "Total" in run(["usage", kind, "--source", str(root), "--db", db, "--no-ingest"]).output


def test_cli_bad_dates_and_zones_exit_2(tmp_path: Path) -> None:
    for args in (["--since", "yesterday-ish"], ["--timezone", "Nowhere/Land"]):
        result = CliRunner().invoke(main, ["usage", "daily", "--db", str(tmp_path / "l.sqlite3"), *args])
        assert result.exit_code == 2 and "Traceback" not in result.output


def test_cli_demo_week(tmp_path: Path) -> None:
    data = json.loads(run(["usage", "daily", "--demo", "--json", "--timezone", "UTC"]).output)
    days = [d["date"] for d in data["daily"]]
    assert "2026-05-15" in days and data["claimback"]["demo"] is True
    assert data["totals"]["totalTokens"] == sum(d["totalTokens"] for d in data["daily"]) > 0


def test_report_cache_follows_the_ledger(ledger, tmp_path: Path) -> None:
    """An unchanged re-run reads cached sums; every change to the requests invalidates them."""
    root = tmp_path / "claude"
    path = write(root, SID_A, [request("2026-05-15T10:00:00.000Z", 10, 1)]) / "-home-u-app" / f"{SID_A}.jsonl"
    ingest(ledger, [root / "projects"], machine="test")
    assert daily_usage(ledger, tz_name="UTC").totals.inputTokens == 10
    assert ledger.scalar("SELECT COUNT(*) FROM report_cache") == 1
    # a cached result is served only while the token matches: poison the payload to prove it is read
    ledger.execute("UPDATE report_cache SET payload = ?", (json.dumps([["2026-05-15T10", "claude-sonnet-4-5-20250929",
                                                                        None, 0] + [7] * 10 + [0.0, 1]]),))
    assert daily_usage(ledger, tz_name="UTC").totals.inputTokens == 7
    # new lines: recomputed
    with open(path, "a") as fh:
        fh.write(request("2026-05-15T11:00:00.000Z", 5, 1) + "\n")
    ingest(ledger, [root / "projects"], machine="test")
    assert daily_usage(ledger, tz_name="UTC").totals.inputTokens == 15
    # a file re-read whose only change is a larger copy of an existing request: recomputed
    line = path.read_text().splitlines()[0]
    bigger = line.replace('"input_tokens":10', '"input_tokens":40')
    with open(path, "a") as fh:
        fh.write(bigger + "\n")
    ingest(ledger, [root / "projects"], machine="test")
    assert ledger.scalar("SELECT COUNT(*) FROM requests") == 2
    assert daily_usage(ledger, tz_name="UTC").totals.inputTokens == 45
    # rows deleted by another writer: recomputed
    ledger.execute("DELETE FROM requests WHERE input_tokens = 5")
    assert daily_usage(ledger, tz_name="UTC").totals.inputTokens == 40


# -- usage blocks --live ---------------------------------------------------------------------------
def _live_corpus(tmp_path: Path) -> Path:
    """Requests 40 and 2 minutes ago: an active block with a burn rate, whatever the wall clock says."""
    from datetime import timedelta

    now = datetime.now(timezone.utc)
    stamp = [(now - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for m in (40, 2)]
    return write(tmp_path / "claude", SID_A, [request(stamp[0], 100, 2000, cr=5000), request(stamp[1], 50, 800)])


def test_live_view_shows_block_pace_incident_and_quota(tmp_path: Path) -> None:
    import os

    root = _live_corpus(tmp_path)
    write_open_incident_cache(Path(os.environ["CLAIMBACK_HOME"]), "Elevated errors on Claude Opus 4.6")
    db = tmp_path / "l.sqlite3"
    ledger = open_ledger(db)
    with ledger.transaction():
        ledger.execute("INSERT INTO quota_snapshots (machine_id, ts, five_hour_pct, seven_day_pct) VALUES (?, ?, ?, ?)",
                       ("m", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"), 41.0, 63.0))
    ledger.close()
    result = CliRunner().invoke(main, ["usage", "blocks", "--live", "--max-refreshes", "2", "--refresh-interval",
                                       "0.5", "--token-limit", "1000", "--source", str(root), "--db", str(db)],
                                terminal_width=120)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("claimback live") == 2 and "refresh 2" in out  # bounded: two frames, then exit
    assert "Burn rate" in out and "tokens/min" in out and "Projection" in out
    assert "Elevated errors on Claude Opus 4.6" in out
    assert "5h 41%" in out and "week 63%" in out
    assert "(exceeds)" in out  # 7,950 tokens so far against a limit of 1,000


def test_live_without_activity_and_bad_usage(tmp_path: Path) -> None:
    empty = CliRunner().invoke(main, ["usage", "blocks", "--live", "--max-refreshes", "1", "--db",
                                      str(tmp_path / "l.sqlite3"), "--source", str(tmp_path)])
    assert empty.exit_code == 0, empty.output
    assert "Active block" in empty.output and "none" in empty.output and "no status cache" in empty.output
    both = CliRunner().invoke(main, ["usage", "blocks", "--live", "--json"])
    assert both.exit_code == 2 and "--live is a terminal view" in both.output
    bad = CliRunner().invoke(main, ["usage", "blocks", "--token-limit", "lots", "--db", str(tmp_path / "l.sqlite3"),
                                    "--source", str(tmp_path)])
    assert bad.exit_code == 2 and "not a number of tokens" in bad.output


def test_live_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    """A real process in a real pseudo-terminal: the first frame draws, SIGINT ends it with exit 0."""
    import os
    import pty
    import select
    import signal
    import subprocess
    import sys
    import time

    root = _live_corpus(tmp_path)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "claimback", "usage", "blocks", "--live", "--refresh-interval",
                             "30", "--source", str(root), "--db", str(tmp_path / "l.sqlite3")],
                            stdin=follower, stdout=follower, stderr=follower, env={**os.environ, "COLUMNS": "100"},
                            # a shell's background job (as CI may run pytest) ignores SIGINT, and children
                            # inherit that; a user's terminal does not
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"Burn rate" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if ready:
                seen += os.read(leader, 65536)
        assert b"Burn rate" in seen, seen[-2000:]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        while True:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert b"stopped" in seen and b"Traceback" not in seen
