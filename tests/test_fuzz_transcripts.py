"""Fuzzed transcripts: ingest never crashes and keeps exactly the valid entries.

The expected entries come from `reference_read` below: an independent reader written for this test with
the standard library's `json`, applying the documented rules (DESIGN §3.1, docs/reliability.md), not
claimback's parser. Mutations start from real-shaped records (tests/records.py, the shapes in
../shared/examples/transcript-records.md): wrong types, nulls, huge and negative numbers, deep nesting,
truncation, invalid UTF-8, stray bytes, garbage lines, and a file written in two pieces cut mid-line.

The rules the reference reader applies:
1. Only lines ending in "\\n" are read; a last line without one is left for the next run.
2. A line is a record only when it is valid UTF-8 in full and one JSON object (RFC 8259: no NaN or
   Infinity, nesting under ~1000 levels). A lone surrogate escape (half an emoji, which JavaScript
   writes and reads) is read as U+FFFD.
3. The fields claimback reads must have the JSON types Claude Code writes (strings, numbers, objects, or
   null; see TYPED below) and numbers there must fit a double; otherwise the whole record is malformed.
4. A record counts only with a timestamp that ISO-8601 parsing accepts (year 1990-2200).
5. A request is a record whose type is not "user"/"system", with a `message.usage` object holding numeric
   `input_tokens` and `output_tokens` and a model other than "<synthetic>". Every token count present,
   truncated to an integer, must be 0..10^10; otherwise the usage is corrupt and the request is skipped.
6. Requests are keyed by message.id:requestId (both non-empty), else by their line; per key the copy with
   the largest input+output+cache write+cache read is kept (the earliest on ties, then the first). Lines
   with a message.id and no requestId are one request per (session, message.id), kept the same way; and
   none where a line of that message.id with a requestId is in the same session and thread (a replay of it).
7. Cache writes = ephemeral_5m + ephemeral_1h when either is present (even when they sum to 0 beside a
   positive total, as ccusage 20 counts them), else cache_creation_input_tokens.
8. A sidechain copy of a message that the main thread (or a larger/earlier sidechain copy) also has is
   a replay, not a request (the ccusage rule, docs/benchmarks.md "Deduplication").
9. A failed attempt is a `system` record with subtype `api_error`; a final failure is an `assistant`
   record with `isApiErrorMessage: true`, or (older versions) a `<synthetic>` one whose text starts with
   "API Error" or a usage-limit message (unless its text is an interruption marker). Keyed by uuid, else
   by line; the earliest copy of a key is kept (the first on ties). A failure whose line equals another's
   but for its uuid and parentUuid fields is a copy (resumed files rewrite records with new uuids).
10. A line holding both the tokens "tool_result" and "type":"user" is a user's tool result: read only for
   interruptions and subagent results (neither is compared here), never for requests or failures.
11. A `<task-notification>` (user text, queue-operation `content`, attachment `prompt`) ends a background
   subagent run; it is not a prompt. Such records are never requests or failures (not compared here).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimback.analysis.usage import usage_report
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.sources.transcripts import copy_hash
from records import SESSION, agent_launch, assistant, final_error, line, retry, task_result, user_prompt

MAX_TOKENS = 10**10
INTERRUPT_TEXT = ("[Request interrupted by user", "Request was aborted", "[Request interrupted")

# Field -> JSON type claimback decodes it as (rule 3). "any": any JSON, but numbers must fit a double.
TYPED: dict[str, str] = {
    "type": "str", "subtype": "str", "uuid": "str", "sessionId": "str", "timestamp": "str",
    "requestId": "str", "message": "obj",
    **{name: "any" for name in ("agentId", "isSidechain", "isMeta", "isApiErrorMessage", "apiErrorStatus",
                                "retryAttempt", "maxRetries", "retryInMs", "costUSD", "requestDuration",
                                "cwd", "version", "session_id")},
}
MESSAGE_TYPED = {"id": "str", "model": "str", "role": "str", "stop_reason": "str", "usage": "obj"}
USAGE_TYPED = {"input_tokens": "num", "output_tokens": "num", "cache_creation_input_tokens": "num",
               "cache_read_input_tokens": "num", "cache_creation": "obj", "speed": "str",
               "service_tier": "str"}
CACHE_TYPED = {"ephemeral_5m_input_tokens": "num", "ephemeral_1h_input_tokens": "num"}


# -- the reference reader -------------------------------------------------------------------------------
class Malformed(Exception):
    pass


def _no_constants(name: str) -> Any:
    raise Malformed(f"JSON has no {name}")


def _leaves(value: Any) -> Any:
    """Every key and scalar in a decoded JSON value (iterative: values may nest hundreds deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            yield item


def _finite_everywhere(value: Any) -> bool:
    return all(math.isfinite(v) for v in _leaves(value) if isinstance(v, float))


def _check_fields(obj: dict, spec: dict[str, str]) -> None:
    for name, kind in spec.items():
        value = obj.get(name)
        if value is None:
            continue
        ok = {
            "str": isinstance(value, str),
            "obj": isinstance(value, dict),
            "num": type(value) in (int, float) and _finite_everywhere(value),
            "any": _finite_everywhere(value),
        }[kind]
        if not ok:
            raise Malformed(f"{name} has the wrong type")


def _has_surrogate(text: Any) -> bool:
    return isinstance(text, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _without_lone_surrogates(value):
    """JSON.parse keeps a lone surrogate escape (half an emoji); claimback reads it as U+FFFD. json.loads
    has already joined every valid pair, so any surrogate left in a string is a lone one."""
    if not any(_has_surrogate(leaf) for leaf in _leaves(value)):
        return value  # the usual case; deep values are only walked iteratively
    return _replace_surrogates(value)


def _replace_surrogates(value):
    if isinstance(value, str):
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value) \
            if any(0xD800 <= ord(c) <= 0xDFFF for c in value) else value
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    return value


def parse_record(raw: bytes) -> dict:
    """Rules 2-3: the record, or Malformed."""
    try:
        text = raw.decode("utf-8")
        record = json.loads(text, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Malformed(str(exc)[:60]) from None
    if not isinstance(record, dict):
        raise Malformed("not an object")
    try:
        record = _without_lone_surrogates(record)
    except RecursionError:
        raise Malformed("nested too deep") from None
    _check_fields(record, TYPED)
    message = record.get("message")
    if isinstance(message, dict):
        _check_fields(message, MESSAGE_TYPED)
        usage = message.get("usage")
        if isinstance(usage, dict):
            _check_fields(usage, USAGE_TYPED)
            if isinstance(usage.get("cache_creation"), dict):
                _check_fields(usage["cache_creation"], CACHE_TYPED)
    return record


def parse_time(value: Any) -> str | None:
    """Rule 4, in the ledger's form (UTC, milliseconds, Z)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    if not 1990 <= moment.year <= 2200:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _tokens(value: Any) -> int:
    if value is None:
        return 0
    number = int(value)
    if not 0 <= number <= MAX_TOKENS:
        raise Malformed("corrupt token count")
    return number


def _first_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                return block["text"]
            if isinstance(block, str):
                return block
    return None


def reference_read(data: bytes, session: str = SESSION) -> tuple[dict[str, dict], dict[str, str]]:
    """(requests by key, failure kind by key) that the rules above keep from one main-session file."""
    requests: dict[str, dict] = {}
    failures: dict[str, str] = {}
    failure_ts: dict[str, tuple[str, str]] = {}  # key -> (ts, content without the uuids), for rule 9
    offset = 0
    current_session = session
    for raw in data.split(b"\n"):  # not splitlines(): "\r" alone does not end a line
        raw += b"\n" if offset + len(raw) < len(data) else b""
        start, offset = offset, offset + len(raw)
        if not raw.endswith(b"\n"):
            break  # rule 1
        if b'"tool_result"' in raw and b'"type":"user"' in raw and b"[Request interrupted" not in raw:
            continue  # rule 10 (Claude Code writes compact JSON: these tokens are exact)
        if not any(token in raw for token in (b'"tool_result"', b'"usage":', b'"api_error"',
                                              b'"isApiErrorMessage":true', b'"type":"user"')):
            continue  # nothing of rules 5 and 9 can be in it
        try:
            record = parse_record(raw)
        except Malformed:
            continue
        message = record.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        kind = record.get("type")
        if kind not in ("assistant", "user", "system") and usage is None:
            continue
        ts = parse_time(record.get("timestamp"))
        if ts is None:
            continue
        # The session a record belongs to: its own sessionId, else the last one the file named (records
        # claimback reads at all: requests, failures, prompts; plain tool results are not read).
        if record.get("sessionId"):
            current_session = record["sessionId"]
        elif isinstance(record.get("session_id"), str) and record["session_id"]:
            current_session = record["session_id"]
        line_key = record.get("uuid") or f"@{start}"

        def failure(kind_name: str) -> None:
            if line_key not in failures or ts < failure_ts[line_key][0]:
                failures[line_key] = kind_name
                failure_ts[line_key] = (ts, copy_hash(raw))

        if kind == "system":
            if record.get("subtype") == "api_error":
                failure("retry")
            continue
        if not isinstance(message, dict):
            continue
        if kind == "user" or (message.get("role") == "user" and usage is None):
            continue
        text = _first_text(message.get("content"))
        unflagged = (message.get("model") == "<synthetic>" and isinstance(text, str)
                     and text.lstrip().startswith(("API Error", "Claude AI usage limit reached", "You've hit your")))
        if record.get("isApiErrorMessage") is True or unflagged:
            if not (text and any(marker in text for marker in INTERRUPT_TEXT)):
                failure("final")
        if usage is None or message.get("model") == "<synthetic>":
            continue
        if usage.get("input_tokens") is None or usage.get("output_tokens") is None:
            continue
        try:
            counts = {name: _tokens(usage.get(name)) for name in (
                "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}
            cache = usage.get("cache_creation") or {}
            parts = [cache.get("ephemeral_5m_input_tokens"), cache.get("ephemeral_1h_input_tokens")]
            split = [_tokens(p) for p in parts]
        except Malformed:
            continue
        cache_write = counts["cache_creation_input_tokens"]
        if any(p is not None for p in parts):
            cache_write = sum(split)
        msg_id, req_id = message.get("id"), record.get("requestId")
        key = f"{msg_id}:{req_id}" if msg_id and req_id else f"@{start}"
        row = {"input": counts["input_tokens"], "output": counts["output_tokens"], "cache_write": cache_write,
               "cache_read": counts["cache_read_input_tokens"], "model": message.get("model"), "ts": ts,
               "message_id": msg_id, "sidechain": record.get("isSidechain") is True,
               "session": current_session, "keyed": bool(msg_id and req_id)}
        if not req_id and msg_id:
            key = f"{msg_id}@{current_session}"  # rule 6: no requestId, one request per message.id
        kept = requests.get(key)
        if kept is None or _total(row) > _total(kept) or (_total(row) == _total(kept) and ts < kept["ts"]):
            requests[key] = {**row, "key": f"@{start}" if key.startswith(f"{msg_id}@") else key}
    copies = {key for key, (_, content) in failure_ts.items()
              if any(other < key and failure_ts[other][1] == content for other in failure_ts)}
    keyed = {(row["message_id"], row["session"], row["sidechain"]) for row in requests.values() if row["keyed"]}
    return (_drop_replays({row.pop("key"): row for row in requests.values()
                           if row.pop("keyed") or (row["message_id"], row["session"], row["sidechain"]) not in keyed}),
            {key: kind for key, kind in failures.items() if key not in copies})


def _total(row: dict) -> int:
    return row["input"] + row["output"] + row["cache_write"] + row["cache_read"]


def _drop_replays(requests: dict[str, dict]) -> dict[str, dict]:
    """Rule 8: within one session."""
    def beats(other_key: str, other: dict, key: str, row: dict) -> bool:
        if not other["sidechain"]:
            return True
        if _total(other) != _total(row):
            return _total(other) > _total(row)
        return (other["ts"], other_key) < (row["ts"], key)

    out = {}
    for key, row in requests.items():
        if row["sidechain"] and row["message_id"] and any(
                other_key != key and other["message_id"] == row["message_id"] and other["session"] == row["session"]
                and beats(other_key, other, key, row)
                for other_key, other in requests.items()):
            continue
        out[key] = row
    return out


# -- what the ledger kept -------------------------------------------------------------------------------
def _short(key: str) -> str:
    """Keys made from a line's position carry a per-file prefix: compare by the position."""
    return "@" + key.rsplit(":", 1)[1] if key.startswith("@") else key


def ledger_entries(ledger) -> tuple[dict[str, dict], dict[str, str]]:
    requests = {_short(r["request_key"]): {
        "input": r["input_tokens"], "output": r["output_tokens"], "cache_write": r["cache_creation_tokens"],
        "cache_read": r["cache_read_tokens"], "model": r["model"], "ts": r["ts"],
        "message_id": r["message_id"], "sidechain": bool(r["is_sidechain"]), "session": r["session_id"],
    } for r in ledger.rows("SELECT * FROM requests")}
    failures = {_short(r["failure_key"]): r["kind"] for r in ledger.rows(
        "SELECT failure_key, kind FROM failures WHERE kind IN ('retry', 'final')")}
    return requests, failures


# -- real-shaped base records ---------------------------------------------------------------------------
def _ts(minute: int, second: int = 0) -> str:
    return f"2026-05-15T01:{minute:02d}:{second:02d}.{minute * 7 % 1000:03d}Z"


def base_records() -> list[dict[str, Any]]:
    blocks = [assistant("msg_01A", "req_01A", _ts(0), out=out, cw=1841, cr=48213,
                        content=[{"type": "text", "text": f"block {out}"}]) for out in (5, 120, 412)]
    replay = assistant("msg_01A", "req_sub", _ts(2), out=412, cw=1841, cr=48213, sidechain=True, agent_id="a6f1c3")
    launch = agent_launch("msg_02B", "req_02B", _ts(3), "toolu_01Kp", "Review the change against docs/spec.md")
    cache_1h = assistant("msg_03C", "req_03C", _ts(4), cw=5000, cache_1h=3000, cr=100)
    no_request_id = assistant("msg_04D", None, _ts(5), out=7)
    partial = assistant("msg_05E", "req_05E", _ts(6), out=33)
    partial["message"]["usage"]["speed"] = "fast"
    return [
        user_prompt("Refactor the parser, keep the API", _ts(0)),
        *blocks, replay, launch, cache_1h, no_request_id, partial,
        retry(_ts(8), 1), retry(_ts(8, 30), 2, code="ECONNRESET"),
        final_error(_ts(9), 'API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}'),
        task_result("toolu_01Kp", _ts(10), status="completed", agent_id="a6f1c3", is_error=False, text="done"),
        {"type": "summary", "summary": "Parser refactor", "leafUuid": "9a2e"},
        {"type": "file-history-snapshot", "messageId": "m", "snapshot": {"trackedFileBackups": {}}},
    ]


BASE = base_records()

TRICKY_TEXT = ["", "tool_result", "<synthetic>", "api_error", "[Request interrupted by user]", "user", "system",
               "assistant", "2026-05-15T01:00:00.000Z", "2026-99-99T99:99:99.999Z", "2026-05-15", "0001-01-01",
               "\u2028", "é€😀", "\\", '"', "null", "msg_01A", "req_01A"]
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([10**30, -(10**30), 10**400, 2**63, -1, 0, MAX_TOKENS, MAX_TOKENS + 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1.7e308, -0.5, 3.9, 1e-300]),
    st.text(max_size=30), st.sampled_from(TRICKY_TEXT),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, prefix + (index,))
    return out


def _set(record: Any, path: tuple, value: Any, delete: bool = False) -> None:
    for step in path[:-1]:
        record = record[step]
    if delete and isinstance(record, dict):
        del record[path[-1]]
    else:
        record[path[-1]] = value


NEST = "__nest_placeholder__"


def _nest(depth: int) -> bytes:
    """Nested arrays and objects as bytes (json.dumps itself would hit the recursion limit)."""
    opens = b"".join(b"[" if i % 2 else b'{"k":' for i in range(depth))
    closes = b"".join(b"]" if i % 2 else b"}" for i in reversed(range(depth)))
    return opens + b"1" + closes


@st.composite
def mutated_line(draw: st.DrawFn) -> bytes:
    record = copy.deepcopy(draw(st.sampled_from(BASE)))
    how = draw(st.sampled_from(["keep", "keep", "set", "set", "set", "delete", "nest", "truncate", "bad utf-8",
                                "drop byte", "stray byte", "garbage"]))
    paths = _paths(record)
    if how in ("set", "delete", "nest") and paths:
        path = draw(st.sampled_from(paths))
        value = draw(values) if how == "set" else NEST
        _set(record, path, value, delete=how == "delete")
    raw = line(record).encode() if draw(st.booleans()) else (
        json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    body = raw[:-1]
    if how == "nest":
        body = body.replace(f'"{NEST}"'.encode(), _nest(draw(st.sampled_from([2, 40, 300, 1500]))))
    if how == "truncate":
        body = body[:draw(st.integers(0, len(body)))]
    elif how == "bad utf-8":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"])) + body[at:]
    elif how == "drop byte" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + body[at + 1:]
    elif how == "stray byte":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.sampled_from([b'"', b"{", b"}", b",", b"\\", b"\x00", b"\x7f", b"\r"])) + body[at:]
    elif how == "garbage":
        body = draw(st.binary(max_size=200)).replace(b"\n", b" ")
    return body + b"\n"


# -- the properties -------------------------------------------------------------------------------------
def _ingest(projects: Path, db: Path):
    ledger = open_ledger(db)
    return ingest(ledger, [projects], machine="fuzz"), ledger


def _check(ledger, data: bytes) -> None:
    expected_requests, expected_failures = reference_read(data)
    got_requests, got_failures = ledger_entries(ledger)
    assert got_requests == expected_requests
    assert got_failures == expected_failures
    # The reports read what ingest stored: they must not trip on anything it let in.
    for kind in ("daily", "session", "blocks"):
        usage_report(ledger, kind)


FUZZ_EXAMPLES = int(os.environ.get("CLAIMBACK_FUZZ_EXAMPLES", "150"))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(lines=st.lists(mutated_line(), min_size=1, max_size=30), cut=st.floats(0, 1))
def test_fuzzed_transcript_keeps_exactly_the_valid_entries(tmp_path_factory, lines, cut):
    work = tmp_path_factory.mktemp("fuzz")
    projects = work / "projects"
    path = projects / "app" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    data = b"".join(lines)
    if os.environ.get("CLAIMBACK_FUZZ_STATS"):  # counts for docs/reliability.md
        with open(os.environ["CLAIMBACK_FUZZ_STATS"], "a") as stats:
            stats.write(f"{len(lines)} {len(reference_read(data)[0])}\n")
    # Written in two pieces, cut anywhere (mid-line too), with an ingest in between: what Claude Code's
    # appends look like to us.
    at = int(len(data) * cut)
    path.write_bytes(data[:at])
    summary, ledger = _ingest(projects, work / "ledger.sqlite3")
    try:
        _check(ledger, data[:at])
        with open(path, "ab") as handle:
            handle.write(data[at:])
        ingest(ledger, [projects], machine="fuzz")
        _check(ledger, data)
        again = ingest(ledger, [projects], machine="fuzz")
        assert again.files_unchanged == 1 and again.new_requests == 0
        _check(ledger, data)
    finally:
        ledger.close()


def test_truncation_at_every_byte_of_a_request_line(tmp_path):
    """Each prefix of a real request line, as a line of its own, is malformed; the next line still counts."""
    whole = line(assistant("msg_01A", "req_01A", _ts(0), out=412, cw=1841, cr=48213)).encode()
    follower = assistant("msg_09Z", "req_09Z", _ts(1), out=9)
    records = []
    for cut in range(len(whole) - 1):
        records.append(whole[:cut] + b"\n")
        records.append(line({**follower, "requestId": f"req_{cut}"}).encode())
    data = b"".join(records)
    path = tmp_path / "projects" / "app" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    summary, ledger = _ingest(tmp_path / "projects", tmp_path / "ledger.sqlite3")
    with ledger:
        _check(ledger, data)
        assert summary.new_requests == len(whole) - 1  # every follower, no prefix


def test_partial_write_at_every_byte_is_read_once_complete(tmp_path):
    """Claude Code's append caught at every byte: nothing stored until the newline, then exactly once."""
    path = tmp_path / "projects" / "app" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    lines = [line(r).encode() for r in (assistant("msg_1", "req_1", _ts(0), out=10), retry(_ts(1), 1),
                                        assistant("msg_2", "req_2", _ts(2), out=20))]
    data = b"".join(lines)
    path.write_bytes(b"")
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    with ledger:
        for end in range(1, len(data) + 1):
            with open(path, "ab") as handle:
                handle.write(data[end - 1:end])
            ingest(ledger, [tmp_path / "projects"], machine="fuzz")
            _check(ledger, data[:end])
        assert ledger.scalar("SELECT COUNT(*) FROM requests") == 2
        assert ledger.scalar("SELECT COUNT(*) FROM failures") == 1


@pytest.mark.parametrize("case", ["tokens 1e400", "tokens 400 digits", "status 400 digits", "attempt as digits",
                                  "deep content", "deep unknown field", "lone surrogate", "NaN", "shaped bad time"])
def test_hostile_values_are_skipped_not_fatal(tmp_path, case):
    good = line(assistant("msg_ok", "req_ok", _ts(0), out=5)).encode()
    body = {
        "tokens 1e400": b'{"type":"assistant","timestamp":"2026-05-15T01:01:00.000Z","message":{"id":"m","model":"claude-opus-4-6","usage":{"input_tokens":1e400,"output_tokens":1}},"requestId":"r"}',
        "tokens 400 digits": b'{"type":"assistant","timestamp":"2026-05-15T01:01:00.000Z","message":{"id":"m","model":"claude-opus-4-6","usage":{"input_tokens":' + b"9" * 400 + b',"output_tokens":1}},"requestId":"r"}',
        "status 400 digits": line({**retry(_ts(1), 1), "apiErrorStatus": 1}).encode()[:-2] + b',"retryAttempt":' + b"9" * 400 + b"}",
        "attempt as digits": line({**retry(_ts(1), 1), "retryAttempt": "9" * 40}).encode()[:-1],
        "deep content": b'{"type":"assistant","timestamp":"2026-05-15T01:01:00.000Z","message":{"id":"m","model":"x","usage":{"input_tokens":1,"output_tokens":1},"content":' + b"[" * 5000 + b"]" * 5000 + b'},"requestId":"r"}',
        "deep unknown field": b'{"type":"user","timestamp":"2026-05-15T01:01:00.000Z","x":' + b"{\"a\":" * 3000 + b"1" + b"}" * 3000 + b"}",
        "lone surrogate": b'{"type":"assistant","timestamp":"2026-05-15T01:01:00.000Z","message":{"id":"\\ud800","model":"x","usage":{"input_tokens":1,"output_tokens":1}},"requestId":"r"}',
        "NaN": b'{"type":"assistant","timestamp":"2026-05-15T01:01:00.000Z","message":{"id":"m","model":"x","usage":{"input_tokens":NaN,"output_tokens":1}},"requestId":"r"}',
        "shaped bad time": line(assistant("m", "r", "2026-99-99T99:99:99.999Z")).encode()[:-1],
    }[case]
    data = good + body + b"\n" + good.replace(b"msg_ok", b"msg_ok2")
    path = tmp_path / "projects" / "app" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    summary, ledger = _ingest(tmp_path / "projects", tmp_path / "ledger.sqlite3")
    with ledger:
        _check(ledger, data)
        assert summary.new_requests == (3 if case == "lone surrogate" else 2)


@pytest.mark.slow
def test_a_50_mb_line(tmp_path):
    """A 50 MB request line (a huge tool output echoed in content) is kept; a 50 MB garbage line is not."""
    big_text = "x" * (50 * 1024 * 1024)
    huge = line(assistant("msg_big", "req_big", _ts(0), out=77, content=[{"type": "text", "text": big_text}])).encode()
    garbage = b'{"type":"assistant","usage":' + b"7" * (50 * 1024 * 1024) + b"\n"
    data = huge + garbage + line(assistant("msg_after", "req_after", _ts(1), out=1)).encode()
    path = tmp_path / "projects" / "app" / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    summary, ledger = _ingest(tmp_path / "projects", tmp_path / "ledger.sqlite3")
    with ledger:
        _check(ledger, data)
        assert summary.new_requests == 2 and sum(summary.lines_skipped.values()) == 1


def test_random_byte_soup_files(tmp_path):
    """Whole files of random bytes (seeded): nothing stored, nothing raised."""
    rng = random.Random(20260515)
    projects = tmp_path / "projects"
    for i in range(20):
        path = projects / "app" / f"{SESSION[:-2]}{i:02d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20000))))
    summary, ledger = _ingest(projects, tmp_path / "ledger.sqlite3")
    with ledger:
        assert summary.files_read == 20 and summary.new_requests == 0
