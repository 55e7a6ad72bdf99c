"""The guard under the real Claude Code client: `claimback guard install` into the sandbox HOME, an open
incident on a local status page, a session whose first request meets a burst of 529s (the client retries
and gets through), and then a model (the fake API) that asks for a subagent. The real client must not start
it (no subagent request reaches the server, the transcript holds our denial), and must start it with
CLAIMBACK_GUARD=off. The same for Workflow, which runs its subagents in the background.

Why the burst: the sandbox's ANTHROPIC_BASE_URL is not Anthropic's host, so for the guard the session goes
through a relay (provider `other`), where a status-page incident alone only warns; the session's own
failures block on any provider. `test_status_page_alone_only_warns_behind_a_relay` shows that rule, and
`test_status_page_alone_blocks_behind_a_gateway_to_anthropic` the incident alone blocking once the user
declares the base URL a gateway to Anthropic's API (CLAIMBACK_GATEWAY_UPSTREAM=anthropic)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
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
    answers_tool,
    error_reply,
    subagent,
    workflow_call,
)
from realclient import Sandbox, StaticServer, claimback, require_claude, run_claude

from claimback.prevent.signals import STOP_FAILURE_CLASSES, classify_stop_failure

AGENT_PROMPT = "GUARDED-SUBTASK count the files in the project"
WORKFLOW_PROMPT = "GUARDED-WORKFLOW-AGENT say ok"


@dataclass
class GuardRun:
    served: list[dict[str, Any]]
    records: list[dict[str, Any]]
    decisions: list[dict[str, Any]]


BURST = 3  # the guard's default burst_failures; CLAUDE_CODE_MAX_RETRIES=3 in the sandbox gets past them


def _one_launch(sandbox: Sandbox, env: dict[str, str], tool: dict[str, Any], *args: str,
                burst: int = BURST) -> GuardRun:
    first = lambda r: not r.tool_results and not r.subagent  # noqa: E731
    rules = [Rule(error_reply(**OVERLOADED), when=first, times=burst),
             Rule(Reply(kind="tool_use", text="", tools=[tool]), when=first),
             Rule(Reply(text="Subagent finished."), when=subagent, times=4),
             Rule(Reply(text="Main thread done."), when=answers_tool, times=4)]
    decisions = sandbox.root / "cb" / "data" / "guard" / "decisions.jsonl"
    seen = len(decisions.read_text().splitlines()) if decisions.exists() else 0
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Start the helper now.", *args, env=env)
    assert run.returncode == 0, run.stderr
    records = [r for r in sandbox.records() if r.get("sessionId") == _last_session(sandbox)]
    lines = decisions.read_text().splitlines()[seen:] if decisions.exists() else []
    return GuardRun(api.served, records, [json.loads(line) for line in lines])


def _last_session(sandbox: Sandbox) -> str:
    files = [p for p in sandbox.transcripts() if p.parent.parent.name == "projects"]
    return max(files, key=lambda p: p.stat().st_mtime_ns).stem


@pytest.fixture(scope="session")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GuardRun]:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-guard"))
    pages = {"/api/v2/incidents/unresolved.json": sp.incidents_json(sp.OPEN_INCIDENT),
             "/api/v2/incidents.json": sp.incidents_json(sp.OPEN_INCIDENT),
             "/api/v2/summary.json": sp.summary_json([sp.OPEN_INCIDENT])}
    runs: dict[str, GuardRun] = {}
    with StaticServer(pages) as status:
        env = {"CLAIMBACK_HOME": str(sandbox.root / "cb"), "CLAIMBACK_STATUS_URL": status.url}
        installed = claimback(sandbox, env, "guard", "install")
        assert installed.returncode == 0, installed.stderr
        # The hook reads a cached copy of the status page (refreshed in the background); fill it first.
        subprocess.run([sys.executable, "-m", "claimback.prevent.refresh"], env={**sandbox.env("x"), **env},
                       check=True, timeout=30)
        runs["agent"] = _one_launch(sandbox, env, agent_call(AGENT_PROMPT, "Count files"))
        runs["agent_off"] = _one_launch(sandbox, {**env, "CLAIMBACK_GUARD": "off"},
                                        agent_call(AGENT_PROMPT, "Count files"))
        runs["workflow"] = _one_launch(sandbox, env, workflow_call(WORKFLOW_PROMPT), "--allowedTools", "Workflow")
        runs["workflow_off"] = _one_launch(sandbox, {**env, "CLAIMBACK_GUARD": "off"},
                                           workflow_call(WORKFLOW_PROMPT), "--allowedTools", "Workflow")
        runs["status_only"] = _one_launch(sandbox, env, agent_call(AGENT_PROMPT, "Count files"), burst=0)
        # The same sandbox declared as a gateway in front of Anthropic's API: the incident alone blocks.
        runs["gateway_status_only"] = _one_launch(sandbox, {**env, "CLAIMBACK_GATEWAY_UPSTREAM": "anthropic"},
                                                  agent_call(AGENT_PROMPT, "Count files"), burst=0)
    settings = json.loads((sandbox.config_dir / "settings.json").read_text())
    assert settings["hooks"]["PreToolUse"][0]["matcher"] == "Agent|Task|Workflow"
    return runs


def _tool_results(run: GuardRun) -> list[str]:
    out = []
    for record in run.records:
        content = (record.get("message") or {}).get("content")
        if record.get("type") == "user" and isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    out.append(json.dumps(block.get("content")))
    return out


def _subagent_requests(run: GuardRun, prompt: str) -> list[dict[str, Any]]:
    return [r for r in run.served if prompt in r["first_user_text"]]


@pytest.mark.parametrize("kind,prompt", [("agent", AGENT_PROMPT), ("workflow", WORKFLOW_PROMPT)])
def test_guard_stops_a_real_subagent_launch_during_an_incident(guarded: dict[str, GuardRun], kind: str,
                                                               prompt: str) -> None:
    run = guarded[kind]
    assert _subagent_requests(run, prompt) == []  # the subagent never sent a request
    # The burst, the launch, then the answer to the denial: no subagent request at all.
    assert [(r["status"], r["subagent"]) for r in run.served] == [(529, False)] * BURST + [(200, False)] * 2
    results = _tool_results(run)
    assert len(results) == 1 and "claimback guard paused this subagent launch" in results[0]
    pre = [d for d in run.decisions if d["event"] == "PreToolUse"]
    assert [(d["decision"], d["why"]) for d in pre] == [("deny", "status page + burst in logs")]


@pytest.mark.parametrize("kind,prompt", [("agent_off", AGENT_PROMPT), ("workflow_off", WORKFLOW_PROMPT)])
def test_guard_off_lets_the_same_launch_run(guarded: dict[str, GuardRun], kind: str, prompt: str) -> None:
    run = guarded[kind]
    assert len(_subagent_requests(run, prompt)) >= 1
    assert not any("claimback guard" in r for r in _tool_results(run))
    assert {d["decision"] for d in run.decisions} == {"off"}


def test_status_page_alone_only_warns_behind_a_relay(guarded: dict[str, GuardRun]) -> None:
    run = guarded["status_only"]
    assert len(_subagent_requests(run, AGENT_PROMPT)) >= 1
    pre = [d for d in run.decisions if d["event"] == "PreToolUse"]
    assert [d["decision"] for d in pre] == ["warn"] and "provider other" in pre[0]["note"]


def test_status_page_alone_blocks_behind_a_gateway_to_anthropic(guarded: dict[str, GuardRun]) -> None:
    run = guarded["gateway_status_only"]
    assert _subagent_requests(run, AGENT_PROMPT) == []
    assert [(r["status"], r["subagent"]) for r in run.served] == [(200, False)] * 2
    results = _tool_results(run)
    assert len(results) == 1 and "claimback guard paused this subagent launch" in results[0]
    pre = [d for d in run.decisions if d["event"] == "PreToolUse"]
    assert [d["decision"] for d in pre] == ["deny"] and "note" not in pre[0]


# Every `error` value Claude Code 2.1.332 validates StopFailure input against (strings in its binary).
DOCUMENTED_ERRORS = ("authentication_failed", "oauth_org_not_allowed", "account_on_hold", "verification_required",
                     "billing_error", "rate_limit", "overloaded", "invalid_request", "model_not_found",
                     "server_error", "unknown", "max_output_tokens", "cloud_credential_error")
EXPECTED = {"overloaded": "outage", "server_error": "outage", "rate_limit": "quota_rate",
            "billing_error": "quota_rate", "authentication_failed": "auth", "oauth_org_not_allowed": "auth",
            "invalid_request": "model_provider", "model_not_found": "model_provider",
            "max_output_tokens": "model_provider"}


@pytest.mark.parametrize("error", DOCUMENTED_ERRORS)
def test_stop_failure_maps_every_documented_error_value(error: str) -> None:
    # The kind decides, whatever text comes with it.
    assert classify_stop_failure(error, "API Error: 529 Overloaded") == EXPECTED.get(error, "unknown") \
        or (error == "unknown" and classify_stop_failure(error, "API Error: 529 Overloaded") == "outage")
    assert classify_stop_failure(error, None) == EXPECTED.get(error, "unknown")
    assert set(STOP_FAILURE_CLASSES) <= set(DOCUMENTED_ERRORS)


def test_stop_failure_without_a_kind_reads_the_text() -> None:
    assert classify_stop_failure(None, "API Error: 529 Overloaded") == "outage"
    assert classify_stop_failure("unknown", "API Error: Request rejected (429) · rate limit") == "quota_rate"
    assert classify_stop_failure(None, None) == "unknown"
