"""The status-page source against a local HTTP server: payloads, cache contract, faults, fallbacks, import."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import statuspage_payloads as P
from claimback.cli import main
from claimback.config import cache_dir
from claimback.ledger import open_ledger
from claimback.sources import status_client
from claimback.sources import statuspage as sp
from claimback.sources.incidents import incident_from_archive, incident_from_statuspage

# One real incident object (2026-09-29, 4xvtc2gnq73l), trimmed, as a third-party test fixture published it.
SAMPLE = Path(__file__).parent / "fixtures" / "statuspage-sample-incidents.json"


@pytest.fixture
def ledger(tmp_path: Path):
    with open_ledger(tmp_path / "ledger.sqlite3") as led:
        yield led


@pytest.fixture
def page(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    """A status page serving the open 2026-09-29 incident plus two resolved ones."""
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    body = P.incidents_json(P.OPEN_INCIDENT, P.LOGIN_INCIDENT, P.SONNET_INCIDENT)
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(
        body, content_type="application/json", headers={"ETag": 'W/"inc-1"', "Last-Modified": "Tue, 29 Sep 2026 14:41:08 GMT"})
    httpserver.expect_request("/api/v2/incidents/unresolved.json").respond_with_data(
        P.incidents_json(P.OPEN_INCIDENT), content_type="application/json")
    httpserver.expect_request("/api/v2/summary.json").respond_with_data(
        P.summary_json([P.OPEN_INCIDENT]), content_type="application/json")
    httpserver.expect_request("/history.atom").respond_with_data(
        P.history_atom(P.OPEN_INCIDENT, P.LOGIN_INCIDENT), content_type="application/atom+xml")
    return httpserver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- live ------------------------------------------------------------------------------------------
def test_live_fetch_stores_every_incident_and_update(page: HTTPServer, ledger) -> None:
    sync = sp.sync_status(ledger)
    assert sync.origin == "live" and sync.faults == []
    rows = {r["incident_id"]: r for r in ledger.rows("SELECT * FROM incidents WHERE source = 'live'")}
    assert set(rows) == {"4xvtc2gnq73l", "9l93x2ht4s5w", "lhws0phdvzz3"}
    login = rows["9l93x2ht4s5w"]
    # The true window comes from the resolve update's text, not created_at → resolved_at.
    assert (login["impact_start"], login["impact_end"]) == ("2026-04-28T17:34:00.000Z", "2026-04-28T18:52:00.000Z")
    assert "Claude Code" in json.loads(login["components"])
    assert json.loads(rows["lhws0phdvzz3"]["models"]) == ["Claude Sonnet 4.6"]
    assert rows["lhws0phdvzz3"]["impact_start"] == "2026-04-08T07:00:00.000Z"
    n_updates = ledger.scalar("SELECT COUNT(*) FROM incident_updates WHERE incident_id = '9l93x2ht4s5w'")
    assert n_updates >= 4
    assert [i.incident_id for i in sync.unresolved] == ["4xvtc2gnq73l"]


def test_cache_files_follow_the_contract(page: HTTPServer, ledger) -> None:
    sp.sync_status(ledger)
    folder = cache_dir() / "status"
    for name in ("summary", "incidents", "unresolved"):
        body = (folder / f"{name}.json").read_bytes()
        meta = json.loads((folder / f"{name}.meta.json").read_text())
        assert set(meta) >= {"url", "fetched_at", "etag", "last_modified", "status"}
        assert meta["url"].endswith(status_client.ENDPOINTS[name]) and meta["status"] == 200
        assert json.loads(body)  # the raw Statuspage body, byte for byte what was served
    served = P.incidents_json(P.OPEN_INCIDENT, P.LOGIN_INCIDENT, P.SONNET_INCIDENT).encode()
    assert (folder / "incidents.json").read_bytes() == served
    meta = json.loads((folder / "incidents.meta.json").read_text())
    assert meta["etag"] == 'W/"inc-1"' and meta["last_modified"].startswith("Tue, 29 Sep 2026")
    assert status_client.read_cache("incidents").data["incidents"][0]["id"] == "4xvtc2gnq73l"


def test_corrupt_cache_is_no_data(ledger) -> None:
    folder = cache_dir() / "status"
    folder.mkdir(parents=True)
    (folder / "unresolved.json").write_text("{not json")
    (folder / "unresolved.meta.json").write_text('{"fetched_at": "2026-09-29T14:41:08.000Z"}')
    (folder / "summary.json").write_text(P.summary_json([]))
    (folder / "summary.meta.json").write_text("[]")
    assert status_client.read_cache("unresolved") is None and status_client.read_cache("summary") is None
    assert status_client.read_cache("incidents") is None


def test_etag_revalidation_uses_304(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    seen: list[str | None] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v7"':
            return Response(status=304, headers={"ETag": '"v7"'})
        return Response(P.incidents_json(P.LOGIN_INCIDENT), content_type="application/json", headers={"ETag": '"v7"'})

    httpserver.expect_request("/api/v2/incidents.json").respond_with_handler(handler)
    first = status_client.fetch_all(("incidents",))["incidents"]
    second = status_client.fetch_all(("incidents",))["incidents"]
    assert seen == [None, '"v7"']
    assert first.ok and not first.not_modified
    assert second.ok and second.not_modified and second.data["incidents"][0]["id"] == "9l93x2ht4s5w"


def test_config_key_status_url(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    monkeypatch.delenv("CLAIMBACK_STATUS_URL")
    from claimback.config import config_path

    config_path().parent.mkdir(parents=True, exist_ok=True)
    config_path().write_text(f'status_url = "{httpserver.url_for("")}"\n')
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(P.incidents_json(P.SONNET_INCIDENT))
    assert status_client.base_urls() == [httpserver.url_for("").rstrip("/")]
    assert status_client.fetch_all(("incidents",))["incidents"].ok


def test_default_hosts_are_claude_then_anthropic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAIMBACK_STATUS_URL")
    assert status_client.base_urls() == ["https://status.claude.com", "https://status.anthropic.com"]


# -- faults ----------------------------------------------------------------------------------------
def _serve_all(httpserver: HTTPServer, **kwargs) -> None:
    for path in status_client.ENDPOINTS.values():
        httpserver.expect_request(path).respond_with_data(**kwargs)


FAULTS = {
    "http_500": dict(response_data="upstream error", status=500),
    "http_503": dict(response_data="", status=503),
    "html_instead_of_json": dict(response_data="<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>",
                                 content_type="text/html"),
    "invalid_json": dict(response_data='{"incidents": [{"id": "abc"', content_type="application/json"),
    "wrong_shape": dict(response_data='{"page": {}, "result": []}', content_type="application/json"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faults_fall_back_to_the_archive(fault: str, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
                                         ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    _serve_all(httpserver, **FAULTS[fault])
    sync = sp.sync_status(ledger)
    assert sync.origin == "archive"
    assert sync.faults and "unreachable" in sync.note and "archive" in sync.note
    assert ledger.scalar("SELECT COUNT(*) FROM incidents WHERE source = 'live'") == 0
    assert ledger.scalar("SELECT COUNT(*) FROM incidents WHERE source = 'archive'") == 705


def test_fault_with_a_cache_uses_the_cache_and_says_how_old(page: HTTPServer, ledger) -> None:
    assert sp.sync_status(ledger).origin == "live"
    page.clear()
    _serve_all(page, response_data="oops", status=502)
    sync = sp.sync_status(ledger, refresh=True)
    assert sync.origin == "cache"
    assert "HTTP 502" in sync.note and "cached copy" in sync.note and "just now" in sync.note
    assert sync.age_seconds is not None and sync.unresolved and sync.unresolved[0].incident_id == "4xvtc2gnq73l"


def test_huge_json_is_refused(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    monkeypatch.setattr(status_client, "MAX_BODY_BYTES", 50_000)
    padding = [P.LOGIN_INCIDENT] * 60  # a valid JSON document, just far too big
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(P.incidents_json(*padding))
    outcome = status_client.fetch_all(("incidents",))["incidents"]
    assert not outcome.ok and "larger than" in outcome.fault
    assert status_client.read_cache("incidents") is None


def test_connection_refused_is_quick_and_harmless(monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", f"http://127.0.0.1:{free_port()}")
    sync = sp.sync_status(ledger)
    assert sync.origin == "archive" and "cannot connect" in sync.note


def test_dns_failure_is_harmless(monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", "http://status.invalid")
    sync = sp.sync_status(ledger)
    assert sync.origin == "archive" and sync.faults


def test_a_stalled_server_never_holds_us_past_the_timeout(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
                                                         ledger) -> None:
    import threading

    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    release = threading.Event()
    hold = 4.0

    def slow(request: Request) -> Response:
        release.wait(hold)  # stalls until the test is done (the test server is shared and single-threaded)
        return Response(P.incidents_json(P.LOGIN_INCIDENT), content_type="application/json")

    httpserver.expect_request("/api/v2/incidents.json").respond_with_handler(slow)
    try:
        started = time.monotonic()
        outcome = status_client.fetch_all(("incidents",), timeout=0.5)["incidents"]
        waited = time.monotonic() - started
    finally:
        release.set()
    assert not outcome.ok and "timed out" in outcome.fault
    # Returned long before the server would have answered: the deadline, not the server, decided.
    assert waited < hold - 1.0


def test_incidents_with_missing_fields(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    sample = json.loads(SAMPLE.read_text())["incidents"][0]  # the trimmed real fixture: no id, no updates
    items = [{}, {"name": "no id at all"}, {"id": "abc123def456"}, "not an object",
             {"id": "zz9", "name": None, "incident_updates": [{"body": None}, "junk"], "components": [None, 3]},
             dict(sample, url="https://status.claude.com/incidents/4xvtc2gnq73l")]
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(json.dumps({"incidents": items}))
    for name in ("summary", "unresolved", "history"):
        httpserver.expect_request(status_client.ENDPOINTS[name]).respond_with_data("", status=404)
    sync = sp.sync_status(ledger)
    assert sync.origin == "live", sync.note
    ids = {r["incident_id"] for r in ledger.rows("SELECT incident_id FROM incidents WHERE source = 'live'")}
    assert ids == {"abc123def456", "zz9", "4xvtc2gnq73l"}
    row = ledger.rows("SELECT * FROM incidents WHERE incident_id = '4xvtc2gnq73l'")[0]
    assert json.loads(row["components"]) == ["Claude Code", "Claude API (api.anthropic.com)"]


def test_offline_sends_nothing(page: HTTPServer, ledger) -> None:
    sync = sp.sync_status(ledger, offline=True)
    assert page.log == []
    assert sync.origin == "archive" and sync.note.startswith("offline")


def test_fallback_order_cache_then_ledger_then_archive(page: HTTPServer, ledger) -> None:
    sp.sync_status(ledger)  # live: fills cache and ledger
    assert sp.sync_status(ledger, offline=True).origin == "cache"
    for f in (cache_dir() / "status").iterdir():
        f.unlink()
    ledger_only = sp.sync_status(ledger, offline=True)
    assert ledger_only.origin == "ledger" and "stored in the ledger" in ledger_only.note
    with open_ledger(Path(ledger.location).with_name("other.sqlite3")) as fresh:
        assert sp.sync_status(fresh, offline=True).origin == "archive"


def test_fresh_cache_is_used_without_asking(page: HTTPServer, ledger) -> None:
    sp.sync_status(ledger)
    asked = len(page.log)
    assert sp.sync_status(ledger).origin == "cache"
    assert len(page.log) == asked
    assert sp.sync_status(ledger, refresh=True).origin == "live"
    assert len(page.log) > asked


# -- ledger precedence and the archive -------------------------------------------------------------
def test_archive_is_idempotent_and_never_overrides_live(ledger_db: str) -> None:
    with open_ledger(ledger_db) as led:
        live = incident_from_statuspage(P.LOGIN_INCIDENT)
        assert sp.store_incidents(led, [live], "live") == 1
        assert sp.load_archive(led) == 705
        assert sp.load_archive(led) == 0  # same archive version: nothing to do
        sp.load_archive(led, force=True)
        row = led.rows("SELECT source, impact_start, name FROM incidents WHERE incident_id = '9l93x2ht4s5w'")[0]
        assert row["source"] == "live"
        assert led.scalar("SELECT COUNT(*) FROM incidents") == 705
        # an import overrides the archive, not the live row
        imported = incident_from_archive({"id": "8z7l5zcy0v3b", "name": "Renamed by import",
                                             "created_at": "2026-05-15T00:20:00Z", "resolved_at": None})
        other = incident_from_archive({"id": "9l93x2ht4s5w", "name": "Should not win",
                                          "created_at": "2026-04-28T17:00:00Z"})
        sp.store_incidents(led, [imported, other], "import")
        names = {r["incident_id"]: (r["name"], r["source"]) for r in
                 led.rows("SELECT incident_id, name, source FROM incidents WHERE incident_id IN (?, ?)",
                          ("8z7l5zcy0v3b", "9l93x2ht4s5w"))}
        assert names["8z7l5zcy0v3b"] == ("Renamed by import", "import")
        assert names["9l93x2ht4s5w"][1] == "live" and names["9l93x2ht4s5w"][0] != "Should not win"
        # the archive's resolved_at survives an import that lacks one
        assert led.scalar("SELECT resolved_at FROM incidents WHERE incident_id = '8z7l5zcy0v3b'") == \
            "2026-05-15T01:46:00.000Z"


def test_archive_alone_with_no_network(monkeypatch: pytest.MonkeyPatch, ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", f"http://127.0.0.1:{free_port()}")
    sync = sp.sync_status(ledger, offline=True)
    assert sync.origin == "archive" and sync.archive_incidents == 705
    incidents = {i.incident_id: i for i in sp.ledger_incidents(ledger)}
    founding = incidents["8z7l5zcy0v3b"]
    assert founding.name == "Elevated error rates on requests to some models"
    assert (founding.created_at, founding.resolved_at) == ("2026-05-15T00:18:00.000Z", "2026-05-15T01:46:00.000Z")
    assert founding.raw and founding.raw["sources"]  # each archive row keeps its sources
    assert incidents["lhws0phdvzz3"].impact_start == "2026-04-08T07:00:00.000Z"


# -- import ----------------------------------------------------------------------------------------
def _import(tmp_path: Path, name: str, text: str, db: Path) -> "object":
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(main, ["outages", "import", str(path), "--db", str(db), "--json"])


def test_import_statuspage_json(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    res = _import(tmp_path, "incidents.json", P.incidents_json(P.SONNET_INCIDENT, P.LOGIN_INCIDENT), db)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["format"] == "statuspage-incidents" and out["incidents"] == 2 and out["updates"] == 6
    with open_ledger(db) as led:
        assert led.scalar("SELECT source FROM incidents WHERE incident_id = 'lhws0phdvzz3'") == "import"


def test_import_summary_and_sample(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    res = _import(tmp_path, "summary.json", P.summary_json([P.OPEN_INCIDENT]), db)
    assert json.loads(res.output)["format"] == "statuspage-summary"
    res = _import(tmp_path, "sample.json", SAMPLE.read_text(), db)
    # the trimmed sample has neither id nor url: nothing can key it, and it says so
    assert res.exit_code == 0 and json.loads(res.output)["skipped"] == 1


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_import_history_feeds(kind: str, tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    text = (P.history_atom if kind == "atom" else P.history_rss)(P.LOGIN_INCIDENT, P.SONNET_INCIDENT)
    res = _import(tmp_path, f"history.{kind}", text, db)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["format"] == kind
    with open_ledger(db) as led:
        inc = {i.incident_id: i for i in sp.ledger_incidents(led)}
        login = inc["9l93x2ht4s5w"]
        assert login.source == "import" and login.name == "Claude.ai unavailable and elevated errors on the API"
        assert (login.impact_start, login.impact_end) == ("2026-04-28T17:34:00.000Z", "2026-04-28T18:52:00.000Z")
        assert {u.status for u in login.updates} >= {"resolved", "investigating"}
        assert inc["lhws0phdvzz3"].impact_end == "2026-04-08T09:50:00.000Z"


def test_export_round_trip(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    _import(tmp_path, "incidents.json", P.incidents_json(P.LOGIN_INCIDENT), src)
    res = CliRunner().invoke(main, ["outages", "--db", str(src), "--offline", "--json", "--no-ingest",
                                    "--since", "2026-04-01", "--until", "2026-04-30"])
    assert res.exit_code == 0, res.output
    exported = json.loads(res.output)
    assert exported["claimback"] == "outages"
    res = _import(tmp_path, "export.json", res.output, dst)
    assert res.exit_code == 0 and json.loads(res.output)["format"] == "claimback-export"
    with open_ledger(dst) as led:
        row = led.rows("SELECT name, impact_start, source FROM incidents WHERE incident_id = '9l93x2ht4s5w'")[0]
        assert row["impact_start"] == "2026-04-28T17:34:00.000Z" and row["source"] == "import"


@pytest.mark.parametrize("text", ["just some text", '{"hello": "world"}', "<html><body>hi</body></html>",
                                  "<?xml version='1.0'?><svg/>", "[1, 2, 3]"])
def test_import_unknown_format_is_bad_input(text: str, tmp_path: Path) -> None:
    path = tmp_path / "mystery.dat"
    path.write_text(text)
    res = CliRunner().invoke(main, ["outages", "import", str(path), "--db", str(tmp_path / "l.sqlite3")])
    assert res.exit_code == 2
    assert "Atom" in res.output or "Atom" in (res.stderr if hasattr(res, "stderr") else "")


def test_import_missing_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["outages", "import", str(tmp_path / "nope.json"), "--db", str(tmp_path / "l.db")])
    assert res.exit_code == 2 and "no such file" in res.output


def test_a_failed_page_is_not_asked_again_for_a_minute(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
                                                       ledger) -> None:
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    _serve_all(httpserver, response_data="", status=503)
    first = sp.sync_status(ledger)
    asked = len(httpserver.log)
    assert asked == len(status_client.ENDPOINTS) and "HTTP 503" in first.note
    again = sp.sync_status(ledger)  # e.g. `audit` then `loss` then `claim` in one run
    assert len(httpserver.log) == asked and again.origin == "archive" and "HTTP 503" in again.note
    sp.sync_status(ledger, refresh=True)  # an explicit --refresh always asks
    assert len(httpserver.log) == 2 * asked


def test_feed_and_json_updates_are_not_doubled(page: HTTPServer, ledger) -> None:
    sp.sync_status(ledger)  # the Atom feed and incidents.json both carry 9l93x2ht4s5w's four updates
    login = {i.incident_id: i for i in sp.ledger_incidents(ledger)}["9l93x2ht4s5w"]
    assert sorted(u.update_id for u in login.updates) == ["r1", "r2", "r3", "r4"]
