"""The real client (2.1.332) on failures it recovers from, on telemetry beside transcripts, and on a
resumed and forked session that a user interrupted.

Each scenario runs the binary once (module-scoped fixtures) against the fake API (tests/fake_anthropic.py);
the server's log of what it answered is the truth the ledger and the reports are held to. What 2.1.332
wrote, seen here:

- telemetry and compaction: a subagent refused as too large (400 "prompt is too long") after a tool turn;
  once the compaction recovers it, once the compaction's every attempt is a 529. Telemetry has an
  `api_error` for each refusal and one for the compaction's last 529 (`query_source: "compact"`, its own
  request id, `attempt: 4`); the transcript names neither failure by those ids (the recovered refusal is an
  attempt of no id, the failed compaction the subagent's final under the refused request's id). Both
  stayed beside the transcript's rows once both were ingested: a recovered run with a final error, and a
  killed run with two. A telemetry failure is the transcript's now when its session's transcript has a
  failure within a minute of it (ledger/team.py);
- recovered attempts: a request the client gives up on at `API_TIMEOUT_MS` and re-sends; a 401 that
  `apiKeyHelper` answers with a fresh key (the client runs the helper again and re-sends: no error
  record at all, only a second `api-request` record); a stream reset (TCP RST) after two text deltas,
  re-sent: one failed attempt each, one answer each, no final and no window;
- interrupted, resumed, forked: a Read tool turn, then Ctrl-C while the answer is slow; `--resume` with
  a new prompt, then `--resume … --fork-session` with another: the fork's file starts with copies of the
  interrupted turn (the interruption too); every request, prompt and the interruption count once;
- a subagent whose stream breaks with an SSE `overloaded_error` after output, whose non-streaming
  fallback and retries meet 529s, beside a sibling that finishes: one failure per attempt, the run killed
  by the outage on `resume`'s list, the sibling's request neither killed nor in the window's loss;
- `/compact` whose every attempt meets a 529: no record of the attempts, the error only as the command's
  stderr (`system`/`local_command`, "Error during compaction: API Error: 529 Overloaded. …"). It was in no
  row; it is one `outage` final now, of no turn (the prompt before it was answered: the resume list had
  it as a killed turn until the failure stopped taking the last prompt's turn); telemetry's api_error for
  the compaction is the same failure;
- the guard with a healthy status page: a subagent launch runs; the subagent dies of 529s and the
  relaunch that follows is denied before it sends anything. Its file has no retry records (four
  `api-request`s and one final): the guard counted one failure, and the deny came only when the client's
  StopFailure hook happened to run before the relaunch (it lost that race under load); the guard counts
  the attempts as the ingest does now. The client puts transcript lines on disk ~100 ms late: a relaunch
  answered faster than that (only a fake API answers so fast) comes before any trace of the death.

docs/reliability.md ("The real client") and docs/methodology.md say how each counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import statuspage_payloads as sp
from fake_anthropic import (
    OVERLOADED,
    FakeAnthropic,
    Reply,
    Rule,
    agent_call,
    all_of,
    answers_tool,
    error_reply,
    is_messages_path,
    last_user_has,
    main_thread,
    prompt_has,
)
from realclient import (
    DUMMY_KEY,
    Run,
    Sandbox,
    StaticServer,
    claimback,
    require_claude,
    run_claude,
    session_ids,
)
from test_realclient import otel_receiver, wait_for_rows

from claimback.analysis.outages import find_windows
from claimback.analysis.unattributed import unattributed_parts
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

RETRIES = 3  # CLAUDE_CODE_MAX_RETRIES in the sandbox
COMPACTION = "compaction retry"  # 2.1.332's summary request after a refusal: "[earlier conversation truncated …]"
TOO_LONG = dict(status=400, error_type="invalid_request_error",
                message="prompt is too long: 212000 tokens > 200000 maximum")


@dataclass
class Recorded:
    sandbox: Sandbox
    served: list[dict[str, Any]]
    runs: list[Run] = field(default_factory=list)
    otel_db: Path | None = None

    def messages(self) -> list[dict[str, Any]]:
        return [r for r in self.served if is_messages_path(r["path"])]

    def answered(self) -> list[dict[str, Any]]:
        return [r for r in self.messages() if r["complete"]]

    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.messages() if not r["complete"]]

    def ledger(self, tmp_path: Path, name: str = "ledger.sqlite3") -> tuple[Any, Path]:
        db = tmp_path / name
        led = open_ledger(db)
        result = ingest(led, [self.sandbox.config_dir / "projects"], machine="test")
        assert result.unknown_records == {}
        return led, db

    def cli(self, tmp_path: Path, db: Path, *args: str) -> Any:
        out = claimback(self.sandbox, {"CLAIMBACK_HOME": str(tmp_path / "cb")}, *args, "--json", "--db", str(db))
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def _request_rows(led: Any) -> list[tuple]:
    return sorted((r["request_id"], r["input_tokens"], r["output_tokens"], r["cache_read_tokens"],
                   r["cache_creation_tokens"]) for r in led.rows(
        "SELECT request_id, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens FROM requests"))


def _served_rows(served: list[dict[str, Any]]) -> list[tuple]:
    return sorted((r["request_id"], r["input_tokens"], r["output_tokens"], r["cache_read_tokens"],
                   r["cache_creation_tokens"]) for r in served)


def _failure_rows(led: Any) -> list[tuple]:
    return [(r["session_id"], r["kind"], r["failure_class"], r["status"]) for r in led.rows(
        "SELECT session_id, kind, failure_class, status FROM failures ORDER BY session_id, ts, kind")]


# -- telemetry beside transcripts: a subagent's refusal, the compaction recovering it or failing ------
RECOVERED = "SUBTASK-GAMMA: list the risks of the plan"
DOOMED = "SUBTASK-DELTA: list the risks of the demo"


@pytest.fixture(scope="module")
def compaction_telemetry(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    require_claude()
    root = tmp_path_factory.mktemp("rc-recovery-otel")
    sandbox = Sandbox(root)
    notes = sandbox.workdir / "risks.txt"
    notes.write_text("risk: the demo laptop\n")
    first = lambda r: not r.tool_results  # noqa: E731
    rules: list[Rule] = []
    for marker, prompt in (("plan", RECOVERED), ("demo", DOOMED)):
        rules += [
            Rule(Reply(kind="tool_use", tools=[agent_call(prompt, "Risks")], input_tokens=300, output_tokens=40),
                 when=all_of(main_thread, first, prompt_has(f"risks of the {marker}"))),
            Rule(Reply(kind="tool_use", text="", tools=[{"name": "Read", "input": {"file_path": str(notes)}}],
                       input_tokens=200, output_tokens=20, cache_creation_tokens=800),
                 when=all_of(prompt_has(prompt), first)),
            Rule(error_reply(**TOO_LONG), when=all_of(prompt_has(prompt), answers_tool)),
            Rule(Reply(text="The risks are in.", input_tokens=20, output_tokens=5),
                 when=all_of(main_thread, answers_tool, prompt_has(f"risks of the {marker}"))),
        ]
    # The first run's compaction is answered; every attempt of the second run's meets a 529.
    rules[2:2] = [Rule(Reply(text="<summary>The subagent read the risks file.</summary>", input_tokens=150,
                             output_tokens=25), when=prompt_has(COMPACTION)),
                  Rule(error_reply(**OVERLOADED), when=prompt_has(COMPACTION), times=RETRIES + 1)]
    with otel_receiver(root, sandbox, {}) as (env, db):
        with FakeAnthropic(rules) as api:
            runs = [run_claude(sandbox, api.url, "Check the risks of the plan with one subagent.", env=env),
                    run_claude(sandbox, api.url, "Check the risks of the demo with one subagent.", env=env)]
        wait_for_rows(db, "SELECT COUNT(*) FROM failures", 3)
    return Recorded(sandbox, list(api.served), runs, otel_db=db)


def test_telemetry_of_a_compaction_adds_no_failure_to_the_transcripts(compaction_telemetry: Recorded,
                                                                     tmp_path: Path) -> None:
    shape = compaction_telemetry
    assert [r.returncode for r in shape.runs] == [0, 0]
    failed = shape.failed()
    assert [(r["status"], COMPACTION in r["first_user_text"]) for r in failed] == \
        [(400, False), (400, False)] + [(529, True)] * (RETRIES + 1)
    # Telemetry alone: an api_error per refusal and one for the compaction's exhausted 529s, all finals.
    telemetry = open_ledger(shape.otel_db)
    assert sorted((r["status"], r["attempt"], r["request_id"]) for r in telemetry.rows(
        "SELECT status, attempt, request_id FROM failures")) == sorted(
        [(400, 1, r["request_id"]) for r in failed[:2]] + [(529, RETRIES + 1, failed[-1]["request_id"])])
    # The transcripts alone: the recovered refusal an attempt, the doomed run's final the outage's.
    transcripts, transcripts_db = shape.ledger(tmp_path)
    sessions = session_ids(shape.sandbox)
    assert _failure_rows(transcripts) == sorted([(sessions[0], "retry", "model_provider", None),
                                                 (sessions[1], "final", "outage", 400)])
    # Telemetry names each subagent's request by the run the transcript files it under.
    runs = {r["request_id"]: r["agent_id"] for r in transcripts.rows("SELECT request_id, agent_id FROM requests")}
    told = {r["request_id"]: r["agent_id"] for r in telemetry.rows("SELECT request_id, agent_id FROM requests")}
    assert {k: v for k, v in told.items() if k in runs} == runs and any(runs.values())
    # Both: the transcripts' failures and nothing more; every served answer once (the compaction's summary
    # request from telemetry alone: it is in no transcript record), nothing left unattributed.
    ingest(telemetry, [shape.sandbox.config_dir / "projects"], machine="rc-laptop")
    assert _failure_rows(telemetry) == _failure_rows(transcripts)
    assert telemetry.scalar("SELECT COUNT(*) FROM failures WHERE origin = 'otel'") == 0
    assert _request_rows(telemetry) == _served_rows(shape.answered())
    assert unattributed_parts(telemetry) == []
    telemetry.close()
    merged = shape.cli(tmp_path, shape.otel_db, "doctor")
    alone = shape.cli(tmp_path, transcripts_db, "doctor")
    assert {f["failure_class"]: f["count"] for f in merged["failures"]} == \
        {f["failure_class"]: f["count"] for f in alone["failures"]} == {"model_provider": 1, "outage": 1}


# -- attempts the client recovers from: a client-side timeout, a key refresh, a reset stream ---------
@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-recovery-attempts"))
    helper = sandbox.root / "key-helper.sh"  # what a user's apiKeyHelper does: print a key
    helper.write_text(f"#!/bin/sh\necho x >> '{sandbox.root}/helper-calls'\necho {DUMMY_KEY}\n")
    helper.chmod(0o755)
    rules = [
        Rule(Reply(text="Too slow.", delay_s=8), when=prompt_has("slow question")),
        Rule(error_reply(401, "authentication_error", "invalid x-api-key"), when=prompt_has("key question")),
        Rule(Reply(kind="cut", text="The answer is forty two", cut_after_deltas=2, cut_with_reset=True,
                   input_tokens=900, output_tokens=70), when=prompt_has("reset question")),
        Rule(Reply(text="Answered.", input_tokens=210, output_tokens=6, cache_creation_tokens=500), times=3),
    ]
    with FakeAnthropic(rules) as api:
        runs = [run_claude(sandbox, api.url, "A slow question.", env={"API_TIMEOUT_MS": "1500"})]
        (sandbox.config_dir / "settings.json").write_text(json.dumps({"apiKeyHelper": str(helper)}))
        runs.append(run_claude(sandbox, api.url, "A key question.", env={"ANTHROPIC_API_KEY": ""}))
        (sandbox.config_dir / "settings.json").unlink()
        runs.append(run_claude(sandbox, api.url, "A reset question."))
        deadline = time.monotonic() + 10
        while len(api.log()) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)  # the timed-out request is logged once the server sees the client hang up
    return Recorded(sandbox, list(api.served), runs)


def test_recovered_attempts_are_one_failed_attempt_each_and_no_final(recovered: Recorded, tmp_path: Path) -> None:
    assert [r.returncode for r in recovered.runs] == [0, 0, 0]
    assert all("Answered." in r.stdout for r in recovered.runs)
    assert (recovered.sandbox.root / "helper-calls").read_text().count("x") == 2  # the refresh ran it again
    assert [(r["kind"], r["status"]) for r in recovered.failed()] == [("client_closed", 499), ("error", 401),
                                                                      ("cut", 200)]
    led, db = recovered.ledger(tmp_path)
    assert _request_rows(led) == _served_rows(recovered.answered())
    sessions = session_ids(recovered.sandbox)
    assert len(sessions) == 3
    # One attempt each, as the client recorded it: the timeout its own error record ("Request timed
    # out."); the key refresh no record at all (a second api-request record: an attempt nobody explained);
    # the reset stream a StreamTruncated record, the same as a stream the server ended (an outage's).
    rows = led.rows("SELECT session_id, kind, failure_class, request_id, message FROM failures ORDER BY ts")
    assert [(r["session_id"], r["kind"], r["failure_class"]) for r in rows] == [
        (sessions[0], "retry", "network"), (sessions[1], "retry", "unknown"), (sessions[2], "retry", "outage")]
    assert {r["request_id"] for r in rows} == {None}  # no attempt record names a request id
    assert led.scalar("SELECT COUNT(*) FROM prompts") == 3
    assert find_windows(led, offline=True, sync=False) == []
    resume = recovered.cli(tmp_path, db, "resume")
    assert resume["tasks"] == [] and resume["turns"] == []
    usage = recovered.cli(tmp_path, db, "usage", "daily")
    served = recovered.answered()
    assert usage["totals"]["totalTokens"] == sum(r["input_tokens"] + r["output_tokens"] + r["cache_read_tokens"]
                                                 + r["cache_creation_tokens"] for r in served)


# -- an interrupted turn, resumed, then forked -------------------------------------------------------
@pytest.fixture(scope="module")
def interrupted_then_forked(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-recovery-interrupted"))
    notes = sandbox.workdir / "notes.txt"
    notes.write_text("ship on friday\n")
    rules = [
        Rule(Reply(kind="tool_use", text="", tools=[{"name": "Read", "input": {"file_path": str(notes)}}],
                   input_tokens=400, output_tokens=30, cache_creation_tokens=1000),
             when=all_of(main_thread, lambda r: not r.tool_results, prompt_has("first task"))),
        Rule(Reply(text="Too late.", delay_s=20), when=answers_tool),
        Rule(Reply(text="Resumed answer.", input_tokens=50, output_tokens=8, cache_read_tokens=1000),
             when=last_user_has("go on")),
        Rule(Reply(text="Fork answer.", input_tokens=60, output_tokens=9, cache_read_tokens=1000),
             when=last_user_has("fork question")),
    ]
    with FakeAnthropic(rules) as api:
        first = run_claude(sandbox, api.url, "Do the first task.", interrupt_when=lambda: rules[1].used > 0)
        deadline = time.monotonic() + 10
        while len(api.log()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        session = session_ids(sandbox)[0]
        resumed = run_claude(sandbox, api.url, "Please go on.", "--resume", session)
        forked = run_claude(sandbox, api.url, "A fork question.", "--resume", session, "--fork-session")
    return Recorded(sandbox, list(api.served), [first, resumed, forked])


def test_an_interrupted_session_resumed_and_forked_counts_each_record_once(interrupted_then_forked: Recorded,
                                                                           tmp_path: Path) -> None:
    shape = interrupted_then_forked
    assert "Resumed answer." in shape.runs[1].stdout and "Fork answer." in shape.runs[2].stdout
    assert [r["kind"] for r in shape.messages()] == ["tool_use", "client_closed", "text", "text"]
    files = shape.sandbox.transcripts()
    assert len(files) == 2
    fork_file = next(f for f in files if f.stem != session_ids(shape.sandbox)[0])
    assert "[Request interrupted by user" in fork_file.read_text()  # the fork copied the interruption
    led, db = shape.ledger(tmp_path)
    assert _request_rows(led) == _served_rows(shape.answered())
    original = session_ids(shape.sandbox)[0]
    assert [(r["kind"], r["failure_class"], r["session_id"]) for r in led.rows(
        "SELECT kind, failure_class, session_id FROM failures")] == [("interrupt", "interrupt", original)]
    assert led.scalar("SELECT COUNT(*) FROM prompts") == 3
    resume = shape.cli(tmp_path, db, "resume")
    assert resume["tasks"] == [] and resume["turns"] == []  # the user stopped it: nothing to resume for an outage
    assert shape.cli(tmp_path, db, "loss")["windows"] == []


# -- a subagent's stream breaks mid-output, its fallback meets 529s; a sibling finishes --------------
ALPHA = "SUBTASK-ALPHA: read the notes"
BETA = "SUBTASK-BETA: list the risks"


@pytest.fixture(scope="module")
def sibling_survives(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-recovery-sibling"))
    streamed = lambda r: bool(r.body.get("stream"))  # noqa: E731
    rules = [
        Rule(Reply(kind="tool_use", tools=[agent_call(ALPHA, "Alpha"), agent_call(BETA, "Beta")], input_tokens=520,
                   output_tokens=90, cache_creation_tokens=4096),
             when=all_of(main_thread, lambda r: not r.tool_results)),
        # The API overloads mid-answer (an SSE error after two deltas); the client's non-streaming fallback
        # and its retries meet the same overload as 529s.
        Rule(Reply(kind="stream_error", text="Partial alpha words here", error_after_deltas=2, input_tokens=300),
             when=all_of(prompt_has(ALPHA), streamed), times=RETRIES + 1),
        Rule(error_reply(**OVERLOADED), when=all_of(prompt_has(ALPHA), lambda r: not streamed(r)),
             times=RETRIES + 1),
        Rule(Reply(text="Beta: two risks.", input_tokens=310, output_tokens=30), when=prompt_has(BETA)),
        Rule(Reply(text="One report is in.", input_tokens=20, output_tokens=14, cache_read_tokens=4096),
             when=all_of(main_thread, answers_tool)),
    ]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Review the notes with two subagents.")
    return Recorded(sandbox, list(api.served), [run])


def test_a_subagent_overloaded_mid_stream_is_killed_and_its_sibling_is_not(sibling_survives: Recorded,
                                                                          tmp_path: Path) -> None:
    shape = sibling_survives
    assert shape.runs[0].returncode == 0
    alpha = [r for r in shape.failed() if ALPHA in r["first_user_text"]]
    assert [r["kind"] for r in alpha] == ["stream_error"] + ["error"] * (len(alpha) - 1) and len(alpha) >= 2
    led, db = shape.ledger(tmp_path)
    assert _request_rows(led) == _served_rows(shape.answered())
    rows = led.rows("SELECT kind, agent_id, failure_class, request_id FROM failures ORDER BY ts, kind")
    assert len(rows) == len(shape.failed()) == len(alpha)  # one per attempt, the broken stream's too
    assert {r["failure_class"] for r in rows} == {"outage"} and len({r["agent_id"] for r in rows}) == 1
    assert rows[-1]["kind"] == "final" and rows[-1]["request_id"] == alpha[-1]["request_id"]
    beta = next(r for r in shape.answered() if BETA in r["first_user_text"])
    resume = shape.cli(tmp_path, db, "resume")
    assert [(t["description"], t["outcome"], t["cause_class"]) for t in resume["tasks"]] == \
        [("Alpha", "killed", "outage")]
    for window in shape.cli(tmp_path, db, "loss")["windows"]:
        for part in window["loss"].values():
            assert beta["request_id"] not in part.get("request_ids", [])


# -- the guard with no incident anywhere: a launch runs; the subagent dies of 529s; its relaunch waits --
GUARDED = "SUBTASK-ALPHA: read the notes carefully"


@pytest.fixture(scope="module")
def guard_without_incident(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recorded, list[dict[str, Any]]]:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-recovery-guard"))
    pages = {"/api/v2/incidents/unresolved.json": sp.incidents_json(), "/api/v2/incidents.json": sp.incidents_json(),
             "/api/v2/summary.json": sp.summary_json([], degraded=False)}
    first = lambda r: not r.tool_results  # noqa: E731
    rules = [
        Rule(Reply(kind="tool_use", text="", tools=[agent_call(GUARDED, "Alpha")], input_tokens=300,
                   output_tokens=40), when=all_of(main_thread, first)),
        Rule(error_reply(**OVERLOADED), when=prompt_has(GUARDED), times=RETRIES + 1),
        # The model takes a second to answer with the relaunch, as a real one takes longer: 2.1.332 puts
        # its transcript lines on disk about 100 ms late, and a relaunch answered within milliseconds of
        # the death came before both that and the StopFailure hook (seen here: allowed).
        Rule(Reply(kind="tool_use", text="", tools=[agent_call(GUARDED, "Alpha again")], input_tokens=30,
                   output_tokens=40, delay_s=1.0), when=all_of(main_thread, answers_tool)),
        Rule(Reply(text="Alpha finished.", input_tokens=300, output_tokens=10), when=prompt_has(GUARDED)),
        Rule(Reply(text="Main thread done.", input_tokens=30, output_tokens=5), when=all_of(main_thread, answers_tool),
             times=3),
    ]
    with StaticServer(pages) as status:
        env = {"CLAIMBACK_HOME": str(sandbox.root / "cb"), "CLAIMBACK_STATUS_URL": status.url}
        installed = claimback(sandbox, env, "guard", "install")
        assert installed.returncode == 0, installed.stderr
        subprocess.run([sys.executable, "-m", "claimback.prevent.refresh"], env={**sandbox.env("x"), **env},
                       check=True, timeout=30)
        with FakeAnthropic(rules) as api:
            run = run_claude(sandbox, api.url, "Start the helper now.", env=env)
    decisions = sandbox.root / "cb" / "data" / "guard" / "decisions.jsonl"
    return Recorded(sandbox, list(api.served), [run]), [json.loads(x) for x in decisions.read_text().splitlines()]


def test_with_no_incident_the_guard_lets_a_launch_run_and_holds_the_relaunch_after_its_529s(
        guard_without_incident: tuple[Recorded, list[dict[str, Any]]], tmp_path: Path) -> None:
    shape, decisions = guard_without_incident
    assert shape.runs[0].returncode == 0
    launches = [d for d in decisions if d["event"] == "PreToolUse"]
    # The first launch: nothing wrong anywhere. The relaunch: the subagent's four attempts are a burst
    # (its file has four api-request records and one final error, no retry record: counted as one, the
    # deny hung on the client's StopFailure hook running before the relaunch, which it need not).
    assert [d["decision"] for d in launches] == ["allow", "deny"]
    assert launches[-1]["why"] == "burst in logs" and launches[-1]["incidents"] == []
    assert launches[-1]["failures"] >= RETRIES + 1
    assert [d["decision"] for d in decisions if d["event"] == "StopFailure"] == ["record"]
    alpha = [r for r in shape.messages() if GUARDED in r["first_user_text"]]
    assert [r["status"] for r in alpha] == [529] * (RETRIES + 1)  # the relaunch sent nothing
    led, db = shape.ledger(tmp_path)
    assert _request_rows(led) == _served_rows(shape.answered())
    assert led.scalar("SELECT COUNT(*) FROM failures") == RETRIES + 1
    resume = shape.cli(tmp_path, db, "resume")
    assert [(t["description"], t["outcome"], t["cause_class"]) for t in resume["tasks"]] == \
        [("Alpha", "killed", "outage")]


# -- `/compact` whose every attempt meets a 529, with telemetry on -------------------------------------
@pytest.fixture(scope="module")
def compact_command_fails(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    require_claude()
    root = tmp_path_factory.mktemp("rc-recovery-compact")
    sandbox = Sandbox(root)
    rules = [Rule(Reply(text="First answer.", input_tokens=300, output_tokens=6, cache_creation_tokens=2500),
                  when=prompt_has("first question")),
             Rule(error_reply(**OVERLOADED), times=RETRIES + 1)]
    with otel_receiver(root, sandbox, {}) as (env, db):
        with FakeAnthropic(rules) as api:
            runs = [run_claude(sandbox, api.url, "This is the first question.", env=env),
                    run_claude(sandbox, api.url, "/compact", "--continue", env=env)]
        wait_for_rows(db, "SELECT COUNT(*) FROM failures", 1)
    return Recorded(sandbox, list(api.served), runs, otel_db=db)


def test_a_compact_command_ended_by_529s_is_one_outage_final_that_kills_no_turn(
        compact_command_fails: Recorded, tmp_path: Path) -> None:
    shape = compact_command_fails
    assert "Error during compaction: API Error: 529" in shape.runs[1].stdout
    assert [r["status"] for r in shape.failed()] == [529] * (RETRIES + 1)
    led, db = shape.ledger(tmp_path)
    assert _request_rows(led) == _served_rows(shape.answered())
    # The command's stderr record is the only trace of its attempts: one final, the 529's class, of no
    # turn (it was in no row; the answered prompt before it is no killed turn).
    rows = led.rows("SELECT kind, status, failure_class, turn_id, request_id FROM failures")
    assert rows == [{"kind": "final", "status": 529, "failure_class": "outage", "turn_id": None, "request_id": None}]
    resume = shape.cli(tmp_path, db, "resume")
    assert resume["tasks"] == [] and resume["turns"] == []
    # Telemetry's api_error of the compaction (its last request id, every attempt) is the same failure.
    telemetry = open_ledger(shape.otel_db)
    assert [(r["status"], r["attempt"], r["request_id"]) for r in telemetry.rows(
        "SELECT status, attempt, request_id FROM failures")] == [(529, RETRIES + 1, shape.failed()[-1]["request_id"])]
    ingest(telemetry, [shape.sandbox.config_dir / "projects"], machine="rc-laptop")
    assert telemetry.rows("SELECT kind, status, failure_class, origin FROM failures") == [
        {"kind": "final", "status": 529, "failure_class": "outage", "origin": "transcript"}]
