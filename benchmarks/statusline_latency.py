"""Status line latency: `claimback statusline` as Claude Code runs it, process start to exit.

    python benchmarks/statusline_latency.py [--runs 100]

Claude Code runs the status line command on every refresh, so it must be quick. Runs the command
`claimback guard install --statusline` writes (prevent/guard_settings.py `claimback_command`: this
interpreter with `-P -c`), with bytecode as a pip install has it, with a real-shaped status line payload (model, workspace, rate_limits) on stdin, in a
temporary CLAIMBACK_HOME with a ledger, in two cases: `snapshot` (the once-a-minute path that writes a
quota snapshot into the ledger; the stamp is removed before each run) and `cached` (the usual path: a
snapshot was written less than a minute ago). Reports p50 / p95 / max, and `python -c pass` for scale.
Target (issue 5): the statusline's own work within 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import shlex
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import with_bytecode  # noqa: E402

PAYLOAD = {
    "session_id": "bench-session", "transcript_path": "/tmp/none.jsonl", "cwd": "/tmp",
    "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
    "workspace": {"current_dir": "/tmp", "project_dir": "/tmp"}, "version": "2.1.150",
    "rate_limits": {"five_hour": {"used_percentage": 41.0, "resets_at": 1778815800},
                    "seven_day": {"used_percentage": 74.0, "resets_at": 1778887800}},
}


def script() -> list[str]:
    try:
        from claimback.prevent.guard_settings import claimback_command
    except ImportError:  # claimback not importable here: the console script on PATH
        found = shutil.which("claimback")
        return [found] if found else [sys.executable, "-m", "claimback"]
    return shlex.split(claimback_command())


def timed(cmd: list[str], env: dict[str, str], stdin: bytes, before=None) -> float:
    if before:
        before()
    start = time.perf_counter()
    done = subprocess.run(cmd, input=stdin, env=env, capture_output=True)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"statusline failed: {done.returncode} {done.stderr[-300:]!r}")
    return elapsed


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   max {ordered[-1]:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = with_bytecode(dict(os.environ, CLAIMBACK_HOME=tmp))
        env.pop("CLAIMBACK_DB", None)
        stdin = json.dumps(PAYLOAD).encode()
        cmd = script() + ["statusline"]
        stamp = Path(tmp) / "cache" / "statusline.stamp"
        for _ in range(5):  # warm-up: creates the ledger, fills the page cache
            timed(cmd, env, stdin)
        snapshot = [timed(cmd, env, stdin, before=lambda: stamp.unlink(missing_ok=True)) for _ in range(args.runs)]
        cached = [timed(cmd, env, stdin) for _ in range(args.runs)]
        bare = [timed([sys.executable, "-c", "print(1)"], env, b"") for _ in range(args.runs)]
    print(f"claimback statusline, {args.runs} runs each, load average {os.getloadavg()[0]:.2f}; command {' '.join(cmd)}")
    print(f"  snapshot written   {summary(snapshot)}")
    print(f"  snapshot cached    {summary(cached)}")
    print(f"  python -c (scale)  {summary(bare)}")


if __name__ == "__main__":
    main()
