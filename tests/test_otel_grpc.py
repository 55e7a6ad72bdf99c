"""OTLP over gRPC: the real OpenTelemetry SDK's gRPC log exporter against `otel serve --grpc`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("grpc", reason="grpcio not installed (pip install 'claimback[grpc]')")
pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc", reason="the SDK's gRPC exporter is not installed")

from test_otel import TOKEN, api_error, api_request, emit_claude_events, exhausted, rows  # noqa: E402

from claimback.ledger import open_ledger  # noqa: E402
from claimback.sources.otel_grpc import start_grpc  # noqa: E402
from claimback.sources.otel_server import OtelServer  # noqa: E402


@pytest.fixture
def grpc_receiver(ledger_db: str) -> Iterator[tuple[OtelServer, int]]:
    ledger = open_ledger(ledger_db)
    server = OtelServer(ledger, "127.0.0.1", 0, token=TOKEN, max_body=256 * 1024)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    grpc_server, port = start_grpc(server, "127.0.0.1", 0)
    try:
        yield server, port
    finally:
        grpc_server.stop(grace=1).wait()
        server.shutdown()
        server.server_close()
        ledger.close()


def grpc_export(port: int, events: list[tuple[str, dict[str, Any]]], *, token: str | None = TOKEN) -> Any:
    """Claude Code's OTEL_EXPORTER_OTLP_PROTOCOL=grpc path: the SDK's gRPC exporter, insecure, to 127.0.0.1."""
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code", "service.version": "2.1.150"}))
    exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True, timeout=10,
                               headers=(("authorization", f"Bearer {token}"),) if token else None)
    results: list[Any] = []
    original = exporter.export

    def keep(batch: Any) -> Any:
        results.append(original(batch))
        return results[-1]

    exporter.export = keep  # type: ignore[method-assign]
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    emit_claude_events(provider, events)
    return results


def test_sdk_grpc_exporter_events_become_requests_and_failures(grpc_receiver) -> None:
    server, port = grpc_receiver
    # one failed request as the client reports it once it gives up: api_error + api_retries_exhausted
    results = grpc_export(port, [
        api_request("req_011G", "2026-05-15T00:58:12.345Z"),
        api_error("req_011H", "2026-05-15T01:12:00.000Z", 11),
        exhausted("2026-05-15T01:12:00.000Z"),
    ])
    assert results and all(r.name == "SUCCESS" for r in results)
    reqs = rows(server, "SELECT request_id, input_tokens, output_tokens, origin FROM requests")
    assert reqs == [{"request_id": "req_011G", "input_tokens": 12, "output_tokens": 340, "origin": "otel"}]
    fails = rows(server, "SELECT kind, status, failure_class, attempt, request_id FROM failures ORDER BY ts")
    assert fails == [{"kind": "final", "status": 529, "failure_class": "outage", "attempt": 11,
                      "request_id": "req_011H"}]  # the same rows the OTLP/HTTP path stores (test_otel.py)
    assert server.stats.events == {"api_request": 1, "api_error": 1, "api_retries_exhausted": 1}
    # the same batch again (an exporter retry) stores nothing new
    grpc_export(port, [api_request("req_011G", "2026-05-15T00:58:12.345Z")])
    assert len(rows(server, "SELECT request_id FROM requests")) == 1


def test_grpc_wants_the_token_and_rejects_garbage(grpc_receiver) -> None:
    import grpc

    server, port = grpc_receiver
    results = grpc_export(port, [api_request("req_nope", "2026-05-15T00:58:12.345Z")], token="wrong")
    assert results and all(r.name == "FAILURE" for r in results)
    assert rows(server, "SELECT request_id FROM requests") == []
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        with pytest.raises(grpc.RpcError) as bad:
            call(b"\xff\xff not protobuf", metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=10)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        metrics = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
        assert metrics(b"", metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=10) == b""
    assert server.stats.rejected == 1 and server.stats.metrics_batches == 1


def test_cli_serves_grpc_and_http_and_stops_on_sigterm(tmp_path) -> None:
    db = tmp_path / "ledger.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "claimback", "otel", "serve", "--port", "0", "--grpc",
                             "--grpc-port", "0", "--db", str(db), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        line = proc.stderr.readline()
        assert "and gRPC on 127.0.0.1:" in line, line
        port = int(line.split("and gRPC on 127.0.0.1:")[1].split(" ")[0])
        grpc_export(port, [api_request("req_cli", "2026-05-15T00:58:12.345Z")], token=None)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out)["new_requests"] == 1
    with open_ledger(db) as ledger:
        assert ledger.scalar("SELECT request_id FROM requests") == "req_cli"
