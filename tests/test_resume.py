"""`claimback resume` on transcript fixtures and on the demo: real files, real ingest, real SQLite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from claimback.cli import main
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.prevent.resume import build_resume

SID = "11111111-2222-4333-8444-555555555555"
SLUG = "-home-u-app"
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
INTERNAL_TEXT = 'API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}'
# Unique marker words: the prompt text must be shown by --prompt and never land in the ledger.
PROMPT_A = "Audit zebracorn module for race conditions and report findings."
PROMPT_B = "Write property tests for quokkafield parsing."
PROMPT_C = "Summarise the README."
PROMPT_D = "Benchmark the narwhalcache layer."
MAIN_PROMPT = "Refactor the platypus service and have reviewers check it."


def _base(ts: str, agent: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"sessionId": SID, "timestamp": ts, "uuid": f"u-{agent or 'main'}-{ts}",
                              "isSidechain": agent is not None, "cwd": "/home/u/app", "version": "2.1.150"}
    if agent:
        record["agentId"] = agent
    return record


def prompt(ts: str, text: str, agent: str | None = None) -> dict[str, Any]:
    return {**_base(ts, agent), "type": "user", "message": {"role": "user", "content": text}}


def request(ts: str, msg: str, *, tokens: int = 1000, agent: str | None = None,
            content: list | None = None) -> dict[str, Any]:
    return {**_base(ts, agent), "type": "assistant", "requestId": f"req_{msg}",
            "message": {"id": f"msg_{msg}", "role": "assistant", "model": "claude-sonnet-4-6",
                        "content": content or [{"type": "text", "text": "working"}],
                        "usage": {"input_tokens": 10, "output_tokens": 90, "cache_creation_input_tokens": 0,
                                  "cache_read_input_tokens": tokens - 100}}}


def launch(ts: str, msg: str, tasks: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    blocks = [{"type": "tool_use", "id": tid, "name": "Agent",
               "input": {"description": d, "subagent_type": s, "prompt": p}} for tid, d, s, p in tasks]
    return request(ts, msg, content=blocks)


def retry(ts: str, attempt: int, status: int = 529, agent: str | None = None) -> dict[str, Any]:
    return {**_base(ts, agent), "type": "system", "subtype": "api_error", "level": "error",
            "error": {"status": status, "headers": {}, "error": OVERLOADED if status == 529 else
                      {"type": "error", "error": {"type": "rate_limit_error", "message": "rate limited"}}},
            "retryAttempt": attempt, "maxRetries": 10, "retryInMs": 1000.0}


def final(ts: str, text: str, *, status: int = 500, error: str = "server_error",
          agent: str | None = None) -> dict[str, Any]:
    return {**_base(ts, agent), "type": "assistant", "isApiErrorMessage": True, "error": error,
            "apiErrorStatus": status,
            "message": {"id": f"synthetic-{ts}", "model": "<synthetic>", "role": "assistant",
                        "content": [{"type": "text", "text": text}],
                        "usage": {"input_tokens": 0, "output_tokens": 0}}}


def result(ts: str, tool_id: str, *, status: str, agent_id: str, is_error: bool, text: str) -> dict[str, Any]:
    return {**_base(ts), "type": "user",
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                                     "is_error": is_error, "content": text}]},
            "toolUseResult": {"status": status, "agentId": agent_id, "totalTokens": 500}}


def _write(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records), encoding="utf-8")


def _agent(projects: Path, agent_id: str, records: list[dict[str, Any]]) -> None:
    _write(projects / SLUG / SID / "subagents" / f"agent-{agent_id}.jsonl", records)


@pytest.fixture()
def projects(tmp_path: Path) -> Path:
    return write_fixture(tmp_path / "projects")


def write_fixture(root: Path) -> Path:
    """Session SID: four subagent launches (A killed but reported "completed", B killed then re-launched,
    C completed, D hit a quota limit) and the parent's own turn ended by a 529."""
    tasks = [("toolu_A", "Race audit", "auditor", PROMPT_A), ("toolu_B", "Parser tests", "test-writer", PROMPT_B),
             ("toolu_C", "Readme", "Explore", PROMPT_C), ("toolu_D", "Bench", "bencher", PROMPT_D)]
    _write(root / SLUG / f"{SID}.jsonl", [
        prompt("2026-05-15T00:50:00.000Z", MAIN_PROMPT),
        request("2026-05-15T00:51:00.000Z", "m1", tokens=5000),
        launch("2026-05-15T00:58:00.000Z", "m2", tasks),
        # A: the parent is told "completed" (Claude Code's misreport); the run's own file ends in an error.
        result("2026-05-15T01:31:00.000Z", "toolu_A", status="completed", agent_id="aaaa000000000001",
               is_error=False, text=INTERNAL_TEXT),
        result("2026-05-15T01:32:00.000Z", "toolu_B", status="failed", agent_id="aaaa000000000002",
               is_error=True, text=INTERNAL_TEXT),
        result("2026-05-15T01:05:00.000Z", "toolu_C", status="completed", agent_id="aaaa000000000003",
               is_error=False, text="Summary: fine"),
        result("2026-05-15T01:06:00.000Z", "toolu_D", status="failed", agent_id="aaaa000000000004",
               is_error=True, text="API Error: 429 rate limited"),
        # The parent's own turn dies too, then B is re-launched after recovery and completes.
        retry("2026-05-15T01:33:00.000Z", 1),
        final("2026-05-15T01:40:00.000Z", "API Error: 529 Overloaded", status=529),
        prompt("2026-05-15T02:40:00.000Z", "The API is back; re-run the parser tests."),
        launch("2026-05-15T02:41:00.000Z", "m3", [("toolu_B2", "Parser tests", "test-writer", PROMPT_B)]),
        result("2026-05-15T02:50:00.000Z", "toolu_B2", status="completed", agent_id="aaaa000000000005",
               is_error=False, text="Summary: tests written"),
        request("2026-05-15T02:51:00.000Z", "m4"),
    ])
    a, b, c, d, b2 = (f"aaaa00000000000{i}" for i in range(1, 6))
    _agent(root, a, [prompt("2026-05-15T00:58:02.000Z", PROMPT_A, a)]
           + [request(f"2026-05-15T01:0{i}:00.000Z", f"a{i}", tokens=20_000, agent=a) for i in range(4)]
           + [retry("2026-05-15T01:10:00.000Z", 1, agent=a), final("2026-05-15T01:30:55.000Z", INTERNAL_TEXT, agent=a)])
    _agent(root, b, [prompt("2026-05-15T00:58:02.000Z", PROMPT_B, b),
                     request("2026-05-15T01:00:00.000Z", "b1", tokens=7_000, agent=b),
                     final("2026-05-15T01:31:50.000Z", INTERNAL_TEXT, agent=b)])
    _agent(root, c, [prompt("2026-05-15T00:58:02.000Z", PROMPT_C, c),
                     request("2026-05-15T01:04:00.000Z", "c1", agent=c)])
    _agent(root, d, [prompt("2026-05-15T00:58:02.000Z", PROMPT_D, d),
                     request("2026-05-15T01:00:00.000Z", "d1", agent=d),
                     final("2026-05-15T01:05:50.000Z", "You've hit your session limit · resets 3am (UTC)",
                           status=429, error="rate_limit", agent=d)])
    _agent(root, b2, [prompt("2026-05-15T02:41:02.000Z", PROMPT_B, b2),
                      request("2026-05-15T02:45:00.000Z", "b21", agent=b2)])
    return root


@pytest.fixture()
def ledger(projects: Path, tmp_path: Path):
    led = open_ledger(tmp_path / "ledger.sqlite3")
    ingest(led, [projects], machine="test")
    yield led
    led.close()


def test_killed_tasks_listed_with_status(ledger) -> None:
    report = build_resume(ledger)
    by_id = {t.tool_use_id: t for t in report.tasks}
    assert set(by_id) == {"toolu_A", "toolu_B"}  # C completed; D was a quota limit, not an outage
    assert report.other_cause_tasks == 1
    a, b = by_id["toolu_A"], by_id["toolu_B"]
    # The parent was told "completed", but the run's own file ends in an API error: listed, pending.
    assert a.parent_reported == "completed" and a.outcome == "killed" and a.status == "pending"
    assert a.tokens_burned == 80_000 and a.requests == 4
    assert a.description == "Race audit" and a.subagent_type == "auditor"
    # Already re-launched (same prompt, later, completed): done, not pending.
    assert b.status == "done" and b.relaunched_as == "toolu_B2" and b.relaunch_match == "same prompt"
    assert b.tokens_burned == 7_000
    # Newest first.
    assert [t.tool_use_id for t in report.tasks] == ["toolu_B", "toolu_A"]
    assert a.prompt is None  # prompts are read only when asked for


def test_killed_turn_is_listed(ledger) -> None:
    report = build_resume(ledger)
    assert len(report.turns) == 1
    turn = report.turns[0]
    # The session went on after recovery, so the turn is not "pending" but "continued".
    assert turn.status == "continued" and turn.session_id == SID
    assert turn.tokens_burned == 5_000 + 1_000  # m1 + the launch request m2
    assert turn.ended_ts == "2026-05-15T01:40:00.000Z"


def test_prompt_redispatches_only_unfinished(ledger) -> None:
    report = build_resume(ledger, with_prompts=True)
    assert len(report.plans) == 1
    plan = report.plans[0]
    assert plan.resume_command == f"claude --resume {SID}"
    assert plan.pending_tasks == ["toolu_A"]
    assert PROMPT_A in plan.prompt and "subagent_type: auditor" in plan.prompt
    assert PROMPT_B not in plan.prompt and PROMPT_D not in plan.prompt
    everything = build_resume(ledger, with_prompts=True, include_done=True).plans[0]
    assert PROMPT_B in everything.prompt


def test_session_filter(ledger) -> None:
    assert build_resume(ledger, session="no-such-session").tasks == []
    assert "no session" in build_resume(ledger, session="no-such-session").notes[0]
    assert len(build_resume(ledger, session=SID).tasks) == 2
    assert len(build_resume(ledger, session=SID[:8]).tasks) == 2  # the prefix the tables show


def test_missing_transcript_is_reported_not_fatal(ledger, projects: Path) -> None:
    (projects / SLUG / f"{SID}.jsonl").unlink()
    report = build_resume(ledger, with_prompts=True)
    task = next(t for t in report.tasks if t.tool_use_id == "toolu_A")
    assert task.prompt is None and "no longer on disk" in task.prompt_problem
    assert "original prompt unavailable" in report.plans[0].prompt


def test_cli_prompt_shows_text_but_ledger_never_stores_it(projects: Path, tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite3"
    out = CliRunner().invoke(main, ["resume", "--source", str(projects), "--db", str(db), "--prompt"])
    assert out.exit_code == 0, out.output
    assert f"claude --resume {SID}" in out.output
    assert PROMPT_A in out.output and "Race audit" in out.output and "misreport" in out.output
    data = json.loads(CliRunner().invoke(main, ["resume", "--source", str(projects), "--db", str(db),
                                                "--json"]).output)
    assert {t["tool_use_id"]: t["status"] for t in data["tasks"]} == {"toolu_A": "pending", "toolu_B": "done"}
    assert all(t["prompt"] is None for t in data["tasks"])
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cli.sqlite3*"))
    for secret_text in (PROMPT_A, PROMPT_B, MAIN_PROMPT, "zebracorn", "quokkafield"):
        assert secret_text.encode() not in raw


def test_unknown_window_is_bad_input(ledger) -> None:
    from claimback.errors import BadInput

    with pytest.raises(BadInput):
        build_resume(ledger, window_id="no-such-window")


def test_demo_window_filter() -> None:
    pytest.importorskip("claimback.demo")
    pytest.importorskip("claimback.analysis.outages")
    runner = CliRunner()
    inside = json.loads(runner.invoke(main, ["resume", "--demo", "--json", "--window", "20260515-0018"]).output)
    assert len(inside["tasks"]) == 3 and inside["window"]["id"] == "20260515-0018"
    by_incident = json.loads(runner.invoke(main, ["resume", "--demo", "--json", "--window", "8z7l5zcy0v3b"]).output)
    assert by_incident["window"]["id"] == "20260515-0018"
    earlier = json.loads(runner.invoke(main, ["resume", "--demo", "--json", "--window", "20260508-0949"]).output)
    assert earlier["tasks"] == [] and earlier["turns"] == []
    bad = runner.invoke(main, ["resume", "--demo", "--window", "nope"])
    assert bad.exit_code == 2 and "20260515-0018" in bad.output


def test_demo_resume_prompt_lists_the_three_relaunched_tasks() -> None:
    pytest.importorskip("claimback.demo")
    out = CliRunner().invoke(main, ["resume", "--demo", "--prompt", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    killed = [t for t in data["tasks"] if (t["ended_ts"] or "").startswith("2026-05-15")]
    assert len(killed) == 3
    assert {t["description"] for t in killed} == {"Spec review", "Test coverage", "Migration audit"}
    assert all(t["status"] == "done" and t["relaunched_as"] for t in killed)
    assert all(70_000 <= t["tokens_burned"] <= 95_000 for t in killed)
    assert {t["parent_reported"] for t in killed} == {"failed", "completed", "none"}
    text = CliRunner().invoke(main, ["resume", "--demo", "--prompt"]).output
    assert "Spec review" in text and "re-launched" in text and "Nothing to re-run" in text
    forced = CliRunner().invoke(main, ["resume", "--demo", "--prompt", "--all"]).output
    assert "claude --resume " in forced and "Audit migration 0042" in forced


def test_unanswered_and_interrupted_launches(tmp_path: Path) -> None:
    """A launch that never got a result and has no run file (older Claude Code), ended by the parent's
    outage errors; and a run the user interrupted while it was stuck retrying 529s."""
    root = tmp_path / "projects"
    e = "aaaa00000000000e"
    _write(root / SLUG / f"{SID}.jsonl", [
        prompt("2026-05-15T01:00:00.000Z", "Check both modules."),
        launch("2026-05-15T01:01:00.000Z", "n1", [("toolu_N", "Lost one", "Explore", PROMPT_C),
                                                  ("toolu_I", "Stuck one", "Explore", PROMPT_D)]),
        retry("2026-05-15T01:10:00.000Z", 1),
        retry("2026-05-15T01:12:00.000Z", 2),
        final("2026-05-15T01:15:00.000Z", "API Error: 529 Overloaded", status=529),
    ])
    _agent(root, e, [prompt("2026-05-15T01:01:02.000Z", PROMPT_D, e),
                     request("2026-05-15T01:02:00.000Z", "e1", tokens=3_000, agent=e),
                     retry("2026-05-15T01:05:00.000Z", 1, agent=e),
                     {**_base("2026-05-15T01:08:00.000Z", e), "type": "user",
                      "message": {"role": "user", "content": [{"type": "text",
                                                               "text": "[Request interrupted by user]"}]}}])
    led = open_ledger(tmp_path / "l.sqlite3")
    ingest(led, [root], machine="test")
    report = build_resume(led, with_prompts=True)
    by_id = {t.tool_use_id: t for t in report.tasks}
    assert set(by_id) == {"toolu_N", "toolu_I"}
    assert by_id["toolu_N"].outcome == "no_result" and by_id["toolu_N"].parent_reported == "none"
    assert by_id["toolu_N"].ended_ts == "2026-05-15T01:15:00.000Z"
    assert by_id["toolu_I"].outcome == "interrupted" and by_id["toolu_I"].tokens_burned == 3_000
    assert all(t.status == "pending" for t in report.tasks)
    assert report.turns[0].status == "pending"
    assert PROMPT_C in report.plans[0].prompt and PROMPT_D in report.plans[0].prompt
    assert "Check both modules." in report.plans[0].prompt
    led.close()


# -- copies: `--resume` in older clients writes earlier records into the new file again ------------------
ORIGINAL = "bbbbbbbb-2222-4333-8444-555555555555"
RESUMED = "aaaaaaaa-2222-4333-8444-555555555555"  # sorts first: its copies are read before the originals
COPY_PROMPT = "Port the wombatqueue to asyncio."


def _as(record: dict[str, Any], *, session: str, uuid: str, ts: str | None = None) -> dict[str, Any]:
    return {**record, "sessionId": session, "uuid": uuid, **({"timestamp": ts} if ts else {})}


def _turn_killed_then_resumed(root: Path, copy_shape: str) -> None:
    """ORIGINAL: a prompt, one request, then a 500 ends the turn. RESUMED (opened later with --resume):
    the earlier records copied in, then new work. Shapes seen in real 1.0.89 files: `same uuid` (new
    timestamp and the new session) and `new uuid` (typed prompts and errors keep the original's timestamp
    and session; the assistant records around them get the resume time and the new session)."""
    p = prompt("2026-05-15T01:00:00.000Z", COPY_PROMPT)
    r = request("2026-05-15T01:01:00.000Z", "orig1")
    e = final("2026-05-15T01:02:00.000Z", INTERNAL_TEXT)
    _write(root / SLUG / f"{ORIGINAL}.jsonl", [_as(p, session=ORIGINAL, uuid="p1"), _as(r, session=ORIGINAL, uuid="r1"),
                                               _as(e, session=ORIGINAL, uuid="e1")])
    if copy_shape == "same uuid":
        at = "2026-05-15T01:30:00.000Z"
        copies = [_as(p, session=RESUMED, uuid="p1", ts=at), _as(r, session=RESUMED, uuid="r1", ts=at),
                  _as(e, session=RESUMED, uuid="e1", ts=at)]
    else:
        copies = [_as(p, session=ORIGINAL, uuid="p1-copy"),
                  _as(r, session=RESUMED, uuid="r1-copy", ts="2026-05-15T01:30:00.000Z"),
                  _as(e, session=ORIGINAL, uuid="e1-copy")]
    _write(root / SLUG / f"{RESUMED}.jsonl", copies + [
        _as(prompt("2026-05-15T01:31:00.000Z", "Something else now."), session=RESUMED, uuid="p2"),
        _as(request("2026-05-15T01:32:00.000Z", "new1"), session=RESUMED, uuid="r2")])


def _assert_only_the_originals(led: Any) -> None:
    """One failure and one prompt of the killed turn, the original's (the copies dropped)."""
    failures = led.rows("SELECT session_id, ts FROM failures")
    assert [(f["session_id"], f["ts"]) for f in failures] == [(ORIGINAL, "2026-05-15T01:02:00.000Z")]
    prompts = led.rows("SELECT session_id, ts FROM prompts WHERE session_id = ? OR ts < ?",
                       (ORIGINAL, "2026-05-15T01:31:00.000Z"))
    assert [(p["session_id"], p["ts"]) for p in prompts] == [(ORIGINAL, "2026-05-15T01:00:00.000Z")]


@pytest.mark.parametrize("shape", ["same uuid", "new uuid"])
def test_a_copied_failure_is_not_a_new_failure_turn_or_resubmission(tmp_path: Path, shape: str) -> None:
    root = tmp_path / "projects"
    _turn_killed_then_resumed(root, shape)
    led = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(led, [root], machine="m")
        _assert_only_the_originals(led)
        request_row = led.rows("SELECT session_id, ts FROM requests WHERE message_id = 'msg_orig1'")
        assert [(q["session_id"], q["ts"]) for q in request_row] == [(ORIGINAL, "2026-05-15T01:01:00.000Z")]
        report = build_resume(led)
        # One killed turn, the original's, and nobody re-sent its prompt (the copy is no re-submission).
        assert [(t.session_id, t.ended_ts, t.status, t.resubmitted_session) for t in report.turns] == [
            (ORIGINAL, "2026-05-15T01:02:00.000Z", "pending", None)]
    finally:
        led.close()


@pytest.mark.parametrize("shape", ["same uuid", "new uuid"])
@pytest.mark.parametrize("first", [ORIGINAL, RESUMED])
def test_copies_are_dropped_when_original_and_copy_arrive_in_different_runs(tmp_path: Path, shape: str,
                                                                           first: str) -> None:
    """An incremental run checks the copy rules only for the copy hashes it wrote (ledger/ingest.py
    _for_rows): whichever file the ledger saw first, the copy and not the original is dropped."""
    built = tmp_path / "built"
    _turn_killed_then_resumed(built, shape)
    root = tmp_path / "projects"
    led = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        for session in (first, RESUMED if first == ORIGINAL else ORIGINAL):
            (root / SLUG).mkdir(parents=True, exist_ok=True)
            (built / SLUG / f"{session}.jsonl").rename(root / SLUG / f"{session}.jsonl")
            ingest(led, [root], machine="m")
        _assert_only_the_originals(led)
    finally:
        led.close()
