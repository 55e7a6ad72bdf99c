#!/usr/bin/env python3
"""Team-ledger benchmark (issue 9): ingest into PostgreSQL vs SQLite, and concurrent ingesters.

    python benchmarks/pg_bench.py [--size-mb 200] [--ingesters 4] [--pg-url URL]

Generates (once; kept in benchmarks/.work/, gitignored) a corpus with ../shared/tools/gen_corpus.py of
--size-mb, plus --ingesters corpora of size/N each (other seeds: one per "machine"), then times real
`claimback ingest` processes, each with its own CLAIMBACK_HOME (so its own machine id):
  1. the whole corpus into a fresh SQLite ledger;
  2. the whole corpus into a fresh PostgreSQL database;
  3. N processes at once, one per part corpus, into one fresh PostgreSQL database (wall time until the
     last finishes);
  4. the same N part corpora one after another (the baseline for 3).
Each configuration runs --repeat times on a fresh ledger; the median wall time is reported.
Rows = requests + failures + prompts + tasks in the ledger afterwards; rows/s = rows / wall time.
PostgreSQL is --pg-url (a server you run; a database per run is created on it) or, by default, a
throwaway cluster started with initdb + pg_ctl (tests/_pg.py) with fsync off — like a test server, so
the figures are the ingest path's, not the disk's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
GEN = Path(os.environ.get("CLAIMBACK_GEN_CORPUS", REPO.parent / "shared" / "tools" / "gen_corpus.py"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(HERE))
from _harness import corpus_generator, fail  # noqa: E402


def reach(url: str) -> None:
    """A one-line error when the PostgreSQL server at `url` does not answer (no password shown)."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        info = conninfo_to_dict(url)
        where = f"{info.get('host', 'localhost')}:{info.get('port', 5432)}"
        said = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        fail(f"cannot reach PostgreSQL at {where}: {said}")


def corpus(size_mb: int, seed: int) -> Path:
    out = WORK / f"pg-corpus-{size_mb}mb-seed{seed}"
    if not (out / "projects").is_dir():
        subprocess.run([sys.executable, str(GEN), "--out", str(out), "--size-mb", str(size_mb), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
    return out / "projects"


def corpus_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.jsonl"))


def ingest_proc(db: str, source: Path, home: Path) -> subprocess.Popen:
    env = {**os.environ, "CLAIMBACK_HOME": str(home), "CLAIMBACK_USER": home.name}
    return subprocess.Popen([sys.executable, "-m", "claimback", "ingest", "--db", db, "--source", str(source),
                             "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"ingest failed ({proc.returncode}): {err[-1000:]}")


def row_count(db: str) -> dict[str, int]:
    from claimback.ledger import open_ledger

    with open_ledger(db) as ledger:
        counts = {t: int(ledger.scalar(f"SELECT COUNT(*) FROM {t}"))
                  for t in ("requests", "failures", "prompts", "tasks")}
        counts["machines"] = int(ledger.scalar("SELECT COUNT(*) FROM machines"))
        dupes = ledger.rows("SELECT request_id FROM requests WHERE request_id IS NOT NULL "
                            "GROUP BY request_id HAVING COUNT(*) > 1")
        counts["duplicate_request_ids"] = len(dupes)
    return counts


def run(name: str, db: str, sources: list[Path], tmp: Path, sequential: bool = False) -> dict:
    homes = [tmp / f"machine{i + 1}" for i in range(len(sources))]
    start = time.perf_counter()
    if sequential:
        for src, home in zip(sources, homes):
            wait_all([ingest_proc(db, src, home)])
    else:
        wait_all([ingest_proc(db, src, home) for src, home in zip(sources, homes)])
    seconds = time.perf_counter() - start
    counts = row_count(db)
    rows = sum(counts[t] for t in ("requests", "failures", "prompts", "tasks"))
    mb = sum(corpus_bytes(s) for s in sources) / 1e6
    return {"run": name, "processes": len(sources), "corpus_mb": round(mb, 1), "seconds": round(seconds, 2),
            "rows": rows, "rows_per_s": round(rows / seconds), "mb_per_s": round(mb / seconds, 1), **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--ingesters", type=int, default=4)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--pg-url", default=None, help="An existing server (default: a throwaway cluster).")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per configuration (median reported).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import _pg

    # The server first (reached, or started): generating corpora takes minutes, then finding no server.
    cluster = None
    server = args.pg_url
    if server is None:
        bindir = _pg.find_pg_bin()
        if bindir is None:
            fail("no PostgreSQL server binaries (apt-get install postgresql) and no --pg-url")
        try:
            cluster = _pg.start_cluster(bindir)
        except RuntimeError as exc:
            fail(" ".join(str(exc).split()))
        server = cluster.url()
    else:
        reach(server)
    try:
        WORK.mkdir(parents=True, exist_ok=True)
        corpus_generator(GEN)
        whole = corpus(args.size_mb, args.seed)
        parts = [corpus(max(args.size_mb // args.ingesters, 1), args.seed + 1 + i) for i in range(args.ingesters)]
    except BaseException:
        if cluster is not None:
            _pg.remove_cluster(cluster)
        raise
    results = []
    try:
        for name, sources, sequential in (
                ("sqlite", [whole], False), ("postgresql", [whole], False),
                (f"postgresql x{args.ingesters} concurrent", parts, False),
                (f"postgresql x{args.ingesters} sequential", parts, True)):
            runs = []
            for _ in range(args.repeat):  # fresh ledger each time; the median is reported
                with tempfile.TemporaryDirectory(prefix="claimback-pgbench-") as tmp_name:
                    tmp = Path(tmp_name)
                    db = str(tmp / "ledger.sqlite3") if name == "sqlite" else _pg.create_database(server)
                    runs.append(run(name, db, sources, tmp, sequential))
            runs.sort(key=lambda r: r["seconds"])
            best = runs[len(runs) // 2]
            best["seconds_all"] = [r["seconds"] for r in runs]
            results.append(best)
    finally:
        if cluster is not None:
            _pg.remove_cluster(cluster)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'run':32} {'MB':>6} {'median s':>9} {'rows':>7} {'rows/s':>7} {'MB/s':>6} {'dupes':>5}  all runs (s)")
    for r in results:
        print(f"{r['run']:32} {r['corpus_mb']:6.1f} {r['seconds']:9.2f} {r['rows']:7d} {r['rows_per_s']:7d} "
              f"{r['mb_per_s']:6.1f} {r['duplicate_request_ids']:5d}  {r['seconds_all']}")


if __name__ == "__main__":
    main()
