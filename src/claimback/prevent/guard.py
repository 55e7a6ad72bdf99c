"""`claimback guard`: put claimback's hooks into Claude Code's settings, take them out, report.

Uninstall removes only what claimback added. The original bytes are kept in the install state, so
when nothing else changed since the install the file comes back byte for byte (or is removed again
when claimback created it). When the user edited it meanwhile, only claimback's entries (and
containers claimback created that are now empty) are removed.

Here: the install/uninstall/status operations. How a settings file is read, merged and written is
prevent/guard_settings.py; the install state, pause and decision log are prevent/guard_state.py; the
Claude Code plugin is prevent/guard_plugin.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claimback.core import claude_config
from claimback.core.files import display_path
from claimback.core.times import format_epoch
from claimback.errors import ClaimbackError
from claimback.prevent import hook as hook_runtime
from claimback.prevent import signals
from claimback.prevent.guard_plugin import plugin_enabled
from claimback.prevent.guard_settings import (
    LAUNCH_CODE,
    HOOK_EVENTS,
    SCOPES,
    backup_copy,
    claimback_command,
    installed_events,
    merge_ours,
    our_prefix,
    parse_settings,
    read_file,
    remove_ours,
    serialise,
    settings_path,
    sha256_hex,
    statusline_is_ours,
    write_file,
    write_target,
)
from claimback.prevent.guard_state import load_states, read_log, save_states


def _on_path_is(prefix: str) -> bool:
    """True when `claimback` on PATH is the program `prefix` names (so both lines run the same install):
    the console script itself, or the interpreter beside it starting claimback.entry (LAUNCH_CODE)."""
    found = shutil.which("claimback")
    try:
        parts = shlex.split(prefix)
    except ValueError:
        return False
    if len(parts) == 4 and parts[1:] == ["-P", "-c", LAUNCH_CODE]:
        parts = [str(Path(parts[0]).parent / "claimback")]
    if not found or len(parts) != 1:
        return False
    return os.path.realpath(found) == os.path.realpath(parts[0])


def _shared_prefix(scope: str, project_dir: str | os.PathLike[str] | None) -> str | None:
    """The command prefix claimback's hooks already use in another scope, when it suits this one.

    Claude Code runs identical hook command lines once (it de-duplicates them by command), so one line
    across scopes keeps a guard installed in two scopes from running twice. The shared project file only
    takes the portable `claimback`."""
    for other in SCOPES:
        if other != scope:
            prefix = our_prefix(claude_config.load_settings(settings_path(other, project_dir)))
            if prefix == "claimback" and shutil.which("claimback") is None:
                continue  # not on this PATH: this scope names this install instead
            if prefix and (scope != "project" or prefix == "claimback"):
                return prefix
    return None


def _align_personal_scopes(project_dir: str | os.PathLike[str] | None) -> str:
    """After a project install (`claimback`): user and local entries naming this same install by its path
    switch to `claimback`, so Claude Code sees one command line and runs the hook once. A note when it
    cannot (another claimback on PATH, or none)."""
    notes = []
    for other in ("user", "local"):
        path = settings_path(other, project_dir)
        prefix = our_prefix(claude_config.load_settings(path))
        if prefix is None or prefix == "claimback":
            continue
        if _on_path_is(prefix):
            install(other, project_dir=project_dir, command="claimback")
        else:
            notes.append(f"{other} settings ({display_path(path)}) run claimback as {prefix}, the project file "
                         "as `claimback` on PATH: Claude Code runs both (install one scope only, or put "
                         "this claimback on PATH and install again)")
    return "; ".join(notes)


def precompile_hook_path() -> int:
    """Write bytecode for the modules the hook loads, so its first runs are fast too (also where
    PYTHONDONTWRITEBYTECODE keeps Python from caching it itself). Returns how many were written."""
    import py_compile

    import claimback

    root = Path(claimback.__file__).parent
    written = 0
    for rel in ("__init__.py", "entry.py", "prevent/__init__.py", "prevent/hook.py", "prevent/signals.py",
                "core/__init__.py", "core/jsonlite.py", "core/files.py", "core/times.py", "core/untrusted.py",
                "sources/__init__.py", "sources/incident_text.py"):
        try:
            if py_compile.compile(str(root / rel), doraise=True):
                written += 1
        except (OSError, py_compile.PyCompileError):
            pass  # a read-only install: Python compiles in memory, only a few ms slower
    return written


@dataclass
class InstallResult:
    scope: str
    path: str
    changed: bool
    created_file: bool
    events: list[str]
    statusline: bool
    backup: str | None
    command: str
    message: str
    inert: str | None = None  # why Claude Code would not run the hooks (disableAllHooks, managed-only)


def hooks_inert(project_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Why Claude Code would not run claimback's hooks, from every scope incl. managed; None when it would."""
    project = Path(project_dir).absolute() if project_dir else Path.cwd()
    return claude_config.hook_policy(claude_config.read_all(project)).reason()


def install(scope: str = "user", *, statusline: bool = False,
            project_dir: str | os.PathLike[str] | None = None, command: str | None = None) -> InstallResult:
    """Merge claimback's hooks into the scope's settings file (idempotent)."""
    path = settings_path(scope, project_dir)
    # The project file is shared (committed): a path into this machine's venv would be wrong for
    # everyone else, so it names `claimback` on PATH. User and local files name this very install.
    prefix = command or _shared_prefix(scope, project_dir) or (
        "claimback" if scope == "project" else claimback_command())
    raw = read_file(path)
    data = parse_settings(raw, path)
    target = write_target(path, scope)
    states = load_states()
    key = str(path)
    state = states.get(key)
    already = bool(state) and raw is not None and installed_events(data) != []
    work_state: dict[str, Any] = dict(state) if already and state else {
        "scope": scope, "existed": raw is not None,
        "original": base64.b64encode(raw).decode("ascii") if raw is not None else None,
        "created_dir": not path.parent.exists(),
    }
    changed = merge_ours(data, prefix, statusline, work_state)
    events = installed_events(data)
    precompile_hook_path()
    if not changed:
        inert = hooks_inert(project_dir)
        return InstallResult(scope, display_path(path), False, False, events,
                             statusline_is_ours(data.get("statusLine")), None, prefix,
                             f"claimback guard is already installed in {display_path(path)}; nothing changed"
                             + (f"\nwarning: {inert}" if inert else ""), inert)
    body = serialise(data, raw, path)
    backup = backup_copy(path, raw, scope) if raw is not None else None
    mode = target.stat().st_mode & 0o7777 if raw is not None else None
    write_file(target, body, mode=mode)
    work_state.update(written_sha256=sha256_hex(body), installed_at=format_epoch(time.time()), scope=scope)
    note = ""
    previous = (work_state.get("statusline") or {}).get("previous")
    if statusline and "config_chain" not in work_state and isinstance(previous, dict) \
            and isinstance(previous.get("command"), str) and previous["command"].strip():
        chain, note = _chain_statusline(previous["command"])
        if chain:
            work_state["config_chain"] = chain
    states[key] = work_state
    save_states(states)
    what = "created" if raw is None else "updated"
    if scope == "project" and command is None:
        aligned = _align_personal_scopes(project_dir)
        note = f"{note}; {aligned}" if note and aligned else (note or aligned)
    inert = hooks_inert(project_dir)
    return InstallResult(scope, display_path(path), True, raw is None, events,
                         statusline_is_ours(data.get("statusLine")),
                         display_path(backup) if backup else None, prefix,
                         f"claimback guard installed: {what} {display_path(path)} "
                         f"({', '.join(events)}{', statusLine' if statusline else ''})"
                         + (f"; {note}" if note else "") + (f"\nwarning: {inert}" if inert else ""),
                         inert)


# The status line wrapper (`claimback statusline`, sources/statusline.py) runs the command configured
# as `[statusline] command` in claimback's config.toml; install --statusline keeps the replaced
# command there, and uninstall takes it out again (byte for byte when the file did not change since).
_STATUSLINE_HEADER = re.compile(r"(?m)^[ \t]*\[statusline\][ \t]*(?:#[^\n]*)?$")


def _chain_statusline(command: str) -> tuple[dict[str, Any] | None, str]:
    import tomllib

    from claimback.config import config_path

    path = config_path()
    raw = read_file(path)
    try:
        text = raw.decode("utf-8") if raw is not None else ""
        parsed = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None, (f"{display_path(path)} is not valid TOML, so the previous status line was not kept; "
                      "set [statusline] command there yourself")
    current = parsed.get("statusline")
    if isinstance(current, dict) and current.get("command"):
        return None, "[statusline] command was already set in claimback's config.toml; left as it is"
    line = f"command = {json.dumps(command, ensure_ascii=False)}  # kept by claimback guard install --statusline\n"
    header = _STATUSLINE_HEADER.search(text)
    if current is None:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        inserted = f"{sep}[statusline]\n{line}"
        new_text = text + inserted
    elif isinstance(current, dict) and header:
        pos = header.end()
        lead = "" if text[pos:pos + 1] == "\n" else "\n"
        pos += 1 if not lead else 0
        inserted = lead + line
        new_text = text[:pos] + inserted + text[pos:]
    else:
        return None, "could not add [statusline] command to claimback's config.toml; set it yourself"
    try:
        ok = tomllib.loads(new_text).get("statusline", {}).get("command") == command
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        return None, "could not add [statusline] command to claimback's config.toml; set it yourself"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = new_text.encode("utf-8")
    write_file(path, body, mode=path.stat().st_mode & 0o7777 if raw is not None else None)
    chain = {"path": str(path), "original": base64.b64encode(raw).decode("ascii") if raw is not None else None,
             "written_sha256": sha256_hex(body), "inserted": inserted}
    return chain, f"your previous status line keeps running through it ([statusline] command in {display_path(path)})"


def _unchain_statusline(chain: dict[str, Any]) -> str:
    path = Path(chain["path"])
    try:
        raw = read_file(path)
    except ClaimbackError:
        return ""
    if raw is None:
        return ""
    if sha256_hex(raw) == chain.get("written_sha256"):
        if chain.get("original") is None:
            path.unlink()
        else:
            write_file(path, base64.b64decode(chain["original"]), mode=path.stat().st_mode & 0o7777)
        return "claimback's config.toml restored"
    text = raw.decode("utf-8", "replace")
    inserted = chain.get("inserted") or ""
    if inserted and inserted in text:
        import tomllib

        new_text = text.replace(inserted, "", 1)
        try:
            tomllib.loads(new_text)
        except tomllib.TOMLDecodeError:
            return "left [statusline] command in claimback's config.toml (the file changed since install)"
        write_file(path, new_text.encode("utf-8"), mode=path.stat().st_mode & 0o7777)
        return "[statusline] command removed from claimback's config.toml"
    return "left [statusline] command in claimback's config.toml (the file changed since install)"


@dataclass
class UninstallResult:
    scope: str
    path: str
    changed: bool
    restored_exactly: bool
    removed_file: bool
    backup: str | None
    message: str


def uninstall(scope: str = "user", *, project_dir: str | os.PathLike[str] | None = None) -> UninstallResult:
    """Remove only what claimback added; restore the original bytes when nothing else changed."""
    state = load_states().get(str(settings_path(scope, project_dir))) or {}
    result = _uninstall_settings(scope, project_dir)
    if state.get("config_chain"):
        note = _unchain_statusline(state["config_chain"])
        if note:
            result.message += f"; {note}"
    return result


def _uninstall_settings(scope: str, project_dir: str | os.PathLike[str] | None) -> UninstallResult:
    path = settings_path(scope, project_dir)
    where = display_path(path)
    raw = read_file(path)
    states = load_states()
    key = str(path)
    state = states.get(key)
    if raw is None:
        states.pop(key, None)
        save_states(states)
        return UninstallResult(scope, where, False, False, False, None, f"{where} does not exist; nothing to remove")
    original = base64.b64decode(state["original"]) if state and state.get("original") is not None else None
    target = write_target(path, scope)
    if state and sha256_hex(raw) == state.get("written_sha256"):
        # Nothing changed since our install: put the file back exactly as it was.
        backup = backup_copy(path, raw, scope)
        if state.get("existed") and original is not None:
            write_file(target, original, mode=target.stat().st_mode & 0o7777)
            removed = False
        elif target != path:
            # Claimback created the file, but it is a link now (a dotfile manager took it over): the file
            # it points to is the user's; take our entries out of it instead of dropping the link.
            cleaned = parse_settings(raw, path)
            remove_ours(cleaned, state)
            write_file(target, serialise(cleaned, raw, path), mode=target.stat().st_mode & 0o7777)
            removed = False
        else:
            path.unlink()
            removed = True
            if state.get("created_dir"):
                try:
                    path.parent.rmdir()  # only when empty
                except OSError:
                    pass
        states.pop(key, None)
        save_states(states)
        return UninstallResult(scope, where, True, True, removed, display_path(backup),
                               f"claimback guard removed: {where} "
                               f"{'deleted (claimback had created it)' if removed else 'restored byte for byte'}")
    data = parse_settings(raw, path)
    if not remove_ours(data, state):
        states.pop(key, None)
        save_states(states)
        return UninstallResult(scope, where, False, False, False, None,
                               f"claimback guard is not installed in {where}; nothing changed")
    backup = backup_copy(path, raw, scope)
    exact = False
    if original is not None:
        try:
            exact = json.loads(original.decode("utf-8") or "{}") == data
        except ValueError:
            exact = False
    if not data and state and not state.get("existed") and target == path:
        path.unlink()
        states.pop(key, None)
        save_states(states)
        return UninstallResult(scope, where, True, True, True, display_path(backup),
                               f"claimback guard removed: {where} deleted (claimback had created it)")
    body = original if exact and original is not None else serialise(data, raw, path)
    write_file(target, body, mode=target.stat().st_mode & 0o7777)
    states.pop(key, None)
    save_states(states)
    return UninstallResult(scope, where, True, exact, False, display_path(backup),
                           f"claimback guard removed from {where}"
                           + (" (restored byte for byte)" if exact else " (other changes kept)"))


@dataclass
class ScopeStatus:
    scope: str
    path: str
    exists: bool
    events: list[str]
    missing: list[str]
    statusline: bool
    problem: str | None = None
    plugin: bool = False  # `enabledPlugins` names claimback's plugin (its hooks run from the plugin)


@dataclass
class GuardStatus:
    scopes: list[ScopeStatus]
    installed: bool
    env_override: str | None
    paused_until: str | None
    policy: dict[str, Any]
    policy_note: str | None
    outage: str
    level: str | None
    incidents: list[dict[str, Any]]
    cache_age_s: float | None
    cache_problem: str | None
    decision_log: str
    recent: list[dict[str, Any]] = field(default_factory=list)
    hooks_inert: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status(project_dir: str | os.PathLike[str] | None = None) -> GuardStatus:
    config_dir, data_dir, cache_dir = signals.fast_dirs()
    scopes: list[ScopeStatus] = []
    for scope in SCOPES:
        path = settings_path(scope, project_dir)
        # One scope's unreadable file (a FIFO, a directory, a dangling link, no permission) is that scope's
        # problem, reported in its row: the other scopes and the guard's verdict are still shown.
        raw: bytes | None = None
        try:
            raw = read_file(path)
            data = parse_settings(raw, path)
            events = installed_events(data)
            sl = statusline_is_ours(data.get("statusLine"))
            plugin = plugin_enabled(data)
            problem = None
        except ClaimbackError as exc:
            events, sl, plugin, problem = [], False, False, str(exc)
        missing = [e for e, _ in HOOK_EVENTS if e not in events] if events else []
        exists = raw is not None or (problem is not None and (path.is_symlink() or path.exists()))
        scopes.append(ScopeStatus(scope, display_path(path), exists, events, missing, sl, problem, plugin))
    policy, note = signals.load_policy(config_dir, data_dir)
    assessment = signals.assess(policy=policy, cache_dir=cache_dir, data_dir=data_dir)
    now = time.time()
    until = hook_runtime._override_active(data_dir, now)
    env = os.environ.get("CLAIMBACK_GUARD") or None
    return GuardStatus(
        scopes=scopes, installed=any(s.events or s.plugin for s in scopes), env_override=env,
        paused_until=format_epoch(until) if until else None, policy=policy, policy_note=note,
        outage=signals.describe(assessment, now), level=assessment["level"],
        incidents=assessment["incidents"], cache_age_s=assessment["cache_age"],
        cache_problem=assessment["cache_problem"],
        decision_log=display_path(hook_runtime.decision_log_path(data_dir)),
        recent=read_log(5),
        hooks_inert=hooks_inert(project_dir),
    )
