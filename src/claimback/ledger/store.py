"""Opening, migrating and talking to the ledger database.

SQLite (stdlib sqlite3, WAL) is the default; a `postgresql://` URL selects PostgreSQL through psycopg 3.
SQL in claimback is written once with `?` placeholders and the portable subset both engines accept
(`INSERT ... ON CONFLICT`, no engine-specific functions); `Ledger.sql` adapts the placeholder style.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the status line path would import typing (~3 ms)
if TYPE_CHECKING:
    from typing import Any

from claimback import __version__
from claimback.config import default_ledger_path
from claimback.core.times import utc_now_iso
from claimback.errors import EXIT_BAD_INPUT, LedgerError
from claimback.ledger.schema import LATEST_VERSION, MIGRATIONS, MIGRATIONS_TABLE, TEAM_INDEXES


def chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """`values` in pieces of at most `size`, for statements with an `IN (?, …)` list: SQLite caps a
    statement's parameters (32,766 here, 999 in older builds), and long lists plan worse on both engines."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def marks(values: Sequence[Any]) -> str:
    """The `?, ?, …` of an `IN (…)` list for `values`."""
    return ", ".join("?" for _ in values)


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def resolve_target(db: str | os.PathLike[str] | None) -> str:
    """`--db` wins, then `CLAIMBACK_DB`, then the ledger in the user data dir."""
    if db:
        return os.fspath(db)
    return os.environ.get("CLAIMBACK_DB") or str(default_ledger_path())


@lru_cache(maxsize=512)
def _to_pyformat(statement: str) -> str:
    """`?` → `%s` outside string literals; a literal `%` (LIKE 'x%', modulo) → `%%` for psycopg."""
    parts = statement.replace("%", "%%").split("'")
    # Even-numbered parts are outside quotes ('' inside a literal splits into an empty odd part).
    return "'".join(part.replace("?", "%s") if i % 2 == 0 else part for i, part in enumerate(parts))


class Ledger:
    """A migrated connection. Use `transaction()` around writes; reads may run at any time."""

    # A plain class, not a dataclass: `dataclasses` (and the `inspect` it loads) cost the status line's
    # once-a-minute snapshot path ~10 ms of start-up, a fifth of its budget.
    def __init__(self, conn: Any, dialect: str, location: str) -> None:
        self.conn = conn
        self.dialect = dialect  # "sqlite" | "postgresql"
        self.location = location

    def __repr__(self) -> str:
        return f"Ledger(dialect={self.dialect!r}, location={self.location!r})"

    # -- SQL helpers -------------------------------------------------------------------------------
    def sql(self, statement: str) -> str:
        return _to_pyformat(statement) if self.dialect == "postgresql" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        if self.dialect == "postgresql":
            return self.conn.execute(self.sql(statement), _pg_params(params))
        return self.conn.execute(statement, tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many rows.

        On PostgreSQL a large `INSERT INTO t (cols) VALUES (?, ...) [ON CONFLICT ...]` batch is COPYed
        into a temp table and moved with one INSERT ... SELECT (measured ~1.4x faster than psycopg's
        pipelined executemany, which in turn beat multi-row VALUES; see docs/benchmarks.md); other
        statements and small batches use the pipelined executemany. Callers see no difference."""
        if self.dialect != "postgresql":
            rows = rows if isinstance(rows, list) else list(rows)
            if rows:
                self.conn.executemany(statement, rows)
            return
        prepared = [_pg_params(row) for row in rows]
        if not prepared:
            return
        sql = self.sql(statement)
        shape = _insert_shape(sql)
        with self.conn.cursor() as cur:
            if shape is None or len(prepared) < _PG_COPY_MIN_ROWS:
                cur.executemany(sql, prepared)
                return
            table, columns, tail = shape
            stage = f"cb_stage_{table}"
            # A session-local temp table shaped like the target; COPY fills it, one INSERT ... SELECT
            # moves the rows with the statement's own ON CONFLICT rule. Created on every call: a
            # rolled-back transaction takes a table created inside it away again.
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS "
                        f"SELECT {columns} FROM {table} WITH NO DATA")
            def bulk() -> None:
                with cur.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
                    for row in prepared:
                        copy.write_row(row)
                cur.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}{tail}")
                cur.execute(f"DELETE FROM {stage}")  # cheaper than TRUNCATE for a small temp table

            if "DO UPDATE" not in tail.upper():
                bulk()
                return
            try:
                with self.conn.transaction():  # a savepoint
                    bulk()
            except _cardinality_violation():
                # DO UPDATE may not touch one row twice in a statement (a key repeated in the
                # batch): the savepoint undid the COPY; one statement per row, in order, instead.
                cur.executemany(sql, prepared)

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(statement, params)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(statement, params).fetchone()
        return row[0] if row else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        else:
            with self.conn.transaction():
                # One writer at a time, as on SQLite (BEGIN IMMEDIATE): concurrent ingesters would
                # otherwise deadlock on the whole-table post-ingest updates. Readers are not blocked.
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_WRITE_LOCK,))
                yield

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing is best effort; the data is already committed
            pass

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return int(self.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") or 0)

    def migrate(self) -> list[int]:
        """Apply every migration this version knows and the ledger lacks; refuse a newer ledger."""
        if self.dialect == "postgresql":
            # Machines sharing a fresh database start at once: only one may create the tables.
            self.conn.execute("SELECT pg_advisory_lock(%s)", (_PG_MIGRATE_LOCK,))
            try:
                return self._migrate()
            finally:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (_PG_MIGRATE_LOCK,))
        return self._migrate()

    def applied_versions(self) -> set[int]:
        return {int(row[0]) for row in self.execute("SELECT version FROM schema_migrations").fetchall()}

    def _migrate(self) -> list[int]:
        self.conn.execute(MIGRATIONS_TABLE)
        known = {m.version for m in MIGRATIONS}
        unknown = sorted(self.applied_versions() - known)
        if unknown:
            raise LedgerError(
                f"the ledger at {self.location} was written by a newer claimback (schema "
                f"{max(unknown)}, this is {__version__} with schema {LATEST_VERSION}); upgrade "
                "claimback to read it"
            )
        applied = []
        for migration in sorted(MIGRATIONS, key=lambda m: m.version):
            if migration.version in self.applied_versions():
                continue
            with self.transaction():
                # Another process may have migrated while we waited for the write lock.
                if migration.version in self.applied_versions():
                    continue
                if self.dialect in migration.dialects:
                    for statement in migration.statements:
                        self.conn.execute(statement)
                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at, claimback_version) "
                    "VALUES (?, ?, ?, ?)",
                    (migration.version, migration.name, utc_now_iso(), __version__),
                )
            applied.append(migration.version)
        return applied


# Advisory lock keys (arbitrary constants, "claimbak" in ASCII and one more) for PostgreSQL ledgers.
_PG_WRITE_LOCK = 0x636C61696D62616B
_PG_MIGRATE_LOCK = _PG_WRITE_LOCK + 1
# Below this many rows psycopg's pipelined executemany beats COPY's extra statements.
_PG_COPY_MIN_ROWS = 50
_INSERT_SHAPE = re.compile(
    r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([\w\s,]+)\)\s*VALUES\s*\((?:\s*%s\s*,)*\s*%s\s*\)(.*)$",
    re.DOTALL | re.IGNORECASE)


@lru_cache(maxsize=128)
def _insert_shape(sql: str) -> tuple[str, str, str] | None:
    """(table, columns, tail) for a single-row `INSERT INTO t (cols) VALUES (%s, ...) tail`."""
    found = _INSERT_SHAPE.match(sql)
    if not found or "%s" in found.group(3):  # parameters after VALUES cannot come from the stage
        return None
    tail = found.group(3).strip()
    return found.group(1), found.group(2).strip(), (" " + tail) if tail else ""


def _cardinality_violation() -> type[BaseException]:
    import psycopg.errors

    return psycopg.errors.CardinalityViolation


def _pg_params(params: Sequence[Any]) -> tuple[Any, ...]:
    """PostgreSQL text cannot hold NUL characters (SQLite can); transcripts occasionally do."""
    return tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) and "\x00" in v else v
                 for v in params)


def _enable_wal(conn: sqlite3.Connection, patience: float = 60.0) -> None:
    """Switch a ledger to WAL once. Two processes opening a new ledger at the same moment race for the
    switch, and SQLite answers the loser "database is locked" at once, without its busy handler: wait
    and look again (the winner's switch is persistent)."""
    deadline = time.monotonic() + patience
    delay = 0.01
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _not_a_directory(folder: Path) -> Path | None:
    """The nearest existing ancestor of `folder` (itself included) when it is not a directory."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def _connect_sqlite(path: Path, busy_timeout: float = 60.0) -> sqlite3.Connection:
    # What the user pointed --db (or CLAIMBACK_DB) at, judged before SQLite sees it: SQLite's own words
    # for these ("unable to open database file", "disk I/O error") name no cause, and a FIFO must not be
    # opened at all. Bad usage (exit 2), still a LedgerError so `doctor` reports it and goes on.
    if path.is_dir():
        raise LedgerError(f"the ledger path {path} is a directory; give a file (such as {path / 'ledger.sqlite3'})",
                          exit_code=EXIT_BAD_INPUT)
    if path.exists() and not path.is_file():
        raise LedgerError(f"the ledger path {path} is not a regular file (a FIFO or a device?)",
                          exit_code=EXIT_BAD_INPUT)
    blocker = _not_a_directory(path.parent)
    if blocker is not None:
        raise LedgerError(f"cannot create the ledger {path}: {blocker} is a file, not a directory",
                          exit_code=EXIT_BAD_INPUT)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(f"cannot create the ledger directory {path.parent}: {exc.strerror}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise LedgerError(f"the ledger {path} is not writable (check its permissions or pass --db)")
    if not path.exists() and not os.access(path.parent, os.W_OK):
        raise LedgerError(f"cannot create the ledger in {path.parent}: directory is not writable")
    try:
        new = not path.exists() or path.stat().st_size == 0
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if new:
            # 16 KiB pages (SQLite's default is 4 KiB): request rows are ~400 bytes with ten indexed
            # columns, and bigger pages mean fewer B-tree splits and page writes per row (measured: cold
            # ingest ~5 % faster, the same size on disk). Only an empty file takes it; old ledgers keep theirs.
            conn.execute("PRAGMA page_size = 16384")
        _enable_wal(conn, busy_timeout)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = OFF")
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"cannot open the ledger {path}: {exc} (is it a claimback ledger?)") from None
    return conn


def _connect_postgres(url: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise LedgerError(
            "a PostgreSQL ledger needs psycopg: pip install 'claimback[postgres]'"
        ) from None
    url = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LedgerError(f"cannot connect to the PostgreSQL ledger: {first_line}") from None


def open_ledger(db: str | os.PathLike[str] | None = None, *, migrate: bool = True,
                busy_timeout: float = 60.0) -> Ledger:
    """`busy_timeout`: how long a SQLite write waits for another process's write to end (seconds)."""
    target = resolve_target(db)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", target) and not is_postgres_url(target):
        # `mysql://…` or `sqlite://…` would otherwise become a SQLite file named like the URL.
        raise LedgerError(f"{_redact_url(target)} is not a ledger: give a SQLite file path or a postgresql:// URL",
                          exit_code=EXIT_BAD_INPUT)
    if is_postgres_url(target):
        ledger = Ledger(_connect_postgres(target), "postgresql", _redact_url(target))
    else:
        path = Path(target).expanduser()
        ledger = Ledger(_connect_sqlite(path, busy_timeout), "sqlite", str(path))
    if migrate:
        try:
            applied = ledger.migrate()
            if ledger.dialect == "sqlite":
                if 60 in applied and _needs_team_indexes(ledger):
                    ensure_team_indexes(ledger)
                restore_deferred_indexes(ledger, orphaned_only=True)
        except LedgerError:
            ledger.close()
            raise
        except sqlite3.DatabaseError as exc:
            ledger.close()
            raise LedgerError(f"cannot migrate the ledger {ledger.location}: {exc}") from None
        except Exception as exc:
            if not type(exc).__module__.startswith("psycopg"):
                raise
            ledger.close()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LedgerError(f"cannot migrate the ledger {ledger.location}: {first}") from None
    return ledger


# -- indexes built after the rows (SQLite) ------------------------------------------------------------

def _index_names(ledger: Ledger) -> set[str]:
    return {row[0] for row in ledger.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()}


def _needs_team_indexes(ledger: Ledger) -> bool:
    """A second machine or a telemetry row: the ledger is shared, and team queries need their indexes."""
    if int(ledger.scalar("SELECT COUNT(*) FROM machines") or 0) > 1:
        return True
    return any(ledger.scalar(f"SELECT 1 FROM {table} WHERE origin = 'otel' LIMIT 1") is not None
               for table in ("requests", "failures"))


def has_team_indexes(ledger: Ledger) -> bool:
    """Whether the OTel/team indexes exist (always on PostgreSQL). On SQLite they exist once the ledger
    holds telemetry or a second machine, so without them there is no telemetry row to look for."""
    return ledger.dialect != "sqlite" or "requests_otel" in _index_names(ledger)


def ensure_team_indexes(ledger: Ledger) -> None:
    """Build the indexes a shared ledger needs (schema.TEAM_INDEXES), once; a no-op on PostgreSQL."""
    if ledger.dialect != "sqlite" or set(TEAM_INDEXES) <= _index_names(ledger):
        return
    if ledger.conn.in_transaction:  # part of the caller's write (a machine or telemetry row being added)
        for statement in TEAM_INDEXES.values():
            ledger.execute(statement)
        return
    with ledger.transaction():
        for statement in TEAM_INDEXES.values():
            ledger.execute(statement)


# A first load into an empty ledger inserts every row into every index with random keys; building the
# indexes afterwards (one sort each) is cheaper. The dropped indexes' SQL is kept in `meta` in the same
# transaction that drops them, so a crash in between loses nothing: the next open (once the loading
# process is gone) or the next ingest builds them again.
DEFERRED_INDEXES_KEY = "deferred_indexes"
_DEFERRABLE_TABLES = ("requests", "failures", "prompts", "tasks")


def defer_indexes(ledger: Ledger) -> bool:
    """Drop the secondary indexes of the bulk tables of an empty SQLite ledger; False if not done
    (not SQLite, rows present, or another process deferred them already)."""
    if ledger.dialect != "sqlite":
        return False
    import json

    with ledger.transaction():
        if ledger.scalar("SELECT value FROM meta WHERE key = ?", (DEFERRED_INDEXES_KEY,)) is not None:
            return False
        if any(ledger.scalar(f"SELECT 1 FROM {table} LIMIT 1") is not None
               for table in ("files",) + _DEFERRABLE_TABLES):
            return False
        marks = ", ".join("?" for _ in _DEFERRABLE_TABLES)
        indexes = [(name, sql) for name, sql in ledger.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks}) ORDER BY name", _DEFERRABLE_TABLES).fetchall()]
        if not indexes:
            return False
        ledger.execute("INSERT INTO meta (key, value) VALUES (?, ?)",
                       (DEFERRED_INDEXES_KEY, json.dumps({"pid": os.getpid(), "indexes": indexes})))
        for name, _ in indexes:
            ledger.execute(f'DROP INDEX "{name}"')
    return True


def restore_deferred_indexes(ledger: Ledger, *, orphaned_only: bool = False) -> bool:
    """Build the indexes `defer_indexes` dropped. With `orphaned_only`, only when the process that
    dropped them is gone (a crash); a running first load builds its own. True if any were built."""
    if ledger.dialect != "sqlite":
        return False
    value = ledger.scalar("SELECT value FROM meta WHERE key = ?", (DEFERRED_INDEXES_KEY,))
    if value is None:
        return False
    import json

    try:
        record = json.loads(value)
        pid, indexes = int(record["pid"]), [(str(n), str(q)) for n, q in record["indexes"]]
    except (ValueError, KeyError, TypeError):
        pid, indexes = -1, []
    if orphaned_only and pid != os.getpid() and _process_alive(pid):
        return False
    with ledger.transaction():
        if ledger.scalar("SELECT value FROM meta WHERE key = ?", (DEFERRED_INDEXES_KEY,)) is None:
            return False  # another process built them meanwhile
        present = _index_names(ledger)
        for name, sql in indexes:
            if name not in present and sql.upper().startswith("CREATE "):
                ledger.execute(sql)
        ledger.execute("DELETE FROM meta WHERE key = ?", (DEFERRED_INDEXES_KEY,))
    return True


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _redact_url(url: str) -> str:
    """Connection URLs may carry a password; never show it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
