"""`claimback statusline`: Claude Code's status line command, recording quota snapshots (DESIGN §3.3).

Claude Code runs the status line command often and shows whatever it prints, so this path must be
quick and must never break the line: it uses only the standard library (plus claimback's own light
modules), records at most one snapshot a minute, and on any error prints a fallback and exits 0.
When `[statusline] command` is configured (claimback guard install --statusline keeps the previous one
there), that command receives the same stdin and its output is printed instead of ours.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the status line path would import typing (~3 ms)
if TYPE_CHECKING:
    from typing import Any

from claimback.core.times import format_epoch, normalize_ts, parse_utc

SNAPSHOT_EVERY_SECONDS = 60
PREVIOUS_COMMAND_TIMEOUT = 5.0
# How long the snapshot waits for another claimback process writing the ledger (an ingest, an audit).
# Claude Code shows nothing new until the command ends, and with the ledger's usual 60 s the real client
# drew no status line for as long as an ingest held the write lock; the snapshot is skipped instead, and
# the next refresh, with the stamp untouched, tries again.
LEDGER_WAIT_SECONDS = 0.25


def _pct(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value <= 100 else None


def _reset(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and 0 < value < 1e11:
        return format_epoch(float(value))
    if isinstance(value, str) and value[:4].isdigit():
        # Stored as the ledger's UTC form or not at all: the reports parse it later, and one
        # unreadable or zone-less value kept forever would break every loss report after it.
        return normalize_ts(value)
    return None


def parse_rate_limits(payload: dict[str, Any]) -> dict[str, Any] | None:
    limits = payload.get("rate_limits")
    if not isinstance(limits, dict):
        return None
    five = limits.get("five_hour") if isinstance(limits.get("five_hour"), dict) else {}
    seven = limits.get("seven_day") if isinstance(limits.get("seven_day"), dict) else {}
    snapshot = {
        "five_hour_pct": _pct(five.get("used_percentage")),
        "five_hour_resets_at": _reset(five.get("resets_at")),
        "seven_day_pct": _pct(seven.get("used_percentage")),
        "seven_day_resets_at": _reset(seven.get("resets_at")),
    }
    if snapshot["five_hour_pct"] is None and snapshot["seven_day_pct"] is None:
        return None
    return snapshot


def _due(stamp: Path, now: float) -> bool:
    try:
        return now - stamp.stat().st_mtime >= SNAPSHOT_EVERY_SECONDS
    except OSError:
        return True


def record_snapshot(payload: dict[str, Any], now: float | None = None) -> bool:
    """Store one snapshot unless one was stored in the last minute. Returns whether it stored."""
    from claimback.config import cache_dir, machine_id

    snapshot = parse_rate_limits(payload)
    if snapshot is None:
        return False
    now = time.time() if now is None else now
    stamp = cache_dir() / "statusline.stamp"
    if not _due(stamp, now):
        return False
    from claimback.ledger.store import is_postgres_url, open_ledger, resolve_target

    if is_postgres_url(resolve_target(None)):
        return False  # a network round trip has no place on the status line; team ledgers use OTel
    model = payload.get("model")
    model_id = model.get("id") if isinstance(model, dict) else None
    session = payload.get("session_id") if isinstance(payload.get("session_id"), str) else None
    ledger = open_ledger(None, busy_timeout=LEDGER_WAIT_SECONDS)
    try:
        with ledger.transaction():
            ledger.execute(
                "INSERT INTO quota_snapshots (machine_id, ts, session_id, account, five_hour_pct, "
                "five_hour_resets_at, seven_day_pct, seven_day_resets_at, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (machine_id, ts) DO NOTHING",
                (machine_id(), format_epoch(now), session, None, snapshot["five_hour_pct"], snapshot["five_hour_resets_at"],
                 snapshot["seven_day_pct"], snapshot["seven_day_resets_at"], model_id))
    finally:
        ledger.close()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    os.utime(stamp, (now, now))
    return True


def _active_incident() -> str | None:
    """The first unresolved incident in the status cache, if any (never the network)."""
    from claimback.config import cache_dir
    from claimback.core.files import read_regular_bytes

    try:
        data = json.loads(read_regular_bytes(cache_dir() / "status" / "unresolved.json", 4 * 1024 * 1024))
    except (OSError, ValueError):
        return None
    incidents = data.get("incidents") if isinstance(data, dict) else None
    if isinstance(incidents, list):
        for incident in incidents:
            if isinstance(incident, dict) and isinstance(incident.get("name"), str):
                return incident["name"]
    return None


def compact_line(payload: dict[str, Any]) -> str:
    parts = []
    snapshot = parse_rate_limits(payload) or {}
    if snapshot.get("seven_day_pct") is not None:
        text = f"week {snapshot['seven_day_pct']:.0f}%"
        if snapshot.get("seven_day_resets_at"):
            reset = parse_utc(snapshot["seven_day_resets_at"]).astimezone()
            text += f" (resets {reset:%a %H:%M})"
        parts.append(text)
    if snapshot.get("five_hour_pct") is not None:
        parts.append(f"5h {snapshot['five_hour_pct']:.0f}%")
    incident = _active_incident()
    if incident:
        parts.append(f"⚠ {incident[:60]}")
    model = payload.get("model")
    if not parts and isinstance(model, dict) and isinstance(model.get("display_name"), str):
        parts.append(model["display_name"])
    return " · ".join(parts) or "claimback"


# Set for the previous status line command this one runs: a user's command that itself runs
# `claimback statusline` (piped into sed, say) gets claimback's own line from it, not a loop.
CHAINED_ENV = "CLAIMBACK_STATUSLINE_CHAINED"


def _previous_command() -> str | None:
    from claimback.config import load_config

    command = load_config().statusline.get("command")
    return command if isinstance(command, str) and command.strip() else None


def run(args: list[str], stdin: bytes | None = None) -> int:
    raw = sys.stdin.buffer.read() if stdin is None else stdin
    try:
        payload = json.loads(raw or b"{}")
        if not isinstance(payload, dict):
            payload = {}
    except (ValueError, RecursionError):
        payload = {}
    chained = bool(os.environ.get(CHAINED_ENV))
    if not chained:  # a chained run's snapshot is the outer run's
        try:
            record_snapshot(payload)
        except Exception as exc:  # never break the status line; say why on stderr only
            print(f"claimback statusline: snapshot skipped: {exc}", file=sys.stderr)
    try:
        command = None if chained else _previous_command()
    except Exception:
        command = None
    if command:
        try:
            import subprocess

            done = subprocess.run(command, shell=True, input=raw, capture_output=True,
                                  timeout=PREVIOUS_COMMAND_TIMEOUT, env={**os.environ, CHAINED_ENV: "1"})
            sys.stdout.buffer.write(done.stdout)
            sys.stdout.flush()
            return 0
        except Exception:
            pass
    try:
        print(compact_line(payload))
    except Exception:
        print("claimback")
    return 0
