"""Incremental ingest of transcript files into the ledger (DESIGN §3.1, §4).

Per file we remember (device, inode, size, mtime, byte offset of the last consumed line, hash of the
first 4 KiB, parser state). Unchanged files are skipped without opening; grown files are read from the
offset; replaced or shrunk files are re-read whole, which is safe because every row has a stable key.
Rows and the file's new offset are committed in one transaction, so a crash never stores half a file's
progress.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import msgspec

from claimback.config import machine_id as local_machine_id
from claimback.core import provider as _provider
from claimback.core.files import UnsafeFile, read_regular_bytes
from claimback.core.times import parse_iso, to_iso, utc_now_iso
# The summary and the plan live in ledger/changes.py, the per-file check and the tail hash in
# ledger/filestate.py, so that a run with nothing to read never imports this module (and the parser below).
from claimback.ledger.changes import Changes, IngestSummary, ProgressFn, find_changes
from claimback.ledger.filestate import LINKS_PENDING as _LINKS_PENDING
from claimback.ledger.filestate import same_tail as _same_tail
from claimback.ledger.filestate import tail_hash as _tail_hash
from claimback.ledger.store import Ledger, chunks, defer_indexes, has_team_indexes, marks, restore_deferred_indexes
from claimback.ledger.team import drop_otel_duplicates, register_machine
from claimback.sources.discovery import TranscriptFile
from claimback.sources.transcripts import (
    COST_STATE_COLUMNS,
    FAILURE_COLUMNS,
    PROMPT_COLUMNS,
    REQUEST_COLUMNS,
    TASK_COLUMNS,
    MAX_UNKNOWN_LABELS,
    FileState,
    ParseBatch,
    TranscriptParser,
    request_wins,
)

FLUSH_ROWS = 20_000
# While parse workers run, this process only writes: smaller transactions start the writes early, so they
# overlap the parsing instead of piling up behind it (the last flush is the part nothing overlaps).
PARALLEL_FLUSH_ROWS = 10_000
HEAD_BYTES = 4096
# Lines are read through a 1 MiB buffer (Python's default is 8 KiB): fewer read() calls and line splits
# across buffer edges; measured ~3 % of a cold ingest.
READ_BUFFER = 1 << 20
# Runs this large parse in worker processes (see _read_all); smaller ones are not worth the start-up.
PARALLEL_BYTES = 64 * 1024 * 1024
PARALLEL_WORKERS = 2
PARALLEL_MAX_FILE = 64 * 1024 * 1024
# Transcript bytes handed to the workers and not yet written, at most: enough that a flush never leaves
# them idle, little enough to bound the parsed rows held in memory.
PARALLEL_WINDOW_BYTES = 32 * 1024 * 1024
# Workers only while other processes keep at most this many cores busy (None: all cores but one and a
# half; see _core_free).
PARALLEL_MAX_LOAD: float | None = None
# How long the CPU use of the other processes is sampled before deciding (/proc/stat ticks are 10 ms).
CPU_PROBE_SECONDS = 0.05

def _insert(columns: tuple[str, ...], table: str, conflict: str) -> str:
    cols = columns + ("machine_id",)
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks(cols)}) ON CONFLICT {conflict}"


_REQUEST_TOTAL = "{t}.input_tokens + {t}.output_tokens + {t}.cache_creation_tokens + {t}.cache_read_tokens"
_UPSERT_REQUEST = _insert(
    REQUEST_COLUMNS, "requests",
    "(request_key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in REQUEST_COLUMNS[1:])
    + f" WHERE {_REQUEST_TOTAL.format(t='excluded')} > {_REQUEST_TOTAL.format(t='requests')}"
    + f" OR ({_REQUEST_TOTAL.format(t='excluded')} = {_REQUEST_TOTAL.format(t='requests')}"
    + " AND excluded.ts < requests.ts)",
)


def _earliest_wins(columns: tuple[str, ...], table: str, key: str) -> str:
    """Insert, or replace a row of the same key by an earlier record of it. A record Claude Code copied
    (`--resume` in older versions writes earlier records into the new file again, with the same uuid, a
    new timestamp and the new session) is the same event: the original's time, session and turn stay,
    whichever file is read first."""
    return _insert(columns, table, f"({key}) DO UPDATE SET "
                   + ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
                   + f" WHERE excluded.ts < {table}.ts")


_INSERT_FAILURE = _earliest_wins(FAILURE_COLUMNS, "failures", "failure_key")
_INSERT_TASK = _insert(TASK_COLUMNS, "tasks", "(tool_use_id) DO NOTHING")
_INSERT_PROMPT = _earliest_wins(PROMPT_COLUMNS, "prompts", "prompt_key")
# A fork's copies of its original's records belong to the original (sources/transcripts.py, copied_from):
# rows of the fork's session in the span of its copies, by the (session_id, time) indexes (prompts by ts).
_COPIED_TO_ORIGINAL = tuple(
    f"UPDATE {table} SET session_id = ? WHERE session_id = ? AND {ts} >= ? AND {ts} <= ?"
    for table, ts in (("failures", "ts"), ("failure_copies", "ts"), ("prompts", "ts"), ("prompt_copies", "ts"),
                      ("tasks", "launched_ts")))
# A cost-state record is its bytes: read again (a re-read file), it is the same row.
_INSERT_COST_STATE = _insert(COST_STATE_COLUMNS, "cost_states", "(state_key, model) DO NOTHING")
_UPDATE_RESULT = (
    "UPDATE tasks SET agent_id = COALESCE(?, agent_id), result_ts = ?, result_status = ?, "
    "result_is_error = ?, result_error = ?, result_total_tokens = ? WHERE tool_use_id = ?"
)
_EARLIEST = "CASE WHEN {t}.{c} IS NULL OR excluded.{c} < {t}.{c} THEN excluded.{c} ELSE {t}.{c} END"
_LATEST = "CASE WHEN {t}.{c} IS NULL OR excluded.{c} > {t}.{c} THEN excluded.{c} ELSE {t}.{c} END"
_UPSERT_SESSION = (
    "INSERT INTO sessions (session_id, project, cwd, first_ts, last_ts, cc_version, machine_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
    "project = COALESCE(sessions.project, excluded.project), "
    "cwd = COALESCE(excluded.cwd, sessions.cwd), "
    f"first_ts = {_EARLIEST.format(t='sessions', c='first_ts')}, "
    f"last_ts = {_LATEST.format(t='sessions', c='last_ts')}, "
    "cc_version = COALESCE(excluded.cc_version, sessions.cc_version)"
)
_UPSERT_AGENT = (
    "INSERT INTO agents (agent_id, session_id, file_path, first_ts, last_ts, prompt_hash, last_event, "
    "last_event_ts, tool_use_id, machine_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (agent_id) DO UPDATE SET "
    "tool_use_id = COALESCE(excluded.tool_use_id, agents.tool_use_id), "
    "session_id = COALESCE(excluded.session_id, agents.session_id), file_path = excluded.file_path, "
    f"first_ts = {_EARLIEST.format(t='agents', c='first_ts')}, "
    f"last_ts = {_LATEST.format(t='agents', c='last_ts')}, "
    "prompt_hash = COALESCE(agents.prompt_hash, excluded.prompt_hash), "
    "last_event = excluded.last_event, last_event_ts = excluded.last_event_ts"
)
_UPSERT_FILE = (
    "INSERT INTO files (machine_id, path, kind, session_id, agent_id, device, inode, size, mtime_ns, "
    "byte_offset, head_hash, lines_read, lines_skipped, state, updated_at, tail_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (machine_id, path) DO UPDATE SET "
    "kind = excluded.kind, session_id = excluded.session_id, agent_id = excluded.agent_id, "
    "device = excluded.device, inode = excluded.inode, size = excluded.size, "
    "mtime_ns = excluded.mtime_ns, byte_offset = excluded.byte_offset, head_hash = excluded.head_hash, "
    "lines_read = excluded.lines_read, lines_skipped = excluded.lines_skipped, state = excluded.state, "
    "updated_at = excluded.updated_at, tail_hash = excluded.tail_hash"
)

# A subagent file may replay the parent's last message (same message.id, another requestId): the
# parent's copy is the request, the replay is not a new one. The rule is ccusage 20's, established by
# experiment (docs/benchmarks.md, "Deduplication"): within one session (the records' sessionId), a
# sidechain row whose message.id also has a main-thread row is dropped, whatever its size; among
# sidechain rows of one message with no main-thread row, only the largest stays (ties: earliest, then
# smallest key). Rows of other sessions never count as the parent.
# `|| ''` keeps the planner off the session index for `other` (SQLite picked it and read every row of the
# session for each sidechain row: 0.49 s at 100 MB); the message index finds the few copies of one message.
_DROP_SIDECHAIN_REPLAYS = (
    "DELETE FROM requests WHERE is_sidechain = 1 AND message_id IS NOT NULL AND EXISTS ("
    "SELECT 1 FROM requests AS other WHERE other.message_id = requests.message_id "
    "AND other.session_id || '' = requests.session_id AND other.request_key <> requests.request_key "
    f"AND (other.is_sidechain = 0 OR {_REQUEST_TOTAL.format(t='other')} > {_REQUEST_TOTAL.format(t='requests')} "
    f"OR ({_REQUEST_TOTAL.format(t='other')} = {_REQUEST_TOTAL.format(t='requests')} "
    "AND (other.ts < requests.ts OR (other.ts = requests.ts AND other.request_key < requests.request_key)))))"
)

# Lines of one response that carry no requestId (older clients, some proxies) cannot be keyed by
# (message.id, requestId); they are one request per message.id within a session: the largest stays
# (ties: the earliest, then the first line). This is ccusage 20's `session` rule (its `daily` report
# counts every such line: docs/benchmarks.md). Copies in another session are counted there, as ccusage does.
_MERGE_UNKEYED_REQUESTS = (
    "DELETE FROM requests WHERE request_id IS NULL AND message_id IS NOT NULL AND origin = 'transcript' "
    "AND EXISTS (SELECT 1 FROM requests AS other WHERE other.request_id IS NULL "
    "AND other.message_id = requests.message_id AND other.session_id = requests.session_id "
    "AND other.request_key <> requests.request_key AND other.origin = 'transcript' "
    f"AND ({_REQUEST_TOTAL.format(t='other')} > {_REQUEST_TOTAL.format(t='requests')} "
    f"OR ({_REQUEST_TOTAL.format(t='other')} = {_REQUEST_TOTAL.format(t='requests')} "
    "AND (other.ts < requests.ts OR (other.ts = requests.ts AND (other.file_offset < requests.file_offset "
    "OR (other.file_offset = requests.file_offset AND other.request_key < requests.request_key)))))))"
)
# A line without requestId whose message.id a line with one has in the same session is a replay of that
# response, not another request: 2.0.2x (the VS Code extension reopening a session) appended the whole
# conversation again to the session's file, every answer under its message id with the requestId left
# out, new uuids and one timestamp, the time of the rewrite (a published 2.0.25 tree: 12 answers counted
# twice, filed as a relay's). The keyed line is the request, whatever the sizes. ccusage 20 counts both.
# Within one thread (both main-thread rows, or both a subagent's): a subagent's keyed copy of a main-thread
# message is _DROP_SIDECHAIN_REPLAYS's case (the parent's row counts, ccusage 20's rule).
_DROP_UNKEYED_REPLAYS = (
    "DELETE FROM requests WHERE request_id IS NULL AND message_id IS NOT NULL AND origin = 'transcript' "
    "AND EXISTS (SELECT 1 FROM requests AS other WHERE other.message_id = requests.message_id "
    "AND other.session_id = requests.session_id AND other.request_id IS NOT NULL "
    "AND other.is_sidechain = requests.is_sidechain AND other.origin = 'transcript')"
)
# A line with a requestId but no message id of the API's (a tool that duplicated the session replaced it
# by the record's uuid: sources/transcripts.py keys it by the request id alone) stands in for its
# response. One request id is one response: where a row with a real message id has it (the original, in
# any session), the stand-ins go. Found through the partial index requests_standin (migration 150); the
# scan for their originals runs only when there are any.
_HAS_STANDINS = ("SELECT 1 FROM requests WHERE message_id IS NULL AND request_id IS NOT NULL "
                 "AND origin = 'transcript' LIMIT 1")
_DROP_STANDIN_COPIES = (
    "DELETE FROM requests WHERE message_id IS NULL AND request_id IS NOT NULL AND origin = 'transcript' "
    "AND request_id IN (SELECT other.request_id FROM requests AS other WHERE other.message_id IS NOT NULL "
    "AND other.origin = 'transcript' AND other.request_id IN (SELECT s.request_id FROM requests AS s "
    "WHERE s.message_id IS NULL AND s.request_id IS NOT NULL AND s.origin = 'transcript'))"
)
# The same rule for an incremental run's rows (_drop_standin_copies): only a stand-in or an original this
# run wrote can break it. The whole-ledger form reads every request row for the originals (no index on
# request_id: a team index, ledger/schema.py TEAM_INDEXES): 74 ms of each run at 1 GB once a ledger held
# any stand-in.
_STANDIN = "message_id IS NULL AND request_id IS NOT NULL AND origin = 'transcript'"
_ORIGINAL = "message_id IS NOT NULL AND origin = 'transcript'"


def _chunks(values: Iterable[str], size: int = 500) -> Iterator[Sequence[str]]:
    return chunks(sorted(values), size)


def _marks(part: list[str]) -> str:
    return ", ".join("?" for _ in part)


def _drop_standin_copies(ledger: Ledger, standins: set[str] | None, originals: set[str] | None) -> None:
    """`_DROP_STANDIN_COPIES` for the stand-ins (their request ids) and originals (their request keys)
    this run wrote; None: the whole ledger (a first load, a crashed run's steps)."""
    if standins is None or originals is None:
        if ledger.scalar(_HAS_STANDINS) is not None:
            ledger.execute(_DROP_STANDIN_COPIES)
        return
    # The originals this run wrote that are still there (the replay rule may have dropped one), by key.
    found: set[str] = set()
    for part in _chunks(originals):
        found.update(row[0] for row in ledger.execute(
            f"SELECT request_id FROM requests WHERE request_key IN ({_marks(part)}) AND request_id IS NOT NULL "
            f"AND {_ORIGINAL}", part).fetchall())
    # A stand-in this run wrote whose original came earlier: a copy keeps the original's lines and
    # times, so the original is first looked for at the stand-in's own time (the ts index); only those
    # not found there are looked for among all rows (a scan, in a run that read new stand-ins only).
    pending = standins - found
    for part in _chunks(pending):
        found.update(row[0] for row in ledger.execute(
            f"SELECT s.request_id FROM requests AS s WHERE s.request_id IN ({_marks(part)}) AND s.message_id IS NULL "
            f"AND s.origin = 'transcript' AND EXISTS (SELECT 1 FROM requests AS o "
            f"WHERE o.ts = s.ts AND o.request_id = s.request_id AND o.message_id IS NOT NULL "
            f"AND o.origin = 'transcript')", part).fetchall())
    pending -= found
    for part in _chunks(pending):
        found.update(row[0] for row in ledger.execute(
            f"SELECT request_id FROM requests WHERE request_id IN ({_marks(part)}) AND {_ORIGINAL}", part).fetchall())
    for part in _chunks(found):
        ledger.execute(f"DELETE FROM requests WHERE request_id IN ({_marks(part)}) AND {_STANDIN}", part)


# A copy written with a new uuid (seen in 1.0.8x resumed files: the typed prompts and system records of
# the replayed part keep the original's timestamp and session, the rest of the line byte for byte) is
# the same event as the original: one failure, one prompt. `copy_hash` is the line without its uuid and
# parentUuid (sources/transcripts.py). The rule, whatever the runs and the order the lines came in: a
# key's record is its earliest line (the first read on ties), and of keys whose records have one copy
# hash the smallest key stays. A dropped copy is moved aside whole (`failure_copies`, `prompt_copies`,
# migration 140), never forgotten: a later run may bring its key again (it stays a copy while its first
# line is earlier) or an earlier, different line of the key it copied (then it copies nothing and comes
# back); either way the ledger is the one a single run over the same lines would build.
@dataclass(frozen=True)
class _CopyRule:
    table: str
    copies: str
    key: str
    columns: tuple[str, ...]

    @property
    def moved(self) -> str:
        return ", ".join(self.columns + ("origin", "machine_id"))

    def smaller(self, alias: str) -> str:
        """Whether a smaller key of the same copy hash is kept or set aside (the union of both tables:
        moving rows between them never changes it)."""
        # Copies are made on one machine (a resumed or duplicated session): two people's records that
        # happen to be alike in a team ledger stay two.
        return " OR ".join(
            f"EXISTS (SELECT 1 FROM {t} AS o WHERE o.copy_hash = {alias}.copy_hash "
            f"AND o.machine_id = {alias}.machine_id AND o.{self.key} < {alias}.{self.key})"
            for t in (self.table, self.copies))


_FAILURE_RULE = _CopyRule("failures", "failure_copies", "failure_key", FAILURE_COLUMNS)
_PROMPT_RULE = _CopyRule("prompts", "prompt_copies", "prompt_key", PROMPT_COLUMNS)
_FAILURE_COPY = FAILURE_COLUMNS.index("copy_hash")
_PROMPT_COPY = PROMPT_COLUMNS.index("copy_hash")


def _apply_copy_rule(ledger: Ledger, rule: _CopyRule, keys: set[str] | None, hashes: set[str] | None) -> None:
    """The copy rule for the keys and copy hashes this run wrote (None: the whole ledger). Only rows of
    those keys and hashes can change: a row whose key was set aside before (an earlier run dropped it),
    the copy hashes written, and the copies of a key whose record this run replaced."""
    t, c, k = rule.table, rule.copies, rule.key
    if keys is None and ledger.scalar(f"SELECT 1 FROM {c} LIMIT 1") is None:
        keys = set()  # a first load: nothing was set aside before
    # 1. A key this run wrote that an earlier run set aside: the earlier line (set aside, read first on
    # a tie) stays its record, else this run's line replaces it.
    _for_rows(ledger, f"DELETE FROM {t} WHERE EXISTS (SELECT 1 FROM {c} WHERE {c}.{k} = {t}.{k} "
                      f"AND {c}.ts <= {t}.ts)", f"{t}.{k}", keys)
    _for_rows(ledger, f"DELETE FROM {c} WHERE EXISTS (SELECT 1 FROM {t} WHERE {t}.{k} = {c}.{k})",
              f"{c}.{k}", keys)
    if hashes is not None and keys:
        # The hashes whose smallest key this run may have given another record.
        hashes = set(hashes)
        for part in _chunks(keys):
            hashes.update(row[0] for row in ledger.execute(
                f"SELECT copy_hash FROM {c} WHERE copy_of IN ({marks(part)})", part).fetchall())
    # 2. Of each copy hash the smallest key is kept, the others set aside; the union never changes, so
    # the order of the moves does not matter.
    _for_rows(ledger, f"INSERT INTO {c} ({rule.moved}) SELECT {rule.moved} FROM {t} "
                      f"WHERE copy_hash IS NOT NULL AND ({rule.smaller(t)})", f"{t}.copy_hash", hashes)
    _for_rows(ledger, f"DELETE FROM {t} WHERE copy_hash IS NOT NULL AND EXISTS (SELECT 1 FROM {c} "
                      f"WHERE {c}.{k} = {t}.{k})", f"{t}.copy_hash", hashes)
    _for_rows(ledger, f"INSERT INTO {t} ({rule.moved}) SELECT {rule.moved} FROM {c} "
                      f"WHERE NOT ({rule.smaller(c)})", f"{c}.copy_hash", hashes)
    _for_rows(ledger, f"DELETE FROM {c} WHERE EXISTS (SELECT 1 FROM {t} WHERE {t}.{k} = {c}.{k})",
              f"{c}.copy_hash", hashes)
    _for_rows(ledger, f"UPDATE {c} SET copy_of = (SELECT MIN(o.{k}) FROM {t} AS o WHERE o.copy_hash = "
                      f"{c}.copy_hash AND o.machine_id = {c}.machine_id) WHERE copy_hash IS NOT NULL",
              f"{c}.copy_hash", hashes)


# A failed attempt whose record says nothing (2.x writes `error: {cause: {}}` for some lost attempts:
# no status, code or text) takes the class of the final error that ended its turn (the first one at or
# after it in the same thread); otherwise such retries are `unknown` while their turn died of an outage.
_FINAL_OF_TURN = (
    "SELECT f.failure_class FROM failures AS f WHERE f.kind = 'final' AND f.turn_id = failures.turn_id "
    "AND COALESCE(f.session_id, '') = COALESCE(failures.session_id, '') "
    "AND COALESCE(f.agent_id, '') = COALESCE(failures.agent_id, '') AND f.ts >= failures.ts "
    "AND f.failure_class <> 'unknown' ORDER BY f.ts, f.failure_key LIMIT 1"
)
_INHERIT_RETRY_CLASS = (
    f"UPDATE failures SET failure_class = ({_FINAL_OF_TURN}) WHERE kind = 'retry' AND failure_class = 'unknown' "
    "AND status IS NULL AND error_code IS NULL AND error_type IS NULL AND turn_id IS NOT NULL "
    f"AND EXISTS ({_FINAL_OF_TURN})"
)

# A failure that names no provider and came before any answer in its file (a subagent whose first attempt
# failed, a session that failed before its first answer) was sent where its session's requests went: the
# most common provider among them. Without any, it stays NULL, read as Anthropic's (core/provider.py
# SQL_PROVIDER) until a later ingest brings the session's requests.
_SESSION_PROVIDER = (
    "UPDATE failures SET provider = (SELECT r.provider FROM requests AS r WHERE r.session_id = failures.session_id "
    "AND r.provider IS NOT NULL GROUP BY r.provider ORDER BY COUNT(*) DESC, r.provider LIMIT 1) "
    "WHERE provider IS NULL AND origin = 'transcript' AND session_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
    "requests AS r WHERE r.session_id = failures.session_id AND r.provider IS NOT NULL)"
)

# A failure still without a route (no evidence of its own, no answer in its session: a session that never
# got one) went where this machine's requests went at the time: the provider of the answer nearest in time
# within _NEIGHBOUR_HOURS, in the same project folder, else on the same machine. Without one it stays NULL
# (Anthropic's). A published 2.1.31 tree behind a relay: two sessions of 502 retries with nothing to say
# who answered, 25 minutes before the first of its 795 answers (every one the relay's), made a logs-only
# window claimable with Anthropic. A failure naming Anthropic's own request id (`req_011…` in its body) is
# left alone: that id proves no relay by itself, but it does rule out a cloud or another API (the same tree
# had 401s with one, minutes after a Bedrock session).
_NEIGHBOUR_HOURS = 12
_NO_FIRST_PARTY_ID = (
    "(f.request_id IS NULL OR f.request_id NOT LIKE 'req\\_011%' ESCAPE '\\') "
    "AND (f.message IS NULL OR f.message NOT LIKE '%req\\_011%' ESCAPE '\\')"
)
# A Claude plan's usage limit ("You're out of extra usage · resets …", "You've hit your limit · …") is no
# cloud's: Bedrock, Vertex and Foundry bill by the token and have no plan. Such a session does not take a
# cloud neighbour's route (a published 2.1.9x tree: a CLI session's two plan-limit finals took the route
# of an Agent SDK session on Bedrock, minutes before); a relay's or Anthropic's may still be the nearest.
_PLAN_LIMIT_TEXT = ("(f.message LIKE '%out of extra usage%' OR f.message LIKE '%hit your % limit%' "
                    "OR f.message LIKE '%hit your limit%' OR f.message LIKE '%usage limit reached%')")
_CLOUDS = (_provider.BEDROCK, _provider.VERTEX, _provider.FOUNDRY)
_ORPHAN_FAILURE_SESSIONS = (
    "SELECT f.session_id AS session_id, MIN(f.ts) AS first_ts, MAX(f.ts) AS last_ts, MAX(s.project) AS project, "
    f"MAX(s.machine_id) AS machine_id, MAX(CASE WHEN {_PLAN_LIMIT_TEXT} THEN 1 ELSE 0 END) AS plan_limit "
    "FROM failures AS f JOIN sessions AS s ON s.session_id = f.session_id "
    f"WHERE f.provider IS NULL AND f.origin = 'transcript' AND f.session_id IS NOT NULL AND {_NO_FIRST_PARTY_ID} "
    "GROUP BY f.session_id"
)
_NEIGHBOUR_ANSWER = (
    "SELECT r.ts AS ts, r.provider AS provider FROM requests AS r JOIN sessions AS s ON s.session_id = r.session_id "
    "WHERE r.ts {op} ? AND r.ts {bound} ? AND r.provider IS NOT NULL AND s.machine_id = ? {project} {clouds} "
    "ORDER BY r.ts {order} LIMIT 1"
)
_SET_ORPHAN_PROVIDER = (
    "UPDATE failures AS f SET provider = ? WHERE f.session_id = ? AND f.provider IS NULL AND f.origin = 'transcript' "
    f"AND {_NO_FIRST_PARTY_ID}"
)


def _neighbour_provider(ledger: Ledger) -> None:
    """Give each answer-less session's route-less failures the route of the nearest answer in time."""
    orphans = ledger.rows(_ORPHAN_FAILURE_SESSIONS)
    if not orphans:
        return
    reach = timedelta(hours=_NEIGHBOUR_HOURS)
    for row in orphans:
        first, last = parse_iso(row["first_ts"]), parse_iso(row["last_ts"])
        if first is None or last is None:
            continue
        clouds = "AND r.provider NOT IN (?, ?, ?)" if row["plan_limit"] else ""
        for project in ((row["project"],) if row["project"] else ()) + (None,):
            where = "AND s.project = ?" if project is not None else ""
            extra = ((project,) if project is not None else ()) + (_CLOUDS if clouds else ())
            before = ledger.rows(_NEIGHBOUR_ANSWER.format(op="<=", bound=">=", project=where, clouds=clouds,
                                                          order="DESC"),
                                 (row["first_ts"], to_iso(first - reach), row["machine_id"], *extra))
            after = ledger.rows(_NEIGHBOUR_ANSWER.format(op=">=", bound="<=", project=where, clouds=clouds,
                                                         order="ASC"),
                                (row["last_ts"], to_iso(last + reach), row["machine_id"], *extra))
            near = [(first - parse_iso(r["ts"]), r["provider"]) for r in before]
            near += [(parse_iso(r["ts"]) - last, r["provider"]) for r in after]
            if near:
                ledger.execute(_SET_ORPHAN_PROVIDER, (min(near)[1], row["session_id"]))
                break


# Link launches to runs: by the run's meta file (`toolUseId`, the surest), by the agent id the parent's
# tool_result names, else by the run whose first prompt is the launch's prompt, first started at or
# after the launch.
_LINK_TASKS_BY_META = (
    "UPDATE tasks SET agent_id = (SELECT MIN(a.agent_id) FROM agents AS a WHERE a.tool_use_id = tasks.tool_use_id) "
    "WHERE agent_id IS NULL AND EXISTS (SELECT 1 FROM agents AS a WHERE a.tool_use_id = tasks.tool_use_id)"
)
_LINK_TASKS = (
    "UPDATE tasks SET agent_id = (SELECT a.agent_id FROM agents AS a WHERE a.session_id = tasks.session_id "
    "AND a.prompt_hash = tasks.prompt_hash AND a.first_ts >= tasks.launched_ts "
    "AND a.agent_id NOT IN (SELECT t2.agent_id FROM tasks AS t2 WHERE t2.agent_id IS NOT NULL) "
    "ORDER BY a.first_ts LIMIT 1) WHERE agent_id IS NULL AND prompt_hash IS NOT NULL"
)
# A run is judged by its own file first: Claude Code has told parents "completed" for killed runs.
_TASK_OUTCOMES = (
    "UPDATE tasks SET outcome = CASE "
    # The user stopped the background runs (`system`/`agents_killed`): their own end, never outage loss.
    "WHEN result_status = 'stopped_by_user' THEN 'stopped_by_user' "
    "WHEN (SELECT a.last_event FROM agents AS a WHERE a.agent_id = tasks.agent_id) "
    "     IN ('final_error', 'retry') THEN 'killed' "
    "WHEN (SELECT a.last_event FROM agents AS a WHERE a.agent_id = tasks.agent_id) = 'interrupt' "
    "     THEN 'interrupted' "
    "WHEN result_ts IS NULL THEN 'no_result' "
    # A background launch's acknowledgement with no `<task-notification>` after it: no result yet.
    "WHEN result_status = 'async_launched' THEN 'no_result' "
    # An agent-team member runs as a session of its own (its losses are that session's); the spawn
    # acknowledgement says it started, not how it ended.
    "WHEN result_status = 'teammate_spawned' THEN 'spawned' "
    "WHEN result_error LIKE '[Request interrupted%' THEN 'interrupted' "
    "WHEN result_error LIKE '%API Error%' THEN 'killed' "
    # 2.1.199+: "Agent terminated early due to an API error: …" (LIKE is case-sensitive on PostgreSQL).
    "WHEN result_error LIKE 'Agent terminated early%' THEN 'killed' "
    "WHEN result_is_error = 1 OR result_status IN ('failed', 'error', 'killed') THEN 'failed' "
    "ELSE 'completed' END"
)


def _task_outcomes(ledger: Ledger, tasks: set[str] | None, agents: set[str] | None) -> None:
    """`_TASK_OUTCOMES` for the tasks whose outcome may have changed: a task's own row (written, given
    its result or linked in this run) or its run's last event (a run written in this run); None: all.
    Every task was rewritten on every run before (issue 17)."""
    if tasks is None or agents is None:
        ledger.execute(_TASK_OUTCOMES)
        return
    for column, values in (("tool_use_id", tasks), ("agent_id", agents)):
        for part in _chunks(values):
            ledger.execute(f"{_TASK_OUTCOMES} WHERE {column} IN ({_marks(part)})", part)


# Rows are committed in flushes, then the whole-ledger steps (replays, task links, outcomes, the machine
# row) run in two more transactions. A crash (kill -9, power) in between would leave the files marked
# read but replays kept and tasks unlinked, and the next run, finding nothing new, would never fix it:
# every flush marks the ledger, the last step clears the mark, and a run that finds the mark redoes the
# final steps even with nothing to read.
_MARK_LINKS_PENDING = f"INSERT INTO meta (key, value) VALUES ('{_LINKS_PENDING}', '1') ON CONFLICT (key) DO NOTHING"


# A large ingest writes rows with random keys into seven B-trees. SQLite's default 2 MB page cache and
# 1000-page WAL auto-checkpoint then rewrite most index pages on every flush: at 1 GB that was half of
# the ingest time (benchmarks/ingest_bench.py, docs/benchmarks.md). For big runs we give this connection
# a 64 MB cache (32 MB beside parse workers, whose memory counts too) and let the WAL grow to ~200 MB
# between checkpoints, then restore both.
BULK_BYTES = 32 * 1024 * 1024
BULK_CACHE_MB = 64
BULK_CACHE_MB_WITH_WORKERS = 32


def _sqlite_bulk_mode(ledger: Ledger, on: bool, cache_mb: int = BULK_CACHE_MB) -> None:
    if on:
        ledger.execute(f"PRAGMA cache_size = -{int(cache_mb) * 1024}")
        ledger.execute("PRAGMA wal_autocheckpoint = 50000")
    else:
        ledger.execute("PRAGMA wal_autocheckpoint = 1000")
        ledger.execute("PRAGMA wal_checkpoint(PASSIVE)")
        ledger.execute("PRAGMA cache_size = -2000")


def _head_hash(path: Path, length: int = HEAD_BYTES) -> str:
    """`<bytes hashed>:<hash>` of the file's first bytes (up to 4 KiB): tells a replaced file from a grown one."""
    with open(path, "rb") as handle:
        data = handle.read(length)
    return f"{len(data)}:{hashlib.sha256(data).hexdigest()[:32]}"


def _tail_or_none(path: Path, offset: int) -> str | None:
    try:
        return _tail_hash(path, offset)
    except OSError:
        return None


def _same_head(path: Path, stored: str | None) -> bool:
    """Whether the file still starts as it did: a file under 4 KiB that grew keeps its first bytes."""
    if not stored:
        return False
    length, _, digest = stored.partition(":")
    if not digest:  # ledgers written before the length was recorded hashed a full 4 KiB
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read(HEAD_BYTES)).hexdigest()[:32] == stored
    return length.isdigit() and _head_hash(path, int(length)) == stored


META_LIMIT = 64 * 1024


def launch_of_run(agent_file: Path) -> str | None:
    """The `toolUseId` in a subagent run's `agent-<id>.meta.json` (2.1.1xx+: `{agentType, description,
    toolUseId, spawnDepth}`), or None when there is no such file or it does not say."""
    meta = agent_file.with_name(agent_file.name[: -len(".jsonl")] + ".meta.json")
    try:
        data = msgspec.json.decode(read_regular_bytes(meta, META_LIMIT))
    except (OSError, UnsafeFile, msgspec.DecodeError, RecursionError):
        return None
    tool_use_id = data.get("toolUseId") if isinstance(data, dict) else None
    return tool_use_id if isinstance(tool_use_id, str) and 0 < len(tool_use_id) <= 200 else None


def _file_key(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class _Writer:
    """Buffers parsed rows and commits them together with the files' new offsets."""

    def __init__(self, ledger: Ledger, machine: str, flush_rows: int = FLUSH_ROWS) -> None:
        self.ledger = ledger
        self.machine = machine
        self.flush_rows = flush_rows
        self.batches: list[ParseBatch] = []
        self.file_rows: list[tuple] = []
        self.session_rows: list[tuple] = []
        self.agent_rows: list[tuple] = []
        self.pending_rows = 0
        # What this run wrote, when the caller wants the whole-ledger rules checked for those rows only
        # (an incremental run): message ids for the replay rule, copy hashes for the copy rules.
        self.message_ids: set[str] | None = None
        self.failure_copies: set[str] | None = None
        self.prompt_copies: set[str] | None = None
        self.failure_keys: set[str] | None = None
        self.prompt_keys: set[str] | None = None
        # request ids of the stand-ins written, request keys of the rows with a message id and a request id
        self.standins: set[str] | None = None
        self.originals: set[str] | None = None
        # the launches (and results) and the runs written: the tasks whose outcome may change
        self.task_ids: set[str] | None = None
        self.agent_ids: set[str] | None = None

    def add(self, batch: ParseBatch, file_row: tuple, session_row: tuple | None,
            agent_row: tuple | None) -> None:
        self.batches.append(batch)
        self.file_rows.append(file_row)
        if session_row:
            self.session_rows.append(session_row)
        if agent_row:
            self.agent_rows.append(agent_row)
        self.pending_rows += batch.size() + 1
        if self.pending_rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self.file_rows:
            return
        m = (self.machine,)
        db = self.ledger
        # One statement batch per table for the whole flush (not per file): on PostgreSQL each batch is
        # a few round trips (COPY + INSERT ... SELECT), so per-file batches cost more than the rows.
        # Requests are merged by key with the upsert's own rule (a later copy wins only if larger).
        requests: dict[str, tuple] = {}
        for batch in self.batches:
            for key, row in batch.requests.items():
                if request_wins(row, requests.get(key)):
                    requests[key] = row
        if self.message_ids is not None:
            self.message_ids.update(row[1] for row in requests.values() if row[1])
            self.task_ids.update(row[0] for b in self.batches for row in b.tasks)
            self.task_ids.update(row[0] for b in self.batches for row in b.results)
            self.agent_ids.update(row[0] for row in self.agent_rows)
            for key, row in requests.items():
                if row[1] and row[2]:
                    self.originals.add(key)
                elif row[2]:
                    self.standins.add(row[2])
            self.failure_copies.update(row[_FAILURE_COPY] for b in self.batches for row in b.failures
                                       if row[_FAILURE_COPY])
            self.prompt_copies.update(row[_PROMPT_COPY] for b in self.batches for row in b.prompts
                                      if row[_PROMPT_COPY])
            self.failure_keys.update(row[0] for b in self.batches for row in b.failures)
            self.prompt_keys.update(row[0] for b in self.batches for row in b.prompts)
        with db.transaction():
            db.executemany(_UPSERT_REQUEST, [row + m for row in requests.values()])
            db.executemany(_INSERT_FAILURE, [row + m for b in self.batches for row in b.failures])
            db.executemany(_INSERT_TASK, [row + m for b in self.batches for row in b.tasks])
            db.executemany(_UPDATE_RESULT, [(r[1], r[2], r[3], r[4], r[5], r[6], r[0])
                                            for b in self.batches for r in b.results])
            db.executemany(_INSERT_PROMPT, [row + m for b in self.batches for row in b.prompts])
            db.executemany(_INSERT_COST_STATE, [row + m for b in self.batches for row in b.cost_states])
            for b in self.batches:
                for (fork, origin), (first, last) in b.copied_from.items():
                    for statement in _COPIED_TO_ORIGINAL:
                        db.execute(statement, (origin, fork, first, last))
            db.executemany(_UPSERT_SESSION, self.session_rows)
            db.executemany(_UPSERT_AGENT, self.agent_rows)
            db.executemany(_UPSERT_FILE, self.file_rows)
            db.execute(_MARK_LINKS_PENDING)
        self.batches.clear()
        self.file_rows.clear()
        self.session_rows.clear()
        self.agent_rows.clear()
        self.pending_rows = 0


@dataclass
class _Chunk:
    """Rows parsed from one file (or one part of a big file), ready for the writer."""

    batch: ParseBatch | None
    file_row: tuple = ()
    session_row: tuple | None = None
    agent_row: tuple | None = None
    final: bool = False  # the file is done: partial_lines and bytes_read are its totals
    unreadable: bool = False
    partial_lines: int = 0
    bytes_read: int = 0


def _read_file(tfile: TranscriptFile, st: os.stat_result, previous: dict | None,
               machine: str) -> Iterator[_Chunk]:
    """Parse one file from where the last run stopped; a chunk every FLUSH_ROWS rows and at the end."""
    path_text = str(tfile.path)
    try:
        head = _head_hash(tfile.path)
        resume = (previous is not None and previous["inode"] == st.st_ino
                  and st.st_size >= previous["byte_offset"] and _same_head(tfile.path, previous["head_hash"])
                  and _same_tail(tfile.path, previous.get("tail_hash"), previous["byte_offset"]))
    except OSError:
        yield _Chunk(None, unreadable=True)
        return
    offset = previous["byte_offset"] if resume else 0
    state = FileState.from_json(previous["state"]) if resume else FileState()
    lines_read = previous["lines_read"] if resume else 0
    lines_skipped = previous["lines_skipped"] if resume else 0
    parser = TranscriptParser(path_text, _file_key(path_text), tfile.session_id, tfile.agent_id, state)
    file_start = offset

    def emit(final: bool) -> _Chunk:
        nonlocal lines_read, lines_skipped
        parser.finish()
        batch = parser.batch
        lines_read += batch.lines
        lines_skipped += sum(batch.skipped.values())
        file_row = (machine, path_text, tfile.kind, state.session_id, tfile.agent_id, st.st_dev,
                    st.st_ino, st.st_size if final else -1, st.st_mtime_ns, offset, head,
                    lines_read, lines_skipped, state.to_json(), utc_now_iso(), _tail_or_none(tfile.path, offset))
        session_row = None
        if state.session_id and state.first_ts:
            session_row = (state.session_id, tfile.project, state.cwd, state.first_ts, state.last_ts,
                           state.version, machine)
        agent_row = None
        if tfile.agent_id and state.first_ts:
            agent_row = (tfile.agent_id, state.session_id, path_text, state.first_ts, state.last_ts,
                         state.agent_prompt_hash, state.last_event, state.last_event_ts,
                         launch_of_run(tfile.path), machine)
        parser.batch = ParseBatch()
        return _Chunk(batch, file_row, session_row, agent_row)

    feed = parser.feed
    partial = 0
    unreadable = False
    try:
        with open(tfile.path, "rb", buffering=READ_BUFFER) as handle:
            handle.seek(offset)
            for count, line in enumerate(handle, 1):
                if line[-1:] != b"\n":
                    partial += 1  # Claude Code is still writing it
                    break
                feed(line, offset)
                offset += len(line)
                # the batch size is checked every 1024 lines, not per line (a hot-loop cost)
                if not count & 1023 and parser.batch.size() >= FLUSH_ROWS:
                    yield emit(final=False)
    except OSError:
        unreadable = True
    # After a read error keep what was read, but not the file's size: the next run must try the rest
    # again, even when the file itself never changes (a transient EIO, permissions fixed with chmod).
    last = emit(final=not unreadable)
    last.final, last.unreadable, last.partial_lines, last.bytes_read = True, unreadable, partial, offset - file_start
    yield last


def _exit_with_parent(parent: int) -> None:
    """Parse-worker initializer: end when the ingest that forked us is gone. After a kill -9 nobody
    shuts the pool down, and a forked worker holds both ends of its job queue, so it would wait
    forever (holding the pipes a cron job or CI step waits on)."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="claimback-parent-watch", daemon=True).start()


def cpu_ticks() -> tuple[int, int] | None:
    """(all, idle) CPU ticks of the machine so far (Linux /proc/stat), None elsewhere."""
    try:
        with open("/proc/stat", "rb") as handle:
            fields = handle.readline().split()
        ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
        return sum(ticks), ticks[3] + ticks[4]
    except (OSError, ValueError, IndexError):
        return None


class _CpuProbe:
    """How many cores the *other* processes keep busy right now: the machine's busy time over a short
    interval minus this process's own. The load average cannot say it: it trails the last minute, so
    right after any busy minute (a test run, a benchmark's previous round) an idle machine looks busy,
    and a busy one idle right after a quiet minute."""

    def __init__(self) -> None:
        self.ticks = cpu_ticks()
        self.own = time.process_time()
        self.since = time.monotonic()

    def ready(self) -> bool:
        """Whether the sample is long enough to read without waiting."""
        return time.monotonic() - self.since >= CPU_PROBE_SECONDS

    def others_busy(self) -> float | None:
        if self.ticks is None:
            return None
        elapsed = time.monotonic() - self.since
        if elapsed < CPU_PROBE_SECONDS:
            time.sleep(CPU_PROBE_SECONDS - elapsed)
        now = cpu_ticks()
        if now is None or now[0] <= self.ticks[0]:
            return None
        cores = os.cpu_count() or 1
        total, idle = now[0] - self.ticks[0], now[1] - self.ticks[1]
        busy = cores * (total - idle) / total
        own = (time.process_time() - self.own) / max(time.monotonic() - self.since, 1e-9)
        return max(0.0, busy - own)


def _parallel_may_pay(total_bytes: int) -> bool:
    """Whether a run is big enough, on enough cores, for parse workers to be worth asking about."""
    return total_bytes >= PARALLEL_BYTES and (os.cpu_count() or 1) >= 2


def _core_free(probe: _CpuProbe) -> bool:
    """Parse workers overlap parsing with writing, but cost ~20-30 % more CPU in all (pickling rows
    back, a second interpreter, two cores sharing caches) and more memory. That pays only when a core
    would otherwise sit idle: with other processes using more than half of the core the workers would
    need (Claude Code, tests, builds), the same work in one process finishes about as soon and leaves
    the CPU to the others. Where the machine's CPU time cannot be read, the load average decides."""
    cores = os.cpu_count() or 1
    busy = probe.others_busy()
    if busy is not None:
        limit = cores - 1.5 if PARALLEL_MAX_LOAD is None else PARALLEL_MAX_LOAD
        return busy <= limit
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform: assume busy, the safe side
        return False
    return load <= (cores - 1 if PARALLEL_MAX_LOAD is None else PARALLEL_MAX_LOAD)


def _read_whole(job: tuple[TranscriptFile, os.stat_result, dict | None, str]) -> list[_Chunk]:
    return list(_read_file(*job))


def _read_all(work: list[tuple[TranscriptFile, os.stat_result, dict | None]], machine: str,
              probe: _CpuProbe | None, on_workers: Callable[[], None] | None = None,
              ) -> Iterator[tuple[TranscriptFile, os.stat_result, _Chunk]]:
    """Every file's chunks, in `work` order. A big run (`probe` given: _parallel_may_pay) parses files
    in worker processes while this process writes (on 2 cores the two halves overlap); files over
    PARALLEL_MAX_FILE stream here, so memory stays bounded. Whether the workers pay is read from the
    probe once its sample is long enough (_core_free); until then files are parsed here, so the
    decision never waits. `on_workers` is called when the workers start. The writes, and so the
    ledger, are the same either way."""
    start = 0
    while probe is not None and start < len(work) and not probe.ready():
        tfile, st, previous = work[start]
        for chunk in _read_file(tfile, st, previous, machine):
            yield tfile, st, chunk
        start += 1
    jobs = iter(work[start:])
    workers = min(PARALLEL_WORKERS, max(1, (os.cpu_count() or 1)))
    pool = None
    if probe is not None and workers > 1 and start < len(work) and _core_free(probe):
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                       initializer=_exit_with_parent, initargs=(os.getpid(),))
        except (ImportError, OSError, ValueError):
            pool = None  # no fork or no processes here: parse in this process
    if pool is None:
        for tfile, st, previous in jobs:
            for chunk in _read_file(tfile, st, previous, machine):
                yield tfile, st, chunk
        return
    if on_workers is not None:
        on_workers()
    try:
        pending: deque = deque()
        in_flight = 0  # bytes submitted and not yet handed to the writer

        def submit() -> None:
            nonlocal in_flight
            for tfile, st, previous in jobs:
                if st.st_size > PARALLEL_MAX_FILE:
                    pending.append((tfile, st, previous, None))
                else:
                    pending.append((tfile, st, None, pool.submit(_read_whole, (tfile, st, previous, machine))))
                    in_flight += st.st_size
                if in_flight >= PARALLEL_WINDOW_BYTES and len(pending) >= 2 * workers:
                    return

        submit()
        while pending:
            tfile, st, previous, future = pending.popleft()
            file_chunks = _read_file(tfile, st, previous, machine) if future is None else future.result()
            if future is not None:
                in_flight -= st.st_size
            submit()  # before writing these rows: the workers go on while this process writes
            for chunk in file_chunks:
                yield tfile, st, chunk
    finally:
        pool.shutdown(cancel_futures=True)


def _failure_counts(ledger: Ledger, machine: str) -> Counter:
    return Counter({row["failure_class"]: row["n"] for row in ledger.rows(
        "SELECT failure_class, COUNT(*) AS n FROM failures WHERE machine_id = ? GROUP BY failure_class",
        (machine,))})


def _count(ledger: Ledger, table: str, machine: str | None) -> int:
    """This machine's rows only: other machines may be ingesting into a shared ledger right now.
    `machine=None`: every row is this machine's (see _sole_machine), and SQLite counts them from its
    smallest index instead of reading the table (0.1 ms vs 19 ms at 100 MB)."""
    if machine is None:
        return int(ledger.scalar(f"SELECT COUNT(*) FROM {table}") or 0)
    return int(ledger.scalar(f"SELECT COUNT(*) FROM {table} WHERE machine_id = ?", (machine,)) or 0)


def _sole_machine(ledger: Ledger, machine: str) -> bool:
    """Whether every row of this SQLite ledger is `machine`'s: no telemetry and no other machine (either
    would have built the team indexes, ledger/store.py) and no other machine registered."""
    if ledger.dialect != "sqlite" or has_team_indexes(ledger):
        return False
    return all(row[0] == machine for row in ledger.execute("SELECT machine_id FROM machines").fetchall())


def _for_rows(ledger: Ledger, sql: str, column: str, values: set[str] | None) -> None:
    """A whole-ledger rule (`sql`, a statement ending in a WHERE clause) for the rows whose `column` is one of
    `values`, or for the whole ledger (`None`: a first load, or a run finishing what a crashed one
    left). A row can only start to break a rule when it, or a row sharing its `column`, is written, so
    an incremental run checks its own values and never scans a table (0.24 s per run at 1 GB)."""
    if values is None:
        ledger.execute(sql)
        return
    for part in _chunks(values):
        ledger.execute(f"{sql} AND {column} IN ({_marks(part)})", part)


def ingest(
    ledger: Ledger,
    roots: Iterable[Path],
    *,
    progress: ProgressFn | None = None,
    machine: str | None = None,
    changes: Changes | None = None,
) -> IngestSummary:
    """Bring the ledger up to date with every transcript under `roots`. `changes`: what
    ledger/changes.py's find_changes already found for these roots and this machine (ingest_changes)."""
    machine = machine or local_machine_id()
    probe = _CpuProbe()  # sampled across the file scan and the counts below (see _core_free)
    if changes is None:
        changes = find_changes(ledger, roots, machine)
    started, summary, work = changes.started, changes.summary, changes.work
    links_pending = changes.links_pending
    skipped: Counter = Counter()
    unknown: Counter = Counter()

    # The "new" counts cost a scan each; an unchanged re-run (every report starts with one) skips them.
    if work:
        counted = None if _sole_machine(ledger, machine) else machine
        requests_before = _count(ledger, "requests", counted)
        failures_before = _failure_counts(ledger, machine)
        tasks_before = _count(ledger, "tasks", counted)
        prompts_before = _count(ledger, "prompts", counted)
    total_bytes = sum(st.st_size for _, st, _ in work)
    bulk = ledger.dialect == "sqlite" and total_bytes >= BULK_BYTES
    if bulk:
        _sqlite_bulk_mode(ledger, True)
    if work and changes.first_load:
        # A first load (an empty SQLite ledger): its secondary indexes are built after the rows
        # (ledger/store.py, defer_indexes; a no-op when any row is there already).
        defer_indexes(ledger)
    done_bytes = 0
    writer = _Writer(ledger, machine, FLUSH_ROWS)

    def workers_started() -> None:
        writer.flush_rows = PARALLEL_FLUSH_ROWS
        if bulk:  # the workers hold parsed rows too: the page cache gives up some of its share
            ledger.execute(f"PRAGMA cache_size = -{BULK_CACHE_MB_WITH_WORKERS * 1024}")
    if not changes.first_load and not links_pending:
        # an incremental run: the replay and copy rules for its own rows only (_for_rows)
        writer.message_ids, writer.failure_copies, writer.prompt_copies = set(), set(), set()
        writer.failure_keys, writer.prompt_keys = set(), set()
        writer.standins, writer.originals = set(), set()
        writer.task_ids, writer.agent_ids = set(), set()
    # The rows are tuples of strings and numbers (no cycles): the cyclic GC only re-walks the growing
    # batches, ~5 % of a cold ingest. Off while reading; objects are freed by reference counting as ever.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for tfile, st, chunk in _read_all(work, machine, probe if _parallel_may_pay(total_bytes) else None,
                                          workers_started):
            if chunk.unreadable:
                summary.unreadable.append(str(tfile.path))
            if chunk.batch is not None:
                skipped.update(chunk.batch.skipped)
                unknown.update(chunk.batch.unknown)
                summary.lines_read += chunk.batch.lines
                writer.add(chunk.batch, chunk.file_row, chunk.session_row, chunk.agent_row)
            if chunk.final:
                summary.partial_lines_left += chunk.partial_lines
                summary.files_read += 1
                summary.bytes_read += chunk.bytes_read
                done_bytes += st.st_size
                if progress:
                    progress(done_bytes, total_bytes, tfile.path.name)
        writer.flush()
    finally:
        if gc_was_on:
            gc.enable()
    # Ours, or left by a crashed or concurrent first load: the steps below need the indexes.
    restore_deferred_indexes(ledger)

    if work or links_pending:
        with ledger.transaction():
            _for_rows(ledger, _MERGE_UNKEYED_REQUESTS, "requests.message_id", writer.message_ids)
            _for_rows(ledger, _DROP_UNKEYED_REPLAYS, "requests.message_id", writer.message_ids)
            _for_rows(ledger, _DROP_SIDECHAIN_REPLAYS, "requests.message_id", writer.message_ids)
            _drop_standin_copies(ledger, writer.standins, writer.originals)
            _apply_copy_rule(ledger, _FAILURE_RULE, writer.failure_keys, writer.failure_copies)
            _apply_copy_rule(ledger, _PROMPT_RULE, writer.prompt_keys, writer.prompt_copies)
            ledger.execute(_INHERIT_RETRY_CLASS)
            ledger.execute(_SESSION_PROVIDER)
            _neighbour_provider(ledger)
            # The launches of no run yet (few: tasks_unlinked, migration 181) may be linked now.
            unlinked = None if writer.task_ids is None else {row[0] for row in ledger.execute(
                "SELECT tool_use_id FROM tasks WHERE agent_id IS NULL").fetchall()}
            ledger.execute(_LINK_TASKS_BY_META)
            ledger.execute(_LINK_TASKS)
            _task_outcomes(ledger, None if unlinked is None else writer.task_ids | unlinked, writer.agent_ids)
            drop_otel_duplicates(ledger)  # telemetry rows that these transcript rows now record
        with ledger.transaction():
            register_machine(ledger, machine)  # machine id + user label (ledger/team.py)
            ledger.execute("DELETE FROM meta WHERE key = ?", (_LINKS_PENDING,))
    if bulk:
        _sqlite_bulk_mode(ledger, False)

    if work:
        summary.new_requests = _count(ledger, "requests", counted) - requests_before
        after = _failure_counts(ledger, machine)
        summary.new_failures = {k: after[k] - failures_before.get(k, 0) for k in sorted(after)
                                if after[k] - failures_before.get(k, 0)}
        summary.new_tasks = _count(ledger, "tasks", counted) - tasks_before
        summary.new_prompts = _count(ledger, "prompts", counted) - prompts_before
    summary.lines_skipped = dict(skipped.most_common())
    summary.unknown_records = dict(unknown.most_common(MAX_UNKNOWN_LABELS))
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
