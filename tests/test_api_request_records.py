"""Records of the shape Claude Code 2.1.332 writes (seen running the real client, tests/test_realclient.py):
one `api-request` per HTTP attempt, answers naming it by `requestRef`, retry records with
`error.{status, requestId, message, formatted, connection, ...}` and `source`. These run without the
binary; the real-client tests check the same rules against the real thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

SID = "0c6b1f4e-7a2d-4e59-9c3b-2f8a6d1e5b70"
AGENT = "a3f9c2e17b6d40e85"
SOURCE_AGENT = "agent:builtin:general-purpose"


def _ts(second: float) -> str:
    return f"2026-11-30T09:00:{second:06.3f}Z"


def api_request(rid: str, second: float, source: str = "sdk", agent: str | None = None) -> dict[str, Any]:
    record = {"type": "api-request", "sessionId": SID, "id": rid, "timestamp": _ts(second), "version": "2.1.332",
              "querySource": source, "shapeHash": "ab" * 32, "params": {"model": "claude-sonnet-4-6"},
              "thread": {"type": "none"}, "tail": ["cd" * 32]}
    if agent:
        record["agentId"] = agent
    return record


def answer(ref: str, second: float, msg: str, req: str, agent: str | None = None, inp: int = 100,
           out: int = 10) -> dict[str, Any]:
    record = {"parentUuid": None, "isSidechain": agent is not None, "type": "assistant", "uuid": f"u-{msg}",
              "timestamp": _ts(second), "sessionId": SID, "version": "2.1.332", "requestId": req,
              "requestRef": ref, "message": {"id": msg, "type": "message", "role": "assistant",
                                             "model": "claude-sonnet-4-6", "content": [{"type": "text", "text": "ok"}],
                                             "stop_reason": "end_turn",
                                             "usage": {"input_tokens": inp, "output_tokens": out,
                                                       "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}
    if agent:
        record["agentId"] = agent
    return record


def final_error(second: float, status: int, etype: str, req: str, agent: str | None = None) -> dict[str, Any]:
    record = {"parentUuid": None, "isSidechain": agent is not None, "type": "assistant", "uuid": f"f-{second}",
              "timestamp": _ts(second), "sessionId": SID, "version": "2.1.332", "requestId": req,
              "error": "server_error", "isApiErrorMessage": True, "apiErrorStatus": status, "apiErrorType": etype,
              "message": {"id": "6d1b8a0e-0000-4000-8000-00000000000f", "model": "<synthetic>", "role": "assistant",
                          "type": "message", "stop_reason": "stop_sequence",
                          "content": [{"type": "text", "text": f"API Error: {status} Overloaded. This is a "
                                                               "server-side issue, usually temporary."}],
                          "usage": {"input_tokens": 0, "output_tokens": 0}}}
    if agent:
        record["agentId"] = agent
    return record


def retry_record(second: float, attempt: int, **error: Any) -> dict[str, Any]:
    base = {"message": None, "formatted": None, "connection": None, "isNetworkDown": False, "rateLimits": None,
            "noResponse": None}
    return {"type": "system", "subtype": "api_error", "level": "error", "isSidechain": False, "sessionId": SID,
            "uuid": f"r-{second}", "timestamp": _ts(second), "version": "2.1.332", "error": {**base, **error},
            "retryInMs": 500, "retryAttempt": attempt, "maxRetries": 3,
            "source": "connection_retry" if error.get("connection") else "request_retry"}


def prompt(second: float, text: str, agent: str | None = None) -> dict[str, Any]:
    record = {"parentUuid": None, "isSidechain": agent is not None, "type": "user", "uuid": f"p-{second}",
              "timestamp": _ts(second), "sessionId": SID, "version": "2.1.332",
              "message": {"role": "user", "content": text}}
    if agent:
        record["agentId"] = agent
    return record


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for record in records:
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")


def _failures(tmp_path: Path) -> list[dict[str, Any]]:
    led = open_ledger(tmp_path / "ledger.sqlite3")
    ingest(led, [tmp_path / "projects"], machine="test")
    return led.rows("SELECT kind, agent_id, status, error_type, error_code, request_id, failure_class, attempt "
                    "FROM failures ORDER BY ts, kind")


def test_a_subagents_silent_retries_are_one_failure_each(tmp_path: Path) -> None:
    agent_file = tmp_path / "projects" / "-home-u-app" / SID / "subagents" / f"agent-{AGENT}.jsonl"
    _write(agent_file, [prompt(1, "Read notes.txt", AGENT), api_request("q1", 1.1, SOURCE_AGENT, AGENT),
                        answer("q1", 1.5, "msg_01Aaa", "req_011CAaa", AGENT),
                        api_request("q2", 2.0, SOURCE_AGENT, AGENT), api_request("q3", 2.6, SOURCE_AGENT, AGENT),
                        api_request("q4", 3.7, SOURCE_AGENT, AGENT), api_request("q5", 6.0, SOURCE_AGENT, AGENT),
                        final_error(6.1, 529, "overloaded_error", "req_011CFinal", AGENT)])
    rows = _failures(tmp_path)
    assert [(r["kind"], r["status"], r["error_type"], r["failure_class"]) for r in rows] == \
        [("retry", 529, "overloaded_error", "outage")] * 3 + [("final", 529, "overloaded_error", "outage")]
    assert {r["agent_id"] for r in rows} == {AGENT}
    assert rows[-1]["request_id"] == "req_011CFinal"


def test_main_thread_retry_records_are_not_counted_twice(tmp_path: Path) -> None:
    body = '529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CR1"}'
    _write(tmp_path / "projects" / "-home-u-app" / f"{SID}.jsonl", [
        prompt(1, "hello"), api_request("q1", 1.1), retry_record(1.2, 1, status=529, requestId="req_011CR1",
                                                                 message=body, formatted="529 Overloaded"),
        api_request("q2", 1.8), answer("q2", 2.0, "msg_01Bbb", "req_011COk")])
    rows = _failures(tmp_path)
    assert [(r["kind"], r["status"], r["error_type"], r["request_id"]) for r in rows] == \
        [("retry", 529, "overloaded_error", "req_011CR1")]


def test_a_cut_stream_and_a_silent_resend_are_two_failed_attempts(tmp_path: Path) -> None:
    cut = {"code": "StreamTruncated", "message": "Stream ended before the response was complete", "isSSLError": False}
    path = tmp_path / "projects" / "-home-u-app" / f"{SID}.jsonl"
    _write(path, [prompt(1, "hello"), api_request("q1", 1.1),
                  retry_record(1.2, 1, message="Connection error.",
                               formatted="Connection closed before the response finished", connection=cut),
                  api_request("q2", 1.8)])
    rows = _failures(tmp_path)  # q2 is still open: nothing is said about it yet
    assert [(r["kind"], r["status"], r["error_code"]) for r in rows] == [("retry", None, "StreamTruncated")]
    # The client re-sends without a record of its own (a broken stream, then a non-streaming fallback).
    _write(path, [api_request("q3", 1.9), answer("q3", 2.5, "msg_01Ccc", "req_011COk")])
    rows = _failures(tmp_path)  # incremental: the open attempt q2 was kept in the file's state
    assert [(r["kind"], r["error_code"]) for r in rows] == [("retry", "StreamTruncated")] * 2


def test_other_query_sources_and_interrupts_are_not_failed_attempts(tmp_path: Path) -> None:
    _write(tmp_path / "projects" / "-home-u-app" / f"{SID}.jsonl", [
        prompt(1, "hello"), api_request("q1", 1.1), answer("q1", 1.5, "msg_01Ddd", "req_011CD"),
        api_request("c1", 2.0, source="compact"),  # its answer is not a transcript record
        prompt(3, "and then"), api_request("q2", 3.1), api_request("q3", 3.5),
        answer("q3", 4.0, "msg_01Eee", "req_011CE"),
        prompt(5, "slow one"), api_request("q4", 5.1),
        {**prompt(6, "x"), "message": {"role": "user", "content": [{"type": "text",
                                                                    "text": "[Request interrupted by user]"}]}}])
    rows = _failures(tmp_path)
    assert [(r["kind"], r["failure_class"]) for r in rows] == [("retry", "unknown"), ("interrupt", "interrupt")]


def compact_boundary(second: float, trigger: str, agent: str | None = None) -> dict[str, Any]:
    record = {"parentUuid": None, "logicalParentUuid": f"u-{second - 0.1}", "isSidechain": agent is not None,
              "type": "system", "subtype": "compact_boundary", "content": "Conversation compacted", "isMeta": False,
              "timestamp": _ts(second), "uuid": f"cb-{second}", "level": "info", "sessionId": SID,
              "version": "2.1.332", "compactMetadata": {"trigger": trigger, "preTokens": 181000, "durationMs": 900,
                                                        "postTokens": 2600, "cumulativeDroppedTokens": 0}}
    if agent:
        record["agentId"] = agent
    return record


def compact_summary(second: float, agent: str | None = None) -> dict[str, Any]:
    return {**prompt(second, "This session is being continued from a previous conversation that ran out of "
                             "context. The summary below covers the earlier portion of the conversation.", agent),
            "isCompactSummary": True}


def test_an_attempt_the_client_answered_by_compacting_was_refused_for_its_size(tmp_path: Path) -> None:
    # 2.1.332 in a subagent (seen with the real client, tests/test_realclient_shapes.py): the API refuses
    # the conversation (400 "prompt is too long"); the client writes no error record, compacts (a
    # compact_boundary, trigger auto) and re-sends. Before: one `unknown` attempt, "no response recorded".
    from claimback.core.classify import COMPACTED_REFUSAL

    agent_file = tmp_path / "projects" / "-home-u-app" / SID / "subagents" / f"agent-{AGENT}.jsonl"
    _write(agent_file, [prompt(1, "List the risks", AGENT), api_request("q1", 1.1, SOURCE_AGENT, AGENT),
                        answer("q1", 1.5, "msg_01Ggg", "req_011CG1", AGENT),
                        api_request("q2", 2.0, SOURCE_AGENT, AGENT)])
    assert _failures(tmp_path) == []  # q2 still open: nothing is said about it yet
    # The boundary in a later ingest: the open attempt was kept in the file's state.
    _write(agent_file, [compact_boundary(2.3, "auto", AGENT), compact_summary(2.3, AGENT),
                        api_request("q3", 2.4, SOURCE_AGENT, AGENT),
                        answer("q3", 2.9, "msg_01Hhh", "req_011CG2", AGENT)])
    led = open_ledger(tmp_path / "ledger.sqlite3")
    ingest(led, [tmp_path / "projects"], machine="test")
    rows = led.rows("SELECT kind, agent_id, status, request_id, failure_class, message, ts FROM failures")
    assert rows == [{"kind": "retry", "agent_id": AGENT, "status": None, "request_id": None,
                     "failure_class": "model_provider", "message": COMPACTED_REFUSAL, "ts": _ts(2.0)}]
    assert led.scalar("SELECT COUNT(*) FROM requests") == 2


def test_a_compaction_with_every_attempt_answered_or_by_hand_files_nothing_new(tmp_path: Path) -> None:
    # A proactive compaction comes before its request (every attempt answered): no failure. `/compact`
    # (trigger manual) says nothing of an attempt still open; a compaction's own attempts (querySource
    # compact) are never the thread's.
    _write(tmp_path / "projects" / "-home-u-app" / f"{SID}.jsonl", [
        prompt(1, "hello"), api_request("q1", 1.1), answer("q1", 1.5, "msg_01Iii", "req_011CI1"),
        api_request("c1", 1.8, source="compact"), compact_boundary(2.0, "auto"), compact_summary(2.0),
        prompt(3, "and then"), api_request("q2", 3.1), compact_boundary(3.5, "manual"), compact_summary(3.5),
        api_request("q3", 3.6), answer("q3", 4.0, "msg_01Jjj", "req_011CI2")])
    rows = _failures(tmp_path)
    assert [(r["kind"], r["failure_class"]) for r in rows] == [("retry", "unknown")]  # q2, as before
