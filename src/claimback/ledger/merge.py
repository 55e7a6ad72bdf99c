"""`claimback ledger import FILE`: merge another ledger's `ledger export` into this one.

Many machines, one user: a laptop and a workstation each keep their own SQLite ledger; exporting one
and importing it into the other gives one ledger (and one claim) without running PostgreSQL. Every
table's rows carry keys that do not depend on the machine that read them (a request's key comes from
its message and request ids, a failure's from its record), so merging is inserting each row unless its
key is already there: importing the same file twice changes nothing, and rows both machines read once
(a synced ~/.claude) count once. Rows keep their `machine_id`, so team reports still tell them apart.
"""

from __future__ import annotations

import sqlite3

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from claimback.errors import BadInput
from claimback.ledger.info import TABLES
from claimback.ledger.store import Ledger

# Each exported table's key, as the schema declares it (ledger/schema.py).
KEYS: dict[str, tuple[str, ...]] = {
    "sessions": ("session_id",), "requests": ("request_key",), "failures": ("failure_key",),
    "agents": ("agent_id",), "tasks": ("tool_use_id",), "prompts": ("prompt_key",),
    "incidents": ("incident_id",), "incident_updates": ("update_id",), "quota_snapshots": ("machine_id", "ts"),
    "files": ("machine_id", "path"), "machines": ("machine_id",), "cost_states": ("state_key", "model"),
}
BATCH = 2000


@dataclass
class ImportSummary:
    path: str
    lines: int = 0
    added: dict[str, int] = field(default_factory=dict)  # new rows per table
    present: dict[str, int] = field(default_factory=dict)  # rows whose key was already here
    unknown_tables: dict[str, int] = field(default_factory=dict)  # from a newer claimback: skipped
    dropped_columns: dict[str, list[str]] = field(default_factory=dict)  # columns this schema lacks

    @property
    def total_added(self) -> int:
        return sum(self.added.values())


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    decoder = msgspec.json.Decoder()
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                item = decoder.decode(raw)
            except (msgspec.DecodeError, RecursionError):  # RecursionError: nested thousands deep
                raise BadInput(f"{path}:{number}: not a JSON line; is this a `claimback ledger export` file?") from None
            if not (isinstance(item, dict) and isinstance(item.get("table"), str) and isinstance(item.get("row"), dict)):
                raise BadInput(f"{path}:{number}: expected {{\"table\": ..., \"row\": {{...}}}} "
                               "(the `claimback ledger export` format)")
            yield number, item


def import_jsonl(ledger: Ledger, path: str | Path) -> ImportSummary:
    """Insert every exported row whose key is new, in one transaction (a bad line imports nothing)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path} is not a file (give the file `claimback ledger export --out FILE` wrote)")
    summary = ImportSummary(str(path))
    columns = {t: _columns(ledger, t) for t in TABLES}
    numeric = {t: _numeric_columns(ledger, t) for t in TABLES}
    before = {t: int(ledger.scalar(f"SELECT COUNT(*) FROM {t}")) for t in TABLES}
    pending: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
    seen: dict[str, int] = {}

    def flush(key: tuple[str, tuple[str, ...]]) -> None:
        table, names = key
        rows = pending.pop(key, [])
        if rows:
            marks = ", ".join("?" for _ in names)
            try:
                ledger.executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) "
                    f"ON CONFLICT ({', '.join(KEYS[table])}) DO NOTHING", rows)
            except Exception as exc:  # the database refused a row (a required column missing, a bad value)
                if not isinstance(exc, sqlite3.Error) and not type(exc).__module__.startswith("psycopg"):
                    raise
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BadInput(f"{path}: a {table} row the ledger refuses ({first}); nothing was imported") from None

    with ledger.transaction():
        for number, item in _lines(path):
            summary.lines += 1
            table, row = item["table"], item["row"]
            if table not in KEYS:
                summary.unknown_tables[table] = summary.unknown_tables.get(table, 0) + 1
                continue
            missing = [k for k in KEYS[table] if row.get(k) is None]
            if missing:
                raise BadInput(f"{path}:{number}: a {table} row without {', '.join(missing)}")
            known = columns[table]
            extra = sorted(set(row) - known)
            if extra:
                dropped = summary.dropped_columns.setdefault(table, [])
                dropped.extend(c for c in extra if c not in dropped)
            names = tuple(sorted(c for c in row if c in known))
            nested = [c for c in names if isinstance(row[c], (dict, list))]
            if nested:
                raise BadInput(f"{path}:{number}: a {table} row with an object or list in {', '.join(nested)}")
            # SQLite stores "lots" in a token count without a word, and every later sum reads it as 0.
            wrong = [c for c in names if row[c] is not None and not isinstance(
                row[c], (int, float) if numeric[table].get(c) else str)]
            if wrong:
                kinds = ", ".join(f"{c} ({'a number' if numeric[table][c] else 'text'} expected)" for c in wrong)
                raise BadInput(f"{path}:{number}: a {table} row with a value of the wrong kind in {kinds}; "
                               "nothing was imported")
            key = (table, names)
            pending.setdefault(key, []).append(tuple(row[c] for c in names))
            seen[table] = seen.get(table, 0) + 1
            if len(pending[key]) >= BATCH:
                flush(key)
        for key in list(pending):
            flush(key)
        if summary.lines and any(seen.values()):
            # the derived usage-report cache keys on row counts; drop it so nothing stale is served
            ledger.execute("DELETE FROM report_cache")
    for table in TABLES:
        added = int(ledger.scalar(f"SELECT COUNT(*) FROM {table}")) - before[table]
        if seen.get(table):
            summary.added[table] = added
            summary.present[table] = seen[table] - added
    return summary


def _columns(ledger: Ledger, table: str) -> set[str]:
    cur = ledger.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    return {d[0] for d in cur.description}


def _numeric_columns(ledger: Ledger, table: str) -> dict[str, bool]:
    """Each column of `table`: whether the schema declares it a number (BIGINT, DOUBLE PRECISION)."""
    if ledger.dialect == "sqlite":
        declared = [(row[1], row[2]) for row in ledger.execute(f"PRAGMA table_info({table})").fetchall()]
    else:
        declared = [(row[0], row[1]) for row in ledger.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema()", (table,)).fetchall()]
    return {name: any(word in (kind or "").upper() for word in ("INT", "DOUBLE", "REAL", "NUMERIC"))
            for name, kind in declared}
