"""Shared measuring for the benchmarks: interleaved rounds, medians, machine load, process-tree RSS.

Rules every benchmark here follows (docs/benchmarks.md):
- cases are run in alternating rounds (A B C, A B C, ...), never in sequential blocks, so a load spike
  on this shared machine hits every case alike; figures are medians, ratios are ratios of medians;
- each run records wall time, CPU time (user + system of the command and every child it waited for)
  and peak RSS summed over the whole process tree (sampled from /proc every 10 ms), since parse workers
  and node's helpers are memory the user pays for too;
- the 1-minute load average is recorded with every run: on a busy machine wall times are not a
  property of the code alone; so is how many cores the *other* processes kept busy during the run
  (`/proc/stat` over the run minus the run's own CPU time): the load average trails the last minute, this
  says whether a core was free for the run itself (what overlap, threads and parse workers need);
- children run with bytecode (`with_bytecode`), as an installed package does: pip compiles what it
  installs, so a start-up figure that includes compiling source (PYTHONDONTWRITEBYTECODE=1, as this
  development environment sets) is not what a user waits for.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from claimback.ledger.ingest import cpu_ticks  # the parse-worker decision's own reading of /proc/stat

PAGE = os.sysconf("SC_PAGE_SIZE")
BAD_USAGE = 2  # exit code of a benchmark given what it cannot measure (as claimback's own CLI)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and exit: `code` 2 for bad usage (an empty corpus), 1 when a tool or server the
    benchmark starts or reaches is not there. Never a traceback: these are run by hand and in scripts."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def transcripts_bytes(projects: Path) -> int:
    """Bytes of the `*.jsonl` transcripts under `projects` (0 when it is missing or holds none)."""
    return sum(p.stat().st_size for p in projects.rglob("*.jsonl")) if projects.is_dir() else 0


def corpus_generator(gen: Path) -> Path:
    """The corpus generator (../shared/tools/gen_corpus.py, or CLAIMBACK_GEN_CORPUS), or a one-line error."""
    if not gen.is_file():
        fail(f"no corpus generator at {gen} (set CLAIMBACK_GEN_CORPUS to gen_corpus.py)", BAD_USAGE)
    return gen


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses; split after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants right now."""
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def with_bytecode(env: dict[str, str], *trees: Path | str) -> dict[str, str]:
    """`env` without PYTHONDONTWRITEBYTECODE, after compiling `trees` (source dirs put on PYTHONPATH, or
    this checkout's src/) and the interpreter's site-packages (cheap when already compiled), so every timed
    child loads cached bytecode, as a pip-installed claimback does (benchmarks/hook_latency.py does the same)."""
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    compile_env = dict(os.environ)
    compile_env.pop("PYTHONDONTWRITEBYTECODE", None)
    folders = [str(t) for t in trees] or [str(Path(__file__).resolve().parent.parent / "src")]
    folders.append(sysconfig.get_paths()["purelib"])
    subprocess.run([sys.executable, "-m", "compileall", "-q", *folders], env=compile_env, check=False,
                   stdout=subprocess.DEVNULL)
    return env


def others_busy(before: tuple[int, int] | None, after: tuple[int, int] | None, own_cpu: float,
                wall: float) -> float | None:
    """Cores the other processes kept busy between two `cpu_ticks` samples `wall` seconds apart, in
    which the measured command used `own_cpu` seconds of CPU; None where it cannot be read."""
    if before is None or after is None or after[0] <= before[0] or wall <= 0:
        return None
    total, idle = after[0] - before[0], after[1] - before[1]
    busy = (os.cpu_count() or 1) * (total - idle) / total
    return max(0.0, busy - own_cpu / wall)


@dataclass
class Run:
    wall: float
    cpu: float
    tree_rss_mb: float
    rc: int
    load1: float
    others: float | None = None  # cores other processes kept busy meanwhile (others_busy)


def run_once(cmd: Sequence[str], env: dict[str, str] | None = None, *, stdout: Path | None = None,
             stdin: bytes | None = None, sample: bool = True) -> Run:
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL
    load1 = os.getloadavg()[0]
    ticks = cpu_ticks()
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), env=env, stdout=out, stderr=subprocess.DEVNULL,
                            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
    if stdin is not None:
        proc.stdin.write(stdin)  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    peak = 0
    status = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if sample:
            peak = max(peak, tree_rss_bytes(proc.pid))
        time.sleep(0.01)
    wall = time.perf_counter() - start
    ticks_after = cpu_ticks()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdout:
        out.close()  # type: ignore[union-attr]
    # A process too short for one sample still had at least its own peak (ru_maxrss, KiB on Linux).
    peak = max(peak, usage.ru_maxrss * 1024)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, peak / 2**20, proc.returncode, load1, others_busy(ticks, ticks_after, cpu, wall))


@dataclass
class Case:
    name: str
    cmd: Sequence[str]
    env: dict[str, str] | None = None
    before: Callable[[], None] | None = None  # e.g. delete the ledger for a cold run (not timed)
    stdout: Path | None = None
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    def peak_rss(self) -> float:
        return max(r.tree_rss_mb for r in self.runs)


def interleave(cases: Sequence[Case], rounds: int, *, warmup: int = 1, sample: bool = True) -> None:
    """Run every case once per round, in the same order, `rounds` times (after `warmup` untimed rounds)."""
    for i in range(warmup + rounds):
        for case in cases:
            if case.before:
                case.before()
            run = run_once(case.cmd, case.env, stdout=case.stdout, sample=sample)
            if i >= warmup:
                case.runs.append(run)


@contextmanager
def busy_core(on: bool = True) -> Iterator[None]:
    """One CPU-bound process (`while True: pass`) running beside the block, as Claude Code is beside
    claimback's hook and its reports: on a shared machine that is the common case, and where overlap
    (parse workers) stops paying."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        if burner:
            time.sleep(0.2)  # let it reach the CPU
        yield
    finally:
        if burner:
            burner.kill()
            burner.wait()


def load_now() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def table(cases: Sequence[Case]) -> str:
    lines = ["| command | wall (median) | wall range | CPU (median) | peak RSS, process tree | load (1 min) "
             "| cores others used |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for c in cases:
        walls = [r.wall for r in c.runs]
        loads = [r.load1 for r in c.runs]
        others = [r.others for r in c.runs if r.others is not None]
        flag = "" if all(r.rc == 0 for r in c.runs) else f" (exit {[r.rc for r in c.runs]})"
        lines.append(f"| {c.name}{flag} | {c.median('wall'):.3f} s | {min(walls):.2f}–{max(walls):.2f} | "
                     f"{c.median('cpu'):.3f} s | {c.peak_rss():.0f} MB | {min(loads):.1f}–{max(loads):.1f} | "
                     + (f"{min(others):.1f}–{max(others):.1f} |" if others else "– |"))
    return "\n".join(lines)


def forget_kept_text(ledger: Path) -> None:
    """Delete the `usage … --json` texts a ledger keeps (docs/design.md, "The kept --json text"), so the
    next report is computed: the grouped sums it reads stay kept, as after any change to the ledger."""
    import sqlite3

    with sqlite3.connect(ledger) as conn:
        conn.execute("DELETE FROM report_cache WHERE cache_key LIKE 'json:%'")
    conn.close()
