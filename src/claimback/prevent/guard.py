"""`claimback guard`: put claimback's hooks into Claude Code's settings, take them out, report.

Claude Code reads hooks from JSON settings files (user, project, local scope):

    {"hooks": {"PreToolUse": [{"matcher": "Agent|Task|Workflow",
                               "hooks": [{"type": "command", "command": "...", "timeout": 10}]}]}}

Rules kept here (DESIGN §7, issue 7):
- a merge, never a rewrite: unknown keys, other tools' hooks and key order stay; claimback's entries
  are recognised by their command (`… claimback hook EVENT`), so installing twice changes nothing;
- invalid JSON (or a shape we cannot merge into) → refuse with a clear error, file untouched;
- before any write: a timestamped backup in claimback's data dir; the write itself is atomic
  (temp file in the same directory, fsync, rename, original mode kept);
- uninstall removes only what claimback added. The original bytes are kept in the install state, so
  when nothing else changed since the install the file comes back byte for byte (or is removed
  again when claimback created it). When the user edited it meanwhile, only claimback's entries (and
  containers claimback created that are now empty) are removed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claimback.core import claude_config
from claimback.core.files import UnsafeFile, atomic_write, display_path, read_regular_bytes
from claimback.core.times import format_epoch
from claimback.errors import BadInput, ClaimbackError
from claimback.prevent import hook as hook_runtime
from claimback.prevent import signals

SCOPES = ("user", "project", "local")
HOOK_EVENTS: tuple[tuple[str, str | None], ...] = (
    # Workflow (2.1.33x) launches subagents in the background, so it is a launch like Agent (Task before).
    ("PreToolUse", "Agent|Task|Workflow"),
    ("UserPromptSubmit", None),
    ("SessionStart", None),
    ("StopFailure", None),
)
HOOK_TIMEOUT_S = 10  # Claude Code's per-hook timeout (seconds); the hook itself answers in ~30 ms
_OUR_HOOK = re.compile(r"claimback(?:\.exe)?['\"]?\s+hook\s+(\w+)")
_OUR_STATUSLINE = re.compile(r"claimback(?:\.exe)?['\"]?\s+statusline\b")
_STATUSLINE_KEPT_KEYS = ("padding", "refreshInterval", "hideVimModeIndicator")


# ------------------------------------------------------------------------------- paths


def settings_path(scope: str, project_dir: str | os.PathLike[str] | None = None) -> Path:
    if scope not in SCOPES:
        raise BadInput(f"unknown scope {scope!r} (use user, project or local)")
    return claude_config.scope_path(scope, project_dir)


def claimback_command() -> str:
    """How Claude Code should start claimback: the script next to this interpreter when present
    (the hook must run this very install, whatever PATH Claude Code has), else `python -m claimback`."""
    here = Path(sys.executable).parent
    for name in ("claimback", "claimback.exe"):
        candidate = here / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return shlex.quote(str(candidate))
    found = shutil.which("claimback")
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m claimback"


def _our_prefix(data: dict[str, Any]) -> str | None:
    """The command prefix of claimback's PreToolUse hook in a settings object (`<prefix> hook PreToolUse`)."""
    hooks = data.get("hooks") if isinstance(data.get("hooks"), dict) else {}
    groups = hooks.get("PreToolUse") if isinstance(hooks.get("PreToolUse"), list) else []
    for group in groups:
        for hook in _hooks_of(group):
            if _is_ours(hook) == "PreToolUse":
                return hook["command"].rsplit(" hook ", 1)[0].strip()
    return None


def _on_path_is(prefix: str) -> bool:
    """True when `claimback` on PATH is the program `prefix` names (so both lines run the same install)."""
    found = shutil.which("claimback")
    try:
        parts = shlex.split(prefix)
    except ValueError:
        return False
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
            prefix = _our_prefix(claude_config.load_settings(settings_path(other, project_dir)))
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
        prefix = _our_prefix(claude_config.load_settings(path))
        if prefix is None or prefix == "claimback":
            continue
        if _on_path_is(prefix):
            install(other, project_dir=project_dir, command="claimback")
        else:
            notes.append(f"{other} settings ({display_path(path)}) run claimback as {prefix}, the project file "
                         "as `claimback` on PATH: Claude Code runs both (install one scope only, or put "
                         "this claimback on PATH and install again)")
    return "; ".join(notes)


def hook_command(event: str, prefix: str | None = None) -> str:
    return f"{prefix or claimback_command()} hook {event}"


PLUGIN_LAUNCHER = "${CLAUDE_PLUGIN_ROOT}/bin/claimback-run"


def plugin_hooks() -> dict[str, Any]:
    """The plugin's hooks/hooks.json: the same events, matchers and timeout as `guard install` writes,
    in exec form (`command` + `args`: no shell parses anything) through the plugin's launcher, which
    runs the installed claimback or `uvx claimback`. tests/test_plugin.py checks the file equals this."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event, matcher in HOOK_EVENTS:
        group: dict[str, Any] = {"matcher": matcher} if matcher else {}
        group["hooks"] = [{"type": "command", "command": PLUGIN_LAUNCHER, "args": ["hook", event],
                           "timeout": HOOK_TIMEOUT_S}]
        hooks[event] = [group]
    return {"description": "claimback's outage guard (docs/guard.md)", "hooks": hooks}


def _state_path() -> Path:
    return Path(signals.guard_dir(signals.fast_dirs()[1])) / "installs.json"


def _load_states() -> dict[str, Any]:
    try:
        # Regular file only (a FIFO here must not hang install); it keeps original settings bytes, so the
        # cap is generous.
        data = json.loads(read_regular_bytes(_state_path(), 256 * 1024 * 1024))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_states(states: dict[str, Any]) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, json.dumps(states, indent=1).encode("utf-8"), mode=0o600)


# ------------------------------------------------------------------------------- file handling


def _write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Atomic replace; a read-only mount or a full disk is a one-line error, the file left as it was."""
    try:
        atomic_write(path, data, mode)
    except OSError as exc:
        import errno

        why = {errno.EROFS: "the file system is read-only", errno.ENOSPC: "the disk is full",
               errno.EDQUOT: "the disk quota is exceeded", errno.EACCES: "permission denied",
               errno.EPERM: "permission denied"}.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise ClaimbackError(f"cannot write {display_path(path)}: {why}; claimback left it as it was") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_settings(raw: bytes | None, path: Path) -> dict[str, Any]:
    """The settings object, or BadInput naming what is wrong (the file is never touched)."""
    if raw is None:
        return {}
    where = display_path(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{where} is not UTF-8 text; claimback left it untouched") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise BadInput(f"{where} is nested too deeply to be a settings file; claimback left it untouched") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                       "fix it (Claude Code cannot read it either) and run again — claimback left it "
                       "untouched") from None
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}; claimback left it untouched") from None
    if not isinstance(data, dict):
        raise BadInput(f"{where} holds JSON but not an object at the top; claimback left it untouched")
    hooks = data.get("hooks")
    if hooks is not None and not isinstance(hooks, dict):
        raise BadInput(f"{where}: \"hooks\" is not an object; claimback left the file untouched")
    for event, _ in HOOK_EVENTS:
        groups = (hooks or {}).get(event)
        if groups is not None and not isinstance(groups, list):
            raise BadInput(f"{where}: hooks.{event} is not a list; claimback left the file untouched")
    status = data.get("statusLine")
    if status is not None and not isinstance(status, dict):
        raise BadInput(f"{where}: \"statusLine\" is not an object; claimback left the file untouched")
    return data


def _indent_of(raw: bytes | None) -> str | int:
    """Keep the file's indentation style when we must re-serialise it (2 spaces when unknown)."""
    if raw:
        for line in raw.decode("utf-8", "replace").splitlines()[1:]:
            stripped = line.lstrip(" \t")
            if stripped and len(stripped) < len(line):
                lead = line[: len(line) - len(stripped)]
                return "\t" if lead.startswith("\t") else len(lead)
    return 2


def _serialise(data: dict[str, Any], raw: bytes | None, path: Path) -> bytes:
    """The new file's bytes. Refuses what Claude Code could not read back: `Infinity`/`NaN` (Python reads
    `1e400` and `NaN` but JSON has no such numbers) and a lone surrogate escape such as `\\ud800` (no UTF-8
    encoding exists for it)."""
    where = display_path(path)
    try:
        text = json.dumps(data, indent=_indent_of(raw), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except ValueError as exc:
        what = ("a lone surrogate escape (half of a \\uXXXX pair)" if isinstance(exc, UnicodeEncodeError)
                else "a number JSON cannot hold (NaN, Infinity, or one as large as 1e400)")
        raise BadInput(f"{where} holds {what}; claimback will not rewrite it (fix that value first) and left "
                       "it untouched") from None
    newline = "\r\n" if raw and b"\r\n" in raw else "\n"
    if newline != "\n":
        text = text.replace("\n", newline)
    if raw is None or raw.endswith((b"\n", b"\r")) or not raw.strip():
        text += newline
    return text.encode("utf-8")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def precompile_hook_path() -> int:
    """Write bytecode for the modules the hook loads, so its first runs are fast too (also where
    PYTHONDONTWRITEBYTECODE keeps Python from caching it itself). Returns how many were written."""
    import py_compile

    import claimback

    root = Path(claimback.__file__).parent
    written = 0
    for rel in ("__init__.py", "entry.py", "prevent/__init__.py", "prevent/hook.py", "prevent/signals.py"):
        try:
            if py_compile.compile(str(root / rel), doraise=True):
                written += 1
        except (OSError, py_compile.PyCompileError):
            pass  # a read-only install: Python compiles in memory, only a few ms slower
    return written


def _backup(path: Path, raw: bytes, scope: str) -> Path:
    folder = Path(signals.guard_dir(signals.fast_dirs()[1])) / "backups"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    tag = _sha(str(path).encode())[:8]
    target = folder / f"{scope}-{tag}-{path.name}.{stamp}.bak"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{scope}-{tag}-{path.name}.{stamp}-{n}.bak"
    # A settings file can hold keys (env, apiKeyHelper): its copy is readable by the user alone, whatever
    # the umask says, like the installs.json that keeps the original bytes for uninstall.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(raw)
    return target


def _write_target(path: Path, scope: str) -> Path:
    """Where an edit of `path` lands: through a symlink (dotfile managers link settings.json), never
    into a read-only file, and for project/local scope never out of the project (a cloned repo must not
    aim claimback's edit at another file of the user's)."""
    target = path.resolve() if path.is_symlink() else path
    if scope != "user" and target != path and not target.is_relative_to(path.parent.parent.resolve()):
        raise BadInput(f"{display_path(path)} is a link to a file outside the project; claimback left "
                       "both untouched")
    try:
        read_only = not target.stat().st_mode & 0o222
    except FileNotFoundError:
        read_only = False
    if read_only:
        raise ClaimbackError(f"{display_path(path)} is read-only; claimback left it untouched (make it "
                             "writable to install or remove claimback's hooks)")
    return target


def _hooks_of(group: Any) -> list[Any]:
    """A hook group's `hooks` list; anything else (a hand-edited 7, a string) holds none of ours."""
    inner = group.get("hooks") if isinstance(group, dict) else None
    return inner if isinstance(inner, list) else []


def _read(path: Path) -> bytes | None:
    if path.is_symlink() and not path.exists():
        raise BadInput(f"{display_path(path)} is a link to a file that does not exist; claimback left it "
                       "untouched (fix or remove the link)")
    try:
        return claude_config.read_settings_bytes(path)
    except IsADirectoryError:
        raise BadInput(f"{display_path(path)} is a directory, not a settings file") from None
    except UnsafeFile:
        raise BadInput(f"{display_path(path)} is not a regular file (a FIFO, a device or too large to be a "
                       "settings file); claimback left it untouched") from None
    except OSError as exc:
        raise ClaimbackError(f"cannot read {display_path(path)}: {exc.strerror}") from None


# ------------------------------------------------------------------------------- merge logic


def _is_ours(hook: Any) -> str | None:
    if isinstance(hook, dict) and isinstance(hook.get("command"), str):
        match = _OUR_HOOK.search(hook["command"])
        if match:
            return match.group(1)
    return None


def _statusline_is_ours(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("command"), str) \
        and bool(_OUR_STATUSLINE.search(value["command"]))


def installed_events(data: dict[str, Any]) -> list[str]:
    found: list[str] = []
    hooks = data.get("hooks") if isinstance(data.get("hooks"), dict) else {}
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else []:
            for hook in _hooks_of(group):
                if _is_ours(hook) and event not in found:
                    found.append(event)
    return found


def _merge(data: dict[str, Any], prefix: str, statusline: bool,
           state: dict[str, Any]) -> bool:
    """Add or update claimback's hooks in `data` (in place). True when anything changed."""
    changed = False
    if "hooks" not in data:
        data["hooks"] = {}
        state.setdefault("created", {})["hooks"] = True
    hooks = data["hooks"]
    for event, matcher in HOOK_EVENTS:
        wanted = hook_command(event, prefix)
        if event not in hooks:
            hooks[event] = []
            state.setdefault("created", {}).setdefault("events", []).append(event)
        present = False
        for group in hooks[event]:
            for hook in _hooks_of(group):
                if _is_ours(hook) == event:
                    present = True
                    if hook.get("command") != wanted:
                        hook["command"] = wanted  # claimback moved (new venv): follow it
                        changed = True
                    if (matcher and isinstance(group, dict) and group.get("matcher") != matcher
                            and all(_is_ours(h) == event for h in _hooks_of(group))):
                        group["matcher"] = matcher  # an older claimback's matcher (Agent|Task)
                        changed = True
        if not present:
            group: dict[str, Any] = {}
            if matcher:
                group["matcher"] = matcher
            group["hooks"] = [{"type": "command", "command": wanted, "timeout": HOOK_TIMEOUT_S}]
            hooks[event].append(group)
            changed = True
    if statusline:
        wanted = f"{prefix} statusline"
        current = data.get("statusLine")
        if _statusline_is_ours(current):
            if current.get("command") != wanted:
                current["command"] = wanted
                changed = True
        else:
            state["statusline"] = {"had": "statusLine" in data, "previous": current}
            new: dict[str, Any] = {"type": "command", "command": wanted}
            # The wrapper draws the line; how often and how Claude Code lays it out stay the user's.
            for kept in _STATUSLINE_KEPT_KEYS:
                if isinstance(current, dict) and kept in current:
                    new[kept] = current[kept]
            data["statusLine"] = new
            changed = True
    return changed


def _remove(data: dict[str, Any], state: dict[str, Any] | None) -> bool:
    """Remove claimback's hooks (and containers it created that are now empty). True if changed."""
    changed = False
    created = (state or {}).get("created", {})
    hooks = data.get("hooks")
    if isinstance(hooks, dict):
        for event in list(hooks):
            groups = hooks[event]
            if not isinstance(groups, list):
                continue
            kept_groups = []
            event_changed = False
            for group in groups:
                inner = group.get("hooks") if isinstance(group, dict) else None
                if isinstance(inner, list) and any(_is_ours(h) for h in inner):
                    rest = [h for h in inner if not _is_ours(h)]
                    event_changed = True
                    if not rest:
                        continue  # the group held only claimback's hook: claimback added it
                    group["hooks"] = rest
                kept_groups.append(group)
            if not event_changed:
                continue
            changed = True
            hooks[event] = kept_groups
            if not kept_groups and (event in created.get("events", []) or state is None):
                del hooks[event]
        if not hooks and (created.get("hooks") or state is None) and changed:
            del data["hooks"]
    if _statusline_is_ours(data.get("statusLine")):
        previous = ((state or {}).get("statusline") or {})
        if previous.get("had"):
            data["statusLine"] = previous.get("previous")
        else:
            del data["statusLine"]
        changed = True
    return changed


# ------------------------------------------------------------------------------- API


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
    raw = _read(path)
    data = parse_settings(raw, path)
    target = _write_target(path, scope)
    states = _load_states()
    key = str(path)
    state = states.get(key)
    already = bool(state) and raw is not None and installed_events(data) != []
    work_state: dict[str, Any] = dict(state) if already and state else {
        "scope": scope, "existed": raw is not None,
        "original": base64.b64encode(raw).decode("ascii") if raw is not None else None,
        "created_dir": not path.parent.exists(),
    }
    changed = _merge(data, prefix, statusline, work_state)
    events = installed_events(data)
    precompile_hook_path()
    if not changed:
        inert = hooks_inert(project_dir)
        return InstallResult(scope, display_path(path), False, False, events,
                             _statusline_is_ours(data.get("statusLine")), None, prefix,
                             f"claimback guard is already installed in {display_path(path)}; nothing changed"
                             + (f"\nwarning: {inert}" if inert else ""), inert)
    body = _serialise(data, raw, path)
    backup = _backup(path, raw, scope) if raw is not None else None
    mode = target.stat().st_mode & 0o7777 if raw is not None else None
    _write(target, body, mode=mode)
    work_state.update(written_sha256=_sha(body), installed_at=format_epoch(time.time()), scope=scope)
    note = ""
    previous = (work_state.get("statusline") or {}).get("previous")
    if statusline and "config_chain" not in work_state and isinstance(previous, dict) \
            and isinstance(previous.get("command"), str) and previous["command"].strip():
        chain, note = _chain_statusline(previous["command"])
        if chain:
            work_state["config_chain"] = chain
    states[key] = work_state
    _save_states(states)
    what = "created" if raw is None else "updated"
    if scope == "project" and command is None:
        aligned = _align_personal_scopes(project_dir)
        note = f"{note}; {aligned}" if note and aligned else (note or aligned)
    inert = hooks_inert(project_dir)
    return InstallResult(scope, display_path(path), True, raw is None, events,
                         _statusline_is_ours(data.get("statusLine")),
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
    raw = _read(path)
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
    _write(path, body, mode=path.stat().st_mode & 0o7777 if raw is not None else None)
    chain = {"path": str(path), "original": base64.b64encode(raw).decode("ascii") if raw is not None else None,
             "written_sha256": _sha(body), "inserted": inserted}
    return chain, f"your previous status line keeps running through it ([statusline] command in {display_path(path)})"


def _unchain_statusline(chain: dict[str, Any]) -> str:
    path = Path(chain["path"])
    try:
        raw = _read(path)
    except ClaimbackError:
        return ""
    if raw is None:
        return ""
    if _sha(raw) == chain.get("written_sha256"):
        if chain.get("original") is None:
            path.unlink()
        else:
            _write(path, base64.b64decode(chain["original"]), mode=path.stat().st_mode & 0o7777)
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
        _write(path, new_text.encode("utf-8"), mode=path.stat().st_mode & 0o7777)
        return "[statusline] command removed from claimback's config.toml"
    return "left [statusline] command in claimback's config.toml (the file changed since install)"


PLUGIN_ID = "claimback@claimback"  # plugin name @ marketplace name (.claude-plugin/marketplace.json)
MARKETPLACE_SOURCE = "claimback/claimback"  # the GitHub repository holding the marketplace


def plugin_enabled(data: dict[str, Any]) -> bool:
    """Whether a settings file's `enabledPlugins` turns claimback's plugin on (then its hooks run from it)."""
    enabled = data.get("enabledPlugins")
    return isinstance(enabled, dict) and enabled.get(PLUGIN_ID) is True


def plugin_scopes(project_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The scopes whose settings enable claimback's plugin."""
    found = []
    for scope in SCOPES:
        path = settings_path(scope, project_dir)
        try:
            if plugin_enabled(parse_settings(_read(path), path)):
                found.append(scope)
        except BadInput:
            continue
    return found


@dataclass
class PluginInstallResult:
    source: str
    scope: str
    ran: list[list[str]]  # the `claude plugin ...` commands run (empty when `claude` is not on PATH)
    slash_commands: list[str]  # the same steps typed inside Claude Code
    installed: bool
    settings_hooks: list[str]  # scopes whose settings already hold `guard install`'s hooks
    message: str


def install_plugin(source: str = MARKETPLACE_SOURCE, scope: str = "user", *, claude: str | None = None,
                   project_dir: str | os.PathLike[str] | None = None) -> PluginInstallResult:
    """Add claimback's marketplace and install its plugin with Claude Code's own CLI (`claude plugin
    marketplace add` + `claude plugin install`); without `claude` on PATH, say the two slash commands.
    A plugin cannot set statusLine, so `guard install --statusline` stays the way to get quota snapshots."""
    if scope not in SCOPES:
        raise BadInput(f"unknown scope {scope!r} ({', '.join(SCOPES)})")
    slash = [f"/plugin marketplace add {source}", f"/plugin install {PLUGIN_ID}"]
    doubled = []
    for each in SCOPES:
        try:
            if installed_events(parse_settings(_read(settings_path(each, project_dir)),
                                               settings_path(each, project_dir))):
                doubled.append(each)
        except BadInput:
            continue
    binary = claude or shutil.which("claude")
    ran: list[list[str]] = []
    if binary is None:
        message = ("`claude` is not on PATH; inside Claude Code, run:\n  " + "\n  ".join(slash))
        installed = False
    else:
        for argv in ([binary, "plugin", "marketplace", "add", source, "--scope", scope],
                     [binary, "plugin", "install", PLUGIN_ID, "--scope", scope]):
            ran.append(argv)
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ClaimbackError(f"{' '.join(argv[1:4])} failed: {exc}") from None
            if done.returncode != 0:
                why = (done.stderr or done.stdout).strip().splitlines()
                raise ClaimbackError(f"`claude {' '.join(argv[1:])}` failed: {why[-1] if why else done.returncode}")
        installed = True
        message = (f"installed the claimback plugin ({PLUGIN_ID}, {scope} scope) from {source}; new Claude Code "
                   "sessions run its hooks and offer /claimback:status, /claimback:loss, /claimback:claim, "
                   "/claimback:resume")
    if doubled:
        message += (f"\nnote: `guard install` hooks are also in the {', '.join(doubled)} settings; every hook would "
                    "run twice: remove them with `claimback guard uninstall --scope SCOPE` (keep the status line "
                    "with `claimback guard install --statusline` only if you want quota snapshots)")
    return PluginInstallResult(source, scope, ran, slash, installed, doubled, message)


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
    state = _load_states().get(str(settings_path(scope, project_dir))) or {}
    result = _uninstall_settings(scope, project_dir)
    if state.get("config_chain"):
        note = _unchain_statusline(state["config_chain"])
        if note:
            result.message += f"; {note}"
    return result


def _uninstall_settings(scope: str, project_dir: str | os.PathLike[str] | None) -> UninstallResult:
    path = settings_path(scope, project_dir)
    where = display_path(path)
    raw = _read(path)
    states = _load_states()
    key = str(path)
    state = states.get(key)
    if raw is None:
        states.pop(key, None)
        _save_states(states)
        return UninstallResult(scope, where, False, False, False, None, f"{where} does not exist; nothing to remove")
    original = base64.b64decode(state["original"]) if state and state.get("original") is not None else None
    target = _write_target(path, scope)
    if state and _sha(raw) == state.get("written_sha256"):
        # Nothing changed since our install: put the file back exactly as it was.
        backup = _backup(path, raw, scope)
        if state.get("existed") and original is not None:
            _write(target, original, mode=target.stat().st_mode & 0o7777)
            removed = False
        elif target != path:
            # Claimback created the file, but it is a link now (a dotfile manager took it over): the file
            # it points to is the user's; take our entries out of it instead of dropping the link.
            cleaned = parse_settings(raw, path)
            _remove(cleaned, state)
            _write(target, _serialise(cleaned, raw, path), mode=target.stat().st_mode & 0o7777)
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
        _save_states(states)
        return UninstallResult(scope, where, True, True, removed, display_path(backup),
                               f"claimback guard removed: {where} "
                               f"{'deleted (claimback had created it)' if removed else 'restored byte for byte'}")
    data = parse_settings(raw, path)
    if not _remove(data, state):
        states.pop(key, None)
        _save_states(states)
        return UninstallResult(scope, where, False, False, False, None,
                               f"claimback guard is not installed in {where}; nothing changed")
    backup = _backup(path, raw, scope)
    exact = False
    if original is not None:
        try:
            exact = json.loads(original.decode("utf-8") or "{}") == data
        except ValueError:
            exact = False
    if not data and state and not state.get("existed") and target == path:
        path.unlink()
        states.pop(key, None)
        _save_states(states)
        return UninstallResult(scope, where, True, True, True, display_path(backup),
                               f"claimback guard removed: {where} deleted (claimback had created it)")
    body = original if exact and original is not None else _serialise(data, raw, path)
    _write(target, body, mode=target.stat().st_mode & 0o7777)
    states.pop(key, None)
    _save_states(states)
    return UninstallResult(scope, where, True, exact, False, display_path(backup),
                           f"claimback guard removed from {where}"
                           + (" (restored byte for byte)" if exact else " (other changes kept)"))


def previous_statusline_command(scope: str = "user",
                                project_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The statusline command that `guard install --statusline` replaced, for the wrapper to chain."""
    state = _load_states().get(str(settings_path(scope, project_dir))) or {}
    previous = (state.get("statusline") or {}).get("previous")
    if isinstance(previous, dict) and isinstance(previous.get("command"), str):
        return previous["command"]
    return None


# ------------------------------------------------------------------------------- status / log / override


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
        raw = _read(path)
        try:
            data = parse_settings(raw, path)
            events = installed_events(data)
            sl = _statusline_is_ours(data.get("statusLine"))
            plugin = plugin_enabled(data)
            problem = None
        except BadInput as exc:
            events, sl, plugin, problem = [], False, False, str(exc)
        missing = [e for e, _ in HOOK_EVENTS if e not in events] if events else []
        scopes.append(ScopeStatus(scope, display_path(path), raw is not None, events, missing, sl, problem, plugin))
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


def read_log(limit: int = 20) -> list[dict[str, Any]]:
    """The newest `limit` hook decisions, oldest first (from the JSONL decision log)."""
    data_dir = signals.fast_dirs()[1]
    path = Path(hook_runtime.decision_log_path(data_dir))
    rows: list[dict[str, Any]] = []
    for candidate in (path.with_name("decisions.1.jsonl"), path):
        try:
            lines = read_regular_bytes(candidate, 16 * 1024 * 1024).splitlines()  # rotates at 1 MiB
        except OSError:
            continue
        for line in lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                rows.append(rec)
    return rows[-limit:] if limit > 0 else rows


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """`30m`, `2h`, `1d`, `90s`; a bare number means minutes."""
    match = _DURATION.match(text or "")
    if not match:
        raise BadInput(f"--for {text!r} is not a duration (use 30m, 2h, 1d)")
    value = float(match.group(1))
    unit = (match.group(2) or "m").lower()
    seconds = value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if seconds <= 0 or seconds > 30 * 86400:
        raise BadInput("--for must be between 1 second and 30 days")
    return seconds


def pause(duration: str) -> str:
    """Let subagent launches and prompts through until now + duration (`guard off --for`)."""
    seconds = parse_duration(duration)
    data_dir = signals.fast_dirs()[1]
    path = Path(hook_runtime.override_path(data_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    until = time.time() + seconds
    _write(path, json.dumps({"until": until, "set_at": time.time()}).encode())
    return format_epoch(until)


def resume_guard() -> bool:
    """End a pause early (`guard on`). True when a pause was active."""
    path = Path(hook_runtime.override_path(signals.fast_dirs()[1]))
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
