"""`claimback preflight`: should a CI job start an expensive Claude Code run right now? (DESIGN §7)

Checks, each ok | warn | fail | outage | skip:
- claude: Claude Code is installed (path, `claude --version` under a timeout);
- auth: credentials are configured for the chosen provider — variable and file NAMES only, never values;
- provider: Anthropic / Bedrock / Vertex / custom base URL settings agree with each other;
- model: the configured model name (ANTHROPIC_MODEL or settings "model") looks like a model;
- status: Anthropic's status page shows no unresolved incident for the components that matter
  (cached ≤ 60 s, else fetched with a 3 s deadline);
- retention: `cleanupPeriodDays` will not delete the transcripts (the evidence) too soon;
- probe (opt-in, `--probe`): one minimal real Messages request (max_tokens 1) via ANTHROPIC_BASE_URL.

Exit codes: 0 ok, 1 a check failed, 3 warnings only (1 with --strict), 75 active outage (retry later).
A failed check wins over an outage: retrying later will not fix a broken configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimback.core import claude_config
from claimback.core.files import display_path
from claimback.core.times import format_epoch
from claimback.errors import EXIT_ERROR, EXIT_OK, EXIT_TEMPORARY, EXIT_WARNINGS
from claimback.prevent import signals
from claimback.sources.incident_text import model_family

VERSION_TIMEOUT_S = 10.0
STATUS_MAX_AGE_S = 60.0
PROBE_TIMEOUT_S = 20.0
DEFAULT_API_URL = "https://api.anthropic.com"
PROBE_MODEL = "claude-haiku-4-5"  # the cheapest current model when none is configured
ORDER = {"ok": 0, "skip": 0, "warn": 1, "outage": 2, "fail": 3}
MODEL_ALIASES = {"default", "sonnet", "opus", "haiku", "opusplan", "best", "sonnet[1m]", "opus[1m]"}
_MODEL_ID = re.compile(r"^(?:[a-z]{2,4}\.)?(?:anthropic\.)?claude[-a-z0-9.@:\[\]]*$|^arn:aws:bedrock:", re.IGNORECASE)


@dataclass
class Check:
    name: str
    status: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreflightReport:
    verdict: str
    exit_code: int
    checks: list[Check]
    strict: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------ settings and env


def _settings(project_dir: Path, environ: dict[str, str]) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """Claude Code's settings merged as it merges them (managed included), and the effective env: the
    process environment wins over settings `env` (CI sets it last)."""
    contents = claude_config.read_all(project_dir, environ)
    return (claude_config.merge_settings(data for _, data in contents),
            claude_config.effective_env(environ, contents))


def _get(env: dict[str, tuple[str, str]], name: str) -> str:
    return env.get(name, ("", ""))[0].strip()


def _flag(env: dict[str, tuple[str, str]], name: str) -> bool:
    return claude_config.truthy(_get(env, name))


# ------------------------------------------------------------------------------ checks


def check_claude(environ: dict[str, str]) -> Check:
    path = shutil.which("claude", path=environ.get("PATH"))
    if not path:
        return Check("claude", "fail", "Claude Code (`claude`) not found on PATH; install it "
                     "(npm install -g @anthropic-ai/claude-code) or fix PATH")
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S,
                              env=environ, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Check("claude", "fail", f"`claude --version` did not answer within {VERSION_TIMEOUT_S:.0f} s",
                     {"path": display_path(path)})
    except OSError as exc:
        return Check("claude", "fail", f"cannot run claude: {exc.strerror}", {"path": display_path(path)})
    match = re.search(r"\d+\.\d+\.\d+", proc.stdout or "")
    if proc.returncode != 0 or not match:
        return Check("claude", "fail", f"`claude --version` failed (exit {proc.returncode})",
                     {"path": display_path(path)})
    return Check("claude", "ok", f"Claude Code {match.group(0)} ({display_path(path)})",
                 {"version": match.group(0), "path": display_path(path)})


def provider_of(env: dict[str, tuple[str, str]]) -> str:
    """anthropic | bedrock | vertex | foundry | base_url (a relay or gateway: core/provider.py's "other")."""
    provider = claude_config.implied_provider(env)
    return "base_url" if provider == "other" else provider


def check_provider(env: dict[str, tuple[str, str]]) -> Check:
    bedrock, vertex = _flag(env, "CLAUDE_CODE_USE_BEDROCK"), _flag(env, "CLAUDE_CODE_USE_VERTEX")
    base = _get(env, "ANTHROPIC_BASE_URL")
    problems: list[str] = []
    warnings: list[str] = []
    detail: dict[str, Any] = {"provider": provider_of(env)}
    if bedrock and vertex:
        problems.append("both CLAUDE_CODE_USE_BEDROCK and CLAUDE_CODE_USE_VERTEX are set; choose one")
    if bedrock and not (_get(env, "AWS_REGION") or _get(env, "AWS_DEFAULT_REGION")):
        problems.append("Bedrock needs AWS_REGION (or AWS_DEFAULT_REGION)")
    if vertex:
        for name in ("CLOUD_ML_REGION", "ANTHROPIC_VERTEX_PROJECT_ID"):
            if not _get(env, name):
                problems.append(f"Vertex needs {name}")
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append("ANTHROPIC_BASE_URL is not an http(s) URL")
        else:
            detail["base_url_host"] = parts.hostname  # host only: no credentials, no path
            if parts.username or parts.password:
                warnings.append("ANTHROPIC_BASE_URL carries credentials in the URL")
        if bedrock or vertex:
            warnings.append("ANTHROPIC_BASE_URL is set together with Bedrock/Vertex; "
                            "use ANTHROPIC_BEDROCK_BASE_URL / ANTHROPIC_VERTEX_BASE_URL for a gateway")
    label = {"bedrock": "Amazon Bedrock", "vertex": "Google Vertex AI",
             "foundry": "Microsoft Foundry",
             "base_url": f"custom base URL ({detail.get('base_url_host', '?')})",
             "anthropic": "Anthropic API"}[detail["provider"]]
    if problems:
        return Check("provider", "fail", "; ".join(problems), detail)
    if warnings:
        return Check("provider", "warn", f"{label}; " + "; ".join(warnings), detail)
    return Check("provider", "ok", label, detail)


def check_auth(env: dict[str, tuple[str, str]], settings: dict[str, Any]) -> Check:
    provider = provider_of(env)
    found: list[str] = []
    empty: list[str] = []

    def look(*names: str) -> None:
        for name in names:
            if name in env:
                (found if _get(env, name) else empty).append(name)

    if provider == "bedrock":
        look("AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
        if "AWS_ACCESS_KEY_ID" in found and not _get(env, "AWS_SECRET_ACCESS_KEY"):
            return Check("auth", "fail", "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY",
                         {"names": found})
        if (Path.home() / ".aws" / "credentials").is_file():
            found.append("~/.aws/credentials")
        if settings.get("awsAuthRefresh") or settings.get("awsCredentialExport"):
            found.append("settings awsAuthRefresh/awsCredentialExport")
    elif provider == "vertex":
        look("GOOGLE_APPLICATION_CREDENTIALS")
        adc = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
        if adc.is_file():
            found.append("~/.config/gcloud/application_default_credentials.json")
    else:
        look("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
        if isinstance(settings.get("apiKeyHelper"), str) and settings["apiKeyHelper"].strip():
            found.append("settings apiKeyHelper")
        for base in claude_config.config_dirs()[:1]:
            if (base / ".credentials.json").is_file():
                found.append(".credentials.json (claude /login)")
                break
    detail = {"provider": provider, "names": found, "empty": empty}
    if not found:
        extra = f" ({', '.join(empty)} set but empty)" if empty else ""
        hint = {"bedrock": "AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_BEARER_TOKEN_BEDROCK)",
                "vertex": "Google credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud ADC)"}.get(
            provider, "ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN (claude setup-token) or apiKeyHelper")
        return Check("auth", "fail", f"no credentials found{extra}; set {hint}", detail)
    anthropic_kinds = [n for n in found if n in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
                                                 "settings apiKeyHelper")]
    if len(anthropic_kinds) > 1:
        return Check("auth", "warn", f"several credentials configured ({', '.join(anthropic_kinds)}); "
                     "make sure the one you mean is used (an API key is billed per token)", detail)
    if empty:
        return Check("auth", "warn", f"using {', '.join(found)}; {', '.join(empty)} set but empty", detail)
    return Check("auth", "ok", f"credentials configured: {', '.join(found)}", detail)


def configured_model(env: dict[str, tuple[str, str]], settings: dict[str, Any]) -> str | None:
    model = _get(env, "ANTHROPIC_MODEL")
    if model:
        return model
    value = settings.get("model")
    return value.strip() if isinstance(value, str) and value.strip() else None


def check_model(env: dict[str, tuple[str, str]], settings: dict[str, Any]) -> Check:
    model = configured_model(env, settings)
    if not model:
        return Check("model", "ok", "Claude Code's default model (none configured)", {"model": None})
    source = "ANTHROPIC_MODEL" if _get(env, "ANTHROPIC_MODEL") else "settings model"
    from claimback.core.secrets import scrub

    model = scrub(model)  # a key pasted into the model setting is not printed (CI logs are public)
    detail = {"model": model, "source": source}
    if model.lower() in MODEL_ALIASES or _MODEL_ID.match(model):
        return Check("model", "ok", f"{model} (from {source})", detail)
    if provider_of(env) in ("bedrock", "vertex", "foundry", "base_url"):
        return Check("model", "warn", f"{model!r} (from {source}) is not a Claude model name claimback knows; "
                     "fine if your provider or gateway maps it", detail)
    return Check("model", "warn", f"{model!r} (from {source}) is not a known Claude model name or alias "
                 "(sonnet, opus, haiku, claude-…)", detail)


def check_status(model: str | None, fetch: bool = True, provider: str = "anthropic") -> Check:
    """Unresolved incidents for the components that matter (and the configured model)."""
    config_dir, data_dir, cache_dir = signals.fast_dirs()
    policy, _ = signals.load_policy(config_dir, data_dir)
    incidents, fetched, problem = signals.read_status_cache(cache_dir)
    age = None if fetched is None else time.time() - fetched
    fault = None
    if fetch and (age is None or age > STATUS_MAX_AGE_S):
        from claimback.sources.status_client import fetch_all

        outcome = fetch_all(("unresolved",))["unresolved"]
        if outcome.ok:
            incidents, fetched, problem = signals.read_status_cache(cache_dir)
            age = None if fetched is None else time.time() - fetched
        else:
            fault = outcome.fault
    if incidents is None or age is None or age > float(policy["max_cache_age_minutes"]) * 60:
        why = fault or problem or "status cache too old"
        return Check("status", "warn", f"Anthropic status unknown ({why})", {"fault": why})
    used = [f for f in [model_family(model)] if f]
    relevant = []
    for inc in incidents:
        level = signals.classify_incident(inc, policy, used)
        if level:
            relevant.append({"id": inc.get("id"), "name": inc.get("name"), "impact": inc.get("impact"),
                             "status": inc.get("status"), "level": level, "shortlink": inc.get("shortlink"),
                             "since": format_epoch(s) if (s := signals.incident_since(inc)) else None})
    detail = {"incidents": relevant, "unrelated": len(incidents) - len(relevant), "cache_age_s": round(age, 1)}
    if not relevant:
        extra = f" ({len(incidents)} unrelated unresolved)" if incidents else ""
        return Check("status", "ok", f"no unresolved incident for Claude API / Claude Code{extra}", detail)
    names = "; ".join(f"\"{i['name']}\" ({i['impact']}, {i['status']}, since {i['since'] or '?'})" for i in relevant)
    if any(i["level"] == "active" for i in relevant):
        if provider in ("bedrock", "vertex", "foundry", "base_url"):
            # The status page covers Anthropic's own API; on Bedrock, Vertex, Foundry or a gateway it is a
            # warning sign only (as in the guard hook).
            return Check("status", "warn", f"Anthropic reports {names} (this job uses {provider})", detail)
        return Check("status", "outage", f"Anthropic reports {names}: retry later", detail)
    return Check("status", "warn", f"Anthropic is monitoring a fix: {names}", detail)


def check_retention(settings: dict[str, Any]) -> Check:
    value = settings.get("cleanupPeriodDays")
    if value is None:
        return Check("retention", "ok", "transcripts kept 30 days (Claude Code default); `claimback ingest` "
                     "keeps them for good", {"cleanupPeriodDays": None})
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        return Check("retention", "warn", f"cleanupPeriodDays={value!r} is not a number of days",
                     {"cleanupPeriodDays": value})
    if value < 14:
        return Check("retention", "warn", f"cleanupPeriodDays={value:g}: transcripts (the evidence of an "
                     "outage's cost) are deleted within two weeks; raise it or run `claimback ingest` often",
                     {"cleanupPeriodDays": value})
    return Check("retention", "ok", f"transcripts kept {value:g} days", {"cleanupPeriodDays": value})


def probe(env: dict[str, tuple[str, str]], model: str | None) -> Check:
    """One minimal real Messages request (max_tokens 1): costs a few tokens; opt-in only."""
    provider = provider_of(env)
    if provider in ("bedrock", "vertex", "foundry"):
        return Check("probe", "skip", f"probe not supported for {provider}; run a one-line `claude -p` instead")
    key, token = _get(env, "ANTHROPIC_API_KEY"), _get(env, "ANTHROPIC_AUTH_TOKEN")
    if not key and not token:
        return Check("probe", "skip", "probe needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN (subscription "
                     "logins cannot be probed without spending a Claude Code turn)")
    import httpx

    base = (_get(env, "ANTHROPIC_BASE_URL") or DEFAULT_API_URL).rstrip("/")
    use_model = model if model and _MODEL_ID.match(model) else PROBE_MODEL
    headers = {"anthropic-version": "2023-06-01", "content-type": "application/json",
               "user-agent": "claimback-preflight"}
    if key:
        headers["x-api-key"] = key
    else:
        headers["authorization"] = f"Bearer {token}"
    body = {"model": use_model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}
    started = time.monotonic()
    host = urlsplit(base).hostname
    try:
        resp = httpx.post(f"{base}/v1/messages", json=body, headers=headers, timeout=PROBE_TIMEOUT_S)
    except httpx.TimeoutException:
        return Check("probe", "outage", f"no answer from {host} within {PROBE_TIMEOUT_S:.0f} s", {"host": host})
    except httpx.HTTPError as exc:
        return Check("probe", "fail", f"cannot reach {host}: {type(exc).__name__}", {"host": host})
    ms = round((time.monotonic() - started) * 1000)
    etype = None
    try:
        payload = resp.json()
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            etype = payload["error"].get("type")
    except ValueError:
        pass
    detail = {"host": host, "model": use_model, "http_status": resp.status_code, "error_type": etype,
              "ms": ms, "request_id": resp.headers.get("request-id")}
    code = resp.status_code
    if 200 <= code < 300:
        return Check("probe", "ok", f"{use_model} answered in {ms} ms", detail)
    what = f"HTTP {code}{' ' + etype if etype else ''}"
    if code in signals.OUTAGE_STATUSES or code >= 500 or etype in ("overloaded_error", "api_error"):
        return Check("probe", "outage", f"the API is failing ({what}): retry later", detail)
    if code == 429:
        return Check("probe", "warn", f"rate limited ({what}): the run may stall", detail)
    if code in (401, 403):
        return Check("probe", "fail", f"credentials refused ({what})", detail)
    return Check("probe", "fail", f"request refused ({what}); check the model name and base URL", detail)


# ------------------------------------------------------------------------------ the whole run


def run_preflight(*, strict: bool = False, do_probe: bool = False, project_dir: str | os.PathLike[str] | None = None,
                  environ: dict[str, str] | None = None, fetch_status: bool = True) -> PreflightReport:
    environ = dict(os.environ if environ is None else environ)
    settings, env = _settings(Path(project_dir) if project_dir else Path.cwd(), environ)
    model = configured_model(env, settings)
    checks = [
        check_claude(environ),
        check_auth(env, settings),
        check_provider(env),
        check_model(env, settings),
        check_status(model, fetch=fetch_status, provider=provider_of(env)),
        check_retention(settings),
    ]
    if do_probe:
        checks.append(probe(env, model))
    return _report(checks, strict)


def _report(checks: list[Check], strict: bool) -> PreflightReport:
    worst = max((c.status for c in checks), key=lambda s: ORDER[s])
    verdict = {"skip": "ok"}.get(worst, worst)
    if verdict == "fail":
        code = EXIT_ERROR
    elif verdict == "outage":
        code = EXIT_TEMPORARY
    elif verdict == "warn":
        code = EXIT_ERROR if strict else EXIT_WARNINGS
    else:
        code = EXIT_OK
    return PreflightReport(verdict, code, checks, strict)


def baseline_check(report: PreflightReport, baseline: str | os.PathLike[str],
                   project_dir: str | os.PathLike[str] | None = None) -> PreflightReport:
    """Add a `baseline` check: this setup against a working setup's `doctor --out` snapshot
    (prevent/compare.py); likely differences fail it, lesser ones warn."""
    from claimback.prevent.compare import compare_snapshots, load_snapshot, this_snapshot

    ref = load_snapshot(baseline)
    diff = compare_snapshots(ref, this_snapshot(Path(project_dir) if project_dir else None),
                             working_name=str(baseline), this_name="this setup")
    likely = diff.likely
    if likely:
        top = likely[0]
        status = "fail"
        summary = (f"{len(likely)} likely difference(s) from {baseline}: {top.what} "
                   f"(working {top.working!r}, here {top.this!r}); try: {top.try_this}")
    elif diff.differences:
        status, summary = "warn", f"{len(diff.differences)} minor difference(s) from {baseline}"
    else:
        status, summary = "ok", f"matches {baseline}"
    checks = [*report.checks, Check("baseline", status, summary, {"differences": diff.to_dict()["differences"]})]
    return _report(checks, report.strict)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: PreflightReport) -> list[str]:
    """Workflow commands (`::error title=…::message`) for the checks that are not ok."""
    lines = []
    for check in report.checks:
        if check.status in ("ok", "skip"):
            continue
        level = "warning" if check.status == "warn" and not report.strict else "error"
        title = _escape_prop(f"claimback preflight: {check.name}")
        lines.append(f"::{level} title={title}::{_escape_data(check.summary)}")
    if report.verdict == "ok":
        lines.append(f"::notice title={_escape_prop('claimback preflight')}::all checks passed")
    return lines


def step_summary_markdown(report: PreflightReport) -> str:
    icon = {"ok": "✅", "skip": "➖", "warn": "⚠️", "outage": "⛔", "fail": "❌"}
    rows = ["### claimback preflight", "", f"Verdict: **{report.verdict}** (exit {report.exit_code})", "",
            "| check | result | detail |", "|---|---|---|"]
    for c in report.checks:
        rows.append(f"| {c.name} | {icon.get(c.status, '')} {c.status} | {c.summary.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
