"""The real Claude Code client against the fake Anthropic API: the server's log is the truth.

Each scenario runs the real binary once per test session (session-scoped fixtures), writes a real config
dir, and the tests ingest it and compare the ledger with what the fake server served: every answered
request with its tokens, one failure row per failed attempt, the killed subagent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_anthropic import (
    OVERLOADED,
    SERVER_ERROR,
    FakeAnthropic,
    Reply,
    Rule,
    agent_call,
    all_of,
    answers_tool,
    error_reply,
    is_messages_path,
    main_thread,
    prompt_has,
    unified_headers,
)
from realclient import (
    PINNED_VERSION,
    Run,
    Sandbox,
    installed_version,
    require_claude,
    run_claude,
    session_ids,
)

from claimback.analysis.loss import EXPOSURE, NOT_CHARGED, attribute_window, build_loss_report
from claimback.analysis.pricing import PricingTable
from claimback.analysis.unattributed import summarize, unattributed_parts
from claimback.analysis.usage import usage_report
from claimback.core.times import utc_now_iso
from claimback.analysis.outages import find_windows
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.prevent.resume import build_resume


@dataclass
class Scenario:
    sandbox: Sandbox
    served: list[dict[str, Any]]
    runs: list[Run] = field(default_factory=list)
    otel_db: Path | None = None  # the ledger `claimback otel serve` filled from the runs' telemetry

    def messages(self) -> list[dict[str, Any]]:
        return [r for r in self.served if is_messages_path(r["path"])]

    def answered(self) -> list[dict[str, Any]]:
        return [r for r in self.messages() if r["complete"]]

    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.messages() if not r["complete"]]


def _ledger(scenario: Scenario, tmp_path: Path) -> Any:
    led = open_ledger(tmp_path / "ledger.sqlite3")
    ingest(led, [scenario.sandbox.config_dir / "projects"], machine="test")
    return led


def _tokens(rows: list[dict[str, Any]]) -> tuple[int, int, int, int]:
    return (sum(r["input_tokens"] for r in rows), sum(r["output_tokens"] for r in rows),
            sum(r["cache_read_tokens"] for r in rows), sum(r["cache_creation_tokens"] for r in rows))


def _ledger_tokens(led: Any) -> tuple[int, int, int, int]:
    row = led.rows("SELECT COALESCE(SUM(input_tokens), 0) AS i, COALESCE(SUM(output_tokens), 0) AS o, "
                   "COALESCE(SUM(cache_read_tokens), 0) AS r, COALESCE(SUM(cache_creation_tokens), 0) AS w "
                   "FROM requests")[0]
    return (row["i"], row["o"], row["r"], row["w"])


# -- scenarios (one real run each per test session) ----------------------------------------------------
@pytest.fixture(scope="session")
def claude_binary() -> Path:
    return require_claude()


@pytest.fixture(scope="session")
def healthy(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """One prompt, one tool call (Read), one answer: the plain case every other one builds on."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-healthy"))
    notes = sandbox.workdir / "notes.txt"
    notes.write_text("remember the milk\n")
    rules = [
        Rule(Reply(kind="tool_use", tools=[{"name": "Read", "input": {"file_path": str(notes)}}],
                   input_tokens=410, output_tokens=35, cache_creation_tokens=2048),
             when=all_of(main_thread, lambda r: not r.tool_results)),
        Rule(Reply(text="The note says: remember the milk.", input_tokens=12, output_tokens=18,
                   cache_read_tokens=2048), when=answers_tool),
    ]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "What does notes.txt say?")
    return Scenario(sandbox, api.served, [run])


# The founding case in small: two subagents launched, one dies of 529s after doing some work, the main
# thread relaunches it after the burst and it completes.
ALPHA = "SUBTASK-ALPHA: read notes.txt and report"
BETA = "SUBTASK-BETA: summarise the plan"
RETRIES = 3  # CLAUDE_CODE_MAX_RETRIES in the sandbox: 1 + 3 attempts before the client gives up


@pytest.fixture(scope="session")
def founding(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-founding"))
    notes = sandbox.workdir / "notes.txt"
    notes.write_text("the plan: ship on friday\n")
    rules = [
        Rule(Reply(kind="tool_use", tools=[agent_call(ALPHA, "Alpha"), agent_call(BETA, "Beta")],
                   input_tokens=520, output_tokens=90, cache_creation_tokens=4096),
             when=all_of(main_thread, lambda r: not r.tool_results)),
        Rule(Reply(kind="tool_use", text="", tools=[{"name": "Read", "input": {"file_path": str(notes)}}],
                   input_tokens=300, output_tokens=41, cache_creation_tokens=1500),
             when=all_of(prompt_has(ALPHA), lambda r: not r.tool_results)),
        # Every attempt of Alpha's second request meets the burst: the client gives up after RETRIES.
        Rule(error_reply(**OVERLOADED), when=all_of(prompt_has(ALPHA), answers_tool), times=RETRIES + 1),
        Rule(Reply(text="Plan: ship on friday.", input_tokens=310, output_tokens=30), when=prompt_has(BETA)),
        # After the burst the main thread relaunches Alpha with the same prompt; it completes.
        Rule(Reply(kind="tool_use", text="", tools=[agent_call(ALPHA, "Alpha")], input_tokens=15,
                   output_tokens=60, cache_read_tokens=4096),
             when=all_of(main_thread, answers_tool)),
        Rule(Reply(text="notes.txt: ship on friday.", input_tokens=330, output_tokens=25),
             when=prompt_has(ALPHA)),
        Rule(Reply(text="Both reports are in.", input_tokens=20, output_tokens=14, cache_read_tokens=4700),
             when=all_of(main_thread, answers_tool)),
    ]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Review the plan with two subagents.")
    return Scenario(sandbox, api.served, [run])


# -- tests -----------------------------------------------------------------------------------------------
def test_pinned_client_is_the_one_installed(claude_binary: Path) -> None:
    assert installed_version(claude_binary) == PINNED_VERSION


def test_healthy_run_requests_and_tokens_equal_the_server_log(healthy: Scenario, tmp_path: Path) -> None:
    assert healthy.runs[0].returncode == 0, healthy.runs[0].stderr
    assert "remember the milk" in healthy.runs[0].stdout
    led = _ledger(healthy, tmp_path)
    served = healthy.answered()
    assert len(served) == 2 and not healthy.failed()
    ids = {r["request_id"] for r in led.rows("SELECT request_id FROM requests")}
    assert ids == {r["request_id"] for r in served}
    assert _ledger_tokens(led) == _tokens(served)
    assert led.scalar("SELECT COUNT(*) FROM failures") == 0


# A main-thread turn does some work, then dies in a burst of 500s; the user runs `/clear` and sends the
# same prompt again (in `-p` mode: `claude -p /clear --continue` starts the new session and writes the
# command record, the re-send continues it), and it goes through.
TURN_PROMPT = "Summarise notes.txt for the release."


@pytest.fixture(scope="session")
def killed_turn(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-killed-turn"))
    notes = sandbox.workdir / "notes.txt"
    notes.write_text("release on monday\n")
    rules = [
        Rule(Reply(kind="tool_use", text="", tools=[{"name": "Read", "input": {"file_path": str(notes)}}],
                   input_tokens=640, output_tokens=33, cache_creation_tokens=3000),
             when=all_of(main_thread, lambda r: not r.tool_results)),
        # A burst of 500s over a time span; bounded by count too, so the second session is served.
        Rule(error_reply(**SERVER_ERROR), when=answers_tool, times=RETRIES + 1, for_seconds=60),
        Rule(Reply(text="Release on monday.", input_tokens=700, output_tokens=16),
             when=all_of(main_thread, lambda r: not r.tool_results)),
    ]
    with FakeAnthropic(rules) as api:
        first = run_claude(sandbox, api.url, TURN_PROMPT)
        cleared = run_claude(sandbox, api.url, "/clear", "--continue")
        second = run_claude(sandbox, api.url, TURN_PROMPT, "--continue")
    return Scenario(sandbox, api.served, [first, cleared, second])


@pytest.fixture(scope="session")
def stream_cut(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """HTTP 200, message_start and one text delta, then the connection drops; the retry is answered."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-stream-cut"))
    rules = [Rule(Reply(kind="cut", text="The answer is forty two", input_tokens=900, output_tokens=70,
                        cache_creation_tokens=1200))]
    with FakeAnthropic(rules, default=Reply(text="The answer is 42.", input_tokens=900, output_tokens=9,
                                            cache_creation_tokens=1200)) as api:
        run = run_claude(sandbox, api.url, "What is the answer?")
    return Scenario(sandbox, api.served, [run])


@pytest.fixture(scope="session")
def resumed(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A session, then `--resume` of it with a second prompt (answers carry unified rate-limit headers)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-resumed"))
    headers = unified_headers("allowed_warning", five_hour=0.81, seven_day=0.42)
    rules = [Rule(Reply(text="First answer.", input_tokens=300, output_tokens=6, cache_creation_tokens=2500,
                        headers=headers), when=prompt_has("first question")),
             Rule(Reply(text="Second answer.", input_tokens=40, output_tokens=7, cache_read_tokens=2500,
                        headers=headers), when=lambda r: "second question" in r.last_user_text)]
    with FakeAnthropic(rules) as api:
        first = run_claude(sandbox, api.url, "This is the first question.")
        session = session_ids(sandbox)[0]
        second = run_claude(sandbox, api.url, "And a second question.", "--resume", session)
    return Scenario(sandbox, api.served, [first, second])


@pytest.fixture(scope="session")
def forked(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A first prompt answered after two 529s, then `--resume … --fork-session` with a second prompt.
    2.1.332 writes the fork as a new session file that starts with copies of the first one's records
    (the same uuids, timestamps, request and message ids, the failed attempts too; only sessionId new)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-forked"))
    rules = [Rule(error_reply(**OVERLOADED), when=prompt_has("first question"), times=2),
             Rule(Reply(text="First answer.", input_tokens=300, output_tokens=6, cache_creation_tokens=2500),
                  when=prompt_has("first question")),
             Rule(Reply(text="Second answer.", input_tokens=40, output_tokens=7, cache_read_tokens=2500),
                  when=lambda r: "second question" in r.last_user_text)]
    with FakeAnthropic(rules) as api:
        first = run_claude(sandbox, api.url, "This is the first question.")
        session = session_ids(sandbox)[0]
        second = run_claude(sandbox, api.url, "And a second question.", "--resume", session, "--fork-session")
    return Scenario(sandbox, api.served, [first, second])


@pytest.fixture(scope="session")
def compacted(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A prompt answered, then `-p /compact --continue`, whose summary request meets two 529s first; the
    client's OpenTelemetry export goes to `claimback otel serve` (it changes nothing in the transcripts)."""
    root = tmp_path_factory.mktemp("rc-compacted")
    sandbox = Sandbox(root)
    rules = [Rule(Reply(text="First answer.", input_tokens=300, output_tokens=6, cache_creation_tokens=2500),
                  when=prompt_has("first question")),
             Rule(error_reply(**OVERLOADED), times=2),
             Rule(Reply(text="<summary>A first question was asked and answered.</summary>", input_tokens=500,
                        output_tokens=40, cache_read_tokens=77), times=3)]
    with otel_receiver(root, sandbox, {}) as (env, db):
        with FakeAnthropic(rules) as api:
            first = run_claude(sandbox, api.url, "This is the first question.", env=env)
            second = run_claude(sandbox, api.url, "/compact", "--continue", env=env)
        wait_for_rows(db, "SELECT COUNT(*) FROM requests", 2)
    return Scenario(sandbox, api.served, [first, second], otel_db=db)


@pytest.fixture(scope="session")
def interrupted(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A slow answer; the user presses Ctrl-C (SIGINT) while the request is under way."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-interrupted"))
    rules = [Rule(Reply(text="Too late.", delay_s=20))]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Take your time.", interrupt_when=lambda: rules[0].used > 0)
        deadline = time.monotonic() + 10
        while not api.log() and time.monotonic() < deadline:
            time.sleep(0.05)  # the server logs the abandoned request once it sees the client hang up
    return Scenario(sandbox, api.served, [run])


@pytest.fixture(scope="session")
def quota(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The plan's limit is reached: HTTP 429 rate_limit_error with `unified-status: rejected`."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-quota"))
    rules = [Rule(error_reply(429, "rate_limit_error", "This request would exceed your account's rate limit. "
                              "Please try again later.",
                              headers=unified_headers("rejected", five_hour=1.0, seven_day=0.93)), times=10)]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "One more thing.")
    return Scenario(sandbox, api.served, [run])


def _assert_requests_match(scenario: Scenario, led: Any) -> None:
    served = scenario.answered()
    ids = sorted(r["request_id"] for r in led.rows("SELECT request_id FROM requests"))
    assert ids == sorted(r["request_id"] for r in served)
    assert _ledger_tokens(led) == _tokens(served)


def _failures(led: Any) -> list[dict[str, Any]]:
    return led.rows("SELECT kind, agent_id, status, error_type, error_code, request_id, failure_class, ts "
                    "FROM failures ORDER BY ts")


def test_founding_case_every_failed_attempt_is_a_failure_and_the_killed_subagent_is_found(
        founding: Scenario, tmp_path: Path) -> None:
    assert founding.runs[0].returncode == 0, founding.runs[0].stderr
    led = _ledger(founding, tmp_path)
    _assert_requests_match(founding, led)
    failed = founding.failed()
    assert [r["status"] for r in failed] == [529] * (RETRIES + 1) and all(r["subagent"] for r in failed)
    rows = _failures(led)
    # 2.1.332 writes no retry records for a subagent: its unanswered api-request records are the attempts.
    assert len(rows) == len(failed)
    assert sorted(r["kind"] for r in rows) == ["final"] + ["retry"] * RETRIES
    assert {(r["status"], r["failure_class"]) for r in rows} == {(529, "outage")}
    assert len({r["agent_id"] for r in rows}) == 1
    final = next(r for r in rows if r["kind"] == "final")
    assert final["request_id"] == failed[-1]["request_id"]

    # The killed run: its tokens are the answered requests the server served to Alpha's first launch.
    report = build_resume(led, include_done=True)
    assert len(report.tasks) == 1
    task = report.tasks[0]
    alpha_served = [r for r in founding.answered() if r["subagent"] and ALPHA in r["first_user_text"]]
    first_launch = alpha_served[:1]  # its one answered request; the relaunch's answer came after the burst
    assert task.tokens_burned == sum(_tokens(first_launch))
    assert task.status == "done" and task.relaunch_match == "same prompt"

    # The burst forms a window from the logs alone, and the killed subagent's tokens are its loss.
    windows = find_windows(led, offline=True)
    assert len(windows) == 1 and windows[0].outage_failures == RETRIES + 1
    loss = attribute_window(led, windows[0])
    assert loss.loss["killed_subagents"].tokens == task.tokens_burned
    # Each of the subagent's failed attempts was exposed to its last good prompt (before 2.1.332's silent
    # retries were read, three of the four were missing here); 529s are set apart as not charged.
    assert loss.loss[EXPOSURE].attempts == 0
    assert loss.loss[NOT_CHARGED].attempts == RETRIES + 1
    alpha_prompt = first_launch[0]["input_tokens"] + first_launch[0]["cache_read_tokens"] \
        + first_launch[0]["cache_creation_tokens"]
    assert loss.loss[NOT_CHARGED].tokens == (RETRIES + 1) * alpha_prompt


def test_killed_turn_resent_after_clear(killed_turn: Scenario, tmp_path: Path) -> None:
    first, cleared, second = killed_turn.runs
    assert cleared.returncode == 0
    assert first.returncode != 0 and "500" in first.stdout + first.stderr
    assert second.returncode == 0 and "monday" in second.stdout
    led = _ledger(killed_turn, tmp_path)
    _assert_requests_match(killed_turn, led)
    rows = _failures(led)
    assert len(rows) == len(killed_turn.failed()) == RETRIES + 1
    assert {(r["status"], r["failure_class"]) for r in rows} == {(500, "outage")}
    served_ids = [r["request_id"] for r in killed_turn.failed()]
    assert [r["request_id"] for r in rows] == served_ids  # main-thread retries name their request ids

    report = build_resume(led, include_done=True)
    assert len(report.turns) == 1
    turn = report.turns[0]
    killed_request = killed_turn.answered()[0]  # the turn's one answered request, before the burst
    assert turn.tokens_burned == sum(_tokens([killed_request]))
    assert turn.failures == RETRIES + 1 and turn.status == "done"
    sessions = session_ids(killed_turn.sandbox)
    assert len(sessions) == 2 and turn.resubmitted_session == sessions[1] != turn.session_id
    cleared_file = next(p for p in killed_turn.sandbox.transcripts() if p.stem == sessions[1])
    assert "<command-name>/clear</command-name>" in cleared_file.read_text()
    # The burst makes a window from the logs; the turn the user re-sent is its abandoned-turn loss.
    windows = find_windows(led, offline=True)
    assert len(windows) == 1 and windows[0].outage_failures == RETRIES + 1
    loss = attribute_window(led, windows[0])
    assert loss.loss["abandoned_turns"].tokens == turn.tokens_burned
    assert loss.loss[EXPOSURE].attempts == RETRIES + 1  # every failed attempt exposed, none merged


def test_stream_cut_is_one_failed_attempt_and_its_tokens_are_not_in_the_transcript(
        stream_cut: Scenario, tmp_path: Path) -> None:
    assert stream_cut.runs[0].returncode == 0 and "42" in stream_cut.runs[0].stdout
    led = _ledger(stream_cut, tmp_path)
    _assert_requests_match(stream_cut, led)
    cut = [r for r in stream_cut.messages() if r["kind"] == "cut"]
    assert len(cut) == 1 and cut[0]["status"] == 200
    rows = _failures(led)
    assert len(rows) == 1 and rows[0]["kind"] == "retry" and rows[0]["error_code"] == "StreamTruncated"
    assert rows[0]["status"] is None  # the HTTP status was 200: the stream broke after it
    # What the cut stream carried (its message_start usage) is nowhere in the transcript.
    assert led.scalar("SELECT COUNT(*) FROM requests WHERE request_id = ?", (cut[0]["request_id"],)) == 0


def test_resumed_session_counts_each_request_once(resumed: Scenario, tmp_path: Path) -> None:
    assert [r.returncode for r in resumed.runs] == [0, 0]
    assert "Second answer." in resumed.runs[1].stdout
    led = _ledger(resumed, tmp_path)
    _assert_requests_match(resumed, led)
    assert led.scalar("SELECT COUNT(DISTINCT session_id) FROM requests") == 1
    assert led.scalar("SELECT COUNT(*) FROM failures") == 0
    assert led.scalar("SELECT COUNT(*) FROM prompts") == 2


def test_a_forked_sessions_copied_failures_and_requests_count_once(forked: Scenario, tmp_path: Path) -> None:
    # The replayed part of a fork is not new work: each failed attempt, request and prompt once, in the
    # session that made it; the fork's own prompt and answer in the fork.
    assert [r.returncode for r in forked.runs] == [0, 0]
    assert "Second answer." in forked.runs[1].stdout
    files = sorted((forked.sandbox.config_dir / "projects").rglob("*.jsonl"))
    assert len(files) == 2  # the original and the fork
    led = _ledger(forked, tmp_path)
    _assert_requests_match(forked, led)
    served_failed = sorted(r["request_id"] for r in forked.failed())
    rows = _failures(led)
    assert sorted(r["request_id"] for r in rows) == served_failed and len(served_failed) == 2
    assert {r["failure_class"] for r in rows} == {"outage"}
    assert led.scalar("SELECT COUNT(*) FROM prompts") == 2
    # The first prompt and its failed attempts stay in the first session (the copies moved nothing),
    # whichever file is read first: the copied answer in the fork's file names the session they came from.
    original = session_ids(forked.sandbox)[0]
    assert led.scalar("SELECT session_id FROM prompts ORDER BY ts LIMIT 1") == original
    assert {row[0] for row in led.execute("SELECT session_id FROM failures").fetchall()} == {original}
    fork_file = next(f for f in files if f.stem != original)
    reverse = open_ledger(tmp_path / "reverse.sqlite3")
    ingest(reverse, [fork_file], machine="test")
    ingest(reverse, [forked.sandbox.config_dir / "projects"], machine="test")
    for sql in ("SELECT failure_key, session_id FROM failures ORDER BY failure_key",
                "SELECT prompt_key, session_id FROM prompts ORDER BY prompt_key",
                "SELECT request_key, session_id FROM requests ORDER BY request_key"):
        assert reverse.rows(sql) == led.rows(sql)
    assert led.scalar("SELECT COUNT(DISTINCT session_id) FROM requests") == 2
    # The fork's cost-state carries the first session's total (the same startTime): every served token is
    # a counted request, so nothing is left unattributed, and nothing of the first session counts twice.
    assert led.scalar("SELECT COUNT(DISTINCT start_ms) FROM cost_states") == 1
    assert unattributed_parts(led) == []


def test_a_compactions_request_and_its_failed_attempts_are_in_no_transcript_record_but_cost_state(
        compacted: Scenario, tmp_path: Path) -> None:
    # What 2.1.332 writes for `/compact`: a compact_boundary and the summary as a user record, but neither
    # the summary request's answer (its usage) nor its failed attempts (no api_error, no api-request
    # record). Only the session's running `cost-state` (cumulative modelUsage, restored across --continue)
    # holds its tokens: the ledger reports them as measured, unattributed usage, beside the requests.
    assert [r.returncode for r in compacted.runs] == [0, 0]
    served = compacted.answered()
    assert len(served) == 2 and len(compacted.failed()) == 2
    led = _ledger(compacted, tmp_path)
    ids = [r["request_id"] for r in led.rows("SELECT request_id FROM requests")]
    assert ids == [served[0]["request_id"]]  # the compaction's request is not a transcript record
    assert led.scalar("SELECT COUNT(*) FROM failures") == 0  # nor are its 529 attempts
    states = [json.loads(line) for f in (compacted.sandbox.config_dir / "projects").rglob("*.jsonl")
              for line in f.read_text().splitlines() if '"type":"cost-state"' in line]
    usage = states[-1]["modelUsage"]
    assert sum(m["inputTokens"] for m in usage.values()) == sum(r["input_tokens"] for r in served)
    assert sum(m["outputTokens"] for m in usage.values()) == sum(r["output_tokens"] for r in served)
    # The unattributed figure is exactly what the server served the compaction (its log is the truth).
    compaction = served[1]
    figure = summarize(unattributed_parts(led))
    assert (figure.input_tokens, figure.output_tokens, figure.cache_read_tokens, figure.cache_creation_tokens) == \
        (compaction["input_tokens"], compaction["output_tokens"], compaction["cache_read_tokens"],
         compaction["cache_creation_tokens"])
    assert figure.sessions == session_ids(compacted.sandbox)
    report = usage_report(led, "daily")
    assert report.totals.totalTokens == sum(_tokens([served[0]]))  # never inside the usage rows
    assert report.unattributed.tokens == figure.tokens and report.unattributed.usd > 0
    # A window over the compaction's run shows it beside its loss, never in it.
    first = led.scalar("SELECT MIN(ts) FROM requests")
    window = SimpleNamespace(id="w-compact", start=first, end=utc_now_iso(), provider="anthropic",
                             confirmed_by="statuspage")
    loss = build_loss_report(led, [window], pricing=PricingTable.bundled()).windows[0]
    assert loss.measured_tokens == 0 and loss.estimated_tokens == 0
    assert loss.unattributed["tokens"] == figure.tokens and "unattributed" in loss.headline


def test_a_compactions_telemetry_carries_its_request_but_not_its_recovered_attempts(
        compacted: Scenario, tmp_path: Path) -> None:
    # 2.1.332's OpenTelemetry: `api_request` for the compaction too (query_source "compact", its request
    # id and tokens), but no `api_error` for attempts that a later one recovered (as on the main thread:
    # api_error comes once, when the client gives up). Telemetry and transcripts together: every served
    # request once, and nothing left unattributed (the cost-state is all accounted for).
    served = compacted.answered()
    led = open_ledger(compacted.otel_db)
    assert sorted(r["request_id"] for r in led.rows("SELECT request_id FROM requests")) == \
        sorted(r["request_id"] for r in served)
    assert led.scalar("SELECT COUNT(*) FROM failures") == 0
    ingest(led, [compacted.sandbox.config_dir / "projects"], machine="rc-laptop")
    _assert_requests_match(compacted, led)
    assert led.scalar("SELECT origin FROM requests WHERE request_id = ?", (served[1]["request_id"],)) == "otel"
    assert unattributed_parts(led) == []


def test_user_interrupt_is_an_interruption_not_a_failed_attempt(interrupted: Scenario, tmp_path: Path) -> None:
    served = interrupted.messages()
    assert [r["kind"] for r in served] == ["client_closed"]
    led = _ledger(interrupted, tmp_path)
    rows = _failures(led)
    assert [(r["kind"], r["failure_class"]) for r in rows] == [("interrupt", "interrupt")]
    assert led.scalar("SELECT COUNT(*) FROM requests") == 0


def test_quota_429_is_one_quota_failure(quota: Scenario, tmp_path: Path) -> None:
    served = quota.messages()
    assert [r["status"] for r in served] == [429]  # the client does not retry a rejected plan limit
    led = _ledger(quota, tmp_path)
    rows = _failures(led)
    assert len(rows) == 1
    assert (rows[0]["kind"], rows[0]["status"], rows[0]["failure_class"]) == ("final", 429, "quota_rate")
    assert rows[0]["request_id"] == served[0]["request_id"]
    assert find_windows(led, offline=True) == []


# -- telemetry from the real client ---------------------------------------------------------------------
@dataclass
class Telemetry:
    scenario: Scenario
    db: Path
    stats: dict[str, Any]


@contextmanager
def otel_receiver(root: Path, sandbox: Sandbox, stats: dict[str, Any]) -> Iterator[tuple[dict[str, str], Path]]:
    """`claimback otel serve` on 127.0.0.1 for the real client's OTLP/HTTP export: yields the client's
    environment and the receiver's ledger; its `--json` summary lands in `stats` once it stops."""
    import re
    import signal
    import subprocess
    import sys

    db = root / "otel.sqlite3"
    server = subprocess.Popen([sys.executable, "-m", "claimback", "otel", "serve", "--port", "0", "--db", str(db),
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**sandbox.env("http://127.0.0.1:9"), "CLAIMBACK_HOME": str(root / "cb")})
    try:
        line = server.stderr.readline()
        found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        assert found, line
        yield ({"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "DISABLE_TELEMETRY": "", "OTEL_LOGS_EXPORTER": "otlp",
                "OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": found.group(1), "OTEL_LOGS_EXPORT_INTERVAL": "500",
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                "OTEL_RESOURCE_ATTRIBUTES": "claimback.machine_id=rc-laptop,claimback.user=dana"}, db)
    finally:
        server.send_signal(signal.SIGTERM)
        out, _err = server.communicate(timeout=30)
        stats.update(json.loads(out) if out.strip() else {})


def wait_for_rows(db: Path, sql: str, at_least: int, seconds: float = 20) -> None:
    """The client flushes its exporter on exit; wait until the receiver has stored what it sent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        led = open_ledger(db)
        try:
            if (led.scalar(sql) or 0) >= at_least:
                return
        finally:
            led.close()
        time.sleep(0.2)


@pytest.fixture(scope="session")
def telemetry(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Telemetry:
    """`claimback otel serve` on 127.0.0.1 receiving the real client's OTLP/HTTP export: one answered
    request, then a turn that dies after 1 + RETRIES attempts of 529."""
    root = tmp_path_factory.mktemp("rc-otel")
    sandbox = Sandbox(root)
    stats: dict[str, Any] = {}
    with otel_receiver(root, sandbox, stats) as (env, db):
        rules = [Rule(Reply(text="Fine.", input_tokens=222, output_tokens=9, cache_creation_tokens=1800),
                      when=prompt_has("healthy question")),
                 Rule(error_reply(**OVERLOADED), times=RETRIES + 1)]
        with FakeAnthropic(rules) as api:
            runs = [run_claude(sandbox, api.url, "A healthy question.", env=env),
                    run_claude(sandbox, api.url, "A doomed question.", env=env)]
        wait_for_rows(db, "SELECT CASE WHEN (SELECT COUNT(*) FROM failures) >= 1 THEN (SELECT COUNT(*) FROM requests) "
                      "ELSE 0 END", 1)
    return Telemetry(Scenario(sandbox, api.served, runs), db, stats)


def test_real_client_telemetry_lands_in_the_ledger_one_row_per_failure(telemetry: Telemetry,
                                                                        tmp_path: Path) -> None:
    scenario = telemetry.scenario
    assert [r.returncode for r in scenario.runs] == [0, 1]
    led = open_ledger(telemetry.db)
    reqs = led.rows("SELECT request_id, input_tokens, output_tokens, cache_creation_tokens, origin, machine_id "
                    "FROM requests")
    served = scenario.answered()
    assert [(r["request_id"], r["input_tokens"], r["output_tokens"], r["cache_creation_tokens"]) for r in reqs] == \
        [(s["request_id"], s["input_tokens"], s["output_tokens"], s["cache_creation_tokens"]) for s in served]
    assert {(r["origin"], r["machine_id"]) for r in reqs} == {("otel", "rc-laptop")}
    # api_error came once, after the client gave up, with attempt = total attempts; api_retries_exhausted
    # beside it is the same failure: one row, carrying all the attempts.
    failed = scenario.failed()
    rows = led.rows("SELECT kind, status, attempt, max_attempts, request_id, failure_class FROM failures")
    assert rows == [{"kind": "final", "status": 529, "attempt": len(failed), "max_attempts": len(failed),
                     "request_id": failed[-1]["request_id"], "failure_class": "outage"}]
    assert telemetry.stats["events"]["api_error"] == 1 and telemetry.stats["events"]["api_retries_exhausted"] == 1
    assert telemetry.stats["rejected"] == 0
    from claimback.analysis.team import team_report

    before = team_report(led, offline=True, with_loss=False).members
    assert [(m.key, m.failed_attempts, m.final_errors) for m in before] == [("dana", len(failed) - 1, 1)]

    # The transcripts of the same runs then replace the telemetry rows: every request and attempt once.
    ingest(led, [scenario.sandbox.config_dir / "projects"], machine="rc-laptop")
    _assert_requests_match(scenario, led)
    assert led.scalar("SELECT COUNT(*) FROM requests WHERE origin = 'otel'") == 0
    assert led.scalar("SELECT COUNT(*) FROM failures") == len(failed)
    assert led.scalar("SELECT COUNT(*) FROM failures WHERE origin = 'otel'") == 0
    after = team_report(led, offline=True, with_loss=False).members  # the same figures from the transcript
    assert [(m.failed_attempts, m.final_errors) for m in after] == [(len(failed) - 1, 1)]


@pytest.fixture(scope="session")
def refused(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Nothing listens at the base URL (port 9 on loopback): the client retries, then gives up."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-refused"))
    run = run_claude(sandbox, "http://127.0.0.1:9", "Is anyone there?")
    return Scenario(sandbox, [], [run])


def test_connection_refused_is_the_users_side_not_an_outage(refused: Scenario, tmp_path: Path) -> None:
    assert refused.runs[0].returncode != 0 and "ECONNREFUSED" in refused.runs[0].stdout
    led = _ledger(refused, tmp_path)
    rows = _failures(led)
    # 2.1.332 writes error.connection.code ECONNREFUSED on each retry and `error: "server_error"` on the
    # final record; the text and the code decide: the user's side, never an outage window.
    assert sorted(r["kind"] for r in rows) == ["final"] + ["retry"] * RETRIES
    assert {r["failure_class"] for r in rows} == {"local_runtime"}
    assert {r["error_code"] for r in rows if r["kind"] == "retry"} == {"ECONNREFUSED"}
    assert find_windows(led, offline=True) == []


@pytest.fixture(scope="session")
def timed_out(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The API accepts the connection and never answers within the client's timeout (API_TIMEOUT_MS=2000):
    every attempt times out, then the client gives up."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-timeout"))
    rules = [Rule(Reply(text="too late", delay_s=6), times=RETRIES + 1)]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Say hi.", env={"API_TIMEOUT_MS": "2000"})
    return Scenario(sandbox, api.served, [run])


def test_timed_out_turn_is_network_attempts_and_final_alike(timed_out: Scenario, tmp_path: Path) -> None:
    assert timed_out.runs[0].returncode != 0 and "Request timed out" in timed_out.runs[0].stdout
    assert len(timed_out.messages()) == RETRIES + 1 and timed_out.answered() == []
    led = _ledger(timed_out, tmp_path)
    rows = _failures(led)
    # 2.1.332: each attempt `error: {message: "Request timed out."}` (no status), the final `error:
    # "server_error"` with a text that advises on proxies. Nobody answered: no side is proven, one class.
    assert sorted(r["kind"] for r in rows) == ["final"] + ["retry"] * RETRIES
    assert {(r["status"], r["failure_class"]) for r in rows} == {(None, "network")}
    assert find_windows(led, offline=True, sync=False) == []


@pytest.fixture(scope="session")
def throttled(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Two 429 `rate_limit_error`s that ask for a short wait (retry-after: 1), then an answer: the client
    retries a throttle it may outwait (an API-key sign-in, no plan quota headers)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-throttled"))
    throttle = error_reply(429, "rate_limit_error", "Rate limited", headers={"retry-after": "1"})
    rules = [Rule(throttle, times=2),
             Rule(Reply(text="Hi.", input_tokens=140, output_tokens=6, cache_creation_tokens=900))]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Say hi.")
    return Scenario(sandbox, api.served, [run])


def test_retried_throttle_is_two_rate_limit_attempts_and_one_request(throttled: Scenario, tmp_path: Path) -> None:
    assert throttled.runs[0].returncode == 0 and "Hi." in throttled.runs[0].stdout
    assert [r["status"] for r in throttled.messages()] == [429, 429, 200]
    led = _ledger(throttled, tmp_path)
    _assert_requests_match(throttled, led)
    rows = _failures(led)
    assert [(r["kind"], r["status"], r["failure_class"]) for r in rows] == [("retry", 429, "quota_rate")] * 2
    assert [r["request_id"] for r in rows] == [r["request_id"] for r in throttled.failed()]
    assert find_windows(led, offline=True, sync=False) == []


GATEWAY_PAGE = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                "</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")


@pytest.fixture(scope="session")
def gateway_page(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A gateway in front of the model answers every attempt with its own HTML 502 page (no request id)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-gateway"))
    rules = [Rule(Reply(kind="raw", status=502, body=GATEWAY_PAGE), times=RETRIES + 1)]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Say hi.")
    return Scenario(sandbox, api.served, [run])


def test_gateway_page_burst_is_the_gateways_attempts_and_final_alike(gateway_page: Scenario,
                                                                     tmp_path: Path) -> None:
    assert gateway_page.runs[0].returncode != 0 and "502" in gateway_page.runs[0].stdout
    assert [r["status"] for r in gateway_page.messages()] == [502] * (RETRIES + 1)
    led = _ledger(gateway_page, tmp_path)
    rows = led.rows("SELECT kind, status, request_id, failure_class, provider FROM failures ORDER BY ts")
    # 2.1.332 keeps the page in each attempt's `error.message`; its final says only "API Error: 502 Bad
    # Gateway … check your inference gateway (HOST)". The page is the gateway's: every row is its.
    assert sorted(r["kind"] for r in rows) == ["final"] + ["retry"] * RETRIES
    assert {(r["status"], r["request_id"], r["failure_class"], r["provider"]) for r in rows} == {
        (502, None, "outage", "other")}


GAMMA = "SUBTASK-GAMMA: count the files"


@pytest.fixture(scope="session")
def background_killed(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A background subagent (`run_in_background`) whose every attempt meets 529: the launch is answered
    at once (`async_launched`), the run's end comes later as a `<task-notification>` with status failed."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-background"))
    rules = [
        Rule(Reply(kind="tool_use", tools=[agent_call(GAMMA, "Gamma", background=True)], input_tokens=300,
                   output_tokens=40), when=all_of(main_thread, lambda r: not r.tool_results)),
        Rule(error_reply(**OVERLOADED), when=prompt_has(GAMMA), times=RETRIES + 1),
        Rule(Reply(text="Gamma is running in the background.", input_tokens=20, output_tokens=9),
             when=all_of(main_thread, answers_tool)),
        Rule(Reply(text="Noted.", input_tokens=20, output_tokens=5), when=main_thread, times=None, for_seconds=120),
    ]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Count the files in the background.")
    return Scenario(sandbox, api.served, [run])


def test_background_subagent_killed_by_529s_is_a_killed_task(background_killed: Scenario, tmp_path: Path) -> None:
    assert background_killed.runs[0].returncode == 0
    failed = background_killed.failed()
    assert [r["status"] for r in failed] == [529] * (RETRIES + 1) and all(r["subagent"] for r in failed)
    led = _ledger(background_killed, tmp_path)
    _assert_requests_match(background_killed, led)
    rows = _failures(led)
    assert len(rows) == RETRIES + 1 and {(r["status"], r["failure_class"]) for r in rows} == {(529, "outage")}
    assert len({r["agent_id"] for r in rows}) == 1 and rows[0]["agent_id"]
    tasks = led.rows("SELECT agent_id, outcome, result_status FROM tasks")
    # The launch's own answer says only "async_launched"; the notification's `failed` and the run's own
    # file (its last event a final error) say it was killed.
    assert [(t["agent_id"], t["outcome"], t["result_status"]) for t in tasks] == [
        (rows[0]["agent_id"], "killed", "failed")]
    # The burst is a window from the logs alone, and the task is on the list to re-run.
    windows = find_windows(led, offline=True, sync=False)
    assert len(windows) == 1 and windows[0].outage_failures == RETRIES + 1
    assert [t.outcome for t in build_resume(led).tasks] == ["killed"]


# What the client does with the API's refusals that no outage causes, and what each must be filed as
# (2.1.332, seen here: it retries a 401 and a 404, never a 400, a 413 or these 403s).
REFUSALS = {
    "invalid key": (error_reply(401, "authentication_error", "invalid x-api-key"), "auth", "Invalid API key"),
    "prompt too long": (error_reply(400, "invalid_request_error",
                                    "prompt is too long: 212000 tokens > 200000 maximum"),
                        "model_provider", "Prompt is too long"),
    "no credit": (error_reply(403, "permission_error", "Your credit balance is too low to access the Anthropic "
                              "API. Please go to Plans & Billing to upgrade or purchase credits."),
                  "quota_rate", "Credit balance is too low"),
    "unknown model": (error_reply(404, "not_found_error", "model: claude-sonnet-4-6"), "model_provider",
                      "issue with the selected model"),
    # Not retried; the final reads "Request too large (max 32MB). Accumulated images …" and "Failed to
    # authenticate. API Error: 403 Request not allowed" (`error: "authentication_failed"`).
    "request too large": (error_reply(413, "request_too_large", "Request exceeds the maximum allowed number of "
                                      "bytes."), "model_provider", "Request too large"),
    "not allowed": (error_reply(403, "permission_error", "Request not allowed"), "auth", "Failed to authenticate"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_are_their_own_class_never_outage_evidence(claude_binary: Path, tmp_path: Path, case: str) -> None:
    reply, expected, shown = REFUSALS[case]
    sandbox = Sandbox(tmp_path / "rc")
    with FakeAnthropic([Rule(reply, times=RETRIES + 1)]) as api:
        run = run_claude(sandbox, api.url, "Say hi.")
    scenario = Scenario(sandbox, api.served, [run])
    assert run.returncode != 0 and shown in run.stdout
    led = _ledger(scenario, tmp_path)
    rows = _failures(led)
    assert rows and rows[-1]["kind"] == "final"
    assert {r["failure_class"] for r in rows} == {expected}
    assert rows[-1]["request_id"] == scenario.failed()[-1]["request_id"]
    assert find_windows(led, offline=True, sync=False) == []


def _assert_one_clouds_burst(scenario: Scenario, led: Any, provider: str, status: int) -> list[dict[str, Any]]:
    """Every request `provider`'s, and the burst RETRIES attempts and a final of `status`, all its."""
    _assert_requests_match(scenario, led)
    assert {r["provider"] for r in led.rows("SELECT provider FROM requests")} == {provider}
    rows = led.rows("SELECT kind, status, failure_class, provider, request_id, session_id FROM failures ORDER BY ts")
    assert [(r["kind"], r["status"], r["failure_class"], r["provider"]) for r in rows] == \
        [("retry", status, "outage", provider)] * RETRIES + [("final", status, "outage", provider)]
    return rows


@pytest.fixture(scope="session")
def on_vertex(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Claude Code on Vertex AI (CLAUDE_CODE_USE_VERTEX, auth skipped): the fake answers `…:streamRawPredict`
    as Vertex does (`msg_vrtx_…`, `req_vrtx_…`), once, then a 529 burst ends the second prompt."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-vertex"))
    rules = [Rule(Reply(text="Hi there.", input_tokens=150, output_tokens=7), when=prompt_has("hello")),
             Rule(error_reply(**OVERLOADED), times=RETRIES + 1)]
    with FakeAnthropic(rules, vertex=True) as api:
        env = {"CLAUDE_CODE_USE_VERTEX": "1", "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
               "ANTHROPIC_VERTEX_PROJECT_ID": "proj-test", "CLOUD_ML_REGION": "us-east5",
               "ANTHROPIC_VERTEX_BASE_URL": api.url + "/v1", "ANTHROPIC_API_KEY": ""}
        runs = [run_claude(sandbox, api.url, "Say hello.", env=env), run_claude(sandbox, api.url, "Say bye.", env=env)]
    return Scenario(sandbox, api.served, runs)


def test_a_vertex_burst_is_vertexs_and_never_claimed_from_anthropic(on_vertex: Scenario, tmp_path: Path) -> None:
    from realclient import claimback

    assert [r.returncode for r in on_vertex.runs] == [0, 1] and "Vertex AI" in on_vertex.runs[1].stdout
    assert all(r["path"].endswith(":streamRawPredict") for r in on_vertex.messages())
    led = _ledger(on_vertex, tmp_path)
    rows = _assert_one_clouds_burst(on_vertex, led, "vertex", 529)
    assert [r["request_id"] for r in rows] == [r["request_id"] for r in on_vertex.failed()]
    led.close()
    from datetime import UTC, datetime, timedelta

    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()  # the runs' day, not the archive's
    out = claimback(on_vertex.sandbox, {}, "loss", "--no-ingest", "--offline", "--json", "--db",
                    str(tmp_path / "ledger.sqlite3"), "--since", since)
    assert out.returncode == 0, out.stderr
    windows = json.loads(out.stdout)["windows"]
    vertex = [w for w in windows if w["provider"] == "vertex"]
    assert len(vertex) == 1 and not vertex[0]["claimable"] and "Google Cloud" in vertex[0]["claim_to"]
    assert all(w["provider"] == "anthropic" for w in windows if w["claimable"])


@pytest.fixture(scope="session")
def on_bedrock(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Claude Code on Amazon Bedrock (CLAUDE_CODE_USE_BEDROCK, auth skipped): the fake answers
    `/model/…/invoke-with-response-stream` in AWS event-stream frames with `msg_bdrk_…` ids, once; then
    Bedrock's own 503 ServiceUnavailableException (its JSON body and an x-amzn-RequestId, no Anthropic
    error shape) ends a second session's prompt before it had any answer."""
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-bedrock"))
    unavailable = Reply(kind="raw", status=503, content_type="application/json",
                        body=json.dumps({"message": "Bedrock is unable to process your request."}),
                        headers={"x-amzn-ErrorType": "ServiceUnavailableException:http://internal.amazon.com/coral/"
                                                     "com.amazon.bedrock/",
                                 "x-amzn-RequestId": "3f1c2a9e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"})
    rules = [Rule(Reply(text="Hi there.", input_tokens=150, output_tokens=7), when=prompt_has("hello")),
             Rule(unavailable, times=RETRIES + 1)]
    with FakeAnthropic(rules, bedrock=True) as api:
        env = {"CLAUDE_CODE_USE_BEDROCK": "1", "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1", "AWS_REGION": "us-east-1",
               "ANTHROPIC_BEDROCK_BASE_URL": api.url, "ANTHROPIC_API_KEY": ""}
        runs = [run_claude(sandbox, api.url, "Say hello.", env=env), run_claude(sandbox, api.url, "Say bye.", env=env)]
    return Scenario(sandbox, api.served, runs)


def test_a_bedrock_outage_in_a_session_with_no_answer_is_bedrocks(on_bedrock: Scenario, tmp_path: Path) -> None:
    assert [r.returncode for r in on_bedrock.runs] == [0, 1] and "Amazon Bedrock" in on_bedrock.runs[1].stdout
    assert all(r["path"].endswith("/invoke-with-response-stream") for r in on_bedrock.messages())
    led = _ledger(on_bedrock, tmp_path)
    # The failing session has no answer of its own: the texts ("Bedrock is unable to process your
    # request", the final's "check your Amazon Bedrock service status") are its route's only evidence.
    rows = _assert_one_clouds_burst(on_bedrock, led, "bedrock", 503)
    assert not led.scalar("SELECT COUNT(*) FROM requests WHERE session_id = ?", (rows[0]["session_id"],))
    windows = find_windows(led, offline=True, sync=False)
    assert [w.provider for w in windows] == ["bedrock"]
