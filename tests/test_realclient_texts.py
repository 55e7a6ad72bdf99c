"""The real client (2.1.332) in two scenarios its binary's texts pointed to and no other test covers.

- every attempt's connection is reset (the fake API reads the request, then sends a TCP RST): each retry
  record says `formatted: "Connection dropped (ECONNRESET)"`, and the final, on a first-party route with a
  base URL of its own, "API Error: Connection dropped (ECONNRESET). Check the gateway set in
  ANTHROPIC_BASE_URL, then try again." That advice named a setting, and the final was filed as
  `deployment_config` beside three `network` attempts of the same turn;
- `--fallback-model`: the primary model's attempts are all 529, the client switches models and writes a
  `system`/`model_fallback` record ("Switched to Haiku 4.5 due to high demand for Sonnet 4.6", trigger
  "overloaded") before the fallback's answer; the third attempt has no retry record of its own. That
  subtype was counted as an unknown record kind.

tests/test_classify_client_texts.py holds the texts themselves; docs/methodology.md says how each counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import OVERLOADED, FakeAnthropic, Reply, Rule, error_reply, is_messages_path
from realclient import Sandbox, require_claude, run_claude

from claimback.analysis.outages import find_windows
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

RETRIES = 3  # CLAUDE_CODE_MAX_RETRIES in the sandbox
PRIMARY, FALLBACK = "claude-sonnet-4-6", "claude-haiku-4-5"


def _ingest(sandbox: Sandbox, tmp_path: Path) -> tuple[Any, Any]:
    led = open_ledger(tmp_path / "ledger.sqlite3")
    result = ingest(led, [sandbox.config_dir / "projects"], machine="test")
    return led, result


def _failures(led: Any) -> list[dict[str, Any]]:
    return led.rows("SELECT kind, status, error_code, request_id, failure_class FROM failures ORDER BY ts, kind")


@pytest.fixture(scope="module")
def reset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, list[dict[str, Any]], Any]:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-reset"))
    with FakeAnthropic([Rule(Reply(kind="reset"), times=RETRIES + 1)]) as api:
        run = run_claude(sandbox, api.url, "Say hi.")
    return sandbox, api.served, run


def test_reset_connections_are_network_attempts_and_final_alike(reset: tuple, tmp_path: Path) -> None:
    sandbox, served, run = reset
    assert run.returncode != 0 and "Connection dropped (ECONNRESET)" in run.stdout
    assert "ANTHROPIC_BASE_URL" in run.stdout  # the advice that named a setting
    assert [r["kind"] for r in served if is_messages_path(r["path"])] == ["reset"] * (RETRIES + 1)
    led, result = _ingest(sandbox, tmp_path)
    rows = _failures(led)
    assert [r["kind"] for r in rows] == ["retry"] * RETRIES + ["final"]
    assert {r["error_code"] for r in rows if r["kind"] == "retry"} == {"ECONNRESET"}
    # Nobody answered: no HTTP status, one class for the turn, and no outage window on its own.
    assert {(r["status"], r["failure_class"]) for r in rows} == {(None, "network")}
    assert find_windows(led, offline=True, sync=False) == []
    assert result.unknown_records == {}


@pytest.fixture(scope="module")
def fallback(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, list[dict[str, Any]], Any]:
    require_claude()
    sandbox = Sandbox(tmp_path_factory.mktemp("rc-fallback"))
    primary = lambda request: request.body.get("model") == PRIMARY  # noqa: E731
    rules = [Rule(error_reply(**OVERLOADED), when=primary, times=RETRIES + 3),
             Rule(Reply(text="Hi from the fallback.", input_tokens=150, output_tokens=9, cache_creation_tokens=700))]
    with FakeAnthropic(rules) as api:
        run = run_claude(sandbox, api.url, "Say hi.", "--fallback-model", FALLBACK)
    return sandbox, api.served, run


def test_model_fallback_after_529s_keeps_every_attempt_and_the_fallbacks_answer(fallback: tuple,
                                                                                tmp_path: Path) -> None:
    sandbox, served, run = fallback
    assert run.returncode == 0 and "Hi from the fallback." in run.stdout
    messages = [r for r in served if is_messages_path(r["path"])]
    failed = [r for r in messages if not r["complete"]]
    answered = [r for r in messages if r["complete"]]
    assert failed and {(r["status"], r["model"]) for r in failed} == {(529, PRIMARY)}
    assert [r["model"] for r in answered] == [FALLBACK]
    notices = [r for r in sandbox.records() if r.get("subtype") == "model_fallback"]
    assert [(n["trigger"], n["originalModel"], n["fallbackModel"]) for n in notices] == [("overloaded", PRIMARY,
                                                                                          FALLBACK)]
    led, result = _ingest(sandbox, tmp_path)
    assert result.unknown_records == {}  # model_fallback is known by name
    rows = _failures(led)
    # One failure per failed attempt, all the primary's 529s; the last one has only its api-request record
    # (the client switched models instead of retrying) and takes the turn's last failure.
    assert [(r["kind"], r["status"], r["failure_class"]) for r in rows] == [("retry", 529, "outage")] * len(failed)
    assert [r["request_id"] for r in rows if r["request_id"]] == [r["request_id"] for r in failed][:-1]
    requests = led.rows("SELECT request_id, model, input_tokens, output_tokens, cache_creation_tokens FROM requests")
    assert [(r["request_id"], r["model"], r["input_tokens"], r["output_tokens"], r["cache_creation_tokens"])
            for r in requests] == [(answered[0]["request_id"], FALLBACK, 150, 9, 700)]
