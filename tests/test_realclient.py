"""The real Claude Code client against the fake Anthropic API: the server's log is the truth.

Each scenario runs the real binary once per test session (session-scoped fixtures), writes a real config
dir, and the tests ingest it and compare the ledger with what the fake server served: every answered
request with its tokens, one failure row per failed attempt, the killed subagent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import (
    OVERLOADED,
    FakeAnthropic,
    Reply,
    Rule,
    agent_call,
    all_of,
    answers_tool,
    error_reply,
    main_thread,
    prompt_has,
)
from realclient import PINNED_VERSION, Run, Sandbox, installed_version, require_claude, run_claude

from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest


@dataclass
class Scenario:
    sandbox: Sandbox
    served: list[dict[str, Any]]
    runs: list[Run] = field(default_factory=list)

    def messages(self) -> list[dict[str, Any]]:
        return [r for r in self.served if r["path"].startswith("/v1/messages")
                and not r["path"].startswith("/v1/messages/count_tokens")]

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
ALPHA_AGAIN = "SUBTASK-ALPHA-AGAIN: read notes.txt and report"
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
        Rule(Reply(kind="tool_use", text="", tools=[agent_call(ALPHA_AGAIN, "Alpha again")], input_tokens=15,
                   output_tokens=60, cache_read_tokens=4096),
             when=all_of(main_thread, answers_tool)),
        Rule(Reply(text="notes.txt: ship on friday.", input_tokens=330, output_tokens=25),
             when=prompt_has(ALPHA_AGAIN)),
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
