"""Claude Code's configuration contract (core/claude_config.py) and the guard's settings writing on it:
scopes and managed drop-ins, merge rules, hooks that would not run, status line keys, hostile files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from claimback.core import claude_config
from claimback.errors import BadInput, ClaimbackError
from claimback.prevent import guard, guard_settings, guard_state
from claimback.prevent.doctor import client_version_warnings, run_doctor


def user_settings() -> Path:
    return Path(os.environ["HOME"]) / ".claude" / "settings.json"


def managed_dir() -> Path:
    return Path(os.environ["CLAIMBACK_CLAUDE_MANAGED_DIR"])


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "claimback", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)


# ----------------------------------------------------------------------------- locations and merging


def test_managed_drop_ins_follow_the_base_file_in_alphabetical_order(tmp_path: Path) -> None:
    base = write_json(managed_dir() / "managed-settings.json", {"model": "base"})
    drop = managed_dir() / "managed-settings.d"
    write_json(drop / "50-b.json", {"model": "fifty"})
    write_json(drop / "10-a.json", {"model": "ten"})
    write_json(drop / ".hidden.json", {"model": "hidden"})
    (drop / "notes.txt").write_text("not settings")
    scopes = claude_config.settings_locations(tmp_path, os.environ)
    managed = [p for s, p in scopes if s == "managed"]
    assert managed == [base, drop / "10-a.json", drop / "50-b.json"]
    assert [s for s, _ in scopes][:3] == ["user", "project", "local"]
    merged = claude_config.merge_settings(d for _, d in claude_config.read_all(tmp_path))
    assert merged["model"] == "fifty"


def test_merge_rules_scalars_arrays_objects() -> None:
    merged = claude_config.merge_settings([
        {"model": "a", "permissions": {"allow": ["Read"], "defaultMode": "plan"}, "env": {"X": "1"}},
        {"model": "b", "permissions": {"allow": ["Read", "Bash(ls)"]}, "env": {"Y": "2"}},
    ])
    assert merged == {"model": "b", "permissions": {"allow": ["Read", "Bash(ls)"], "defaultMode": "plan"},
                      "env": {"X": "1", "Y": "2"}}


def test_config_dir_entry_naming_projects_means_its_parent(tmp_path: Path) -> None:
    env = {"CLAUDE_CONFIG_DIR": f"{tmp_path / 'cc' / 'projects'}, {tmp_path / 'other'}"}
    assert claude_config.config_dirs(env) == [tmp_path / "cc", tmp_path / "other"]
    assert claude_config.user_settings_path(env) == tmp_path / "cc" / "settings.json"


# ----------------------------------------------------------------------------- hooks that would not run


@pytest.mark.parametrize("where", ["user", "project", "local", "managed", "managed-drop-in"])
def test_install_says_the_guard_would_be_inert_when_hooks_are_disabled(where: str, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    target = {"user": user_settings(), "project": project / ".claude" / "settings.json",
              "local": project / ".claude" / "settings.local.json",
              "managed": managed_dir() / "managed-settings.json",
              "managed-drop-in": managed_dir() / "managed-settings.d" / "20-hooks.json"}[where]
    write_json(target, {"disableAllHooks": True})
    result = guard.install("local", project_dir=project)
    assert result.inert and "disableAllHooks" in result.inert and "inert" in result.message
    assert guard.status(project).hooks_inert == result.inert


def test_allow_managed_hooks_only_counts_in_managed_settings_only(tmp_path: Path) -> None:
    write_json(user_settings(), {"allowManagedHooksOnly": True})  # not a user setting: ignored
    assert guard.install("user", project_dir=tmp_path).inert is None
    write_json(managed_dir() / "managed-settings.json", {"allowManagedHooksOnly": True})
    status = guard.status(tmp_path)
    assert status.hooks_inert and "allowManagedHooksOnly" in status.hooks_inert
    report = run_doctor(None, project=tmp_path, ingest_first=False, ledger_error="test")
    assert any("allowManagedHooksOnly" in w for w in report.warnings)


def test_guard_status_and_doctor_cli_show_inert_hooks(tmp_path: Path) -> None:
    write_json(user_settings(), {"disableAllHooks": True})
    shown = cli("guard", "status", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "disableAllHooks" in json.loads(shown.stdout)["hooks_inert"]
    doctor = cli("doctor", "--no-ingest", cwd=tmp_path)
    assert "disableAllHooks is true in user settings" in doctor.stdout


def test_doctor_warns_on_clients_older_than_what_claimback_relies_on() -> None:
    assert len(client_version_warnings("2.1.77 (Claude Code)")) == 2
    only = client_version_warnings("2.1.79 (Claude Code)")
    assert len(only) == 1 and "2.1.80" in only[0] and "rate_limits" in only[0]
    assert client_version_warnings("2.1.80 (Claude Code)") == []
    assert client_version_warnings("2.10.0") == [] and client_version_warnings(None) == []


# ----------------------------------------------------------------------------- the status line wrapper


def test_statusline_wrap_keeps_refresh_interval_and_vim_indicator() -> None:
    write_json(user_settings(), {"statusLine": {"type": "command", "command": "~/sl.sh", "padding": 1,
                                                "refreshInterval": 5, "hideVimModeIndicator": True}})
    guard.install("user", statusline=True)
    line = json.loads(user_settings().read_text())["statusLine"]
    assert line["command"].endswith(" statusline")
    assert (line["padding"], line["refreshInterval"], line["hideVimModeIndicator"]) == (1, 5, True)
    guard.uninstall("user")
    assert json.loads(user_settings().read_text())["statusLine"]["command"] == "~/sl.sh"


# ----------------------------------------------------------------------------- values Claude Code cannot read back


@pytest.mark.parametrize("body", [b'{"cleanupPeriodDays": 1e400}', b'{"x": NaN}', b'{"x": -Infinity}',
                                  b'{"statusLine": {"type": "command", "command": "a\\ud800b"}}'])
def test_install_refuses_values_it_could_not_write_back(body: bytes) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.write_bytes(body)
    with pytest.raises(BadInput) as err:
        guard.install("user")
    assert "claimback will not rewrite it" in str(err.value) and "\n" not in str(err.value)
    assert path.read_bytes() == body
    done = cli("guard", "install", cwd=path.parent)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_dangling_symlink_settings_is_a_one_line_error(tmp_path: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    path.symlink_to(tmp_path / "dotfiles" / "settings.json")
    with pytest.raises(BadInput, match="does not exist"):
        guard.install("user")
    done = cli("guard", "install", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "does not exist" in done.stderr
    assert not (tmp_path / "dotfiles").exists()


def test_uninstall_takes_hooks_out_of_a_symlinks_target(tmp_path: Path) -> None:
    guard.install("user")  # claimback creates the file ...
    path = user_settings()
    real = tmp_path / "dotfiles" / "settings.json"  # ... then a dotfile manager moves it and links it
    real.parent.mkdir()
    path.rename(real)
    path.symlink_to(real)
    guard.uninstall("user")
    assert path.is_symlink() and "claimback" not in real.read_text()
    assert json.loads(real.read_text()) == {}


def _mount(kind: str, where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    done = subprocess.run(["mount", "-t", kind, "-o", options, kind, str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.decode(errors='replace').strip()}")


def test_read_only_mount_and_full_disk_are_one_line_errors(tmp_path: Path) -> None:
    config = tmp_path / "ro"
    _mount("tmpfs", config, "size=256k")
    try:
        write_json(config / "settings.json", {"model": "opus"})
        subprocess.run(["mount", "-o", "remount,ro", str(config)], check=True)
        os.environ["CLAUDE_CONFIG_DIR"] = str(config)
        with pytest.raises(ClaimbackError, match="read-only") as err:
            guard.install("user")
        assert "\n" not in str(err.value)
        subprocess.run(["mount", "-o", "remount,rw", str(config)], check=True)
        with open(config / "filler", "wb", buffering=0) as fh:  # fill the disk, settings.json kept
            try:
                while fh.write(b"x" * 4096):
                    pass
            except OSError:
                pass
        with pytest.raises(ClaimbackError, match="disk is full"):
            guard.install("user")
        assert json.loads((config / "settings.json").read_text()) == {"model": "opus"}
        assert [p.name for p in config.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        os.environ.pop("CLAUDE_CONFIG_DIR", None)
        subprocess.run(["umount", str(config)], capture_output=True)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_special_file_as_settings_never_hangs(kind: str, tmp_path: Path) -> None:
    path = user_settings()
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    project = tmp_path / "proj"
    project.mkdir()
    started = time.monotonic()
    for args in (["guard", "install"], ["guard", "status"], ["doctor", "--no-ingest"], ["preflight"]):
        done = cli(*args, cwd=project, timeout=30)
        assert "Traceback" not in done.stderr, (args, done.stderr)
    assert time.monotonic() - started < 60
    assert path.is_fifo() if kind == "fifo" else path.is_symlink()
    with pytest.raises(BadInput, match="not a regular file"):
        guard.install("user")
    # A FIFO with a writer on the other end is still not read as settings.
    if kind == "fifo":
        writer = threading.Thread(target=lambda: open(path, "wb").close(), daemon=True)
        writer.start()
        assert claude_config.load_settings(path) == {}


# ----------------------------------------------------------------------------- the hook across scopes and events


def _status_cache(home: Path, name: str) -> None:
    from claimback.core.times import utc_now_iso

    folder = home / "cache" / "status"
    folder.mkdir(parents=True, exist_ok=True)
    inc = {"id": "8z7l5zcy0v3b", "name": name, "status": "investigating", "impact": "major",
           "created_at": utc_now_iso(), "components": [{"name": "Claude API (api.anthropic.com)"}],
           "incident_updates": []}
    (folder / "unresolved.json").write_text(json.dumps({"incidents": [inc]}))
    (folder / "unresolved.meta.json").write_text(json.dumps({"url": "x", "fetched_at": utc_now_iso()}))


def _hook(command: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    done = subprocess.run(command, shell=True, input=json.dumps(payload), capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def _commands(path: Path) -> set[str]:
    hooks = json.loads(path.read_text())["hooks"]
    return {h["command"] for groups in hooks.values() for g in groups for h in g["hooks"]
            if "claimback" in h["command"]}


def test_user_then_project_install_ends_with_one_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Claude Code runs identical hook commands once: user and project entries must be the same line."""
    project = tmp_path / "repo"
    bin_dir = Path(sys.executable).parent
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    if not (bin_dir / "claimback").exists():
        pytest.skip("no console script next to this interpreter")
    guard.install("user", command=str(bin_dir / "claimback"))  # this venv's path, as on a plain install
    result = guard.install("project", project_dir=project)
    assert result.changed
    user, shared = _commands(user_settings()), _commands(project / ".claude" / "settings.json")
    assert user == shared == {f"claimback hook {e}" for e, _ in guard_settings.HOOK_EVENTS}
    # Uninstalling the user scope still gives its original bytes back (none: claimback created it).
    guard.uninstall("user")
    assert not user_settings().exists()


def test_two_command_lines_that_cannot_be_one_are_reported(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    guard.install("user", command="/opt/other-venv/bin/claimback")
    result = guard.install("project", project_dir=project)
    assert "Claude Code runs both" in result.message
    assert _commands(user_settings()) == {f"/opt/other-venv/bin/claimback hook {e}" for e, _ in guard_settings.HOOK_EVENTS}


def test_session_start_warns_only_sessions_on_the_incidents_model(isolated_home: Path) -> None:
    _status_cache(isolated_home, "Elevated errors on Claude Opus 4.6")
    command = f"{sys.executable} -m claimback hook SessionStart"
    on_sonnet = _hook(command, {"hook_event_name": "SessionStart", "source": "startup",
                                "model": "claude-sonnet-4-5-20250929"})
    assert on_sonnet is None
    on_opus = _hook(command, {"hook_event_name": "SessionStart", "source": "startup", "model": "claude-opus-4-6"})
    context = on_opus["hookSpecificOutput"]["additionalContext"]
    assert "Opus 4.6" in context
    # Facts, not instructions: no imperative addressed to the model.
    assert not any(word in context for word in ("Avoid", "Do not", "prefer", "Prefer", "must", "should"))


@pytest.mark.parametrize("env,blocks", [
    ({}, True),
    ({"ANTHROPIC_BASE_URL": "https://api.anthropic.com"}, True),
    ({"CLAUDE_CODE_USE_FOUNDRY": "1"}, False),
    ({"ANTHROPIC_BASE_URL": "https://llm-gateway.example.com/anthropic"}, False),
    ({"CLAUDE_CODE_USE_BEDROCK": "true"}, False),
])
def test_status_page_incidents_only_warn_off_anthropics_api(isolated_home: Path, env: dict[str, str],
                                                             blocks: bool) -> None:
    _status_cache(isolated_home, "Elevated errors on Claude Code")
    payload = {"hook_event_name": "PreToolUse", "tool_name": "Agent", "tool_use_id": "toolu_1",
               "tool_input": {"description": "d", "prompt": "p", "subagent_type": "general-purpose"}}
    done = subprocess.run([sys.executable, "-m", "claimback", "hook", "PreToolUse"], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=30, env={**os.environ, **env})
    out = json.loads(done.stdout) if done.stdout.strip() else {}
    denied = out.get("hookSpecificOutput", {}).get("permissionDecision") == "deny"
    assert denied is blocks, out
    if not blocks:
        assert "Elevated errors on Claude Code" in out["systemMessage"]


@pytest.mark.parametrize("which", ["body", "meta"])
def test_a_fifo_in_the_status_cache_is_no_data(isolated_home: Path, which: str) -> None:
    from claimback.sources import status_client

    folder = status_client.status_cache_dir()
    folder.mkdir(parents=True)
    body, meta = folder / "unresolved.json", folder / "unresolved.meta.json"
    body.write_text(json.dumps({"incidents": []}))
    meta.write_text(json.dumps({"url": "x", "fetched_at": "2026-12-01T10:00:00.000Z"}))
    assert status_client.read_cache("unresolved") is not None
    target = body if which == "body" else meta
    target.unlink()
    os.mkfifo(target)
    started = time.monotonic()
    assert status_client.read_cache("unresolved") is None
    assert time.monotonic() - started < 5


def test_doctor_names_an_old_client_it_finds(tmp_path: Path) -> None:
    # An old client's `--version` line, as 2.1.7x prints it (the pinned real client is newer than both).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    claude.write_text("#!/bin/sh\necho '2.1.77 (Claude Code)'\n")
    claude.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    report = run_doctor(None, project=tmp_path, env=env, ingest_first=False, ledger_error="test")
    assert report.claude.version == "2.1.77 (Claude Code)"
    old = [w for w in report.warnings if "older than" in w]
    assert len(old) == 2 and "StopFailure" in old[0] and "rate_limits" in old[1]


def test_fifos_as_the_guards_own_files_never_hang(isolated_home: Path) -> None:
    guard_dir = isolated_home / "data" / "guard"
    guard_dir.mkdir(parents=True)
    os.mkfifo(guard_dir / "installs.json")
    os.mkfifo(guard_dir / "decisions.jsonl")
    for args in (["guard", "status"], ["guard", "log"]):
        done = cli(*args, cwd=isolated_home, timeout=30)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)
    assert guard_state.read_log() == []
