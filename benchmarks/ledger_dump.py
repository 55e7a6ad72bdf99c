#!/usr/bin/env python3
"""Compare two SQLite ledgers row by row (speed work must not change what a ledger holds):

    python benchmarks/ledger_dump.py A.sqlite3 B.sqlite3     # exit 0 when every table holds the same rows

Every table's rows are read in a fixed order (all columns sorted) and hashed; columns that record when
something ran (updated_at, applied_at, first_seen, ...) and the bookkeeping tables (schema_migrations,
ingest_runs, report_cache) are left out. Indexes and page size may differ; rows may not.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys

SKIP_TABLES = {"schema_migrations", "ingest_runs", "report_cache", "meta"}
SKIP_COLUMNS = {"updated_at", "applied_at", "first_seen", "last_seen", "created_at_local"}


def digest(path: str) -> dict[str, tuple[int, str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    out: dict[str, tuple[int, str]] = {}
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        if table in SKIP_TABLES or table.startswith("sqlite_"):
            continue
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in SKIP_COLUMNS]
        listed = ", ".join(cols)
        h = hashlib.sha256()
        n = 0
        for row in conn.execute(f"SELECT {listed} FROM {table} ORDER BY {listed}"):
            h.update(repr(row).encode("utf-8", "surrogatepass"))
            n += 1
        out[table] = (n, h.hexdigest()[:16])
    conn.close()
    return out


def main() -> int:
    from pathlib import Path

    from _harness import BAD_USAGE, fail

    if len(sys.argv) != 3:
        fail("usage: ledger_dump.py A.sqlite3 B.sqlite3", BAD_USAGE)
    for path in sys.argv[1:]:
        if not Path(path).is_file():
            fail(f"no ledger at {path}", BAD_USAGE)
    try:
        a, b = digest(sys.argv[1]), digest(sys.argv[2])
    except sqlite3.DatabaseError as exc:
        fail(f"cannot read the ledgers: {exc}", BAD_USAGE)
    same = True
    for table in sorted(set(a) | set(b)):
        mark = "same" if a.get(table) == b.get(table) else "DIFFERENT"
        same &= mark == "same"
        print(f"{table:20} {a.get(table)!s:32} {b.get(table)!s:32} {mark}")
    print("ledgers hold the same rows" if same else "ledgers DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
