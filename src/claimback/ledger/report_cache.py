"""The `report_cache` table: answers computed from the ledger, kept while the ledger is unchanged.

Two kinds of entry share it: the grouped sums behind every usage report (analysis/usage.py) and the
whole `usage … --json` text (claimback.fastcli), which lets an unchanged re-run answer without importing
the report modules at all. An entry is valid only while `ledger_token` reads what it read when the entry
was computed. Derived data: deleting the table's rows at any time changes nothing but speed.

This module is on that re-run's path: it imports nothing at module level.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing is part of what this path saves
if TYPE_CHECKING:
    from claimback.ledger.store import Ledger

# Bump when what an entry holds changes shape: entries of another version never match.
CACHE_VERSION = "2"
# The reports of the last few range, zone and option choices.
KEEP_ENTRIES = 24


def plain(value: object) -> object:
    """PostgreSQL returns SUM(BIGINT) as Decimal: make every value JSON-able and engine-independent."""
    if value is None or isinstance(value, (int, float, str)):  # SQLite's, without importing decimal
        return value
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def ledger_token(ledger: Ledger) -> str:
    """Changes whenever what a usage report reads can have changed: requests were added or deleted (count,
    latest ts); an ingest read a file (rows are updated only while reading one: then the files' read
    offsets, sizes, mtimes or update times moved); sessions, subagent runs or cost-states were added (an
    import or telemetry adds rows without reading a file). Millisecond update times alone can tie in fast
    test runs."""
    # Subqueries, not one SELECT of COUNT(*) and MAX: MAX alone is one index seek, while COUNT(*) beside it
    # made SQLite walk the whole ts index (1 GB: 23 ms -> 0.6 ms, every report). MAX(rowid) is one seek.
    counts = ledger.execute(
        "SELECT (SELECT COUNT(*) FROM requests), (SELECT MAX(ts) FROM requests), "
        "(SELECT MAX(rowid) FROM sessions), (SELECT MAX(rowid) FROM tasks), "
        "(SELECT MAX(rowid) FROM cost_states)").fetchone() if ledger.dialect == "sqlite" else ledger.execute(
        "SELECT (SELECT COUNT(*) FROM requests), (SELECT MAX(ts) FROM requests), "
        "(SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM tasks), "
        "(SELECT COUNT(*) FROM cost_states)").fetchone()
    files = ledger.execute(
        "SELECT COUNT(*), MAX(updated_at), SUM(byte_offset), SUM(size), SUM(mtime_ns % 1000000007), "
        "SUM(lines_read) FROM files").fetchone()
    return "|".join(str(plain(v)) for v in (CACHE_VERSION, *counts, *files))


def cached(ledger: Ledger, key: str, token: str) -> str | None:
    """The payload stored under `key` while the ledger read `token`, else None. A damaged or missing cache
    is a miss, never an error."""
    try:
        hit = ledger.execute("SELECT token, payload FROM report_cache WHERE cache_key = ?", (key,)).fetchone()
    except Exception:  # noqa: BLE001 - a damaged cache must never break a report
        return None
    return hit[1] if hit is not None and hit[0] == token else None


def remember(ledger: Ledger, key: str, token: str, payload: str) -> None:
    """Store `payload` under `key` for `token`. An optimization only: a read-only ledger, a write lock held
    elsewhere or any other failure leaves the cache as it was."""
    from claimback.core.times import utc_now_iso

    sqlite = ledger.dialect == "sqlite"
    try:
        if sqlite:  # never wait long for the write lock: the cache is not worth a slow report
            ledger.execute("PRAGMA busy_timeout = 200")
        with ledger.transaction():
            ledger.execute(
                "INSERT INTO report_cache (cache_key, token, payload, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (cache_key) DO UPDATE SET token = excluded.token, payload = excluded.payload, "
                "created_at = excluded.created_at",
                (key, token, payload, utc_now_iso()))
            ledger.execute("DELETE FROM report_cache WHERE cache_key NOT IN (SELECT cache_key FROM "
                           f"report_cache ORDER BY created_at DESC LIMIT {KEEP_ENTRIES})")
    except Exception:  # noqa: BLE001 - read-only ledger, lock held elsewhere, ...: report without caching
        pass
    finally:
        if sqlite:
            ledger.execute("PRAGMA busy_timeout = 60000")
