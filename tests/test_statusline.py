"""`claimback statusline` as Claude Code runs it: a real process, stdin in, one line out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import statusline_shape

from claimback.ledger import open_ledger
from claimback.sources.statusline import compact_line, parse_rate_limits

PAYLOAD = {
    "session_id": "sess-1", "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
    "rate_limits": {"five_hour": {"used_percentage": 41.5, "resets_at": 1778815800},
                    "seven_day": {"used_percentage": 74.0, "resets_at": 1778887800}},
}


def run(stdin: bytes, env_home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CLAIMBACK_HOME=str(env_home))
    return subprocess.run([sys.executable, "-m", "claimback", "statusline"], input=stdin, env=env,
                          capture_output=True, timeout=20)


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


# -- the payload the real client sends (tests/fixtures/statusline-input-2.1.332.json: its shape) ----------
REAL = statusline_shape.load()


def test_the_real_clients_payload_shape_records_and_shows_its_rate_limits(isolated_home):
    # 2.1.332 writes the percentages rounded to a tenth (whole ones as JSON integers) and resets_at in
    # epoch seconds; before the first answer rate_limits is absent.
    payload = statusline_shape.fill(REAL["after_response_with_rate_limits"], {
        "session_id": "7d3f0c2e-9a41-4b6e-8f2d-1c5a6b7e8f90", "model.id": "claude-sonnet-4-6",
        "model.display_name": "Sonnet 4.6",
        "rate_limits.five_hour.used_percentage": 12, "rate_limits.five_hour.resets_at": 1778815800,
        "rate_limits.seven_day.used_percentage": 31.5, "rate_limits.seven_day.resets_at": 1778887800})
    assert parse_rate_limits(payload) == {
        "five_hour_pct": 12.0, "five_hour_resets_at": "2026-05-15T03:30:00.000Z",
        "seven_day_pct": 31.5, "seven_day_resets_at": "2026-05-15T23:30:00.000Z"}
    done = run(json.dumps(payload).encode(), isolated_home)
    assert done.returncode == 0 and done.stderr == b""
    assert "week 32%" in done.stdout.decode() and "5h 12%" in done.stdout.decode()
    assert snapshots(isolated_home) == [{
        "session_id": "7d3f0c2e-9a41-4b6e-8f2d-1c5a6b7e8f90", "five_hour_pct": 12.0,
        "five_hour_resets_at": "2026-05-15T03:30:00.000Z", "seven_day_pct": 31.5,
        "seven_day_resets_at": "2026-05-15T23:30:00.000Z", "model": "claude-sonnet-4-6"}]


def test_before_the_first_answer_the_line_is_the_model_and_nothing_is_stored(isolated_home):
    payload = statusline_shape.fill(REAL["before_first_response"], {"model.display_name": "Sonnet 4.6"})
    assert "rate_limits" not in payload and parse_rate_limits(payload) is None
    assert compact_line(payload) == "Sonnet 4.6"
    done = run(json.dumps(payload).encode(), isolated_home)
    assert done.returncode == 0 and done.stdout.decode().strip() == "Sonnet 4.6"
    assert not (isolated_home / "data" / "ledger.sqlite3").exists()


def test_a_ledger_another_process_is_writing_does_not_hold_the_status_line(isolated_home):
    # An ingest holding the write lock used to keep the command waiting (the ledger's 60 s busy timeout),
    # and the real client drew no status line meanwhile. Now: the line at once, no snapshot, the stamp
    # untouched, so the next refresh stores it. (The subprocess timeout bounds the old behaviour.)
    with open_ledger(isolated_home / "data" / "ledger.sqlite3") as ledger:
        ledger.conn.execute("BEGIN IMMEDIATE")
        try:
            done = run(json.dumps(PAYLOAD).encode(), isolated_home)
        finally:
            ledger.conn.execute("ROLLBACK")
    assert done.returncode == 0 and "week 74%" in done.stdout.decode()
    assert b"snapshot skipped" in done.stderr and b"locked" in done.stderr
    assert not (isolated_home / "cache" / "statusline.stamp").exists()
    assert snapshots(isolated_home) == []
    again = run(json.dumps(PAYLOAD).encode(), isolated_home)
    assert again.returncode == 0 and len(snapshots(isolated_home)) == 1


def test_the_snapshot_path_imports_no_typing_dataclasses_or_click(isolated_home):
    """The once-a-minute path opens the ledger; what it imports is its start-up (docs/benchmarks.md)."""
    env = dict(os.environ, CLAIMBACK_HOME=str(isolated_home))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "claimback", "statusline"],
                          input=json.dumps(PAYLOAD).encode(), env=env, capture_output=True, timeout=20)
    assert proc.returncode == 0 and "week 74%" in proc.stdout.decode()
    assert len(snapshots(isolated_home)) == 1  # the ledger was opened and written
    modules = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines() if "|" in line}
    assert "claimback.ledger.schema" in modules
    for heavy in ("typing", "dataclasses", "inspect", "click"):
        assert heavy not in modules, heavy
