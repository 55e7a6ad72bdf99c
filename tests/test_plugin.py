"""The Claude Code plugin and marketplace in the repo (`.claude-plugin/`, `plugins/claimback/`).

The JSON files are checked against what Claude Code documents for them (and against the guard's own
hook list: one definition), then the real, pinned client validates them (`claude plugin validate
--strict`), installs the plugin from the repo's marketplace, and runs it: a `-p` session whose model asks
for a subagent while an incident is active gets the launch denied by the plugin's PreToolUse hook.
The client talks only to the fake API on 127.0.0.1, in a private HOME (tests/realclient.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from fake_anthropic import OVERLOADED, FakeAnthropic, Reply, Rule, agent_call, answers_tool, error_reply, main_thread
from realclient import Sandbox, require_claude, run_claude
from statuspage_payloads import write_open_incident_cache

from claimback.prevent.guard_plugin import PLUGIN_ID, plugin_hooks
from claimback.prevent.guard_settings import HOOK_EVENTS, HOOK_TIMEOUT_S

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "plugins" / "claimback"
LAUNCHER = PLUGIN / "bin" / "claimback-run"
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Hook events Claude Code documents (hooks reference); ours must be among them.
KNOWN_EVENTS = {"PreToolUse", "PostToolUse", "PostToolUseFailure", "Notification", "UserPromptSubmit",
                "SessionStart", "SessionEnd", "Stop", "StopFailure", "SubagentStart", "SubagentStop",
                "PreCompact", "PermissionRequest"}


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _frontmatter(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), path
    head = text[4:text.index("\n---\n", 4)]
    return dict(line.split(": ", 1) for line in head.splitlines())


def test_manifests_follow_the_documented_schema() -> None:
    market = _json(ROOT / ".claude-plugin" / "marketplace.json")
    assert KEBAB.match(market["name"]) and market["owner"]["name"]
    (entry,) = market["plugins"]
    assert f"{entry['name']}@{market['name']}" == PLUGIN_ID
    assert (ROOT / entry["source"]).resolve() == PLUGIN  # a relative source inside the repo
    manifest = _json(PLUGIN / ".claude-plugin" / "plugin.json")
    assert manifest["name"] == entry["name"] and KEBAB.match(manifest["name"])
    # the standard folders are used, so the manifest names no component paths
    assert not {"commands", "hooks", "agents", "skills", "mcpServers"} & set(manifest)
    from claimback import __version__

    assert manifest["version"] == entry["version"] == __version__


def test_hooks_are_the_guards_in_exec_form() -> None:
    hooks = _json(PLUGIN / "hooks" / "hooks.json")
    assert hooks == plugin_hooks()  # regenerate: see docs/guard.md, "Plugin"
    assert set(hooks["hooks"]) == {event for event, _ in HOOK_EVENTS} <= KNOWN_EVENTS
    for event, matcher in HOOK_EVENTS:
        (group,) = hooks["hooks"][event]
        assert group.get("matcher") == matcher
        (hook,) = group["hooks"]
        assert hook["type"] == "command" and hook["timeout"] == HOOK_TIMEOUT_S
        # exec form: an executable and an argument list, nothing for a shell to parse
        assert hook["command"] == "${CLAUDE_PLUGIN_ROOT}/bin/claimback-run" and hook["args"] == ["hook", event]
    assert LAUNCHER.is_file() and os.access(LAUNCHER, os.X_OK)


def test_slash_commands_exist_and_run_the_launcher() -> None:
    names = sorted(p.stem for p in (PLUGIN / "commands").glob("*.md"))
    assert names == ["claim", "loss", "resume", "status"]
    for name in names:
        meta = _frontmatter(PLUGIN / "commands" / f"{name}.md")
        assert meta["description"] and meta["allowed-tools"] == "Bash(${CLAUDE_PLUGIN_ROOT}/bin/claimback-run:*)"
        assert '!`"${CLAUDE_PLUGIN_ROOT}/bin/claimback-run" ' in (PLUGIN / "commands" / f"{name}.md").read_text()


def _launch(args: list[str], path: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LAUNCHER), *args], env={"PATH": path, "HOME": str(tmp_path),
                                                       "CLAIMBACK_HOME": str(tmp_path / "cb")},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_launcher_runs_the_installed_claimback_and_fails_open(tmp_path: Path) -> None:
    here = str(Path(sys.executable).parent)  # this venv's bin: `claimback` is there
    found = _launch(["--version"], f"{here}:/usr/bin:/bin", tmp_path)
    assert found.returncode == 0 and found.stdout.startswith("claimback, version")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    (empty / "sh").symlink_to(shutil.which("sh") or "/bin/sh")
    alone = str(empty)  # neither claimback nor uvx on PATH
    hook = subprocess.run(["/bin/sh", str(LAUNCHER), "hook", "PreToolUse"], env={"PATH": alone}, input="{}",
                          capture_output=True, text=True, timeout=60)
    assert (hook.returncode, hook.stdout, hook.stderr) == (0, "", "")  # a hook never blocks Claude Code
    command = subprocess.run(["/bin/sh", str(LAUNCHER), "guard", "status"], env={"PATH": alone},
                             capture_output=True, text=True, timeout=60)
    assert command.returncode == 127 and "uv tool install claimback" in command.stderr


# -- the real client ---------------------------------------------------------------------------------
def _claude_env(sandbox: Sandbox) -> dict[str, str]:
    return {k: v for k, v in sandbox.env("http://127.0.0.1:9").items()}


def test_real_client_validates_the_plugin_and_the_marketplace(tmp_path: Path) -> None:
    claude = require_claude()
    sandbox = Sandbox(tmp_path)
    for target in (PLUGIN, ROOT):
        done = subprocess.run([str(claude), "plugin", "validate", "--strict", "--json", str(target)],
                              env=_claude_env(sandbox), capture_output=True, text=True, timeout=120,
                              cwd=sandbox.workdir, stdin=subprocess.DEVNULL)
        report = json.loads(done.stdout[done.stdout.index("{"):])
        assert done.returncode == 0 and report["success"] is True, done.stdout[-3000:]
        assert report["manifest"]["errors"] == [] and report["manifest"]["warnings"] == []


def test_guard_install_plugin_uses_claudes_cli_with_the_repo_marketplace(tmp_path: Path) -> None:
    """`claimback guard install --plugin --marketplace CLONE`: the real `claude plugin marketplace add` and
    `claude plugin install` against this repo; the plugin is then listed as installed and enabled."""
    claude = require_claude()
    sandbox = Sandbox(tmp_path)
    env = {**_claude_env(sandbox), "PATH": f"{claude.parent}:{Path(sys.executable).parent}:/usr/bin:/bin"}
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "claude").symlink_to(claude)
    env["PATH"] = f"{shim}:{env['PATH']}"
    done = subprocess.run([sys.executable, "-m", "claimback", "guard", "install", "--plugin", "--marketplace",
                           str(ROOT), "--json"], env={**env, "CLAIMBACK_HOME": str(tmp_path / "cb")},
                          capture_output=True, text=True, timeout=300, cwd=sandbox.workdir)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["installed"] is True and [argv[1:4] for argv in result["ran"]] == [
        ["plugin", "marketplace", "add"], ["plugin", "install", PLUGIN_ID]]
    listed = subprocess.run([str(claude), "plugin", "list", "--json"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=sandbox.workdir)
    assert listed.returncode == 0, listed.stderr
    assert PLUGIN_ID in listed.stdout
    status = subprocess.run([sys.executable, "-m", "claimback", "guard", "status", "--json"],
                            env={**env, "CLAIMBACK_HOME": str(tmp_path / "cb")}, capture_output=True, text=True,
                            timeout=60, cwd=sandbox.workdir)
    scopes = {s["scope"]: s for s in json.loads(status.stdout)["scopes"]}
    assert scopes["user"]["plugin"] is True and scopes["user"]["events"] == []  # enabledPlugins, no settings hooks
    assert json.loads(status.stdout)["installed"] is True


def test_real_client_runs_the_plugins_pretooluse_hook(tmp_path: Path) -> None:
    """`claude -p --plugin-dir plugins/claimback`: the API overloads three times (the client retries), then
    the model launches a subagent; the plugin's PreToolUse hook (exec form, through the launcher, the
    installed claimback) sees the burst in the session's transcript and denies the launch, the client sends
    the denial back as the tool result, and no subagent request reaches the API. (The open incident alone
    would only warn: the client runs against a custom ANTHROPIC_BASE_URL, which the status page does not
    speak for.)"""
    require_claude()
    sandbox = Sandbox(tmp_path)
    cb_home = tmp_path / "cb"
    write_open_incident_cache(cb_home, "Elevated errors on Claude Sonnet 4.6", ["Claude API (api.anthropic.com)"])
    rules = [Rule(error_reply(**OVERLOADED), when=lambda r: main_thread(r) and not answers_tool(r), times=3),
             Rule(Reply(kind="tool_use", tools=[agent_call("Count the notes in notes/")]),
                  when=lambda r: main_thread(r) and not answers_tool(r)),
             Rule(Reply(text="The launch was paused."), when=answers_tool)]
    with FakeAnthropic(rules, max_requests=12) as api:
        run = run_claude(sandbox, api.url, "Check the notes with a subagent", "--plugin-dir", str(PLUGIN),
                         env={"CLAIMBACK_HOME": str(cb_home), "CLAIMBACK_STATUS_URL": "http://127.0.0.1:9"},
                         timeout=180)
        served = api.log()
    assert run.returncode == 0, run.stderr[-2000:]
    assert not [r for r in served if r["subagent"]]  # the subagent never started
    decisions = [json.loads(line) for line in (cb_home / "data" / "guard" / "decisions.jsonl").read_text().splitlines()]
    events = [d["event"] for d in decisions]
    assert "SessionStart" in events and "UserPromptSubmit" in events  # the plugin's other hooks ran too
    pre = [d for d in decisions if d["event"] == "PreToolUse"]
    assert pre and pre[-1]["decision"] == "deny" and pre[-1]["failures"] == 3, decisions
    assert [d["decision"] for d in decisions if d["event"] == "SessionStart"] == ["warn"]  # the incident, named
    results = [b for rec in sandbox.records() if rec.get("type") == "user"
               for b in (rec["message"]["content"] if isinstance(rec["message"]["content"], list) else [])
               if b.get("type") == "tool_result"]
    assert results and "3 outage-class API failures" in json.dumps(results)


def test_guard_install_notes_an_enabled_plugin(isolated_home: Path, tmp_path: Path) -> None:
    """Settings hooks beside the enabled plugin would run every hook twice: install says so, status shows both."""
    from click.testing import CliRunner

    from claimback.cli import main
    from claimback.prevent.guard_settings import settings_path

    user = settings_path("user")
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text(json.dumps({"enabledPlugins": {PLUGIN_ID: True}}))
    done = CliRunner().invoke(main, ["guard", "install"])
    assert done.exit_code == 0 and "plugin is also enabled (user settings)" in done.output
    status = json.loads(CliRunner().invoke(main, ["guard", "status", "--json"]).output)
    (mine,) = [s for s in status["scopes"] if s["scope"] == "user"]
    assert mine["plugin"] is True and mine["events"]
    table = CliRunner().invoke(main, ["guard", "status"]).output
    # The cell wraps with the test console's width: read the hooks column's pieces joined up.
    cells = "".join(line.split("│")[3] for line in table.splitlines() if line.count("│") >= 5)
    assert "+ plugin" in " ".join(cells.split())


def test_launcher_starts_a_hook_with_the_installed_interpreter_directly(tmp_path: Path) -> None:
    """A hook goes to the interpreter on the installed script's #! line (`-P -c`, as guard install
    writes it), not through the script, whose pip template imports `re`; the decision is the same."""
    here = str(Path(sys.executable).parent)
    if not (Path(here) / "claimback").exists():
        pytest.skip("no console script next to this interpreter")
    from test_guard_hook import write_cache

    write_cache(tmp_path / "cb", [])  # fresh: no background refresh is started
    env = {"PATH": f"{here}:/usr/bin:/bin", "HOME": str(tmp_path), "CLAIMBACK_HOME": str(tmp_path / "cb"),
           "CLAIMBACK_STATUS_URL": "http://127.0.0.1:9", "PYTHONPROFILEIMPORTTIME": "1"}
    payload = json.dumps({"hook_event_name": "PreToolUse", "session_id": "s1", "tool_name": "Agent",
                          "tool_input": {"prompt": "p"}})
    hook = subprocess.run([str(LAUNCHER), "hook", "PreToolUse"], env=env, input=payload, capture_output=True,
                          text=True, timeout=60)
    assert hook.returncode == 0 and hook.stdout == "", hook.stderr[-500:]
    modules = {line.split("|")[-1].strip() for line in hook.stderr.splitlines() if "|" in line}
    assert "claimback.prevent.hook" in modules and "re" not in modules and "runpy" not in modules
    log = (tmp_path / "cb" / "data" / "guard" / "decisions.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["decision"] == "allow"
    version = _launch(["--version"], env["PATH"], tmp_path)  # everything else: the script itself
    assert version.returncode == 0 and version.stdout.startswith("claimback, version")
