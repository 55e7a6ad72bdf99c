"""Claude Code telemetry (OTLP logs) → ledger rows with origin='otel' (DESIGN §3.4).

Claude Code exports its events as OTLP log records (`CLAUDE_CODE_ENABLE_TELEMETRY=1`,
`OTEL_LOGS_EXPORTER=otlp`). Three of them matter here:

- `claude_code.api_request`: one successful API call: model, input/output/cache_read/cache_creation
  tokens, cost_usd, duration_ms, request_id, speed → a `requests` row;
- `claude_code.api_error`: one failed request, emitted once after the client gave up (Claude Code's
  monitoring docs; checked with the real 2.1.332 client): error, status_code, `attempt` = the total number
  of attempts, duration_ms, request_id of the last attempt (`client_request_id` when no response came) →
  one `failures` row of kind 'final' whose `attempt` and `max_attempts` say how many attempts it took;
- `claude_code.api_retries_exhausted`: comes alongside that api_error (error, status_code,
  total_attempts, total_retry_duration_ms, no request id): the same failure, so it adds no row; its
  `total_attempts` fills the row's `max_attempts` when both arrive in one batch.

A subagent's events carry `agent_id` (2.1.332; the id its transcript file is named by): the rows take it
and `is_sidechain`, so usage and failures by run read the same from telemetry as from the transcript.

Every event also carries the standard attributes (`session.id`, `user.id`, `user.email`,
`user.account_uuid`, `organization.id`, `event.timestamp`, `event.sequence`). The event name is in the
record's `event_name` field, its `event.name` attribute (without the `claude_code.` prefix) or its body.

Who sent it: `claimback.machine_id` / `claimback.user` resource attributes when the sender set them
(docs/team.md shows the OTEL_RESOURCE_ATTRIBUTES line), else a machine id derived from `host.name` or the
account, and the account's e-mail or a short hash of its id as the user label. Prompt text is never
read; error messages are cut to 300 characters like transcript failures.

Decoding uses the official protobuf classes (`opentelemetry-proto`), for both OTLP/HTTP protobuf and
OTLP/JSON (protobuf's JSON mapping handles the camelCase names and the int64-as-string rule).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from claimback.core.classify import classify, normalize_signature
from claimback.core.secrets import scrub
from claimback.core.times import format_epoch, normalize_ts, utc_now_iso
from claimback.core.provider import ANTHROPIC
from claimback.core.provider import judge as judge_provider
from claimback.errors import BadInput
from claimback.ledger.store import Ledger, ensure_team_indexes
from claimback.ledger.team import drop_otel_duplicates, register_machine
from claimback.sources.transcripts import MAX_TOKENS

ORIGIN = "otel"
EVENTS = ("api_request", "api_error", "api_retries_exhausted")


class BadPayload(BadInput):
    """The body is not an OTLP export request we can read (HTTP 400)."""


@dataclass
class OtelEvent:
    name: str  # without the claude_code. prefix
    ts: str
    attributes: dict[str, Any]
    machine_id: str
    user_label: str
    user_explicit: bool


@dataclass
class ReceiveResult:
    records: int = 0
    events: dict[str, int] = field(default_factory=dict)
    new_requests: int = 0
    new_failures: int = 0
    duplicates: int = 0  # already in the ledger (re-sent batch, or the transcript has the request)
    ignored: int = 0  # other Claude Code events and foreign log records


def _proto_classes() -> Any:
    try:
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
    except ImportError:
        raise BadInput("the OTLP receiver needs opentelemetry-proto: pip install 'claimback[otel]'") from None
    return logs_service_pb2


def require_proto() -> None:
    """Raise BadInput with the install hint when opentelemetry-proto is missing."""
    _proto_classes()


def _parse(body: bytes, content_type: str, message: Any) -> Any:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/json", "text/json"):
        from google.protobuf import json_format

        try:
            return json_format.Parse(body.decode("utf-8"), message, ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            raise BadPayload(f"not an OTLP/JSON export request: {str(exc)[:200]}") from None
    if kind in ("application/x-protobuf", "application/protobuf", "application/octet-stream", ""):
        from google.protobuf.message import DecodeError

        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise BadPayload(f"not an OTLP/protobuf export request: {str(exc)[:200]}") from None
        return message
    raise BadPayload(f"unsupported Content-Type {content_type!r} (use application/x-protobuf or "
                     "application/json)")


def parse_logs_request(body: bytes, content_type: str) -> Any:
    return _parse(body, content_type, _proto_classes().ExportLogsServiceRequest())


def parse_metrics_request(body: bytes, content_type: str) -> Any:
    try:
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
    except ImportError:
        raise BadInput("the OTLP receiver needs opentelemetry-proto: pip install 'claimback[otel]'") from None
    return _parse(body, content_type, metrics_service_pb2.ExportMetricsServiceRequest())


def logs_response(content_type: str) -> tuple[bytes, str]:
    """An empty ExportLogsServiceResponse in the request's encoding (full success)."""
    if (content_type or "").split(";")[0].strip().lower() in ("application/json", "text/json"):
        return b"{}", "application/json"
    return _proto_classes().ExportLogsServiceResponse().SerializeToString(), "application/x-protobuf"


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def _attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


# Record times a sender may claim: 1990..2200, as for transcript timestamps (anything else is not a time).
_NANOS_MIN, _NANOS_MAX = 631_152_000 * 10**9, 7_258_118_400 * 10**9


def _iso(value: Any, fallback_nanos: int) -> str:
    """The ledger's timestamp form (UTC, milliseconds, Z) from `event.timestamp` or the record time."""
    if isinstance(value, str) and value:
        ts = normalize_ts(value)  # the transcripts' rule: ISO-8601, years 1990-2200
        if ts is not None:
            return ts
    if fallback_nanos and _NANOS_MIN <= fallback_nanos <= _NANOS_MAX:
        return format_epoch(fallback_nanos / 1e9)
    return utc_now_iso()


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]


def _who(resource: dict[str, Any], attrs: dict[str, Any]) -> tuple[str, str, bool]:
    """(machine_id, user label, label chosen by the sender?)."""
    merged = {**resource, **attrs}
    account = next((str(merged[k]) for k in ("user.account_uuid", "user.id", "user.email")
                    if merged.get(k)), "")
    explicit = merged.get("claimback.user")
    if isinstance(explicit, str) and explicit.strip():
        label, chosen = explicit.strip(), True
    elif merged.get("user.email"):
        label, chosen = str(merged["user.email"]), False
    elif account:
        label, chosen = "otel-" + _short_hash(account)[:8], False
    else:
        label, chosen = "otel-unknown", False
    machine = merged.get("claimback.machine_id")
    if isinstance(machine, str) and machine.strip():
        return machine.strip(), label, chosen
    basis = str(merged.get("host.id") or merged.get("host.name") or account or "unknown")
    return "otel-" + _short_hash(basis), label, chosen


def events_from_request(request: Any) -> tuple[list[OtelEvent], int, int]:
    """(Claude Code events we store, records seen, records ignored)."""
    events: list[OtelEvent] = []
    seen = ignored = 0
    for resource_logs in request.resource_logs:
        resource = _attrs(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                seen += 1
                attrs = _attrs(record.attributes)
                name = (getattr(record, "event_name", "") or str(attrs.get("event.name") or "")
                        or (record.body.string_value if record.body.WhichOneof("value") == "string_value"
                            else ""))
                name = name.removeprefix("claude_code.")
                if name not in EVENTS:
                    ignored += 1
                    continue
                machine, label, chosen = _who(resource, attrs)
                ts = _iso(attrs.get("event.timestamp"), record.time_unix_nano or record.observed_time_unix_nano)
                events.append(OtelEvent(name, ts, attrs, machine, label, chosen))
    return events, seen, ignored


def _int(value: Any) -> int | None:
    """An integer for a BIGINT column, else None (a sender can put anything in an attribute)."""
    number = _float(value)
    return int(number) if number is not None and abs(number) < 2**62 else None


def _float(value: Any) -> float | None:
    try:
        number = float(value) if value is not None and value != "" and not isinstance(value, bool) else None
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is not None and abs(number) < float("inf") else None  # no inf, no NaN


def _tokens(value: Any) -> int | None:
    """A token count: absent is 0; negative, absurd or unreadable is corrupt (None), as in transcripts."""
    if value is None or value == "":
        return 0
    number = _int(value)
    return number if number is not None and 0 <= number <= MAX_TOKENS else None


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _fallback_key(event: OtelEvent) -> str:
    a = event.attributes
    return "otel:" + _short_hash("|".join(str(x) for x in (
        event.name, a.get("session.id"), event.ts, a.get("event.sequence"), a.get("model"),
        a.get("attempt"), event.machine_id)))


_REQUEST_SQL = (
    "INSERT INTO requests (request_key, message_id, request_id, session_id, agent_id, is_sidechain, ts, "
    "model, input_tokens, output_tokens, cache_creation_tokens, cache_creation_1h_tokens, "
    "cache_read_tokens, speed, service_tier, duration_ms, cost_usd, stop_reason, turn_id, file_path, "
    "file_offset, origin, machine_id, provider) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, ?, ?, "
    "NULL, NULL, NULL, NULL, 'otel', ?, ?) ON CONFLICT (request_key) DO NOTHING"
)
_FAILURE_SQL = (
    "INSERT INTO failures (failure_key, kind, session_id, agent_id, is_sidechain, ts, status, error_type, "
    "error_code, request_id, message, failure_class, signature, attempt, max_attempts, retry_in_ms, "
    "model, turn_id, file_path, file_offset, origin, machine_id, provider) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, "
    "NULL, ?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL, NULL, 'otel', ?, ?) ON CONFLICT (failure_key) DO NOTHING"
)


def _exhausted_key(event: OtelEvent) -> tuple[Any, ...]:
    a = event.attributes
    return (a.get("session.id"), a.get("prompt.id"), _int(a.get("status_code")), event.ts)


def event_rows(events: list[OtelEvent]) -> tuple[list[tuple], list[tuple]]:
    """Ledger rows for the events: (requests, failures), in `_REQUEST_SQL` / `_FAILURE_SQL` order."""
    requests: list[tuple] = []
    failures: list[tuple] = []
    totals = {_exhausted_key(e): _int(e.attributes.get("total_attempts")) for e in events
              if e.name == "api_retries_exhausted"}
    for event in events:
        a = event.attributes
        request_id = _str(a.get("request_id"))
        # The client's own id of the request, where no response (and so no request-id header) came.
        client_id = _str(a.get("client_request_id"))
        session = _str(a.get("session.id"))
        # A subagent's event names its run (2.1.332: `agent_id`, the id of its transcript file).
        agent = _str(a.get("agent_id"))
        sidechain = 1 if agent else 0
        model = _str(a.get("model"))
        if event.name == "api_request":
            key = (f"otel:{request_id}" if request_id else f"otel:client:{client_id}" if client_id
                   else _fallback_key(event))
            counts = [_tokens(a.get(name)) for name in ("input_tokens", "output_tokens", "cache_creation_tokens",
                                                        "cache_read_tokens")]
            if None in counts:
                continue  # corrupt usage: not a request we can count (the transcript may still have it)
            requests.append((
                key, request_id, session, agent, sidechain, event.ts, model, *counts, _str(a.get("speed")),
                _int(a.get("duration_ms")), _float(a.get("cost_usd")), event.machine_id,
                judge_provider(request_id=request_id, model=model) or ANTHROPIC))
            continue
        if event.name == "api_retries_exhausted":
            continue  # the api_error beside it is the failure (see the module docstring)
        status = _int(a.get("status_code"))
        text = _str(a.get("error"))
        attempt = _int(a.get("attempt"))
        total = totals.get(_exhausted_key(event)) or attempt
        key = (f"otel:final:{request_id}" if request_id else f"otel:final:client:{client_id}" if client_id
               else _fallback_key(event))
        failures.append((
            key, "final", session, agent, sidechain, event.ts, status, request_id, scrub((text or "")[:2400])[:300] or None,
            classify(status, None, None, text), normalize_signature(text, status, None, None), attempt,
            total, model, event.machine_id,
            judge_provider(request_id=request_id, model=model, text=text) or ANTHROPIC))
    return requests, failures


def store_events(ledger: Ledger, events: list[OtelEvent]) -> ReceiveResult:
    """Write the events in one transaction; re-sent batches and transcript-known requests add nothing."""
    result = ReceiveResult()
    for event in events:
        result.events[event.name] = result.events.get(event.name, 0) + 1
    if not events:
        return result
    requests, failures = event_rows(events)
    keys_r = sorted({row[0] for row in requests})
    keys_f = sorted({row[0] for row in failures})
    request_ids = sorted({row[1] for row in requests if row[1]} | {row[7] for row in failures if row[7]})
    sessions = sorted({row[2] for row in failures if row[1] == "final" and row[2]})
    with ledger.transaction():
        ensure_team_indexes(ledger)  # telemetry makes a shared ledger; its dedup needs them
        before_r = _existing(ledger, "requests", "request_key", keys_r)
        before_f = _existing(ledger, "failures", "failure_key", keys_f)
        labels: dict[str, tuple[str, bool]] = {}
        for event in events:
            labels.setdefault(event.machine_id, (event.user_label, event.user_explicit))
        for machine, (label, chosen) in sorted(labels.items()):
            register_machine(ledger, machine, label, explicit=chosen, local=False)
        ledger.executemany(_REQUEST_SQL, requests)
        ledger.executemany(_FAILURE_SQL, failures)
        drop_otel_duplicates(ledger, request_ids, sessions)
        result.new_requests = max(_existing(ledger, "requests", "request_key", keys_r) - before_r, 0)
        result.new_failures = max(_existing(ledger, "failures", "failure_key", keys_f) - before_f, 0)
    result.duplicates = len(requests) + len(failures) - result.new_requests - result.new_failures
    return result


def _existing(ledger: Ledger, table: str, key: str, values: list[str]) -> int:
    found = 0
    for start in range(0, len(values), 500):
        part = values[start:start + 500]
        found += int(ledger.scalar(f"SELECT COUNT(*) FROM {table} WHERE {key} IN "
                                   f"({', '.join('?' for _ in part)})", part))
    return found


def receive_logs(ledger: Ledger, body: bytes, content_type: str) -> ReceiveResult:
    """Decode one OTLP logs export request and store its Claude Code events."""
    request = parse_logs_request(body, content_type)
    events, seen, ignored = events_from_request(request)
    result = store_events(ledger, events)
    result.records, result.ignored = seen, ignored
    return result
