"""The OTLP receiver, fed by the real OpenTelemetry SDK log exporter (and raw OTLP/JSON and protobuf
requests), on both ledger backends; plus the CLI server's clean SIGTERM shutdown."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto not installed")
pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk not installed")

from claimback.ledger import open_ledger  # noqa: E402
from claimback.ledger.ingest import ingest  # noqa: E402
from claimback.sources.otel_server import OtelServer  # noqa: E402
from records import SESSION, assistant, final_error, retry, user_prompt, write  # noqa: E402

TOKEN = "s3cret-team-token"


@pytest.fixture
def receiver(ledger_db: str) -> Iterator[OtelServer]:
    ledger = open_ledger(ledger_db)
    server = OtelServer(ledger, "127.0.0.1", 0, token=TOKEN, max_body=256 * 1024)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        ledger.close()


def sdk_export(url: str, events: list[tuple[str, dict[str, Any]]], *, token: str | None = TOKEN,
               resource: dict[str, Any] | None = None, gzip_body: bool = False) -> None:
    """Send events the way Claude Code does: OTLP/HTTP protobuf log records from an SDK exporter."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create(
        {"service.name": "claude-code", "service.version": "2.1.150", **(resource or {})}))
    exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs", timeout=10,
                               headers={"Authorization": f"Bearer {token}"} if token else None,
                               compression=Compression.Gzip if gzip_body else Compression.NoCompression)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    emit_claude_events(provider, events)


def emit_claude_events(provider: Any, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Emit `events` as Claude Code's event logger does (body and event.name as 2.1.x sends them),
    then flush and shut the provider down (its exporter sends what is left)."""
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.1.150")
    for name, attributes in events:
        logger.emit(body=f"claude_code.{name}", event_name=f"claude_code.{name}",
                    attributes={"event.name": name, **attributes})
    provider.force_flush()
    provider.shutdown()


def api_request(request_id: str | None, ts: str, *, session: str = SESSION, inp: Any = 12, out: Any = 340,
                cr: Any = 9000, cw: Any = 400, seq: int = 1, email: str = "dana@example.com") -> tuple:
    attrs = {"session.id": session, "user.email": email, "user.account_uuid": "acct-" + email,
             "event.timestamp": ts, "event.sequence": seq, "model": "claude-opus-4-6", "cost_usd": 0.0421,
             "duration_ms": 8123, "input_tokens": inp, "output_tokens": out, "cache_read_tokens": cr,
             "cache_creation_tokens": cw, "speed": "normal", "query_source": "repl_main_thread"}
    if request_id:
        attrs["request_id"] = request_id
    return ("api_request", attrs)


def api_error(request_id: str | None, ts: str, attempt: int, *, status: int | None = 529,
              session: str = SESSION, email: str = "dana@example.com", client_id: str | None = None) -> tuple:
    """One failed request as Claude Code reports it: once, after giving up, `attempt` = total attempts."""
    attrs = {"session.id": session, "user.email": email, "event.timestamp": ts, "event.sequence": attempt,
             "prompt.id": "6432e0a1-e314-4b15-addb-d764def65023", "model": "claude-opus-4-6",
             "error": "Overloaded", "duration_ms": 2100, "attempt": attempt}
    if status is not None:
        attrs["status_code"] = status
    if request_id:
        attrs["request_id"] = request_id
    if client_id:
        attrs["client_request_id"] = client_id
    return ("api_error", attrs)


def exhausted(ts: str, *, total: int = 11, status: int = 529, session: str = SESSION,
              email: str = "dana@example.com") -> tuple:
    """Sent beside the api_error of the same failure (same event.timestamp), without a request id."""
    return ("api_retries_exhausted", {"session.id": session, "user.email": email, "event.timestamp": ts,
                                      "prompt.id": "6432e0a1-e314-4b15-addb-d764def65023",
                                      "model": "claude-opus-4-6", "error": "Overloaded",
                                      "status_code": status, "total_attempts": total,
                                      "total_retry_duration_ms": 312000})


def rows(server: OtelServer, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    with server._write_lock:
        return server.ledger.rows(sql, params)


def test_sdk_exporter_events_become_requests_and_failures(receiver):
    sdk_export(receiver.url, [
        api_request("req_011A", "2026-05-15T00:58:12.345Z"),
        api_request("req_011B", "2026-05-15T00:59:00.000Z", inp="7", out="55", cr="0", cw="0", seq=2),
        api_error("req_011C", "2026-05-15T01:12:00.000Z", 11),
        exhausted("2026-05-15T01:12:00.000Z", total=11),
        # No response at all (connection lost): no request id, the client's own id keys it.
        api_error(None, "2026-05-15T01:13:40.000Z", 2, status=None, client_id="c0ffee00-1111-4222-8333-444455556666"),
        ("tool_result", {"tool_name": "Read", "success": "true"}),  # not ours: acknowledged, dropped
    ], resource={"host.name": "dana-laptop"})
    reqs = rows(receiver, "SELECT * FROM requests ORDER BY ts")
    assert [(r["request_id"], r["input_tokens"], r["output_tokens"], r["cache_read_tokens"],
             r["cache_creation_tokens"], r["origin"], r["session_id"]) for r in reqs] == [
        ("req_011A", 12, 340, 9000, 400, "otel", SESSION), ("req_011B", 7, 55, 0, 0, "otel", SESSION)]
    assert reqs[0]["ts"] == "2026-05-15T00:58:12.345Z" and reqs[0]["cost_usd"] == pytest.approx(0.0421)
    fails = rows(receiver, "SELECT failure_key, kind, status, failure_class, attempt, max_attempts, request_id, "
                           "origin FROM failures ORDER BY ts")
    # One failure is one row (api_retries_exhausted is the same failure), its attempts are all counted.
    assert fails == [
        {"failure_key": "otel:final:req_011C", "kind": "final", "status": 529, "failure_class": "outage",
         "attempt": 11, "max_attempts": 11, "request_id": "req_011C", "origin": "otel"},
        {"failure_key": "otel:final:client:c0ffee00-1111-4222-8333-444455556666", "kind": "final",
         "status": None, "failure_class": "outage", "attempt": 2, "max_attempts": 2, "request_id": None,
         "origin": "otel"},
    ]
    machines = rows(receiver, "SELECT machine_id, user_label FROM machines")
    assert len(machines) == 1 and machines[0]["user_label"] == "dana@example.com"
    assert {r["machine_id"] for r in reqs} == {machines[0]["machine_id"]}
    assert receiver.stats.events == {"api_request": 2, "api_error": 2, "api_retries_exhausted": 1}
    assert receiver.stats.ignored_records == 1


def test_resent_batches_and_gzip_bodies_store_once(receiver):
    batch = [api_request("req_1", "2026-05-15T00:58:12.345Z"), api_error("req_2", "2026-05-15T01:06:20.000Z", 1)]
    sdk_export(receiver.url, batch, gzip_body=True)
    sdk_export(receiver.url, batch)  # an exporter retry after a lost response
    assert rows(receiver, "SELECT COUNT(*) AS n FROM requests")[0]["n"] == 1
    assert rows(receiver, "SELECT COUNT(*) AS n FROM failures")[0]["n"] == 1
    assert receiver.stats.duplicates == 2


def test_sender_labels_win_and_name_the_machine(receiver):
    sdk_export(receiver.url, [api_request("req_9", "2026-05-15T00:58:12.345Z")],
               resource={"claimback.user": "dana", "claimback.machine_id": "0123abcd0123abcd"})
    assert rows(receiver, "SELECT machine_id, user_label FROM machines") == [
        {"machine_id": "0123abcd0123abcd", "user_label": "dana"}]


def otlp_json(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}  # OTLP/JSON: 64-bit integers as strings
        if isinstance(v, float):
            return {"doubleValue": v}
        return {"stringValue": str(v)}

    records = [{"timeUnixNano": "1778806692345000000", "body": {"stringValue": f"claude_code.{name}"},
                "attributes": [{"key": k, "value": value(v)} for k, v in {"event.name": name, **attrs}.items()]}
               for name, attrs in events]
    return json.dumps({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}]}]}).encode()


def test_otlp_json_is_accepted(receiver):
    body = otlp_json([api_request("req_json", "2026-05-15T00:58:12.345Z", inp=21),
                      api_error("req_jerr", "2026-05-15T01:06:20.000Z", 3, status=500)])
    reply = httpx.post(f"{receiver.url}/v1/logs", content=body, timeout=10,
                       headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    assert rows(receiver, "SELECT request_id, input_tokens FROM requests") == [
        {"request_id": "req_json", "input_tokens": 21}]
    assert rows(receiver, "SELECT status, attempt FROM failures") == [{"status": 500, "attempt": 3}]


def test_bad_requests_get_reasons_and_the_server_keeps_serving(receiver):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{receiver.url}/v1/logs"
    with httpx.Client(timeout=10) as client:
        bad_proto = client.post(url, content=b"\xff\xff\xff\xff not protobuf",
                                headers={"Content-Type": "application/x-protobuf", **auth})
        assert bad_proto.status_code == 400 and "protobuf" in bad_proto.json()["message"]
        bad_json = client.post(url, content=b'{"resourceLogs": 7}',
                               headers={"Content-Type": "application/json", **auth})
        assert bad_json.status_code == 400 and "OTLP/JSON" in bad_json.json()["message"]
        bad_type = client.post(url, content=b"x", headers={"Content-Type": "text/plain", **auth})
        assert bad_type.status_code == 400 and "Content-Type" in bad_type.json()["message"]
        bad_gzip = client.post(url, content=b"not gzip", headers={
            "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **auth})
        assert bad_gzip.status_code == 400
        no_token = client.post(url, content=b"", headers={"Content-Type": "application/x-protobuf"})
        assert no_token.status_code == 401
        wrong_token = client.post(url, content=b"", headers={"Authorization": "Bearer nope"})
        assert wrong_token.status_code == 401
        too_big = client.post(url, content=b"\0" * (300 * 1024), headers=auth)
        assert too_big.status_code == 413 and "limit" in too_big.json()["message"]
    bomb = gzip.compress(b"\0" * (2 * 1024 * 1024))  # small on the wire, over the limit inflated
    reply = httpx.post(url, content=bomb, timeout=10, headers={
        "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip", **auth})
    assert reply.status_code == 413
    assert httpx.post(f"{receiver.url}/v1/nope", content=b"", headers=auth, timeout=10).status_code == 404
    # Still serving: a good batch after all that is stored.
    sdk_export(receiver.url, [api_request("req_after", "2026-05-15T02:00:00.000Z")])
    assert rows(receiver, "SELECT request_id FROM requests") == [{"request_id": "req_after"}]
    assert receiver.stats.rejected >= 6


def test_metrics_are_accepted_and_not_stored(receiver):
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

    body = metrics_service_pb2.ExportMetricsServiceRequest().SerializeToString()
    reply = httpx.post(f"{receiver.url}/v1/metrics", content=body, timeout=10, headers={
        "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200 and receiver.stats.metrics_batches == 1
    assert rows(receiver, "SELECT COUNT(*) AS n FROM requests")[0]["n"] == 0


def test_telemetry_and_transcript_rows_of_one_request_count_once(receiver, tmp_path):
    """Both orders: telemetry first then the transcript, and the transcript first then telemetry."""
    projects = tmp_path / "projects"
    write(projects / "app" / f"{SESSION}.jsonl", [
        assistant("msg_1", "req_both_1", "2026-05-15T00:58:12.345Z", inp=12, out=340, cr=9000, cw=400),
        retry("2026-05-15T01:06:20.000Z", 1),  # its requestID is req_retry_1
    ])
    # Telemetry for req_both_1 and the retry arrives before anyone ingests the transcript ...
    sdk_export(receiver.url, [api_request("req_both_1", "2026-05-15T00:58:12.345Z"),
                              api_error("req_retry_1", "2026-05-15T01:06:20.000Z", 1),
                              api_request("req_only_otel", "2026-05-15T00:59:30.000Z")])
    assert rows(receiver, "SELECT COUNT(*) AS n FROM requests")[0]["n"] == 2
    with receiver._write_lock:
        ingest(receiver.ledger, [projects], machine="laptop")
    by_origin = rows(receiver, "SELECT request_id, origin FROM requests ORDER BY request_id")
    assert by_origin == [{"request_id": "req_both_1", "origin": "transcript"},
                         {"request_id": "req_only_otel", "origin": "otel"}]
    assert rows(receiver, "SELECT request_id, origin FROM failures") == [
        {"request_id": "req_retry_1", "origin": "transcript"}]
    # ... and telemetry re-sent after the transcript is in adds nothing either.
    sdk_export(receiver.url, [api_request("req_both_1", "2026-05-15T00:58:12.345Z"),
                              api_error("req_retry_1", "2026-05-15T01:06:20.000Z", 1)])
    assert rows(receiver, "SELECT COUNT(*) AS n FROM requests")[0]["n"] == 2
    assert rows(receiver, "SELECT COUNT(*) AS n FROM failures")[0]["n"] == 1


def _with(event: tuple, **attrs: Any) -> tuple:
    name, base = event
    return (name, {**base, **attrs})


AGENT = "a5b284838ef8b8d18"  # a subagent's id as 2.1.332 writes it (17 characters, leading "a")


def test_telemetry_of_a_compaction_the_transcript_records_under_another_id_counts_once(receiver, tmp_path):
    """2.1.332 on a subagent refused as too large (400 "prompt is too long"): telemetry has one api_error
    for the refusal and, when the compaction meant to recover it meets 529s, one more for the compaction's
    last attempt (query_source "compact", its own request id); the transcript has neither id: the
    recovered refusal is an attempt of no id, the failed compaction the subagent's final under the refused
    request's id. Once the transcript is in, each failure counts once, as the transcript says."""
    recovered, failed = "0b1c2d3e-0000-4000-8000-000000000001", "0b1c2d3e-0000-4000-8000-000000000002"
    projects = tmp_path / "projects"
    write(projects / "app" / failed / "subagents" / f"agent-{AGENT}.jsonl", [
        final_error("2026-05-15T01:10:04.150Z", "Prompt is too long · automatic compaction failed: API Error: "
                    "529 Overloaded. This is a server-side issue, usually temporary — try again.",
                    error="invalid_request", status=400, session=failed, agent_id=AGENT)])
    refusal = dict(status=400, error="prompt is too long: 212000 tokens > 200000 maximum",
                   query_source="agent:builtin:general-purpose", agent_id=AGENT)
    sdk_export(receiver.url, [
        _with(api_error("req_refused_a", "2026-05-15T01:00:00.917Z", 1, session=recovered), **refusal),
        _with(api_error("req_refused_b", "2026-05-15T01:10:00.025Z", 1, session=failed), **refusal),
        _with(api_error("req_compact_last", "2026-05-15T01:10:04.132Z", 4, session=failed),
              query_source="compact", agent_id=AGENT)])
    assert rows(receiver, "SELECT COUNT(*) AS n FROM failures")[0]["n"] == 3  # telemetry alone: three finals
    # The recovered subagent's transcript: its tool turn, then the compaction's summary answer (the refused
    # request has no record; claimback files it as an attempt of no id, the refusal's class).
    write(projects / "app" / recovered / "subagents" / f"agent-{AGENT}.jsonl", [
        user_prompt("SUBTASK-GAMMA: list the risks", "2026-05-15T00:59:59.500Z", session=recovered,
                    sidechain=True, agent_id=AGENT),
        {**assistant("msg_tool", "req_tool", "2026-05-15T00:59:59.800Z", session=recovered, sidechain=True,
                     agent_id=AGENT, content=[{"type": "tool_use", "id": "toolu_1", "name": "Read",
                                               "input": {"file_path": "/home/u/app/risks.txt"}}])},
        {"type": "user", "isSidechain": True, "agentId": AGENT, "sessionId": recovered, "uuid": "tr-1",
         "timestamp": "2026-05-15T00:59:59.900Z", "message": {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": "toolu_1", "content": "risk: the demo laptop"}]}},
        {"type": "api-request", "sessionId": recovered, "agentId": AGENT, "id": "ar-1",
         "timestamp": "2026-05-15T01:00:00.900Z", "version": "2.1.332", "params": {"model": "claude-opus-4-6"}},
        {"type": "system", "subtype": "compact_boundary", "isSidechain": True, "agentId": AGENT,
         "sessionId": recovered, "uuid": "cb-1", "timestamp": "2026-05-15T01:00:01.500Z",
         "content": "Conversation compacted", "compactMetadata": {"trigger": "auto", "preTokens": 212000}},
        {"type": "api-request", "sessionId": recovered, "agentId": AGENT, "id": "ar-2",
         "timestamp": "2026-05-15T01:00:01.600Z", "version": "2.1.332", "params": {"model": "claude-opus-4-6"}},
        assistant("msg_after", "req_after_compact", "2026-05-15T01:00:02.000Z", session=recovered,
                  sidechain=True, agent_id=AGENT),
    ])
    with receiver._write_lock:
        ingest(receiver.ledger, [projects], machine="laptop")
    failures = rows(receiver, "SELECT session_id, kind, origin, failure_class FROM failures ORDER BY session_id")
    assert [(f["session_id"], f["origin"]) for f in failures] == [(recovered, "transcript"), (failed, "transcript")]
    assert [f["kind"] for f in failures if f["session_id"] == failed] == ["final"]


def test_a_subagents_events_are_its_runs_rows(receiver):
    """2.1.332 names the subagent in its events (`agent_id`, query_source `agent:builtin:…`)."""
    sdk_export(receiver.url, [
        _with(api_request("req_sub", "2026-05-15T01:00:00.100Z"), agent_id=AGENT,
              query_source="agent:builtin:general-purpose"),
        api_request("req_main", "2026-05-15T01:00:01.100Z"),
        _with(api_error("req_sub_529", "2026-05-15T01:00:05.000Z", 4), agent_id=AGENT)])
    assert rows(receiver, "SELECT request_id, agent_id, is_sidechain FROM requests ORDER BY request_id") == [
        {"request_id": "req_main", "agent_id": None, "is_sidechain": 0},
        {"request_id": "req_sub", "agent_id": AGENT, "is_sidechain": 1}]
    assert rows(receiver, "SELECT request_id, agent_id, is_sidechain FROM failures") == [
        {"request_id": "req_sub_529", "agent_id": AGENT, "is_sidechain": 1}]


def test_a_failure_without_a_request_id_is_matched_across_a_minute_boundary(receiver, tmp_path):
    """A subagent's connection lost mid-stream: telemetry's api_error (no request id, no response came) a
    few milliseconds before the transcript's final, the two readings either side of a minute; and a
    telemetry failure of the same session minutes away, which the transcript does not record, stays."""
    projects = tmp_path / "projects"
    write(projects / "app" / SESSION / "subagents" / f"agent-{AGENT}.jsonl", [
        final_error("2026-05-15T01:00:00.001Z", "API Error: Connection to the API was lost (ECONNRESET). "
                    "This is usually temporary — try again.", status=None, agent_id=AGENT)])
    lost = dict(error="ECONNRESET: The socket connection was closed unexpectedly.", agent_id=AGENT)
    sdk_export(receiver.url, [_with(api_error(None, "2026-05-15T00:59:59.998Z", 1, status=None), **lost),
                              _with(api_error(None, "2026-05-15T01:07:30.000Z", 1, status=None), **lost)])
    with receiver._write_lock:
        ingest(receiver.ledger, [projects], machine="laptop")
    assert rows(receiver, "SELECT ts, origin FROM failures ORDER BY ts") == [
        {"ts": "2026-05-15T01:00:00.001Z", "origin": "transcript"},
        {"ts": "2026-05-15T01:07:30.000Z", "origin": "otel"}]


def test_cli_server_stops_cleanly_on_sigterm(tmp_path):
    db = tmp_path / "ledger.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "claimback", "otel", "serve", "--port", "0", "--db", str(db),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})
    try:
        line = proc.stderr.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.split("listening on ")[1].split(" ")[0]
        sdk_export(url, [api_request("req_sig", "2026-05-15T00:58:12.345Z")], token=None)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    stats = json.loads(out)
    assert stats["new_requests"] == 1 and stats["batches"] == 1
    with open_ledger(db) as ledger:
        assert ledger.scalar("SELECT request_id FROM requests") == "req_sig"


def test_cli_refuses_a_busy_port_with_one_line(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "claimback", "otel", "serve", "--port", str(port),
                                 "--db", str(tmp_path / "l.sqlite3")], capture_output=True, text=True,
                                timeout=30)
    assert result.returncode == 2 and "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr




def test_receiver_reconnects_after_the_database_drops_it(pg_url):
    import psycopg

    ledger = open_ledger(pg_url)
    server = OtelServer(ledger, "127.0.0.1", 0, reopen=lambda: open_ledger(pg_url))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        sdk_export(server.url, [api_request("req_before", "2026-05-15T00:58:12.345Z")], token=None)
        # A database restart or failover: the server's connection is cut.
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        body = otlp_json([api_request("req_after", "2026-05-15T01:58:12.345Z")])
        headers = {"Content-Type": "application/json"}
        first = httpx.post(f"{server.url}/v1/logs", content=body, headers=headers, timeout=10)
        assert first.status_code in (200, 503)  # 503 tells the exporter to retry
        if first.status_code == 503:
            assert httpx.post(f"{server.url}/v1/logs", content=body, headers=headers, timeout=10).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
        server.ledger.close()
    with open_ledger(pg_url) as check:
        assert sorted(r["request_id"] for r in check.rows("SELECT request_id FROM requests")) == [
            "req_after", "req_before"]
