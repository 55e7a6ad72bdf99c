"""core/provider.py: who served a request or failure, on the id shapes, models and bodies seen in real
transcripts (first-party, Bedrock, Vertex, relays) and on Claude Code's provider settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from claimback.core import provider as p

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
    (None, None, None),
])
def test_the_parsers_fast_path_agrees_with_judge(args: tuple) -> None:
    message_id, request_id, model = args
    assert p.judge_request(message_id, request_id, model) == p.judge(message_id=message_id, request_id=request_id,
                                                                     model=model)
