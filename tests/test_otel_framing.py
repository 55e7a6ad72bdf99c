"""How the OTLP receiver reads request bodies off the wire, with real HTTP requests to a running receiver:
chunked bodies (Claude Code 2.1.191-2.1.211 sent them), malformed or short framing refused (never stored
torn), every member of a multi-member gzip, a backlog that queues a team's simultaneous flushes, and the
warning for a tokenless receiver on the network."""

from __future__ import annotations

import gzip
import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("opentelemetry.proto", reason="opentelemetry-proto not installed")

from claimback.ledger import open_ledger  # noqa: E402
from claimback.sources.otel_server import OtelServer, exposure_warning  # noqa: E402
from test_otel import TOKEN, api_error, api_request, otlp_json  # noqa: E402

AUTH = f"Authorization: Bearer {TOKEN}\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[OtelServer]:
    ledger = open_ledger(str(tmp_path / "ledger.sqlite3"))
    srv = OtelServer(ledger, "127.0.0.1", 0, token=TOKEN, max_body=64 * 1024)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        ledger.close()


def stored(srv: OtelServer) -> list[str]:
    with srv._write_lock:
        return [r["request_id"] for r in srv.ledger.rows("SELECT request_id FROM requests ORDER BY request_id")]


def raw(srv: OtelServer, head: str, body: bytes = b"", *, half_close: bool = False) -> tuple[int, str, bool]:
    """Send one hand-framed request; returns (status, reason text, whether the server closed the link)."""
    host, port = srv.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        text = response.read().decode()
        closed = response.getheader("Connection", "").lower() == "close"
        return response.status, text, closed


def post_head(extra: str, path: str = "/v1/logs") -> str:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{AUTH}{extra}")


def chunked(body: bytes, size: int = 7) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def test_chunked_bodies_are_stored_like_sized_ones(server):
    body = otlp_json([api_request("req_chunk_1", "2026-05-15T00:58:12.345Z")])

    def stream() -> Iterator[bytes]:  # httpx sends a generator body with Transfer-Encoding: chunked
        for i in range(0, len(body), 100):
            yield body[i:i + 100]

    with httpx.Client(timeout=10) as client:
        reply = client.post(f"{server.url}/v1/logs", content=stream(), headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 200, reply.text
        assert reply.request.headers.get("transfer-encoding") == "chunked"
        # gzip inside chunked, on the same keep-alive connection
        packed = gzip.compress(otlp_json([api_request("req_chunk_2", "2026-05-15T00:59:00.000Z")]))
        reply = client.post(f"{server.url}/v1/logs", content=iter([packed[:10], packed[10:]]), headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip", "Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 200, reply.text
    # chunk extensions and a trailer field, hand-framed
    body3 = otlp_json([api_request("req_chunk_3", "2026-05-15T01:00:00.000Z")])
    framed = chunked(body3).replace(b"\r\n", b";ext=1\r\n", 1)[:-2] + b"X-Trailer: y\r\n\r\n"
    status, text, _ = raw(server, post_head("Transfer-Encoding: chunked\r\n"), framed)
    assert status == 200, text
    assert stored(server) == ["req_chunk_1", "req_chunk_2", "req_chunk_3"]


def test_malformed_or_short_framing_is_refused_and_nothing_torn_is_stored(server):
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

    def proto(request_id: str) -> bytes:
        message = json_format.Parse(otlp_json([api_request(request_id, "2026-05-15T00:58:12.345Z")]),
                                    logs_service_pb2.ExportLogsServiceRequest())
        return message.SerializeToString()

    # Two serialized requests concatenated are one valid request: a sender that hung up after the first
    # half sent a parseable prefix. It must be refused as short, not stored as half a batch.
    whole = proto("req_torn_a") + proto("req_torn_b")
    half = proto("req_torn_a")
    pb = post_head(f"Content-Length: {len(whole)}\r\n").replace("application/json", "application/x-protobuf")
    status, text, closed = raw(server, pb, half, half_close=True)
    assert (status, closed) == (400, True) and "declared" in text

    cases = {
        "Content-Length: -5\r\n": 400,
        "Content-Length: +5\r\n": 400,
        "Content-Length: 5\r\nContent-Length: 6\r\n": 400,
        "Content-Length: 5x\r\n": 400,
        "": 411,  # neither a length nor chunked
        "Transfer-Encoding: gzip, chunked\r\n": 501,
    }
    for extra, expected in cases.items():
        status, text, closed = raw(server, post_head(extra), b"hello")
        assert (status, closed) == (expected, True), (extra, status, text)
    bad_chunks = [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"ffffffffffffffffff\r\n",
                  b"5\r\nhel", b"%x\r\n" % (65 * 1024) + b"a" * 100]
    for framed in bad_chunks:
        status, text, closed = raw(server, post_head("Transfer-Encoding: chunked\r\n"), framed, half_close=True)
        assert status in (400, 413) and closed, (framed[:20], status, text)
    status, _, _ = raw(server, post_head("Transfer-Encoding: chunked\r\n"), b"%x\r\n" % (65 * 1024), half_close=True)
    assert status == 413
    assert stored(server) == []
    # and it still serves
    body = otlp_json([api_request("req_after", "2026-05-15T02:00:00.000Z")])
    assert raw(server, post_head(f"Content-Length: {len(body)}\r\n"), body)[0] == 200
    assert stored(server) == ["req_after"]


def test_every_member_of_a_multi_member_gzip_is_read(server):
    body = otlp_json([api_request("req_gz_1", "2026-05-15T00:58:12.345Z"),
                      api_error("req_gz_2", "2026-05-15T01:06:20.000Z", 1)])
    cut = len(body) // 2
    packed = gzip.compress(body[:cut]) + gzip.compress(body[cut:])  # `cat a.gz b.gz`, as gzip(1) allows
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Authorization": f"Bearer {TOKEN}"}
    reply = httpx.post(f"{server.url}/v1/logs", content=packed, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text
    assert stored(server) == ["req_gz_1"]
    with server._write_lock:
        assert server.ledger.scalar("SELECT request_id FROM failures") == "req_gz_2"
    # a truncated member is refused, not read as a shorter batch
    other = gzip.compress(otlp_json([api_request("req_gz_3", "2026-05-15T00:59:00.000Z")]))
    reply = httpx.post(f"{server.url}/v1/logs", content=other[:-6], headers=headers, timeout=10)
    assert reply.status_code == 400 and "gzip" in reply.json()["message"]
    # members that together inflate past the limit are refused like one large member
    bomb = gzip.compress(b" " * (40 * 1024)) * 2
    assert httpx.post(f"{server.url}/v1/logs", content=bomb, headers=headers, timeout=10).status_code == 413
    assert stored(server) == ["req_gz_1"]


def test_256_clients_connecting_at_once_are_all_queued_and_answered(tmp_path):
    """The accept loop is not running while they connect: only the listen backlog can hold them."""
    ledger = open_ledger(str(tmp_path / "ledger.sqlite3"))
    srv = OtelServer(ledger, "127.0.0.1", 0)
    socks: list[socket.socket] = []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    try:
        for _ in range(256):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(srv.server_address[:2])
            socks.append(sock)
        deadline = time.monotonic() + 3
        pending = set(socks)
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(pending), [], 0.2)
            for sock in writable:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    pending.discard(sock)
        assert not pending, f"{len(pending)} of 256 connections were not accepted into the backlog"
        thread.start()
        replies: dict[socket.socket, bytes] = {}
        for sock in socks:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                replies[sock] = b""
            except OSError:
                pass  # reset: counted as unanswered below
        open_ = set(replies)
        deadline = time.monotonic() + 15
        while open_ and time.monotonic() < deadline:
            readable, _, _ = select.select(list(open_), [], [], 0.2)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                    replies.pop(sock)
                if not data:
                    open_.discard(sock)
                elif sock in replies:
                    replies[sock] += data
        answered = sum(r.startswith(b"HTTP/1.1 200") and r.endswith(b'{"status":"ok"}') for r in replies.values())
        assert answered == 256
    finally:
        for sock in socks:
            sock.close()
        if thread.is_alive():  # shutdown() waits forever for a loop that never started
            srv.shutdown()
        srv.server_close()
        ledger.close()


def test_a_tokenless_receiver_on_the_network_is_warned_about():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"):
        assert exposure_warning(host, None) is None, host
    for host in ("0.0.0.0", "::", "", "192.168.1.5", "laptop.local"):
        assert "WARNING" in (exposure_warning(host, None) or ""), host
        assert exposure_warning(host, "t0ken") is None


def test_cli_warns_loudly_before_listening_without_a_token(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "claimback", "otel", "serve", "--host", "0.0.0.0",
                             "--port", "0", "--db", str(tmp_path / "l.sqlite3")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CLAIMBACK_OTEL_TOKEN": ""})
    try:
        before: list[str] = []
        while not (line := proc.stderr.readline()).startswith("claimback otel: listening") and line:
            before.append(line)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "listening on" in line
    assert len(before) == 1 and "WARNING" in before[0] and "--token" in before[0], before
