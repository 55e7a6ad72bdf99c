"""Outage windows from fixture transcripts and incidents: bursts, relevance, merging, CLI, demo."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import statuspage_payloads as P
from claimback.analysis.outages import (
    detect_bursts,
    find_windows,
    get_window,
    incident_relevance,
    outages_report,
)
from claimback.cli import main
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.sources import status_client
from claimback.sources import statuspage as sp
from claimback.sources.incidents import Incident, incident_from_statuspage

_ids = itertools.count(1)


class Transcript:
    """Writes one session file in Claude Code's record shapes (see shared/examples/transcript-records.md)."""

    def __init__(self, root: Path, session: str, model: str, agent: str | None = None) -> None:
        self.session, self.model, self.agent = session, model, agent
        folder = root / "-home-u-app"
        self.path = (folder / session / "subagents" / f"agent-{agent}.jsonl") if agent else folder / f"{session}.jsonl"
        self.lines: list[dict[str, Any]] = []

    def _base(self, ts: str) -> dict[str, Any]:
        rec = {"sessionId": self.session, "uuid": f"u-{next(_ids)}", "timestamp": ts, "isSidechain": bool(self.agent),
               "cwd": "/home/u/app", "version": "2.1.150", "userType": "external"}
        if self.agent:
            rec["agentId"] = self.agent
        return rec

    def request(self, ts: str) -> "Transcript":
        n = next(_ids)
        self.lines.append(dict(self._base(ts), type="assistant", requestId=f"req_{n:06d}", message={
            "id": f"msg_{n:06d}", "type": "message", "role": "assistant", "model": self.model,
            "content": [{"type": "text", "text": "done"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "cache_creation_input_tokens": 200, "cache_read_input_tokens": 9000,
                      "output_tokens": 300}}))
        return self

    def retry(self, ts: str, attempt: int, status: int = 529, retry_ms: float = 1200.0) -> "Transcript":
        kind = "overloaded_error" if status == 529 else "api_error"
        self.lines.append(dict(self._base(ts), type="system", subtype="api_error", level="error", error={
            "status": status, "headers": {}, "requestID": f"req_r{next(_ids)}",
            "error": {"type": "error", "error": {"type": kind, "message": "Overloaded"}}},
            retryInMs=retry_ms, retryAttempt=attempt, maxRetries=10))
        return self

    def final(self, ts: str, text: str = "API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\"}}",
              error: str = "server_error", status: int = 500) -> "Transcript":
        self.lines.append(dict(self._base(ts), type="assistant", isApiErrorMessage=True, error=error,
                               apiErrorStatus=status, message={
            "id": f"synthetic-{next(_ids)}", "type": "message", "role": "assistant", "model": "<synthetic>",
            "content": [{"type": "text", "text": text}], "stop_reason": "stop_sequence",
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0}}))
        return self

    def quota(self, ts: str) -> "Transcript":
        return self.final(ts, "You've hit your session limit · resets 9:50pm (America/Los_Angeles)",
                          error="rate_limit", status=429)

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(json.dumps(r) + "\n" for r in self.lines), encoding="utf-8")


D1 = "2026-10-06T"
D2 = "2026-10-07T"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Day 1: one burst across two sessions, a quota storm, a pair that is too small, a split burst, a
    burst held together only by retry waits. Day 2: quiet sessions on Opus 4.6 and Sonnet 4.6."""
    root = tmp_path / "projects"
    opus = Transcript(root, "s1-opus", "claude-opus-4-6")
    opus.request(D1 + "09:58:00.000Z").request(D1 + "10:05:00.000Z")
    opus.retry(D1 + "10:10:00.000Z", 1).retry(D1 + "10:14:00.000Z", 2).retry(D1 + "10:19:30.000Z", 3)
    opus.final(D1 + "10:25:00.000Z")
    # Two failures only: not a burst.
    opus.request(D1 + "15:50:00.000Z").retry(D1 + "16:00:00.000Z", 1).retry(D1 + "16:05:00.000Z", 2)
    opus.request(D1 + "16:07:00.000Z")
    # Two bursts 21 minutes apart: two windows.
    for ts in ("18:00", "18:05", "18:09", "18:30", "18:35", "18:40"):
        opus.retry(D1 + ts + ":00.000Z", 1, status=500, retry_ms=500.0)
    # Gaps of 18 min, but each retry announced a 9-minute wait: still one outage.
    for i, ts in enumerate(("20:00", "20:18", "20:36")):
        opus.retry(D1 + ts + ":00.000Z", i + 1, retry_ms=540_000.0)
    opus.write()

    haiku = Transcript(root, "s2-haiku", "claude-haiku-4-5-20251001")
    haiku.request(D1 + "10:00:00.000Z").retry(D1 + "10:12:00.000Z", 1, status=500).request(D1 + "10:40:00.000Z")
    haiku.write()

    # Five 429s within minutes: quota, never an outage window.
    limited = Transcript(root, "s3-quota", "claude-opus-4-6")
    limited.request(D1 + "13:58:00.000Z")
    for ts in ("14:00", "14:02", "14:04", "14:06", "14:08"):
        limited.quota(D1 + ts + ":00.000Z")
    limited.write()

    sonnet = Transcript(root, "s4-sonnet", "claude-sonnet-4-6")
    opus2 = Transcript(root, "s5-opus", "claude-opus-4-6")
    for minute in range(0, 35, 5):
        sonnet.request(f"{D2}09:{minute:02d}:00.000Z")
        opus2.request(f"{D2}09:{minute:02d}:30.000Z")
    sonnet.write()
    opus2.write()
    return root


@pytest.fixture
def ledger(corpus: Path, ledger_db: str):
    """The corpus ingested into SQLite and into PostgreSQL: every window test runs on both."""
    with open_ledger(ledger_db) as led:
        ingest(led, [corpus])
        yield led


def _incident(iid: str, name: str, start: str, end: str, comps: list[dict[str, str]] = (),
              impact: str = "minor") -> Incident:
    obj = P.incident(iid, name, "resolved", impact, start, end, list(comps),
                     [P.update(f"{iid}-u1", iid, "resolved", "This incident has been resolved.", end)])
    inc = incident_from_statuspage(obj)
    assert inc is not None
    return inc


def _windows(ledger, day: str = "2026-10-06") -> list:
    return find_windows(ledger, since=day, until=day, offline=True)


def test_bursts_from_logs(ledger) -> None:
    windows = _windows(ledger)
    spans = [(w.start[11:19], w.end[11:19], w.confirmed_by, w.outage_failures) for w in windows]
    assert spans == [
        ("10:10:00", "10:25:00", "logs", 5),   # 4 in s1-opus + 1 in s2-haiku
        ("18:00:00", "18:09:00", "logs", 3),
        ("18:30:00", "18:40:00", "logs", 3),
        ("20:00:00", "20:45:00", "logs", 3),   # widened by the last announced 9-minute wait
    ]
    first = windows[0]
    assert first.sessions_failed == ["s1-opus", "s2-haiku"] and first.user_affected
    assert first.logs_start == first.start and first.incidents == []
    assert first.models == ["claude-haiku-4-5-20251001", "claude-opus-4-6"]
    assert first.model_families == ["haiku-4.5", "opus-4.6"]
    assert first.window_id == "20261006-1010"
    assert get_window(windows, "20261006-1830") is windows[2]


def test_quota_and_pairs_make_no_window(ledger) -> None:
    hours = {w.start[11:13] for w in _windows(ledger)}
    assert "14" not in hours and "16" not in hours
    quota = ledger.scalar("SELECT COUNT(*) FROM failures WHERE failure_class = 'quota_rate'")
    assert quota == 5  # they are in the ledger, just not an outage


def test_detect_bursts_needs_three() -> None:
    from datetime import datetime, timedelta, timezone

    from claimback.analysis.outages import _Failure

    t0 = datetime(2026, 6, 2, 10, tzinfo=timezone.utc)
    fail = lambda m, cls="outage": _Failure(t0 + timedelta(minutes=m), t0 + timedelta(minutes=m), "s", None, None, cls)
    assert detect_bursts([fail(0), fail(10)]) == []
    assert len(detect_bursts([fail(0), fail(10), fail(20)])) == 1
    assert len(detect_bursts([fail(0), fail(10), fail(20.5)])) == 0
    assert detect_bursts([fail(0, "quota_rate"), fail(1, "quota_rate"), fail(2, "quota_rate")]) == []


def test_incident_merges_with_burst_confirmed_by_both(ledger) -> None:
    inc = _incident("kq2fxw0yz5pl", "Elevated errors on the Claude API", "2026-10-06T10:02:00.000Z",
                    "2026-10-06T10:20:00.000Z", [P.API])
    sp.store_incidents(ledger, [inc], "import")
    w = _windows(ledger)[0]
    assert (w.start, w.end, w.confirmed_by) == ("2026-10-06T10:02:00.000Z", "2026-10-06T10:25:00.000Z", "both")
    assert w.incident_ids == ["kq2fxw0yz5pl"] and w.links == ["https://stspg.io/kq2fxw0y"]
    assert (w.statuspage_start, w.logs_start) == ("2026-10-06T10:02:00.000Z", "2026-10-06T10:10:00.000Z")
    assert w.incidents[0].source == "import" and w.incidents[0].scope == "all"


def test_model_specific_incidents_match_only_that_family(ledger) -> None:
    sp.store_incidents(ledger, [
        _incident("opus46aaaaaa", "Elevated errors on Claude Opus 4.6", f"{D2}09:05:00.000Z", f"{D2}09:20:00.000Z"),
        _incident("haiku45aaaaa", "Elevated errors on Claude Haiku 4.5", f"{D2}09:05:00.000Z", f"{D2}09:20:00.000Z"),
    ], "import")
    windows = _windows(ledger, "2026-10-07")
    assert [w.incident_ids for w in windows] == [["opus46aaaaaa"]]  # nobody used Haiku that morning
    w = windows[0]
    assert w.sessions == ["s5-opus"] and w.sessions_failed == [] and w.confirmed_by == "statuspage"
    assert w.incidents[0].model_families == ["opus-4.6"] and not w.user_affected


def test_all_model_incident_covers_every_active_session(ledger) -> None:
    sp.store_incidents(ledger, [_incident("allmodels123", "Elevated errors across many models",
                                          f"{D2}09:05:00.000Z", f"{D2}09:20:00.000Z")], "import")
    (w,) = _windows(ledger, "2026-10-07")
    assert w.sessions == ["s4-sonnet", "s5-opus"]
    assert w.model_families == ["opus-4.6", "sonnet-4.6"]


@pytest.mark.parametrize("name,comps,relevant,scope", [
    ("Elevated errors on Claude.ai, API, Claude Code", [P.CLAUDE_AI, P.API, P.CODE], True, "all"),
    ("Elevated errors on claude.ai, Claude Code, Claude Cowork and the Claude API", [], True, "all"),
    ("Elevated error rates on requests to some models", [P.API, P.CODE], True, "all"),
    ("Errors logging into Claude.ai", [], True, "all"),
    ("Elevated errors on Claude.ai and Claude Code login", [], True, "all"),
    ("Claude.ai down", [P.CLAUDE_AI], False, "none"),
    ("Elevated errors on Sonnet 4.6", [], True, "models"),
    ("Elevated errors on Opus 4.6", [P.CLAUDE_AI, P.API, P.CODE], True, "models"),
    ("Elevated Connector Error Rates", [], False, "none"),
    ("Degraded performance for Claude Code on the web, Cowork Remote, Claude Tag, and Claude Code Review "
     "sessions", [], False, "none"),
    ("Claude Code v2.1.120 Crashes on Startup", [], False, "none"),
    ("Claude Sonnet 4 degraded performance quality", [], False, "none"),
    ("Fable 5 requiring usage credits on Max plans", [], False, "none"),
    ("Delays in credit purchases", [], False, "none"),
    ("Outage affecting Workspace Creation", [P.CONSOLE], False, "none"),
])
def test_relevance_on_real_incident_names(name: str, comps: list, relevant: bool, scope: str) -> None:
    inc = _incident("relevance001", name, "2026-10-07T09:00:00.000Z", "2026-10-07T09:30:00.000Z", comps)
    rel = incident_relevance(inc)
    assert (rel.relevant, rel.scope) == (relevant, scope), rel.reason


def test_claude_ai_login_incident_makes_a_window(ledger) -> None:
    sp.store_incidents(ledger, [_incident("loginxxxxxxx", "Elevated errors on Claude.ai",
                                          f"{D2}09:10:00.000Z", f"{D2}09:12:00.000Z", [P.CLAUDE_AI])], "import")
    assert _windows(ledger, "2026-10-07") == []  # claude.ai alone, no login: not Claude Code's problem
    sp.store_incidents(ledger, [_incident("loginyyyyyyy", "Errors logging into Claude.ai",
                                          f"{D2}09:10:00.000Z", f"{D2}09:12:00.000Z", [P.CLAUDE_AI])], "import")
    assert [w.incident_ids for w in _windows(ledger, "2026-10-07")] == [["loginyyyyyyy"]]


def test_stated_impact_window_beats_created_resolved(ledger) -> None:
    obj = P.incident("stated000001", "Elevated errors on requests to multiple models", "resolved", "major",
                     f"{D1}10:40:00.000Z", f"{D1}11:30:00.000Z", [],
                     [P.update("st-1", "stated000001", "resolved", "Impact occurred from 10:08–10:21 UTC.",
                               f"{D1}11:30:00.000Z")])
    sp.store_incidents(ledger, [incident_from_statuspage(obj)], "live")
    w = _windows(ledger)[0]
    assert w.incident_ids == ["stated000001"] and w.confirmed_by == "both"
    assert (w.start, w.end) == ("2026-10-06T10:08:00.000Z", "2026-10-06T10:25:00.000Z")
    assert w.incidents[0].basis == "stated impact window"


def test_default_range_is_the_ledgers_activity(ledger) -> None:
    report = outages_report(ledger, offline=True)
    assert report.since == "2026-10-06T09:58:00.000Z" and report.until == "2026-10-07T09:30:30.000Z"
    # The bundled archive has nothing in June 2026 that touches these sessions; only log bursts.
    assert {w.confirmed_by for w in report.windows} == {"logs"}
    assert report.data_source.origin == "archive"


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_outages_offline_json(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite3"
    res = CliRunner().invoke(main, ["outages", "--source", str(corpus), "--db", str(db), "--offline", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [w["window_id"] for w in data["windows"]] == ["20261006-1010", "20261006-1800", "20261006-1830",
                                                         "20261006-2000"]
    assert data["data_source"]["origin"] == "archive"
    assert set(data["windows"][0]) >= {"window_id", "start", "end", "confirmed_by", "incident_ids", "links",
                                       "sessions", "models", "failures_by_class"}


def test_cli_outages_network_fault_still_exit_0(corpus: Path, tmp_path: Path, httpserver) -> None:
    import os

    os.environ["CLAIMBACK_STATUS_URL"] = httpserver.url_for("").rstrip("/")  # restored by the autouse fixture
    for path in status_client.ENDPOINTS.values():
        httpserver.expect_request(path).respond_with_data("<html>captive portal</html>", content_type="text/html")
    res = CliRunner().invoke(main, ["outages", "--source", str(corpus), "--db", str(tmp_path / "c.sqlite3")])
    assert res.exit_code == 0, res.output
    assert "20261006-1010" in res.output
    assert "HTML instead of JSON" in res.output and "archive" in res.output


def test_cli_status(httpserver, tmp_path: Path) -> None:
    import os

    os.environ["CLAIMBACK_STATUS_URL"] = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(P.summary_json([P.OPEN_INCIDENT]))
    httpserver.expect_request("/api/v2/incidents/unresolved.json").respond_with_data(P.incidents_json(P.OPEN_INCIDENT))
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(P.incidents_json(P.OPEN_INCIDENT))
    httpserver.expect_request("/history.atom").respond_with_data(P.history_atom(P.OPEN_INCIDENT))
    db = str(tmp_path / "s.sqlite3")
    res = CliRunner().invoke(main, ["status", "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["affected"] is True and data["data_source"]["origin"] == "live"
    assert [i["incident_id"] for i in data["incidents"]] == ["4xvtc2gnq73l"]
    assert {c["name"]: c["status"] for c in data["components"]}["Claude Code"] == "partial_outage"
    # Offline afterwards: the cache answers, with its age.
    res = CliRunner().invoke(main, ["status", "--db", db, "--offline"])
    assert res.exit_code == 0 and "affected by an incident" in res.output and "cached copy" in res.output


def test_cli_status_all_clear_and_unknown(httpserver, tmp_path: Path) -> None:
    import os

    res = CliRunner().invoke(main, ["status", "--db", str(tmp_path / "a.sqlite3"), "--offline"])
    assert res.exit_code == 0 and "unknown" in res.output
    os.environ["CLAIMBACK_STATUS_URL"] = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(P.summary_json([], degraded=False))
    httpserver.expect_request("/api/v2/incidents/unresolved.json").respond_with_data(P.incidents_json())
    res = CliRunner().invoke(main, ["status", "--db", str(tmp_path / "a.sqlite3")])
    assert res.exit_code == 0 and "No open incident affects Claude Code" in res.output


def test_demo_window(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["outages", "--demo", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    (w,) = [w for w in data["windows"] if w["start"].startswith("2026-05-15")]
    assert w["confirmed_by"] == "both" and w["incident_ids"] == ["8z7l5zcy0v3b"]
    assert w["logs_start"].startswith("2026-05-15T01:06")
    assert w["incidents"][0]["source"] == "archive"
    # The three killed reviewers ran as subagents of one session: all three are in the window.
    import sqlite3  # noqa: F401  (the demo ledger is gone; check through the window's own fields)

    assert len(w["agents_failed"]) == 3
    assert len(w["sessions_failed"]) == 2 and set(w["sessions_failed"]) <= set(w["sessions"])
    assert data["data_source"]["origin"] == "demo"
    res = CliRunner().invoke(main, ["outages", "--demo"])
    assert res.exit_code == 0 and "8z7l5zcy0v3b" in res.output and "01:06" in res.output
