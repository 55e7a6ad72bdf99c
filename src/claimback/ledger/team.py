"""Who wrote which rows in a shared ledger, and keeping telemetry and transcript rows from double-counting.

Every row carries `machine_id` (a random id kept in the machine's data dir, `config.machine_id()`). The
person behind a machine is a *user label* kept once per machine in `machines.user_label`; reports join
rows to it, so relabelling a machine relabels its history (one place to fix a typo, and no label
column to fill on millions of rows).

Label resolution, first that is set: `--user` on a team command, `CLAIMBACK_USER`, `user_label` in
config.toml, the OS login name. An explicit label (the first three) replaces the stored one; the OS login
name only fills a machine that has none, so a label chosen once is not undone by a later plain ingest.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from datetime import datetime, timedelta

from claimback.core.times import parse_iso, utc_now_iso
from claimback.ledger.store import Ledger, chunks, ensure_team_indexes, has_team_indexes, marks


def resolve_user_label(explicit: str | None = None) -> tuple[str, bool]:
    """(label, explicitly chosen?)."""
    if explicit and explicit.strip():
        return explicit.strip(), True
    env = os.environ.get("CLAIMBACK_USER", "").strip()
    if env:
        return env, True
    try:
        from claimback.config import load_config

        configured = load_config().user_label
    except Exception:  # a broken config file must not stop an ingest; `doctor` reports it
        configured = None
    if isinstance(configured, str) and configured.strip():
        return configured.strip(), True
    try:
        return getpass.getuser(), False
    except Exception:  # no login name (some containers): still a usable, honest label
        return "unknown", False


def host_hash() -> str:
    """Tells machines apart in a report without storing the host name."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:12]


def register_machine(ledger: Ledger, machine_id: str, label: str | None = None, *,
                     explicit: bool | None = None, local: bool = True) -> str:
    """Record (or refresh) a machine and its user label; returns the label now stored. One upsert:
    atomic on its own, or part of the caller's transaction."""
    if label is None:
        label, chosen = resolve_user_label()
    else:
        chosen = True if explicit is None else explicit
    now = utc_now_iso()
    label_rule = ("excluded.user_label" if chosen
                  else "COALESCE(machines.user_label, excluded.user_label)")
    statement = (
        "INSERT INTO machines (machine_id, user_label, host_hash, first_seen, last_seen) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (machine_id) DO UPDATE SET "
        f"user_label = {label_rule}, host_hash = COALESCE(excluded.host_hash, machines.host_hash), "
        "last_seen = excluded.last_seen"
    )
    # A machine known only from telemetry has no host of ours to hash.
    ledger.execute(statement, (machine_id, label, host_hash() if local else None, now, now))
    if ledger.dialect == "sqlite" and int(ledger.scalar("SELECT COUNT(*) FROM machines") or 0) > 1:
        ensure_team_indexes(ledger)  # a second machine: the ledger is shared now
    return str(ledger.scalar("SELECT user_label FROM machines WHERE machine_id = ?", (machine_id,)))


# Telemetry and transcripts describe the same API calls. The transcript row wins (it has the message id,
# the turn and the file offset as evidence); an OTel row is dropped once a transcript row with the same
# Anthropic request id exists. An OTel failure the transcript names by no request id is the transcript's
# when that session has a transcript failure within `SAME_FAILURE_S` of it: the api_error of an attempt
# that got no response (no request id on either side), and 2.1.332's errors the transcript records under
# another id or none: a 400 "prompt is too long" the client answered by compacting (the transcript's
# compacted-refusal attempt has no id), and that compaction's own exhausted 529s (the transcript's final
# carries the refused request's id). A tolerance, not "the same minute": the two clocks' readings of one
# failure are milliseconds apart but can straddle a minute boundary.
SAME_FAILURE_S = 60.0
def _in(column: str, values: list[str] | None) -> tuple[str, list[str]]:
    if values is None:
        return "", []
    return f" AND {column} IN ({', '.join('?' for _ in values)})", list(values)


def drop_otel_duplicates(ledger: Ledger, request_ids: list[str] | None = None,
                         sessions: list[str] | None = None) -> int:
    """Remove OTel rows that a transcript row already records; returns how many went.

    With `request_ids` / `sessions` (the telemetry receiver's batch) only those are checked; without,
    every telemetry row is (after a transcript ingest). The partial indexes of migration 6 keep both
    from scanning transcript rows.
    """
    if not has_team_indexes(ledger):
        return 0  # a SQLite ledger builds them with its first telemetry row: none here
    removed = 0
    statements: list[tuple[str, list[str]]] = []
    if request_ids is None or request_ids:
        for table in ("requests", "failures"):
            clause, params = _in("request_id", request_ids)
            statements.append((
                f"DELETE FROM {table} WHERE origin = 'otel' AND request_id IS NOT NULL{clause} AND EXISTS ("
                f"SELECT 1 FROM {table} AS t WHERE t.request_id = {table}.request_id AND t.origin <> 'otel')",
                params))
    for statement, params in statements:
        cursor = ledger.execute(statement, params)
        removed += max(cursor.rowcount or 0, 0)
    if sessions is None or sessions:
        removed += _drop_failures_recorded_near(ledger, sessions)
    return removed


def _drop_failures_recorded_near(ledger: Ledger, sessions: list[str] | None) -> int:
    """OTel failures left after the request-id rule, dropped where their session's transcript has a
    failure within SAME_FAILURE_S (see above). Few rows: only telemetry failures (failures_otel) of
    sessions with a transcript failure (failures_session) are read, then those sessions' failure times;
    the rows of machines whose transcripts this ledger never gets stay in the database."""
    clause, params = _in("o.session_id", sessions)
    left = ledger.execute(
        "SELECT o.failure_key, o.session_id, o.ts FROM failures AS o WHERE o.origin = 'otel' "
        f"AND o.session_id IS NOT NULL{clause} AND EXISTS (SELECT 1 FROM failures AS t "
        "WHERE t.session_id = o.session_id AND t.origin <> 'otel')", params).fetchall()
    if not left:
        return 0
    near: dict[str, list[datetime]] = {}
    for part in chunks(sorted({row[1] for row in left})):
        for session, ts in ledger.execute(
                f"SELECT session_id, ts FROM failures WHERE session_id IN ({marks(part)}) "
                "AND origin <> 'otel'", part).fetchall():
            moment = parse_iso(ts)
            if moment is not None:
                near.setdefault(session, []).append(moment)
    tolerance = timedelta(seconds=SAME_FAILURE_S)
    drop = []
    for key, session, ts in left:
        moment = parse_iso(ts)
        if moment is not None and any(abs(moment - other) <= tolerance for other in near.get(session, ())):
            drop.append(key)
    for part in chunks(drop):
        ledger.execute(f"DELETE FROM failures WHERE failure_key IN ({marks(part)})", part)
    return len(drop)
