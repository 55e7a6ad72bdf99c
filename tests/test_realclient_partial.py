"""The real client, a stream that fails after visible output, and a subagent ended by an API error.

Claude Code's error reference (code.claude.com/docs/en/errors, "The response above may be incomplete" and
"Agent terminated early due to an API error") says that since 2.1.199 a server error after visible output
keeps the partial response instead of retrying, and that a subagent ended by an API error reports
"Agent terminated early due to an API error: <detail>" to its parent. What 2.1.332 writes for them, seen
here against the fake API (tests/fake_anthropic.py, `after_block`: the text block is finished, then the
SSE `error` event):

- in `-p` mode and in subagents it keeps the partial assistant record (the usage message_start carried,
  a synthesized stop reason) and sends the model a meta message, "Your response above was cut off
  mid-stream…", instead of an error record, up to three times; the fourth cut gets the final record
  `API Error: Server error mid-response. The response above may be incomplete.` (`error:
  "server_error"`, `truncatedAfterOutput: true`, no status);
- a subagent whose every attempt got 529 hands its parent a tool result "Agent terminated early due to
  an API error: API Error: 529 Overloaded… (error type server_error, HTTP 529, …)".

docs/methodology.md ("What each client version lets us measure") says how claimback counts each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import OVERLOADED, FakeAnthropic, Reply, Rule, agent_call, all_of, answers_tool, error_reply, \
    main_thread, prompt_has
from realclient import Sandbox, require_claude, run_claude

from claimback.analysis.loss import attribute_window
from claimback.analysis.outages import find_windows
from claimback.core.classify import AGENT_TERMINATED, CUT_OFF_NUDGE, NETWORK, OUTAGE, classify
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

PARTIAL = dict(kind="stream_error", after_block=True, text="Part one of the answer is here", input_tokens=900,
               output_tokens=70, cache_creation_tokens=1200)
NUDGES = 3  # 2.1.332 resumes a cut response this many times before it writes the final error
GAMMA = "SUBTASK-GAMMA: check the notes"


def _ledger(sandbox: Sandbox, tmp_path: Path) -> Any:
    led = open_ledger(tmp_path / "ledger.sqlite3")
    ingest(led, [sandbox.config_dir / "projects"], machine="test")
    return led


@pytest.fixture(scope="module")
def cut_after_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, list[dict[str, Any]], Any]:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-partial"))
    with FakeAnthropic([Rule(Reply(**PARTIAL), times=NUDGES + 1)]) as api:
        run = run_claude(sandbox, api.url, "What is the answer?")
    return sandbox, api.served, run


@pytest.fixture(scope="module")
def subagent_cases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, list[dict[str, Any]], Any]:
    """One subagent whose first answer is cut after output (it resumes), one whose every attempt is 529."""
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-partial-agents"))
    rules = [
        Rule(Reply(kind="tool_use", tools=[agent_call("SUBTASK-DELTA: read the plan", "Delta"),
                                           agent_call(GAMMA, "Gamma")], input_tokens=500, output_tokens=40),
             when=all_of(main_thread, lambda r: not r.tool_results)),
        Rule(Reply(**{**PARTIAL, "input_tokens": 300}), when=prompt_has("SUBTASK-DELTA"), times=1),
        Rule(Reply(text="Delta: the plan is fine.", input_tokens=310, output_tokens=9),
             when=prompt_has("SUBTASK-DELTA")),
        Rule(error_reply(**OVERLOADED), when=prompt_has(GAMMA), times=8),
        Rule(Reply(text="One report is in, one subagent failed.", input_tokens=30, output_tokens=8),
             when=all_of(main_thread, answers_tool)),
    ]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Check the plan with two subagents.")
    return sandbox, api.served, run


def test_partial_responses_are_requests_and_failures_and_the_loss_counts_them(
        cut_after_output: tuple[Sandbox, list[dict[str, Any]], Any], tmp_path: Path) -> None:
    sandbox, served, run = cut_after_output
    assert "Server error mid-response. The response above may be incomplete." in run.stdout
    cut = [r for r in served if r["kind"] == "stream_error"]
    assert len(cut) == NUDGES + 1 and all(r["status"] == 200 for r in cut)
    led = _ledger(sandbox, tmp_path)
    # Every partial response is a request with the tokens its stream carried (message_start's usage).
    rows = {r["request_id"]: r for r in led.rows(
        "SELECT request_id, input_tokens, output_tokens, cache_creation_tokens FROM requests")}
    assert sorted(rows) == sorted(r["request_id"] for r in cut)
    for r in cut:
        assert (rows[r["request_id"]]["input_tokens"], rows[r["request_id"]]["cache_creation_tokens"],
                rows[r["request_id"]]["output_tokens"]) == (900, 1200, r["output_tokens"])
    # ... and a failure: the resumed ones by the client's nudge, the last by its final error record.
    failures = led.rows("SELECT kind, status, failure_class, message, request_id FROM failures ORDER BY ts")
    assert [(f["kind"], f["failure_class"]) for f in failures] == [("retry", NETWORK)] * NUDGES + [("final", OUTAGE)]
    assert all(f["message"] == CUT_OFF_NUDGE for f in failures[:NUDGES])
    assert failures[-1]["status"] is None and "Server error mid-response" in failures[-1]["message"]
    # The final record names no request; its `streamCutError` does: the last cut stream's own id.
    assert failures[-1]["request_id"] == cut[-1]["request_id"]
    # One window from the logs (an HTTP-level outage error beside the cut connections); each partial
    # response is measured loss (docs/methodology.md, "partial responses"), counted once.
    windows = find_windows(led, offline=True)
    assert len(windows) == 1
    loss = attribute_window(led, windows[0])
    partial = [r for r in loss.lost_requests if r.category == "partial_responses"]
    assert sorted(r.request_id for r in partial) == sorted(r["request_id"] for r in cut)
    assert loss.loss["partial_responses"].tokens == sum(900 + 1200 + r["output_tokens"] for r in cut)


def test_subagent_cut_after_output_and_subagent_terminated_early(
        subagent_cases: tuple[Sandbox, list[dict[str, Any]], Any], tmp_path: Path) -> None:
    sandbox, served, run = subagent_cases
    assert run.returncode == 0
    led = _ledger(sandbox, tmp_path)
    delta_cut = [r for r in served if r["kind"] == "stream_error"]
    assert len(delta_cut) == 1
    # Delta's cut answer: a request with its tokens and one failed attempt in Delta's own file.
    assert led.scalar("SELECT COUNT(*) FROM requests WHERE request_id = ? AND agent_id IS NOT NULL",
                      (delta_cut[0]["request_id"],)) == 1
    nudged = led.rows("SELECT agent_id, kind, failure_class FROM failures WHERE message = ?", (CUT_OFF_NUDGE,))
    assert len(nudged) == 1 and nudged[0]["agent_id"] and nudged[0]["failure_class"] == NETWORK
    # Gamma: the parent's tool result names the API error behind the prefix; the run is killed, by an outage.
    tasks = {t["description"]: t for t in led.rows("SELECT description, outcome, result_error FROM tasks")}
    assert tasks["Gamma"]["outcome"] == "killed"
    # (a string toolUseResult: "Error: Agent terminated early due to an API error: API Error: 529 …")
    assert AGENT_TERMINATED + ": API Error: 529 Overloaded" in tasks["Gamma"]["result_error"]
    assert classify(text=tasks["Gamma"]["result_error"]) == OUTAGE
    assert tasks["Delta"]["outcome"] == "completed"
