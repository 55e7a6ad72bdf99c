"""`claimback doctor compare WORKING.json [THIS.json]`: what differs from a setup that works.

"It works on my laptop, not in CI" is the first thing Claude Code's troubleshooting asks you to narrow
down. Two `doctor --out FILE.json` snapshots (non-secret: names, hosts, first words of hook commands)
are lined up field by field; each difference gets a weight for how often it explains "fails here only"
(where requests go and with what credentials first, then the client, proxies, hooks, settings) and the
one change to try. `preflight --baseline WORKING.json` fails CI on the likely ones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from claimback.core.files import UnsafeFile, read_regular_text
from claimback.errors import BadInput

LIKELY = 50  # differences at or above this weight are "likely" (preflight --baseline fails on them)
_PROXY = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"}
# Environment variables (names) that change where and how Claude Code talks to the API.
_RELEVANT_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_", "CLAUDE_CONFIG_DIR", "AWS_", "GOOGLE_", "CLOUD_ML_", "VERTEX_",
                      "AZURE_", "DISABLE_", "API_TIMEOUT", "MAX_THINKING", "OTEL_", "BASH_")


@dataclass
class Difference:
    area: str  # provider | base_url | auth | client | proxy | model | hooks | settings | env | retention | claimback
    what: str
    working: Any
    this: Any
    weight: int
    why: str
    try_this: str


@dataclass
class CompareReport:
    working: str
    this: str
    differences: list[Difference] = field(default_factory=list)

    @property
    def likely(self) -> list[Difference]:
        return [d for d in self.differences if d.weight >= LIKELY]

    def to_dict(self) -> dict[str, Any]:
        return {"working": self.working, "this": self.this, "likely": len(self.likely),
                "differences": [asdict(d) for d in self.differences]}


def load_snapshot(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        # A regular file only, size-capped (core/files.py): a FIFO or device here must not hang the command.
        data = json.loads(read_regular_text(path))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file (write one with `claimback doctor --out {path.name}`)") from None
    except UnsafeFile:
        why = "larger than any doctor snapshot" if path.is_file() else "not a regular file (a FIFO or a device?)"
        raise BadInput(f"{path}: {why}; write a snapshot with `claimback doctor --out FILE.json`") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadInput(f"{path}: not a doctor snapshot (not JSON); write one with "
                       "`claimback doctor --out FILE.json`") from None
    if not (isinstance(data, dict) and {"provider", "settings_files", "env_vars", "claude"} <= set(data)):
        raise BadInput(f"{path}: not a `claimback doctor --out FILE.json` snapshot")
    return data


def _names(values: Any) -> set[str]:
    return {v for v in values if isinstance(v, str)} if isinstance(values, list) else set()


def _hooks(snapshot: dict[str, Any]) -> dict[tuple[str, str, str | None], str | None]:
    """(scope, event, matcher) -> command's first word, for every hook in every settings file."""
    found: dict[tuple[str, str, str | None], str | None] = {}
    for row in snapshot.get("settings_files") or []:
        if not isinstance(row, dict):
            continue
        for hook in row.get("hooks") or []:
            if isinstance(hook, dict) and isinstance(hook.get("event"), str):
                found[(str(row.get("scope")), hook["event"], hook.get("matcher"))] = hook.get("command")
    return found


def _files(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for row in snapshot.get("settings_files") or []:
        if isinstance(row, dict) and isinstance(row.get("scope"), str):
            rows.setdefault(row["scope"], row)  # the first file of a scope (CLAUDE_CONFIG_DIR lists several)
    return rows


def compare_snapshots(working: dict[str, Any], this: dict[str, Any], *, working_name: str = "working",
                      this_name: str = "this") -> CompareReport:
    report = CompareReport(working_name, this_name)
    add = report.differences.append
    wp, tp = working.get("provider") or {}, this.get("provider") or {}

    url_changed = wp.get("base_url_host") != tp.get("base_url_host")
    # A base URL alone makes the provider "custom": then the base URL is the one thing to change.
    by_url = url_changed and {wp.get("name"), tp.get("name")} & {"custom", "other"} \
        and {wp.get("name"), tp.get("name")} <= {"custom", "other", "anthropic"}
    if wp.get("name") != tp.get("name") and not by_url:
        add(Difference("provider", "API provider", wp.get("name"), tp.get("name"), 100,
                       "requests go to another provider (Anthropic, Bedrock, Vertex, Foundry or a gateway), with "
                       "other credentials, models and limits",
                       _provider_fix(wp)))
    if url_changed:
        host = wp.get("base_url_host")
        add(Difference("base_url", "ANTHROPIC_BASE_URL host", host, tp.get("base_url_host"), 100 if by_url else 95,
                       "requests go to another endpoint (a proxy, gateway or a stale override)",
                       f"set ANTHROPIC_BASE_URL to the working setup's endpoint (host {host})" if host
                       else "unset ANTHROPIC_BASE_URL (the working setup talks to the provider directly)"))
    w_auth, t_auth = _names(wp.get("auth")), _names(tp.get("auth"))
    if w_auth != t_auth:
        missing, extra = sorted(w_auth - t_auth), sorted(t_auth - w_auth)
        fix = []
        if missing:
            fix.append(f"provide {', '.join(missing)} as the working setup does")
        if extra:
            fix.append(f"remove {', '.join(extra)} (it may take precedence over the credential that works)")
        add(Difference("auth", "credentials present (names)", sorted(w_auth), sorted(t_auth), 90,
                       "a different credential is sent, or none", "; ".join(fix)))

    wc, tc = working.get("claude") or {}, this.get("claude") or {}
    wv, tv = _version(wc.get("version")), _version(tc.get("version"))
    if bool(wc.get("found")) != bool(tc.get("found")) or bool(wc.get("error")) != bool(tc.get("error")):
        add(Difference("client", "claude on PATH", _client(wc), _client(tc), 85,
                       "the client is missing or does not start here",
                       "install Claude Code here (npm install -g @anthropic-ai/claude-code"
                       + (f"@{wv}" if wv else "") + ") or fix PATH"))
    elif wv != tv:
        add(Difference("client", "Claude Code version", wv, tv, 60,
                       "client versions differ in retries, settings and the features they support",
                       f"run the working version: npm install -g @anthropic-ai/claude-code@{wv}"))

    w_env, t_env = _names(working.get("env_vars")), _names(this.get("env_vars"))
    w_proxy = {n for n in w_env if n.upper() in _PROXY}
    t_proxy = {n for n in t_env if n.upper() in _PROXY}
    if w_proxy != t_proxy:
        extra, missing = sorted(t_proxy - w_proxy), sorted(w_proxy - t_proxy)
        add(Difference("proxy", "proxy and TLS variables", sorted(w_proxy), sorted(t_proxy), 85,
                       "a proxy or custom CA sits between the client and the API in one setup only",
                       (f"unset {', '.join(extra)} (or make it match the working setup)" if extra
                        else f"set {', '.join(missing)} as the working setup does")))

    if (working.get("models") or {}) != (this.get("models") or {}):
        add(Difference("model", "model settings", working.get("models") or {}, this.get("models") or {}, 70,
                       "another model is requested (it may be unavailable to this account or provider)",
                       "use the working setup's model settings ("
                       + ("; ".join(f"{k} = {v}" for k, v in (working.get("models") or {}).items())
                          or "Claude Code's defaults: unset the model settings") + ")"))

    wh, th = _hooks(working), _hooks(this)
    for key in sorted(set(wh) - set(th), key=str):
        scope, event, matcher = key
        add(Difference("hooks", f"{event} hook ({scope} settings{', ' + matcher if matcher else ''})",
                       wh[key], None, 65, "a hook the working setup runs is missing here",
                       _hook_fix(scope, event, wh[key])))
    for key in sorted(set(th) - set(wh), key=str):
        scope, event, matcher = key
        add(Difference("hooks", f"{event} hook ({scope} settings{', ' + matcher if matcher else ''})",
                       None, th[key], 55, "a hook runs here that the working setup does not have (it can block "
                       "or slow tool calls and prompts)",
                       f"disable it for one run: remove the {event} entry from the {scope} settings"))

    wf, tf = _files(working), _files(this)
    for scope in sorted(set(wf) | set(tf)):
        a, b = wf.get(scope) or {}, tf.get(scope) or {}
        if b.get("exists") and (b.get("valid") is False or b.get("readable") is False):
            add(Difference("settings", f"{scope} settings file", "valid" if a.get("valid") else a.get("exists"),
                           b.get("error") or "invalid", 75, "Claude Code ignores a settings file it cannot parse",
                           f"fix {b.get('path')}: {b.get('error') or 'invalid JSON'}"))
            continue
        ak, bk = set(a.get("keys") or []), set(b.get("keys") or [])
        if ak != bk:
            add(Difference("settings", f"{scope} settings keys", sorted(ak), sorted(bk), 40,
                           "the settings differ (permissions, env, apiKeyHelper, ...)",
                           "align "
                           + "; ".join(filter(None, (f"add {', '.join(sorted(ak - bk))}" if ak - bk else "",
                                                     f"remove {', '.join(sorted(bk - ak))}" if bk - ak else "")))
                           + f" in the {scope} settings"))
        if bool(a.get("api_key_helper")) != bool(b.get("api_key_helper")):
            add(Difference("auth", f"apiKeyHelper ({scope} settings)", bool(a.get("api_key_helper")),
                           bool(b.get("api_key_helper")), 80, "one setup gets its key from a helper script",
                           "use the same apiKeyHelper as the working setup" if a.get("api_key_helper")
                           else f"remove apiKeyHelper from the {scope} settings"))

    relevant = {n for n in (w_env ^ t_env) if n.upper() not in _PROXY and n.upper().startswith(_RELEVANT_PREFIXES)}
    if relevant:
        only_here, only_there = sorted(relevant & t_env), sorted(relevant & w_env)
        add(Difference("env", "Claude Code / provider variables (names)", only_there, only_here, 50,
                       "variables that change how Claude Code connects are set in one setup only",
                       "; ".join(filter(None, (f"unset {', '.join(only_here)}" if only_here else "",
                                               f"set {', '.join(only_there)} as in the working setup"
                                               if only_there else "")))))
    wr, tr = working.get("retention") or {}, this.get("retention") or {}
    if wr.get("cleanup_period_days") != tr.get("cleanup_period_days"):
        add(Difference("retention", "cleanupPeriodDays", wr.get("cleanup_period_days"), tr.get("cleanup_period_days"),
                       20, "transcripts are kept for another period (evidence, not failures)",
                       f"set cleanupPeriodDays to {wr.get('cleanup_period_days')}"))
    if working.get("claimback_version") != this.get("claimback_version"):
        add(Difference("claimback", "claimback version", working.get("claimback_version"),
                       this.get("claimback_version"), 10, "the snapshots come from different claimback versions",
                       f"compare with claimback {working.get('claimback_version')} on both sides"))
    report.differences.sort(key=lambda d: -d.weight)
    return report


def _version(text: Any) -> str | None:
    """`claude --version` prints "2.1.150 (Claude Code)": the number is the first word."""
    return text.split()[0] if isinstance(text, str) and text.split() else None


def _client(info: dict[str, Any]) -> str:
    if not info.get("found"):
        return "not found"
    return str(_version(info.get("version")) or info.get("error") or "found")


def _provider_fix(working: dict[str, Any]) -> str:
    name = working.get("name")
    flags = {"bedrock": "CLAUDE_CODE_USE_BEDROCK=1", "vertex": "CLAUDE_CODE_USE_VERTEX=1",
             "foundry": "CLAUDE_CODE_USE_FOUNDRY=1"}
    if name in flags:
        return f"set {flags[name]} (and its credentials) as the working setup does"
    return ("unset CLAUDE_CODE_USE_BEDROCK / CLAUDE_CODE_USE_VERTEX / CLAUDE_CODE_USE_FOUNDRY: the working setup "
            f"talks to {name or 'Anthropic'}")


def _hook_fix(scope: str, event: str, command: str | None) -> str:
    if command and command.startswith("claimback"):
        return f"claimback guard install --scope {scope}"
    return f"add the {event} hook ({command or 'its command'}) to the {scope} settings as in the working setup"


def this_snapshot(project: Path | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """A snapshot of this machine without a ledger (the comparison needs none)."""
    from claimback.prevent.doctor import run_doctor

    report = run_doctor(None, [], project=project, env=env, ingest_first=False,
                        ledger_error="not opened (a baseline comparison needs no ledger)")
    return json.loads(json.dumps(asdict(report), default=str))
