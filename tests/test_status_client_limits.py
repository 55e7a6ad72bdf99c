"""The status client against a hostile status server (issue 15 item 6): no redirect to another host, one
content-encoding layer at most with a bounded decode, and never the credentials in CLAIMBACK_STATUS_URL
printed or stored. A real local HTTP server (pytest-httpserver)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from claimback.cli import main
from claimback.sources.status_client import MAX_BODY_BYTES, fetch_all, public_url

UNRESOLVED = "/api/v2/incidents/unresolved.json"
BODY = json.dumps({"page": {"id": "p"}, "incidents": []}).encode()


def test_a_redirect_to_another_host_is_refused_and_one_to_the_same_host_followed(httpserver: HTTPServer,
                                                                                   monkeypatch):
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    # localhost -> 127.0.0.1 is another host by name (the same socket here, so a followed one would show)
    elsewhere = f"http://127.0.0.1:{httpserver.port}/elsewhere.json"
    httpserver.expect_request(UNRESOLVED).respond_with_data("", status=302, headers={"Location": elsewhere})
    httpserver.expect_request("/elsewhere.json").respond_with_data(BODY, content_type="application/json")
    outcome = fetch_all(("unresolved",))["unresolved"]
    assert not outcome.ok and "redirect to another host" in outcome.fault
    assert all(req.path != "/elsewhere.json" for req, _ in httpserver.log)
    httpserver.clear()
    httpserver.expect_request(UNRESOLVED).respond_with_data("", status=301, headers={"Location": "/moved.json"})
    httpserver.expect_request("/moved.json").respond_with_data(BODY, content_type="application/json")
    assert fetch_all(("unresolved",))["unresolved"].ok


def test_two_content_encoding_layers_are_refused_and_one_is_decoded_within_the_cap(httpserver: HTTPServer,
                                                                                   monkeypatch):
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(UNRESOLVED).respond_with_data(
        gzip.compress(gzip.compress(BODY)), headers={"Content-Encoding": "gzip, gzip"},
        content_type="application/json")
    outcome = fetch_all(("unresolved",))["unresolved"]
    assert not outcome.ok and "content-encoding layers" in outcome.fault
    httpserver.clear()
    httpserver.expect_request(UNRESOLVED).respond_with_data(
        gzip.compress(BODY), headers={"Content-Encoding": "gzip"}, content_type="application/json")
    assert fetch_all(("unresolved",))["unresolved"].data == json.loads(BODY)
    httpserver.clear()
    bomb = gzip.compress(b" " * (MAX_BODY_BYTES * 4), compresslevel=9)  # ~32 KB on the wire
    httpserver.expect_request(UNRESOLVED).respond_with_data(bomb, headers={"Content-Encoding": "gzip"},
                                                            content_type="application/json")
    outcome = fetch_all(("unresolved",))["unresolved"]
    assert not outcome.ok and "larger than" in outcome.fault


def test_credentials_in_the_status_url_are_never_printed_or_stored(httpserver: HTTPServer, monkeypatch,
                                                                   isolated_home: Path):
    base = httpserver.url_for("").rstrip("/").replace("http://", "http://ops:Pa55-w0rd-xyz@")
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", base)
    assert "Pa55" not in public_url(base) and "ops" not in public_url(base)
    httpserver.expect_request(UNRESOLVED).respond_with_data("nope", status=503)
    runner = CliRunner()
    outputs = [runner.invoke(main, args).output for args in (
        ["outages", "status"], ["outages", "status", "--json"], ["doctor", "--no-ingest"])]
    httpserver.clear()
    httpserver.expect_request(UNRESOLVED).respond_with_data(BODY, content_type="application/json")
    outcome = fetch_all(("unresolved",))["unresolved"]
    assert outcome.ok and httpserver.log[-1][0].authorization.password == "Pa55-w0rd-xyz"  # still used
    outputs.append(json.dumps({"url": outcome.url, "fault": outcome.fault}))
    stored = [p.read_text(errors="replace") for p in isolated_home.rglob("*") if p.is_file()]
    for text in outputs + stored:
        assert "Pa55-w0rd-xyz" not in text
