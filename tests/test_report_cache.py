"""The kept `usage … --json` text (claimback.fastcli.json_answer, ledger/report_cache.py): an unchanged
re-run prints what the report computes, without importing it; anything the text depends on makes it a miss."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claimback.fastcli import output_key
from test_usage import SID_A, SID_B, request, write

# Runs the console script's entry and says on stderr's last line whether the report was imported.
_VIA_ENTRY = ("import sys\nfrom claimback.entry import main\nsys.argv[0] = 'claimback'\ntry:\n    main()\n"
              "finally:\n    print('claimback.analysis.usage' in sys.modules, file=sys.stderr)")

REPORTS = [
    ["usage", "daily", "--json", "--timezone", "UTC"],
    ["usage", "daily", "--json", "-z", "Asia/Tokyo", "-m", "calculate", "-o", "desc", "-i"],
    ["usage", "weekly", "--json", "-w", "monday"],
    ["usage", "monthly", "--json", "-m", "display", "--no-cost"],
    ["usage", "session", "--json", "--subagents"],
    ["usage", "daily", "--json", "--since", "2026-05-16"],
]


def _run(argv: list[str], env: dict[str, str]) -> tuple[str, bool]:
    proc = subprocess.run([sys.executable, "-c", _VIA_ENTRY, *argv], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr.splitlines()[-1] == "True"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    root = tmp_path / "claude"
    write(root, SID_A, [request("2026-05-15T10:00:00.000Z", 10, 20, cw=30, cr=40),
                        request("2026-05-15T23:30:00.000Z", 5, 7, model="claude-opus-4-6")])
    projects = write(root, SID_B, [request("2026-05-20T12:00:00.000Z", 100, 200, sid=SID_B, cost=0.5)])
    env = dict(os.environ, CLAIMBACK_HOME=str(tmp_path / "home"), TZ="UTC")
    env.pop("CLAIMBACK_DB", None)
    return projects, tmp_path / "ledger.sqlite3", env


def _fresh(argv: list[str], projects: Path, tmp: Path, env: dict[str, str]) -> str:
    """The same report from a ledger of its own: nothing kept."""
    db = tmp / f"fresh-{time.monotonic_ns()}.sqlite3"
    out, computed = _run([*argv, "--db", str(db), "--source", str(projects)], env)
    assert computed
    return out


def test_an_unchanged_rerun_prints_the_computed_text_without_importing_the_report(setup, tmp_path: Path) -> None:
    projects, db, env = setup
    for argv in REPORTS:
        full = [*argv, "--db", str(db), "--source", str(projects)]
        first, first_computed = _run(full, env)
        again, again_computed = _run(full, env)
        assert first_computed and not again_computed, argv
        assert again == first == _fresh(argv, projects, tmp_path, env), argv
        assert json.loads(again)  # the whole text, newline included, is kept


def test_a_new_transcript_line_is_read_and_reported(setup) -> None:
    projects, db, env = setup
    full = ["usage", "daily", "--json", "--db", str(db), "--source", str(projects)]
    before, _ = _run(full, env)
    _run(full, env)
    session = projects / "-home-u-app" / f"{SID_A}.jsonl"
    with session.open("a") as fh:
        fh.write(request("2026-05-15T11:00:00.000Z", 1000, 3) + "\n")
    after, computed = _run(full, env)
    assert computed
    assert json.loads(after)["totals"]["inputTokens"] == json.loads(before)["totals"]["inputTokens"] + 1000


def test_rows_written_without_reading_a_file_make_it_a_miss(setup) -> None:
    # `import` and telemetry add rows without reading a transcript; here a request goes away.
    projects, db, env = setup
    full = ["usage", "daily", "--json", "--db", str(db), "--source", str(projects)]
    before, _ = _run(full, env)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM requests WHERE input_tokens = 100")
    after, computed = _run(full, env)
    assert computed
    assert json.loads(after)["totals"]["inputTokens"] == json.loads(before)["totals"]["inputTokens"] - 100


def test_a_changed_pricing_file_is_read_again(setup, tmp_path: Path) -> None:
    projects, db, env = setup
    prices = tmp_path / "prices.json"
    entry = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
    prices.write_text(json.dumps({"claude-sonnet-4-5-20250929": entry}))
    full = ["usage", "daily", "--json", "-m", "calculate", "--pricing", str(prices), "--db", str(db),
            "--source", str(projects)]
    before, _ = _run(full, env)
    assert not _run(full, env)[1]
    prices.write_text(json.dumps({"claude-sonnet-4-5-20250929": {**entry, "input_cost_per_token": 3e-6}}))
    after, computed = _run(full, env)
    assert computed and json.loads(after)["totals"]["totalCost"] > json.loads(before)["totals"]["totalCost"]


def test_what_the_text_depends_on_beyond_the_ledger_is_in_the_key(tmp_path: Path, monkeypatch) -> None:
    options = {"since": None, "until": None, "tz_name": None, "mode": "auto", "pricing_file": None,
               "db": "a.sqlite3", "sources": (), "no_ingest": False, "demo": False}
    noon = time.mktime((2026, 5, 15, 12, 0, 0, 0, 0, -1))
    key = output_key("daily", options, cost=True, clock=noon)
    assert key == output_key("daily", {**options, "db": "b.sqlite3", "sources": ("x",), "no_ingest": True},
                             cost=True, clock=noon + 60)  # where the rows come from is the ledger's token
    assert key != output_key("weekly", options, cost=True, clock=noon)
    assert key != output_key("daily", options, cost=False, clock=noon)
    assert key != output_key("daily", {**options, "mode": "calculate"}, cost=True, clock=noon)
    assert key != output_key("daily", options, cost=True, clock=noon + 86400)  # another day
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert key != output_key("daily", options, cost=True, clock=noon)
    finally:
        monkeypatch.undo()
        time.tzset()
    prices = tmp_path / "p.json"
    prices.write_text("{}")
    with_file = output_key("daily", {**options, "pricing_file": str(prices)}, cost=True, clock=noon)
    os.utime(prices, ns=(1, 1))
    assert with_file != output_key("daily", {**options, "pricing_file": str(prices)}, cost=True, clock=noon)
    # not kept: the active block moves with the clock; the demo's ledger is new each run; no pricing file
    assert output_key("blocks", options, cost=True) is None
    assert output_key("daily", {**options, "demo": True}, cost=True) is None
    assert output_key("daily", {**options, "pricing_file": str(tmp_path / "gone.json")}, cost=True) is None


def test_an_edited_claimback_file_makes_every_kept_text_a_miss(tmp_path: Path) -> None:
    # A copy of the package, so the installed one is never touched.
    import claimback

    package = tmp_path / "pkg" / "claimback"
    shutil.copytree(Path(claimback.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    probe = ("import sys, time\nfrom claimback.fastcli import output_key\n"
             "print(output_key('daily', {'mode': 'auto'}, cost=True, clock=1.0e9))")
    env = dict(os.environ, PYTHONPATH=str(package.parent))

    def key() -> str:
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                              check=True).stdout

    first = key()
    assert first == key()
    usage = package / "analysis" / "usage.py"
    os.utime(usage, ns=(usage.stat().st_atime_ns, usage.stat().st_mtime_ns + 1_000_000))
    assert key() != first
