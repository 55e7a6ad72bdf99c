"""benchmarks/_harness.py: the figures every benchmark table is built from (the cores other processes
kept busy during a run, the CPU-bound process a run can be measured beside)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import _harness  # noqa: E402


def test_others_busy_is_the_machines_busy_time_less_the_runs_own() -> None:
    cores = os.cpu_count() or 1
    # 1000 ticks of the machine, 400 of them idle: cores * 0.6 busy; the run itself used 0.5 s in 1 s.
    assert _harness.others_busy((10_000, 5_000), (11_000, 5_400), 0.5, 1.0) == pytest.approx(cores * 0.6 - 0.5)
    # a run that used more than the machine says was busy (tick granularity): nobody else, never negative
    assert _harness.others_busy((10_000, 5_000), (10_010, 5_010), 2.0, 1.0) == 0.0
    # unreadable samples, or no time between them: no figure rather than a wrong one
    assert _harness.others_busy(None, (11_000, 5_400), 0.5, 1.0) is None
    assert _harness.others_busy((10_000, 5_000), (10_000, 5_000), 0.5, 1.0) is None


def _children_running(code: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit():
                continue
            stat = (proc / "stat").read_bytes()
            parent = int(stat[stat.rfind(b")") + 2:].split()[1])
            if parent == os.getpid() and code in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_busy_core_runs_one_cpu_bound_process_for_the_block_only() -> None:
    with _harness.busy_core():
        assert len(_children_running("while True: pass")) == 1
    assert _children_running("while True: pass") == []
    with _harness.busy_core(False):
        assert _children_running("while True: pass") == []


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads /proc/stat")
def test_every_run_and_table_row_says_how_busy_the_others_kept_the_machine() -> None:
    case = _harness.Case("python -c pass", [sys.executable, "-c", "pass"])
    _harness.interleave([case], 2, warmup=0)
    assert all(run.others is not None and run.others >= 0 for run in case.runs)
    header, _, row = _harness.table([case]).splitlines()
    assert header.endswith("| cores others used |")
    assert row.count("|") == header.count("|")
    assert re.fullmatch(r" \d+\.\d–\d+\.\d ", row.split("|")[-2]), row
