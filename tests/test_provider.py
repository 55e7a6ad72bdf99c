"""core/provider.py: who served a request or failure, on the id shapes, models and bodies seen in real
transcripts (first-party, Bedrock, Vertex, relays) and on Claude Code's provider settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from records import SESSION, assistant, final_error, retry, user_prompt, write

from claimback.core import provider as p
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

EDGEONE_524 = ("<!DOCTYPE html><html><head><title>524: A timeout occurred</title></head><body>"
               "<h1>EdgeOne</h1> The origin web server timed out responding to this request.</body></html>")


@pytest.mark.parametrize(("kwargs", "expected"), [
    # First-party: base58 message ids and req_011 request ids, Claude models.
    ({"message_id": "msg_01QjKY4iZgTq69BYEKRD112G", "request_id": "req_011CV7dYwK3mZq5Tn8aLhJ2u",
      "model": "claude-opus-4-6"}, p.ANTHROPIC),
    ({"request_id": "req_011CWjK86SWeFuXqZKUtgB1H"}, p.ANTHROPIC),
    # Cloud providers mark their ids.
    ({"message_id": "msg_bdrk_01TRwJeNivnr3Xs1x84gExCb", "model": "claude-opus-4-6"}, p.BEDROCK),
    ({"request_id": "req_bdrk_5f0c"}, p.BEDROCK),
    ({"message_id": "msg_vrtx_0154LUXjFVzQGUca3yK2RUeo", "request_id": "req_vrtx_011CWjK86SWeFuXqZKUtgB1H",
      "model": "claude-opus-4-5"}, p.VERTEX),
    ({"message_id": "msg_01QjKY4iZgTq69BYEKRD112G", "model": "us.anthropic.claude-sonnet-4-20250514-v1:0"},
     p.BEDROCK),
    ({"model": "claude-opus-4@20250514"}, p.VERTEX),
    # Relays: hex or UUID message ids, OpenAI-style ids, non-Claude models, gateway pages, relay wording.
    ({"message_id": "msg_2c7e1f0a9b8d4e6f8a1b2c3d4e5f6a7b", "model": "claude-sonnet-4-5"}, p.OTHER),
    ({"message_id": "msg_01a4b2c3d4e5f6a7b8c9d0e1f2a3b4c5", "model": "claude-sonnet-4-5"}, p.OTHER),
    ({"message_id": "chatcmpl-9f2c7d", "model": "claude-sonnet-4-5"}, p.OTHER),
    ({"message_id": "msg_01QjKY4iZgTq69BYEKRD112G", "model": "glm-4.7"}, p.OTHER),
    ({"text": EDGEONE_524}, p.OTHER),
    ({"request_id": "req_011CWjK86SWeFuXqZKUtgB1H",
      "text": '{"error":{"type":"new_api_error","message":"No available Claude accounts support the '
              'requested model: claude-opus-4-6"}}'}, p.OTHER),
    # Relays' own ids: a clock (`msg_` + yyyymmddHHMMSS), a request id as the message id.
    ({"message_id": "msg_20260218142957", "model": "claude-opus-4-6"}, p.OTHER),
    ({"message_id": "req_vrtx_011CYGpLU7JPtBqxTLLRHsJa", "model": "claude-opus-4-6"}, p.OTHER),
    # A relay's 502 wording ("forwarding the request failed: error sending request for url (…)").
    ({"text": '{"type":"proxy_error","message":"请求转发失败: error sending request for url '
              '(https://relay.example/v1/messages?beta=true)"}'}, p.OTHER),
    ({"text": "error sending request for url (https://relay.example/v1/messages)"}, p.OTHER),
    # A dotted version of a Claude 3+ family is a relay's or an aggregator's model name (a Copilot proxy's
    # `claude-opus-4.6-1m` beside base58 msg_01 ids, OpenRouter's `anthropic/claude-sonnet-4.5`).
    ({"message_id": "msg_01QjKY4iZgTq69BYEKRD112G", "model": "claude-opus-4.6-1m"}, p.OTHER),
    ({"model": "anthropic/claude-sonnet-4.5"}, p.OTHER),
    ({"model": "claude-3.5-sonnet"}, p.OTHER),
    ({"model": "claude-2.1"}, None),
    ({"model": "claude-3-5-sonnet-20241022"}, None),
    # A cloud route named in the error text (2.1.332's finals; Bedrock's ServiceUnavailableException body):
    # a session whose first attempt fails has no answer whose id would tell.
    ({"text": "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a "
              "moment. If it persists, check your Amazon Bedrock service status."}, p.BEDROCK),
    ({"text": "503 Bedrock is unable to process your request.", "request_id": "3f1c2a9e-8b7d-4e6f-9a0b-1c2d3e4f5a6b"},
     p.BEDROCK),
    ({"text": "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a "
              "moment. If it persists, check your Google Vertex AI service status."}, p.VERTEX),
    # 2.1.332 names the gateway only when ANTHROPIC_BASE_URL is not Anthropic's API: its host is the route,
    # judged as a failed attempt's URL is (loopback proves nothing).
    ({"text": "API Error: 529 Overloaded. … If it persists, check your inference gateway (gw.example.com)."},
     p.OTHER),
    ({"text": "API Error: 529 Overloaded. … If it persists, check your inference gateway (127.0.0.1:4000)."},
     None),
    ({"text": "API Error: 500 … check your inference gateway (bedrock-runtime.us-east-1.amazonaws.com)."},
     p.BEDROCK),
    # The URL a failed attempt went to (`cause.path`): another host is someone else's API; loopback (a
    # local proxy, or a test's fake API) proves nothing.
    ({"endpoint": "https://api.deepseek.com/anthropic/v1/messages?beta=true"}, p.OTHER),
    ({"request_id": "req_011CWjK86SWeFuXqZKUtgB1H", "endpoint": "https://relay.example.cn/v1/messages"}, p.OTHER),
    ({"endpoint": "https://api.anthropic.com/v1/messages?beta=true"}, p.ANTHROPIC),
    ({"endpoint": "https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke"}, p.BEDROCK),
    ({"endpoint": "https://us-east5-aiplatform.googleapis.com/v1/projects/p"}, p.VERTEX),
    ({"endpoint": "http://127.0.0.1:15721/v1/messages?beta=true"}, None),
    ({"endpoint": "http://localhost:4141/v1/messages"}, None),
    ({"endpoint": "not a url"}, None),
    # No evidence: toy ids, plain Claude names, Claude Code's own synthetic records, JSON API errors.
    ({"message_id": "msg_1", "request_id": "req_1", "model": "claude-opus-4-6"}, None),
    ({"model": "<synthetic>"}, None),
    ({"text": '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'}, None),
    ({"request_id": "3f1c2a9e-8d7b-4c6a-9e1f-2b3c4d5e6f70"}, None),
])
def test_judge(kwargs: dict, expected: str | None) -> None:
    assert p.judge(**kwargs) == expected


@pytest.mark.parametrize(("env", "expected"), [
    ({}, p.ANTHROPIC),
    ({"ANTHROPIC_BASE_URL": "https://api.anthropic.com"}, p.ANTHROPIC),
    ({"ANTHROPIC_BASE_URL": "https://API.Anthropic.com./v1"}, p.ANTHROPIC),
    ({"ANTHROPIC_BASE_URL": "https://relay.example.cn/claude"}, p.OTHER),
    ({"ANTHROPIC_BASE_URL": "http://127.0.0.1:4000"}, p.OTHER),
    ({"ANTHROPIC_BASE_URL": "https://user:pw@api.anthropic.com.evil.test"}, p.OTHER),
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BASE_URL": "https://relay.example"}, p.BEDROCK),
    ({"CLAUDE_CODE_USE_VERTEX": "true"}, p.VERTEX),
    ({"CLAUDE_CODE_USE_FOUNDRY": "YES"}, p.FOUNDRY),
    ({"CLAUDE_CODE_USE_BEDROCK": "0"}, p.ANTHROPIC),
    ({"CLAUDE_CODE_USE_VERTEX": ""}, p.ANTHROPIC),
    # A gateway the user declares as forwarding to Anthropic's API; any other value proves nothing.
    ({"ANTHROPIC_BASE_URL": "https://llm-gw.corp.example", "CLAIMBACK_GATEWAY_UPSTREAM": "Anthropic"}, p.ANTHROPIC),
    ({"ANTHROPIC_BASE_URL": "https://llm-gw.corp.example", "CLAIMBACK_GATEWAY_UPSTREAM": "openrouter"}, p.OTHER),
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "CLAIMBACK_GATEWAY_UPSTREAM": "anthropic"}, p.BEDROCK),
])
def test_provider_from_env(env: dict, expected: str) -> None:
    assert p.provider_from_env(env) == expected


def test_every_provider_says_where_a_claim_goes() -> None:
    assert set(p.CLAIM_DESTINATION) == set(p.PROVIDERS) == set(p.LABELS)
    assert p.mix([p.OTHER, None, p.ANTHROPIC, p.OTHER]) == {p.ANTHROPIC: 2, p.OTHER: 2}


def test_import_is_stdlib_only() -> None:
    # The guard hook may import this module: it must not pull in the package's heavy parts.
    code = ("import sys; import claimback.core.provider; "
            "print(sorted(m for m in sys.modules if m.startswith('claimback') or m in "
            "('msgspec', 'rich', 'jinja2', 'urllib.parse')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['claimback', 'claimback.core', 'claimback.core.provider']"


@pytest.mark.parametrize("args", [
    ("msg_01QjKY4iZgTq69BYEKRD112G", "req_011CV7dYwK3mZq5Tn8aLhJ2u", "claude-opus-4-6"),
    ("msg_01QjKY4iZgTq69BYEKRD112G", None, "claude-opus-4-6"),
    ("msg_01a4b2c3d4e5f6a7b8c9d0e1f2a3b4c5", "req_011CV7dYwK3mZq5Tn8aLhJ2u", "claude-sonnet-4-5"),
    ("msg_bdrk_01TRwJeNivnr3Xs1x84gExCb", None, "claude-opus-4-6"),
    ("msg_vrtx_0154LUXjFVzQGUca3yK2RUeo", "req_vrtx_011CWjK86SWeFuXqZKUtgB1H", "claude-opus-4-5"),
    ("msg_01QjKY4iZgTq69BYEKRD112G", "req_011CV7dYwK3mZq5Tn8aLhJ2u", "glm-4.7"),
    ("msg_01QjKY4iZgTq69BYEKRD112G", "req_bdrk_5f0c", "claude-opus-4-6"),
    ("msg_1", "req_1", "claude-opus-4-6"),
    ("msg_01QjKY4iZgTq69BYEKRD112G", "req_011CV7dYwK3mZq5Tn8aLhJ2u", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
    ("msg_01QjKY4iZgTq69BYEKRD112G", None, "claude-opus-4.6-1m"),
    ("msg_20260218142957", None, "claude-opus-4-6"),
    ("req_vrtx_011CYGpLU7JPtBqxTLLRHsJa", None, "claude-opus-4-6"),
    ("msg_01234567890123456789012", None, "claude-opus-4-6"),
    (None, None, None),
])
def test_the_parsers_fast_path_agrees_with_judge(args: tuple) -> None:
    message_id, request_id, model = args
    assert p.judge_request(message_id, request_id, model) == p.judge(message_id=message_id, request_id=request_id,
                                                                     model=model)


def _ingest(tmp_path: Path, files: dict[str, list[dict]]) -> list[tuple]:
    for name, records in files.items():
        write(tmp_path / "projects" / "-home-u-app" / f"{name}.jsonl", records)
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(ledger, [tmp_path / "projects"], machine="m")
        return sorted(tuple(r.values()) for r in ledger.rows(
            "SELECT 'failure' AS row, failure_key AS what, COALESCE(provider, 'NULL') AS provider FROM failures "
            "UNION ALL SELECT 'request', message_id, provider FROM requests"))
    finally:
        ledger.close()


def _lost(ts: str, uuid: str, path: str, *, session: str = SESSION, agent: str | None = None) -> dict:
    """A 2.1.14x lost-connection attempt: `cause` at the top and inside `error`, with the URL it went to."""
    cause = {"code": "ECONNRESET", "path": path, "errno": 0}
    record = {"type": "system", "subtype": "api_error", "level": "error", "sessionId": session, "timestamp": ts,
              "uuid": uuid, "cause": cause, "error": {"type": None, "cause": cause}, "retryInMs": 512.0,
              "retryAttempt": 1, "maxRetries": 10, "isSidechain": agent is not None}
    if agent:
        record["agentId"] = agent
    return record


def test_a_failure_before_any_answer_takes_its_url_or_its_sessions_route(tmp_path: Path) -> None:
    """Published 2.1.114-2.1.144 transcripts behind an Anthropic-compatible third-party API: attempts that
    failed before their file's first answer (`cause.path` https://<their host>/anthropic/v1/messages, or a
    local proxy's port), and a subagent whose only attempt failed, were filed as Anthropic's."""
    vendor = "https://api.llm-vendor.example/anthropic/v1/messages?beta=true"
    rows = _ingest(tmp_path, {
        SESSION: [
            user_prompt("go", "2026-05-16T09:39:00.000Z", uuid="p1"),
            _lost("2026-05-16T09:39:04.077Z", "r-vendor", vendor),
            _lost("2026-05-16T09:39:05.000Z", "r-loopback", "http://127.0.0.1:15721/v1/messages?beta=true"),
            _lost("2026-05-16T09:39:06.000Z", "r-first-party", "https://api.anthropic.com/v1/messages?beta=true"),
            assistant("0d3c0f4e-5b1a-4c2d-9e8f-7a6b5c4d3e2f", None, "2026-05-16T09:41:35.487Z",
                      model="deepseek-v4-pro"),
        ],
        f"{SESSION}/subagents/agent-a4387701e9b57fec": [
            _lost("2026-05-16T09:42:00.000Z", "r-subagent", "http://127.0.0.1:15721/v1/messages", agent="a4387701e9b57fec"),
        ],
        # A session with no answer at all takes the route of the machine's nearest answer (the vendor's, 18
        # minutes before; tests/test_fourth_sweep.py has the one with none near, read as Anthropic's).
        "0b1f0000-0000-4000-8000-000000000003": [
            _lost("2026-05-16T10:00:00.000Z", "r-alone", "http://127.0.0.1:15721/v1/messages",
                  session="0b1f0000-0000-4000-8000-000000000003"),
        ],
    })
    assert rows == [("failure", "r-alone", "other"), ("failure", "r-first-party", "anthropic"),
                    ("failure", "r-loopback", "other"), ("failure", "r-subagent", "other"),
                    ("failure", "r-vendor", "other"), ("request", "0d3c0f4e-5b1a-4c2d-9e8f-7a6b5c4d3e2f", "other")]


def test_a_copilot_proxys_dotted_model_name_is_not_anthropics_api(tmp_path: Path) -> None:
    """Published 2.1.63 transcripts through a local GitHub Copilot proxy: base58-looking `msg_01…` ids, no
    requestId, model `claude-opus-4.6-1m`; its answers and the 500s after them were filed as Anthropic's."""
    other_session = "0b1f0000-0000-4000-8000-000000000002"
    rows = _ingest(tmp_path, {SESSION: [
        assistant("msg_017P9yRptMuRqSzESxkqaJFA", None, "2026-03-04T08:10:00.000Z", model="claude-opus-4.6-1m"),
        retry("2026-03-04T08:11:00.000Z", 1, status=500, uuid="r-500"),
    ], other_session: [
        assistant("msg_01CEt2ZMy9UGtcEXrFRqYdeB", "req_011CWjK86SWeFuXqZKUtgB1H", "2026-03-04T08:12:00.000Z",
                  session=other_session),
    ]})
    assert rows == [("failure", "r-500", "other"), ("request", "msg_017P9yRptMuRqSzESxkqaJFA", "other"),
                    ("request", "msg_01CEt2ZMy9UGtcEXrFRqYdeB", "anthropic")]


def test_a_first_party_shaped_answer_without_request_id_is_a_relays_on_claude_code_2(tmp_path: Path) -> None:
    """Published 2.1.41-2.1.63 transcripts behind relays that use real Anthropic accounts: `msg_01…` ids
    passed through, the `request-id` header dropped (no record of the sample has a requestId), the relay's
    502s (`proxy_error`, "请求转发失败: error sending request for url (…)") and lost connections between
    them: 16 windows were claimed with Anthropic. Every first-party record of the 2.x transcripts we checked
    has a requestId; 1.x records and toy ids keep the default."""
    relayed, first_party, old = SESSION, "0b1f0000-0000-4000-8000-000000000004", "0b1f0000-0000-4000-8000-000000000005"
    forward = dict(retry("2026-02-19T02:47:30.000Z", 1, status=502, session=relayed, uuid="r-proxy"))
    forward["error"] = {"status": 502, "headers": {}, "requestID": None, "error": {
        "type": "proxy_error", "message": "请求转发失败: error sending request for url (https://cdn.relay.example/v1/"
                                          "messages?beta=true)"}}
    one_x = assistant("msg_01Gc7pWq2ZzXKkJ3fT9bqQeY", None, "2025-08-25T05:37:59.000Z", session=old)
    one_x["version"] = "1.0.90"
    silent = dict(retry("2026-02-19T02:53:05.000Z", 1, status=None, session=relayed, uuid="r-silent"))
    silent["error"] = {"cause": {}}  # 2.x writes an empty cause for some lost attempts: no evidence of its own
    rows = _ingest(tmp_path, {
        relayed: [assistant("msg_01DEq5mJ8aT4rVb9n2kXwLpZ", None, "2026-02-19T02:47:00.000Z", session=relayed),
                  forward, silent],
        first_party: [assistant("msg_01CEt2ZMy9UGtcEXrFRqYdeB", "req_011CWjK86SWeFuXqZKUtgB1H",
                                "2026-02-19T02:48:00.000Z", session=first_party)],
        old: [one_x, assistant("msg_1", None, "2025-08-25T05:38:00.000Z", session=old)],
    })
    assert rows == [("failure", "r-proxy", "other"), ("failure", "r-silent", "other"),
                    ("request", "msg_01CEt2ZMy9UGtcEXrFRqYdeB", "anthropic"),
                    ("request", "msg_01DEq5mJ8aT4rVb9n2kXwLpZ", "other"),
                    ("request", "msg_01Gc7pWq2ZzXKkJ3fT9bqQeY", "anthropic"), ("request", "msg_1", "anthropic")]


def test_a_declared_gateway_keeps_requestid_less_first_party_answers_anthropics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A company gateway that forwards to Anthropic's API may drop the request-id header; the user says so.
    monkeypatch.setenv("CLAIMBACK_GATEWAY_UPSTREAM", "anthropic")
    rows = _ingest(tmp_path, {SESSION: [
        assistant("msg_01DEq5mJ8aT4rVb9n2kXwLpZ", None, "2026-02-19T02:47:00.000Z")]})
    assert rows == [("request", "msg_01DEq5mJ8aT4rVb9n2kXwLpZ", "anthropic")]


def _relay_body(ts: str, attempt: int, status: int, message: str, uuid: str) -> dict:
    """A relay's own error body in a 2.1.7x retry record: `err_code` and translated messages, no request id."""
    record = dict(retry(ts, attempt, status=status, uuid=uuid))
    record["error"] = {"status": status, "headers": {}, "requestID": None, "error": {"error": {
        "err_code": -10999, "message": message, "message_cn": "（译文）", "type": "api_error"}}}
    return record


def test_a_relay_that_passes_anthropic_ids_with_its_own_request_ids_is_not_anthropics_api(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Published 2.1.76-2.1.81 transcripts behind a relay (302.AI): its answers keep Anthropic's `msg_01…`
    ids but carry the relay's UUIDs as `requestId`, and its errors are its own JSON (`err_code`,
    `message_cn`): 381 requests and every failure were Anthropic's, and a relay's 500s for a model it had
    turned off made a window claimable with Anthropic. Anthropic's API names every request `req_…`."""
    first_party = "0b1f0000-0000-4000-8000-000000000006"
    relayed = [
        _relay_body("2026-03-16T13:00:00.000Z", 1, 401, "Insufficient account balance on this relay key", "r-bal"),
        assistant("msg_01Hq3vBx7KpLmNzR2sTw9YcD", "6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b", "2026-03-16T13:05:00.000Z"),
        *(_relay_body(f"2026-03-16T13:08:0{n}.000Z", n, 500, "Permission denied: this model has been disabled here",
                      f"r-off-{n}") for n in (1, 2, 3)),
        final_error("2026-03-16T13:09:00.000Z", 'API Error: 500 {"error":{"err_code":-10999,"message":"Permission '
                    'denied: this model has been disabled here","type":"api_error"}}', error="unknown", status=500),
    ]
    files = {SESSION: relayed, first_party: [
        assistant("msg_01CEt2ZMy9UGtcEXrFRqYdeB", "req_011CWjK86SWeFuXqZKUtgB1H", "2026-03-16T13:06:00.000Z",
                  session=first_party)]}
    rows = _ingest(tmp_path, files)
    assert rows == [("failure", "e-2026-03-16T13:09:00.000Z", "other"), ("failure", "r-bal", "other"),
                    ("failure", "r-off-1", "other"), ("failure", "r-off-2", "other"), ("failure", "r-off-3", "other"),
                    ("request", "msg_01CEt2ZMy9UGtcEXrFRqYdeB", "anthropic"),
                    ("request", "msg_01Hq3vBx7KpLmNzR2sTw9YcD", "other")]
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        classes = {r["failure_key"]: r["failure_class"] for r in ledger.rows(
            "SELECT failure_key, failure_class FROM failures")}
    finally:
        ledger.close()
    # The texts say what happened: an account out of money, a model the relay does not offer. No outage.
    assert classes == {"r-bal": "quota_rate", "r-off-1": "model_provider", "r-off-2": "model_provider",
                       "r-off-3": "model_provider", "e-2026-03-16T13:09:00.000Z": "model_provider"}
    # A gateway the user declared as forwarding to Anthropic's API may write its own request ids.
    monkeypatch.setenv("CLAIMBACK_GATEWAY_UPSTREAM", "anthropic")
    declared = tmp_path / "declared"
    assert ("request", "msg_01Hq3vBx7KpLmNzR2sTw9YcD", "anthropic") in _ingest(declared, {SESSION: relayed[1:2]})


def test_a_refused_selected_model_names_the_route_of_a_session_with_no_answer(tmp_path: Path) -> None:
    """Claude Code's "There's an issue with the selected model (NAME)" is all a session has when its first
    prompt is refused: a name no Anthropic API model has (a relay's `vendor/model`) is `other`, a cloud model
    id its cloud's; a plain Claude name proves nothing (Anthropic's default stays)."""
    assert p.from_error_text("There's an issue with the selected model (acme-ai/coder-9.1). It may not exist "
                             "or you may not have access to it.") == p.OTHER
    assert p.from_error_text("There's an issue with the selected model (claude-opus-4@20250514).") == p.VERTEX
    assert p.from_error_text("There's an issue with the selected model (claude-sonnet-4-6). It may not exist.") is None
    relayed, first_party = SESSION, "0b1f0000-0000-4000-8000-000000000007"
    rows = _ingest(tmp_path, {
        relayed: [user_prompt("hi", "2026-05-18T05:00:00.000Z", session=relayed, uuid="u1"),
                  final_error("2026-05-18T05:00:02.000Z", "There's an issue with the selected model (acme-ai/coder-9.1)."
                              " It may not exist or you may not have access to it. Run /model to pick a different "
                              "model.", error="invalid_request", status=404, session=relayed)],
        first_party: [user_prompt("hi", "2026-05-18T05:01:00.000Z", session=first_party, uuid="u2"),
                      final_error("2026-05-18T05:01:02.000Z", "There's an issue with the selected model "
                                  "(claude-sonnet-4-6). It may not exist or you may not have access to it.",
                                  error="invalid_request", status=404, session=first_party)],
    })
    assert rows == [("failure", "e-2026-05-18T05:00:02.000Z", "other"), ("failure", "e-2026-05-18T05:01:02.000Z", "NULL")]


def test_a_model_refused_for_a_capability_it_lacks_names_the_route(tmp_path: Path) -> None:
    """A local server's Anthropic-shaped 400 for a model without chat (`"NAME" does not support chat`, an
    embedding model picked with /model) was Anthropic's: the session has no answer. A name no Claude model
    has is `other`; a Claude name proves nothing."""
    body = ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"\\"acme-embed-'
            'small\\" does not support chat"},"request_id":"req_0f1e2d3c4b5a69788796a5b4"}')
    assert p.from_error_text(body) == p.OTHER
    assert p.from_error_text('{"message":"\\"claude-haiku-4-5\\" does not support tools"}') is None
    local, first_party = SESSION, "0b1f0000-0000-4000-8000-000000000009"
    rows = _ingest(tmp_path, {
        local: [user_prompt("hi", "2026-02-20T09:00:00.000Z", session=local, uuid="u1"),
                final_error("2026-02-20T09:00:00.070Z", body, error="unknown", status=None, session=local)],
        first_party: [user_prompt("hi", "2026-02-20T09:01:00.000Z", session=first_party, uuid="u2"),
                      final_error("2026-02-20T09:01:00.070Z", "API Error: 400 {\"type\":\"error\",\"error\":{"
                                  "\"type\":\"invalid_request_error\",\"message\":\"prompt is too long\"}}",
                                  error="unknown", status=None, session=first_party)],
    })
    assert rows == [("failure", "e-2026-02-20T09:00:00.070Z", "other"), ("failure", "e-2026-02-20T09:01:00.070Z", "NULL")]


def test_a_declared_gateways_own_host_proves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # CLAIMBACK_GATEWAY_UPSTREAM=anthropic: the user says their gateway forwards to Anthropic's API, so
    # the URL an attempt went to and the gateway an error text names are no evidence of another route.
    gateway_url = {"endpoint": "https://llm-gw.corp.example/v1/messages?beta=true"}
    gateway_text = {"text": "API Error: 529 Overloaded. … check your inference gateway (llm-gw.corp.example)."}
    assert p.judge(**gateway_url) == p.judge(**gateway_text) == p.OTHER
    monkeypatch.setenv("CLAIMBACK_GATEWAY_UPSTREAM", "anthropic")
    assert p.judge(**gateway_url) is None and p.judge(**gateway_text) is None
    assert p.judge(endpoint="https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke") == p.BEDROCK


def _answered_with_headers(ts: str, uuid: str, status: int, headers: dict[str, object]) -> dict[str, object]:
    """A failed attempt as Claude Code 2.1.1x writes it: the response's headers kept in `error.headers`,
    no body, no request id."""
    return {"type": "system", "subtype": "api_error", "level": "error", "sessionId": SESSION, "timestamp": ts,
            "uuid": uuid, "isSidechain": False, "version": "2.1.14", "retryAttempt": 1, "maxRetries": 10,
            "retryInMs": 530.5, "error": {"status": status, "headers": headers, "requestID": None}}


def test_a_failed_attempt_answered_by_a_relays_own_server_is_not_anthropics(tmp_path: Path) -> None:
    """A published 2.1.14 tree behind a relay that passes Anthropic's answers through (`msg_01…`, `req_011…`):
    its 503s came from the relay's nginx (plain text, no `request-id`) and were filed as Anthropic's, in the
    answered session's route, making a logs-only window claimable with Anthropic. A server none of the APIs
    runs, without Anthropic's `request-id` header, is the relay's; Cloudflare's or one with `request-id`
    proves nothing by itself (the session's route stays)."""
    nginx = {"date": "Wed, 21 Jan 2026 13:15:59 GMT", "content-type": "text/plain; charset=utf-8",
             "content-length": "28", "server": "nginx"}
    rows = _ingest(tmp_path, {SESSION: [
        user_prompt("go", "2026-01-21T13:15:00.000Z", uuid="p1"),
        assistant("msg_011sqhJo5GRxAbCdEfGhJkLm", "req_011CXLavZb4tAbCdEfGhJk", "2026-01-21T13:15:56.000Z"),
        _answered_with_headers("2026-01-21T13:16:00.016Z", "r-nginx", 503, nginx),
        _answered_with_headers("2026-01-21T13:16:03.000Z", "r-caddy", 401, {"server": "Caddy"}),
        _answered_with_headers("2026-01-21T13:16:06.000Z", "r-cloudflare", 520,
                               {"server": "cloudflare", "cf-ray": "9c1d2e3f4a5b6c7d-FRA"}),
        _answered_with_headers("2026-01-21T13:16:09.000Z", "r-with-request-id", 529,
                               {"server": "envoy", "request-id": "req_011CXLb1AbCdEfGhJkLmNo"}),
    ]})
    assert rows == [("failure", "r-caddy", "other"), ("failure", "r-cloudflare", "anthropic"),
                    ("failure", "r-nginx", "other"), ("failure", "r-with-request-id", "anthropic"),
                    ("request", "msg_011sqhJo5GRxAbCdEfGhJkLm", "anthropic")]
    assert [p.from_response_headers(h) for h in ({}, None, "nginx", {"Server": "NGINX"}, {"Server": "Google Frontend"},
                                                 {"server": "awselb/2.0"}, {"server": " "})] == \
        [None, None, None, "other", None, None, None]
