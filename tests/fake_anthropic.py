"""A fake Anthropic Messages API on 127.0.0.1, for driving the real Claude Code client in tests.

It speaks the wire format the real API speaks (shapes from Anthropic's Messages and streaming docs, checked
against what Claude Code 2.1.332 sends and accepts): `POST /v1/messages` with `"stream": true` answers
`text/event-stream` with `message_start`, `content_block_start`/`content_block_delta`/`content_block_stop`,
`ping`, `message_delta` (stop reason and usage) and `message_stop`; errors are JSON bodies
`{"type":"error","error":{"type":…,"message":…},"request_id":…}` with the matching HTTP status; every
response carries a `request-id` header; ids look like the real ones (`msg_01…`, `req_011C…`, `toolu_01…`).

A scenario is an ordered list of `Rule`s: the first rule that is still live and matches a request answers
it; a request no rule takes gets a short healthy text reply. Every rule is bounded (`times`, or
`for_seconds` from its first use), the server answers at most `max_requests` requests and then only
`invalid_request_error`s (which Claude Code does not retry), and it stops itself after `lifetime_s`: no
loop between the client and this server can run forever.

The server keeps its own log of every request it served (`served`): that log is the truth tests compare
the ledger against.
"""

from __future__ import annotations

import json
import random
import re
import select
import socket
import string
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ID_CHARS = string.ascii_letters + string.digits


def _real_id(prefix: str, rng: random.Random, length: int = 24) -> str:
    return prefix + "".join(rng.choice(_ID_CHARS) for _ in range(length))


@dataclass
class Reply:
    """What the server answers to one request.

    kind: "text" (a text reply), "tool_use" (one or more tool calls), "error" (an HTTP error with an
    Anthropic error body), "cut" (HTTP 200, a few events, then the connection closes mid-stream),
    "stream_error" (HTTP 200, then an SSE `error` event, as the API does when it overloads mid-stream),
    "raw" (`status` with `body` as is: a gateway's HTML page or a relay's own error shape), "reset" (no
    answer at all: the request is read, then the connection is reset, as a dropped network path does).
    `after_block`: "cut" and "stream_error" finish the text block first (`content_block_stop`), so the
    client has shown output when the stream fails (since 2.1.199 it keeps that partial response).
    """

    kind: str = "text"
    text: str = "Done."
    tools: list[dict[str, Any]] = field(default_factory=list)  # [{"name": "Agent", "input": {...}}]
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    input_tokens: int = 120
    output_tokens: int = 12
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    delay_s: float = 0.0  # before the response starts (a slow API)
    cut_after_deltas: int = 1  # "cut": text deltas sent before the connection drops
    cut_with_reset: bool = False  # "cut": the drop is a TCP RST (a middlebox killing the flow), not a FIN
    after_block: bool = False
    # "stream_error": text deltas sent before the `error` event (None: the whole text; 0: right after
    # message_start, before any content block; -1: the error is the stream's first event)
    error_after_deltas: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""  # "raw": sent as is, with `content_type` and no request-id (a gateway's own page)
    content_type: str = "text/html"


@dataclass
class Request:
    """What a rule sees of one request."""

    n: int  # 1-based, in arrival order
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    subagent: bool
    first_user_text: str
    last_user_text: str
    tool_results: list[str]  # tool_use ids answered in the last user message


@dataclass
class Rule:
    reply: Reply
    when: Callable[[Request], bool] = lambda request: True
    times: int | None = 1  # None: unlimited uses, then `for_seconds` must bound it
    for_seconds: float | None = None  # live this long from its first use
    used: int = 0
    first_use: float | None = None

    def live(self, now: float) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.for_seconds is not None and self.first_use is not None:
            return now - self.first_use < self.for_seconds
        return self.times is not None or self.for_seconds is not None


# -- matchers -------------------------------------------------------------------------------------
def main_thread(request: Request) -> bool:
    return not request.subagent


def subagent(request: Request) -> bool:
    return request.subagent


def prompt_has(marker: str) -> Callable[[Request], bool]:
    """The conversation's first user text (the prompt, or a subagent's task) contains `marker`."""
    return lambda request: marker in request.first_user_text


def last_user_has(marker: str) -> Callable[[Request], bool]:
    return lambda request: marker in request.last_user_text


def answers_tool(request: Request) -> bool:
    return bool(request.tool_results)


def all_of(*tests: Callable[[Request], bool]) -> Callable[[Request], bool]:
    return lambda request: all(test(request) for test in tests)


def agent_call(prompt: str, description: str = "Check the notes", subagent_type: str = "general-purpose",
               background: bool = False) -> dict[str, Any]:
    """An Agent tool call as the model writes it."""
    return {"name": "Agent", "input": {"description": description, "subagent_type": subagent_type,
                                       "prompt": prompt, "run_in_background": background}}


# -- rate-limit headers as the API sends them to subscription clients -------------------------------
def unified_headers(status: str = "allowed", five_hour: float = 0.12, seven_day: float = 0.31,
                    reset_in_s: int = 3600, claim: str = "five_hour") -> dict[str, str]:
    reset = str(int(time.time()) + reset_in_s)
    return {
        "anthropic-ratelimit-unified-status": status,
        "anthropic-ratelimit-unified-reset": reset,
        "anthropic-ratelimit-unified-representative-claim": claim,
        "anthropic-ratelimit-unified-5h-utilization": f"{five_hour:.2f}",
        "anthropic-ratelimit-unified-5h-reset": reset,
        "anthropic-ratelimit-unified-7d-utilization": f"{seven_day:.2f}",
        "anthropic-ratelimit-unified-7d-reset": str(int(time.time()) + 5 * 86400),
        "anthropic-ratelimit-unified-fallback-percentage": "0.5",
        "anthropic-ratelimit-unified-overage-status": "rejected",
        "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
    }


def error_reply(status: int, error_type: str, message: str, **kw: Any) -> Reply:
    return Reply(kind="error", status=status, error_type=error_type, error_message=message, **kw)


def serve_bounded(handler: type[BaseHTTPRequestHandler],
                  lifetime_s: float) -> tuple[ThreadingHTTPServer, threading.Timer]:
    """A threaded server on 127.0.0.1 (a free port) that shuts itself down after `lifetime_s`."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    timer = threading.Timer(lifetime_s, httpd.shutdown)
    timer.daemon = True
    timer.start()
    return httpd, timer


def stop_bounded(httpd: ThreadingHTTPServer, timer: threading.Timer) -> None:
    timer.cancel()
    httpd.shutdown()
    httpd.server_close()


OVERLOADED = dict(status=529, error_type="overloaded_error", message="Overloaded")
SERVER_ERROR = dict(status=500, error_type="api_error", message="Internal server error")


def is_messages_path(path: str) -> bool:
    """A Messages API request: `/v1/messages` (Anthropic's API), or Vertex AI's `…/models/MODEL:rawPredict`
    and `:streamRawPredict` (Claude Code with CLAUDE_CODE_USE_VERTEX); never count_tokens."""
    head = path.split("?", 1)[0]
    if head.startswith("/v1/messages"):
        return not head.startswith("/v1/messages/count_tokens")
    if head.startswith("/model/"):  # Amazon Bedrock (CLAUDE_CODE_USE_BEDROCK)
        return head.endswith(("/invoke", "/invoke-with-response-stream"))
    return head.endswith((":rawPredict", ":streamRawPredict"))


def _is_streamed_path(path: str) -> bool:
    return path.split("?", 1)[0].endswith((":streamRawPredict", "/invoke-with-response-stream"))


def _eventstream_frame(payload: bytes, headers: dict[str, str]) -> bytes:
    """One message of AWS's event-stream encoding (Bedrock's invoke-with-response-stream): a prelude with
    both lengths and its CRC32, string headers, the payload, the message's CRC32."""
    import struct
    import zlib

    encoded = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
                       for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


class FakeAnthropic:
    """The server. Use as a context manager; `url` is its base URL, `served` its request log.

    `vertex`: answer as Claude on Vertex AI does (`msg_vrtx_…` message ids, `req_vrtx_…` request ids);
    `bedrock`: as on Amazon Bedrock (`msg_bdrk_…` ids, event-stream frames for the streamed path)."""

    def __init__(self, rules: list[Rule] | None = None, *, max_requests: int = 60, lifetime_s: float = 300,
                 seed: int = 13, default: Reply | None = None, vertex: bool = False, bedrock: bool = False) -> None:
        self.bedrock = bedrock
        self.id_prefixes = (("msg_vrtx_01", "req_vrtx_011C") if vertex else ("msg_bdrk_01", "req_bdrk_011C") if bedrock
                            else ("msg_01", "req_011C"))
        self.rules = list(rules or [])
        self.max_requests = max_requests
        self.lifetime_s = lifetime_s
        self.default = default or Reply()
        self.served: list[dict[str, Any]] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._agent_prompts: list[str] = []  # Agent prompts we handed out: their requests are subagents'
        self._started = time.monotonic()
        self._count = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> FakeAnthropic:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                server._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                server._send_json(self, 404, {"type": "error", "error": {"type": "not_found_error",
                                                                         "message": "Not found"}})

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd, self._timer = serve_bounded(Handler, self.lifetime_s)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._httpd and self._timer:
            stop_bounded(self._httpd, self._timer)

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def log(self, **filters: Any) -> list[dict[str, Any]]:
        """Served requests whose fields equal `filters` (messages requests only, in order)."""
        with self._lock:
            rows = [r for r in self.served if is_messages_path(r["path"])]
        return [r for r in rows if all(r.get(k) == v for k, v in filters.items())]

    # -- one request --------------------------------------------------------------------------------
    def _describe(self, n: int, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> Request:
        messages = body.get("messages") if isinstance(body.get("messages"), list) else []
        texts = [_user_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        first = next((t for t in texts if t), "")
        last_msg = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        tool_results = [b.get("tool_use_id") for b in _blocks(last_msg)
                        if b.get("type") == "tool_result" and isinstance(b.get("tool_use_id"), str)]
        with self._lock:
            is_sub = any(p and p in first for p in self._agent_prompts)
        return Request(n=n, path=handler.path, headers={k.lower(): v for k, v in handler.headers.items()},
                       body=body, subagent=is_sub, first_user_text=first,
                       last_user_text=texts[-1] if texts else "", tool_results=tool_results)

    def _pick(self, request: Request) -> tuple[Reply, int | None]:
        now = time.monotonic()
        with self._lock:
            if request.n > self.max_requests:
                return error_reply(400, "invalid_request_error", "fake API: request budget spent"), None
            for index, rule in enumerate(self.rules):
                if rule.live(now) and rule.when(request):
                    rule.used += 1
                    if rule.first_use is None:
                        rule.first_use = now
                    return rule.reply, index
        return self.default, None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        with self._lock:
            self._count += 1
            n = self._count
            request_id = _real_id(self.id_prefixes[1], self._rng)
            message_id = _real_id(self.id_prefixes[0], self._rng)
        if handler.path.startswith("/v1/messages/count_tokens"):
            self._send_json(handler, 200, {"input_tokens": 100}, request_id)
            self._record(handler, None, request_id, None, 200, "count_tokens", Reply(), False, 0, None)
            return
        if not is_messages_path(handler.path):
            self._send_json(handler, 404, {"type": "error", "error": {"type": "not_found_error",
                                                                      "message": "Not found"}}, request_id)
            return
        request = self._describe(n, handler, body)
        reply, rule = self._pick(request)
        streamed = bool(body.get("stream")) or _is_streamed_path(handler.path)
        if reply.delay_s and not _wait_unless_closed(handler.connection, min(reply.delay_s, 30.0)):
            # The client gave up (the user interrupted it, or its timeout fired) before we answered.
            self._record(handler, request, request_id, None, 499, "client_closed", reply, streamed, 0, rule)
            return
        try:
            self._respond(handler, request, reply, rule, request_id, message_id, streamed, body)
        except (BrokenPipeError, ConnectionResetError):
            self._record(handler, request, request_id, None, 499, "client_closed", reply, streamed, 0, rule)

    def _respond(self, handler: BaseHTTPRequestHandler, request: Request, reply: Reply, rule: int | None,
                 request_id: str, message_id: str, streamed: bool, body: dict[str, Any]) -> None:
        model = body.get("model") if isinstance(body.get("model"), str) else "claude-sonnet-4-6"
        if reply.kind == "reset":
            _reset_on_close(handler)
            self._record(handler, request, request_id, None, 0, "reset", reply, streamed, 0, rule)
            return
        if reply.kind == "raw":
            data = reply.body.encode()
            handler.send_response(reply.status)
            handler.send_header("content-type", reply.content_type)
            handler.send_header("content-length", str(len(data)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
            self._record(handler, request, request_id, None, reply.status, "raw", reply, streamed, 0, rule)
            return
        if reply.kind == "error":
            payload = {"type": "error", "error": {"type": reply.error_type, "message": reply.error_message},
                       "request_id": request_id}
            self._send_json(handler, reply.status, payload, request_id, reply.headers)
            self._record(handler, request, request_id, None, reply.status, "error", reply, streamed, 0, rule)
            return
        tool_ids = []
        for tool in reply.tools:
            with self._lock:
                tool_ids.append(_real_id("toolu_01", self._rng))
            with self._lock:
                self._agent_prompts.extend(_subagent_prompts(tool))
        if not streamed and reply.kind in ("cut", "stream_error"):
            # Claude Code falls back to a non-streaming request after a broken stream: break it too.
            self._cut_plain(handler, request_id, model, message_id, reply, tool_ids)
            self._record(handler, request, request_id, message_id, 200, reply.kind, reply, False, 0, rule)
            return
        if not streamed:
            message = self._message(message_id, model, reply, tool_ids, final=True)
            self._send_json(handler, 200, message, request_id, reply.headers)
            self._record(handler, request, request_id, message_id, 200, reply.kind, reply, False,
                         reply.output_tokens, rule)
            return
        sent_output = self._stream(handler, request_id, message_id, model, reply, tool_ids)
        if reply.kind == "stream_error" and reply.error_after_deltas is not None and reply.error_after_deltas < 0:
            # The error was the stream's first event: no message_start, so no usage reached the client.
            reply = replace(reply, input_tokens=0, cache_read_tokens=0, cache_creation_tokens=0)
        self._record(handler, request, request_id, message_id, 200, reply.kind, reply, True, sent_output,
                     rule, tool_ids)

    def _message(self, message_id: str, model: str, reply: Reply, tool_ids: list[str], *,
                 final: bool) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if final:
            if reply.text and reply.kind != "tool_use":
                content.append({"type": "text", "text": reply.text})
            for tool_id, tool in zip(tool_ids, reply.tools):
                content.append({"type": "tool_use", "id": tool_id, "name": tool["name"], "input": tool["input"]})
        return {"id": message_id, "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": ("tool_use" if reply.tools else "end_turn") if final else None,
                "stop_sequence": None,
                "usage": {"input_tokens": reply.input_tokens,
                          "cache_creation_input_tokens": reply.cache_creation_tokens,
                          "cache_read_input_tokens": reply.cache_read_tokens,
                          "cache_creation": {"ephemeral_5m_input_tokens": reply.cache_creation_tokens,
                                             "ephemeral_1h_input_tokens": 0},
                          "output_tokens": reply.output_tokens if final else 1,
                          "service_tier": "standard"}}

    def _stream(self, handler: BaseHTTPRequestHandler, request_id: str, message_id: str, model: str,
                reply: Reply, tool_ids: list[str]) -> int:
        """Write one SSE response; returns the output tokens the client was told about."""
        handler.send_response(200)
        kind = "application/vnd.amazon.eventstream" if self.bedrock else "text/event-stream; charset=utf-8"
        for name, value in {"content-type": kind, "cache-control": "no-cache",
                            "request-id": request_id, "anthropic-organization-id": _ORG_ID,
                            "connection": "close", **reply.headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        out = handler.wfile

        def event(name: str, data: dict[str, Any]) -> None:
            if self.bedrock:  # each Messages event base64'd in a `chunk` frame, as Bedrock wraps them
                import base64

                chunk = json.dumps({"bytes": base64.b64encode(json.dumps(data).encode()).decode()}).encode()
                out.write(_eventstream_frame(chunk, {":event-type": "chunk", ":content-type": "application/json",
                                                     ":message-type": "event"}))
            else:
                out.write(f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode())
            out.flush()

        handler.close_connection = True
        def stream_error() -> None:
            event("error", {"type": "error", "error": {"type": reply.error_type or "overloaded_error",
                                                       "message": reply.error_message or "Overloaded"},
                            "request_id": request_id})

        early = reply.error_after_deltas if reply.kind == "stream_error" else None
        try:  # a client that hangs up mid-stream raises out of here: the caller logs it
            if early is not None and early < 0:
                stream_error()
                return 0
            event("message_start", {"type": "message_start",
                                    "message": self._message(message_id, model, reply, tool_ids, final=False)})
            if early == 0:
                stream_error()
                return 1
            index = 0
            if reply.kind in ("text", "cut", "stream_error") or (reply.kind == "tool_use" and reply.text):
                event("content_block_start", {"type": "content_block_start", "index": 0,
                                              "content_block": {"type": "text", "text": ""}})
                event("ping", {"type": "ping"})
                words = reply.text.split(" ")
                for i, word in enumerate(words):
                    if reply.kind == "cut" and not reply.after_block and i >= reply.cut_after_deltas:
                        # The connection drops mid-response, after HTTP 200 and some output.
                        if reply.cut_with_reset:
                            _reset_on_close(handler)
                        return 1
                    if early is not None and i >= early:
                        stream_error()  # mid-block: no content_block_stop
                        return 1
                    event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                  "delta": {"type": "text_delta",
                                                            "text": word + (" " if i < len(words) - 1 else "")}})
                if reply.after_block and reply.kind in ("cut", "stream_error"):
                    event("content_block_stop", {"type": "content_block_stop", "index": 0})
                if reply.kind == "stream_error":
                    stream_error()
                    return 1
                if reply.kind == "cut":
                    if reply.cut_with_reset:
                        _reset_on_close(handler)
                    return 1
                event("content_block_stop", {"type": "content_block_stop", "index": 0})
                index = 1
            for tool_id, tool in zip(tool_ids, reply.tools):
                event("content_block_start", {"type": "content_block_start", "index": index,
                                              "content_block": {"type": "tool_use", "id": tool_id,
                                                                "name": tool["name"], "input": {}}})
                encoded = json.dumps(tool["input"])
                half = len(encoded) // 2
                for part in (encoded[:half], encoded[half:]):
                    event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                  "delta": {"type": "input_json_delta", "partial_json": part}})
                event("content_block_stop", {"type": "content_block_stop", "index": index})
                index += 1
            event("message_delta", {"type": "message_delta",
                                    "delta": {"stop_reason": "tool_use" if reply.tools else "end_turn",
                                              "stop_sequence": None},
                                    "usage": {"input_tokens": reply.input_tokens,
                                              "cache_creation_input_tokens": reply.cache_creation_tokens,
                                              "cache_read_input_tokens": reply.cache_read_tokens,
                                              "output_tokens": reply.output_tokens}})
            event("message_stop", {"type": "message_stop"})
        finally:
            out.flush()
        return reply.output_tokens

    def _cut_plain(self, handler: BaseHTTPRequestHandler, request_id: str, model: str, message_id: str,
                   reply: Reply, tool_ids: list[str]) -> None:
        data = json.dumps(self._message(message_id, model, reply, tool_ids, final=True)).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.send_header("request-id", request_id)
        handler.end_headers()
        handler.close_connection = True
        try:
            handler.wfile.write(data[: len(data) // 3])
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
                   request_id: str | None = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        if request_id:
            handler.send_header("request-id", request_id)
        if status == 429 and not any(k.lower() == "retry-after" for k in (headers or {})):
            handler.send_header("retry-after", "3600")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _record(self, handler: BaseHTTPRequestHandler, request: Request | None, request_id: str,
                message_id: str | None, status: int, kind: str, reply: Reply, streamed: bool,
                output_tokens: int, rule: int | None, tool_ids: list[str] | None = None) -> None:
        answered = status == 200 and kind in ("text", "tool_use")
        row = {
            "n": request.n if request else None, "t": round(time.monotonic() - self._started, 3),
            "path": handler.path, "request_id": request_id, "message_id": message_id, "status": status,
            "kind": kind, "error_type": reply.error_type if status != 200 or kind == "stream_error" else None,
            "subagent": request.subagent if request else False, "streamed": streamed, "rule": rule,
            "model": (request.body.get("model") if request else None),
            # Tokens the response carried to the client (a cut stream carried message_start's only).
            "input_tokens": reply.input_tokens if status == 200 else 0,
            "cache_read_tokens": reply.cache_read_tokens if status == 200 else 0,
            "cache_creation_tokens": reply.cache_creation_tokens if status == 200 else 0,
            "output_tokens": output_tokens if status == 200 else 0,
            "complete": answered, "tool_use_ids": tool_ids or [],
            "tools": [t["name"] for t in reply.tools] if answered else [],
            "first_user_text": (request.first_user_text[-200:] if request else ""),
        }
        with self._lock:
            self.served.append(row)


_WORKFLOW_AGENT = re.compile(r"""agent\(\s*(['"])(.{8,400}?)\1""")


def _subagent_prompts(tool: dict[str, Any]) -> list[str]:
    """The prompts the subagents a tool call starts will receive (Agent/Task input; Workflow script)."""
    tool_input = tool.get("input") if isinstance(tool.get("input"), dict) else {}
    if tool.get("name") in ("Agent", "Task") and isinstance(tool_input.get("prompt"), str):
        return [tool_input["prompt"]]
    if tool.get("name") == "Workflow" and isinstance(tool_input.get("script"), str):
        return [m.group(2) for m in _WORKFLOW_AGENT.finditer(tool_input["script"])]
    return []


def workflow_call(prompt: str, name: str = "probe") -> dict[str, Any]:
    """A Workflow tool call whose script runs one agent with `prompt` (no quotes in it)."""
    script = (f"export const meta = {{ name: '{name}', description: 'one agent', phases: [{{ title: 'Run' }}] }}\n"
              f"const result = await agent('{prompt}', {{label: '{name}', phase: 'Run'}})\nreturn result\n")
    return {"name": "Workflow", "input": {"script": script}}


def _reset_on_close(handler: BaseHTTPRequestHandler) -> None:
    """SO_LINGER 0: close() sends a TCP RST, so the client sees ECONNRESET, not a clean end of file."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True


def _wait_unless_closed(sock: socket.socket, seconds: float) -> bool:
    """Sleep `seconds` (a slow API); False as soon as the client closes its end."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], min(left, 0.05))
        if readable:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return False
            except OSError:
                return False
            time.sleep(min(left, 0.05))  # a pipelined byte, not a close: keep waiting
    return True


_ORG_ID = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _user_text(message: dict[str, Any]) -> str:
    """The user's own words in a message: text blocks that are not Claude Code's system reminders."""
    parts = [b.get("text", "") for b in _blocks(message) if b.get("type") == "text"
             and isinstance(b.get("text"), str) and not b["text"].lstrip().startswith("<system-reminder>")]
    return "\n".join(p for p in parts if p)
