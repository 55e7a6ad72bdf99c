"""Real-shaped Claude Code transcript records for tests (see ../shared/examples/transcript-records.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SESSION = "58ef7597-0000-4000-8000-000000000001"


def line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"


def assistant(msg_id: str, req_id: str | None, ts: str, *, inp: int = 3, out: int = 100, cw: int = 0,
              cr: int = 0, model: str = "claude-opus-4-6", session: str = SESSION, sidechain: bool = False,
              agent_id: str | None = None, content: list | None = None, uuid: str | None = None,
              cache_1h: int | None = None) -> dict[str, Any]:
    usage: dict[str, Any] = {"input_tokens": inp, "cache_creation_input_tokens": cw,
                             "cache_read_input_tokens": cr, "output_tokens": out, "service_tier": "standard"}
    if cache_1h is not None:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": cw - cache_1h, "ephemeral_1h_input_tokens": cache_1h}
    record: dict[str, Any] = {
        "parentUuid": None, "isSidechain": sidechain, "userType": "external", "cwd": "/home/u/app",
        "sessionId": session, "version": "2.1.150", "type": "assistant", "timestamp": ts,
        "uuid": uuid or f"u-{msg_id}-{ts}",
        "message": {"id": msg_id, "type": "message", "role": "assistant", "model": model,
                    "content": content or [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                    "usage": usage},
    }
    if req_id is not None:
        record["requestId"] = req_id
    if agent_id:
        record["agentId"] = agent_id
    return record


def user_prompt(text: str, ts: str, *, session: str = SESSION, uuid: str | None = None,
                sidechain: bool = False, agent_id: str | None = None) -> dict[str, Any]:
    record = {"parentUuid": None, "isSidechain": sidechain, "type": "user", "sessionId": session,
              "timestamp": ts, "uuid": uuid or f"p-{ts}", "message": {"role": "user", "content": text}}
    if agent_id:
        record["agentId"] = agent_id
    return record


def retry(ts: str, attempt: int, *, status: int | None = 529, code: str | None = None, session: str = SESSION,
          agent_id: str | None = None, uuid: str | None = None) -> dict[str, Any]:
    if code:
        error: dict[str, Any] = {"cause": {"code": code, "path": "https://api.anthropic.com/v1/messages"}}
    else:
        error = {"status": status, "headers": {}, "requestID": f"req_retry_{attempt}",
                 "error": {"type": "error", "error": {"type": "overloaded_error" if status == 529 else "api_error",
                                                      "message": "Overloaded"}}}
    record = {"type": "system", "subtype": "api_error", "level": "error", "sessionId": session,
              "timestamp": ts, "uuid": uuid or f"r-{ts}-{attempt}", "error": error, "retryInMs": 1000.0,
              "retryAttempt": attempt, "maxRetries": 10, "isSidechain": agent_id is not None}
    if agent_id:
        record["agentId"] = agent_id
    return record


def final_error(ts: str, text: str, *, error: str | None = "server_error", status: int | None = 500,
                session: str = SESSION, agent_id: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "assistant", "timestamp": ts, "sessionId": session, "uuid": f"e-{ts}",
        "isSidechain": agent_id is not None, "isApiErrorMessage": True,
        "message": {"id": f"synthetic-{ts}", "model": "<synthetic>", "role": "assistant", "type": "message",
                    "content": [{"type": "text", "text": text}],
                    "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0}},
    }
    if error:
        record["error"] = error
    if status:
        record["apiErrorStatus"] = status
    if agent_id:
        record["agentId"] = agent_id
    return record


def agent_launch(msg_id: str, req_id: str, ts: str, tool_id: str, prompt: str, *, description: str = "Review",
                 session: str = SESSION) -> dict[str, Any]:
    return assistant(msg_id, req_id, ts, session=session, content=[
        {"type": "tool_use", "id": tool_id, "name": "Agent",
         "input": {"description": description, "subagent_type": "reviewer", "prompt": prompt}}])


def task_result(tool_id: str, ts: str, *, status: str, agent_id: str | None, is_error: bool, text: str,
                session: str = SESSION) -> dict[str, Any]:
    result: dict[str, Any] = {"status": status}
    if agent_id:
        result["agentId"] = agent_id
    return {"type": "user", "sessionId": session, "timestamp": ts, "uuid": f"tr-{tool_id}",
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                                      "is_error": is_error, "content": text}]},
            "toolUseResult": result}


def write(path: Path, records: list[dict[str, Any] | str | bytes], mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode + "b") as handle:
        for record in records:
            if isinstance(record, bytes):
                handle.write(record)
            elif isinstance(record, str):
                handle.write(record.encode())
            else:
                handle.write(line(record).encode())
    return path


def ingest_final_errors(root: Path, prefix: str, finals: list[tuple[str, dict[str, Any]]],
                        version: str = "2.1.332") -> dict[str, dict[str, Any]]:
    """Each (text, fields) as the final API-error record of its own turn (a prompt, then the record) in one
    session, ingested once into a ledger under `root`: failure key (`<prefix>-<n>`) -> its kind, status
    and class. `fields`: the record's `status` and `error`, and any other record keys to set (apiError)."""
    from claimback.ledger import open_ledger
    from claimback.ledger.ingest import ingest

    lines: list[dict[str, Any]] = []
    for n, (text, fields) in enumerate(finals):
        minute = f"2026-05-15T{n // 60:02d}:{n % 60:02d}"
        lines.append(user_prompt(f"prompt {n}", f"{minute}:00.000Z"))
        record = final_error(f"{minute}:30.000Z", text, error=fields.get("error"), status=fields.get("status"))
        record.update({k: v for k, v in fields.items() if k not in ("error", "status")})
        record["uuid"] = f"{prefix}-{n}"
        record["version"] = version
        lines.append(record)
    write(root / "projects" / "-home-u-app" / f"{SESSION}.jsonl", lines)
    ledger = open_ledger(root / "ledger.sqlite3")
    try:
        ingest(ledger, [root / "projects"], machine="test")
        return {r["failure_key"]: r for r in ledger.rows("SELECT failure_key, kind, status, failure_class FROM failures")}
    finally:
        ledger.close()


def _error_field(failure_class: str) -> str:
    """The coarse `error` Claude Code writes beside a final of that class (its own kinds)."""
    return {"outage": "server_error", "network": "server_error", "local_runtime": "server_error",
            "quota_rate": "rate_limit", "auth": "authentication_failed"}.get(failure_class, "invalid_request")


def ingest_text_rows(root: Path, rows: list[Any]) -> dict[str, dict[str, Any]]:
    """Error texts (rows with `text`, `expected` class and `attempt`) through the real ingest: each row twice,
    each in a session of its own (a session's route must not lend itself to another row), as the turn's
    final API-error record (`final-<n>`) and as a failed attempt in 2.1.33x's shape (`retry-<n>`, the text
    in `error.message`, the network code it names in `cause`). Failure key -> kind, class, provider."""
    from claimback.core import provider
    from claimback.core.classify import extract_fields
    from claimback.ledger import open_ledger
    from claimback.ledger.ingest import ingest

    project = root / "projects" / "-home-u-app"
    for n, row in enumerate(rows):
        status, _, code = extract_fields(row.text)
        for kind in ("final", "retry") if row.attempt else ("final",):
            session = f"5e550000-0000-4000-8000-{n:06d}{0 if kind == 'final' else 1:06d}"
            lines: list[dict[str, Any]] = [user_prompt(f"prompt {n}", "2026-05-15T01:00:00.000Z", session=session)]
            if kind == "final":
                record = final_error("2026-05-15T01:00:30.000Z", row.text, error=_error_field(row.expected),
                                     status=status, session=session)
            else:
                error: dict[str, Any] = {"status": status, "message": row.text, "formatted": row.text}
                if code:
                    error["cause"] = {"code": code, "message": row.text}
                record = {"type": "system", "subtype": "api_error", "level": "error", "sessionId": session,
                          "timestamp": "2026-05-15T01:00:10.000Z", "error": error, "retryInMs": 1000.0,
                          "retryAttempt": 1, "maxRetries": 10}
            record.update({"uuid": f"{kind}-{n}", "version": "2.1.332"})
            lines.append(record)
            write(project / f"{session}.jsonl", lines)
    led = open_ledger(root / "ledger.sqlite3")
    try:
        ingest(led, [root / "projects"], machine="test")
        return {r["failure_key"]: r for r in led.rows(
            f"SELECT failure_key, kind, failure_class, {provider.SQL_PROVIDER} AS provider FROM failures")}
    finally:
        led.close()
