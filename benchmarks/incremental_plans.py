#!/usr/bin/env python3
"""Every statement an incremental ingest runs, with its query plan (issue 17: no full-table scan).

    python benchmarks/incremental_plans.py --db LEDGER --source PROJECTS [--append FILE] [--pg-url URL]

Runs one ingest of PROJECTS into LEDGER (already holding them: the incremental path) with SQLite's
trace callback on, then prints each distinct statement it ran (literals folded, with how often it
ran) and its `EXPLAIN QUERY PLAN`, the scans of a whole table first (`SCAN t` without an index is
a read of every row; `SCAN t USING ... INDEX` is a read of every entry of that index). `--append
FILE` first appends to FILE a new answer and a new prompt (its last ones with new ids and uuids: an
ingest that finds new lines; without it, one that finds nothing). Each statement's time is the wall
time from its start to the next statement's (Python work in between included): a rough share. With `--pg-url`, the same statements are run through `EXPLAIN` on that
PostgreSQL ledger too (it must hold the same corpus for the plans to mean the same: run an ingest
there first). Nothing is timed per statement: the plan is what grows with the ledger.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import BAD_USAGE, fail  # noqa: E402

_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def shape(statement: str) -> str:
    """The statement with its literals folded (one line per statement kind, not per row)."""
    return re.sub(r"(\?, )+\?", "?, ...", _LITERAL.sub("?", " ".join(statement.split())))


def whole_scans(plan: str) -> list[str]:
    """The `SCAN <table>` steps of a SQLite plan that read a table without any index."""
    return [step for step in plan.split(" | ")
            if step.startswith("SCAN ") and " INDEX " not in step and "CONSTANT ROW" not in step]


def append_new_lines(path: Path) -> None:
    """A new answer and a new prompt: the file's last ones with fresh ids, a second later."""
    import json
    import uuid
    from datetime import timedelta

    from claimback.core.times import format_iso, parse_utc

    records = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    out = []
    for kind in ("user", "assistant"):
        last = next((r for r in reversed(records) if r.get("type") == kind and r.get("timestamp")
                     and (kind == "user" or (r.get("message") or {}).get("usage"))), None)
        if last is None:
            continue
        rec = dict(last, uuid=str(uuid.uuid4()), timestamp=format_iso(parse_utc(last["timestamp"]) + timedelta(seconds=1)))
        if kind == "assistant":
            rec["requestId"] = "req_011" + uuid.uuid4().hex[:21]
            rec["message"] = dict(last["message"], id="msg_01" + uuid.uuid4().hex[:22])
        out.append(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
    with open(path, "ab") as handle:
        handle.write(b"".join(out))


def trace_ingest(db: str, source: Path) -> tuple[list[tuple[str, float]], float]:
    from claimback.ledger import open_ledger
    from claimback.ledger.changes import ingest_changes

    ledger = open_ledger(db)
    marks: list[tuple[str, float]] = []
    ledger.conn.set_trace_callback(lambda s: marks.append((s, time.perf_counter())))
    started = time.process_time()
    summary = ingest_changes(ledger, [source], machine=None)
    cpu = time.process_time() - started
    ledger.conn.set_trace_callback(None)
    end = time.perf_counter()
    statements = [(s, (marks[i + 1][1] if i + 1 < len(marks) else end) - t) for i, (s, t) in enumerate(marks)]
    print(f"ingest: {summary.files_read} files read, {summary.lines_read} lines, {cpu * 1000:.1f} ms CPU, "
          f"{len(statements)} statements run")
    ledger.close()
    return statements, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a SQLite ledger that already holds --source")
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--append", type=Path, help="a transcript under --source: its last line is appended again")
    ap.add_argument("--pg-url", help="a PostgreSQL ledger holding the same corpus: EXPLAIN there too")
    args = ap.parse_args()
    if not Path(args.db).is_file():
        fail(f"--db {args.db}: no such ledger (ingest --source first: the plans are an incremental run's)", BAD_USAGE)
    if not args.source.is_dir():
        fail(f"--source {args.source}: not a directory of transcripts", BAD_USAGE)
    if args.append:
        if not args.append.is_file():
            fail(f"--append {args.append}: no such transcript", BAD_USAGE)
        append_new_lines(args.append)
    statements, _ = trace_ingest(args.db, args.source)
    import sqlite3

    conn = sqlite3.connect(args.db)
    kinds: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    first: dict[str, str] = {}
    for statement, seconds in statements:
        if statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")):
            continue
        key = shape(statement)
        kinds[key] += 1
        spent[key] += seconds
        first.setdefault(key, statement)
    report = []
    for key, count in kinds.items():
        try:
            plan = " | ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + first[key]))
        except sqlite3.Error as exc:  # a statement of a temp object (or DDL): no plan to read
            plan = f"(no plan: {exc})"
        report.append((bool(whole_scans(plan)), count, key, plan))
    report.sort(key=lambda r: (not r[0], -r[1]))
    for scans, count, key, plan in report:
        print(f"\n{'WHOLE-TABLE SCAN ' if scans else ''}x{count}, {spent[key] * 1000:.2f} ms: {key[:400]}\n    {plan}")
    if args.pg_url:
        from claimback.ledger import open_ledger

        pg = open_ledger(args.pg_url)
        print("\n--- PostgreSQL ---")
        for _, count, key, _ in report:
            try:
                with pg.conn.transaction():
                    # the statement as SQLite ran it, literals in place: psycopg sends it as it is
                    rows = pg.conn.execute("EXPLAIN " + first[key]).fetchall()
                    raise _Rollback
            except _Rollback:
                pass
            except Exception as exc:  # noqa: BLE001 - SQLite-only statements (sqlite_master, PRAGMA)
                print(f"\nx{count}: {key[:300]}\n    (no plan: {str(exc).splitlines()[0]})")
                continue
            plan = " | ".join(str(r[0]).strip() for r in rows)
            flag = "SEQ SCAN " if "Seq Scan" in plan else ""
            print(f"\n{flag}x{count}: {key[:300]}\n    {plan[:600]}")
        pg.close()
    return 0


class _Rollback(Exception):
    """Undo an EXPLAIN's transaction (EXPLAIN without ANALYZE runs nothing, but stay on the safe side)."""


if __name__ == "__main__":
    sys.exit(main())
