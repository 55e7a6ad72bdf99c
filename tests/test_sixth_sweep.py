"""Shapes the sixth sweep of published `~/.claude/projects` trees found claimback wrong on
(docs/reliability.md, "sixth sweep"). Every record here is our own, in the shape the published files had."""

from __future__ import annotations

from pathlib import Path

from records import SESSION, assistant, final_error, retry, user_prompt, write

from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

PROJECT = "-home-u-app"
OTHER_SESSION = "58ef7597-0000-4000-8000-0000000000c6"
RELAY_SESSION = "58ef7597-0000-4000-8000-0000000000d7"


def _body(request_id: str, *, escaped: bool = False) -> str:
    body = ('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},'
            f'"request_id":"{request_id}"}}')
    return body.replace('"', '\\"') if escaped else body


def test_a_final_errors_quoted_request_id_is_its_evidence_and_proves_no_route(tmp_path: Path, ledger_db: str) -> None:
    """A published 2.0.76 tree: every final error quoted the API's body, `request_id` and all
    (`API Error: 404 {…"request_id":"req_011C…"}`), and the ledger kept none of them: a 529 final of
    that shape, the only record of a subagent's death in 2.1.33x, named no request in the claim's
    "Failed request ids". The quoted `req_…` id is now the failure's request id (also when the body's
    quotes are escaped, also in a retry's message); a relay's own id is not taken; and the quoted id
    is evidence only: a relay passing Anthropic's body through keeps its session's route."""
    projects = tmp_path / "projects"
    write(projects / PROJECT / f"{SESSION}.jsonl", [
        user_prompt("build it", "2026-01-04T22:50:00.000Z"),
        assistant("msg_01SixthAnswerAbCdEfGhJkLm", "req_011SixthAnswerAbCdEfGhJk", "2026-01-04T22:51:00.000Z"),
        final_error("2026-01-04T22:52:17.815Z", "API Error: 529 " + _body("req_011CSixthFinalAbCdEfGhJ"),
                    error="server_error", status=529),
        final_error("2026-01-04T22:53:00.000Z", "API Error: 529 " + _body("req_011CSixthEscapedAbCdEfG", escaped=True),
                    error="server_error", status=529),
        final_error("2026-01-04T22:54:00.000Z", 'API Error: 429 {"error":{"code":"1113","message":"Insufficient '
                    'balance"},"request_id":"20260104225400abcdef0123456789"}', error="rate_limit", status=429),
    ])
    attempt = retry("2026-01-04T23:00:00.000Z", 1, session=OTHER_SESSION)
    attempt["error"].pop("requestID")
    attempt["error"]["message"] = "529 " + _body("req_011CSixthRetryAbCdEfGhJ")
    write(projects / PROJECT / f"{OTHER_SESSION}.jsonl", [
        user_prompt("and test it", "2026-01-04T22:59:00.000Z", session=OTHER_SESSION),
        assistant("msg_01SixthOtherAbCdEfGhJkLm", "req_011SixthOtherAbCdEfGhJk", "2026-01-04T22:59:30.000Z",
                  session=OTHER_SESSION),
        attempt])
    # A relay passing Anthropic's ids and error bodies through (UUID request ids: the second sweep's rule).
    write(projects / PROJECT / f"{RELAY_SESSION}.jsonl", [
        user_prompt("via the relay", "2026-01-05T01:00:00.000Z", session=RELAY_SESSION),
        assistant("msg_01SixthRelayedAbCdEfGhJk", "0b7e4a52-61a1-4c7e-9a3f-3c1d2e5f6a7b", "2026-01-05T01:00:30.000Z",
                  session=RELAY_SESSION),
        final_error("2026-01-05T01:01:00.000Z", "API Error: 529 " + _body("req_011CSixthRelayedAbCdEfG"),
                    error="server_error", status=529, session=RELAY_SESSION),
    ])
    ledger = open_ledger(ledger_db)
    try:
        ingest(ledger, [projects], machine="m")
        rows = ledger.rows("SELECT ts, kind, failure_class, request_id, provider FROM failures ORDER BY ts")
        assert [tuple(r.values()) for r in rows] == [
            ("2026-01-04T22:52:17.815Z", "final", "outage", "req_011CSixthFinalAbCdEfGhJ", "anthropic"),
            ("2026-01-04T22:53:00.000Z", "final", "outage", "req_011CSixthEscapedAbCdEfG", "anthropic"),
            ("2026-01-04T22:54:00.000Z", "final", "quota_rate", None, "other"),
            ("2026-01-04T23:00:00.000Z", "retry", "outage", "req_011CSixthRetryAbCdEfGhJ", "anthropic"),
            ("2026-01-05T01:01:00.000Z", "final", "outage", "req_011CSixthRelayedAbCdEfG", "other"),
        ]
    finally:
        ledger.close()


def test_a_final_whose_error_field_is_the_api_error_object_is_read_from_it(tmp_path: Path) -> None:
    """A final error record whose `error` is the API's error object (status, nested type and message,
    request id) rather than the client's coarse kind, with no text of its own (a tool's session fixture
    in the sixth sweep): it was `unknown` with no status; its object names all of it."""
    record = final_error("2026-01-06T10:00:00.000Z", "", error=None, status=None)
    record["message"]["content"] = []
    record["error"] = {"status": 529, "requestID": "req_011CObjectFinalAbCdEfGhJ",
                       "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}}
    projects = tmp_path / "projects"
    write(projects / PROJECT / f"{SESSION}.jsonl", [
        user_prompt("build it", "2026-01-06T09:59:00.000Z"),
        record,
    ])
    ledger = open_ledger(str(tmp_path / "ledger.sqlite3"))
    try:
        ingest(ledger, [projects], machine="m")
        rows = ledger.execute("SELECT kind, status, error_type, failure_class, request_id FROM failures").fetchall()
    finally:
        ledger.close()
    assert [tuple(r) for r in rows] == [("final", 529, "overloaded_error", "outage", "req_011CObjectFinalAbCdEfGhJ")]
