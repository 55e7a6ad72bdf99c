"""`claimback otel serve`: an OTLP/HTTP receiver for Claude Code telemetry, writing to the ledger.

Endpoints (OTLP/HTTP, protobuf or JSON, optionally gzip-compressed):
- `POST /v1/logs`: Claude Code's events; api_request / api_error / api_retries_exhausted are stored
  (sources/otel.py), everything else is acknowledged and dropped;
- `POST /v1/metrics`: decoded (so a broken sender hears about it) and acknowledged; nothing stored —
  the events carry everything the ledger needs;
- `GET /healthz`: liveness.
A bad payload gets HTTP 400 with the reason and the server keeps serving; a missing/wrong bearer token
401; a body over the limit 413; a ledger that cannot be written 503 (OTLP senders retry those).
Bodies come with a Content-Length or chunked (Claude Code 2.1.191-2.1.211 sent chunked ones); a body
shorter than declared, a malformed length or chunk, or a truncated gzip is refused, never stored torn.
Stdlib `ThreadingHTTPServer`; writes go through one ledger connection under a lock (SQLite has one
writer anyway; on PostgreSQL the advisory write lock orders us with concurrent ingesters).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import signal
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from claimback.errors import BadInput, ClaimbackError
from claimback.ledger.store import Ledger

DEFAULT_MAX_BODY = 8 * 1024 * 1024  # OTLP exporters batch ~512 records; real batches are far smaller


@dataclass
class ServerStats:
    batches: int = 0
    rejected: int = 0
    new_requests: int = 0
    new_failures: int = 0
    duplicates: int = 0
    ignored_records: int = 0
    metrics_batches: int = 0
    events: dict[str, int] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: OtelServer
    protocol_version = "HTTP/1.1"
    server_version = "claimback-otel"
    timeout = 60  # an idle keep-alive connection is closed after a minute

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.log:
            self.server.log(f"{self.address_string()} {format % args}")

    def _reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:  # the body was not read (too big, no length): this link is done
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _error(self, status: int, reason: str) -> None:
        # OTLP/HTTP carries errors as a google.rpc.Status; its JSON form is readable by people too.
        self._reply(status, json.dumps({"code": status, "message": reason}).encode())

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if self.path.split("?")[0] in ("/", "/healthz"):
            self._reply(200, b'{"status":"ok"}')
        else:
            self._error(404, f"no such endpoint {self.path.split('?')[0]} (POST /v1/logs or /v1/metrics)")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        path = self.path.split("?")[0]
        if path not in ("/v1/logs", "/v1/metrics"):
            self._drain()
            self._error(404, f"no such endpoint {path} (POST /v1/logs or /v1/metrics)")
            return
        if self.server.token and not self._authorized():
            self._drain()
            self._error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
            return
        body = self._read_body()
        if body is None:
            return
        content_type = self.headers.get("Content-Type", "application/x-protobuf")
        try:
            if path == "/v1/logs":
                self.server.receive_logs(body, content_type)
            else:
                self.server.receive_metrics(body, content_type)
        except BadInput as exc:
            self.server.count_rejected()
            self._error(400, str(exc))
            return
        except ClaimbackError as exc:
            self._error(503, f"the ledger cannot take this batch now: {exc}")
            return
        except Exception as exc:  # a database hiccup: tell the sender to retry, keep serving
            self._error(503, f"the ledger cannot take this batch now: {type(exc).__name__}")
            if self.server.log:
                self.server.log(f"error storing a batch: {type(exc).__name__}: {str(exc)[:200]}")
            return
        from claimback.sources.otel import logs_response

        payload, kind = logs_response(content_type)
        self._reply(200, payload, kind)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                                   self.server.token.encode())

    def _drain(self) -> None:
        """Read a small unwanted body so the connection stays usable; drop the link otherwise."""
        if self._chunked():
            self.close_connection = True  # not worth parsing a body we refuse anyway
            return
        length = self._length()
        if isinstance(length, int) and 0 < length <= self.server.max_body:
            self.rfile.read(length)
        elif length != 0:
            self.close_connection = True

    def _chunked(self) -> bool:
        return bool(self.headers.get("Transfer-Encoding"))

    def _length(self) -> int | str | None:
        """The declared length, None when absent, or why the header is unusable."""
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        distinct = {v.strip() for value in values for v in value.split(",")}
        if len(distinct) != 1:
            return "conflicting Content-Length values"
        text = distinct.pop()
        # int() would take '+5', ' 5', '-1' and '1_000'; HTTP allows digits only.
        if not text.isascii() or not text.isdigit():
            return f"Content-Length {text[:20]!r} is not a non-negative integer"
        return int(text)

    def _refuse(self, status: int, reason: str) -> None:
        """Refuse a body we did not (fully) read: the connection cannot carry another request."""
        self.close_connection = True
        self.server.count_rejected()
        self._error(status, reason)

    def _read_body(self) -> bytes | None:
        limit = self.server.max_body
        if self._chunked():
            coding = self.headers.get("Transfer-Encoding", "").strip().lower()
            if coding != "chunked":
                self._refuse(501, f"unsupported Transfer-Encoding {coding[:40]!r} (chunked only)")
                return None
            # A length beside chunked is ignored (RFC 9112 6.3) and the link closed after the reply,
            # so a body framed two ways can never smuggle a second request in.
            if self.headers.get("Content-Length") is not None:
                self.close_connection = True
            body = self._read_chunked(limit)
            if body is None:
                return None
        else:
            length = self._length()
            if length is None:
                self._refuse(411, "Content-Length (or Transfer-Encoding: chunked) is required")
                return None
            if isinstance(length, str):
                self._refuse(400, length)
                return None
            if length > limit:
                self._refuse(413, f"body of {length} bytes exceeds the limit of {limit} bytes")
                return None
            body = self.rfile.read(length)
            if len(body) < length:  # the sender hung up mid-body: never store a torn batch
                self._refuse(400, f"body ended after {len(body)} of {length} declared bytes")
                return None
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            self.server.count_rejected()
            self._error(400, f"unsupported Content-Encoding {encoding[:40]!r} (gzip or none)")
            return None
        try:
            return _gunzip(body, limit)
        except _TooLarge:
            self.server.count_rejected()
            self._error(413, f"decompressed body exceeds the limit of {limit} bytes")
            return None
        except (zlib.error, ValueError) as exc:
            self.server.count_rejected()
            self._error(400, f"body is not valid gzip: {exc}")
            return None

    def _read_chunked(self, limit: int) -> bytes | None:
        """Read a chunked body of at most `limit` bytes; None after replying with the reason."""
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE + 1)
            if not line.endswith(b"\n"):
                self._refuse(400, "over-long chunk-size line" if len(line) > _MAX_CHUNK_LINE
                             else "chunked body ended early")
                return None
            size_text = line.split(b";", 1)[0].strip()  # chunk extensions carry nothing for us
            if not size_text or len(size_text) > 16 or any(c not in _HEX for c in size_text):
                self._refuse(400, f"bad chunk size {size_text[:20].decode('latin-1')!r}")
                return None
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > limit:
                self._refuse(413, f"chunked body exceeds the limit of {limit} bytes")
                return None
            data = self.rfile.read(size)
            if len(data) < size or self.rfile.read(2) not in (b"\r\n",):
                self._refuse(400, "chunked body ended early or a chunk is not followed by CRLF")
                return None
            parts.append(data)
        # Trailer fields (ignored) up to the empty line; bounded like the headers themselves.
        for _ in range(_MAX_TRAILERS + 1):
            line = self.rfile.readline(_MAX_CHUNK_LINE + 1)
            if line in (b"\r\n", b"\n"):
                return b"".join(parts)
            if not line.endswith(b"\n"):
                break
        self._refuse(400, "chunked body's trailer section is unterminated or too long")
        return None


_MAX_CHUNK_LINE = 4096
_MAX_TRAILERS = 64
_HEX = frozenset(b"0123456789abcdefABCDEF")


class _TooLarge(Exception):
    pass


def _gunzip(body: bytes, limit: int) -> bytes:
    """Inflate every member of a gzip stream (RFC 1952 allows several) into at most `limit` bytes.

    Bounded per call, so a small bomb never takes the server's memory; a truncated member is an error
    rather than a silently shorter batch; zero padding after the last member is tolerated (as gzip(1)).
    """
    out: list[bytes] = []
    size = 0
    rest = body
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(rest, limit - size + 1)
        size += len(data)
        if size > limit or inflater.unconsumed_tail:
            raise _TooLarge
        if not inflater.eof:
            raise ValueError("truncated gzip member")
        out.append(data)
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            return b"".join(out)


class OtelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many senders flush at once (every Claude Code in a team at the export interval, or one after a
    # restart): socketserver's backlog of 5 dropped/reset connections beyond it. The kernel caps this
    # at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, ledger: Ledger, host: str, port: int, *, token: str | None = None,
                 max_body: int = DEFAULT_MAX_BODY, log: Callable[[str], None] | None = None,
                 reopen: Callable[[], Ledger] | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.ledger = ledger
        self.reopen = reopen  # how to reconnect after the database went away (restart, failover)
        self.token = token or ""
        self.max_body = max_body
        self.log = log
        self.stats = ServerStats()
        self._write_lock = threading.Lock()
        self.grpc_port: int | None = None  # set when OTLP/gRPC is served too

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def count_rejected(self) -> None:
        with self._write_lock:
            self.stats.rejected += 1

    def receive_logs(self, body: bytes, content_type: str) -> None:
        from claimback.sources.otel import parse_logs_request, events_from_request, store_events

        request = parse_logs_request(body, content_type)  # decode outside the lock
        events, _seen, ignored = events_from_request(request)
        with self._write_lock:
            self._reconnect_if_broken()
            try:
                result = store_events(self.ledger, events)
            except Exception:
                self._reconnect_if_broken()  # the sender retries a 503; the next try gets a fresh link
                raise
            s = self.stats
            s.batches += 1
            s.new_requests += result.new_requests
            s.new_failures += result.new_failures
            s.duplicates += result.duplicates
            s.ignored_records += ignored
            for name, n in result.events.items():
                s.events[name] = s.events.get(name, 0) + n

    def _reconnect_if_broken(self) -> None:
        conn = self.ledger.conn
        if self.reopen is None or not (getattr(conn, "broken", False) or getattr(conn, "closed", False)):
            return
        self.ledger.close()
        try:
            self.ledger = self.reopen()
            if self.log:
                self.log("reconnected to the ledger")
        except ClaimbackError as exc:  # still down: keep answering 503 until it is back
            if self.log:
                self.log(f"ledger still unavailable: {exc}")

    def receive_metrics(self, body: bytes, content_type: str) -> None:
        from claimback.sources.otel import parse_metrics_request

        parse_metrics_request(body, content_type)
        with self._write_lock:
            self.stats.metrics_batches += 1


def exposure_warning(host: str, token: str | None) -> str | None:
    """A loud warning when anyone on the network could write to the ledger, else None."""
    if token:
        return None
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return None
    try:
        if ipaddress.ip_address(name.split("%")[0]).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to any interface, so it gets the warning too
    where = "every interface" if name in ("", "0.0.0.0", "::") else host
    return (f"WARNING: listening on {where} without --token: anyone who can reach this port can write "
            f"requests and failures into your ledger (and your claim). Set --token or "
            f"CLAIMBACK_OTEL_TOKEN, or bind 127.0.0.1.")


def serve(ledger: Ledger, host: str = "127.0.0.1", port: int = 4318, *, token: str | None = None,
          max_body: int = DEFAULT_MAX_BODY, ready: Callable[[OtelServer], None] | None = None,
          log: Callable[[str], None] | None = None, reopen: Callable[[], Ledger] | None = None,
          grpc_port: int | None = None) -> ServerStats:
    """Serve until SIGTERM/SIGINT; returns what was received. Runs in the calling (main) thread.
    With `grpc_port`, OTLP over gRPC is served too, into the same receiver (sources/otel_grpc.py)."""
    try:
        server = OtelServer(ledger, host, port, token=token, max_body=max_body, log=log, reopen=reopen)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    grpc_server = None
    if grpc_port is not None:
        from claimback.sources.otel_grpc import start_grpc

        try:
            grpc_server, server.grpc_port = start_grpc(server, host, grpc_port)
        except BaseException:
            server.server_close()
            raise
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever to return, so it must not run on the serving thread.
        if not stop.is_set():
            stop.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready:
            ready(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if grpc_server is not None:
            grpc_server.stop(grace=2).wait()  # in-flight gRPC batches finish before the ledger closes
        server.server_close()
        # Handler threads are daemons (idle keep-alive connections must not hold up shutdown); a
        # batch being written holds the lock, so taking it once lets that batch commit first.
        with server._write_lock:
            server.ledger.close()  # the caller's ledger, or the one a reconnect opened
    return server.stats
