"""Shapes the fifth sweep of published `~/.claude/projects` trees found claimback wrong on
(docs/reliability.md, "fifth sweep"). Every record here is our own, in the shape the published files had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from records import SESSION, assistant, user_prompt, write

from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

PROJECT = "c--Users-u-Desktop-app"
REWRITE_TS = "2025-12-10T07:09:11.947Z"


def _conversation() -> list[dict[str, Any]]:
    """Two turns of a 2.0.25 session: each answer streamed over lines of one message.id and requestId."""
    return [
        {**user_prompt("find the caller", "2025-11-26T02:07:30.062Z", uuid="p-1"), "version": "2.0.25"},
        {**assistant("msg_01ReplayedAnswerOneAbCdE", "req_011ReplayedOneAbCdEfGhJ", "2025-11-26T02:07:36.431Z",
                     out=7, cw=5324, cr=12222), "uuid": "a-1", "version": "2.0.25"},
        {**assistant("msg_01ReplayedAnswerOneAbCdE", "req_011ReplayedOneAbCdEfGhJ", "2025-11-26T02:07:37.953Z",
                     out=818, cw=5324, cr=12222), "uuid": "a-2", "version": "2.0.25"},
        {**user_prompt("and where is it set", "2025-11-26T02:08:45.136Z", uuid="p-2"), "version": "2.0.25"},
        {**assistant("msg_01ReplayedAnswerTwoAbCdE", "req_011ReplayedTwoAbCdEfGhJ", "2025-11-26T02:09:30.133Z",
                     out=2733, cw=900, cr=30000), "uuid": "a-3", "version": "2.0.25"},
    ]


def _rewrite(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the client appended when the session was reopened days later: every record again, new uuids,
    one timestamp (the time of the rewrite), the answers without their requestId."""
    out = []
    for n, record in enumerate(records):
        copy = {**record, "uuid": f"rw-{n}", "parentUuid": f"rw-{n - 1}" if n else None, "timestamp": REWRITE_TS}
        copy.pop("requestId", None)
        out.append(copy)
    return out


@pytest.mark.parametrize("runs", ["one run", "rewrite read later"])
def test_a_sessions_rewritten_history_is_no_second_request(tmp_path: Path, runs: str, ledger_db: str) -> None:
    """A published 2.0.25 tree (VS Code, Windows): a reopened session's file got its earlier conversation
    appended again, the answers without requestId, so each was a second request (filed as a relay's: a
    first-party id without requestId) at the time of the rewrite. The keyed line is the request; the
    replay adds nothing, in one run or read by a later run; the new answer after it counts."""
    path = tmp_path / "projects" / PROJECT / f"{SESSION}.jsonl"
    conversation = _conversation()
    after = [{**user_prompt("now fix it", "2025-12-10T07:09:12.266Z", uuid="p-3"), "version": "2.0.25"},
             {**assistant("msg_01AfterTheRewriteAbCdEfG", "req_011AfterRewriteAbCdEfGhJ", "2025-12-10T07:09:25.697Z",
                          out=40), "uuid": "a-4", "version": "2.0.25"}]
    ledger = open_ledger(ledger_db)  # both engines: the rule is SQL
    try:
        if runs == "rewrite read later":
            write(path, conversation)
            ingest(ledger, [tmp_path / "projects"], machine="m")
            write(path, _rewrite(conversation) + after, mode="a")
        else:
            write(path, conversation + _rewrite(conversation) + after)
        ingest(ledger, [tmp_path / "projects"], machine="m")
        rows = ledger.rows("SELECT message_id, request_id, ts, output_tokens, provider FROM requests ORDER BY ts")
        assert [tuple(r.values()) for r in rows] == [
            ("msg_01ReplayedAnswerOneAbCdE", "req_011ReplayedOneAbCdEfGhJ", "2025-11-26T02:07:37.953Z", 818, "anthropic"),
            ("msg_01ReplayedAnswerTwoAbCdE", "req_011ReplayedTwoAbCdEfGhJ", "2025-11-26T02:09:30.133Z", 2733, "anthropic"),
            ("msg_01AfterTheRewriteAbCdEfG", "req_011AfterRewriteAbCdEfGhJ", "2025-12-10T07:09:25.697Z", 40, "anthropic"),
        ]
    finally:
        ledger.close()


def test_an_answer_without_request_id_and_no_keyed_twin_still_counts(tmp_path: Path) -> None:
    """The rule takes only a message id that a keyed line of the same session has: a relay's answers
    without requestId (no twin), and a keyed message of another session, stay requests."""
    other = "58ef7597-0000-4000-8000-0000000000b2"
    write(tmp_path / "projects" / PROJECT / f"{SESSION}.jsonl", [
        assistant("msg_01RelayAnswerNoReqAbCdEf", None, "2026-02-01T10:00:00.000Z", out=10),
        assistant("msg_01SharedAcrossSessionsAb", None, "2026-02-01T10:01:00.000Z", out=20)])
    write(tmp_path / "projects" / PROJECT / f"{other}.jsonl", [
        assistant("msg_01SharedAcrossSessionsAb", "req_011SharedAcrossAbCdEfGh", "2026-02-01T09:00:00.000Z",
                  out=20, session=other)])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        assert ledger.scalar("SELECT COUNT(*) FROM requests") == 3
        assert ledger.scalar("SELECT SUM(output_tokens) FROM requests") == 50
    finally:
        ledger.close()


def test_a_relays_own_message_ids_without_request_id_are_not_anthropics(tmp_path: Path) -> None:
    """A published 2.1.16x-2.1.21x tree behind a relay: its answers had ids of the relay's own making
    (`msg_` + 24 letters and digits, never Anthropic's `msg_01…`) and no requestId; proving nothing, they
    took the default route, Anthropic's, and so did the 5xx of a session that never got an answer next to
    them (the nearest answer's route). 2.x writes a requestId for every answer of Anthropic's API."""
    relay_session = "58ef7597-0000-4000-8000-0000000000c1"
    failed_session = "58ef7597-0000-4000-8000-0000000000c2"
    answers = [{**assistant(f"msg_Q{n}xTfRbLmWq8ZkPa3NcVy5Hd", None, f"2026-06-13T03:0{n}:07.146Z",
                            model="claude-fable-5", session=relay_session), "version": "2.1.212"} for n in range(3)]
    write(tmp_path / "projects" / PROJECT / f"{relay_session}.jsonl",
          [{**user_prompt("explain the parser", "2026-06-13T03:00:00.000Z", session=relay_session), "version": "2.1.212"},
           *answers])
    final = {"type": "assistant", "timestamp": "2026-06-13T03:20:00.000Z", "sessionId": failed_session,
             "uuid": "e-1", "isSidechain": False, "isApiErrorMessage": True, "version": "2.1.212",
             "error": "server_error", "apiErrorStatus": 500,
             "message": {"id": "9b0e1f2a-0000-4000-8000-0000000000e1", "model": "<synthetic>", "role": "assistant",
                         "type": "message", "content": [{"type": "text", "text": "API Error: 500 Internal server error"}],
                         "usage": {"input_tokens": 0, "output_tokens": 0}}}
    write(tmp_path / "projects" / PROJECT / f"{failed_session}.jsonl",
          [{**user_prompt("go on", "2026-06-13T03:19:50.000Z", session=failed_session), "version": "2.1.212"}, final])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        assert [r["provider"] for r in ledger.rows("SELECT provider FROM requests")] == ["other"] * 3
        assert [tuple(r.values()) for r in ledger.rows("SELECT failure_class, provider FROM failures")] == [
            ("outage", "other")]
    finally:
        ledger.close()


def test_a_relays_refusals_and_caps_are_classed_by_what_they_say() -> None:
    """Texts of the same tree: a relay's daily cap answered as a 403 (Claude Code puts "Please run /login"
    before every 403) is the cap, not a credential; MiniMax's content check on an answer refuses the
    content (no server failed); a relay's Chinese "the model name passed is wrong" is the relay's."""
    from claimback.core import provider
    from claimback.core.classify import MODEL_PROVIDER, QUOTA_RATE, classify
    assert classify(403, "authentication_failed", None,
                    "Please run /login · API Error: 403 daily usage limit exceeded") == QUOTA_RATE
    assert classify(None, "unknown", None, "API Error: output new_sensitive (1027)") == MODEL_PROVIDER
    refusal = "API Error: 400 传入的模型名称有误: claude-fable-5"
    assert classify(400, "unknown", None, refusal) == MODEL_PROVIDER
    assert provider.judge(text=refusal) == provider.OTHER
    throttled = "API Error: 400 官方算力限制，请等待一段时间后再进行使用，如有问题可联系管理员\n"
    assert classify(400, None, None, throttled) == QUOTA_RATE
    assert provider.judge(text=throttled) == provider.OTHER


def test_an_answer_with_no_message_id_and_no_request_id_is_a_relays(tmp_path: Path) -> None:
    """A published 2.0.29 tree behind a relay (Bedrock-style `tooluse_` tool ids, clock message ids): some
    answers had no message id and no requestId at all; in a subagent file with nothing else to go by they
    were filed as Anthropic's. Anthropic's API names every message, and 2.x writes its requestId."""
    agent = "52fda5cd"
    answer = assistant("msg_placeholder", None, "2025-11-01T09:13:12.060Z", model="claude-haiku-4-5-20251001",
                       sidechain=True, agent_id=agent, out=76,
                       content=[{"type": "tool_use", "id": "tooluse_iTNH5iOfTZCJ9vPhcK74gQ", "name": "Read",
                                 "input": {"file_path": "src/app.ts"}}])
    answer["message"].pop("id")
    answer["version"] = "2.0.29"
    write(tmp_path / "projects" / PROJECT / f"agent-{agent}.jsonl", [
        {**user_prompt("find the upload component", "2025-11-01T09:13:05.000Z", sidechain=True, agent_id=agent),
         "version": "2.0.29"}, answer])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        assert [tuple(r.values()) for r in ledger.rows("SELECT output_tokens, provider FROM requests")] == [
            (76, "other")]
    finally:
        ledger.close()


@pytest.mark.parametrize("head", ["started", "launched"])
def test_a_workflow_runs_journal_is_skipped_whole_and_its_agents_are_read(tmp_path: Path, head: str) -> None:
    """A published 2.1.21x tree ran Workflows: beside each run's agent transcripts
    (`<session>/subagents/workflows/<run>/agent-*.jsonl`) lies the run's journal, its cache of agent()
    calls (`started`/`result`/`failed` under a call key; 2.1.332 opens it with `launched`). Its records were
    138 `unknown_records`, as if a newer client wrote kinds claimback misses. The journal is skipped, also
    when it grows; the agents' answers count."""
    run = tmp_path / "projects" / PROJECT / SESSION / "subagents" / "workflows" / "wf_5f26cca5-189"
    journal = run / "journal.jsonl"
    records: list[dict[str, Any]] = []
    if head == "launched":
        records.append({"type": "launched", "hiddenScriptSha256": "3f" * 32})
    records += [{"type": "started", "key": "v2:" + "a1" * 32, "agentId": "a29f85e2de26c3ca3"},
                {"type": "result", "key": "v2:" + "a1" * 32, "agentId": "a29f85e2de26c3ca3",
                 "result": {"modules": ["parser", "core"]}, "sessionId": SESSION}]
    write(journal, records)
    agent = "a29f85e2de26c3ca3"
    write(run / f"agent-{agent}.jsonl", [
        {**user_prompt("map the modules", "2026-06-06T08:45:28.112Z", sidechain=True, agent_id=agent), "version": "2.1.212"},
        {**assistant("msg_01WorkflowAgentAbCdEfGhJk", "req_011WorkflowAgentAbCdEfGh", "2026-06-06T08:45:40.000Z",
                     sidechain=True, agent_id=agent, out=120), "version": "2.1.212"}])
    write(tmp_path / "projects" / PROJECT / f"{SESSION}.jsonl", [
        user_prompt("analyse the repository", "2026-06-06T08:45:00.000Z", uuid="p-1"),
        assistant("msg_01WorkflowParentAbCdEfGhJ", "req_011WorkflowParentAbCdEfG", "2026-06-06T08:45:20.000Z")])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        first = ingest(ledger, [tmp_path / "projects"], machine="m")
        assert first.unknown_records == {}
        assert first.lines_skipped == {"a Workflow run's journal": len(records)}
        write(journal, [{"type": "failed", "key": "v2:" + "b2" * 32, "agentId": "a7a7939bc17883f07"}], mode="a")
        second = ingest(ledger, [tmp_path / "projects"], machine="m")
        assert second.unknown_records == {} and second.lines_skipped == {"a Workflow run's journal": 1}
        assert ledger.scalar("SELECT COUNT(*) FROM requests") == 2
        assert ledger.scalar("SELECT output_tokens FROM requests WHERE agent_id = ?", (agent,)) == 120
    finally:
        ledger.close()


def test_a_teleported_sessions_head_is_a_known_kind(tmp_path: Path) -> None:
    """A published 2.1.8x-2.1.11x tree (Windows, VS Code and the desktop app): sessions brought over from
    Claude Code on the web open with `teleported-from` (the remote session id, its branch, a message
    count): 2 `unknown_records`. Nothing to count; the session after it is read as usual."""
    write(tmp_path / "projects" / PROJECT / f"{SESSION}.jsonl", [
        {"type": "teleported-from", "remoteSessionId": "session_01AbCdEfGhJkLmNoPqRsTuVw",
         "branch": "claude/explain-the-readme-Xy12z", "messageCount": 0},
        {**user_prompt("go on from the web session", "2026-04-10T17:00:00.000Z", uuid="p-1"), "version": "2.1.100"},
        {**assistant("msg_01TeleportedAnswerAbCdEfG", "req_011TeleportedAbCdEfGhJk", "2026-04-10T17:00:09.000Z"),
         "version": "2.1.100"}])
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        summary = ingest(ledger, [tmp_path / "projects"], machine="m")
        assert summary.unknown_records == {} and summary.lines_skipped == {}
        assert ledger.scalar("SELECT COUNT(*) FROM requests") == 1
    finally:
        ledger.close()


def _plan_limit_final(ts: str, session: str, uuid: str) -> dict[str, Any]:
    return {"type": "assistant", "timestamp": ts, "sessionId": session, "uuid": uuid, "isSidechain": False,
            "isApiErrorMessage": True, "version": "2.1.90", "entrypoint": "cli", "error": "rate_limit",
            "message": {"id": f"9b0e1f2a-0000-4000-8000-{uuid.rjust(12, '0')}", "model": "<synthetic>",
                        "role": "assistant", "type": "message",
                        "content": [{"type": "text", "text": "You're out of extra usage · resets 3pm (America/Denver)"}],
                        "usage": {"input_tokens": 0, "output_tokens": 0}}}


@pytest.mark.parametrize("earlier_first_party", [False, True])
def test_a_plan_limit_never_takes_a_clouds_route_from_a_neighbour(tmp_path: Path, earlier_first_party: bool,
                                                                  ledger_db: str) -> None:
    """A published 2.1.8x-2.1.11x tree: an Agent SDK session on Bedrock (`msg_bdrk_…` answers), then minutes
    later a CLI session with no answer whose two finals were the Claude plan's "You're out of extra usage":
    the nearest-answer rule gave them Bedrock's route. A plan's limit is no cloud's (they bill by the token):
    such a session takes the nearest answer of another route, or none (Anthropic's, the default). A 5xx of
    an answer-less session beside the Bedrock one still takes Bedrock's."""
    sdk, cli, other = (f"58ef7597-0000-4000-8000-0000000000d{n}" for n in range(1, 4))
    records = {sdk: [{**assistant("msg_bdrk_01SdkAnswerAbCdEfGhJkLmN", None, "2026-04-02T01:58:00.000Z",
                                  model="claude-haiku-4-5-20251001", session=sdk), "entrypoint": "sdk-ts",
                      "version": "2.1.81"}],
               cli: [_plan_limit_final("2026-04-02T02:03:08.564Z", cli, "e1"),
                     _plan_limit_final("2026-04-02T02:05:22.820Z", cli, "e2")],
               other: [{"type": "assistant", "timestamp": "2026-04-02T02:01:00.000Z", "sessionId": other, "uuid": "e3",
                        "isSidechain": False, "isApiErrorMessage": True, "version": "2.1.81", "error": "server_error",
                        "apiErrorStatus": 500,
                        "message": {"id": "9b0e1f2a-0000-4000-8000-0000000000e3", "model": "<synthetic>",
                                    "role": "assistant", "type": "message",
                                    "content": [{"type": "text", "text": "API Error: 500 Internal server error"}],
                                    "usage": {"input_tokens": 0, "output_tokens": 0}}}]}
    if earlier_first_party:
        first_party = "58ef7597-0000-4000-8000-0000000000d4"
        records[first_party] = [{**assistant("msg_01EarlierCliAnswerAbCdEfG", "req_011EarlierCliAbCdEfGhJk",
                                             "2026-04-01T23:00:00.000Z", session=first_party), "version": "2.1.90"}]
    for session, lines in records.items():
        write(tmp_path / "projects" / PROJECT / f"{session}.jsonl", lines)
    ledger = open_ledger(ledger_db)  # both engines: the rule is SQL
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        routes = {r["session_id"]: r["provider"] for r in ledger.rows("SELECT session_id, provider FROM failures")}
        assert routes == {cli: "anthropic" if earlier_first_party else None, other: "bedrock"}
    finally:
        ledger.close()
