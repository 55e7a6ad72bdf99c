"""Connection-level errors, one rule (core/classify.py NETWORK): refused/DNS/socket-open errors are the
user's side, a lost connection is `network` (no proof of an outage on its own), and it counts toward an
outage window only beside HTTP-level outage errors or an incident; a retry record that says nothing
takes the class of its turn's final error. Records are shaped as the real transcripts we sampled wrote
them (1.0.8x final errors `API Error: Connection error.`, 2.x retries with `error.cause.code` or an
empty `cause: {}`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from claimback.analysis.outages import find_windows
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.prevent.resume import build_resume
from records import SESSION, assistant, final_error, line, user_prompt

SLUG = "-home-u-app"


def _ts(minute: int, second: int = 0) -> str:
    return f"2026-05-15T01:{minute:02d}:{second:02d}.000Z"


def _retry(ts: str, attempt: int, error: dict[str, Any], uuid: str) -> dict[str, Any]:
    return {"type": "system", "subtype": "api_error", "level": "error", "sessionId": SESSION, "timestamp": ts,
            "uuid": uuid, "error": error, "retryInMs": 1000.0, "retryAttempt": attempt, "maxRetries": 10,
            "isSidechain": False, "cwd": "/home/u/app", "version": "2.1.150"}


def _ledger(tmp_path: Path, records: list[dict[str, Any]]):
    path = tmp_path / "projects" / SLUG / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line(r) for r in records))
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    ingest(ledger, [tmp_path / "projects"], machine="m")
    return ledger


def _classes(ledger) -> list[tuple[str, str]]:
    return [(r["kind"], r["failure_class"]) for r in ledger.rows("SELECT kind, failure_class FROM failures ORDER BY ts")]


CONNECTION_LOST = "API Error: Connection error."


def _lost_connections(n: int, start: int = 10) -> list[dict[str, Any]]:
    """A prompt, then `n` turns each ended by a lost connection, two minutes apart (a burst's spacing)."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        out.append(user_prompt(f"try number {i}", _ts(start + 2 * i), uuid=f"p-{i}"))
        out.append(final_error(_ts(start + 2 * i, 30), CONNECTION_LOST, error=None, status=None))
    return out


def test_lost_connections_alone_make_no_window_and_no_killed_turn(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, _lost_connections(5))
    try:
        assert {c for _, c in _classes(ledger)} == {"network"}
        assert find_windows(ledger, offline=True, sync=False) == []
        # Nothing shows an outage: resume does not offer these turns as outage work to re-run.
        assert build_resume(ledger).turns == []
    finally:
        ledger.close()


def test_lost_connections_beside_http_outage_errors_count_toward_the_window(tmp_path: Path) -> None:
    records = _lost_connections(4) + [
        user_prompt("and again", _ts(19), uuid="p-http"),
        final_error(_ts(19, 30), 'API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
                    '"message":"Overloaded"}}', error="server_error", status=529),
    ]
    ledger = _ledger(tmp_path, records)
    try:
        windows = find_windows(ledger, offline=True, sync=False)
        assert len(windows) == 1
        window = windows[0]
        assert window.outage_failures == 5 and window.failures_by_class == {"network": 4, "outage": 1}
        assert window.start == _ts(10, 30) and window.confirmed_by == "logs"
        # Inside the window the turns lost connections killed are outage work again.
        assert len(build_resume(ledger).turns) == 5
    finally:
        ledger.close()


def test_a_retry_that_says_nothing_takes_its_final_errors_class(tmp_path: Path) -> None:
    records = [
        user_prompt("first", _ts(0), uuid="p-1"),
        _retry(_ts(0, 5), 1, {"cause": {}}, "r-1"),
        _retry(_ts(0, 8), 2, {"cause": {}}, "r-2"),
        final_error(_ts(0, 20), 'API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}',
                    error="server_error", status=529),
        user_prompt("second", _ts(5), uuid="p-2"),
        _retry(_ts(5, 5), 1, {"cause": {}}, "r-3"),
        _retry(_ts(5, 9), 2, {"cause": {"code": "ECONNREFUSED"}}, "r-4"),
        final_error(_ts(5, 30), CONNECTION_LOST, error=None, status=None),
        user_prompt("third", _ts(9), uuid="p-3"),
        _retry(_ts(9, 5), 1, {"cause": {}}, "r-5"),  # the turn went on: no final error to inherit from
        assistant("msg_ok", "req_ok", _ts(9, 40)),
    ]
    ledger = _ledger(tmp_path, records)
    try:
        assert _classes(ledger) == [
            ("retry", "outage"), ("retry", "outage"), ("final", "outage"),
            ("retry", "network"), ("retry", "local_runtime"), ("final", "network"),
            ("retry", "unknown"),
        ]
    finally:
        ledger.close()


@pytest.mark.parametrize("error,expected", [
    ({"cause": {"code": "ECONNRESET", "path": "https://api.anthropic.com/v1/messages?beta=true"}}, "network"),
    ({"cause": {"code": "ConnectionRefused"}}, "local_runtime"),
    ({"cause": {"code": "FailedToOpenSocket"}}, "local_runtime"),
    ({"cause": {"code": "ENOTFOUND"}}, "local_runtime"),
    ({"cause": {"code": "ETIMEDOUT"}}, "network"),
    ({"status": 529, "cause": {"code": "ECONNRESET"}}, "outage"),  # an HTTP status is the proof
])
def test_retry_causes(tmp_path: Path, error: dict[str, Any], expected: str) -> None:
    ledger = _ledger(tmp_path, [user_prompt("go", _ts(0), uuid="p"), _retry(_ts(0, 5), 1, error, "r")])
    try:
        assert _classes(ledger) == [("retry", expected)]
    finally:
        ledger.close()


def test_timed_out_attempts_and_their_final_share_one_class(tmp_path: Path) -> None:
    """2.1.332 against an API that never answers (tests/test_realclient.py, the `timed_out` scenario):
    each attempt is `error: {message: "Request timed out.", formatted: …}` with no status, and the final
    record says `error: "server_error"` beside the text. The field is the client's coarse kind for any
    failure; the text names the cause. A turn that timed out is one failure kind, attempt and final
    alike: `network` (either side), never an outage on its own."""
    timed_out = {"message": "Request timed out.", "formatted": "Request timed out.", "connection": None,
                 "isNetworkDown": False, "rateLimits": None, "noResponse": None}
    records = [user_prompt("say hi", _ts(0), uuid="p-1")]
    records += [_retry(_ts(0, 5 * n), n, timed_out, f"r-{n}") for n in (1, 2, 3)]
    records.append(final_error(_ts(0, 30), "Request timed out. If the API is slow to answer, or a proxy or "
                               "gateway holds responses, set API_TIMEOUT_MS above 3000.",
                               error="server_error", status=None))
    ledger = _ledger(tmp_path, records)
    try:
        assert _classes(ledger) == [("retry", "network")] * 3 + [("final", "network")]
        assert find_windows(ledger, offline=True, sync=False) == []  # no incident: no outage shown
    finally:
        ledger.close()


@pytest.mark.parametrize("error,expected", [
    # 2.1.33x's own sets: "network down" codes (it sets isNetworkDown) are this machine's side...
    ({"message": "Connection lost mid-response", "connection": {"code": "ENETDOWN"}, "isNetworkDown": True},
     "local_runtime"),
    ({"message": "Connection error.", "connection": {"code": "ERR_PROXY_TUNNEL"}, "isNetworkDown": True},
     "local_runtime"),
    ({"message": "Connection error.", "connection": {"code": "EHOSTDOWN"}, "isNetworkDown": False}, "local_runtime"),
    # ...even when the record names no code: the client checked
    ({"message": "Connection lost mid-response", "connection": None, "isNetworkDown": True}, "local_runtime"),
    # ...its "stale connection" codes either side's
    ({"message": "Connection error.", "connection": {"code": "ERR_SOCKET_CLOSED"}, "isNetworkDown": False},
     "network"),
    ({"message": "Connection error.", "connection": {"code": "ConnectionClosed"}, "isNetworkDown": False}, "network"),
    # ...and an HTTP status still the proof
    ({"status": 529, "message": "529 Overloaded", "connection": None, "isNetworkDown": True}, "outage"),
])
def test_the_clients_own_network_down_verdict(tmp_path: Path, error: dict[str, Any], expected: str) -> None:
    """Claude Code (2.1.2xx-2.1.33x) sorts connection failures into "network down" codes (refused, DNS, no
    route, proxy tunnel: `isNetworkDown: true`) and "stale connection" ones (reset, closed socket); its
    mid-stream notice reads "Connection lost mid-response" either way. The code and the flag decide."""
    ledger = _ledger(tmp_path, [user_prompt("go", _ts(0), uuid="p"), _retry(_ts(0, 5), 1, error, "r")])
    try:
        assert _classes(ledger) == [("retry", expected)]
    finally:
        ledger.close()


@pytest.mark.parametrize("cut_error,cause,expected", [
    ({"message": '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},'
                 '"request_id":"req_011CT2OxHTQi5TMpUFn3NcLSLcwL"}', "requestId": "req_011CT2OxHTQi5TMpUFn3NcLSLcwL",
      "formatted": "Overloaded", "connection": None, "isNetworkDown": False}, "server_error",
     ("outage", "req_011CT2OxHTQi5TMpUFn3NcLSLcwL")),
    ({"message": "Connection error.", "connection": {"code": "ENETDOWN"}, "isNetworkDown": True}, "network_down",
     ("local_runtime", None)),
])
def test_a_final_error_after_output_reads_its_cut_streams_error(tmp_path: Path, cut_error: dict[str, Any],
                                                                cause: str, expected: tuple) -> None:
    """2.1.332's "API Error: Server error mid-response. The response above may be incomplete." carries
    no request id or status; its `streamCutError` (the cut's own error object) and `streamCutCause` do
    (tests/test_realclient_partial.py)."""
    final = final_error(_ts(0, 30), "API Error: Server error mid-response. The response above may be "
                        "incomplete.", error="server_error", status=None)
    final.update(truncatedAfterOutput=True, streamCutCause=cause, streamCutError=cut_error)
    ledger = _ledger(tmp_path, [user_prompt("go", _ts(0), uuid="p"), final])
    try:
        rows = ledger.rows("SELECT failure_class, request_id FROM failures")
        assert [(r["failure_class"], r["request_id"]) for r in rows] == [expected]
    finally:
        ledger.close()
