"""The guard never blocks on stale or future facts, and no special file or input size holds the hook or a
command (issue 15 items 4 and 5, claimback's own files; settings.json is tests/test_claude_config*)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import test_guard_hook as g
from claimback.prevent import signals


def test_a_status_cache_dated_in_the_future_is_not_fresh_it_is_refreshed_and_fails_open(isolated_home):
    g.NOW = datetime.now(timezone.utc)
    g.write_cache(isolated_home, [g.incident("Elevated errors on Claude Code", components=["Claude Code"])],
                  age=-timedelta(hours=3))
    out, _ = g.run_hook("PreToolUse", g.agent_payload())
    assert not g.is_deny(out)
    last = g.decisions(isolated_home)[-1]
    assert last["decision"] == "allow" and last.get("refresh") == "started"
    assert "future" in last.get("cache", "")
    # a small skew (a minute ahead) is still a fresh cache and still denies
    g.write_cache(isolated_home, [g.incident("Elevated errors on Claude Code", components=["Claude Code"])],
                  age=-timedelta(seconds=30))
    out, _ = g.run_hook("PreToolUse", g.agent_payload())
    assert g.is_deny(out)


def test_transcript_failures_dated_in_the_future_do_not_make_a_burst(isolated_home, tmp_path):
    g.NOW = datetime.now(timezone.utc)
    g.write_cache(isolated_home, [])
    later = g.NOW + timedelta(hours=2)
    records = [g.retry(later + timedelta(minutes=m)) for m in range(6)] + [g.final_500(later)]
    transcript = g.write_transcript(tmp_path / "proj" / "s1.jsonl", records)
    out, _ = g.run_hook("PreToolUse", g.agent_payload(transcript))
    assert out is None
    assert g.decisions(isolated_home)[-1]["why"] == "no active outage"


SPECIAL = ["fifo", "dev-zero"]


def _plant(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", SPECIAL)
def test_special_files_as_claimbacks_own_files_never_hold_the_hook(isolated_home, kind):
    config_dir, data_dir, cache_dir = signals.fast_dirs()
    targets = [Path(cache_dir) / "status" / "unresolved.json", Path(cache_dir) / "status" / "unresolved.meta.json",
               Path(signals.guard_dir(data_dir)) / "override.json",
               Path(signals.guard_dir(data_dir)) / "policy-cache.json",
               Path(config_dir) / "config.toml", Path(cache_dir) / "status" / ".guard-refresh"]
    for target in targets:
        _plant(target, kind)
    out, proc = g.run_hook("PreToolUse", g.agent_payload(), timeout=30)  # a hang fails with TimeoutExpired
    assert out is None and proc.returncode == 0
    # and the CLI: guard status still reports (defaults), and reading config.toml is a clear error
    done = subprocess.run([sys.executable, "-m", "claimback", "guard", "status"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    from claimback.config import load_config
    from claimback.errors import BadInput

    with pytest.raises(BadInput, match="cannot read config file"):
        load_config(Path(config_dir) / "config.toml")


def test_an_oversized_hook_stdin_is_not_read_and_fails_open(isolated_home):
    g.write_cache(isolated_home, [g.incident("Elevated errors on Claude Code", components=["Claude Code"])])
    payload = json.dumps({"hook_event_name": "PreToolUse", "tool_name": "Agent",
                          "tool_input": {"prompt": "x" * (9 * 1024 * 1024)}})
    proc = subprocess.run([sys.executable, "-m", "claimback", "hook", "PreToolUse"], input=payload,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == ""
    assert "not read" in g.decisions(isolated_home)[-1]["why"]


def test_the_subagent_listing_on_the_hooks_path_is_bounded(tmp_path):
    transcript = tmp_path / "s1.jsonl"
    transcript.write_text("")
    sub = tmp_path / "s1" / "subagents"
    sub.mkdir(parents=True)
    for i in range(signals.MAX_SUBAGENT_LISTED + 500):
        (sub / f"agent-{i:05d}.jsonl").touch()
    now = datetime.now(timezone.utc).timestamp()
    out = signals.transcript_signals(str(transcript), now, 600)
    assert out["skipped"] is True
    assert out["files"] <= 1 + signals.MAX_SUBAGENT_FILES
