"""What the ledger holds, a full export, and compaction (`claimback ledger ...`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from claimback.errors import BadInput

from claimback.ledger.schema import LATEST_VERSION
from claimback.ledger.store import Ledger

TABLES = ("sessions", "requests", "failures", "agents", "tasks", "prompts", "incidents", "incident_updates",
          "quota_snapshots", "files", "machines", "cost_states")


@dataclass
class LedgerInfo:
    location: str
    backend: str
    schema_version: int
    schema_latest: int
    size_bytes: int | None
    rows: dict[str, int] = field(default_factory=dict)
    first_activity: str | None = None
    last_activity: str | None = None
    last_ingest: str | None = None


def ledger_info(ledger: Ledger) -> LedgerInfo:
    size = None
    if ledger.dialect == "sqlite":
        size = sum(os.path.getsize(p) for p in (ledger.location, ledger.location + "-wal")
                   if os.path.exists(p))
    return LedgerInfo(
        location=ledger.location,
        backend=ledger.dialect,
        schema_version=ledger.schema_version(),
        schema_latest=LATEST_VERSION,
        size_bytes=size,
        rows={t: int(ledger.scalar(f"SELECT COUNT(*) FROM {t}")) for t in TABLES},
        first_activity=ledger.scalar("SELECT MIN(ts) FROM requests"),
        last_activity=ledger.scalar("SELECT MAX(ts) FROM requests"),
        last_ingest=ledger.scalar("SELECT MAX(updated_at) FROM files"),
    )


def export_rows(ledger: Ledger, tables: tuple[str, ...] = TABLES) -> Iterator[dict[str, Any]]:
    """Every row of every table as `{"table": name, "row": {...}}`, streamed table by table."""
    for table in tables:
        cur = ledger.conn.execute(f"SELECT * FROM {table}")
        names = [d[0] for d in cur.description]
        while True:
            chunk = cur.fetchmany(5000)
            if not chunk:
                break
            for values in chunk:
                yield {"table": table, "row": dict(zip(names, values))}


def export_jsonl(ledger: Ledger, out: Path | None) -> int:
    encoder = msgspec.json.Encoder()
    count = 0
    # Written beside `out` and renamed when complete: an export that fails half-way (a full disk, an
    # interrupt) leaves no file that looks like a backup and is not one.
    partial = out.with_name(f".{out.name}.claimback-{os.getpid()}.tmp") if out else None
    try:
        handle = open(partial, "xb") if partial else None
    except OSError as exc:
        raise BadInput(f"cannot write {out}: {exc.strerror or exc}") from None
    done = False
    try:
        import sys

        sink = handle or sys.stdout.buffer
        for item in export_rows(ledger):
            sink.write(encoder.encode(item) + b"\n")
            count += 1
        sink.flush()
        done = True
    finally:
        if handle:
            handle.close()
            if done:
                os.replace(partial, out)
            else:
                os.unlink(partial)
    return count


def vacuum(ledger: Ledger) -> tuple[int | None, int | None]:
    before = ledger_info(ledger).size_bytes
    if ledger.dialect == "sqlite":
        ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ledger.conn.execute("VACUUM")
        ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        ledger.conn.execute("VACUUM ANALYZE")
    return before, ledger_info(ledger).size_bytes
