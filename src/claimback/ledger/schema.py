"""Ordered schema migrations, shared by SQLite and PostgreSQL.

Rules: a migration, once released, is never edited; new changes append a new entry. Types are the
portable subset both engines read the same way (TEXT, BIGINT, DOUBLE PRECISION). Booleans are 0/1.
"""

from __future__ import annotations


class Migration:
    """One schema step. A plain class: a dataclass or a NamedTuple would import dataclasses or typing on
    the status line's path, which opens the ledger (docs/benchmarks.md)."""

    __slots__ = ("version", "name", "statements", "dialects")

    def __init__(self, version: int, name: str, statements: tuple[str, ...],
                 dialects: tuple[str, ...] = ("sqlite", "postgresql")) -> None:
        self.version = version
        self.name = name
        self.statements = statements
        # The engines whose ledgers run the statements; the others only record the version as applied.
        self.dialects = dialects

    def __repr__(self) -> str:
        return f"Migration({self.version}, {self.name!r})"


_ROW_ORIGIN = "origin TEXT NOT NULL DEFAULT 'transcript', machine_id TEXT NOT NULL DEFAULT ''"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial ledger",
        (
            """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)""",
            """CREATE TABLE machines (
                machine_id TEXT PRIMARY KEY, user_label TEXT, host_hash TEXT,
                first_seen TEXT, last_seen TEXT)""",
            """CREATE TABLE files (
                machine_id TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
                session_id TEXT, agent_id TEXT, device BIGINT, inode BIGINT, size BIGINT,
                mtime_ns BIGINT, byte_offset BIGINT NOT NULL DEFAULT 0, head_hash TEXT,
                lines_read BIGINT NOT NULL DEFAULT 0, lines_skipped BIGINT NOT NULL DEFAULT 0,
                state TEXT, updated_at TEXT,
                PRIMARY KEY (machine_id, path))""",
            """CREATE TABLE sessions (
                session_id TEXT PRIMARY KEY, project TEXT, cwd TEXT, first_ts TEXT, last_ts TEXT,
                cc_version TEXT, """ + _ROW_ORIGIN + ")",
            """CREATE TABLE requests (
                request_key TEXT PRIMARY KEY, message_id TEXT, request_id TEXT, session_id TEXT,
                agent_id TEXT, is_sidechain BIGINT NOT NULL DEFAULT 0, ts TEXT NOT NULL, model TEXT,
                input_tokens BIGINT NOT NULL DEFAULT 0, output_tokens BIGINT NOT NULL DEFAULT 0,
                cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
                cache_creation_1h_tokens BIGINT NOT NULL DEFAULT 0,
                cache_read_tokens BIGINT NOT NULL DEFAULT 0,
                speed TEXT, service_tier TEXT, duration_ms BIGINT, cost_usd DOUBLE PRECISION,
                stop_reason TEXT, turn_id TEXT, file_path TEXT, file_offset BIGINT, """
            + _ROW_ORIGIN
            + ")",
            "CREATE INDEX requests_ts ON requests (ts)",
            "CREATE INDEX requests_session ON requests (session_id, ts)",
            "CREATE INDEX requests_message ON requests (message_id)",
            """CREATE TABLE failures (
                failure_key TEXT PRIMARY KEY, kind TEXT NOT NULL, session_id TEXT, agent_id TEXT,
                is_sidechain BIGINT NOT NULL DEFAULT 0, ts TEXT NOT NULL, status BIGINT,
                error_type TEXT, error_code TEXT, request_id TEXT, message TEXT,
                failure_class TEXT NOT NULL, signature TEXT, attempt BIGINT, max_attempts BIGINT,
                retry_in_ms DOUBLE PRECISION, model TEXT, turn_id TEXT, file_path TEXT,
                file_offset BIGINT, """
            + _ROW_ORIGIN
            + ")",
            "CREATE INDEX failures_ts ON failures (ts)",
            "CREATE INDEX failures_session ON failures (session_id, ts)",
            """CREATE TABLE agents (
                agent_id TEXT PRIMARY KEY, session_id TEXT, file_path TEXT, first_ts TEXT,
                last_ts TEXT, prompt_hash TEXT, last_event TEXT, last_event_ts TEXT, """
            + _ROW_ORIGIN
            + ")",
            """CREATE TABLE tasks (
                tool_use_id TEXT PRIMARY KEY, session_id TEXT, tool_name TEXT, agent_id TEXT,
                parent_agent_id TEXT, launched_ts TEXT, subagent_type TEXT, description TEXT,
                prompt_hash TEXT, prompt_len BIGINT, model TEXT, turn_id TEXT, result_ts TEXT,
                result_status TEXT, result_is_error BIGINT, result_error TEXT,
                result_total_tokens BIGINT, outcome TEXT, file_path TEXT, file_offset BIGINT, """
            + _ROW_ORIGIN
            + ")",
            "CREATE INDEX tasks_session ON tasks (session_id, launched_ts)",
            """CREATE TABLE prompts (
                prompt_key TEXT PRIMARY KEY, session_id TEXT, agent_id TEXT,
                is_sidechain BIGINT NOT NULL DEFAULT 0, ts TEXT NOT NULL, text_hash TEXT NOT NULL,
                text_len BIGINT NOT NULL, file_path TEXT, file_offset BIGINT, """
            + _ROW_ORIGIN
            + ")",
            "CREATE INDEX prompts_hash ON prompts (text_hash)",
            """CREATE TABLE incidents (
                incident_id TEXT PRIMARY KEY, name TEXT, status TEXT, impact TEXT,
                created_at TEXT, updated_at TEXT, resolved_at TEXT, impact_start TEXT,
                impact_end TEXT, components TEXT, models TEXT, shortlink TEXT, url TEXT,
                source TEXT, fetched_at TEXT, raw TEXT)""",
            """CREATE TABLE incident_updates (
                update_id TEXT PRIMARY KEY, incident_id TEXT NOT NULL, status TEXT, body TEXT,
                created_at TEXT, display_at TEXT)""",
            "CREATE INDEX incident_updates_incident ON incident_updates (incident_id)",
            """CREATE TABLE quota_snapshots (
                machine_id TEXT NOT NULL, ts TEXT NOT NULL, session_id TEXT, account TEXT,
                five_hour_pct DOUBLE PRECISION, five_hour_resets_at TEXT,
                seven_day_pct DOUBLE PRECISION, seven_day_resets_at TEXT, model TEXT,
                PRIMARY KEY (machine_id, ts))""",
            """CREATE TABLE ingest_runs (
                started_at TEXT NOT NULL, machine_id TEXT NOT NULL, finished_at TEXT,
                files_seen BIGINT, files_read BIGINT, new_requests BIGINT, new_failures BIGINT,
                lines_skipped BIGINT, PRIMARY KEY (machine_id, started_at))""",
        ),
    ),
    Migration(
        6,
        "team ledger: request-id lookups for OTel dedup",
        (
            # OTel events are matched to transcript rows by the Anthropic request id (both ways); the
            # partial indexes find the (few) telemetry rows without scanning the transcript ones.
            "CREATE INDEX requests_request_id ON requests (request_id)",
            "CREATE INDEX failures_request_id ON failures (request_id)",
            "CREATE INDEX requests_otel ON requests (request_id) WHERE origin = 'otel'",
            "CREATE INDEX failures_otel ON failures (session_id, ts) WHERE origin = 'otel'",
            # Team reports group every row by machine.
            "CREATE INDEX requests_machine ON requests (machine_id, ts)",
            "CREATE INDEX failures_machine ON failures (machine_id, ts)",
        ),
    ),
    Migration(
        20,
        "copies of a record (resumed sessions) are recognised by their content",
        (
            # The hash of a failure's or prompt's line without its uuid and parentUuid: Claude Code's
            # --resume (1.0.8x) writes earlier records into the new file again with new uuids, and such
            # a copy is the same event, not a new failure or prompt (ledger/ingest.py).
            "ALTER TABLE failures ADD COLUMN copy_hash TEXT",
            "ALTER TABLE prompts ADD COLUMN copy_hash TEXT",
            "CREATE INDEX failures_copy ON failures (copy_hash)",
            "CREATE INDEX prompts_copy ON prompts (copy_hash)",
            # The few request rows without requestId, merged by message.id after every ingest: a partial
            # index so that pass never scans the whole table.
            "CREATE INDEX requests_unkeyed ON requests (message_id, session_id) WHERE request_id IS NULL",
        ),
    ),
    Migration(
        21,
        "a subagent run's launch, from its meta file",
        (
            # `subagents/agent-<id>.meta.json` (2.1.1xx+) names the Agent/Task tool_use that started the
            # run (`toolUseId`): the surest link from run to launch (ledger/ingest.py).
            "ALTER TABLE agents ADD COLUMN tool_use_id TEXT",
            "CREATE INDEX agents_tool_use ON agents (tool_use_id)",
        ),
    ),
    Migration(
        30,
        "provider of every request and failure",
        (
            # Who served the request (core/provider.py): anthropic | bedrock | vertex | foundry | other.
            # Rows written before this version are judged here by the shapes portable SQL can see (cloud
            # id infixes, non-Claude models, gateway pages and relay wording); the rest stay NULL, which
            # readers take as Anthropic (core.provider.SQL_PROVIDER). Hex-style relay ids need the
            # parser's judgment: re-ingesting (`ledger vacuum` then `ingest`) applies it.
            "ALTER TABLE requests ADD COLUMN provider TEXT",
            "ALTER TABLE failures ADD COLUMN provider TEXT",
            """UPDATE requests SET provider = CASE
                WHEN message_id LIKE 'msg!_bdrk!_%' ESCAPE '!' OR request_id LIKE 'req!_bdrk!_%' ESCAPE '!'
                     OR lower(model) LIKE '%anthropic.claude%' OR lower(model) LIKE 'arn:aws%' THEN 'bedrock'
                WHEN message_id LIKE 'msg!_vrtx!_%' ESCAPE '!' OR request_id LIKE 'req!_vrtx!_%' ESCAPE '!'
                     OR model LIKE 'claude%@%' THEN 'vertex'
                WHEN model IS NOT NULL AND model <> '<synthetic>' AND lower(model) NOT LIKE '%claude%'
                     THEN 'other'
                ELSE NULL END""",
            """UPDATE failures SET provider = CASE
                WHEN request_id LIKE 'req!_bdrk!_%' ESCAPE '!' THEN 'bedrock'
                WHEN request_id LIKE 'req!_vrtx!_%' ESCAPE '!' THEN 'vertex'
                WHEN lower(message) LIKE '%<html%' OR lower(message) LIKE '%<!doctype html%'
                     OR lower(message) LIKE '%no available claude accounts%'
                     OR lower(message) LIKE '%new!_api!_error%' ESCAPE '!' OR lower(message) LIKE '%edgeone%'
                     THEN 'other'
                ELSE NULL END""",
        ),
    ),
    Migration(
        2,
        "usage report cache",
        (
            # Grouped sums behind `claimback usage`, valid while the ledger's token (request count, latest
            # request, files read) is unchanged: an unchanged re-run reads this instead of re-aggregating
            # every request (analysis/usage.py). Derived data: safe to delete at any time.
            """CREATE TABLE report_cache (
                cache_key TEXT PRIMARY KEY, token TEXT NOT NULL, payload TEXT NOT NULL,
                created_at TEXT NOT NULL)""",
        ),
    ),
)

# Indexes that serve only a shared ledger: OTel dedup by request id and per-machine team reports. Built
# into every ledger by migration 6, they cost a single-machine SQLite ledger ~15 % of its cold ingest
# (two more B-trees with random keys on every request row) and serve no query there, so migration 60
# drops them on SQLite and `ledger.store.ensure_team_indexes` builds them once a second machine or a
# telemetry row arrives (on PostgreSQL, a team ledger by choice, they always stay).
TEAM_INDEXES: dict[str, str] = {
    "requests_request_id": "CREATE INDEX IF NOT EXISTS requests_request_id ON requests (request_id)",
    "failures_request_id": "CREATE INDEX IF NOT EXISTS failures_request_id ON failures (request_id)",
    "requests_otel": "CREATE INDEX IF NOT EXISTS requests_otel ON requests (request_id) WHERE origin = 'otel'",
    "failures_otel": "CREATE INDEX IF NOT EXISTS failures_otel ON failures (session_id, ts) WHERE origin = 'otel'",
    "requests_machine": "CREATE INDEX IF NOT EXISTS requests_machine ON requests (machine_id, ts)",
    "failures_machine": "CREATE INDEX IF NOT EXISTS failures_machine ON failures (machine_id, ts)",
}

MIGRATIONS += (
    Migration(
        60,
        "team and OTel indexes only in shared ledgers (SQLite)",
        tuple(f"DROP INDEX IF EXISTS {name}" for name in TEAM_INDEXES),
        dialects=("sqlite",),
    ),
    Migration(
        61,
        "subagent lookups by agent id",
        (
            # A killed task's requests and failures are found by its agent id (audit, resume, loss):
            # without an index each task scanned the whole table (0.41 s per task at 1 GB). Partial: only
            # subagent rows carry an agent id, so the main thread's rows cost the index nothing.
            "CREATE INDEX requests_agent ON requests (agent_id) WHERE agent_id IS NOT NULL",
            "CREATE INDEX failures_agent ON failures (agent_id, ts) WHERE agent_id IS NOT NULL",
        ),
    ),
    Migration(
        62,
        "prompts by time",
        (
            # Every outage window reads the prompts around it (re-submissions, loss category 3); without
            # an index each window scanned all prompts (54 ms per window at 1 GB, 67 windows).
            "CREATE INDEX prompts_ts ON prompts (ts)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        40,
        "files remember a hash of the bytes before their consumed offset",
        # An in-place rewrite keeps inode, size and mtime (or the first 4 KiB): only the bytes the last
        # run consumed tell it from an untouched file (ledger/ingest.py, _tail_hash).
        ("ALTER TABLE files ADD COLUMN tail_hash TEXT",),
    ),
)

MIGRATIONS += (
    Migration(
        95,
        "request tokens by hour",
        (
            # Every report with outage windows reads the token total of each UTC hour (the P90 weeks of
            # analysis/quota.py TokenHistory, audit's daily table): without it one GROUP BY over all
            # requests sorted them in a temporary B-tree (0.11 s at 1 GB, 5x that at 5 GB); this index is
            # in that order and holds every column the scan reads (0.03 s at 1 GB). On a first load it
            # is built after the rows, like the other secondary indexes (ledger/store.py defer_indexes).
            "CREATE INDEX requests_hour ON requests ((SUBSTR(ts, 1, 13)), input_tokens, output_tokens, "
            "cache_creation_tokens, cache_read_tokens, ts)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        110,
        "request tokens by session",
        (
            # Each outage window sums the tokens of the sessions around it from 2 h before to 12 h after
            # (analysis/loss.py, the scope total): with (session_id, ts) alone every row of that span was
            # read from the table for its four token counts and provider (0.53 s of 330 windows at 5 GB).
            # The same index with those columns holds every column the sum reads (no table read; +2.4 %
            # ledger size, +0.03 s to build at 1 GB). Any statement the old index served, this serves.
            "DROP INDEX IF EXISTS requests_session",  # absent while a crashed first load had deferred it
            "CREATE INDEX requests_session ON requests (session_id, ts, provider, input_tokens, output_tokens, "
            "cache_creation_tokens, cache_read_tokens)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        125,
        "request sessions and models by time",
        (
            # Each outage window asks which sessions were active around it and which models each used
            # (analysis/loss.py, analysis/outages.py _session_models): with (ts) alone every row of the
            # span was read from the table for its provider, session and model (0.5 s of 288 windows at
            # 5 GB). The same index with those columns holds every column both read (no table read; the
            # two statements 1.3-2.6x faster, +8 % ledger size, ~+5 ms to build at 100 MB). Any statement
            # the old index served, this serves: ts leads.
            "DROP INDEX IF EXISTS requests_ts",  # absent while a crashed first load had deferred it
            "CREATE INDEX requests_ts ON requests (ts, provider, session_id, model)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        126,
        "request tokens by hour, in time order",
        (
            # A P90 week's boundary inside an hour sums that hour's rows before it (analysis/quota.py
            # tokens_before): with ts after the token counts every row of the hour was read (~380 at
            # 5 GB); with ts right after the hour only the rows before the boundary are (1,500 such
            # sums: 0.13 -> 0.07 s). The hourly totals still walk it in group order, no sort, no table
            # read; same size.
            "DROP INDEX IF EXISTS requests_hour",  # absent while a crashed first load had deferred it
            "CREATE INDEX requests_hour ON requests ((SUBSTR(ts, 1, 13)), ts, input_tokens, output_tokens, "
            "cache_creation_tokens, cache_read_tokens)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        140,
        "copies the copy rules dropped are kept aside",
        (
            # A failure or prompt dropped as a copy of another (ledger/ingest.py, the copy rules) is kept
            # here, whole, instead of being forgotten: a later run may bring its key again (its record is
            # still the first line of it, so it stays a copy) or an earlier line of the key it copied
            # (then it copies nothing and comes back). `copy_of` is the key it copies, so an incremental
            # run finds the copies of the keys it rewrote without a scan. Same columns as the tables.
            """CREATE TABLE failure_copies (
                failure_key TEXT PRIMARY KEY, kind TEXT NOT NULL, session_id TEXT, agent_id TEXT,
                is_sidechain BIGINT NOT NULL DEFAULT 0, ts TEXT NOT NULL, status BIGINT,
                error_type TEXT, error_code TEXT, request_id TEXT, message TEXT,
                failure_class TEXT NOT NULL, signature TEXT, attempt BIGINT, max_attempts BIGINT,
                retry_in_ms DOUBLE PRECISION, model TEXT, turn_id TEXT, file_path TEXT,
                file_offset BIGINT, copy_hash TEXT NOT NULL, provider TEXT, """
            + _ROW_ORIGIN
            + ", copy_of TEXT)",
            "CREATE INDEX failure_copies_hash ON failure_copies (copy_hash)",
            "CREATE INDEX failure_copies_of ON failure_copies (copy_of)",
            """CREATE TABLE prompt_copies (
                prompt_key TEXT PRIMARY KEY, session_id TEXT, agent_id TEXT,
                is_sidechain BIGINT NOT NULL DEFAULT 0, ts TEXT NOT NULL, text_hash TEXT NOT NULL,
                text_len BIGINT NOT NULL, file_path TEXT, file_offset BIGINT, copy_hash TEXT NOT NULL, """
            + _ROW_ORIGIN
            + ", copy_of TEXT)",
            "CREATE INDEX prompt_copies_hash ON prompt_copies (copy_hash)",
            "CREATE INDEX prompt_copies_of ON prompt_copies (copy_of)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        150,
        "request rows that stand in for a response without its message id",
        (
            # Lines whose message.id a session-copying tool replaced (or that have none) but whose
            # requestId is kept: after every ingest those whose request id has a row with a real
            # message id are dropped (ledger/ingest._DROP_STANDIN_COPIES). A partial index so the
            # check finds the few such rows without reading the table.
            "CREATE INDEX requests_standin ON requests (request_id) "
            "WHERE message_id IS NULL AND request_id IS NOT NULL AND origin = 'transcript'",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        141,
        "the client's running usage per session (cost-state)",
        (
            # Claude Code 2.1.33x writes a `cost-state` record when a run ends: the session's cumulative
            # usage per model, restored on --continue/--resume and carried into a --fork-session fork. It
            # holds requests no other record shows (a /compact summary request and its failed attempts):
            # analysis/unattributed.py reports what it holds beyond the session's counted requests. One
            # row per model of each record; `state_key` names the record (its session and bytes), so a
            # re-read or an import adds nothing; `start_ms` (the record's startTime) is shared by a
            # session, its continuations and its forks; `as_of` is the latest time its file showed
            # before it (the record has none), `since` that of the file's previous cost-state (its
            # first time for the first): the span in which the run it closes used the API.
            """CREATE TABLE cost_states (
                state_key TEXT NOT NULL, model TEXT NOT NULL, session_id TEXT NOT NULL, start_ms BIGINT,
                since TEXT, as_of TEXT, input_tokens BIGINT NOT NULL DEFAULT 0, output_tokens BIGINT NOT NULL DEFAULT 0,
                cache_creation_tokens BIGINT NOT NULL DEFAULT 0,
                cache_creation_1h_tokens BIGINT NOT NULL DEFAULT 0,
                cache_read_tokens BIGINT NOT NULL DEFAULT 0, cost_usd DOUBLE PRECISION, file_path TEXT,
                file_offset BIGINT, """
            + _ROW_ORIGIN
            + ", PRIMARY KEY (state_key, model))",
            "CREATE INDEX cost_states_session ON cost_states (session_id)",
            "CREATE INDEX cost_states_start ON cost_states (start_ms)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        180,
        "cost-states by session and time",
        (
            # The measured-unattributed figure (analysis/unattributed.py) counts each request at the first
            # of its session's cost-state times at or after it: one seek per request with the time in the
            # index (1 GB ledger of 2.1.33x shape: 164k requests, 3k cost-states). Serves every lookup by
            # session the old index served.
            "DROP INDEX IF EXISTS cost_states_session",
            "CREATE INDEX cost_states_session ON cost_states (session_id, as_of)",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        181,
        "the rows the cross-file steps of an ingest look at, without reading whole tables",
        (
            # Every ingest that read anything ends with steps over the whole ledger (ledger/ingest.py): the
            # new failures by class, the retries that take their turn's class, failures that take their
            # session's provider, the launches linked to runs and the tasks' outcomes. Each read a whole
            # table (issue 17). Partial indexes hold only the rows a step can change (few: a retry of no
            # known class, a failure of no provider, a launch of no run), the others serve its lookups.
            "CREATE INDEX failures_class ON failures (machine_id, failure_class)",
            "CREATE INDEX failures_unknown_retry ON failures (turn_id) WHERE kind = 'retry' "
            "AND failure_class = 'unknown' AND status IS NULL AND error_code IS NULL AND error_type IS NULL "
            "AND turn_id IS NOT NULL",
            "CREATE INDEX failures_final_turn ON failures (turn_id, ts) WHERE kind = 'final'",
            "CREATE INDEX failures_no_provider ON failures (session_id) WHERE provider IS NULL "
            "AND origin = 'transcript' AND session_id IS NOT NULL",
            "CREATE INDEX tasks_unlinked ON tasks (session_id) WHERE agent_id IS NULL",
            "CREATE INDEX tasks_agent ON tasks (agent_id) WHERE agent_id IS NOT NULL",
            "CREATE INDEX agents_prompt ON agents (session_id, prompt_hash, first_ts)",
        ),
    ),
)

# Versions are handed out to parallel work, so they may land out of order: the latest is the highest,
# and a ledger is migrated by the set of versions it lacks, not by "everything above its maximum".
LATEST_VERSION = max(m.version for m in MIGRATIONS)

MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL,
    claimback_version TEXT NOT NULL)"""

