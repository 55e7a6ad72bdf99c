"""`claimback otel serve`: an OTLP/HTTP receiver for Claude Code telemetry, writing to the ledger.

Endpoints (OTLP/HTTP, protobuf or JSON, optionally gzip-compressed):
- `POST /v1/logs`: Claude Code's events; api_request / api_error / api_retries_exhausted are stored
  (sources/otel.py), everything else is acknowledged and dropped;
- `POST /v1/metrics`: decoded (so a broken sender hears about it) and acknowledged; nothing stored —
  the events carry everything the ledger needs;
- `GET /healthz`: liveness.
A bad payload gets HTTP 400 with the reason and the server keeps serving; a missing/wrong bearer token
401; a body over the limit 413; a ledger that cannot be written 503 (OTLP senders retry those).
Stdlib `ThreadingHTTPServer`; writes go through one ledger connection under a lock (SQLite has one
writer anyway; on PostgreSQL the advisory write lock orders us with concurrent ingesters).
"""

from __future__ import annotations

import gzip
import hmac
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
        """Read a small unwanted body so the connection stays usable; drop it if large."""
        length = self._length()
        if length is not None and 0 < length <= self.server.max_body:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _length(self) -> int | None:
        try:
            return int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None

    def _read_body(self) -> bytes | None:
        limit = self.server.max_body
        length = self._length()
        if length is None:
            self.close_connection = True
            self._error(411, "Content-Length is required")
            return None
        if length > limit:
            self.close_connection = True  # do not read a body we refuse
            self.server.count_rejected()
            self._error(413, f"body of {length} bytes exceeds the limit of {limit} bytes")
            return None
        body = self.rfile.read(length)
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            self.server.count_rejected()
            self._error(400, f"unsupported Content-Encoding {encoding!r} (gzip or none)")
            return None
        try:
            # Bounded inflate: a small gzip bomb must not take the server's memory.
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(body, limit + 1)
            if len(data) > limit or inflater.unconsumed_tail:
                self.server.count_rejected()
                self._error(413, f"decompressed body exceeds the limit of {limit} bytes")
                return None
            return data
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            self.server.count_rejected()
            self._error(400, f"body is not valid gzip: {exc}")
            return None


class OtelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

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


def serve(ledger: Ledger, host: str = "127.0.0.1", port: int = 4318, *, token: str | None = None,
          max_body: int = DEFAULT_MAX_BODY, ready: Callable[[OtelServer], None] | None = None,
          log: Callable[[str], None] | None = None, reopen: Callable[[], Ledger] | None = None) -> ServerStats:
    """Serve until SIGTERM/SIGINT; returns what was received. Runs in the calling (main) thread."""
    try:
        server = OtelServer(ledger, host, port, token=token, max_body=max_body, log=log, reopen=reopen)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
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
        server.server_close()
        # Handler threads are daemons (idle keep-alive connections must not hold up shutdown); a
        # batch being written holds the lock, so taking it once lets that batch commit first.
        with server._write_lock:
            server.ledger.close()  # the caller's ledger, or the one a reconnect opened
    return server.stats
