"""Statuspage v2 payload shapes nobody on the team had seen, served by a local status page.

Shapes from Statuspage's own documentation and public recordings (written here with invented ids and
texts): scheduled maintenances, which are incidents with `scheduled_for` / `scheduled_until` and the
statuses scheduled / in_progress / verifying / completed, whose `impact` may be "none" or an override
such as "minor" rather than "maintenance" (https://doers.statuspage.io/api/v1/incidents/); timestamps
with UTC offsets ("2013-04-21T11:45:33-06:00", same page); an incident reopened after it was resolved
(its `resolved_at` goes back to null); a postmortem posted days later; updates listed oldest first; an
incident still open ("monitoring", `resolved_at` null) in a copy fetched days ago; 429 / 502 answers and
a body cut short by the status host.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

import statuspage_payloads as P
from claimback.analysis.outages import current_status, incident_interval, incident_relevance, outages_report
from claimback.ledger import open_ledger
from claimback.sources import statuspage as sp
from claimback.sources.incidents import incident_from_statuspage, incidents_from_feed


@pytest.fixture
def ledger(tmp_path: Path):
    with open_ledger(tmp_path / "ledger.sqlite3") as led:
        yield led


def maintenance(mid: str, name: str, status: str, impact: str, start: str, end: str,
                updates: list[dict[str, Any]], comps: list[dict[str, str]] = (P.API, P.CODE)) -> dict[str, Any]:
    """A scheduled maintenance as incidents.json lists it (Statuspage's incident object plus its
    scheduling fields)."""
    obj = P.incident(mid, name, status, impact, start, end if status == "completed" else None, list(comps), updates)
    obj.update({"scheduled_for": start, "scheduled_until": end, "scheduled_remind_prior": True,
                "scheduled_reminded_at": None, "impact_override": impact if impact != "maintenance" else None,
                "scheduled_auto_in_progress": True, "scheduled_auto_completed": True, "postmortem_body": None})
    for comp in obj["components"]:
        comp["status"] = "under_maintenance" if status == "in_progress" else "operational"
    return obj


DONE_MAINTENANCE = maintenance(
    "q3mw8rt1yb5n", "Claude API requests may fail during scheduled database maintenance", "completed", "none",
    "2026-10-03T06:00:00.000Z", "2026-10-03T07:00:00.000Z",
    [P.update("mu3", "q3mw8rt1yb5n", "completed", "The scheduled maintenance has been completed.",
              "2026-10-03T07:02:00.000Z"),
     P.update("mu2", "q3mw8rt1yb5n", "in_progress", "Scheduled maintenance is currently in progress. Some API "
              "requests may return errors.", "2026-10-03T06:00:00.000Z"),
     P.update("mu1", "q3mw8rt1yb5n", "scheduled", "We will be upgrading a database cluster. API requests may "
              "see elevated errors for up to an hour.", "2026-09-30T18:00:00.000Z")])

RUNNING_MAINTENANCE = maintenance(
    "h8vk2pq0zc4d", "Degraded API performance during planned network maintenance", "in_progress", "minor",
    "2026-10-05T09:00:00.000Z", "2026-10-05T11:00:00.000Z",
    [P.update("mr2", "h8vk2pq0zc4d", "in_progress", "Scheduled maintenance is currently in progress.",
              "2026-10-05T09:00:00.000Z"),
     P.update("mr1", "h8vk2pq0zc4d", "scheduled", "Planned network maintenance; requests may see latency.",
              "2026-10-01T12:00:00.000Z")])

REAL_OUTAGE = P.incident(
    "b6tn4ws9ke2x", "Elevated errors on the Claude API", "resolved", "major", "2026-10-03T12:10:00.000Z",
    "2026-10-03T12:55:00.000Z", [P.API, P.CODE],
    [P.update("ro2", "b6tn4ws9ke2x", "resolved", "This incident has been resolved.", "2026-10-03T12:55:00.000Z"),
     P.update("ro1", "b6tn4ws9ke2x", "investigating", "We are investigating elevated errors on the API.",
              "2026-10-03T12:10:00.000Z", [(P.API, "partial_outage")])])


def serve(httpserver: HTTPServer, incidents: list[dict[str, Any]], unresolved: list[dict[str, Any]] = (),
          summary_status: dict[str, str] | None = None) -> None:
    httpserver.clear()
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(
        P.incidents_json(*incidents), content_type="application/json")
    httpserver.expect_request("/api/v2/incidents/unresolved.json").respond_with_data(
        P.incidents_json(*unresolved), content_type="application/json")
    summary = json.loads(P.summary_json(list(unresolved), degraded=False))
    summary["scheduled_maintenances"] = [i for i in incidents if i.get("scheduled_for")
                                         and i["status"] != "completed"]
    if summary_status:
        summary["status"] = summary_status
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(json.dumps(summary),
                                                                         content_type="application/json")
    httpserver.expect_request("/history.atom").respond_with_data("", status=404)


@pytest.fixture
def page(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    return httpserver


# -- scheduled maintenances ------------------------------------------------------------------------
@pytest.mark.parametrize("obj", [DONE_MAINTENANCE, RUNNING_MAINTENANCE], ids=["completed-impact-none",
                                                                              "in-progress-impact-minor"])
def test_a_scheduled_maintenance_is_never_an_outage_whatever_its_impact(obj: dict[str, Any]) -> None:
    inc = incident_from_statuspage(obj)
    assert inc is not None
    rel = incident_relevance(inc)
    assert not rel.relevant and rel.reason == "scheduled maintenance"


def test_a_maintenance_in_the_history_feed_is_a_maintenance() -> None:
    # The Atom feed carries no impact and no scheduled_for: the updates' statuses say it.
    [inc] = incidents_from_feed(P.history_atom(DONE_MAINTENANCE))
    assert inc.impact == "maintenance" and not incident_relevance(inc).relevant
    [outage] = incidents_from_feed(P.history_atom(REAL_OUTAGE))
    assert outage.impact is None and incident_relevance(outage).relevant


def test_maintenances_in_the_feed_make_no_window_and_a_real_outage_still_does(page: HTTPServer, ledger) -> None:
    serve(page, [REAL_OUTAGE, RUNNING_MAINTENANCE, DONE_MAINTENANCE], unresolved=[])
    sync = sp.sync_status(ledger, refresh=True)
    assert sync.origin == "live"
    report = outages_report(ledger, since="2026-10-01", until="2026-10-06", sync=False)
    assert [w.incident_ids for w in report.windows] == [["b6tn4ws9ke2x"]]


def test_an_in_progress_maintenance_is_not_an_active_incident(page: HTTPServer, ledger) -> None:
    # unresolved.json lists incidents only; summary.json lists the maintenance apart, and its indicator
    # says "maintenance": claimback reports the indicator but no incident affecting Claude Code.
    serve(page, [RUNNING_MAINTENANCE], unresolved=[],
          summary_status={"indicator": "maintenance", "description": "Service Under Maintenance"})
    status = current_status(ledger, refresh=True)
    assert status.indicator == "maintenance" and status.incidents == [] and status.affected is False


# -- incidents that change after they were first fetched -------------------------------------------
def _open_copy(obj: dict[str, Any], status: str, update: dict[str, Any]) -> dict[str, Any]:
    again = dict(obj, status=status, resolved_at=None, updated_at=update["created_at"])
    again["incident_updates"] = [update] + list(obj["incident_updates"])
    return again


def test_a_reopened_incident_is_open_again(page: HTTPServer, ledger) -> None:
    serve(page, [REAL_OUTAGE])
    sp.sync_status(ledger, refresh=True)
    assert ledger.scalar("SELECT resolved_at FROM incidents WHERE incident_id = 'b6tn4ws9ke2x'") == \
        "2026-10-03T12:55:00.000Z"
    reopened = _open_copy(REAL_OUTAGE, "investigating", P.update(
        "ro3", "b6tn4ws9ke2x", "investigating", "Errors have returned; we are investigating again.",
        "2026-10-03T13:20:00.000Z"))
    serve(page, [reopened], unresolved=[reopened])
    sync = sp.sync_status(ledger, refresh=True)
    assert [i.incident_id for i in sync.unresolved] == ["b6tn4ws9ke2x"]
    row = ledger.rows("SELECT status, resolved_at FROM incidents WHERE incident_id = 'b6tn4ws9ke2x'")[0]
    assert (row["status"], row["resolved_at"]) == ("investigating", None)
    inc = next(i for i in sp.ledger_incidents(ledger) if i.incident_id == "b6tn4ws9ke2x")
    start, end, basis = incident_interval(inc)
    assert basis == "open (ongoing)" and end > datetime(2026, 10, 3, 13, 20, tzinfo=timezone.utc)


def test_a_postmortem_days_later_moves_resolved_at_and_keeps_every_update(page: HTTPServer, ledger) -> None:
    serve(page, [REAL_OUTAGE])
    sp.sync_status(ledger, refresh=True)
    later = dict(REAL_OUTAGE, status="postmortem", resolved_at="2026-10-03T13:05:00.000Z",
                 updated_at="2026-10-07T16:00:00.000Z")
    later["incident_updates"] = [P.update("ro9", "b6tn4ws9ke2x", "postmortem", "Root cause: a configuration "
                                          "change. Impact occurred from 12:04 to 12:51 UTC.",
                                          "2026-10-07T16:00:00.000Z")] + REAL_OUTAGE["incident_updates"]
    serve(page, [later])
    sp.sync_status(ledger, refresh=True)
    row = ledger.rows("SELECT status, resolved_at FROM incidents WHERE incident_id = 'b6tn4ws9ke2x'")[0]
    assert (row["status"], row["resolved_at"]) == ("postmortem", "2026-10-03T13:05:00.000Z")
    assert ledger.scalar("SELECT COUNT(*) FROM incident_updates WHERE incident_id = 'b6tn4ws9ke2x'") == 3


def test_an_open_incident_in_an_old_copy_is_not_an_outage_until_now(ledger) -> None:
    """Known open only up to the fetch: `claimback outages --offline` a week later must not claim a
    week-long outage from a "monitoring" incident nobody has fetched since."""
    monitoring = _open_copy(REAL_OUTAGE, "monitoring", P.update(
        "ro4", "b6tn4ws9ke2x", "monitoring", "A fix has been implemented and we are monitoring the results.",
        "2026-10-03T12:40:00.000Z"))
    monitoring["incident_updates"] = monitoring["incident_updates"][:1] + REAL_OUTAGE["incident_updates"][1:]
    inc = incident_from_statuspage(monitoring)
    sp.store_incidents(ledger, [inc], "live", fetched_at="2026-10-03T12:45:00.000Z")
    stored = next(i for i in sp.ledger_incidents(ledger) if i.incident_id == "b6tn4ws9ke2x")
    start, end, basis = incident_interval(stored, now=datetime(2026, 10, 10, tzinfo=timezone.utc))
    assert end == datetime(2026, 10, 3, 12, 45, tzinfo=timezone.utc)
    assert "last fetched" in basis
    # Fetched just now, it is ongoing.
    now = datetime.now(timezone.utc)
    sp.store_incidents(ledger, [inc], "live")
    stored = next(i for i in sp.ledger_incidents(ledger) if i.incident_id == "b6tn4ws9ke2x")
    start, end, basis = incident_interval(stored, now=now + timedelta(seconds=5))
    assert basis == "open (ongoing)" and end == now + timedelta(seconds=5)


# -- times and order -------------------------------------------------------------------------------
def test_offsets_and_oldest_first_updates_read_as_utc() -> None:
    obj = P.incident("p7rc3xv8mh1t", "Elevated errors on Claude Code", "resolved", "minor",
                     "2026-10-02T23:05:12-07:00", "2026-10-03T00:40:00-07:00", [P.CODE],
                     [P.update("o1", "p7rc3xv8mh1t", "investigating", "We are investigating elevated errors.",
                               "2026-10-02T23:05:12-07:00"),
                      P.update("o2", "p7rc3xv8mh1t", "resolved", "This incident has been resolved.",
                               "2026-10-03T00:40:00-07:00")])
    inc = incident_from_statuspage(obj)
    assert (inc.created_at, inc.resolved_at) == ("2026-10-03T06:05:12.000Z", "2026-10-03T07:40:00.000Z")
    start, end, basis = incident_interval(inc)
    assert (start.isoformat(), end.isoformat()) == ("2026-10-03T06:05:12+00:00", "2026-10-03T07:40:00+00:00")
    assert incident_relevance(inc).relevant


# -- the status host's bad answers -----------------------------------------------------------------
@pytest.mark.parametrize("status,headers", [(429, {"Retry-After": "30"}), (502, {})], ids=["429", "502"])
def test_429_and_502_fall_back_to_the_cache_with_a_note(status: int, headers: dict[str, str], page: HTTPServer,
                                                        ledger) -> None:
    serve(page, [REAL_OUTAGE])
    sp.sync_status(ledger, refresh=True)
    page.clear()
    for path in ("/api/v2/incidents.json", "/api/v2/incidents/unresolved.json", "/api/v2/summary.json",
                 "/history.atom"):
        page.expect_request(path).respond_with_data("slow down", status=status, headers=headers)
    sync = sp.sync_status(ledger, refresh=True)
    assert sync.origin == "cache" and f"HTTP {status}" in sync.note and "cached copy" in sync.note


def _cut_short_server(body: bytes) -> tuple[str, threading.Thread]:
    """A server that promises `len(body)` bytes and closes after half of them."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def run() -> None:
        srv.settimeout(5)
        try:
            while True:
                conn, _ = srv.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body[:len(body) // 2])
        except OSError:
            pass
        finally:
            srv.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}", thread


def test_a_truncated_answer_falls_back_with_a_note(monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    url, _ = _cut_short_server(P.incidents_json(REAL_OUTAGE).encode())
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", url)
    sync = sp.sync_status(ledger, refresh=True)
    assert sync.origin == "archive" and "unreachable" in sync.note
    assert ledger.scalar("SELECT COUNT(*) FROM incidents WHERE source = 'live'") == 0


# -- components ------------------------------------------------------------------------------------
@pytest.mark.parametrize("comps,relevant", [
    ([P.CONSOLE], False), ([P.CLAUDE_AI], False), ([P.CODE], True), ([P.API], True), ([], False)],
    ids=["console-only", "claude.ai-only", "claude-code", "claude-api", "none-listed"])
def test_a_generic_title_is_judged_by_the_components_its_updates_name(comps: list[dict[str, str]],
                                                                     relevant: bool) -> None:
    # The incident's own "components" list is empty; only an update's affected_components names them.
    obj = P.incident("w5zn1rk7dq3h", "Elevated error rates", "resolved", "minor", "2026-10-04T08:00:00.000Z",
                     "2026-10-04T08:30:00.000Z", [],
                     [P.update("c2", "w5zn1rk7dq3h", "resolved", "This incident has been resolved.",
                               "2026-10-04T08:30:00.000Z"),
                      P.update("c1", "w5zn1rk7dq3h", "investigating", "We are investigating elevated error rates.",
                               "2026-10-04T08:00:00.000Z", [(c, "partial_outage") for c in comps])])
    assert obj["components"] == []
    assert incident_relevance(incident_from_statuspage(obj)).relevant is relevant


def test_impact_none_is_no_reason_to_drop_an_error_incident() -> None:
    # Anthropic posts real error incidents with impact "none" (32 of the archive's 66 such are relevant).
    obj = P.incident("f2jx6mc0tv8r", "Elevated errors on Claude Opus 4.6", "resolved", "none",
                     "2026-10-04T10:00:00.000Z", "2026-10-04T10:20:00.000Z", [P.API, P.CODE],
                     [P.update("n1", "f2jx6mc0tv8r", "resolved", "This incident has been resolved.",
                               "2026-10-04T10:20:00.000Z")])
    rel = incident_relevance(incident_from_statuspage(obj))
    assert rel.relevant and rel.scope == "models" and rel.model_families == ["opus-4.6"]


# -- caching ---------------------------------------------------------------------------------------
def test_a_304_to_a_request_that_asked_nothing_is_no_answer(httpserver: HTTPServer,
                                                            monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    """The cache holds another page's body (the status URL changed since): claimback sends no validator,
    so a 304 (a confused proxy's) cannot mean "your copy is current" and must not serve that body."""
    from claimback.sources import status_client

    status_client.write_cache("incidents", P.incidents_json(P.SONNET_INCIDENT).encode(), {
        "url": "https://mirror.example/api/v2/incidents.json", "fetched_at": datetime.now(timezone.utc).isoformat(),
        "etag": '"old"', "last_modified": None, "status": 200})
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    seen: list[str | None] = []

    def handler(request: Any) -> Any:
        from werkzeug import Response

        seen.append(request.headers.get("If-None-Match"))
        return Response(status=304)

    httpserver.expect_request("/api/v2/incidents.json").respond_with_handler(handler)
    outcome = status_client.fetch_all(("incidents",))["incidents"]
    assert seen == [None]
    assert not outcome.ok and "HTTP 304" in (outcome.fault or "")


def test_a_resolved_copy_without_resolved_at_ends_at_its_resolve_update() -> None:
    # Trimmed copies (imports, mirrors) drop fields: the "resolved" update still says when it ended.
    obj = P.incident("k1dm9zq4rs6w", "Elevated errors on Claude Code", "resolved", None, "2026-10-04T14:00:00.000Z",
                     None, [P.CODE],
                     [P.update("z2", "k1dm9zq4rs6w", "resolved", "This incident has been resolved.",
                               "2026-10-04T14:50:00.000Z"),
                      P.update("z1", "k1dm9zq4rs6w", "investigating", "We are investigating elevated errors.",
                               "2026-10-04T14:00:00.000Z")])
    obj.update(components=None, shortlink=None, started_at=None, monitoring_at=None)
    inc = incident_from_statuspage(obj)
    assert inc.resolved_at == "2026-10-04T14:50:00.000Z"
    start, end, basis = incident_interval(inc)
    assert end == datetime(2026, 10, 4, 14, 50, tzinfo=timezone.utc) and basis == "created → resolved"


def test_components_under_maintenance_are_a_maintenance_not_an_incident(page: HTTPServer, tmp_path: Path) -> None:
    """During a running maintenance Statuspage moves its components to under_maintenance: `claimback
    status` says so, and does not call it an incident affecting Claude Code."""
    from click.testing import CliRunner

    from claimback.cli import main

    summary = json.loads(P.summary_json([], degraded=False))
    summary["components"][0]["status"] = "under_maintenance"  # the Claude API component
    summary["scheduled_maintenances"] = [RUNNING_MAINTENANCE]
    summary["status"] = {"indicator": "maintenance", "description": "Service Under Maintenance"}
    page.expect_request("/api/v2/summary.json").respond_with_data(json.dumps(summary), content_type="application/json")
    page.expect_request("/api/v2/incidents/unresolved.json").respond_with_data(P.incidents_json(),
                                                                               content_type="application/json")
    page.expect_request("/api/v2/incidents.json").respond_with_data(P.incidents_json(RUNNING_MAINTENANCE),
                                                                    content_type="application/json")
    db = str(tmp_path / "m.sqlite3")
    res = CliRunner().invoke(main, ["status", "--db", db, "--json", "--refresh"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["affected"] is False and data["incidents"] == [] and data["maintenance"] == [
        "Claude API (api.anthropic.com)"]
    res = CliRunner().invoke(main, ["status", "--db", db, "--offline"])
    assert res.exit_code == 0 and "affected by an incident" not in res.output
    assert "Scheduled maintenance in progress: Claude API (api.anthropic.com)" in res.output
