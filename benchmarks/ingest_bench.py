#!/usr/bin/env python3
"""Cold ingest and unchanged re-run against ccusage 20's native binary, interleaved. One command:

    python benchmarks/ingest_bench.py --size-mb 100 [--size-mb 1024] [--rounds 5] [--baseline-src DIR]

For each size it generates a corpus with ../shared/tools/gen_corpus.py (into --work, default
benchmarks/.work/; kept and reused), warms the page cache, then runs in alternating rounds:
  1. cold `claimback ingest` into a fresh SQLite ledger,
  2. with --baseline-src (the `src/` of another checkout, e.g. `git archive main src | tar -x`): the same
     cold ingest by that tree, on the same interpreter (an A/B of the code, not of the machine),
  3. the unchanged re-run `claimback usage daily --json` (the incremental ingest's check finds nothing
     changed, then the kept text is printed: docs/design.md, "The kept --json text"), and the same run
     with the kept text deleted first (the report computed again from the ledger's grouped sums),
  4. ccusage 20's native linux-x64 binary, `daily --json --offline` (installed with npm into the work dir),
  5. with --ccusage18, ccusage 18 on Node (slow and 2 GB of RSS at 1 GB; off by default).
Every Python child runs with bytecode compiled first (benchmarks/_harness.py `with_bytecode`), as a
pip install has it. Each row is the median of the rounds, with the range, CPU time and the process tree's peak RSS (see
benchmarks/_harness.py); ratios are ratios of medians from the same rounds. The load average is
printed with every row, and the cores other processes kept busy during the runs: on this shared 2-core
machine they are part of the result. --beside-busy runs every round beside one CPU-bound process. The script also checks
that claimback's token totals equal ccusage 20's, and (with --baseline-src) that both trees wrote
ledgers with the same rows (benchmarks/ledger_dump.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _harness import BAD_USAGE, Case, busy_core, corpus_generator, fail, forget_kept_text, interleave, load_now, table, with_bytecode  # noqa: E402,I001
from ledger_dump import digest  # noqa: E402

REPO = HERE.parent
GEN = Path(os.environ.get("CLAIMBACK_GEN_CORPUS", REPO.parent / "shared" / "tools" / "gen_corpus.py"))
CCUSAGE20 = "20.0.24"
FLOOR = "python -c 'import sqlite3' (the floor)"
RERUN = "claimback usage daily --json (unchanged re-run)"
RECOMPUTED = "claimback usage daily --json (unchanged, report computed again)"


def corpus_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.jsonl"))


def ensure_corpus(work: Path, size_mb: int, seed: int) -> Path:
    out = work / f"corpus-{size_mb}mb-s{seed}"
    done = out / ".complete"
    if not done.exists():
        gen = corpus_generator(GEN)
        if out.exists():
            shutil.rmtree(out)
        print(f"generating {size_mb} MB corpus into {out} ...", file=sys.stderr, flush=True)
        made = subprocess.run(["nice", sys.executable, str(gen), "--out", str(out), "--size-mb", str(size_mb),
                               "--seed", str(seed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if made.returncode:
            fail(f"{gen} failed (exit {made.returncode}): {(made.stderr.strip().splitlines() or [''])[-1]}")
        done.write_text("ok\n")
    if not corpus_bytes(out):
        fail(f"{out}: no transcripts (*.jsonl); remove the folder to generate it again", BAD_USAGE)
    return out


def warm_page_cache(root: Path) -> None:
    """Read every file once so no tool pays for the disk and the first one measured is not penalized."""
    for path in root.rglob("*.jsonl"):
        with open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass


def npm_install(work: Path, specs: list[str], folder: str) -> Path:
    prefix = work / "npm" / folder
    if not (prefix / "node_modules" / "ccusage").exists():
        prefix.mkdir(parents=True, exist_ok=True)
        print(f"npm install {' '.join(specs)} into {prefix} ...", file=sys.stderr, flush=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", *specs], check=True,
                       stdout=subprocess.DEVNULL)
    return prefix / "node_modules"


def ccusage20_cmd(work: Path, arg: str | None) -> list[str] | None:
    # The native binary is an optional dependency of the ccusage package; npm skips it on some setups,
    # so it is named explicitly.
    binary = Path(arg) if arg else (npm_install(work, [f"ccusage@{CCUSAGE20}", f"@ccusage/ccusage-linux-x64@{CCUSAGE20}"],
                                                "ccusage20") / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage")
    if not binary.exists():
        return None
    binary.chmod(0o755)
    return [str(binary)]


def ccusage18_cmd(work: Path) -> list[str] | None:
    if shutil.which("node") is None:
        return None
    script = npm_install(work, ["ccusage@18"], "ccusage18") / "ccusage" / "dist" / "index.js"
    return ["node", str(script)] if script.exists() else None


def totals_of(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    t = data.get("totals", {})
    return {k: t.get(k) for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")}


def _fresh(ledger: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ledger}{suffix}").unlink(missing_ok=True)


def run_size(work: Path, size_mb: int, seed: int, rounds: int, c20: list[str] | None, c18: list[str] | None,
             baseline: Path | None, warmup: int = 1, beside_busy: bool = False) -> dict:
    corpus = ensure_corpus(work, size_mb, seed)
    size = corpus_bytes(corpus)
    warm_page_cache(corpus)
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    outs = work / "out"
    outs.mkdir(exist_ok=True)
    # A private HOME and no CLAIMBACK_HOME: claimback finds its data dir through platformdirs, as a user's
    # run does (CLAIMBACK_HOME would skip that lookup, ~6 ms of the unchanged re-run).
    env = dict(os.environ, TZ="UTC", HOME=str(home), CLAUDE_CONFIG_DIR=str(corpus), NO_COLOR="1")
    for name in ("PYTHONPATH", "CLAIMBACK_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env.pop(name, None)
    env = with_bytecode(env)
    source = ["--source", str(corpus / "projects")]
    cold = work / f"ledger-{size_mb}mb.sqlite3"
    cold_base = work / f"ledger-{size_mb}mb-baseline.sqlite3"
    rerun = work / f"ledger-{size_mb}mb-rerun.sqlite3"
    # The console script the user types (pip writes it beside the interpreter), else the module.
    script = Path(sys.executable).with_name("claimback")
    claimback = [str(script)] if script.exists() else [sys.executable, "-m", "claimback"]
    _fresh(rerun)
    subprocess.run(claimback + ["ingest", "--quiet", "--db", str(rerun), *source], env=env, check=True)
    cases = [Case("claimback ingest (cold)", claimback + ["ingest", "--quiet", "--db", str(cold), *source], env,
                  before=lambda: _fresh(cold))]
    if baseline:
        base_env = with_bytecode(dict(env, PYTHONPATH=str(baseline)), baseline)
        cases.append(Case("claimback ingest (cold), baseline tree",
                          claimback + ["ingest", "--quiet", "--db", str(cold_base), *source], base_env,
                          before=lambda: _fresh(cold_base)))
    daily = claimback + ["usage", "daily", "--json", "--mode", "calculate", "--db", str(rerun), *source]
    cases.append(Case(RERUN, daily, env, stdout=outs / "claimback-daily.json"))
    cases.append(Case(RECOMPUTED, daily, env, stdout=outs / "claimback-daily-recomputed.json",
                      before=lambda: forget_kept_text(rerun)))
    # What no change to claimback's own code can go below: the interpreter starting and loading SQLite.
    cases.append(Case(FLOOR, [sys.executable, "-c", "import sqlite3"], env))
    if c20:
        cases.append(Case(f"ccusage {CCUSAGE20} daily --json --offline (native)", c20 + ["daily", "--json", "--offline"],
                          env, stdout=outs / "ccusage20-daily.json"))
    if c18:
        cases.append(Case("ccusage 18 daily --json --offline (node)", c18 + ["daily", "--json", "--offline"], env,
                          stdout=outs / "ccusage18-daily.json"))
    load_before = load_now()
    with busy_core(beside_busy):
        interleave(cases, rounds, warmup=warmup)
    ours = totals_of(outs / "claimback-daily.json")
    kept_is_computed = (outs / "claimback-daily.json").read_bytes() == (
        outs / "claimback-daily-recomputed.json").read_bytes()
    native = totals_of(outs / "ccusage20-daily.json") if c20 else {}
    same_rows = None
    if baseline:
        same_rows = digest(str(cold)) == digest(str(cold_base))
    return {"size_mb": round(size / 2**20, 1), "bytes": size, "rounds": rounds, "cases": cases,
            "load_before": load_before, "load_after": load_now(), "beside_busy": beside_busy,
            "tokens_equal_ccusage20": (ours == native) if native else None, "totals": ours,
            "same_rows_as_baseline": same_rows, "kept_is_computed": kept_is_computed}


def ratios(res: dict) -> list[tuple[str, str, str, str]]:
    by = {c.name: c for c in res["cases"]}
    cold = by["claimback ingest (cold)"]
    rerun = by[RERUN]
    recomputed = by.get(RECOMPUTED)
    native = next((c for c in res["cases"] if "native" in c.name), None)
    base = by.get("claimback ingest (cold), baseline tree")
    out = []
    if native:
        x = cold.median("wall") / native.median("wall")
        out.append(("cold ingest / ccusage native (wall)", f"{x:.2f}x", "<= 1.3x (goal 1.0x)",
                    "yes" if x <= 1.3 else "NO"))
        cpu = cold.median("cpu") / native.median("cpu")
        out.append(("cold ingest / ccusage native (CPU)", f"{cpu:.2f}x", "", ""))
        y = native.median("wall") / rerun.median("wall")
        out.append(("ccusage native / unchanged re-run", f"{y:.1f}x faster", ">= 10x", "yes" if y >= 10 else "NO"))
        if recomputed:
            out.append(("ccusage native / unchanged re-run, report computed again",
                        f"{native.median('wall') / recomputed.median('wall'):.1f}x faster", "", ""))
        floor = by.get(FLOOR)
        if floor:
            out.append(("ccusage native / the floor (Python + sqlite3)",
                        f"{native.median('wall') / floor.median('wall'):.1f}x", "", ""))
            out.append(("unchanged re-run above the floor (claimback's own work)",
                        f"{(rerun.median('wall') - floor.median('wall')) * 1000:.0f} ms", "", ""))
    if base:
        z = cold.median("wall") / base.median("wall")
        out.append(("cold ingest, this tree / baseline tree (wall)", f"{z:.2f}x", "", ""))
        out.append(("cold ingest, this tree / baseline tree (CPU)",
                    f"{cold.median('cpu') / base.median('cpu'):.2f}x", "", ""))
    peak = max(cold.peak_rss(), rerun.peak_rss())
    out.append(("claimback peak RSS, process tree", f"{peak:.0f} MB", "<= 150 MB", "yes" if peak <= 150 else "NO"))
    return out


def render(results: list[dict]) -> str:
    lines = []
    for res in results:
        lines.append(f"\n#### Corpus {res['size_mb']} MiB ({res['bytes']:,} bytes), median of {res['rounds']} "
                     f"interleaved rounds{', beside one busy core' if res.get('beside_busy') else ''}; "
                     f"load average before {res['load_before']}, after {res['load_after']}\n")
        lines.append(table(res["cases"]))
        lines.append("\n| ratio (of medians) | measured | target | met |")
        lines.append("|---|---:|---:|:-:|")
        for name, value, target, ok in ratios(res):
            lines.append(f"| {name} | {value} | {target} | {ok} |")
        if res["tokens_equal_ccusage20"] is not None:
            lines.append(f"\nToken totals equal ccusage 20's: {'yes' if res['tokens_equal_ccusage20'] else 'NO'} "
                         f"({res['totals']})")
        lines.append(f"The kept text is the computed one, byte for byte: {'yes' if res['kept_is_computed'] else 'NO'}")
        if res["same_rows_as_baseline"] is not None:
            lines.append(f"Ledger rows identical to the baseline tree's: {'yes' if res['same_rows_as_baseline'] else 'NO'}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, action="append", help="corpus size in MiB (repeatable; default 100)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    ap.add_argument("--work", type=Path, default=HERE / ".work", help="corpora, ledgers, npm installs")
    ap.add_argument("--baseline-src", type=Path, help="another tree's src/ directory, run as an extra case")
    ap.add_argument("--ccusage20", help="path to ccusage 20's native binary (default: npm install into --work)")
    ap.add_argument("--ccusage18", action="store_true", help="also run ccusage 18 on Node")
    ap.add_argument("--no-ccusage", action="store_true", help="time claimback only")
    ap.add_argument("--beside-busy", action="store_true",
                    help="run every round beside one CPU-bound process (`while True: pass`)")
    ap.add_argument("--json", dest="json_out", help="also write the medians to this JSON file")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    c20 = None if args.no_ccusage else ccusage20_cmd(args.work, args.ccusage20)
    c18 = ccusage18_cmd(args.work) if args.ccusage18 and not args.no_ccusage else None
    host = (f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    results = [run_size(args.work, size, args.seed, max(1, args.rounds), c20, c18, args.baseline_src, args.warmup,
                        args.beside_busy)
               for size in args.size_mb or [100]]
    print(f"claimback ingest benchmark — {host}")
    print(render(results))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"host": host, "results": [
            {**{k: v for k, v in r.items() if k != "cases"},
             "cases": {c.name: {"wall": c.median("wall"), "cpu": c.median("cpu"), "rss_mb": c.peak_rss(),
                                "runs": [vars(x) for x in c.runs]} for c in r["cases"]}}
            for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:  # a tool it runs (ingest, npm) failed: which, in one line
        fail(f"`{' '.join(str(c) for c in exc.cmd[:3])} ...` failed (exit {exc.returncode})")
