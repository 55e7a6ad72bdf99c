"""`claimback doctor verify`: re-run the smallest checks and say whether the last failure's signature
is gone (a request succeeded since, the CI preflight passes, or a one-line probe answers)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from claimback.core.classify import CLASS_INFO, UNKNOWN, classify, normalize_signature
from claimback.core.times import format_iso, utc_now
from claimback.ledger.store import Ledger
from claimback.prevent.doctor import find_claude, run_bounded
from claimback.prevent.explain import current_incidents, relevant_incident

PROBE_TIMEOUT = 90.0


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
        done = run_bounded([claude, "-p", "Reply with the single word OK.", "--max-turns", "1"], PROBE_TIMEOUT, env)
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
                                (signature, format_iso(utc_now() - timedelta(minutes=15))))
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
            relevant = [i for i in incidents if relevant_incident(i)]
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
