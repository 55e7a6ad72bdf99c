#!/usr/bin/env python3
"""A many-tasks corpus: hundreds of subagent runs, some killed by outage bursts (issue 17's scaling bench).

    python benchmarks/gen_tasks_corpus.py --out DIR [--sessions 80] [--tasks 5] [--seed 7]

`../shared/tools/gen_corpus.py` writes sidechain records inline and no subagent files, so the analysis
paths that follow tasks (killed-task lookups, resume, loss category 1) see almost nothing there. This
writes, with the demo scenario's record writers (claimback.demo), `--sessions` sessions over
`--days` days, each launching `--tasks` subagents in their own files; every third session's runs
meet an error burst (529 retries, then a final 500) that ends them, as an outage does, so the logs
hold outage windows with killed tasks. Deterministic: same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import random
from datetime import timedelta
from pathlib import Path

from claimback import demo
from claimback.core.times import parse_utc


def build(out: Path, sessions: int, tasks: int, days: int, seed: int) -> int:
    rng = random.Random(seed)
    projects = out / "projects"
    start = parse_utc("2026-03-01T09:00:00Z")
    runs = 0
    for n in range(sessions):
        moment = start + timedelta(days=n % days, hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
        sid = demo._session_id(rng)
        parent = demo._Writer(projects / demo.PROJECT_SLUG / f"{sid}.jsonl", sid, rng)
        parent.context = 15_000
        parent.prompt(moment, f"Work item {n}: {parent.text(8)}")
        killed = n % 3 == 0
        for k in range(tasks):
            moment += timedelta(seconds=rng.randint(30, 90))
            parent.tool_round(moment, rng.choice(["Read", "Edit", "Grep"]))
            moment += timedelta(seconds=20)
            if killed and k >= tasks // 2:
                tool_id = demo._tool_id(rng)
                prompt = f"Check part {k} of item {n}."
                parent.request(moment, cache_write=800, output=200, stop_reason="tool_use",
                               tool_uses=[{"type": "tool_use", "id": tool_id, "name": "Agent",
                                           "input": {"description": f"part {k}", "subagent_type": "Explore",
                                                     "prompt": prompt}}])
                first_error = moment + timedelta(minutes=3)
                final = first_error + timedelta(minutes=4)
                agent = demo._killed_subagent(projects, rng, parent, tool_id, moment, prompt, 20_000,
                                              first_error, attempts=4, final_at=final)
                parent.task_result(final + timedelta(seconds=3), tool_id, content="API Error: 500",
                                   is_error=True, result={"status": "failed", "agentId": agent.agent_id,
                                                          "error": "API Error: 500"})
                moment = final + timedelta(seconds=10)
            else:
                demo._completed_subagent(projects, rng, parent, moment)
                moment += timedelta(minutes=6)
            runs += 1
        parent.request(moment + timedelta(minutes=1), cache_write=600, output=500)
        parent.write()
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sessions", type=int, default=80)
    ap.add_argument("--tasks", type=int, default=5, help="subagent runs per session")
    ap.add_argument("--days", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    runs = build(args.out, args.sessions, args.tasks, args.days, args.seed)
    size = sum(p.stat().st_size for p in (args.out / "projects").rglob("*.jsonl"))
    print(f"wrote {runs} subagent runs in {args.sessions} sessions, {size / 2**20:.1f} MiB -> {args.out}")


if __name__ == "__main__":
    main()
