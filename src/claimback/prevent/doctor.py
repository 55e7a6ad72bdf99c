"""`claimback doctor`: non-secret diagnostics (DESIGN §7).

The troubleshooting path is always the same: confirm the exact error signature; check account, local
tool state and provider configuration; decide the class (outage, quota/rate, auth, model/provider,
local runtime, deployment configuration); record non-secret diagnostics; change one thing and re-run
the smallest failing action. `run_doctor` gathers the diagnostics, `explain` classifies one message,
`verify` re-runs the smallest check and says whether the signature is gone. Those two live in
`explain.py` and `verify.py`; Claude Code's settings are read through `core/claude_config.py`.

Privacy rules, enforced here and tested with planted secrets: environment variables are reported by
name only; settings files by key names, model names, hook events and the first word of hook commands;
URLs by host only; paths under the home directory as `~/…`. No value that could hold a credential is
ever copied into a report.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from claimback import __version__
from claimback.core.classify import CLASS_INFO, UNKNOWN
from claimback.core.claude_config import (
    Provider,
    SettingsFile,
    all_settings,
    cleanup_period,
    detect_provider,
    display_path,
    effective_env,
    hook_policy,
    model_settings,
)
from claimback.core.times import format_iso, parse_iso, utc_now
from claimback.ledger.store import Ledger

CLAUDE_VERSION_TIMEOUT = 5.0
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


# -- data -----------------------------------------------------------------------------------------
@dataclass
class ClaudeBinary:
    found: bool
    path: str | None = None
    version: str | None = None
    error: str | None = None


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
    # Who served the requests in your logs (core/provider.py), next to what the settings select: a relay
    # or cloud route in the logs makes those failures not claimable with Anthropic.
    provider_expected: str = "anthropic"
    providers_in_logs: dict[str, dict[str, int]] = field(default_factory=dict)  # provider -> requests/failures


# -- claude binary --------------------------------------------------------------------------------
def run_bounded(cmd: list[str], timeout: float, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
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
        done = run_bounded([path, "--version"], CLAUDE_VERSION_TIMEOUT, env)
    except subprocess.TimeoutExpired:
        return ClaudeBinary(True, display_path(path), error=f"`claude --version` did not answer in "
                            f"{CLAUDE_VERSION_TIMEOUT:.0f}s")
    except OSError as exc:
        return ClaudeBinary(True, display_path(path), error=f"cannot run claude: {exc.strerror or exc}")
    first = (done.stdout or "").strip().splitlines()
    if done.returncode != 0 or not first:
        return ClaudeBinary(True, display_path(path), error=f"`claude --version` exited {done.returncode}")
    return ClaudeBinary(True, display_path(path), version=first[0][:80])


def env_var_names(env: dict[str, str]) -> list[str]:
    return sorted(n for n, v in env.items() if v != "" and (n in ENV_NAMES or n.startswith(ENV_PREFIXES)))


# What claimback relies on, and the Claude Code version that brought it (its CHANGELOG).
CLIENT_FEATURES = (
    ((2, 1, 78), "the StopFailure hook (claimback records failed turns as they happen)"),
    ((2, 1, 80), "rate_limits in the status line input (claimback's quota snapshots)"),
)


def client_version_warnings(version_text: str | None) -> list[str]:
    """One warning per feature claimback relies on that the installed client is too old for."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", version_text or "")
    if not match:
        return []
    have = tuple(int(g) for g in match.groups())
    return [f"Claude Code {match.group(0)} is older than {'.'.join(map(str, need))}, which added {what}: "
            "update Claude Code (`claude update`)" for need, what in CLIENT_FEATURES if have < need]


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
    days, source = cleanup_period(rows)
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
    last = parse_iso(previous_ingest)
    if last is None:
        result.warning = (f"nothing ingested yet: Claude Code deletes transcripts after {days} days; run "
                          "`claimback ingest` now and regularly (or `claimback guard install`)")
    else:
        age = now - last
        if age > timedelta(days=days):
            lost_before = format_iso(now - timedelta(days=days))[:10]
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


def provider_mix(ledger: Ledger) -> dict[str, dict[str, int]]:
    """Requests and failures per provider, over the whole ledger."""
    from claimback.core.provider import PROVIDERS, SQL_PROVIDER

    mix: dict[str, dict[str, int]] = {}
    for table, key in (("requests", "requests"), ("failures", "failures")):
        extra = " WHERE kind <> 'interrupt'" if table == "failures" else ""
        for row in ledger.rows(f"SELECT {SQL_PROVIDER} AS p, COUNT(*) AS n FROM {table}{extra} GROUP BY {SQL_PROVIDER}"):
            mix.setdefault(str(row["p"]), {"requests": 0, "failures": 0})[key] = int(row["n"])
    order = {name: i for i, name in enumerate(PROVIDERS)}
    return dict(sorted(mix.items(), key=lambda kv: order.get(kv[0], len(order))))


def run_doctor(ledger: Ledger | None, roots: list[Path] | None = None, *, project: Path | None = None,
               env: dict[str, str] | None = None, ingest_first: bool = True, demo: bool = False,
               now: datetime | None = None, ledger_error: str | None = None) -> DoctorReport:
    """Everything `claimback doctor` shows. Ingests first (after noting the previous ingest time, which
    the retention check compares with Claude Code's cleanup period). With `ledger=None` (it could not be
    opened: `ledger_error` says why) the rest of the diagnostics still run."""
    env = dict(os.environ if env is None else env)
    project = (project or Path.cwd()).resolve()
    now = now or utc_now()
    previous_ingest = None
    warnings_from_ingest = None
    pending: tuple[int, int, int] | None = None
    ingested_now = False
    rows, contents = all_settings(project, env)
    cleanup_days = cleanup_period(rows)[0]
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

    effective = effective_env(env, contents)
    provider = detect_provider(effective, contents)

    if ledger is None:
        health = LedgerHealth(location=None, backend=None, error=ledger_error or "not opened")
    else:
        health = ledger_health(ledger)
    # "Recent" counts back from the newest data: logs older than the window (a copy from another
    # machine, the demo's week) still show their failures.
    anchor = now
    newest = [health.last_activity] if health.last_activity else []
    if ledger is not None and health.error is None:
        try:
            newest.append(ledger.scalar("SELECT MAX(ts) FROM failures"))
        except Exception:  # noqa: BLE001 - the summary below reports a broken ledger
            pass
    last = max((t for t in (parse_iso(v) for v in newest if v) if t is not None), default=None)
    if last is not None and last < now:
        anchor = last
    since = format_iso(anchor - timedelta(days=FAILURE_DAYS))
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
    from claimback.core.provider import LABELS, provider_from_env

    report.provider_expected = provider_from_env({k: v for k, (v, _src) in effective.items()})
    if ledger is not None and health.error is None:
        try:
            report.providers_in_logs = provider_mix(ledger)
        except Exception as exc:  # reported under the ledger's health
            health.error = health.error or f"{type(exc).__name__}: {str(exc)[:200]}"
    w = report.warnings
    if warnings_from_ingest:
        w.append(warnings_from_ingest)
    if not report.claude.found or report.claude.error:
        w.append(report.claude.error or "claude not found")
    for row in rows:
        if row.error:
            w.append(f"{row.scope} settings {row.path}: {row.error}")
    w.extend(provider.problems)
    seen_elsewhere = [p for p, n in report.providers_in_logs.items()
                      if p != report.provider_expected and (n["requests"] or n["failures"])]
    if seen_elsewhere:
        w.append(f"your logs show requests or failures through {', '.join(LABELS.get(p, p) for p in seen_elsewhere)}, "
                 f"while your settings select {LABELS.get(report.provider_expected, report.provider_expected)}; "
                 "only what Anthropic's API served can be claimed with Anthropic")
    if report.retention.warning:
        w.append(report.retention.warning)
    if health.error:
        w.append(f"ledger: {health.error}")
    elif health.schema_version is not None and health.schema_latest is not None \
            and health.schema_version < health.schema_latest:
        w.append(f"ledger schema {health.schema_version} is older than {health.schema_latest}")
    inert = hook_policy(contents).reason()
    if inert:
        w.append(inert)
    w.extend(client_version_warnings(report.claude.version))
    if not any(h.is_claimback for row in rows for h in row.hooks):
        w.append("claimback's guard hooks are not installed: `claimback guard install` stops subagent launches "
                 "during an outage and records failures as they happen")
    return report


