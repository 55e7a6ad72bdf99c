"""`claimback statusline` as Claude Code runs it: a real process, stdin in, one line out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from claimback.ledger import open_ledger

PAYLOAD = {
    "session_id": "sess-1", "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
    "rate_limits": {"five_hour": {"used_percentage": 41.5, "resets_at": 1778815800},
                    "seven_day": {"used_percentage": 74.0, "resets_at": 1778887800}},
}


def run(stdin: bytes, env_home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CLAIMBACK_HOME=str(env_home))
    return subprocess.run([sys.executable, "-m", "claimback", "statusline"], input=stdin, env=env,
                          capture_output=True, timeout=30)


def snapshots(home: Path) -> list[dict]:
    with open_ledger(home / "data" / "ledger.sqlite3") as ledger:
        return ledger.rows("SELECT session_id, five_hour_pct, five_hour_resets_at, seven_day_pct, "
                           "seven_day_resets_at, model FROM quota_snapshots")


def test_records_one_snapshot_a_minute_and_prints_a_compact_line(isolated_home):
    first = run(json.dumps(PAYLOAD).encode(), isolated_home)
    assert first.returncode == 0
    assert "week 74%" in first.stdout.decode() and "5h 42%" in first.stdout.decode()
    assert snapshots(isolated_home) == [{
        "session_id": "sess-1", "five_hour_pct": 41.5, "five_hour_resets_at": "2026-05-15T03:30:00.000Z",
        "seven_day_pct": 74.0, "seven_day_resets_at": "2026-05-15T23:30:00.000Z", "model": "claude-opus-4-6"}]
    again = run(json.dumps(PAYLOAD).encode(), isolated_home)  # within the minute: shown, not stored
    assert again.returncode == 0 and "week 74%" in again.stdout.decode()
    assert len(snapshots(isolated_home)) == 1


def test_bad_input_never_breaks_the_status_line(isolated_home):
    for stdin in (b"", b"not json", b"[1,2]", json.dumps({"rate_limits": {"seven_day": {"used_percentage": "x"}}}).encode()):
        done = run(stdin, isolated_home)
        assert done.returncode == 0 and done.stdout.strip(), stdin
    assert not (isolated_home / "data" / "ledger.sqlite3").exists() or snapshots(isolated_home) == []


def test_previous_command_gets_the_same_stdin_and_its_output_is_shown(isolated_home, tmp_path):
    seen = tmp_path / "seen.json"
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[statusline]\ncommand = "tee {seen} >/dev/null; echo my-own-line"\n')
    done = run(json.dumps(PAYLOAD).encode(), isolated_home)
    assert done.returncode == 0 and done.stdout.decode().strip() == "my-own-line"
    assert json.loads(seen.read_text()) == PAYLOAD
    assert len(snapshots(isolated_home)) == 1  # the snapshot is still recorded
