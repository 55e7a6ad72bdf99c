"""Records of newer clients (2.1.1xx–2.1.2xx): what carries meaning is read, the rest is skipped by name,
and kinds no claimback knows are counted in the ingest summary instead of being guessed at. Shapes as
public parsers of real transcripts document them (docs/design.md, "Transcript records")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from claimback.cli import main
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.prevent.resume import build_resume
import pytest
from records import SESSION, agent_launch, assistant, final_error, line, retry, task_result, user_prompt

SLUG = "-home-u-app"
AGENT = "a1b2c3d4e5f60718"


def _ts(minute: int, second: int = 0) -> str:
    return f"2026-05-15T01:{minute:02d}:{second:02d}.000Z"


def _system(subtype: str, ts: str, **fields: Any) -> dict[str, Any]:
    return {"type": "system", "subtype": subtype, "sessionId": SESSION, "timestamp": ts, "uuid": f"s-{subtype}-{ts}",
            "isSidechain": False, "level": "info", "version": "2.1.230", **fields}


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line(r) for r in records))


def _ingest(tmp_path: Path):
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    summary = ingest(ledger, [tmp_path / "projects"], machine="m")
    return ledger, summary


def _main(tmp_path: Path) -> Path:
    return tmp_path / "projects" / SLUG / f"{SESSION}.jsonl"


def _agent_file(tmp_path: Path) -> Path:
    return tmp_path / "projects" / SLUG / SESSION / "subagents" / f"agent-{AGENT}.jsonl"


def test_background_runs_the_user_killed_are_not_outage_loss(tmp_path: Path) -> None:
    """`system`/`agents_killed` after a background launch: the run ends by the user's hand, even when its
    own file ends in an outage error (the user gave up on it), and resume does not offer it."""
    _write(_main(tmp_path), [
        user_prompt("review it in the background", _ts(0), uuid="p-1"),
        agent_launch("msg_01L", "req_01L", _ts(0, 5), "toolu_bg", "Review the change"),
        {**task_result("toolu_bg", _ts(0, 6), status="async_launched", agent_id=AGENT, is_error=False,
                       text="Async agent launched"), "toolUseResult": {"status": "async_launched", "agentId": AGENT}},
        _system("agents_killed", _ts(4), content={"count": 1, "reason": "user"}),
    ])
    _write(_agent_file(tmp_path), [
        user_prompt("Review the change", _ts(0, 7), agent_id=AGENT, sidechain=True, uuid="ap-1"),
        assistant("msg_02A", "req_02A", _ts(1), agent_id=AGENT, sidechain=True),
        final_error(_ts(3), 'API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}',
                    status=529, agent_id=AGENT),
    ])
    ledger, _ = _ingest(tmp_path)
    try:
        task = ledger.rows("SELECT outcome, result_status, agent_id FROM tasks")[0]
        assert (task["outcome"], task["result_status"], task["agent_id"]) == ("stopped_by_user", "stopped_by_user", AGENT)
        assert build_resume(ledger).tasks == []
    finally:
        ledger.close()


def test_a_runs_meta_file_links_it_to_its_launch(tmp_path: Path) -> None:
    """No agentId in the parent's result and a first prompt that is not the launch's: only the meta
    file's `toolUseId` says which launch started the run."""
    _write(_main(tmp_path), [
        user_prompt("explore", _ts(0), uuid="p-1"),
        agent_launch("msg_01L", "req_01L", _ts(0, 5), "toolu_01meta", "Find the config loader"),
        task_result("toolu_01meta", _ts(2), status="completed", agent_id=None, is_error=False, text="found it"),
    ])
    _write(_agent_file(tmp_path), [
        user_prompt("(the client rewrote this prompt)", _ts(0, 6), agent_id=AGENT, sidechain=True, uuid="ap-1"),
        assistant("msg_02A", "req_02A", _ts(1), agent_id=AGENT, sidechain=True),
    ])
    meta = _agent_file(tmp_path).with_name(f"agent-{AGENT}.meta.json")
    meta.write_text(json.dumps({"agentType": "Explore", "description": "Find the config loader",
                                "toolUseId": "toolu_01meta", "spawnDepth": 1}))
    ledger, _ = _ingest(tmp_path)
    try:
        assert ledger.scalar("SELECT agent_id FROM tasks WHERE tool_use_id = 'toolu_01meta'") == AGENT
        assert ledger.scalar("SELECT tool_use_id FROM agents") == "toolu_01meta"
    finally:
        ledger.close()


def test_client_written_prompts_compactions_and_metrics_open_no_turn(tmp_path: Path) -> None:
    auto = {**user_prompt("Your claude.ai usage limit has reset. Continue the task you were working on.",
                          _ts(5), uuid="p-auto"), "promptSource": "system", "origin": {"kind": "auto-continuation"}}
    typed = {**user_prompt("fix the flaky test", _ts(0), uuid="p-typed"), "promptSource": "typed"}
    summary_record = {**user_prompt("This session is being continued from a previous conversation that ran out "
                                    "of context.", _ts(3, 1), uuid="p-summary"), "isCompactSummary": True}
    _write(_main(tmp_path), [
        typed,
        assistant("msg_01", "req_01", _ts(1)),
        _system("turn_duration", _ts(2), durationMs=61234),
        _system("api_metrics", _ts(2, 1), ttftMs=812, otps=41.5, turnDurationMs=61234, toolCount=3),
        _system("compact_boundary", _ts(3), content="Conversation compacted",
                compactMetadata={"trigger": "auto", "preTokens": 170251, "postTokens": 6330, "durationMs": 67643}),
        summary_record,
        auto,
        assistant("msg_02", "req_02", _ts(6)),
    ])
    ledger, summary = _ingest(tmp_path)
    try:
        assert [r["prompt_key"] for r in ledger.rows("SELECT prompt_key FROM prompts")] == ["p-typed"]
        # The work after the compaction and the auto-continuation is still the typed prompt's turn.
        assert {r["turn_id"] for r in ledger.rows("SELECT turn_id FROM requests")} == {"p-typed"}
        assert summary.unknown_records == {}
    finally:
        ledger.close()


def test_unknown_record_kinds_are_counted_not_guessed(tmp_path: Path) -> None:
    _write(_main(tmp_path), [
        user_prompt("go", _ts(0), uuid="p-1"),
        {"type": "brand-new-kind", "timestamp": _ts(0, 1), "sessionId": SESSION, "payload": {"type": "text"}},
        {"type": "brand-new-kind", "timestamp": _ts(0, 2), "sessionId": SESSION},
        _system("quota_forecast", _ts(0, 3), content="…"),
        _system("turn_duration", _ts(0, 4), durationMs=10),  # known by name: not counted
        # a 1.0.x notice: a system record with no subtype (known: not counted)
        {"type": "system", "content": "Claude Opus limit reached, now using Sonnet 4", "level": "warning",
         "isMeta": False, "timestamp": _ts(0, 4), "sessionId": SESSION, "uuid": "n-1"},
        {"type": "[bold red]markup[/]", "timestamp": _ts(0, 5)},
        assistant("msg_01", "req_01", _ts(1)),
    ])
    ledger, summary = _ingest(tmp_path)
    ledger.close()
    assert summary.unknown_records == {"brand-new-kind": 2, "system/quota_forecast": 1, "[bold red]markup[/]": 1}
    result = CliRunner().invoke(main, ["ingest", "--json", "--source", str(tmp_path / "projects"),
                                       "--db", str(tmp_path / "cli.sqlite3")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["unknown_records"] == summary.unknown_records
    shown = CliRunner().invoke(main, ["ingest", "--source", str(tmp_path / "projects"),
                                      "--db", str(tmp_path / "cli2.sqlite3")])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())  # the terminal wraps long lines
    assert "brand-new-kind 2" in text and "system/quota_forecast 1" in text
    assert "[bold red]markup[/] 1" in text  # printed as text, not taken as markup


def test_the_record_kinds_of_2_1_22x_are_known_and_a_forks_file_is_read_as_its_own(tmp_path: Path) -> None:
    """2.1.140-2.1.232 write `worktree-state`, `agent-setting`, `bridge-session`, `file-history-delta`, `frame-link` into sessions and open a
    forked subagent's file with a `fork-context-ref` (a reference to the parent's context, not a replay):
    none is an unknown kind, none makes a row, and the fork's own request and prompt still count."""
    fork = "f1e2d3c4b5a69788"
    _write(_main(tmp_path), [
        user_prompt("build it", _ts(0), uuid="p-1"),
        {"type": "bridge-session", "sessionId": SESSION, "bridgeSessionId": "cse_01AbCdEfGhJkLmNpQrStUv",
         "lastSequenceNum": 0},
        {"type": "agent-setting", "agentSetting": "reviewer", "sessionId": SESSION},
        {"type": "worktree-state", "sessionId": SESSION, "worktreeSession": {
            "originalCwd": "/home/u/app", "worktreePath": "/home/u/app/.claude/worktrees/try-it",
            "worktreeName": "try-it", "worktreeBranch": "worktree-try-it", "originalBranch": "main",
            "sessionId": SESSION}},
        assistant("msg_01MainAnswerAbCdEfGhJk", "req_011MainAbCdEfGh", _ts(1), out=40),
        {"type": "file-history-delta", "messageId": "m-1", "snapshotMessageId": "m-0",
         "trackingPath": "/home/u/app/notes.md", "timestamp": _ts(1, 5),
         "backup": {"backupFileName": None, "version": 1, "backupTime": _ts(1, 5), "realParentDir": "/home/u/app"}},
        {"type": "frame-link", "sessionId": SESSION, "path": "/tmp/scratch/page.html", "title": "a page",
         "frameUrl": "https://claude.ai/code/artifact/00000000-0000-4000-8000-000000000000", "timestamp": _ts(2)},
    ])
    fork_file = tmp_path / "projects" / SLUG / SESSION / "subagents" / f"agent-{fork}.jsonl"
    _write(fork_file, [
        {"type": "fork-context-ref", "agentId": fork, "parentSessionId": SESSION, "parentLastUuid": "u-x",
         "contextLength": 12},
        user_prompt("check it again", _ts(3), sidechain=True, agent_id=fork, uuid="fp-1"),
        assistant("msg_01ForkAnswerAbCdEfGhJk", "req_011ForkAbCdEfGh", _ts(3, 20), out=70, sidechain=True,
                  agent_id=fork),
    ])
    ledger, summary = _ingest(tmp_path)
    try:
        assert summary.unknown_records == {}
        rows = ledger.rows("SELECT message_id, agent_id, output_tokens FROM requests ORDER BY ts")
        assert [tuple(r.values()) for r in rows] == [("msg_01MainAnswerAbCdEfGhJk", None, 40),
                                            ("msg_01ForkAnswerAbCdEfGhJk", fork, 70)]
        assert ledger.scalar("SELECT COUNT(*) FROM failures") == 0
    finally:
        ledger.close()


@pytest.mark.parametrize("fork_id", ["00000000-0000-4000-8000-00000000f0f0", "ffffffff-0000-4000-8000-00000000f0f0"])
def test_a_forks_copy_of_an_answer_stays_the_request_of_the_session_that_made_it(tmp_path: Path, fork_id: str) -> None:
    """2.1.332's `--resume … --fork-session` (tests/test_realclient.py, the fork scenario) starts the fork's
    file with copies of the first session's records under the fork's sessionId, timestamps kept; a copied
    answer names the session that made the request as `requestSessionId`. Whichever file is read first
    (the fork's id sorts before and after the original's), the request is the first session's."""
    first = [user_prompt("build it", _ts(0), uuid="p-1"),
             assistant("msg_01FirstAnswerAbCdEfGhJk", "req_011FirstAbCdEfGh", _ts(1), out=40)]
    copies = [{**r, "sessionId": fork_id} for r in first]
    copies[1]["requestSessionId"] = SESSION
    fork = [*copies, user_prompt("and test it", _ts(5), session=fork_id, uuid="p-2"),
            assistant("msg_01ForkAnswerAbCdEfGhJkL", "req_011ForkAbCdEfGhJ", _ts(6), out=70, session=fork_id)]
    _write(_main(tmp_path), first)
    _write(tmp_path / "projects" / SLUG / f"{fork_id}.jsonl", fork)
    ledger, summary = _ingest(tmp_path)
    try:
        rows = ledger.rows("SELECT message_id, session_id, output_tokens FROM requests ORDER BY ts")
        assert [tuple(r.values()) for r in rows] == [("msg_01FirstAnswerAbCdEfGhJk", SESSION, 40),
                                                      ("msg_01ForkAnswerAbCdEfGhJkL", fork_id, 70)]
        assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 2 and summary.unknown_records == {}
    finally:
        ledger.close()


def _session_copy(records: list[dict[str, Any]], session: str, n: int) -> list[dict[str, Any]]:
    """A session duplicated by a tool outside Claude Code, as a published 2.1.45 tree shows it: every
    record under the copy's sessionId with a new uuid and parentUuid, and an assistant record's
    message.id replaced by that new uuid; timestamps, requestId and the rest kept."""
    out = []
    for i, r in enumerate(records):
        uuid = f"c{n}-{i:04d}-0000-4000-8000-000000000000"
        copy = {**r, "sessionId": session, "uuid": uuid, "parentUuid": out[-1]["uuid"] if out else None}
        if isinstance(r.get("message"), dict) and r["type"] == "assistant":
            copy["message"] = {**r["message"], "id": uuid}
        out.append(copy)
    return out


@pytest.mark.parametrize("order", ["one-run", "copies-ingested-first", "copies-ingested-later",
                                   "copies-later-retimed"])
def test_a_duplicated_sessions_copies_count_once_even_with_the_message_id_replaced(
        tmp_path: Path, order: str, ledger_db: str) -> None:
    """Two copies of a session whose answer (streamed over two lines of one requestId), 529 attempt,
    final 529 and prompt keep their timestamps but have new sessionIds, uuids and message ids: one
    request (Anthropic's, the original's session and size), one failure of each kind, one prompt —
    also when the copies were ingested before the original's file appeared, or after it (an
    incremental run checks its own rows: the original at the copy's time, else anywhere; `retimed`:
    the copies' answers a millisecond later, so only the second look finds the original)."""
    original = [
        user_prompt("build it", _ts(0), uuid="p-1"),
        {**assistant("msg_01StreamedAnswerAbCdEfGh", "req_011StreamedAbCdEfGhJk", _ts(1), out=5), "uuid": "a-1"},
        {**assistant("msg_01StreamedAnswerAbCdEfGh", "req_011StreamedAbCdEfGhJk", _ts(1, 2), out=90), "uuid": "a-2"},
        user_prompt("and test it", _ts(2), uuid="p-2"),
        {"type": "system", "subtype": "api_error", "level": "error", "sessionId": SESSION, "timestamp": _ts(2, 5),
         "uuid": "r-1", "isSidechain": False, "retryAttempt": 1, "maxRetries": 10, "retryInMs": 512.25,
         "error": {"status": 529, "requestID": "req_011RetryAbCdEfGhJkLm",
                   "error": {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}}},
        final_error(_ts(3), 'API Error: 529 {"type":"error","error":{"type":"overloaded_error"}}', status=529),
    ]
    copies = {sid: _session_copy(original, sid, n) for n, sid in
              enumerate(("0a1b2c3d-0000-4000-8000-00000000000a", "0a1b2c3d-0000-4000-8000-00000000000b"))}
    if order == "copies-later-retimed":
        for records in copies.values():
            for r in records:
                if r["type"] == "assistant" and not r.get("isApiErrorMessage"):  # the answers, not the final error
                    r["timestamp"] = r["timestamp"].replace(".000Z", ".001Z")
        assert sum(r["timestamp"] != o["timestamp"] for r, o in zip(records, original)) == 2

    def write_copies() -> None:
        for sid, records in copies.items():
            _write(tmp_path / "projects" / SLUG / f"{sid}.jsonl", records)

    ledger = open_ledger(ledger_db)  # both engines: the stand-in rule and the copy rule are SQL
    try:
        if order == "copies-ingested-first":
            write_copies()
            ingest(ledger, [tmp_path / "projects"], machine="m")
            assert ledger.scalar("SELECT COUNT(*) FROM requests") == 1  # the copies' lines: one response
        elif order != "one-run":
            _write(_main(tmp_path), original)
            ingest(ledger, [tmp_path / "projects"], machine="m")
        if order == "one-run":
            write_copies()
        if order in ("one-run", "copies-ingested-first"):
            _write(_main(tmp_path), original)
        else:
            write_copies()
        summary = ingest(ledger, [tmp_path / "projects"], machine="m")
        rows = ledger.rows("SELECT message_id, request_id, session_id, output_tokens, provider FROM requests")
        assert [tuple(r.values()) for r in rows] == [
            ("msg_01StreamedAnswerAbCdEfGh", "req_011StreamedAbCdEfGhJk", SESSION, 90, "anthropic")]
        kinds = ledger.rows("SELECT kind, failure_class, COUNT(*) AS n FROM failures GROUP BY 1, 2 ORDER BY 1")
        assert [tuple(r.values()) for r in kinds] == [("final", "outage", 1), ("retry", "outage", 1)]
        assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 2 and summary.unknown_records == {}
    finally:
        ledger.close()


def test_a_stand_in_answer_without_its_original_is_one_anthropic_request(tmp_path: Path) -> None:
    """Only copies in the tree (the original session deleted): the response's lines, each under its own
    uuid as message id, are one request, judged by its requestId (Anthropic's), not a relay's UUID ids."""
    original = [user_prompt("build it", _ts(0), uuid="p-1"),
                {**assistant("msg_01StreamedAnswerAbCdEfGh", "req_011StreamedAbCdEfGhJk", _ts(1), out=5), "uuid": "a-1"},
                {**assistant("msg_01StreamedAnswerAbCdEfGh", "req_011StreamedAbCdEfGhJk", _ts(1, 2), out=90), "uuid": "a-2"}]
    _write(tmp_path / "projects" / SLUG / "0a1b2c3d-0000-4000-8000-00000000000a.jsonl",
           _session_copy(original, "0a1b2c3d-0000-4000-8000-00000000000a", 0))
    ledger, _ = _ingest(tmp_path)
    try:
        rows = ledger.rows("SELECT message_id, request_id, output_tokens, provider FROM requests")
        assert [tuple(r.values()) for r in rows] == [(None, "req_011StreamedAbCdEfGhJk", 90, "anthropic")]
    finally:
        ledger.close()


@pytest.mark.parametrize("order", ["original first", "fork first"])
def test_a_forks_copied_failures_prompts_and_launches_stay_the_originals_in_either_read_order(
        tmp_path: Path, order: str) -> None:
    """2.1.332's fork copies its original's failed attempts, prompts and launches too (same uuids and
    timestamps, the fork's sessionId, no requestSessionId); the copied answer in the same file names the
    original, so every copy up to it is the original's, whichever file is read first (two ingests, in
    the order given)."""
    fork_id = "31c137eb-abe6-46f4-b05b-b2fb598a9c64"
    first = [user_prompt("build it", _ts(0), uuid="p-1"),
             retry(_ts(0, 10), 1, uuid="r-1"), retry(_ts(0, 20), 2, uuid="r-2"),
             agent_launch("msg_01FirstAnswerAbCdEfGhJk", "req_011FirstAbCdEfGh", _ts(1), "toolu_01CopiedLaunchAbCd",
                          "review the notes")]
    copies = [{**r, "sessionId": fork_id} for r in first]
    copies[-1]["requestSessionId"] = SESSION
    fork = [*copies, user_prompt("and test it", _ts(5), session=fork_id, uuid="p-2"),
            retry(_ts(5, 10), 1, session=fork_id, uuid="r-3"),
            assistant("msg_01ForkAnswerAbCdEfGhJkL", "req_011ForkAbCdEfGhJ", _ts(6), out=70, session=fork_id)]
    original, forked = _main(tmp_path), tmp_path / "projects" / SLUG / f"{fork_id}.jsonl"
    _write(original, first)
    _write(forked, fork)
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        for path in ([original, forked] if order == "original first" else [forked, original]):
            ingest(ledger, [path], machine="m")
        assert ledger.rows("SELECT failure_key, session_id FROM failures ORDER BY ts") == [
            {"failure_key": "r-1", "session_id": SESSION}, {"failure_key": "r-2", "session_id": SESSION},
            {"failure_key": "r-3", "session_id": fork_id}]
        assert ledger.rows("SELECT prompt_key, session_id FROM prompts ORDER BY ts") == [
            {"prompt_key": "p-1", "session_id": SESSION}, {"prompt_key": "p-2", "session_id": fork_id}]
        assert ledger.rows("SELECT tool_use_id, session_id FROM tasks") == [
            {"tool_use_id": "toolu_01CopiedLaunchAbCd", "session_id": SESSION}]
        assert ledger.rows("SELECT message_id, session_id FROM requests ORDER BY ts") == [
            {"message_id": "msg_01FirstAnswerAbCdEfGhJk", "session_id": SESSION},
            {"message_id": "msg_01ForkAnswerAbCdEfGhJkL", "session_id": fork_id}]
    finally:
        ledger.close()


def _command(ts: str, name: str) -> dict[str, Any]:
    """The user record 2.1.332 writes for a slash command (`claude -p /compact --continue`)."""
    return {"type": "user", "sessionId": SESSION, "timestamp": ts, "uuid": f"c-{name}-{ts}", "isSidechain": False,
            "message": {"role": "user", "content": f"<command-name>/{name}</command-name>\n"
                                                   f"            <command-message>{name}</command-message>\n"
                                                   "            <command-args></command-args>"}}


def _stderr(ts: str, text: str) -> dict[str, Any]:
    return _system("local_command", ts, content=f"<local-command-stderr>{text}</local-command-stderr>",
                   level="info", version="2.1.332")


@pytest.mark.parametrize("detail,failure_class,status", [
    ("API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment.",
     "outage", 529),
    ("API Error: Request timed out.", "network", None),
])
def test_a_compact_command_ended_by_an_api_error_is_one_final_of_no_turn(
        tmp_path: Path, detail: str, failure_class: str, status: int | None) -> None:
    # 2.1.332: `/compact` whose summary request failed (its attempts are in no record) writes its error
    # as the command's stderr; the prompt before it was answered, so no turn is killed.
    _write(tmp_path / "projects" / SLUG / f"{SESSION}.jsonl", [
        user_prompt("This is the first question.", _ts(0)),
        assistant("msg_1", "req_1", _ts(0, 2), inp=300, out=6),
        _command(_ts(1), "compact"),
        _stderr(_ts(1, 5), f"Error during compaction: {detail}"),
        # Not an API error: nothing to file.
        _command(_ts(2), "compact"),
        _stderr(_ts(2, 1), "Error during compaction: Error: Not enough messages to compact."),
    ])
    ledger, summary = _ingest(tmp_path)
    assert summary.unknown_records == {}
    assert ledger.rows("SELECT kind, failure_class, status, turn_id, ts FROM failures") == [
        {"kind": "final", "failure_class": failure_class, "status": status, "turn_id": None, "ts": _ts(1, 5)}]
    resume = build_resume(ledger)
    assert resume.tasks == [] and resume.turns == []
