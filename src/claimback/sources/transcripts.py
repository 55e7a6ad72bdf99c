"""Streaming parser for Claude Code transcript lines (DESIGN §3.1).

One `TranscriptParser` reads one file from a byte offset. It turns the few record kinds that matter
(requests, failed attempts, final API errors, interruptions, subagent launches and their results,
prompts) into plain row tuples for the ledger. Everything else is skipped cheaply: raw-byte prefilters
decide which lines are worth decoding, and msgspec decodes only the declared fields.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from claimback.core import provider as _provider
from claimback.core.classify import (
    AGENT_TERMINATED,
    CLIENT_ERROR_KINDS,
    COMPACTED_REFUSAL,
    CUT_OFF_NUDGE,
    INTERRUPT_MARKERS,
    LOCAL_RUNTIME,
    MANUAL_COMPACTION_FAILED,
    MODEL_PROVIDER,
    UNKNOWN,
    classify,
    decisive_class,
    normalize_signature,
)
from claimback.core.secrets import scrub
from claimback.core.times import normalize_ts

SYNTHETIC_MODEL = "<synthetic>"
TASK_TOOLS = frozenset({"Task", "Agent"})
Number = int | float
# No real request reads or writes ten billion tokens (context windows are ~10^6); a larger count is
# corrupt, and stored it would overflow 64-bit columns and the SUM()s the reports take over them.
MAX_TOKENS = 10**10
# Integers we store in BIGINT columns (status, attempt, durations): anything outside is not a real value.
_INT_LIMIT = 2**62
# Unanswered api-request records remembered per file (a client that never writes answers for some query
# source must not grow the parser state without end).
MAX_OPEN_ATTEMPTS = 200


class CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: Number | None = None
    ephemeral_1h_input_tokens: Number | None = None


class Usage(msgspec.Struct):
    input_tokens: Number | None = None
    output_tokens: Number | None = None
    cache_creation_input_tokens: Number | None = None
    cache_read_input_tokens: Number | None = None
    cache_creation: CacheCreation | None = None
    speed: str | None = None
    service_tier: str | None = None


class Message(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    role: str | None = None
    content: msgspec.Raw = msgspec.Raw(b"null")
    usage: Usage | None = None
    stop_reason: str | None = None


class Record(msgspec.Struct):
    type: str | None = None
    subtype: str | None = None
    uuid: str | None = None
    sessionId: str | None = None
    timestamp: str | None = None
    requestId: str | None = None
    message: Message | None = None
    # Fields below only describe a record; a wrong type in one of them must not cost the whole record
    # (and the request or failure in it), so they are decoded as-is and coerced where used.
    agentId: Any = None
    isSidechain: Any = None
    isMeta: Any = None
    isCompactSummary: Any = None
    isApiErrorMessage: Any = None
    error: msgspec.Raw = msgspec.Raw(b"null")
    apiErrorStatus: Any = None
    retryAttempt: Any = None
    maxRetries: Any = None
    retryInMs: Any = None
    toolUseResult: msgspec.Raw = msgspec.Raw(b"null")
    content: msgspec.Raw = msgspec.Raw(b"null")
    attachment: msgspec.Raw = msgspec.Raw(b"null")
    costUSD: Any = None
    requestDuration: Any = None
    cwd: Any = None
    version: Any = None
    # Newer versions (2.1.23x) also write `session_id`, and some records carry only that one.
    session_id: Any = None
    # Who wrote a user record (2.1.1xx+): "typed" or "sdk" for a person's prompt, "system" for the
    # client's own (the auto-continuation after a usage-limit reset), which is no prompt of the user's.
    promptSource: Any = None
    # 2.1.332's `--fork-session` starts the fork's file with copies of the first session's records under
    # the fork's sessionId; a copied answer names the session that made the request here.
    requestSessionId: Any = None
    # `api-request` records (2.1.33x): one per HTTP attempt, `id` named by the answer's `requestRef`.
    id: Any = None
    querySource: Any = None
    requestRef: Any = None
    apiErrorType: Any = None
    # 2.1.33x's final error after a stream cut once output was shown: the cut's own error object
    # ({requestId, message: "{…API error body…}", isNetworkDown, …}) and why it was cut.
    streamCutError: msgspec.Raw = msgspec.Raw(b"null")
    streamCutCause: Any = None
    truncatedAfterOutput: Any = None
    # 2.1.33x's machine-readable kind of a final error ("computer_slept", "no_response", …).
    apiError: Any = None
    # A `compact_boundary`'s {trigger: "auto"|"manual", preTokens, …}.
    compactMetadata: Any = None


class ModelUsage(msgspec.Struct):
    """One model's running total in a `cost-state` record (2.1.33x; field names as the client writes them)."""

    inputTokens: Number | None = None
    outputTokens: Number | None = None
    cacheReadInputTokens: Number | None = None
    cacheCreationInputTokens: Number | None = None
    cacheCreationEphemeral5mInputTokens: Number | None = None
    cacheCreationEphemeral1hInputTokens: Number | None = None
    costUSD: Any = None


class CostState(msgspec.Struct):
    """`cost-state`: the session's running usage per model, which the client restores from the file's
    last such record on `--continue`/`--resume` and carries into a `--fork-session` fork (same
    `startTime`). Written when a run ends, without a timestamp."""

    sessionId: Any = None
    session_id: Any = None
    startTime: Any = None
    modelUsage: dict[str, ModelUsage] | None = None


_decode_record = msgspec.json.Decoder(Record).decode
_decode_cost_state = msgspec.json.Decoder(CostState).decode
# Models kept per cost-state record: a real session uses a handful; a hostile file cannot flood the table.
MAX_COST_STATE_MODELS = 50
_decode_any = msgspec.json.Decoder().decode

# Which raw lines deserve a decode. Compact JSON (what Claude Code writes) never contains these byte
# strings inside a string value, because quotes there are escaped.
_USAGE = b'"usage":'
_API_ERROR_FLAG = b'"isApiErrorMessage":true'
_API_ERROR_SUBTYPE = b'"api_error"'
_TOOL_RESULT = b'"tool_result"'
_USER = b'"type":"user"'
_INTERRUPT = b"[Request interrupted"
_NOTIFICATION = b"<task-notification>"
# One `api-request` record per HTTP attempt (2.1.33x); `api-request-shape`/`-blob` hold request bodies.
_API_REQUEST = b'"type":"api-request",'
# `system`/`agents_killed`: the user stopped the background subagents (read only while some are open).
_AGENTS_KILLED = b'"subtype":"agents_killed"'
_COMPACT_BOUNDARY = b'"subtype":"compact_boundary"'
_SYSTEM = b'"type":"system"'
# First lines of files under ~/.claude/projects that are no transcript (`_foreign_head`): the pi coding
# agent's session log, and a Workflow run's journal (`subagents/workflows/<run>/journal.jsonl`).
_FOREIGN_HEADS = (b'{"type":"session",', b'{"type":"launched",', b'{"type":"started",', b'{"type":"result",',
                  b'{"type":"failed",')
# The journal's record kinds (2.1.332's writer: `launched` with the script's hash, then per agent() call
# `started`, `result` (its return value) or `failed`, each under the call's cache `key`).
_JOURNAL_KINDS = frozenset({"launched", "started", "result", "failed"})
_MANUAL_COMPACTION_FAILED = MANUAL_COMPACTION_FAILED.encode()
_LOCAL_COMMAND_STDERR = re.compile(r"<local-command-stderr>\s*(.*?)\s*</local-command-stderr>", re.DOTALL)

# Record types and system subtypes read or skipped by name (docs/design.md, "Transcript records"). Any
# other is counted in the ingest summary (`unknown_records`) instead of being guessed at.
KNOWN_TYPES = frozenset({
    "user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation", "progress",
    "attachment", "custom-title", "ai-title", "agent-name", "last-prompt", "pr-link", "tag", "mode",
    "permission-mode", "api-request",
    "api-request-shape", "api-request-blob", "atis-latch", "cost-state", "tools-used",
    # 2.1.217-2.1.232 (a published sample): the remote-control bridge's session id, file-history
    # deltas, a claude.ai artifact link, and a forked subagent's reference to the parent context it
    # starts from (the fork's file holds only its own records after it: nothing is replayed)
    "bridge-session", "file-history-delta", "frame-link", "fork-context-ref",
    "agent-setting",  # 2.1.177-2.1.178: the session's `--agent` (a name)
    "worktree-state",  # 2.1.140: the git worktree a session runs in (`--worktree`)
    # 2.1.8x-2.1.11x (a published tree; gone from 2.1.332's writer): a session brought over from Claude Code
    # on the web (`--teleport`): the remote session's id, its branch and how many messages came with it
    "teleported-from",
    "saved_hook_context",  # 2.1.27: a SessionStart hook's added context, kept for --resume (a published tree)
    # The rest of the entry types 2.1.332's transcript writer knows (read from its binary): session
    # bookkeeping, file history, request replay and UI state, nothing the ledger counts. A resumed paused
    # request (`api-request-resumed`) names server request ids only; its attempts are `api-request`s.
    "api-request-resumed", "continued-in", "resume-head-vouch", "content-replacement", "data-flow-records",
    "data-flow-incomplete", "derived-from", "observer-ref", "ended-by-model", "relocated", "agent-color",
    "artifact-comment-monitor", "artifact-autoreact-ledger", "history-suppression", "attribution-snapshot",
    "isolation-latch", "session-owner", "dev-mods", "memory-mode", "host-row", "repl-mode", "hybrid-organization",
})
KNOWN_SYSTEM_SUBTYPES = frozenset({
    "api_error", "agents_killed", "turn_duration", "api_metrics", "compact_boundary", "microcompact_boundary",
    "local_command", "informational", "stop_hook_summary", "away_summary", "memory_saved",
    "scheduled_task_fire", "model_refusal_fallback", "bridge_status",
    # 2.1.332: `model_fallback` ("Switched to Haiku 4.5 due to high demand for Sonnet 4.6", trigger
    # "overloaded"…) follows the failed attempts that caused it, each its own api_error / api-request;
    # the others are notices.
    "model_fallback", "model_consent_fallback", "model_refusal_no_fallback", "permission_retry",
    "cloud_session_status", "rewind_stand_in",
})
# Group 1 is `cost-state`: the one kind skipped by the prefilters that is still read (`_cost_state`), told
# apart by the match the unknown-kind check makes anyway (no second search of every skipped line).
_COST_STATE_TYPE = "cost-state"
_KNOWN_TYPE = re.compile(rb'"type":"(?:(' + _COST_STATE_TYPE.encode() + rb')|'
                         + b"|".join(re.escape(t.encode()) for t in sorted(KNOWN_TYPES - {_COST_STATE_TYPE}))
                         + rb')"')
_KNOWN_SUBTYPE = re.compile(rb'"subtype":"(?:' + b"|".join(re.escape(t.encode()) for t in sorted(KNOWN_SYSTEM_SUBTYPES))
                            + rb')"')
MAX_UNKNOWN_LABELS = 50  # distinct unknown kinds reported per file: a hostile file cannot flood the summary


class _Kind(msgspec.Struct):
    type: Any = None
    subtype: Any = None


_decode_kind = msgspec.json.Decoder(_Kind).decode

_STATUS_IN_TEXT = re.compile(r"API Error:\s*(\d{3})\b")
_TYPE_IN_TEXT = re.compile(r'"type"\s*:\s*"([a-z_]+_error)"')
# The API's error body quoted in a final's text (`API Error: 529 {…,"request_id":"req_011C…"}`, its quotes
# escaped when the body sat inside a JSON string): the failed request's own id, the evidence a claim names.
# Only the `req_…` shape the APIs mint (first party, `req_vrtx_`, `req_bdrk_`); a relay's id is no evidence.
_REQUEST_ID_IN_TEXT = re.compile(r'"request_id\\?"\s*:\s*\\?"(req_[A-Za-z0-9_]{8,80})\\?"')
_COMMAND_PREFIXES = ("<command-", "<local-command", "<bash-", "<user-memory-input", "Caveat: ",
                     "<task-notification>",
                     # a compaction summary from versions before the isCompactSummary flag
                     "This session is being continued from a previous conversation")
# A background run's end, as Claude Code tells the parent (a user record, or a queue-operation/attachment
# that queues it): `<task-notification><task-id>AGENT</task-id><tool-use-id>TOOLU</tool-use-id>
# <status>completed|failed|killed</status>…`.
_NOTIFY_FIELD = re.compile(r"<(task-id|tool-use-id|status)>\s*([^<\s]{1,200})\s*</\1>")


# A record's own ids, which a copy changes while the rest stays the same: `--resume` in 1.0.8x rewrites
# earlier records into the new file with new uuids (and may rewrite a string `message.content` as one
# text block); tools that duplicate a session (seen in a published 2.1.45 tree: six copies of one session)
# also give each copy its own sessionId and replace `message.id` by the record's new uuid.
_OWN_IDS = re.compile(rb'"(?:uuid|parentUuid|sessionId)":(?:"(?:[^"\\]|\\.)*"|null|true|false|-?[0-9][0-9.eE+-]*),?')


def copy_hash(line: bytes) -> str:
    """What a copy of this record shares with it: the record without its uuid, parentUuid, sessionId
    and message.id, a string `message.content` read as one text block. (Two distinct events never share
    everything else: the millisecond timestamp and the whole text.)"""
    try:
        record = _decode_any(line)
    except (msgspec.DecodeError, RecursionError):
        record = None
    if not isinstance(record, dict):
        return hashlib.sha256(_OWN_IDS.sub(b"", line.rstrip(b"\r\n"))).hexdigest()[:24]
    record = {k: v for k, v in record.items() if k not in ("uuid", "parentUuid", "sessionId")}
    message = record.get("message")
    if isinstance(message, dict):
        message = {k: v for k, v in message.items() if k != "id"}
        if isinstance(message.get("content"), str):
            message["content"] = [{"type": "text", "text": message["content"]}]
        record["message"] = message
    canonical = msgspec.json.encode(record, order="sorted")
    return hashlib.sha256(canonical).hexdigest()[:24]


def normalize_prompt(text: str) -> str:
    return " ".join(text.split()).lower()


def prompt_hash(text: str) -> str:
    return hashlib.sha256(normalize_prompt(text).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _count(value: Number | None) -> int:
    if value is None:
        return 0
    number = int(value)  # a float count (some exporters) is truncated like ccusage does
    if number < 0:
        raise ValueError("negative token count")
    if number > MAX_TOKENS:
        raise ValueError("implausible token count")
    return number


@dataclass
class FileState:
    """What a parser must remember between incremental runs of one file."""

    turn_id: str | None = None
    model: str | None = None
    session_id: str | None = None
    pending_tasks: list[str] = field(default_factory=list)
    last_event: str | None = None
    last_event_ts: str | None = None
    agent_prompt_hash: str | None = None
    first_ts: str | None = None
    last_ts: str | None = None
    cwd: str | None = None
    version: str | None = None
    # Who served this file's last request (core/provider.py): the route of failures that carry no
    # evidence of their own (a connection error has no id, a synthetic final error no real model).
    provider: str | None = None
    # Background runs (`run_in_background`) still waiting for their `<task-notification>`: agent id ->
    # the launch's tool_use id, for notifications that name only the agent (`<task-id>`).
    async_agents: dict[str, str] = field(default_factory=dict)
    # HTTP attempts (`api-request` records) no answer, retry record or final error has accounted for
    # yet, oldest first: [id, ts, offset, querySource]. Versions from 2.1.33x write no retry record
    # for a subagent's failed attempts, nor for a broken stream the client silently re-sends: these
    # records are the only trace of those attempts.
    open_attempts: list[list] = field(default_factory=list)
    # The last failed attempt's (status, error type, code, text) in this file: an attempt that left no
    # error of its own failed the same way.
    last_failure: list | None = None
    # The querySource of this file's conversation (from its last answered attempt): other sources
    # (compaction, side questions) write api-request records whose answers are not transcript records.
    thread_source: str | None = None
    # The route the last failed attempt's own evidence named (a relay's page, a cloud request id): the
    # final error that ends those attempts names none of its own ("API Error: 502 Bad Gateway …").
    failure_route: str | None = None
    # Since when the run the next `cost-state` record closes may have used the API: the latest time the
    # file showed before its previous cost-state, else its first time (a cost-state is written when a
    # run ends and has no time of its own; a run's first requests, a /compact's among them, are written
    # after they are made or not at all).
    run_start: str | None = None
    # Set when the file is another program's session log, not a Claude Code transcript: the reason its
    # lines are skipped (counted once per line, never read as records of unknown kinds).
    foreign: str | None = None

    def to_json(self) -> str:
        return msgspec.json.encode(self.__dict__).decode()

    @classmethod
    def from_json(cls, text: str | None) -> FileState:
        if not text:
            return cls()
        try:
            data = msgspec.json.decode(text)
            state = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
            if not isinstance(state.async_agents, dict):
                state.async_agents = {}
            if not isinstance(state.open_attempts, list):
                state.open_attempts = []
            return state
        except (msgspec.DecodeError, TypeError, AttributeError):
            return cls()


# Row layouts, in the column order `ledger.ingest` inserts them.
REQUEST_COLUMNS = (
    "request_key", "message_id", "request_id", "session_id", "agent_id", "is_sidechain", "ts", "model",
    "input_tokens", "output_tokens", "cache_creation_tokens", "cache_creation_1h_tokens",
    "cache_read_tokens", "speed", "service_tier", "duration_ms", "cost_usd", "stop_reason", "turn_id",
    "file_path", "file_offset", "provider",
)
FAILURE_COLUMNS = (
    "failure_key", "kind", "session_id", "agent_id", "is_sidechain", "ts", "status", "error_type",
    "error_code", "request_id", "message", "failure_class", "signature", "attempt", "max_attempts",
    "retry_in_ms", "model", "turn_id", "file_path", "file_offset", "copy_hash", "provider",
)
TASK_COLUMNS = (
    "tool_use_id", "session_id", "tool_name", "parent_agent_id", "launched_ts", "subagent_type",
    "description", "prompt_hash", "prompt_len", "model", "turn_id", "file_path", "file_offset",
)
RESULT_COLUMNS = (
    "tool_use_id", "agent_id", "result_ts", "result_status", "result_is_error", "result_error",
    "result_total_tokens",
)
PROMPT_COLUMNS = (
    "prompt_key", "session_id", "agent_id", "is_sidechain", "ts", "text_hash", "text_len",
    "file_path", "file_offset", "copy_hash",
)
# One row per model of a `cost-state` record; `state_key` names the record (its session and bytes).
COST_STATE_COLUMNS = (
    "state_key", "model", "session_id", "start_ms", "since", "as_of", "input_tokens", "output_tokens",
    "cache_creation_tokens", "cache_creation_1h_tokens", "cache_read_tokens", "cost_usd", "file_path",
    "file_offset",
)


@dataclass
class ParseBatch:
    requests: dict[str, tuple] = field(default_factory=dict)
    failures: list[tuple] = field(default_factory=list)
    tasks: list[tuple] = field(default_factory=list)
    results: list[tuple] = field(default_factory=list)
    prompts: list[tuple] = field(default_factory=list)
    cost_states: list[tuple] = field(default_factory=list)
    # A `--fork-session` fork's file starts with copies of its original's records, timestamps kept; a
    # copied answer names the original (`requestSessionId`). (this file's session, the original) -> the
    # span [first, last] of this file's times up to its last such answer: every record of this session in
    # it is a copy, so its failures, prompts and launches are the original's (ledger/ingest.py), whichever
    # file is read first.
    copied_from: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    unknown: Counter = field(default_factory=Counter)  # record kinds we neither read nor skip by name
    lines: int = 0

    def size(self) -> int:
        return len(self.requests) + len(self.failures) + len(self.tasks) + len(self.prompts)


def _request_total(row: tuple) -> int:
    return row[8] + row[9] + row[10] + row[12]


def request_wins(row: tuple, kept: tuple | None) -> bool:
    """Whether `row` replaces `kept` (same request key): the larger token total (the streamed lines of
    one response), and on a tie the earlier line, so a copy written later (`--resume` replays earlier
    records with a new timestamp and session) never moves a request to the copy's time or session."""
    if kept is None:
        return True
    mine, theirs = _request_total(row), _request_total(kept)
    return mine > theirs or (mine == theirs and row[6] < kept[6])


class TranscriptParser:
    """Parses the lines of one transcript file; call `feed` per complete line, read `batch`."""

    def __init__(self, file_path: str, file_key: str, session_id: str | None, agent_id: str | None,
                 state: FileState) -> None:
        self.file_path = file_path
        self.file_key = file_key  # short stable id of the file, for rows that carry no id of their own
        self.default_session = session_id
        self.file_agent_id = agent_id
        self.state = state
        if state.session_id is None:
            state.session_id = session_id
        self.batch = ParseBatch()
        self._pending = set(state.pending_tasks)
        self._line = b""

    # -- the hot loop ------------------------------------------------------------------------------
    def feed(self, line: bytes, offset: int) -> None:
        self.batch.lines += 1
        if self.state.foreign is not None or (offset == 0 and line.startswith(_FOREIGN_HEADS)
                                              and self._foreign_head(line)):
            self.batch.skipped[self.state.foreign] += 1
            return
        if _TOOL_RESULT in line:
            # A user's tool result (most of a transcript's bytes): only interruptions and subagent
            # results matter. Any other record that merely names "tool_result" is read as usual.
            if _USER in line and not (_INTERRUPT in line or (self._pending and self._mentions_pending(line))):
                return
        elif not (_USAGE in line or _API_ERROR_SUBTYPE in line or _API_ERROR_FLAG in line or _USER in line
                  or (_NOTIFICATION in line and self._pending) or _API_REQUEST in line
                  or (self._pending and _AGENTS_KILLED in line)
                  or (self.state.open_attempts and _COMPACT_BOUNDARY in line)):
            if not line.strip():
                return
            # Cheap checks said "nothing we need"; still count lines that are not JSON at all.
            if line.lstrip()[:1] != b"{":
                self.batch.skipped["malformed JSON"] += 1
                return
            known = _KNOWN_TYPE.search(line)
            if known is None or (_SYSTEM in line and _KNOWN_SUBTYPE.search(line) is None):
                self._unknown_kind(line)
                return
            if known.lastindex == 1:
                self._cost_state(line, offset)
                return
            # A failed `/compact` (a system record, read below); only system lines pay for the search.
            if known.group(0) != _SYSTEM or _MANUAL_COMPACTION_FAILED not in line:
                return
        if not line.isascii():
            # Claude Code writes UTF-8; invalid bytes mean a corrupt line. msgspec checks only the fields
            # it decodes, so check the whole line: one rule, whatever field the bad bytes are in.
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                self.batch.skipped["invalid UTF-8"] += 1
                return
        try:
            record = _decode_record(line)
        except msgspec.ValidationError:
            self.batch.skipped["wrong field types"] += 1
            return
        except msgspec.DecodeError:
            record = _decode_with_lone_surrogates(line)
            if record is None:
                self.batch.skipped[self._decode_error_reason(line)] += 1
                return
        except RecursionError:
            # ~1000 levels of nesting: the decoder's stack limit. No Claude Code record is that deep.
            self.batch.skipped["nested too deep"] += 1
            return
        self._line = line
        try:
            self._handle(record, offset)
        except (ValueError, TypeError, OverflowError, RecursionError, msgspec.DecodeError,
                msgspec.ValidationError):
            self.batch.skipped["invalid values"] += 1

    def _foreign_head(self, line: bytes) -> bool:
        """True (and the file marked) when the first line opens another program's session log: the pi
        coding agent's (OpenClaw's) `{"type":"session","version":3,"id":…,"cwd":…}`, then `message`,
        `model_change`, `custom`… records (a published 2.1.50 tree kept two under ~/.claude/projects).
        Claude Code writes no `session` record and names its sessions `sessionId`. Or a Workflow run's
        journal, the run's cache of its agent() calls (`{"type":"started","key":"v2:…","agentId":…}`,
        `result`, `failed`, 2.1.332's `launched` head): 138 `unknown_records` of a published 2.1.21x tree.
        Its agents' transcripts are the `agent-*.jsonl` files beside it, read as every subagent's."""
        try:
            head = msgspec.json.decode(line)
        except (msgspec.DecodeError, RecursionError):
            return False
        if not isinstance(head, dict) or "uuid" in head:
            return False
        kind = head.get("type")
        if kind == "session" and type(head.get("version")) is int and "sessionId" not in head:
            self.state.foreign = "another program's session log (pi)"
            return True
        if kind in _JOURNAL_KINDS and ("key" in head or "hiddenScriptSha256" in head):
            self.state.foreign = "a Workflow run's journal"
            return True
        return False

    def _unknown_kind(self, line: bytes) -> None:
        """Count a record of a kind we do not know (a newer client's): by name, never by guessing."""
        try:
            kind = _decode_kind(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return  # a line that is not one record: the decode of a record it mimics would say why
        label = kind.type if isinstance(kind.type, str) else "(no type)"
        if label in KNOWN_TYPES and label != "system":
            return  # the type token was only written with other spacing
        if label == "system":
            # 1.0.x notices have no subtype ({content: "Claude Opus limit reached, now using Sonnet 4",
            # level: "warning"}): shown to the user, nothing the ledger needs.
            if kind.subtype is None or (isinstance(kind.subtype, str) and kind.subtype in KNOWN_SYSTEM_SUBTYPES):
                return
            label = f"system/{kind.subtype if isinstance(kind.subtype, str) else '(no subtype)'}"
        label = "".join(c for c in label[:48] if c.isprintable())
        if label in self.batch.unknown or len(self.batch.unknown) < MAX_UNKNOWN_LABELS:
            self.batch.unknown[label] += 1

    def _cost_state(self, line: bytes, offset: int) -> None:
        """The client's running usage (docs/methodology.md, "Usage no record shows"): one row per model,
        as of the latest time this file showed before it (the record has no timestamp of its own)."""
        try:
            rec = _decode_cost_state(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            self.batch.skipped["invalid cost-state"] += 1
            return
        session = _as_str(rec.sessionId) or _as_str(rec.session_id) or self.state.session_id
        if not session or not rec.modelUsage:
            return
        rows = []
        try:
            for model, usage in list(rec.modelUsage.items())[:MAX_COST_STATE_MODELS]:
                five, hour = usage.cacheCreationEphemeral5mInputTokens, usage.cacheCreationEphemeral1hInputTokens
                # the requests' own rule (a breakdown when present, else the total): equal sums compare;
                # the total is checked either way (a negative or implausible one makes the record invalid)
                total = _count(usage.cacheCreationInputTokens)
                cache_write = _count(five) + _count(hour) if five is not None or hour is not None else total
                rows.append((model[:200], _count(usage.inputTokens), _count(usage.outputTokens), cache_write,
                             _count(hour), _count(usage.cacheReadInputTokens), _as_number(usage.costUSD)))
        except (ValueError, TypeError, OverflowError):
            self.batch.skipped["invalid cost-state"] += 1
            return
        key = hashlib.sha256(session.encode("utf-8", "surrogatepass") + b"\n" + line.rstrip(b"\r\n")).hexdigest()[:24]
        start = _as_int(_as_number(rec.startTime)) if rec.startTime is not None else None
        for model, inp, out, write, hour, read, cost in rows:
            self.batch.cost_states.append((key, model, session, start, self.state.run_start, self.state.last_ts,
                                           inp, out, write, hour, read, cost, self.file_path, offset))
        self.state.run_start = self.state.last_ts

    def _mentions_pending(self, line: bytes) -> bool:
        return any(tool_id.encode() in line for tool_id in self._pending)

    @staticmethod
    def _decode_error_reason(line: bytes) -> str:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return "invalid UTF-8"
        return "malformed JSON"

    # -- record kinds ------------------------------------------------------------------------------
    def _handle(self, rec: Record, offset: int) -> None:
        ts = normalize_ts(rec.timestamp)
        kind = rec.type
        if kind in ("queue-operation", "attachment") and not (rec.message and rec.message.usage):
            if ts is not None and self._pending:
                self._notification_record(kind, rec, ts)
            return
        if kind == "api-request":
            if ts is not None and isinstance(rec.id, str) and rec.id:
                self.state.open_attempts.append([rec.id, ts, offset, _as_str(rec.querySource),
                                                 self._agent(rec), 1 if rec.isSidechain is True else 0])
                del self.state.open_attempts[:-MAX_OPEN_ATTEMPTS]
                if self.state.last_ts is None or ts > self.state.last_ts:
                    self.state.last_ts = ts
                if self.state.run_start is None:
                    self.state.run_start = ts
            return
        if kind not in ("assistant", "user", "system") and not (rec.message and rec.message.usage):
            return  # summary, progress, file-history-snapshot, ... never matter
        if ts is None:
            self.batch.skipped["missing or invalid timestamp"] += 1
            return
        st = self.state
        session = rec.sessionId or _as_str(rec.session_id)
        if session:
            st.session_id = session
        if st.first_ts is None or ts < st.first_ts:
            st.first_ts = ts
        if st.last_ts is None or ts > st.last_ts:
            st.last_ts = ts
        if st.run_start is None:
            st.run_start = ts
        if isinstance(rec.cwd, str) and rec.cwd:
            st.cwd = rec.cwd
        if isinstance(rec.version, str) and rec.version:
            st.version = rec.version
        if kind == "system":
            if rec.subtype == "api_error":
                self._retry_failure(rec, ts, offset)
            elif rec.subtype == "agents_killed":
                self._agents_killed(ts)
            elif rec.subtype == "compact_boundary":
                self._compacted(rec)
            elif rec.subtype == "local_command":
                self._local_command(rec, ts, offset)
            return
        msg = rec.message
        if msg is None:
            return
        if kind == "user" or (msg.role == "user" and msg.usage is None):
            self._user(rec, msg, ts, offset)
            return
        if rec.isApiErrorMessage is True or (msg.model == SYNTHETIC_MODEL and _is_unflagged_api_error(msg)):
            self._final_failure(rec, msg, ts, offset)
        if msg.usage is not None and msg.model != SYNTHETIC_MODEL:
            if isinstance(rec.requestRef, str) and self.state.open_attempts:
                self._answered(rec.requestRef)
            self._request(rec, msg, msg.usage, ts, offset)
        if msg.content is not None and msg.model != SYNTHETIC_MODEL:
            raw = bytes(msg.content)
            if b'"tool_use"' in raw and (b'"Task"' in raw or b'"Agent"' in raw):
                self._task_launches(rec, raw, ts, offset)

    def _agent(self, rec: Record) -> str | None:
        return _as_str(rec.agentId) or self.file_agent_id

    def _request(self, rec: Record, msg: Message, usage: Usage, ts: str, offset: int) -> None:
        # The hot path of every ingest (one call per assistant line): counts are checked inline where
        # they are plain in-range ints (_count for anything else), and a streamed copy of a response
        # (the same key on 2-3 lines) builds its row only when it is larger than the copy kept.
        if usage.input_tokens is None or usage.output_tokens is None:
            self.batch.skipped["usage without input/output tokens"] += 1
            return
        cache_5m = cache_1h = None
        if usage.cache_creation is not None:
            cache_5m = usage.cache_creation.ephemeral_5m_input_tokens
            cache_1h = usage.cache_creation.ephemeral_1h_input_tokens
        # Every count is checked, used or not: one negative or absurd number means the usage is corrupt.
        cache_total = _count(usage.cache_creation_input_tokens)
        if cache_5m is not None or cache_1h is not None:
            # The breakdown when present, even all zeros beside a positive total (relays write that):
            # ccusage 20's rule, so usage equals its reports (seen in published 2.1.1xx transcripts).
            cache_write = _count(cache_5m) + _count(cache_1h)
        else:
            cache_write = cache_total
        message_id = msg.id
        if message_id and message_id == rec.uuid and rec.requestId:
            # A stand-in: a tool that duplicated the session replaced the API's message id by the record's
            # own uuid (a published 2.1.45 tree: each content-block line of one response under its own
            # id, in six copies of one session). The request id is what is left of the response: its
            # lines and copies are one request, and the original's line, when read, stands for it
            # (ledger/ingest._DROP_STANDIN_COPIES).
            message_id = None
            key = f"~{rec.requestId}"
        elif message_id and rec.requestId:
            key = f"{message_id}:{rec.requestId}"
        else:
            key = f"@{self.file_key}:{offset}"
        if msg.model:
            self.state.model = msg.model
        inp, out, read = usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens
        inp = inp if type(inp) is int and 0 <= inp <= MAX_TOKENS else _count(inp)
        out = out if type(out) is int and 0 <= out <= MAX_TOKENS else _count(out)
        read = read if type(read) is int and 0 <= read <= MAX_TOKENS else _count(read)
        origin = _as_str(rec.requestSessionId)
        if origin is not None and self.state.session_id and origin != self.state.session_id:
            span = self.batch.copied_from.setdefault((self.state.session_id, origin), [ts, ts])
            span[0] = min(span[0], self.state.first_ts or ts, ts)
            span[1] = max(span[1], ts)
        requests = self.batch.requests
        previous = requests.get(key)
        total = inp + out + cache_write + read
        # request_wins(), inlined: the larger total, and on a tie the earlier line (a copy written later
        # by --resume never moves a request to the copy's time or session)
        if previous is None or total > (kept := _request_total(previous)) or (total == kept and ts < previous[6]):
            found = _provider.judge_answer(message_id, rec.requestId, msg.model, rec.version)
            if found is not None:
                self.state.provider = found
            duration, cost = rec.requestDuration, rec.costUSD
            requests[key] = (
                # a fork's copy of an answer stays the request of the session that made it (whichever of
                # the two files is read first: the copies keep the original's timestamps)
                key, message_id, rec.requestId, origin or self.state.session_id,
                _as_str(rec.agentId) or self.file_agent_id,
                1 if rec.isSidechain is True else 0, ts, msg.model, inp, out, cache_write, _count(cache_1h),
                read, usage.speed, usage.service_tier,
                None if duration is None else _as_int(_as_number(duration)),
                None if cost is None else _as_number(cost), msg.stop_reason,
                self.state.turn_id, self.file_path, offset,
                found or self.state.provider or _provider.ANTHROPIC,
            )
        state = self.state
        state.failure_route = None  # answered: a later final error is no end of those attempts
        if state.last_event_ts is None or ts >= state.last_event_ts:  # _event("request", ts), inlined
            state.last_event = "request"
            state.last_event_ts = ts

    def _event(self, name: str, ts: str) -> None:
        if self.state.last_event_ts is None or ts >= self.state.last_event_ts:
            self.state.last_event = name
            self.state.last_event_ts = ts

    def _failure(self, rec: Record, kind: str, ts: str, offset: int, *, status: int | None,
                 error_type: str | None, code: str | None, request_id: str | None,
                 text: str | None, attempt: int | None = None, max_attempts: int | None = None,
                 retry_in_ms: float | None = None, failure_class: str | None = None,
                 own_line: bool = True, evidence: str | None = None, endpoint: str | None = None,
                 headers: object = None, in_turn: bool = True, quoted_request_id: str | None = None) -> None:
        key = rec.uuid or f"@{self.file_key}:{offset}"
        cls = failure_class or classify(status, error_type, code, text)
        # The failure's own evidence first (a relay's page or wording, a cloud request id, the URL), then
        # the route of this file's requests; with neither (a subagent whose first attempt failed), None:
        # the ingest gives it its session's route, else Claude Code's default, Anthropic's (SQL_PROVIDER).
        found = None if kind == "interrupt" else _provider.judge(request_id=request_id, text=evidence or text,
                                                                 endpoint=endpoint, headers=headers)
        if found is None and evidence is not None and text and "\\u" in evidence:
            # The record's JSON escaped non-ASCII (`\u5f53…`, a writer other than Claude Code's): a relay's
            # wording ("当前分组上游负载已饱和") is read in the decoded text.
            found = _provider.from_error_text(text)
        route = found or (self.state.failure_route if kind == "final" else None) or self.state.provider
        if kind == "retry":
            self.state.failure_route = found
        elif kind == "final":
            self.state.failure_route = None
        # Error texts can quote keys (a proxy echoing headers): the ledger never stores a secret.
        message = _clean(text)
        self.batch.failures.append((
            key, kind, self.state.session_id, self._agent(rec), 1 if rec.isSidechain is True else 0, ts,
            # The record's own request id judges the route; one quoted in its text is evidence only (a relay
            # can pass Anthropic's error body through: the route stays the session's).
            status, error_type, code, request_id or quoted_request_id, message, cls,
            normalize_signature(text, status, error_type, code), attempt, max_attempts, retry_in_ms,
            self.state.model, self.state.turn_id if in_turn else None, self.file_path, offset,
            copy_hash(self._line) if own_line else None,  # a failure inferred from other records has no line
            route,
        ))
        self._event("interrupt" if kind == "interrupt" else ("retry" if kind == "retry" else "final_error"), ts)

    def _retry_failure(self, rec: Record, ts: str, offset: int) -> None:
        error = _decode_any(rec.error) if rec.error is not None else None
        status = error_type = code = request_id = text = endpoint = failure_class = headers = message = None
        if isinstance(error, dict):
            status = _as_int(error.get("status"))
            headers = error.get("headers")  # who answered (core/provider.from_response_headers)
            request_id = _as_str(error.get("requestID") or error.get("request_id") or error.get("requestId"))
            cause = error.get("cause")
            if isinstance(cause, dict):
                code = _as_str(cause.get("code"))
                text = _as_str(cause.get("message"))
                # The URL the attempt went to (`https://api.deepseek.com/anthropic/v1/messages`): who
                # was failing, when the file has no answer yet to tell (core/provider.from_endpoint).
                endpoint = _as_str(cause.get("path"))
            # 2.1.33x: `connection: {code: "StreamTruncated"|"ECONNRESET"…, message}` for a lost
            # connection, `message: "529 {…API error body…}"`, `formatted: "529 Overloaded"`.
            connection = error.get("connection")
            if code is None and isinstance(connection, dict):
                code = _as_str(connection.get("code"))
            error_type, inner_text = _api_error_type(error.get("error"))
            message = _as_str(error.get("message"))
            if error_type is None and message and "{" in message:
                error_type, embedded_text = _api_error_type(_embedded_json(message))
                inner_text = inner_text or embedded_text
            text = inner_text or _as_str(error.get("formatted")) or message or text
            if text is None and code:
                text = code
            if message and message != text:
                # The whole answer can name its cause where the inner message does not (the firewall's 403
                # body around "Request not allowed", a relay's words around an Anthropic-typed error).
                failure_class = decisive_class(message)
            if _network_down(error, status):
                failure_class = LOCAL_RUNTIME
        elif isinstance(error, str):
            text = error
        # A gateway's page can sit anywhere in the error object: judge the whole (bounded) record.
        evidence = bytes(rec.error)[:8192].decode("utf-8", "replace") if isinstance(rec.error, msgspec.Raw) else None
        self._failure(rec, "retry", ts, offset, status=status, error_type=error_type, code=code,
                      request_id=request_id, text=text or _first_text(rec.content),
                      attempt=_as_int(rec.retryAttempt), max_attempts=_as_int(rec.maxRetries),
                      retry_in_ms=_as_number(rec.retryInMs), evidence=evidence, endpoint=endpoint,
                      failure_class=failure_class, headers=headers,
                      quoted_request_id=_quoted_request_id(message))
        # Kept in the ledger's file state between runs: scrubbed like any text the ledger keeps (a relay's
        # "Invalid token<the token> tid:…" was stored whole there), long enough to classify again.
        self.state.last_failure = [status, error_type, code, _clean(text, 2048)]
        self._account_latest()

    def _final_failure(self, rec: Record, msg: Message, ts: str, offset: int) -> None:
        text = _first_text(msg.content)
        error_field = error_object = object_type = None
        if rec.error is not None:
            value = _decode_any(rec.error)
            error_field = value if isinstance(value, str) else None
            # Clients write `error` as their coarse kind ("server_error"); a final whose `error` is the
            # API error object itself (`{"status":529,"error":{"type":"error","error":{…}}}`, as a retry
            # record's is) names its status, type, message and request there.
            error_object = value if isinstance(value, dict) else None
        status = _as_int(rec.apiErrorStatus)
        if status is None and error_object is not None:
            status = _as_int(error_object.get("status"))
        if error_object is not None:
            object_type, object_text = _api_error_type(error_object.get("error"))
            text = text or object_text or _as_str(error_object.get("message"))
        if status is None and text:
            found = _STATUS_IN_TEXT.search(text)
            status = int(found.group(1)) if found else None
        found_type = _TYPE_IN_TEXT.search(text) if text else None
        error_type = found_type.group(1) if found_type else None
        if text and any(marker in text for marker in INTERRUPT_MARKERS):
            self._failure(rec, "interrupt", ts, offset, status=None, error_type=None, code=None,
                          request_id=None, text=text, failure_class="interrupt")
            return
        error_type = error_type or _as_str(rec.apiErrorType) or object_type
        field_type = error_field if error_field and error_field != "unknown" else None
        # The `error` field is the client's coarse kind ("server_error" for a timeout and for a refused
        # connection alike): the status, the API's type and the text decide first, the field only when
        # they say nothing. Else a turn's final would be filed apart from its own attempts.
        cls = classify(status, error_type, None, text)
        if cls == UNKNOWN and field_type:
            cls = classify(status, field_type, None, text)
        request_id = _as_str(rec.requestId)
        if request_id is None and error_object is not None:
            request_id = _as_str(error_object.get("requestID") or error_object.get("request_id")
                                 or error_object.get("requestId"))
        cut = _decode_any(rec.streamCutError) if rec.truncatedAfterOutput is True else None
        if isinstance(cut, dict):
            # "Server error mid-response" names no request: the cut's error object does (the partial
            # answer's own request id, evidence for the claim).
            request_id = request_id or _as_str(cut.get("requestId") or cut.get("requestID"))
            if _network_down(cut, _as_int(cut.get("status"))) or rec.streamCutCause == "network_down":
                cls = LOCAL_RUNTIME
        client_kind = rec.apiError if isinstance(rec.apiError, str) else None
        if client_kind in CLIENT_ERROR_KINDS:
            cls = CLIENT_ERROR_KINDS[client_kind]
        self._failure(rec, "final", ts, offset, status=status, error_type=error_type or error_field,
                      code=None, request_id=request_id, text=text, failure_class=cls,
                      quoted_request_id=_quoted_request_id(text))
        # The final error is the last attempt's; the thread's other unaccounted attempts met the same
        # error and left no record of their own (a subagent's retries in 2.1.33x).
        last = self._account_latest()
        if last is not None:
            silent = [a for a in self.state.open_attempts if a[3] == last[3]]
            self.state.open_attempts = [a for a in self.state.open_attempts if a[3] != last[3]]
            for number, attempt in enumerate(silent, start=1):
                self._silent_attempt(attempt, status, error_type or error_field, None, text, cls, number)
        self.state.last_failure = None

    # -- HTTP attempts without a record of their own (api-request, 2.1.33x) ---------------------------
    def _account_latest(self) -> list | None:
        """A retry record or final error accounts for the thread's latest open attempt; returns it."""
        opens = self.state.open_attempts
        for index in range(len(opens) - 1, -1, -1):
            if self.state.thread_source is None or opens[index][3] == self.state.thread_source:
                return opens.pop(index)
        return None

    def _answered(self, ref: str) -> None:
        """An answer names its attempt: earlier open attempts of the same source failed silently."""
        opens = self.state.open_attempts
        index = next((i for i, a in enumerate(opens) if a[0] == ref), None)
        if index is None:
            return
        source = opens[index][3]
        self.state.thread_source = source
        silent = [a for a in opens[:index] if a[3] == source]
        self.state.open_attempts = [a for i, a in enumerate(opens)
                                    if i > index or (i < index and a[3] != source)]
        known = self.state.last_failure or [None, None, None, None]
        for number, attempt in enumerate(silent, start=1):
            self._silent_attempt(attempt, known[0], known[1], known[2],
                                 known[3] or "no response recorded for this attempt", None, number)

    def _compacted(self, rec: Record) -> None:
        """An automatic compaction right after an attempt nothing answered: 2.1.332 (seen in subagents)
        answers the API's refusal of a conversation too large for it (400 "prompt is too long", 413) by
        compacting and re-sending, with no error record. That attempt was the refusal, not an unknown
        failure. A proactive compaction comes before its request, with every attempt answered."""
        meta = rec.compactMetadata
        if isinstance(meta, dict) and meta.get("trigger") == "manual":
            return
        last = self._account_latest()
        if last is not None:
            self._silent_attempt(last, None, None, None, COMPACTED_REFUSAL, MODEL_PROVIDER, 1)

    def _local_command(self, rec: Record, ts: str, offset: int) -> None:
        """`/compact` ended by an API error (MANUAL_COMPACTION_FAILED): the command's final failure, classed
        by the error after the prefix (its attempts are in no record). A compaction that fails for another
        reason (nothing to compact, cancelled) is no API failure and files nothing."""
        content = _first_text(rec.content)
        found = _LOCAL_COMMAND_STDERR.search(content) if content else None
        text = found.group(1) if found else None
        if not text or not text.startswith(MANUAL_COMPACTION_FAILED):
            return
        detail = text[len(MANUAL_COMPACTION_FAILED):].strip()
        status_found = _STATUS_IN_TEXT.search(detail)
        if not detail.startswith("API Error") and status_found is None:
            return
        status = int(status_found.group(1)) if status_found else None
        # The command is no prompt: the failure ends no turn (the prompt before it was answered).
        self._failure(rec, "final", ts, offset, status=status, error_type=None, code=None, request_id=None,
                      text=text, failure_class=classify(status, None, None, detail), in_turn=False)
        self.state.last_failure = None

    def _silent_attempt(self, attempt: list, status: int | None, error_type: str | None, code: str | None,
                        text: str | None, failure_class: str | None, number: int) -> None:
        attempt_id, ts, offset, _source, agent, sidechain = (attempt + [None, None, 0])[:6]
        if not isinstance(attempt_id, str) or not isinstance(ts, str) or not isinstance(offset, int):
            return
        rec = Record(uuid=attempt_id, agentId=agent, isSidechain=bool(sidechain))
        self._failure(rec, "retry", ts, offset, status=status, error_type=error_type, code=code,
                      request_id=None, text=text, attempt=number, failure_class=failure_class, own_line=False)

    def _user(self, rec: Record, msg: Message, ts: str, offset: int) -> None:
        if msg.content is None:
            return
        content = _decode_any(msg.content)
        texts: list[str] = []
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                btype = block.get("type")
                if btype == "text" and isinstance(block.get("text"), str):
                    texts.append(block["text"])
                elif btype == "tool_result":
                    self._tool_result(rec, block, ts)
        for text in texts:
            stripped = text.lstrip()
            if stripped.startswith("<task-notification>"):
                if self._pending:
                    self._notification(stripped, ts)
                continue
            if stripped.startswith("[Request interrupted"):
                self._failure(rec, "interrupt", ts, offset, status=None, error_type=None, code=None,
                              request_id=None, text=stripped[:120], failure_class="interrupt")
                # The user stopped the attempt under way: not a failed attempt.
                self.state.open_attempts = []
                return
            if rec.isMeta is True and stripped.startswith(CUT_OFF_NUDGE):
                # 2.1.332 in -p mode and in subagents: a stream failed after visible output; the client
                # kept the partial answer (recorded above as a request) and asks the model to resume,
                # with no error record. The nudge is the only trace of that failed attempt.
                self._failure(rec, "retry", ts, offset, status=None, error_type=None, code=None,
                              request_id=None, text=CUT_OFF_NUDGE)
                return
        if rec.promptSource == "system":
            return  # the client's own message (auto-continuation after a limit reset), not the user's
        if rec.isMeta is True or rec.isCompactSummary is True or not texts or any(isinstance(b, dict) and b.get("type") == "tool_result"
                                          for b in (content if isinstance(content, list) else ())):
            return
        text = "\n".join(texts)
        if not text.strip() or text.lstrip().startswith(_COMMAND_PREFIXES):
            return
        key = rec.uuid or f"@{self.file_key}:{offset}"
        digest = prompt_hash(text)
        self.batch.prompts.append((
            key, self.state.session_id, self._agent(rec), 1 if rec.isSidechain is True else 0, ts, digest,
            len(text), self.file_path, offset, copy_hash(self._line),
        ))
        # Before agent files (≤ 1.0.x) a Task's run was written into the parent's file as sidechain
        # records: its prompt opens no turn of the main thread (that turn is still the user's).
        if rec.isSidechain is not True or self.file_agent_id:
            self.state.turn_id = key
            self.state.last_failure = self.state.failure_route = None
        if self.file_agent_id and self.state.agent_prompt_hash is None:
            self.state.agent_prompt_hash = digest

    def _task_launches(self, rec: Record, raw: bytes, ts: str, offset: int) -> None:
        content = _decode_any(raw)
        if not isinstance(content, list):
            return
        for block in content:
            if not (isinstance(block, dict) and block.get("type") == "tool_use"
                    and block.get("name") in TASK_TOOLS and isinstance(block.get("id"), str)):
                continue
            tool_input = block.get("input") if isinstance(block.get("input"), dict) else {}
            prompt = tool_input.get("prompt") if isinstance(tool_input.get("prompt"), str) else ""
            self.batch.tasks.append((
                block["id"], self.state.session_id, block["name"], self._agent(rec), ts,
                _as_str(tool_input.get("subagent_type")), _clean(_as_str(tool_input.get("description"))),
                prompt_hash(prompt) if prompt else None, len(prompt), self.state.model,
                self.state.turn_id, self.file_path, offset,
            ))
            self._pending.add(block["id"])

    def _tool_result(self, rec: Record, block: dict[str, Any], ts: str) -> None:
        tool_id = block.get("tool_use_id")
        if not isinstance(tool_id, str) or tool_id not in self._pending:
            return
        result = _decode_any(rec.toolUseResult) if rec.toolUseResult is not None else None
        if isinstance(result, dict) and result.get("status") == "async_launched":
            # A background launch's acknowledgement, not its end: the run reports back later in a
            # `<task-notification>`; until then the launch stays open.
            agent = _as_str(result.get("agentId"))
            if agent:
                self.state.async_agents[agent] = tool_id
        else:
            self._pending.discard(tool_id)
        status = agent_id = None
        total = None
        error_text = None
        if isinstance(result, dict):
            status = _as_str(result.get("status"))
            agent_id = _as_str(result.get("agentId")) or _as_str(result.get("agent_id"))  # teammates
            total = _as_int(result.get("totalTokens"))
            error_text = _as_str(result.get("error"))
        elif isinstance(result, str):
            error_text = result
        body = _first_text(block.get("content"))
        # Keep only error texts (never a subagent's summary, which may quote user code).
        # A string toolUseResult prefixes the marker ("Error: [Request interrupted by user for tool use]"):
        # the run was stopped by the user, which the marker says, not an error of its own.
        candidates = [t.lstrip()[len("Error: "):] if t.lstrip().startswith("Error: [Request interrupted") else t
                      for t in (error_text, body) if t]
        result_error = next((_clean(t) for t in candidates
                             if t.lstrip().startswith(("API Error", "[Request interrupted", "Error:", AGENT_TERMINATED))
                             or "API Error:" in t[:200]), None)
        self.batch.results.append((
            tool_id, agent_id, ts, status, 1 if block.get("is_error") else 0, result_error, total,
        ))

    def _agents_killed(self, ts: str) -> None:
        """`system`/`agents_killed`: the user stopped the background runs still open. They end here, by
        the user's hand, not by an outage (outcome `stopped_by_user`, never loss)."""
        for agent, tool_id in list(self.state.async_agents.items()):
            if tool_id in self._pending:
                self._pending.discard(tool_id)
                self.batch.results.append((tool_id, agent, ts, "stopped_by_user", 0, None, None))
        self.state.async_agents = {}

    def _notification_record(self, kind: str, rec: Record, ts: str) -> None:
        """A notification queued for the parent (queue-operation `content`, attachment `prompt`)."""
        if kind == "queue-operation":
            text = _first_text(rec.content)
        else:  # {"type":"queued_command","commandMode":"task-notification","prompt":"<task-notification>…"}
            body = _decode_any(rec.attachment) if rec.attachment is not None else None
            text = _as_str(body.get("prompt")) if isinstance(body, dict) else None
        if text and "<task-notification>" in text:
            self._notification(text, ts)

    def _notification(self, text: str, ts: str) -> None:
        fields = dict(_NOTIFY_FIELD.findall(text[:4000]))
        agent = fields.get("task-id")
        tool_id = fields.get("tool-use-id") or self.state.async_agents.get(agent or "")
        status = fields.get("status")
        if not tool_id or tool_id not in self._pending or not status:
            return
        self._pending.discard(tool_id)
        self.state.async_agents = {a: t for a, t in self.state.async_agents.items() if t != tool_id}
        failed = status not in ("completed", "success")
        self.batch.results.append((tool_id, agent, ts, status, 1 if failed else 0, None, None))

    def finish(self) -> None:
        self.state.pending_tasks = sorted(self._pending)
        # Forget agents whose launch is no longer open (their notification came, or never will matter).
        self.state.async_agents = {a: t for a, t in self.state.async_agents.items() if t in self._pending}


def _network_down(error: dict[str, Any], status: int | None) -> bool:
    """Claude Code's own verdict in an attempt's error object (2.1.33x `isNetworkDown`, set for its
    "network down" codes: refused, DNS, no route, proxy tunnel): the request never left this machine's
    side, whatever the text says ("Connection lost mid-response"). An HTTP status outweighs it."""
    return error.get("isNetworkDown") is True and status is None


def _as_int(value: Any) -> int | None:
    """An integer that fits the ledger's BIGINT columns, else None (JSON integers are unbounded)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -_INT_LIMIT < value < _INT_LIMIT else None
    if isinstance(value, float) and value == value and abs(value) < _INT_LIMIT:
        return int(value)
    if isinstance(value, str) and 0 < len(value) <= 18 and value.isascii() and value.isdigit():
        return int(value)
    return None


# JavaScript strings may hold half a surrogate pair (a tool output cut in the middle of an emoji);
# JSON.stringify writes it as a lone `\ud83d` escape, which Node reads back but strict decoders refuse.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


# Versions before the `isApiErrorMessage` flag wrote the final error as a plain synthetic message.
_UNFLAGGED_ERROR_PREFIXES = ("API Error", "Claude AI usage limit reached", "You've hit your")


def _is_unflagged_api_error(msg: Message) -> bool:
    text = _first_text(msg.content)
    return bool(text) and text.lstrip().startswith(_UNFLAGGED_ERROR_PREFIXES)


def _decode_with_lone_surrogates(line: bytes) -> Record | None:
    """Decode a line whose only fault is a lone surrogate escape, as Claude Code itself would read it."""
    if b"\\u" not in line:
        return None
    repaired = _LONE_SURROGATE.sub(rb"\\ufffd", line)
    if repaired == line:
        return None
    try:
        return _decode_record(repaired)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and not -_INT_LIMIT < value < _INT_LIMIT:
        return None  # float() of a 400-digit integer raises; such a value describes nothing real
    number = float(value)
    return number if abs(number) < float("inf") else None


def _clean(text: str | None, limit: int = 300) -> str | None:
    """Free text we keep (error messages, task descriptions): secrets scrubbed, then cut to `limit`."""
    if not text:
        return None
    return scrub(text[:limit * 8])[:limit] or None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _api_error_type(body: Any) -> tuple[str | None, str | None]:
    """Dig `{"type":"error","error":{"type":"overloaded_error","message":...}}` at any depth."""
    depth = 0
    while isinstance(body, dict) and depth < 4:
        inner = body.get("error")
        if isinstance(inner, dict):
            body = inner
            depth += 1
            continue
        etype = _as_str(body.get("type"))
        return (etype if etype != "error" else None), _as_str(body.get("message"))
    if isinstance(body, str):
        return None, body
    return None, None


def _quoted_request_id(text: str | None) -> str | None:
    """The `req_…` id of an API error body quoted in a failure's text, or None."""
    if not text or "request_id" not in text:
        return None
    found = _REQUEST_ID_IN_TEXT.search(text)
    return found.group(1) if found else None


def _embedded_json(text: str) -> Any:
    """The JSON body inside an error message such as `529 {"type":"error",…}` (None if there is none)."""
    start = text.find("{")
    if start < 0 or len(text) > 20000:
        return None
    try:
        return _decode_any(text[start:].encode())
    except (msgspec.DecodeError, RecursionError):
        return None


def _first_text(content: Any) -> str | None:
    if isinstance(content, msgspec.Raw):
        content = _decode_any(content)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                return block["text"]
            if isinstance(block, str):
                return block
    return None
