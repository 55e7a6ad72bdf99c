"""Claude Code's configuration contract: where its settings live, how they merge, what they imply.

The one reader for every command that looks at Claude Code's settings (doctor, guard, preflight, the
hook's fast path). It knows, following Claude Code's settings documentation
(https://code.claude.com/docs/en/settings, .../hooks, .../statusline):

- the files of each scope, lowest precedence first: user (`<CLAUDE_CONFIG_DIR or ~/.claude>/settings.json`),
  project (`.claude/settings.json`), local (`.claude/settings.local.json`), managed
  (`managed-settings.json` in the OS's system folder, then every `managed-settings.d/*.json` drop-in in
  alphabetical order, hidden files skipped);
- how they merge (`merge_settings`): a later scope's scalar wins, arrays are concatenated without
  duplicates, objects merge key by key; the process environment wins over every settings `env` block;
- what they imply: the effective environment, the provider (`core/provider.py` decides from it), the
  hooks and status line installed, and whether hooks run at all (`disableAllHooks`,
  `allowManagedHooksOnly`).

Every read goes through `core/files.py` (regular files only, non-blocking, size-capped), so a FIFO or
/dev/zero named settings.json cannot hang a command. Values are kept in memory for decisions; what reaches
a report is names only (keys, env names, hook events, the first word of a hook command), passed through
the secret scrub, and paths under the home directory as `~/…`. Standard library only and cheap to import:
the guard hook may import it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimback.core.files import UnsafeFile, display_path, read_regular_bytes

DEFAULT_CLEANUP_DAYS = 30  # Claude Code deletes transcripts older than cleanupPeriodDays, 30 unless set

# Model settings are names of models, safe to show (after a secret scrub, in case someone pasted a key).
MODEL_VARS = ("ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL",
              "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL")
AUTH_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "AWS_BEARER_TOKEN_BEDROCK")
_TRUE = frozenset({"1", "true", "yes", "on"})
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/@\[\]-]{0,120}$")
_SECRETISH = re.compile(r"sk-ant|sk-[A-Za-z0-9]{16}|bearer|token|secret|password|://[^/]*@", re.I)


# -- values shown in reports -----------------------------------------------------------------------
def safe_model(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if _SECRETISH.search(value) or not _MODEL_NAME.match(value):
        return "(set, not shown: does not look like a model name)"
    return value


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


# -- data ---------------------------------------------------------------------------------------
@dataclass
class HookEntry:
    event: str
    matcher: str | None
    command: str | None  # first word of the command only (its basename): never arguments
    is_claimback: bool


@dataclass
class SettingsFile:
    scope: str  # managed | user | project | local
    path: str
    exists: bool
    readable: bool | None = None
    valid: bool | None = None
    error: str | None = None
    keys: list[str] = field(default_factory=list)
    model: str | None = None
    env_names: list[str] = field(default_factory=list)
    hooks: list[HookEntry] = field(default_factory=list)
    cleanup_period_days: int | None = None
    api_key_helper: bool = False
    status_line: bool = False


@dataclass
class Provider:
    name: str  # anthropic | bedrock | vertex | foundry | custom
    base_url_host: str | None
    source: str | None  # where it was set: env | settings (scope)
    auth: list[str] = field(default_factory=list)  # names of credential sources present
    problems: list[str] = field(default_factory=list)


# -- settings files -------------------------------------------------------------------------------
SCOPES = ("user", "project", "local", "managed")  # precedence, lowest first
EDITABLE_SCOPES = ("user", "project", "local")
SETTINGS_LIMIT = 64 * 1024 * 1024  # a real one is a few KB; 30 MB of rules has been seen and must still work
# Where Claude Code looks for managed settings on each OS (the settings page, "Settings files"); Windows
# moved from ProgramData to Program Files, both are read. CLAIMBACK_CLAUDE_MANAGED_DIR replaces them (tests,
# containers that mount policy elsewhere).
MANAGED_DIRS = {
    "darwin": ("/Library/Application Support/ClaudeCode",),
    "win32": (r"C:\Program Files\ClaudeCode", r"C:\ProgramData\ClaudeCode"),
    "linux": ("/etc/claude-code",),
}


def config_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Claude Code's config folders: each `CLAUDE_CONFIG_DIR` entry (comma-separated), else `~/.claude`.
    An entry that names the `projects` folder itself stands for its parent (DESIGN §3.1)."""
    env = os.environ if env is None else env
    dirs: list[Path] = []
    for entry in env.get("CLAUDE_CONFIG_DIR", "").split(","):
        if entry.strip():
            base = Path(entry.strip()).expanduser()
            dirs.append(base.parent if base.name == "projects" else base)
    return dirs or [Path.home() / ".claude"]


def user_settings_path(env: Mapping[str, str] | None = None) -> Path:
    """`<first config dir>/settings.json`: the user-scope file Claude Code reads and `guard` edits."""
    return config_dirs(env)[0] / "settings.json"


def scope_path(scope: str, project_dir: str | os.PathLike[str] | None = None,
               env: Mapping[str, str] | None = None) -> Path:
    """The settings file of an editable scope (user, project, local)."""
    if scope == "user":
        return user_settings_path(env)
    if scope not in EDITABLE_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    root = Path(project_dir) if project_dir else Path.cwd()
    return root.absolute() / ".claude" / ("settings.json" if scope == "project" else "settings.local.json")


def managed_dirs(env: Mapping[str, str] | None = None, platform: str | None = None) -> list[Path]:
    env = os.environ if env is None else env
    override = env.get("CLAIMBACK_CLAUDE_MANAGED_DIR", "").strip()
    if override:
        return [Path(override)]
    platform = platform or sys.platform
    return [Path(p) for p in MANAGED_DIRS.get(platform, MANAGED_DIRS["linux"])]


def managed_paths(env: Mapping[str, str] | None = None, platform: str | None = None) -> list[Path]:
    """The managed settings files in merge order: each folder's managed-settings.json, then its
    managed-settings.d/*.json drop-ins in alphabetical order (hidden files skipped)."""
    found: list[Path] = []
    for folder in managed_dirs(env, platform):
        found.append(folder / "managed-settings.json")
        try:
            names = sorted(n for n in os.listdir(folder / "managed-settings.d")
                           if n.endswith(".json") and not n.startswith("."))
        except OSError:
            names = []
        found += [folder / "managed-settings.d" / n for n in names[:200]]
    return found


def settings_locations(project: Path, env: Mapping[str, str]) -> list[tuple[str, Path]]:
    """Claude Code's settings files, lowest precedence first (user < project < local < managed)."""
    found = [("user", d / "settings.json") for d in config_dirs(env)]
    found += [("project", project / ".claude" / "settings.json"),
              ("local", project / ".claude" / "settings.local.json")]
    found += [("managed", p) for p in managed_paths(env)]
    return found


def read_settings_bytes(path: Path) -> bytes | None:
    """The bytes of a settings file, None when there is none; `OSError` (incl. `UnsafeFile` for a FIFO,
    a device or an oversized file) when it cannot be read."""
    try:
        return read_regular_bytes(path, SETTINGS_LIMIT)
    except FileNotFoundError:
        return None


def load_settings(path: Path) -> dict[str, Any]:
    """A settings file's object for decisions; {} when missing, unreadable or not a JSON object (as
    Claude Code, which skips a file it cannot parse)."""
    try:
        raw = read_settings_bytes(path)
        data = json.loads(raw) if raw and raw.strip() else {}
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def merge_settings(layers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Claude Code's merge of settings layers given lowest precedence first: a later scalar wins, arrays
    are concatenated without duplicates, objects merge key by key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        _merge_into(merged, layer)
    return merged


def _merge_into(into: dict[str, Any], layer: dict[str, Any]) -> None:
    for key, value in layer.items():
        old = into.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            _merge_into(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            into[key] = old + [v for v in value if v not in old]
        else:
            into[key] = json.loads(json.dumps(value)) if isinstance(value, (dict, list)) else value


def _hook_entries(hooks: Any) -> list[HookEntry]:
    from claimback.core.secrets import scrub  # report rows only: the hook's path never needs it

    entries: list[HookEntry] = []
    if not isinstance(hooks, dict):
        return entries
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else ():
            if not isinstance(group, dict):
                continue
            matcher = group.get("matcher") if isinstance(group.get("matcher"), str) else None
            inner = group.get("hooks")
            for hook in inner if isinstance(inner, list) else ():
                if not isinstance(hook, dict):
                    continue
                command = hook.get("command") if isinstance(hook.get("command"), str) else ""
                first = command.strip().split()[0] if command.strip() else None
                entries.append(HookEntry(scrub(str(event)), scrub(matcher)[:60] if matcher else None,
                                         scrub(os.path.basename(first))[:40] if first else
                                         (hook.get("type") if isinstance(hook.get("type"), str) else None),
                                         "claimback" in command))
    return entries


def read_settings(scope: str, path: Path, cwd: Path | None) -> tuple[SettingsFile, dict[str, Any]]:
    """One settings file as a report row, and its parsed content (kept in memory, never reported)."""
    row = SettingsFile(scope=scope, path=display_path(path, cwd if scope in ("project", "local") else None) or "",
                       exists=path.exists())
    if not row.exists:
        return row, {}
    try:
        text = (read_settings_bytes(path) or b"").decode("utf-8")
    except PermissionError:
        row.readable, row.error = False, "not readable (permission denied)"
        return row, {}
    except UnsafeFile as exc:
        row.readable, row.error = False, f"not readable ({'too large' if 'larger' in str(exc) else 'not a regular file'})"
        return row, {}
    except (OSError, UnicodeDecodeError) as exc:
        row.readable, row.error = False, f"not readable ({getattr(exc, 'strerror', None) or type(exc).__name__})"
        return row, {}
    row.readable = True
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        row.valid, row.error = False, f"invalid JSON at line {exc.lineno} column {exc.colno}"
        return row, {}
    except RecursionError:
        row.valid, row.error = False, "nested too deeply to be a settings file"
        return row, {}
    if not isinstance(data, dict):
        row.valid, row.error = False, "not a JSON object"
        return row, {}
    row.valid = True
    from claimback.core.secrets import scrub

    # Names are shown, values never; a name can still be a pasted key, so names pass the secret scrub.
    row.keys = sorted(scrub(str(k)) for k in data)
    row.model = safe_model(data.get("model"))
    env = data.get("env")
    if isinstance(env, dict):
        row.env_names = sorted(scrub(str(k)) for k in env)
    row.hooks = _hook_entries(data.get("hooks"))
    cleanup = data.get("cleanupPeriodDays")
    if isinstance(cleanup, (int, float)) and not isinstance(cleanup, bool) and abs(cleanup) < 10**9:
        row.cleanup_period_days = int(cleanup)  # (1e400 parses as infinity)
    row.api_key_helper = bool(data.get("apiKeyHelper"))
    row.status_line = bool(data.get("statusLine"))
    return row, data


# -- provider and auth ------------------------------------------------------------------------------
def implied_provider(effective: Mapping[str, tuple[str, str]]) -> str:
    """The provider the effective environment selects (anthropic | bedrock | vertex | foundry | other):
    `core/provider.py` decides, from the values alone."""
    from claimback.core.provider import provider_from_env

    return provider_from_env({name: value for name, (value, _source) in effective.items()})


def effective_env(env: dict[str, str], contents: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, str]]:
    """name -> (value, source). Settings `env` blocks apply in precedence order; the process wins."""
    merged: dict[str, tuple[str, str]] = {}
    for scope, data in contents:
        block = data.get("env")
        if isinstance(block, dict):
            for key, value in block.items():
                if isinstance(value, (str, int, float, bool)):
                    merged[str(key)] = (str(value), f"{scope} settings")
    for key, value in env.items():
        merged[key] = (value, "env")
    return merged


def detect_provider(effective: dict[str, tuple[str, str]], contents: list[tuple[str, dict[str, Any]]]) -> Provider:
    from claimback.core.provider import url_host  # doctor's only: the hook's path never loads it

    def val(name: str) -> str | None:
        return effective.get(name, (None, None))[0]

    def src(name: str) -> str | None:
        return effective.get(name, (None, None))[1]

    flags = [n for n in ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY")
             if truthy(val(n))]
    base = val("ANTHROPIC_BASE_URL")
    problems: list[str] = []
    if len(flags) > 1:
        problems.append(f"more than one provider switch is on ({', '.join(flags)}): set only one")
    if "CLAUDE_CODE_USE_BEDROCK" in flags:
        provider = Provider("bedrock", url_host(val("ANTHROPIC_BEDROCK_BASE_URL"), port=True), src("CLAUDE_CODE_USE_BEDROCK"))
        if not (val("AWS_REGION") or val("AWS_DEFAULT_REGION")):
            problems.append("Bedrock needs AWS_REGION (Claude Code does not read the region from ~/.aws/config)")
    elif "CLAUDE_CODE_USE_VERTEX" in flags:
        provider = Provider("vertex", url_host(val("ANTHROPIC_VERTEX_BASE_URL"), port=True), src("CLAUDE_CODE_USE_VERTEX"))
        if not val("CLOUD_ML_REGION"):
            problems.append("Vertex needs CLOUD_ML_REGION (e.g. global or us-east5)")
        if not (val("ANTHROPIC_VERTEX_PROJECT_ID") or val("GOOGLE_CLOUD_PROJECT")):
            problems.append("Vertex needs ANTHROPIC_VERTEX_PROJECT_ID")
    elif "CLAUDE_CODE_USE_FOUNDRY" in flags:
        provider = Provider("foundry", url_host(val("ANTHROPIC_FOUNDRY_BASE_URL"), port=True), src("CLAUDE_CODE_USE_FOUNDRY"))
    elif base:
        host = url_host(base, port=True)
        # doctor has always called a relay or gateway "custom"; core/provider.py calls it "other"
        name = "custom" if implied_provider(effective) == "other" else "anthropic"
        provider = Provider(name, host, src("ANTHROPIC_BASE_URL"))
        scheme = base.split("://", 1)[0].lower() if "://" in base else ""
        if scheme == "http" and host and not host.split(":")[0] in ("localhost", "127.0.0.1", "::1"):
            problems.append(f"ANTHROPIC_BASE_URL uses plain http to {host}: credentials travel unencrypted")
        if "@" in base.split("://", 1)[-1].split("/", 1)[0]:
            problems.append("ANTHROPIC_BASE_URL embeds credentials; use ANTHROPIC_AUTH_TOKEN instead")
    else:
        provider = Provider("anthropic", None, None)
    if flags and base:
        problems.append("ANTHROPIC_BASE_URL is set but ignored by the Bedrock/Vertex/Foundry provider; unset it")
    auth = [name for name in AUTH_VARS if val(name)]
    if any(isinstance(d.get("apiKeyHelper"), str) and d.get("apiKeyHelper") for _, d in contents):
        auth.append("apiKeyHelper (settings)")
    if (Path.home() / ".claude" / ".credentials.json").exists():
        auth.append("Claude login credentials file")
    if val("ANTHROPIC_API_KEY") and val("ANTHROPIC_AUTH_TOKEN"):
        problems.append("both ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are set: Claude Code uses only one")
    if provider.name == "anthropic" and val("ANTHROPIC_API_KEY"):
        problems.append("ANTHROPIC_API_KEY is set: Claude Code bills the API key, not your Pro/Max plan, "
                        "once you approve it")
    provider.auth = auth
    provider.problems = problems
    return provider


def model_settings(effective: dict[str, tuple[str, str]], rows: list[SettingsFile]) -> dict[str, str]:
    models: dict[str, str] = {}
    for name in MODEL_VARS:
        if name in effective:
            shown = safe_model(effective[name][0])
            if shown:
                models[f"{name} ({effective[name][1]})"] = shown
    for row in rows:
        if row.model:
            models[f"model ({row.scope} settings)"] = row.model
    return models


SCOPE_ORDER = {s: i for i, s in enumerate(SCOPES)}


def all_settings(project: Path, env: dict[str, str]) -> tuple[list[SettingsFile], list[tuple[str, dict[str, Any]]]]:
    rows: list[SettingsFile] = []
    contents: list[tuple[str, dict[str, Any]]] = []
    for scope, path in settings_locations(project, env):
        row, data = read_settings(scope, path, project)
        if row.exists or scope != "managed":
            rows.append(row)
        if data:
            contents.append((scope, data))
    contents.sort(key=lambda item: SCOPE_ORDER.get(item[0], 0))
    return rows, contents


def cleanup_period(rows: list[SettingsFile]) -> tuple[int, str]:
    days, source = DEFAULT_CLEANUP_DAYS, "default"
    for row in sorted(rows, key=lambda r: SCOPE_ORDER.get(r.scope, 0)):
        if row.cleanup_period_days is not None:
            days, source = row.cleanup_period_days, f"{row.scope} settings"
    return days, source


def read_all(project: Path | None = None, env: Mapping[str, str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(scope, settings object) of every settings file that exists and parses, lowest precedence first."""
    env = os.environ if env is None else env
    project = project or Path.cwd()
    out = []
    for scope, path in settings_locations(project, env):
        data = load_settings(path)
        if data:
            out.append((scope, data))
    return out


# -- hooks: which run at all -------------------------------------------------------------------------
@dataclass
class HookPolicy:
    """Whether Claude Code runs the hooks of user, project and local settings (claimback installs there).

    From the hooks documentation: `disableAllHooks: true` turns hooks off (set outside managed settings it
    cannot turn off managed hooks, but it does turn off ours); `allowManagedHooksOnly: true` in managed
    settings runs managed hooks only."""

    disabled_in: list[str] = field(default_factory=list)  # scopes whose settings set disableAllHooks
    managed_only: bool = False

    @property
    def inert(self) -> bool:
        return bool(self.disabled_in) or self.managed_only

    def reason(self) -> str | None:
        if not self.inert:
            return None
        parts = []
        if self.disabled_in:
            parts.append("disableAllHooks is true in " + " and ".join(f"{s} settings" for s in self.disabled_in))
        if self.managed_only:
            parts.append("managed settings set allowManagedHooksOnly")
        return ("; ".join(parts) + ": Claude Code will not run claimback's hooks, so the guard would be "
                "inert")


def hook_policy(contents: Iterable[tuple[str, dict[str, Any]]]) -> HookPolicy:
    policy = HookPolicy()
    for scope, data in contents:
        if data.get("disableAllHooks") is True and scope not in policy.disabled_in:
            policy.disabled_in.append(scope)
        if scope == "managed" and data.get("allowManagedHooksOnly") is True:
            policy.managed_only = True
    return policy
