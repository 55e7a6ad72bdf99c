#!/usr/bin/env python3
"""Ingest/report benchmark against ccusage (issue 3). One command:

    python benchmarks/ingest_bench.py --size-mb 100 [--size-mb 1024]

For each size it generates a corpus with ../shared/tools/gen_corpus.py into benchmarks/.work/ (kept and
reused; gitignored), then times, in one run on the same files:
  1. cold `claimback ingest` into a fresh ledger,
  2. an unchanged re-run of `claimback usage daily --json` (incremental ingest finds nothing + report),
  3. ccusage 18 `daily --json --offline` (Node),
  4. ccusage 20.0.24's native binary, `daily --json --offline`,
and prints seconds, MB/s (page cache warm for all), peak RSS (each command is the only child of a small wrapper process whose
getrusage(RUSAGE_CHILDREN).ru_maxrss is that command's peak) and the ratios against issue 3's targets.
It also checks that claimback's token totals equal ccusage 20's on the corpus.

ccusage is looked up in --ccusage18 / --ccusage20, else installed with npm into benchmarks/.work/npm/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
GEN = Path(os.environ.get("CLAIMBACK_GEN_CORPUS", REPO.parent / "shared" / "tools" / "gen_corpus.py"))

# Runs one command as its only child and reports wall time and that child's peak RSS.
_WRAPPER = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "wb"), stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kb": peak_kb, "rc": proc.returncode,
                  "stderr": proc.stderr.decode("utf-8", "replace")[-2000:]}))
"""


@dataclass
class Measure:
    name: str
    seconds: float
    peak_mb: float
    mb_per_s: float
    rc: int


def corpus_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.jsonl"))


def ensure_corpus(size_mb: int, seed: int) -> Path:
    out = WORK / f"corpus-{size_mb}mb-s{seed}"
    done = out / ".complete"
    if not done.exists():
        if out.exists():
            shutil.rmtree(out)
        print(f"generating {size_mb} MB corpus into {out} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(GEN), "--out", str(out), "--size-mb", str(size_mb), "--seed", str(seed)],
                       check=True)
        done.write_text("ok\n")
    return out


def warm_page_cache(root: Path) -> None:
    """Read every file once so no tool pays for the disk and the first one measured is not penalized."""
    for path in root.rglob("*.jsonl"):
        with open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass


def npm_install(spec: str, folder: str) -> Path:
    prefix = WORK / "npm" / folder
    if not (prefix / "node_modules" / "ccusage").exists():
        prefix.mkdir(parents=True, exist_ok=True)
        print(f"npm install {spec} into {prefix} ...", file=sys.stderr, flush=True)
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", spec], check=True,
                       stdout=subprocess.DEVNULL)
    return prefix / "node_modules"


def ccusage18_cmd(arg: str | None) -> list[str] | None:
    if shutil.which("node") is None:
        return None
    script = Path(arg) if arg else npm_install("ccusage@18", "ccusage18") / "ccusage" / "dist" / "index.js"
    return ["node", str(script)] if script.exists() else None


def ccusage20_cmd(arg: str | None) -> list[str] | None:
    binary = Path(arg) if arg else (npm_install("ccusage@20.0.24", "ccusage20") / "@ccusage" / "ccusage-linux-x64"
                                    / "bin" / "ccusage")
    if not binary.exists():
        return None
    binary.chmod(0o755)
    return [str(binary)]


def measure(name: str, cmd: list[str], env: dict[str, str], out_file: Path, size: int) -> Measure:
    result = subprocess.run([sys.executable, "-c", _WRAPPER, str(out_file), *cmd], env=env,
                            capture_output=True, text=True, check=True)
    data = json.loads(result.stdout)
    if data["rc"] != 0:
        print(f"{name} failed (exit {data['rc']}):\n{data['stderr']}", file=sys.stderr)
    seconds = data["seconds"]
    return Measure(name, round(seconds, 3), round(data["peak_kb"] / 1024, 1), round(size / 1e6 / seconds, 1),
                   data["rc"])


def totals_of(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    t = data.get("totals", {})
    return {k: t.get(k) for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")}


def run_size(size_mb: int, seed: int, c18: list[str] | None, c20: list[str] | None, repeat: int) -> dict:
    corpus = ensure_corpus(size_mb, seed)
    size = corpus_bytes(corpus)
    warm_page_cache(corpus)
    home = WORK / "home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    ledger = WORK / f"ledger-{size_mb}mb.sqlite3"
    env = dict(os.environ, TZ="UTC", HOME=str(home), CLAIMBACK_HOME=str(home / "cb"),
               CLAUDE_CONFIG_DIR=str(corpus), NO_COLOR="1")
    claimback = [sys.executable, "-m", "claimback"]
    outs = WORK / "out"
    outs.mkdir(exist_ok=True)

    def best(name: str, cmd: list[str], out: str, before=None) -> Measure:
        """The fastest of `repeat` runs: other processes on the machine only ever add time."""
        runs = []
        for _ in range(repeat):
            if before:
                before()
            runs.append(measure(name, cmd, env, outs / out, size))
        return min(runs, key=lambda m: m.seconds)

    def fresh_ledger() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{ledger}{suffix}").unlink(missing_ok=True)

    rows: list[Measure] = [
        best("claimback ingest (cold)", claimback + ["ingest", "--quiet", "--db", str(ledger),
                                                     "--source", str(corpus / "projects")], "ingest.txt",
             before=fresh_ledger),
        best("claimback usage daily --json (unchanged re-run)",
             claimback + ["usage", "daily", "--json", "--mode", "calculate", "--db", str(ledger),
                          "--source", str(corpus / "projects")], "claimback-daily.json"),
    ]
    if c18:
        rows.append(best("ccusage 18 daily --json --offline (node)", c18 + ["daily", "--json", "--offline"],
                         "ccusage18-daily.json"))
    if c20:
        rows.append(best("ccusage 20.0.24 daily --json --offline (native)", c20 + ["daily", "--json", "--offline"],
                         "ccusage20-daily.json"))
    ours = totals_of(outs / "claimback-daily.json")
    native = totals_of(outs / "ccusage20-daily.json") if c20 else {}
    return {"size_mb": round(size / 2**20, 1), "bytes": size, "rows": [asdict(r) for r in rows],
            "repeat": repeat, "load_after": [round(x, 1) for x in os.getloadavg()],
            "tokens_equal_ccusage20": (ours == native) if native else None, "claimback_totals": ours,
            "ccusage20_totals": native}


def ratios(result: dict) -> list[tuple[str, str, str, bool | None]]:
    by = {r["name"].split(" (")[0] if "claimback" in r["name"] else r["name"]: r for r in result["rows"]}
    cold = next(r for r in result["rows"] if "ingest" in r["name"])
    rerun = next(r for r in result["rows"] if "re-run" in r["name"])
    c18 = next((r for r in result["rows"] if r["name"].startswith("ccusage 18")), None)
    c20 = next((r for r in result["rows"] if r["name"].startswith("ccusage 20")), None)
    out = []
    if c20:
        x = cold["seconds"] / c20["seconds"]
        out.append(("cold ingest time / ccusage native daily", f"{x:.2f}x", "<= 1.5x", x <= 1.5))
        y = c20["seconds"] / rerun["seconds"]
        out.append(("ccusage native daily / unchanged re-run", f"{y:.1f}x faster", ">= 10x", y >= 10))
    if c18:
        z = c18["seconds"] / cold["seconds"]
        out.append(("ccusage 18 daily / cold ingest", f"{z:.1f}x faster", ">= 8x", z >= 8))
    peak = max(cold["peak_mb"], rerun["peak_mb"])
    out.append(("claimback peak RSS", f"{peak:.0f} MB", "<= 150 MB", peak <= 150))
    del by
    return out


def render(results: list[dict]) -> str:
    lines = []
    for res in results:
        lines.append(f"\n### Corpus {res['size_mb']} MiB ({res['bytes']:,} bytes), best of {res['repeat']} runs "
                     f"(load average after: {res['load_after']})\n")
        lines.append("| command | seconds | MB/s | peak RSS (MB) |")
        lines.append("|---|---:|---:|---:|")
        for r in res["rows"]:
            flag = "" if r["rc"] == 0 else f" (exit {r['rc']})"
            lines.append(f"| {r['name']}{flag} | {r['seconds']:.2f} | {r['mb_per_s']:.0f} | {r['peak_mb']:.0f} |")
        lines.append("\n| ratio | measured | target (issue 3) | met |")
        lines.append("|---|---:|---:|:-:|")
        for name, value, target, ok in ratios(res):
            lines.append(f"| {name} | {value} | {target} | {'yes' if ok else 'NO'} |")
        if res["tokens_equal_ccusage20"] is not None:
            lines.append(f"\nToken totals equal ccusage 20's: {'yes' if res['tokens_equal_ccusage20'] else 'NO'} "
                         f"({res['claimback_totals']})")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, action="append", help="corpus size in MiB (repeatable; default 100)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ccusage18", help="path to ccusage 18's dist/index.js (default: npm install into .work)")
    ap.add_argument("--ccusage20", help="path to ccusage 20.0.24's native binary (default: npm install into .work)")
    ap.add_argument("--no-ccusage", action="store_true", help="time claimback only")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command; the fastest counts (default 3)")
    ap.add_argument("--json", dest="json_out", help="also write the results to this JSON file")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    c18 = None if args.no_ccusage else ccusage18_cmd(args.ccusage18)
    c20 = None if args.no_ccusage else ccusage20_cmd(args.ccusage20)
    results = []
    for size in args.size_mb or [100]:
        results.append(run_size(size, args.seed, c18, c20, max(1, args.repeat)))
    host = (f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average before: "
            f"{[round(x, 1) for x in os.getloadavg()]}")
    print(f"claimback ingest benchmark — {host}")
    print(render(results))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"host": host, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
