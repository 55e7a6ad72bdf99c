"""The hook inputs claimback reads, as the real client 2.1.332 sends them, and a headless run's death reaching
the next run's guard.

One sandbox, claimback's guard installed by `claimback guard install`, and beside it a recording hook on the
same events (it writes each input it gets to a file). Two `claude -p` runs: the first ends in 500s (the
client gives up), the second's model asks for a subagent. `-p` exits without waiting for StopFailure (seen
started in 1 of 3 such runs): the SessionEnd hook claimback installs records the final error from the
transcript instead, once, so the second run's launch is held whichever hook got there.

Then what the client does with claimback's answers in `-p --output-format json`, with a fresh outage record
in place (a burst on any provider): `user_prompt_submit = "block"` holds the prompt (no request) and the
run still exits 0 with `is_error: false`; with the default `warn`, SessionStart's `additionalContext`
reaches the model as a system reminder and the denied launch is in the result's `permission_denials`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import statuspage_payloads as sp
from fake_anthropic import SERVER_ERROR, FakeAnthropic, Reply, Request, Rule, agent_call, answers_tool, error_reply
from realclient import Sandbox, StaticServer, claimback, require_claude, run_claude

from claimback.core.times import format_epoch

RECORDER = "import os,sys\nopen(os.environ['HOOK_RECORD'],'a').write(sys.argv[1]+'\\t'+sys.stdin.read().replace('\\n',' ')+'\\n')\n"
RECORDED = ("SessionStart", "UserPromptSubmit", "PreToolUse", "StopFailure", "SessionEnd")


def _add_recorder(sandbox: Sandbox) -> None:
    script = sandbox.root / "record_hook.py"
    script.write_text(RECORDER)
    path = sandbox.config_dir / "settings.json"
    settings = json.loads(path.read_text())
    for event in RECORDED:
        group: dict[str, Any] = {"hooks": [{"type": "command", "command": f"{sys.executable} {script} {event}"}]}
        if event == "PreToolUse":
            group["matcher"] = "Agent|Task|Workflow"
        settings["hooks"].setdefault(event, []).append(group)
    path.write_text(json.dumps(settings, indent=2))


@pytest.fixture(scope="module")
def headless(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-hooks"))
    record = sandbox.root / "hook-inputs.tsv"
    pages = {"/api/v2/incidents/unresolved.json": sp.incidents_json(),
             "/api/v2/incidents.json": sp.incidents_json(), "/api/v2/summary.json": sp.summary_json([], degraded=False)}
    runs = []
    with StaticServer(pages) as status:
        env = {"CLAIMBACK_HOME": str(sandbox.root / "cb"), "CLAIMBACK_STATUS_URL": status.url,
               "HOOK_RECORD": str(record), "CLAUDE_CODE_MAX_RETRIES": "0"}
        installed = claimback(sandbox, env, "guard", "install")
        assert installed.returncode == 0, installed.stderr
        _add_recorder(sandbox)
        subprocess.run([sys.executable, "-m", "claimback.prevent.refresh"], env={**sandbox.env("x"), **env},
                       check=True, timeout=30)
        with FakeAnthropic([Rule(error_reply(**SERVER_ERROR), times=4)]) as api:
            runs.append(run_claude(sandbox, api.url, "First run.", "--output-format", "json", env=env))
        first = lambda r: not r.tool_results and not r.subagent  # noqa: E731
        rules = [Rule(Reply(kind="tool_use", text="", tools=[agent_call("HELD-SUBTASK count files")]), when=first),
                 Rule(Reply(text="Main thread done."), when=answers_tool, times=3),
                 Rule(Reply(text="Subagent finished."), times=3)]
        with FakeAnthropic(rules) as api:
            runs.append(run_claude(sandbox, api.url, "Second run.", env=env))
            served = list(api.served)
    inputs = [(line.split("\t", 1)[0], json.loads(line.split("\t", 1)[1])) for line in record.read_text().splitlines()]
    guard = sandbox.root / "cb" / "data" / "guard"
    failures = [json.loads(x) for x in (guard / "stop-failures.jsonl").read_text().splitlines()]
    decisions = [json.loads(x) for x in (guard / "decisions.jsonl").read_text().splitlines()]
    return {"runs": runs, "inputs": inputs, "failures": failures, "decisions": decisions, "served": served}


def test_hook_inputs_carry_the_fields_claimback_reads(headless: dict[str, Any]) -> None:
    by_event: dict[str, list[dict[str, Any]]] = {}
    for event, payload in headless["inputs"]:
        by_event.setdefault(event, []).append(payload)
    assert {"SessionStart", "UserPromptSubmit", "PreToolUse", "SessionEnd"} <= set(by_event)
    for event, payloads in by_event.items():
        for payload in payloads:
            assert payload["hook_event_name"] == event
            assert len(payload["session_id"]) == 36 and payload["transcript_path"].endswith(payload["session_id"] + ".jsonl")
    assert all(p["source"] == "startup" and "model" not in p for p in by_event["SessionStart"])
    (launch,) = by_event["PreToolUse"]
    assert launch["tool_name"] == "Agent" and launch["tool_input"]["prompt"] == "HELD-SUBTASK count files"
    assert launch["permission_mode"] == "default" and launch["tool_use_id"].startswith("toolu_")
    assert {p["reason"] for p in by_event["SessionEnd"]} == {"other"}
    for stop in by_event.get("StopFailure", []):  # when -p waited long enough to start it
        assert stop["error"] == "server_error" and "error_details" not in stop
        assert stop["last_assistant_message"].startswith("API Error: 500")


def test_a_headless_death_is_recorded_once_and_holds_the_next_runs_launch(headless: dict[str, Any]) -> None:
    first, second = headless["runs"]
    result = json.loads(first.stdout)
    # The headless result of a run the API killed: an error, though its subtype says success.
    assert (result["is_error"], result["subtype"], result["terminal_reason"]) == (True, "success", "api_error")
    assert (result["api_error_status"], result["api_error_type"]) == (500, "api_error")
    assert first.returncode == 1 and second.returncode == 0
    (failure,) = headless["failures"]
    assert (failure["session"], failure["error"], failure["class"]) == (result["session_id"], "server_error", "outage")
    launches = [d for d in headless["decisions"] if d["event"] == "PreToolUse"]
    assert [d["decision"] for d in launches] == ["deny"]
    assert not any("HELD-SUBTASK" in r["first_user_text"] for r in headless["served"])


@pytest.fixture(scope="module")
def answered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-answers"))
    cb = sandbox.root / "cb"
    pages = {"/api/v2/incidents/unresolved.json": sp.incidents_json(),
             "/api/v2/incidents.json": sp.incidents_json(), "/api/v2/summary.json": sp.summary_json([], degraded=False)}
    out: dict[str, Any] = {}
    with StaticServer(pages) as status:
        env = {"CLAIMBACK_HOME": str(cb), "CLAIMBACK_STATUS_URL": status.url}
        assert claimback(sandbox, env, "guard", "install").returncode == 0
        subprocess.run([sys.executable, "-m", "claimback.prevent.refresh"], env={**sandbox.env("x"), **env},
                       check=True, timeout=30)
        (cb / "data" / "guard").mkdir(parents=True, exist_ok=True)
        for mode in ("block", "warn"):
            (cb / "config").mkdir(parents=True, exist_ok=True)
            (cb / "config" / "config.toml").write_text(f'[guard]\nuser_prompt_submit = "{mode}"\n')
            # A run that just died of an outage (as its StopFailure or SessionEnd hook records it).
            (cb / "data" / "guard" / "stop-failures.jsonl").write_text(json.dumps(
                {"ts": format_epoch(time.time() - 5), "session": None, "error": "server_error", "class": "outage"}) + "\n")
            bodies: list[dict[str, Any]] = []

            def first(request: Request) -> bool:
                bodies.append(request.body)
                return not request.tool_results and not request.subagent

            rules = [Rule(Reply(kind="tool_use", text="", tools=[agent_call("HELD-SUBTASK count files")]), when=first),
                     Rule(Reply(text="Main thread done."), times=3)]
            with FakeAnthropic(rules) as api:
                run = run_claude(sandbox, api.url, "Run the job.", "--output-format", "json", env=env)
            out[mode] = {"run": run, "result": json.loads(run.stdout), "served": list(api.served), "bodies": bodies}
    return out


def test_a_held_prompt_sends_nothing_and_exits_zero(answered: dict[str, Any]) -> None:
    held = answered["block"]
    assert held["served"] == [] and held["run"].returncode == 0
    result = held["result"]
    assert (result["is_error"], result["subtype"], result["num_turns"]) == (False, "success", 0)
    assert result["result"].startswith("UserPromptSubmit operation blocked by hook:\nclaimback guard held this prompt: ")


def test_warnings_reach_the_model_and_the_denied_launch_is_in_the_result(answered: dict[str, Any]) -> None:
    warned = answered["warn"]
    first_message = json.dumps(warned["bodies"][0]["messages"][0])
    assert "SessionStart hook additional context: Status reported by claimback" in first_message
    assert not any("HELD-SUBTASK" in r["first_user_text"] for r in warned["served"])
    (denial,) = warned["result"]["permission_denials"]
    # The hook saw `Agent`; the result names the tool by its older name.
    assert denial["tool_name"] == "Task" and denial["tool_input"]["prompt"] == "HELD-SUBTASK count files"
    assert warned["result"]["is_error"] is False and warned["run"].returncode == 0


def test_a_guard_whose_interpreter_is_gone_fails_open(tmp_path: Path) -> None:
    # `guard install` writes `<this python> -P -c … hook PreToolUse`; with that install deleted the shell
    # exits 127, which 2.1.332 takes as a non-blocking hook error (only exit 2 blocks): the launch runs.
    require_claude()
    sandbox = Sandbox(tmp_path)
    gone = f"{tmp_path / 'deleted-venv' / 'bin' / 'python'} -P -c 'from claimback.entry import main; main()' hook PreToolUse"
    hooks = {"PreToolUse": [{"matcher": "Agent|Task|Workflow", "hooks": [{"type": "command", "command": gone}]}]}
    (sandbox.config_dir / "settings.json").write_text(json.dumps({"hooks": hooks}))
    first = lambda r: not r.tool_results and not r.subagent  # noqa: E731
    rules = [Rule(Reply(kind="tool_use", text="", tools=[agent_call("OPEN-SUBTASK count files")]), when=first),
             Rule(Reply(text="Subagent finished."), when=lambda r: r.subagent, times=3),
             Rule(Reply(text="Main thread done."), times=3)]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Run the job.", "--output-format", "json")
    assert run.returncode == 0 and json.loads(run.stdout)["permission_denials"] == []
    assert any("OPEN-SUBTASK" in r["first_user_text"] for r in api.served)
