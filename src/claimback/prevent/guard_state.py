"""The guard's own state: what each install changed (installs.json, for an exact uninstall), a pause
(`guard off --for` / `guard on`, the override file the hook reads) and the hooks' decision log."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from claimback.core.files import read_regular_bytes
from claimback.core.times import format_epoch
from claimback.errors import BadInput
from claimback.prevent import hook as hook_runtime
from claimback.prevent import signals
from claimback.prevent.guard_settings import settings_path, write_file


def _state_path() -> Path:
    return Path(signals.guard_dir(signals.fast_dirs()[1])) / "installs.json"


def load_states() -> dict[str, Any]:
    try:
        # Regular file only (a FIFO here must not hang install); it keeps original settings bytes, so the
        # cap is generous.
        data = json.loads(read_regular_bytes(_state_path(), 256 * 1024 * 1024))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_states(states: dict[str, Any]) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, json.dumps(states, indent=1).encode("utf-8"), mode=0o600)


def previous_statusline_command(scope: str = "user",
                                project_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The statusline command that `guard install --statusline` replaced, for the wrapper to chain."""
    state = load_states().get(str(settings_path(scope, project_dir))) or {}
    previous = (state.get("statusline") or {}).get("previous")
    if isinstance(previous, dict) and isinstance(previous.get("command"), str):
        return previous["command"]
    return None


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
    write_file(path, json.dumps({"until": until, "set_at": time.time()}).encode())
    return format_epoch(until)


def resume_guard() -> bool:
    """End a pause early (`guard on`). True when a pause was active."""
    path = Path(hook_runtime.override_path(signals.fast_dirs()[1]))
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
