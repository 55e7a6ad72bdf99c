"""Claude Code settings files as claimback's guard edits them: where each scope's file is, how
claimback's hooks and status line are merged in and taken out, and the careful reading and writing.

Claude Code reads hooks from JSON settings files (user, project, local scope):

    {"hooks": {"PreToolUse": [{"matcher": "Agent|Task|Workflow",
                               "hooks": [{"type": "command", "command": "...", "timeout": 10}]}]}}

Rules kept here (DESIGN §7, issue 7):
- a merge, never a rewrite: unknown keys, other tools' hooks and key order stay; claimback's entries
  are recognised by their command (`… claimback hook EVENT`), so installing twice changes nothing;
- invalid JSON (or a shape we cannot merge into) → refuse with a clear error, file untouched;
- before any write: a timestamped backup in claimback's data dir; the write itself is atomic
  (temp file in the same directory, fsync, rename, original mode kept).
Where the settings live and how Claude Code merges them is core/claude_config.py's; the install,
uninstall and status operations are prevent/guard.py's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from claimback.core import claude_config
from claimback.core.files import UnsafeFile, atomic_write, display_path
from claimback.errors import BadInput, ClaimbackError
from claimback.prevent import signals


SCOPES = ("user", "project", "local")
HOOK_EVENTS: tuple[tuple[str, str | None], ...] = (
    # Workflow (2.1.33x) launches subagents in the background, so it is a launch like Agent (Task before).
    ("PreToolUse", "Agent|Task|Workflow"),
    ("UserPromptSubmit", None),
    ("SessionStart", None),
    ("StopFailure", None),
    # `claude -p` exits without waiting for StopFailure; SessionEnd is awaited (hook.py, SessionEnd).
    ("SessionEnd", None),
)
HOOK_TIMEOUT_S = 10  # Claude Code's per-hook timeout (seconds); the hook itself answers in ~30 ms
# What a hook command runs: this interpreter starting claimback.entry itself (see claimback_command).
LAUNCH_CODE = "from claimback.entry import main; main()"
# Our command lines: `<…>claimback hook EVENT` (console script, `-m claimback`, `claimback` on PATH) and
# `<python> -P -c '<LAUNCH_CODE>' hook EVENT`.
_OURS = r"claimback(?:\.exe|\.entry import main; main\(\))?['\"]?\s+"
_OUR_HOOK = re.compile(_OURS + r"hook\s+(\w+)")
# A status line is ours only when the whole command is one of our command lines: a user's command that
# runs claimback inside something larger (`claimback statusline | sed …`, `A=1 claimback statusline`)
# is theirs, kept and chained like any other (sources/statusline.py runs it with CHAINED_ENV set, so the
# claimback inside it draws its own line instead of chaining again).
_OUR_STATUSLINE = re.compile(_OURS + r"statusline\s*$")
_SHELL_BEFORE = re.compile(r"[|;&`]|\$\(|(?:^|\s)[A-Za-z_][A-Za-z0-9_]*=")  # pipes, lists, substitutions, VAR=x
_STATUSLINE_KEPT_KEYS = ("padding", "refreshInterval", "hideVimModeIndicator")


def settings_path(scope: str, project_dir: str | os.PathLike[str] | None = None) -> Path:
    if scope not in SCOPES:
        raise BadInput(f"unknown scope {scope!r} (use user, project or local)")
    return claude_config.scope_path(scope, project_dir)


def claimback_command() -> str:
    """How Claude Code should start claimback: this very interpreter and install, whatever PATH Claude
    Code has, as `<python> -P -c '<LAUNCH_CODE>'`. That is the cheapest start: the console script
    (pip's template imports `re`) and `-m claimback` (runpy imports importlib.util and contextlib) each
    cost every hook call 4–6 ms more (benchmarks/hook_latency.py); `-P` keeps the current directory (the
    user's project) off sys.path, where `-c` and `-m` would put it first. On Windows (no POSIX shell
    quoting) the script next to this interpreter, else `claimback` on PATH, else `python -m claimback`."""
    if sys.executable and os.name != "nt":
        return f"{shlex.quote(sys.executable)} -P -c {shlex.quote(LAUNCH_CODE)}"
    here = Path(sys.executable).parent
    for name in ("claimback", "claimback.exe"):
        candidate = here / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return shlex.quote(str(candidate))
    found = shutil.which("claimback")
    if found:
        return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m claimback"


def hook_command(event: str, prefix: str | None = None) -> str:
    return f"{prefix or claimback_command()} hook {event}"


def our_prefix(data: dict[str, Any]) -> str | None:
    """The command prefix of claimback's PreToolUse hook in a settings object (`<prefix> hook PreToolUse`)."""
    hooks = data.get("hooks") if isinstance(data.get("hooks"), dict) else {}
    groups = hooks.get("PreToolUse") if isinstance(hooks.get("PreToolUse"), list) else []
    for group in groups:
        for hook in _hooks_of(group):
            if _is_ours(hook) == "PreToolUse":
                return hook["command"].rsplit(" hook ", 1)[0].strip()
    return None


def write_file(path: Path, data: bytes, mode: int | None = None) -> None:
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


def serialise(data: dict[str, Any], raw: bytes | None, path: Path) -> bytes:
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


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def backup_copy(path: Path, raw: bytes, scope: str) -> Path:
    folder = Path(signals.guard_dir(signals.fast_dirs()[1])) / "backups"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    tag = sha256_hex(str(path).encode())[:8]
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


def write_target(path: Path, scope: str) -> Path:
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


def read_file(path: Path) -> bytes | None:
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


def _is_ours(hook: Any) -> str | None:
    if isinstance(hook, dict) and isinstance(hook.get("command"), str):
        match = _OUR_HOOK.search(hook["command"])
        if match:
            return match.group(1)
    return None


def statusline_is_ours(value: Any) -> bool:
    if not (isinstance(value, dict) and isinstance(value.get("command"), str)):
        return False
    command = value["command"]
    match = _OUR_STATUSLINE.search(command)
    # Before `claimback`: an interpreter, its flags and `-c '…from ` (LAUNCH_CODE), nothing of a shell's.
    return match is not None and not _SHELL_BEFORE.search(command[:match.start()])


def installed_events(data: dict[str, Any]) -> list[str]:
    found: list[str] = []
    hooks = data.get("hooks") if isinstance(data.get("hooks"), dict) else {}
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else []:
            for hook in _hooks_of(group):
                if _is_ours(hook) and event not in found:
                    found.append(event)
    return found


def merge_ours(data: dict[str, Any], prefix: str, statusline: bool,
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
        if statusline_is_ours(current):
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


def remove_ours(data: dict[str, Any], state: dict[str, Any] | None) -> bool:
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
    if statusline_is_ours(data.get("statusLine")):
        previous = ((state or {}).get("statusline") or {})
        if previous.get("had"):
            data["statusLine"] = previous.get("previous")
        else:
            del data["statusLine"]
        changed = True
    return changed
