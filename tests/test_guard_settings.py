"""`claimback guard install|uninstall|status`: merging into real Claude Code settings files.

The round trips run the real CLI in a subprocess with a sandbox HOME; the byte-for-byte checks
compare the file with the exact bytes written before the install.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimback.errors import BadInput
from claimback.prevent import guard, guard_state
from claimback.prevent.guard_settings import LAUNCH_CODE

# A settings file as people have them: 4-space indent, other tools' hooks on the same events,
# unknown keys, non-ASCII text, no newline at the end.
EXISTING = """{
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "model": "opus",
    "permissions": {"allow": ["Bash(npm test:*)"], "deny": ["Read(./.env)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/check-bash.sh"}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send 'fertig ✓'"}]}]
    },
    "statusLine": {"type": "command", "command": "~/.claude/statusline.sh", "padding": 0},
    "cleanupPeriodDays": 90,
    "zUnknownKey": {"nested": [1, 2, 3]}
}"""


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "claimback", *args], capture_output=True, text=True,
                          cwd=cwd, env=full, timeout=60)


def user_settings() -> Path:
    return Path(os.environ["HOME"]) / ".claude" / "settings.json"


def our_commands(data: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event, groups in data.get("hooks", {}).items():
        for group in groups:
            for hook in group.get("hooks", []):
                if " hook " in hook.get("command", "") and "claimback" in hook["command"]:
                    out.setdefault(event, []).append(hook["command"])
    return out


def test_install_uninstall_round_trip_restores_bytes(isolated_home: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(EXISTING.encode("utf-8"))
    os.chmod(path, 0o640)

    proc = cli("guard", "install", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["changed"] and result["events"] == ["PreToolUse", "UserPromptSubmit", "SessionStart", "StopFailure", "SessionEnd"]
    data = json.loads(path.read_text(encoding="utf-8"))
    original = json.loads(EXISTING)
    assert list(data) == list(original)  # key order kept
    for key in ("$schema", "model", "permissions", "statusLine", "cleanupPeriodDays", "zUnknownKey"):
        assert data[key] == original[key]
    assert data["hooks"]["Stop"] == original["hooks"]["Stop"]
    assert data["hooks"]["PreToolUse"][0] == original["hooks"]["PreToolUse"][0]  # other hooks first, untouched
    ours = data["hooks"]["PreToolUse"][1]
    assert ours["matcher"] == "Agent|Task|Workflow" and ours["hooks"][0]["command"].endswith(" hook PreToolUse")
    assert set(our_commands(data)) == {"PreToolUse", "UserPromptSubmit", "SessionStart", "StopFailure", "SessionEnd"}
    assert path.read_text(encoding="utf-8").startswith('{\n    "$schema"')  # the file's indent kept
    assert (path.stat().st_mode & 0o777) == 0o640
    backups = list((isolated_home / "data" / "guard" / "backups").iterdir())
    assert len(backups) == 1 and backups[0].read_bytes() == EXISTING.encode("utf-8")

    installed = path.read_bytes()
    proc = cli("guard", "install")  # idempotent
    assert proc.returncode == 0 and "already installed" in proc.stdout
    assert path.read_bytes() == installed

    proc = cli("guard", "uninstall")
    assert proc.returncode == 0, proc.stderr
    assert "byte for byte" in proc.stdout
    assert path.read_bytes() == EXISTING.encode("utf-8")
    assert (path.stat().st_mode & 0o777) == 0o640
    proc = cli("guard", "uninstall")
    assert "not installed" in proc.stdout and path.read_bytes() == EXISTING.encode("utf-8")


def test_done_when_sandbox_install_deny_uninstall(isolated_home: Path, tmp_path: Path) -> None:
    """Issue 7's acceptance: install, a simulated active incident denies an Agent launch, uninstall
    restores the settings byte for byte."""
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(EXISTING.encode("utf-8"))
    assert cli("guard", "install").returncode == 0
    settings = json.loads(path.read_text(encoding="utf-8"))
    command = settings["hooks"]["PreToolUse"][1]["hooks"][0]["command"]

    now = datetime.now(timezone.utc)
    status = isolated_home / "cache" / "status"
    status.mkdir(parents=True)
    (status / "unresolved.json").write_text(json.dumps({"incidents": [{
        "id": "8z7l5zcy0v3b", "name": "Elevated error rates on requests to some models",
        "status": "identified", "impact": "major",
        "created_at": (now - timedelta(minutes=20)).isoformat(), "shortlink": "https://stspg.io/8z7l5zcy0v3b",
        "components": [{"name": "Claude API (api.anthropic.com)"}, {"name": "Claude Code"}]}]}))
    (status / "unresolved.meta.json").write_text(json.dumps({"url": "x", "fetched_at": now.isoformat()}))

    # Run the hook exactly as Claude Code would: the installed command line, through a shell.
    payload = {"session_id": "s1", "transcript_path": str(tmp_path / "none.jsonl"), "cwd": str(tmp_path),
               "hook_event_name": "PreToolUse", "tool_name": "Agent",
               "tool_input": {"description": "x", "prompt": "y", "subagent_type": "general-purpose"}}
    proc = subprocess.run(command, shell=True, input=json.dumps(payload), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0
    out = json.loads(proc.stdout)["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny"
    assert "Elevated error rates on requests to some models" in out["permissionDecisionReason"]

    assert cli("guard", "uninstall").returncode == 0
    assert path.read_bytes() == EXISTING.encode("utf-8")


def test_user_edits_after_install_are_kept_on_uninstall(isolated_home: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(EXISTING.encode("utf-8"))
    guard.install("user")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["theme"] = "dark"
    data["hooks"]["PreToolUse"].append({"matcher": "Write", "hooks": [{"type": "command", "command": "fmt"}]})
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")

    result = guard.uninstall("user")
    assert result.changed and not result.restored_exactly
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["theme"] == "dark"
    assert [g["matcher"] for g in after["hooks"]["PreToolUse"]] == ["Bash", "Write"]
    assert our_commands(after) == {}
    assert "UserPromptSubmit" not in after["hooks"]  # containers claimback created are gone
    assert after["hooks"]["Stop"] == json.loads(EXISTING)["hooks"]["Stop"]


def test_reformatted_but_equal_file_is_restored_exactly(isolated_home: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(EXISTING.encode("utf-8"))
    guard.install("user")
    # Another tool rewrote the file (same content, other formatting): the original bytes come back.
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8"))), encoding="utf-8")
    result = guard.uninstall("user")
    assert result.restored_exactly and path.read_bytes() == EXISTING.encode("utf-8")


def test_missing_file_is_created_and_removed_again(isolated_home: Path) -> None:
    path = user_settings()
    assert not path.parent.exists()
    result = guard.install("user")
    assert result.created_file and path.exists()
    assert set(our_commands(json.loads(path.read_text()))) == {"PreToolUse", "UserPromptSubmit", "SessionStart", "StopFailure", "SessionEnd"}
    result = guard.uninstall("user")
    assert result.removed_file and not path.exists() and not path.parent.exists()


@pytest.mark.parametrize("scope,name", [("project", "settings.json"), ("local", "settings.local.json")])
def test_project_and_local_scopes(isolated_home: Path, tmp_path: Path, scope: str, name: str) -> None:
    project = tmp_path / "repo"
    (project / ".claude").mkdir(parents=True)
    target = project / ".claude" / name
    original = b'{"hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "ruff"}]}]}}\n'
    target.write_bytes(original)
    proc = cli("guard", "install", "--scope", scope, cwd=project)
    assert proc.returncode == 0, proc.stderr
    commands = our_commands(json.loads(target.read_text()))
    assert "PreToolUse" in commands
    if scope == "project":  # shared file: claimback from PATH, not this machine's venv
        assert commands["PreToolUse"] == ["claimback hook PreToolUse"]
    else:
        # this very interpreter and install, started without the console script's or runpy's imports
        assert commands["PreToolUse"] == [f"{shlex.quote(sys.executable)} -P -c '{LAUNCH_CODE}' hook PreToolUse"]
    assert not user_settings().exists()
    status = json.loads(cli("guard", "status", "--json", cwd=project).stdout)
    by_scope = {s["scope"]: s for s in status["scopes"]}
    assert by_scope[scope]["events"] == ["PreToolUse", "UserPromptSubmit", "SessionStart", "StopFailure", "SessionEnd"]
    assert by_scope["user"]["events"] == [] and status["installed"] is True
    proc = cli("guard", "uninstall", "--scope", scope, "--project-dir", str(project))
    assert proc.returncode == 0 and target.read_bytes() == original


def test_claude_config_dir_first_entry_is_the_user_scope(isolated_home: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "cfg-a", tmp_path / "cfg-b"
    env = {"CLAUDE_CONFIG_DIR": f"{first},{second}"}
    proc = cli("guard", "install", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (first / "settings.json").exists() and not (second / "settings.json").exists()
    assert not user_settings().exists()
    assert cli("guard", "uninstall", env=env).returncode == 0
    assert not (first / "settings.json").exists()


@pytest.mark.parametrize("content,needle", [
    (b'{"model": "opus",, }', "not valid JSON (line 1"),
    (b'{\n  "hooks": {"PreToolUse": [}\n}', "not valid JSON (line 2"),
    (b'["a list"]', "not an object"),
    (b'{"hooks": []}', '"hooks" is not an object'),
    (b'{"hooks": {"PreToolUse": {"matcher": "x"}}}', "hooks.PreToolUse is not a list"),
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'\xff\xfe{}', "not UTF-8"),
])
def test_invalid_settings_are_refused_untouched(isolated_home: Path, content: bytes, needle: str) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    before = path.stat().st_mtime_ns
    proc = cli("guard", "install")
    assert proc.returncode == 2
    assert needle in proc.stderr and "untouched" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert path.read_bytes() == content and path.stat().st_mtime_ns == before
    assert not (isolated_home / "data" / "guard" / "installs.json").exists()
    assert cli("guard", "uninstall").returncode == 2 and path.read_bytes() == content


def test_statusline_wraps_and_restores_the_previous_command(isolated_home: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(EXISTING.encode("utf-8"))
    result = guard.install("user", statusline=True)
    assert result.statusline
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["statusLine"]["command"].endswith(" statusline") and data["statusLine"]["padding"] == 0
    assert guard_state.previous_statusline_command("user") == "~/.claude/statusline.sh"
    # The wrapper finds the previous command where it looks for it: [statusline] command in config.toml.
    from claimback.config import config_path, load_config

    assert load_config().statusline["command"] == "~/.claude/statusline.sh"
    guard.uninstall("user")
    assert path.read_bytes() == EXISTING.encode("utf-8")
    assert not config_path().exists()  # claimback had created it for this


def test_statusline_chain_runs_through_the_wrapper_and_config_is_restored(isolated_home: Path) -> None:
    from claimback.config import config_path

    config = config_path()
    config.parent.mkdir(parents=True)
    original_config = b'plan = "max"\n\n[statusline]\n# my notes\n\n[guard]\nmin_impact = "major"\n'
    config.write_bytes(original_config)
    path = user_settings()
    path.parent.mkdir(parents=True)
    original = json.dumps({"statusLine": {"type": "command", "command": "echo PREVIOUS-LINE"}}).encode()
    path.write_bytes(original)
    proc = cli("guard", "install", "--statusline")
    assert proc.returncode == 0 and "previous status line keeps running" in proc.stdout
    command = json.loads(path.read_text())["statusLine"]["command"]
    shown = subprocess.run(command, shell=True, input=json.dumps({"model": {"display_name": "Opus"}}),
                           capture_output=True, text=True, timeout=30)
    assert "PREVIOUS-LINE" in shown.stdout
    assert cli("guard", "uninstall").returncode == 0
    assert path.read_bytes() == original and config.read_bytes() == original_config


@pytest.mark.parametrize(("command", "ours"), [
    ("claimback statusline", True),
    ("/home/u/.venv/bin/claimback statusline ", True),
    (f"'/usr/bin/python3' -P -c '{LAUNCH_CODE}' statusline", True),
    ("python -m claimback statusline", True),
    ("'/home/u/My Projects (x)/.venv/bin/claimback' statusline", True),
    # A user's command around claimback is theirs: kept and chained, not replaced and lost.
    ("claimback statusline | sed 's/week/wk/'", False),
    ("NO_COLOR=1 claimback statusline", False),
    ("echo -n '> '; claimback statusline", False),
    ("bash -c 'claimback statusline'", False),
    ("~/.claude/statusline.sh", False),
])
def test_a_status_line_is_ours_only_when_the_whole_command_is_ours(command: str, ours: bool) -> None:
    from claimback.prevent.guard_settings import statusline_is_ours

    assert statusline_is_ours({"type": "command", "command": command}) is ours


def test_a_users_pipeline_around_claimback_statusline_is_chained_without_a_loop(isolated_home: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    users = f"{shlex.quote(sys.executable)} -m claimback statusline | tr a-z A-Z"
    original = json.dumps({"statusLine": {"type": "command", "command": users}}).encode()
    path.write_bytes(original)
    proc = cli("guard", "install", "--statusline")
    assert proc.returncode == 0 and "previous status line keeps running" in proc.stdout
    command = json.loads(path.read_text())["statusLine"]["command"]
    assert command != users
    payload = {"model": {"display_name": "Opus"}, "rate_limits": {
        "five_hour": {"used_percentage": 12, "resets_at": 1764600000},
        "seven_day": {"used_percentage": 40, "resets_at": 1765000000}}}
    shown = subprocess.run(command, shell=True, input=json.dumps(payload), capture_output=True, text=True,
                           timeout=30)
    # The user's pipeline ran once, over claimback's own line (the claimback inside it did not chain again).
    assert shown.returncode == 0 and shown.stdout.strip().startswith("WEEK 40%"), shown
    assert shown.stdout.count("WEEK") == 1
    assert cli("guard", "uninstall").returncode == 0
    assert path.read_bytes() == original


def test_moved_install_updates_commands_in_place(isolated_home: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(EXISTING.encode("utf-8"))
    guard.install("user", command="/old/venv/bin/claimback")
    result = guard.install("user", command="/new/venv/bin/claimback")
    assert result.changed
    commands = our_commands(json.loads(path.read_text(encoding="utf-8")))
    assert all(c[0].startswith("/new/venv/bin/claimback hook ") and len(c) == 1 for c in commands.values())
    guard.uninstall("user")
    assert path.read_bytes() == EXISTING.encode("utf-8")


def test_status_and_log_commands(isolated_home: Path) -> None:
    assert cli("guard", "install").returncode == 0
    proc = cli("guard", "status")
    assert proc.returncode == 0 and "PreToolUse" in proc.stdout and "would allow" in proc.stdout
    subprocess.run([sys.executable, "-m", "claimback", "hook", "SessionStart"], input="{}", text=True,
                   capture_output=True, timeout=30)
    rows = json.loads(cli("guard", "log", "--json").stdout)
    assert rows and rows[-1]["event"] == "SessionStart" and rows[-1]["decision"] == "allow"
    assert "SessionStart" in cli("guard", "log").stdout


def test_parse_duration() -> None:
    assert guard_state.parse_duration("30m") == 1800
    assert guard_state.parse_duration("2h") == 7200
    assert guard_state.parse_duration("45") == 2700
    with pytest.raises(BadInput):
        guard_state.parse_duration("soon")


def test_help_and_click_route(isolated_home: Path) -> None:
    from click.testing import CliRunner

    from claimback.cli import main

    proc = cli("--help")
    assert proc.returncode == 0
    for name in ("guard", "preflight", "hook"):
        assert name in proc.stdout
    assert "CLAIMBACK_GUARD=off" in cli("guard", "--help").stdout
    # `claimback hook` reached through the click group (not the fast entry point) behaves the same.
    result = CliRunner().invoke(main, ["hook", "SessionStart"], input="{}")
    assert result.exit_code == 0 and result.output == ""
    rows = guard_state.read_log(1)
    assert rows[0]["event"] == "SessionStart" and rows[0]["decision"] == "allow"


_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=12)
_hook = st.fixed_dictionaries({"type": st.just("command"), "command": st.text(min_size=1, max_size=20)})
_group = st.fixed_dictionaries({"hooks": st.lists(_hook, max_size=2)},
                               optional={"matcher": st.sampled_from(["Bash", "Agent|Task", "", "*"])})
_events = st.dictionaries(st.sampled_from(["PreToolUse", "PostToolUse", "Stop", "SessionStart", "UserPromptSubmit"]),
                          st.lists(_group, max_size=3), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(st.text(max_size=10).filter(lambda k: k not in ("hooks", "statusLine")), _json, max_size=5),
       hooks=st.none() | _events, indent=st.sampled_from([None, 1, 2, 4, "\t"]), newline=st.booleans(),
       statusline=st.booleans())
def test_round_trip_property(isolated_home: Path, extra: dict[str, Any], hooks: dict[str, Any] | None,
                             indent: Any, newline: bool, statusline: bool) -> None:
    """Any valid settings file: install keeps every original value, uninstall restores the bytes."""
    data = dict(extra)
    if hooks is not None:
        data["hooks"] = hooks
    raw = (json.dumps(data, indent=indent, ensure_ascii=bool(newline)) + ("\n" if newline else "")).encode()
    path = user_settings()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    guard.install("user", statusline=statusline, command="/opt/cb/bin/claimback")
    after = json.loads(path.read_text(encoding="utf-8"))
    for key, value in extra.items():
        assert after[key] == value
    for event, groups in (hooks or {}).items():
        assert after["hooks"][event][: len(groups)] == groups
    assert set(our_commands(after)) == {"PreToolUse", "UserPromptSubmit", "SessionStart", "StopFailure", "SessionEnd"}
    guard.uninstall("user")
    assert path.read_bytes() == raw
    # Edited after install: uninstall keeps the edit and removes exactly claimback's entries.
    guard.install("user", statusline=statusline, command="/opt/cb/bin/claimback")
    edited = json.loads(path.read_text(encoding="utf-8"))
    edited["userAddedLater"] = [1, "two"]
    path.write_text(json.dumps(edited), encoding="utf-8")
    guard.uninstall("user")
    assert json.loads(path.read_text(encoding="utf-8")) == {**data, "userAddedLater": [1, "two"]}


def test_reinstall_widens_an_older_installs_matcher_to_workflow(tmp_path: Path) -> None:
    from claimback.prevent.guard import install
    from claimback.prevent.guard_settings import hook_command, settings_path

    path = settings_path("user")
    path.parent.mkdir(parents=True, exist_ok=True)
    old = {"hooks": {"PreToolUse": [
        {"matcher": "Bash", "hooks": [{"type": "command", "command": "my-bash-check"}]},
        {"matcher": "Agent|Task", "hooks": [{"type": "command", "command": hook_command("PreToolUse"), "timeout": 10}]},
    ]}}
    path.write_text(json.dumps(old), encoding="utf-8")
    install("user")
    groups = json.loads(path.read_text(encoding="utf-8"))["hooks"]["PreToolUse"]
    assert [g["matcher"] for g in groups] == ["Bash", "Agent|Task|Workflow"]  # the user's own group untouched
    assert groups[0]["hooks"] == old["hooks"]["PreToolUse"][0]["hooks"]


@pytest.mark.parametrize("bad", ["fifo", "directory", "dangling-link"])
def test_guard_status_reports_a_bad_scope_in_one_line_and_still_shows_the_others(tmp_path: Path, bad: str) -> None:
    guard.install("user")
    project = tmp_path / "proj"
    (project / ".claude").mkdir(parents=True)
    local = project / ".claude" / "settings.local.json"
    if bad == "fifo":
        os.mkfifo(local)
    elif bad == "directory":
        local.mkdir()
    else:
        local.symlink_to(project / "gone.json")
    (project / ".claude" / "settings.json").write_text("{}")
    for args in (["guard", "status"], ["guard", "status", "--json"]):
        proc = cli(*args, "--project-dir", str(project), cwd=project)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and "Aborted" not in proc.stderr and proc.stderr == ""
    status = json.loads(proc.stdout)
    by_scope = {s["scope"]: s for s in status["scopes"]}
    assert by_scope["user"]["events"] and by_scope["user"]["problem"] is None
    assert by_scope["project"]["problem"] is None and by_scope["project"]["exists"]
    problem = by_scope["local"]["problem"]
    assert problem and "\n" not in problem and "settings.local.json" in problem
    assert by_scope["local"]["events"] == [] and status["installed"] is True
    table = cli("guard", "status", "--project-dir", str(project), cwd=project).stdout
    assert "user" in table and "project" in table and "local" in table and "decision log:" in table
