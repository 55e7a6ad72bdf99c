"""Claude Code's configuration contract: where its settings live, how they merge, what they imply.

One reader for every command that looks at Claude Code's settings (doctor, guard, preflight, the hook):
the files of each scope (user, project, local, managed), the environment the client will run with, the
provider that environment selects, and the hooks installed. Values are kept in memory for decisions; what
reaches a report is names only (keys, env names, hook events, the first word of a hook command), passed
through the secret scrub, and paths under the home directory as `~/…`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimback.core.files import display_path
from claimback.core.secrets import scrub

DEFAULT_CLEANUP_DAYS = 30  # Claude Code deletes transcripts older than cleanupPeriodDays, 30 unless set

# Model settings are names of models, safe to show (after a secret scrub, in case someone pasted a key).
MODEL_VARS = ("ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL",
              "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL")
AUTH_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "AWS_BEARER_TOKEN_BEDROCK")
_TRUE = frozenset({"1", "true", "yes", "on"})
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/@\[\]-]{0,120}$")
_SECRETISH = re.compile(r"sk-ant|sk-[A-Za-z0-9]{16}|bearer|token|secret|password|://[^/]*@", re.I)


# -- values shown in reports ----------------------------------------------------------------------------------------
def url_host(url: str | None) -> str | None:
    """Host (and port) of a URL; never the scheme's credentials, path or query."""
    if not url:
        return None
    try:
        parts = urlsplit(url if "://" in url else "//" + url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "(unparseable URL)"
    if not host:
        return "(unparseable URL)"
    return f"{host}:{port}" if port else host


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
def settings_locations(project: Path, env: dict[str, str]) -> list[tuple[str, Path]]:
    """Claude Code's settings files, lowest precedence first (user < project < local < managed)."""
    config_dirs = [Path(p.strip()).expanduser() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    if not config_dirs:
        config_dirs = [Path.home() / ".claude"]
    found = [("user", d / "settings.json") for d in config_dirs]
    found += [("project", project / ".claude" / "settings.json"),
              ("local", project / ".claude" / "settings.local.json")]
    managed = (Path("/Library/Application Support/ClaudeCode/managed-settings.json") if sys.platform == "darwin"
               else Path("/etc/claude-code/managed-settings.json"))
    found.append(("managed", managed))
    return found


def _hook_entries(hooks: Any) -> list[HookEntry]:
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
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        row.readable, row.error = False, "not readable (permission denied)"
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
        provider = Provider("bedrock", url_host(val("ANTHROPIC_BEDROCK_BASE_URL")), src("CLAUDE_CODE_USE_BEDROCK"))
        if not (val("AWS_REGION") or val("AWS_DEFAULT_REGION")):
            problems.append("Bedrock needs AWS_REGION (Claude Code does not read the region from ~/.aws/config)")
    elif "CLAUDE_CODE_USE_VERTEX" in flags:
        provider = Provider("vertex", url_host(val("ANTHROPIC_VERTEX_BASE_URL")), src("CLAUDE_CODE_USE_VERTEX"))
        if not val("CLOUD_ML_REGION"):
            problems.append("Vertex needs CLOUD_ML_REGION (e.g. global or us-east5)")
        if not (val("ANTHROPIC_VERTEX_PROJECT_ID") or val("GOOGLE_CLOUD_PROJECT")):
            problems.append("Vertex needs ANTHROPIC_VERTEX_PROJECT_ID")
    elif "CLAUDE_CODE_USE_FOUNDRY" in flags:
        provider = Provider("foundry", url_host(val("ANTHROPIC_FOUNDRY_BASE_URL")), src("CLAUDE_CODE_USE_FOUNDRY"))
    elif base:
        host = url_host(base)
        provider = Provider("anthropic" if host == "api.anthropic.com" else "custom", host, src("ANTHROPIC_BASE_URL"))
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


SCOPE_ORDER = {"user": 0, "project": 1, "local": 2, "managed": 3}  # precedence, lowest first


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


