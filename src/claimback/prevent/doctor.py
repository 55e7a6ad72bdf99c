"""`claimback doctor`: non-secret diagnostics, error explanation and re-verification (DESIGN §7).

The troubleshooting path is always the same: confirm the exact error signature; check account, local
tool state and provider configuration; decide the class (outage, quota/rate, auth, model/provider,
local runtime, deployment configuration); record non-secret diagnostics; change one thing and re-run
the smallest failing action. `run_doctor` gathers the diagnostics, `explain` classifies one message,
`verify` re-runs the smallest check and says whether the signature is gone.

Privacy rules, enforced here and tested with planted secrets: environment variables are reported by
name only; settings files by key names, model names, hook events and the first word of hook commands;
URLs by host only; paths under the home directory as `~/…`. No value that could hold a credential is
ever copied into a report.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimback import __version__
from claimback.core.secrets import scrub
from claimback.core.classify import (
    CLASS_INFO,
    INTERRUPT,
    OUTAGE,
    UNKNOWN,
    classify,
    extract_fields,
    normalize_signature,
)
from claimback.ledger.store import Ledger

CLAUDE_VERSION_TIMEOUT = 5.0
PROBE_TIMEOUT = 90.0
DEFAULT_CLEANUP_DAYS = 30
FAILURE_DAYS = 7
TOP_SIGNATURES = 3
AT_RISK_DAYS = 3

# Environment variables that shape what Claude Code does (names only are ever reported).
ENV_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "CLAIMBACK_", "VERTEX_REGION_", "DISABLE_", "MCP_", "OTEL_")
ENV_NAMES = frozenset({
    "AWS_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK", "CLOUD_ML_REGION", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "NODE_OPTIONS", "MAX_THINKING_TOKENS",
    "BASH_DEFAULT_TIMEOUT_MS", "BASH_MAX_TIMEOUT_MS", "USE_BUILTIN_RIPGREP",
})
# Model settings are names of models, safe to show (after a secret scrub, in case someone pasted a key).
MODEL_VARS = ("ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL",
              "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL")
AUTH_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "AWS_BEARER_TOKEN_BEDROCK")
_TRUE = frozenset({"1", "true", "yes", "on"})
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.:/@\[\]-]{0,120}$")
_SECRETISH = re.compile(r"sk-ant|sk-[A-Za-z0-9]{16}|bearer|token|secret|password|://[^/]*@", re.I)


# -- small helpers ----------------------------------------------------------------------------------
def display_path(path: str | os.PathLike[str] | None, cwd: Path | None = None) -> str | None:
    """`~/…` under the home directory, `./…` under the project; never the user name."""
    if path is None:
        return None
    text = os.fspath(path)
    if cwd is not None:
        try:
            return "./" + Path(text).resolve().relative_to(cwd.resolve()).as_posix()
        except (ValueError, OSError):
            pass
    home = str(Path.home())
    if home and home != "/" and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home):]
    return text


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


def _safe_model(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if _SECRETISH.search(value) or not _MODEL_NAME.match(value):
        return "(set, not shown: does not look like a model name)"
    return value


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# -- data -----------------------------------------------------------------------------------------
@dataclass
class ClaudeBinary:
    found: bool
    path: str | None = None
    version: str | None = None
    error: str | None = None


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


@dataclass
class Retention:
    cleanup_period_days: int
    source: str  # default | <scope> settings
    last_ingest: str | None
    warning: str | None = None
    transcript_files: int | None = None  # on disk under the transcript roots
    not_ingested: int | None = None  # new or grown since the last ingest (before this run's ingest)
    at_risk: int | None = None  # of those, due for Claude Code's cleanup within AT_RISK_DAYS
    ingested_now: bool = False


@dataclass
class LedgerHealth:
    location: str | None
    backend: str | None
    schema_version: int | None = None
    schema_latest: int | None = None
    size_bytes: int | None = None
    rows: dict[str, int] = field(default_factory=dict)
    last_ingest: str | None = None
    last_activity: str | None = None
    error: str | None = None


@dataclass
class SignatureCount:
    signature: str
    count: int
    last_seen: str


@dataclass
class ClassSummary:
    failure_class: str
    count: int
    meaning: str
    next_step: str
    top_signatures: list[SignatureCount]


@dataclass
class DoctorReport:
    claimback_version: str
    os: str
    python: str
    claude: ClaudeBinary
    provider: Provider
    models: dict[str, str]  # setting (env name or "<scope> settings") -> model name
    settings_files: list[SettingsFile]
    env_vars: list[str]  # names only
    retention: Retention
    ledger: LedgerHealth
    failures_since: str
    failures: list[ClassSummary]
    warnings: list[str] = field(default_factory=list)
    demo: bool = False
    claude_versions_in_logs: list[str] = field(default_factory=list)  # newest session first


# -- claude binary --------------------------------------------------------------------------------
def _run(cmd: list[str], timeout: float, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run with a hard timeout. The child gets its own process group so that a timeout also ends what
    it spawned (otherwise a grandchild holding the pipes would keep us waiting past the timeout)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def find_claude(env: dict[str, str] | None = None) -> ClaudeBinary:
    env = dict(os.environ if env is None else env)
    path = shutil.which("claude", path=env.get("PATH"))
    if path is None:
        for candidate in (Path.home() / ".claude" / "local" / "claude", Path.home() / ".local" / "bin" / "claude"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                path = str(candidate)
                break
    if path is None:
        return ClaudeBinary(False, error="`claude` not found on PATH (install Claude Code, or fix PATH)")
    try:
        done = _run([path, "--version"], CLAUDE_VERSION_TIMEOUT, env)
    except subprocess.TimeoutExpired:
        return ClaudeBinary(True, display_path(path), error=f"`claude --version` did not answer in "
                            f"{CLAUDE_VERSION_TIMEOUT:.0f}s")
    except OSError as exc:
        return ClaudeBinary(True, display_path(path), error=f"cannot run claude: {exc.strerror or exc}")
    first = (done.stdout or "").strip().splitlines()
    if done.returncode != 0 or not first:
        return ClaudeBinary(True, display_path(path), error=f"`claude --version` exited {done.returncode}")
    return ClaudeBinary(True, display_path(path), version=first[0][:80])


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
    row.model = _safe_model(data.get("model"))
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
def _effective_env(env: dict[str, str], contents: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, str]]:
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
             if _truthy(val(n))]
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
            shown = _safe_model(effective[name][0])
            if shown:
                models[f"{name} ({effective[name][1]})"] = shown
    for row in rows:
        if row.model:
            models[f"model ({row.scope} settings)"] = row.model
    return models


def env_var_names(env: dict[str, str]) -> list[str]:
    return sorted(n for n, v in env.items() if v != "" and (n in ENV_NAMES or n.startswith(ENV_PREFIXES)))


# -- ledger, retention, failures --------------------------------------------------------------------
def _ledger_location(ledger: Ledger) -> str:
    if ledger.dialect == "postgresql":
        try:
            parts = urlsplit(ledger.location)
            return f"postgresql://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}{parts.path}"
        except ValueError:
            return "postgresql://(unparseable)"
    return display_path(ledger.location) or ledger.location


def last_ingest(ledger: Ledger) -> str | None:
    return ledger.scalar("SELECT MAX(updated_at) FROM files")


def ledger_health(ledger: Ledger) -> LedgerHealth:
    health = LedgerHealth(location=_ledger_location(ledger), backend=ledger.dialect)
    try:
        from claimback.ledger.info import ledger_info

        info = ledger_info(ledger)
        health.schema_version, health.schema_latest = info.schema_version, info.schema_latest
        health.size_bytes, health.rows = info.size_bytes, info.rows
        health.last_ingest, health.last_activity = info.last_ingest, info.last_activity
    except Exception as exc:  # doctor reports a broken ledger, it does not die of it
        health.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    return health


def retention(rows: list[SettingsFile], previous_ingest: str | None, now: datetime,
              pending: tuple[int, int, int] | None = None, ingested_now: bool = False) -> Retention:
    days, source = _cleanup_days(rows)
    result = Retention(days, source, previous_ingest, ingested_now=ingested_now)
    if pending is not None:
        result.transcript_files, result.not_ingested, result.at_risk = pending
        if result.at_risk and not ingested_now:
            result.warning = (f"{result.at_risk} transcript file(s) not yet ingested are due for deletion by "
                              f"Claude Code within {AT_RISK_DAYS} days (cleanupPeriodDays = {days}): run "
                              "`claimback ingest` now")
            return result
    act = ("ingested now; keep ingesting regularly (`claimback guard install` records failures as they "
           "happen)" if ingested_now else "run `claimback ingest` now")
    if days <= 0:
        result.warning = (f"cleanupPeriodDays is {days}: Claude Code may keep no transcripts at all, so there "
                          "is no evidence to claim with; set it to 30 or more")
        return result
    last = _parse_ts(previous_ingest)
    if last is None:
        result.warning = (f"nothing ingested yet: Claude Code deletes transcripts after {days} days; run "
                          "`claimback ingest` now and regularly (or `claimback guard install`)")
    else:
        age = now - last
        if age > timedelta(days=days):
            lost_before = _iso(now - timedelta(days=days))[:10]
            result.warning = (f"last ingest was {age.days} days ago but Claude Code deletes transcripts after "
                              f"{days} days: activity before {lost_before} that was not ingested is gone; "
                              + act)
        elif age > timedelta(days=days) * 0.7:
            result.warning = (f"last ingest was {age.days} days ago; Claude Code deletes transcripts after {days} "
                              "days: " + ("ingested now" if ingested_now else
                                          "run `claimback ingest` before evidence is deleted"))
    if result.warning is None and days < 14:
        result.warning = (f"cleanupPeriodDays is {days}: outage evidence disappears quickly; ingest often or "
                          "raise it to 30+")
    return result


def pending_transcripts(ledger: Ledger, roots: list[Path], cleanup_days: int,
                        now: datetime) -> tuple[int, int, int]:
    """(files on disk, files not yet (fully) ingested, of those the ones Claude Code deletes within
    AT_RISK_DAYS). Claude Code's cleanup goes by modification time; this only stats files."""
    from claimback.sources.discovery import iter_transcripts

    known = {row["path"]: (row["size"], row["mtime_ns"]) for row in ledger.rows(
        "SELECT path, size, mtime_ns FROM files")}
    deadline = (now - timedelta(days=cleanup_days) + timedelta(days=AT_RISK_DAYS)).timestamp()
    total = pending = at_risk = 0
    for tfile in iter_transcripts(roots):
        try:
            st = os.stat(tfile.path)
        except OSError:
            continue
        total += 1
        if known.get(str(tfile.path)) == (st.st_size, st.st_mtime_ns):
            continue
        pending += 1
        if st.st_mtime < deadline:
            at_risk += 1
    return total, pending, at_risk


def failure_summary(ledger: Ledger, since: str) -> list[ClassSummary]:
    rows = ledger.rows(
        "SELECT failure_class, signature, COUNT(*) AS n, MAX(ts) AS last_ts FROM failures "
        "WHERE ts >= ? AND kind <> 'interrupt' GROUP BY failure_class, signature", (since,))
    grouped: dict[str, list[SignatureCount]] = {}
    for row in rows:
        grouped.setdefault(row["failure_class"] or UNKNOWN, []).append(
            SignatureCount(row["signature"] or "<empty>", int(row["n"]), row["last_ts"]))
    summaries = []
    for cls, sigs in grouped.items():
        info = CLASS_INFO.get(cls, CLASS_INFO[UNKNOWN])
        sigs.sort(key=lambda s: (-s.count, s.signature))
        summaries.append(ClassSummary(cls, sum(s.count for s in sigs), info.meaning, info.next_step,
                                      sigs[:TOP_SIGNATURES]))
    summaries.sort(key=lambda s: (-s.count, s.failure_class))
    return summaries


_SCOPE_ORDER = {"user": 0, "project": 1, "local": 2, "managed": 3}  # precedence, lowest first


def _all_settings(project: Path, env: dict[str, str]) -> tuple[list[SettingsFile], list[tuple[str, dict[str, Any]]]]:
    rows: list[SettingsFile] = []
    contents: list[tuple[str, dict[str, Any]]] = []
    for scope, path in settings_locations(project, env):
        row, data = read_settings(scope, path, project)
        if row.exists or scope != "managed":
            rows.append(row)
        if data:
            contents.append((scope, data))
    contents.sort(key=lambda item: _SCOPE_ORDER.get(item[0], 0))
    return rows, contents


def _cleanup_days(rows: list[SettingsFile]) -> tuple[int, str]:
    days, source = DEFAULT_CLEANUP_DAYS, "default"
    for row in sorted(rows, key=lambda r: _SCOPE_ORDER.get(r.scope, 0)):
        if row.cleanup_period_days is not None:
            days, source = row.cleanup_period_days, f"{row.scope} settings"
    return days, source


def run_doctor(ledger: Ledger | None, roots: list[Path] | None = None, *, project: Path | None = None,
               env: dict[str, str] | None = None, ingest_first: bool = True, demo: bool = False,
               now: datetime | None = None, ledger_error: str | None = None) -> DoctorReport:
    """Everything `claimback doctor` shows. Ingests first (after noting the previous ingest time, which
    the retention check compares with Claude Code's cleanup period). With `ledger=None` (it could not be
    opened: `ledger_error` says why) the rest of the diagnostics still run."""
    env = dict(os.environ if env is None else env)
    project = (project or Path.cwd()).resolve()
    now = now or _now()
    previous_ingest = None
    warnings_from_ingest = None
    pending: tuple[int, int, int] | None = None
    ingested_now = False
    rows, contents = _all_settings(project, env)
    cleanup_days = _cleanup_days(rows)[0]
    if ledger is not None:
        try:
            previous_ingest = last_ingest(ledger)
            if roots and not demo:
                pending = pending_transcripts(ledger, roots, cleanup_days, now)
            if ingest_first and roots and not demo:
                from claimback.ledger.ingest import ingest

                ingest(ledger, roots)
                ingested_now = True
        except Exception as exc:  # a broken ledger is a finding, not a crash
            warnings_from_ingest = f"ingest failed: {type(exc).__name__}: {str(exc)[:160]}"

    effective = _effective_env(env, contents)
    provider = detect_provider(effective, contents)

    if ledger is None:
        health = LedgerHealth(location=None, backend=None, error=ledger_error or "not opened")
    else:
        health = ledger_health(ledger)
    anchor = now
    if demo and health.last_activity:
        anchor = _parse_ts(health.last_activity) or now  # the demo's week, not today's
    since = _iso(anchor - timedelta(days=FAILURE_DAYS))
    failures: list[ClassSummary] = []
    if ledger is not None:
        try:
            failures = failure_summary(ledger, since)
        except Exception as exc:  # reported under the ledger's health
            health.error = health.error or f"{type(exc).__name__}: {str(exc)[:200]}"

    versions: list[str] = []
    if ledger is not None and health.error is None:
        for row in ledger.rows("SELECT cc_version, MAX(last_ts) AS seen FROM sessions WHERE cc_version IS NOT NULL "
                               "GROUP BY cc_version ORDER BY seen DESC LIMIT 3"):
            versions.append(str(row["cc_version"])[:40])
    report = DoctorReport(
        claimback_version=__version__,
        os=f"{platform.system()} {platform.release()} ({platform.machine()})",
        python=f"{platform.python_implementation()} {platform.python_version()}",
        claude=find_claude(env),
        provider=provider,
        models=model_settings(effective, rows),
        settings_files=rows,
        env_vars=env_var_names(env),
        retention=retention(rows, previous_ingest if not demo else health.last_ingest, now, pending, ingested_now),
        ledger=health,
        failures_since=since,
        failures=failures,
        demo=demo,
        claude_versions_in_logs=versions,
    )
    w = report.warnings
    if warnings_from_ingest:
        w.append(warnings_from_ingest)
    if not report.claude.found or report.claude.error:
        w.append(report.claude.error or "claude not found")
    for row in rows:
        if row.error:
            w.append(f"{row.scope} settings {row.path}: {row.error}")
    w.extend(provider.problems)
    if report.retention.warning:
        w.append(report.retention.warning)
    if health.error:
        w.append(f"ledger: {health.error}")
    elif health.schema_version is not None and health.schema_latest is not None \
            and health.schema_version < health.schema_latest:
        w.append(f"ledger schema {health.schema_version} is older than {health.schema_latest}")
    if not any(h.is_claimback for row in rows for h in row.hooks):
        w.append("claimback's guard hooks are not installed: `claimback guard install` stops subagent launches "
                 "during an outage and records failures as they happen")
    return report


# -- explain ------------------------------------------------------------------------------------------
@dataclass
class IncidentNote:
    checked: bool  # False: no status data cached
    explains: bool | None
    summary: str
    incidents: list[dict[str, Any]] = field(default_factory=list)  # id, name, status, impact, started, link
    cache_fetched_at: str | None = None


@dataclass
class Explanation:
    failure_class: str
    meaning: str
    likely_cause: str
    next_step: str
    signature: str
    status: int | None
    error_type: str | None
    code: str | None
    incident: IncidentNote
    suggestion: str | None = None


_RELEVANT_COMPONENTS = ("claude api", "claude code", "api.anthropic.com", "claude.ai")


def _read_cached(name: str) -> tuple[Any, dict[str, Any] | None]:
    """One cached status payload, offline only (never fetches). Missing or corrupt → (None, None)."""
    try:
        from claimback.sources.statuspage import read_cache
    except ImportError:
        read_cache = None
    if read_cache is not None:
        cached = read_cache(name)
        return (cached.data, cached.meta) if cached is not None else (None, None)
    from claimback.config import cache_dir

    base = cache_dir() / "status"
    try:
        body = json.loads((base / f"{name}.json").read_text(encoding="utf-8"))
        meta = json.loads((base / f"{name}.meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None, None
    return body, meta if isinstance(meta, dict) else None


def current_incidents() -> tuple[list[dict[str, Any]] | None, str | None]:
    """Unresolved incidents from the status cache (COMMON.md contract); (None, None) when no data."""
    for name in ("unresolved", "summary", "incidents"):
        body, meta = _read_cached(name)
        if not isinstance(body, dict) or not isinstance(body.get("incidents"), list):
            continue
        open_ones = [i for i in body["incidents"] if isinstance(i, dict)
                     and str(i.get("status", "")).lower() not in ("resolved", "completed", "postmortem")]
        return open_ones, (meta or {}).get("fetched_at")
    return None, None


def _incident_row(incident: dict[str, Any]) -> dict[str, Any]:
    components = [c.get("name") for c in incident.get("components") or () if isinstance(c, dict)]
    return {"id": incident.get("id"), "name": incident.get("name"), "status": incident.get("status"),
            "impact": incident.get("impact"), "started": incident.get("started_at") or incident.get("created_at"),
            "link": incident.get("shortlink"), "components": [c for c in components if c]}


def _relevant(incident: dict[str, Any]) -> bool:
    components = [str(c.get("name", "")).lower() for c in incident.get("components") or () if isinstance(c, dict)]
    if not components:
        return True  # many Anthropic incidents name no component; an open one may well be ours
    return any(any(key in c for key in _RELEVANT_COMPONENTS) for c in components)


def incident_note(failure_class: str) -> IncidentNote:
    incidents, fetched = current_incidents()
    if incidents is None:
        return IncidentNote(False, None, "no status-page data cached: run `claimback status` to check for a "
                            "current incident")
    relevant = [_incident_row(i) for i in incidents if _relevant(i)]
    if not relevant:
        return IncidentNote(True, False, "no open incident on status.claude.com"
                            + (" (as of " + str(fetched)[:16].replace("T", " ") + " UTC)" if fetched else ""),
                            cache_fetched_at=fetched)
    names = "; ".join(f"{r['name']} ({r['status']})" for r in relevant[:3])
    if failure_class == OUTAGE:
        return IncidentNote(True, True, f"yes, likely: open incident {names}", relevant, fetched)
    return IncidentNote(True, False, f"an incident is open ({names}), but a {failure_class} error is not the kind "
                        "an outage causes", relevant, fetched)


def explain(text: str) -> Explanation:
    """Classify one error message, with what it means, its likely cause, the next step, the normalized
    signature, and whether a current incident explains it."""
    status, etype, code = extract_fields(text)
    cls = classify(status, etype, code, text)
    info = CLASS_INFO.get(cls, CLASS_INFO[UNKNOWN])
    result = Explanation(cls, info.meaning, info.likely_cause, info.next_step,
                         normalize_signature(text), status, etype, code, incident_note(cls))
    if cls == UNKNOWN:
        result.suggestion = ("Run `claimback doctor` for the full diagnostics; quote the signature above (not "
                             "the raw text) when you report it.")
    elif cls == INTERRUPT:
        result.incident = IncidentNote(False, None, "not applicable: an interruption is not an API error")
    return result


# -- verify ------------------------------------------------------------------------------------------
@dataclass
class Check:
    name: str
    ok: bool | None  # None: could not tell
    detail: str


@dataclass
class VerifyReport:
    signature: str | None
    failure_class: str | None
    last_seen: str | None
    checks: list[Check]
    gone: bool | None
    verdict: str


def _probe(env: dict[str, str]) -> Check:
    """The smallest real action: one tiny non-interactive Claude Code request (costs a few tokens)."""
    claude = shutil.which("claude", path=env.get("PATH"))
    if claude is None:
        return Check("probe", None, "claude not found: cannot re-run a request")
    try:
        done = _run([claude, "-p", "Reply with the single word OK.", "--max-turns", "1"], PROBE_TIMEOUT, env)
    except subprocess.TimeoutExpired:
        return Check("probe", False, f"no answer in {PROBE_TIMEOUT:.0f}s (classified: outage-like stall)")
    except OSError as exc:
        return Check("probe", None, f"cannot run claude: {exc.strerror or exc}")
    output = ((done.stdout or "") + "\n" + (done.stderr or "")).strip()
    if done.returncode == 0 and "API Error" not in output:
        return Check("probe", True, "a one-line request succeeded")
    cls = classify(text=output)
    return Check("probe", False, f"failed ({cls}): {normalize_signature(output)[:120]}")


_PREFLIGHT_OK = {"ok": True, "fail": False, "outage": False, "warn": None, "skip": None}


def _preflight_checks(env: dict[str, str], probe: bool) -> list[Check] | None:
    """The CI preflight's checks (status from the cache only; the probe when asked), or None when this
    build has no preflight or its interface is not the one expected."""
    try:
        from claimback.prevent.preflight import run_preflight
    except ImportError:
        return None
    try:
        report = run_preflight(do_probe=probe, environ=env, fetch_status=False)
        return [Check(c.name if c.name == "probe" else f"preflight {c.name}", _PREFLIGHT_OK.get(c.status),
                      f"{c.status}: {c.summary}") for c in report.checks]
    except (TypeError, AttributeError, ValueError, OSError) as exc:  # another helper's module: fail soft
        return [Check("preflight", None, f"preflight could not run ({type(exc).__name__})")]


def verify(ledger: Ledger, roots: list[Path] | None = None, *, probe: bool = False,
           env: dict[str, str] | None = None, ingest_first: bool = True) -> VerifyReport:
    """Re-run the smallest checks and say whether the last failure's signature is gone."""
    env = dict(os.environ if env is None else env)
    checks: list[Check] = []
    if ingest_first and roots:
        from claimback.ledger.ingest import ingest

        ingest(ledger, roots)
    last = ledger.rows("SELECT ts, signature, failure_class FROM failures WHERE kind <> 'interrupt' "
                       "ORDER BY ts DESC LIMIT 1")
    signature = last[0]["signature"] if last else None
    cls = last[0]["failure_class"] if last else None
    last_ts = last[0]["ts"] if last else None
    if last:
        checks.append(Check("reclassify", True, f"last failure {last_ts[:16].replace('T', ' ')} UTC is "
                            f"{cls}: {CLASS_INFO.get(cls or UNKNOWN, CLASS_INFO[UNKNOWN]).next_step}"))
        after = ledger.scalar("SELECT COUNT(*) FROM requests WHERE ts > ?", (last_ts,))
        repeats = ledger.scalar("SELECT COUNT(*) FROM failures WHERE signature = ? AND ts > ?",
                                (signature, _iso(_now() - timedelta(minutes=15))))
        checks.append(Check("since", bool(after) if after else None,
                            f"{after} successful request(s) recorded after it" if after
                            else "no request recorded after it yet"))
        if repeats:
            checks.append(Check("recent repeats", False, f"{repeats} failure(s) with this signature in the "
                                "last 15 minutes"))
    pre = _preflight_checks(env, probe)
    if pre is None:
        # No CI preflight in this build: the checks that exist here.
        claude = find_claude(env)
        checks.append(Check("claude", claude.found and not claude.error, claude.version or claude.error or "found"))
        incidents, _fetched = current_incidents()
        if incidents is None:
            checks.append(Check("status page", None, "no cached status data (run `claimback status`)"))
        else:
            relevant = [i for i in incidents if _relevant(i)]
            checks.append(Check("status page", not relevant, "no open incident" if not relevant else
                                "open: " + "; ".join(str(i.get("name")) for i in relevant[:3])))
    else:
        checks.extend(pre)
    probe_check = next((c for c in checks if c.name == "probe"), None)
    if probe and (probe_check is None or probe_check.ok is None):
        # The preflight probe needs an API key; a subscription login is probed with a one-line `claude -p`.
        checks = [c for c in checks if c.name != "probe"] + [_probe(env)]
    probe_check = next((c for c in checks if c.name == "probe"), None)
    if signature is None:
        gone, verdict = None, "no failure recorded in the ledger: nothing to verify"
    elif probe_check is not None and probe_check.ok is not None:
        gone = probe_check.ok
        verdict = ("the signature is gone: a real request succeeds now" if gone
                   else "still failing: " + probe_check.detail)
    elif any(c.name == "recent repeats" for c in checks):
        gone, verdict = False, "still failing: the same signature keeps appearing"
    elif any(c.name == "since" and c.ok for c in checks):
        gone, verdict = True, "the signature is gone: requests have succeeded since it last appeared"
    else:
        gone = None
        verdict = ("cannot tell yet: no request since the failure. Re-run the smallest failing action "
                   + "(`claimback doctor verify --probe`, a one-line request that costs a few tokens)")
    return VerifyReport(signature, cls, last_ts, checks, gone, verdict)
