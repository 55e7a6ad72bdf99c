#!/usr/bin/env python3
"""Analysis at scale (issue 17): `loss`, `audit --no-ingest` and `usage daily` on growing ledgers.

    python benchmarks/scale_bench.py --corpus 100mb=DIR --corpus 1gb=DIR --corpus tasks=DIR \\
        [--rounds 3] [--baseline-src OTHER/src] [--work DIR]

Each corpus (a directory holding `projects/`: from ../shared/tools/gen_corpus.py, or the many-tasks
corpus of benchmarks/gen_tasks_corpus.py) is ingested once into a ledger (by each tree, when
--baseline-src gives a second one), then the three reports run over all of its days in interleaved
rounds (every command of every tree once per round): `loss --no-ingest --offline --json`, `audit
--no-ingest --offline --out DIR --force` (the claim packet with its charts) and `usage daily --json
--no-ingest` (its kept text deleted before each run, so the report is computed: the unchanged re-run that
prints the kept text is benchmarks/ingest_bench.py's). Medians, CPU time, process-tree RSS and the load average per row (benchmarks/_harness.py);
every figure is from the same rounds, so ratios between rows are fair on a busy machine. Every tree runs
with its bytecode compiled first, as a pip install has it (benchmarks/_harness.py `with_bytecode`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import BAD_USAGE, Case, fail, forget_kept_text, interleave, load_now, run_once, table, transcripts_bytes, with_bytecode  # noqa: E402,I001


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--since", default="2026-01-01", help="first day of every report (all days of the corpora)")
    ap.add_argument("--baseline-src", type=Path, help="another tree's src/ directory, run beside this one")
    ap.add_argument("--work", type=Path, default=HERE / ".work" / "scale")
    ap.add_argument("--skip", action="append", default=[], help="a command to leave out: loss, audit, usage")
    ap.add_argument("--keep-ledgers", action="store_true",
                    help="reuse a ledger an earlier run left in --work (NAME.sqlite3, NAMEbaseline.sqlite3) instead "
                         "of a cold ingest: a 5 GB ingest takes minutes")
    args = ap.parse_args()
    corpora: list[tuple[str, Path, float]] = []  # (name, its projects/, MiB of transcripts)
    for spec in args.corpus:
        name, eq, folder = spec.partition("=")
        if not (name and eq and folder):
            fail(f"--corpus {spec}: expected NAME=DIR", BAD_USAGE)
        projects = Path(folder) / "projects"
        size = transcripts_bytes(projects) / 2**20
        if not size:
            fail(f"--corpus {spec}: no transcripts (*.jsonl under {projects})", BAD_USAGE)
        corpora.append((name, projects, size))
    args.work.mkdir(parents=True, exist_ok=True)
    trees = {"": None}
    if args.baseline_src:
        trees[" (baseline)"] = args.baseline_src
    base_env = dict(os.environ, TZ="UTC", NO_COLOR="1", CLAIMBACK_HOME=str(args.work / "home"))
    base_env.pop("PYTHONPATH", None)
    envs = {tag: with_bytecode(dict(base_env, PYTHONPATH=str(src)), src) if src else with_bytecode(base_env)
            for tag, src in trees.items()}
    py = [sys.executable, "-m", "claimback"]
    cases: list[Case] = []
    ingests: list[str] = []
    sizes: dict[str, float] = {}  # corpus name -> MiB of transcripts
    grid: dict[tuple[str, str, str], Case] = {}  # (command, tree tag, corpus name) -> its case
    for name, projects, size in corpora:
        sizes[name] = size
        for tag, src in trees.items():
            env = envs[tag]
            db = args.work / f"{name}{tag.strip(' ()')}.sqlite3"
            if args.keep_ledgers and db.exists():
                ingests.append(f"| {name} ({size:.0f} MiB){tag} | (kept from an earlier run) | | | "
                               f"{db.stat().st_size / 2**20:.0f} MiB | |")
            else:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                built = run_once(py + ["ingest", "--quiet", "--db", str(db), "--source", str(projects)], env)
                if built.rc or not db.exists():
                    fail(f"the cold ingest of {name}{tag} failed (exit {built.rc}): run `claimback ingest "
                         f"--db {db} --source {projects}` to see why")
                ingests.append(f"| {name} ({size:.0f} MiB){tag} | {built.wall:.2f} s | {built.cpu:.2f} s | "
                               f"{built.tree_rss_mb:.0f} MB | {db.stat().st_size / 2**20:.0f} MiB | {built.load1:.1f} |")
            label = f"{name}{tag}"
            out = args.work / f"packet-{name}{tag.strip(' ()')}"
            commands = {
                "loss": py + ["loss", "--no-ingest", "--offline", "--json", "--db", str(db), "--since", args.since],
                "audit": py + ["audit", "--no-ingest", "--offline", "--db", str(db), "--since", args.since,
                               "--out", str(out), "--force"],
                "usage": py + ["usage", "daily", "--json", "--no-ingest", "--db", str(db), "--since",
                               args.since.replace("-", "")],
            }
            for command, cmd in commands.items():
                if command in args.skip:
                    continue
                before = None
                if command == "audit":
                    before = lambda o=out: shutil.rmtree(o, ignore_errors=True)  # noqa: E731
                elif command == "usage":
                    before = lambda d=db: forget_kept_text(d)  # noqa: E731
                cases.append(Case(f"{command}, {label}", cmd, env, before=before))
                grid[(command, tag, name)] = cases[-1]
    print(f"load before: {load_now()}")
    print("\n| ledger built by cold ingest | wall | CPU | peak RSS, process tree | ledger size | load (1 min) |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(ingests))
    interleave(cases, args.rounds)
    print(f"\nmedian of {args.rounds} interleaved rounds (after 1 warm-up); load after: {load_now()}\n")
    print(table(cases))
    windows = {name: window_count(py, args.work / f"{name}.sqlite3", envs[""], args.since) for name, _, _ in corpora}
    print(growth(grid, sizes, windows))
    bad = [c.name for c in cases if any(r.rc for r in c.runs)]
    if bad:
        print(f"\nfailed: {bad}", file=sys.stderr)
    return 0


def window_count(py: list[str], db: Path, env: dict[str, str], since: str) -> int | None:
    """The outage windows `loss --json` finds in a ledger (not timed): what the reports' work grows with."""
    import json

    done = subprocess.run(py + ["loss", "--no-ingest", "--offline", "--json", "--db", str(db), "--since", since],
                          env=env, capture_output=True, text=True)
    try:
        return len(json.loads(done.stdout)["windows"])
    except (ValueError, KeyError, TypeError):
        return None


def growth(grid: dict[tuple[str, str, str], Case], sizes: dict[str, float],
           windows: dict[str, int | None] | None = None) -> str:
    """Per command and tree: CPU per corpus (smallest first), and each step's growth against the data's
    (`1gb: 2.1x CPU for 5.0x data`: a CPU factor at or below the data factor grew no faster), and against
    the outage windows' (the reports' work is per window: denser data has more of them per GB)."""
    names = sorted(sizes, key=lambda n: sizes[n])
    if len(names) < 2:
        return ""
    windows = windows or {}
    lines = ["", f"| command | {' | '.join(f'{n} ({sizes[n]:.0f} MiB)' for n in names)} | each step: CPU vs data |",
             "|---|" + "---:|" * (len(names) + 1)]
    if all(windows.get(n) for n in names):
        steps = [f"{b}: {windows[b] / windows[a]:.2f}x windows for {sizes[b] / sizes[a]:.1f}x data"
                 for a, b in zip(names, names[1:])]
        lines.append("| outage windows (`loss --json`) | " + " | ".join(str(windows[n]) for n in names)
                     + f" | {'; '.join(steps)} |")
    for command, tag in dict.fromkeys((c, t) for c, t, _ in grid):
        row = {n: grid[(command, tag, n)].median("cpu") for n in names if (command, tag, n) in grid}
        present = [n for n in names if n in row]
        steps = [f"{b}: {row[b] / row[a]:.2f}x CPU for {sizes[b] / sizes[a]:.1f}x data"
                 for a, b in zip(present, present[1:])]
        lines.append(f"| {command}{tag} | " + " | ".join(f"{row[n]:.3f} s" if n in row else "" for n in names)
                     + f" | {'; '.join(steps)} |")
        if command != "usage" and all(windows.get(n) for n in present):
            lines.append(f"| {command}{tag}, CPU per window | "
                         + " | ".join(f"{1000 * row[n] / windows[n]:.1f} ms" if n in row else "" for n in names)
                         + " | |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
