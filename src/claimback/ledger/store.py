"""Opening, migrating and talking to the ledger database.

SQLite (stdlib sqlite3, WAL) is the default; a `postgresql://` URL selects PostgreSQL through psycopg 3.
SQL in claimback is written once with `?` placeholders and the portable subset both engines accept
(`INSERT ... ON CONFLICT`, no engine-specific functions); `Ledger.sql` adapts the placeholder style.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from claimback import __version__
from claimback.config import default_ledger_path
from claimback.errors import LedgerError
from claimback.ledger.schema import LATEST_VERSION, MIGRATIONS, MIGRATIONS_TABLE


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def resolve_target(db: str | os.PathLike[str] | None) -> str:
    """`--db` wins, then `CLAIMBACK_DB`, then the ledger in the user data dir."""
    if db:
        return os.fspath(db)
    return os.environ.get("CLAIMBACK_DB") or str(default_ledger_path())


@dataclass
class Ledger:
    """A migrated connection. Use `transaction()` around writes; reads may run at any time."""

    conn: Any
    dialect: str  # "sqlite" | "postgresql"
    location: str

    # -- SQL helpers -------------------------------------------------------------------------------
    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgresql" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.sql(statement), tuple(params))

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self.dialect == "postgresql":
            with self.conn.cursor() as cur:
                cur.executemany(self.sql(statement), rows)
        else:
            self.conn.executemany(statement, rows)

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(self.sql(statement), tuple(params))
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(self.sql(statement), tuple(params)).fetchone()
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
        self.conn.execute(MIGRATIONS_TABLE)
        current = self.schema_version()
        if current > LATEST_VERSION:
            raise LedgerError(
                f"the ledger at {self.location} was written by a newer claimback (schema {current}, "
                f"this is {__version__} with schema {LATEST_VERSION}); upgrade claimback to read it"
            )
        applied = []
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            with self.transaction():
                # Another process may have migrated while we waited for the write lock.
                if self.schema_version() >= migration.version:
                    continue
                for statement in migration.statements:
                    self.conn.execute(statement)
                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at, claimback_version) "
                    "VALUES (?, ?, ?, ?)",
                    (migration.version, migration.name, utc_now_iso(), __version__),
                )
            applied.append(migration.version)
        return applied


def _connect_sqlite(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(f"cannot create the ledger directory {path.parent}: {exc.strerror}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise LedgerError(f"the ledger {path} is not writable (check its permissions or pass --db)")
    if not path.exists() and not os.access(path.parent, os.W_OK):
        raise LedgerError(f"cannot create the ledger in {path.parent}: directory is not writable")
    try:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA journal_mode = WAL")
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


def open_ledger(db: str | os.PathLike[str] | None = None, *, migrate: bool = True) -> Ledger:
    target = resolve_target(db)
    if is_postgres_url(target):
        ledger = Ledger(_connect_postgres(target), "postgresql", _redact_url(target))
    else:
        path = Path(target).expanduser()
        ledger = Ledger(_connect_sqlite(path), "sqlite", str(path))
    if migrate:
        try:
            ledger.migrate()
        except LedgerError:
            ledger.close()
            raise
        except sqlite3.DatabaseError as exc:
            ledger.close()
            raise LedgerError(f"cannot migrate the ledger {ledger.location}: {exc}") from None
    return ledger


def _redact_url(url: str) -> str:
    """Connection URLs may carry a password; never show it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
