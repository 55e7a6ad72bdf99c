"""The real client (2.1.332) on shapes of failure the other real-client tests do not drive.

Each scenario runs the binary once (module-scoped fixtures) against the fake API (tests/fake_anthropic.py);
the server's log of what it answered is the truth that the ledger, `doctor --json`, `loss --json` and
`resume` are held to. What 2.1.332 wrote for each, seen here:

- parallel subagents: one gets a 529 with `x-should-retry: false` (the client sends it once, no retry;
  the run ends with its final error), one finishes, one does a tool turn and then meets a 400 "prompt is
  too long": the client writes no error record for it, compacts the subagent's conversation (a
  `compact_boundary`, trigger `auto`; the summary request is in no transcript record, only in the
  session's `cost-state`) and re-sends, and the run completes. That attempt was filed `unknown` ("no
  response recorded for this attempt"); it is the request refused for its size (`model_provider`);
- the same refusal when every attempt of that compaction's request meets a 529: the compaction's attempts
  are in no record, the final says "Prompt is too long · automatic compaction failed: API Error: 529
  Overloaded. …" with the 400 and the refused request's id. Filed `model_provider` by the 400, the run the
  outage killed was off `resume`'s list; the compaction's error decides now (`outage`);
- a 500 whose body is Cloudflare's HTML page for Anthropic's own zone (`api.anthropic.com | 500:
  Internal server error`, no request id): Anthropic's outage, unlike a gateway's page;
- a subscription's weekly limit (HTTP 429, `anthropic-ratelimit-unified-status: rejected`,
  `representative-claim: seven_day`, behind a Claude gateway token so the client reads those headers):
  not retried; the final says "You've hit your weekly limit · resets <the header's reset>" with
  `apiError: "usage_limit_reached"`;
- a headless `-p --output-format stream-json --verbose` run answered after two 529s, then `--continue`
  whose prompt meets a 500 with `x-should-retry: false`: the transcript is the same as in text mode, and
  the stream's `result` event (`api_error_status`) agrees with the ledger's final;
- an SSE `error` event as the stream's first event, and one after visible text in the middle of a text
  block (no `content_block_stop`): both times the client re-sends silently (no error record, no partial
  answer kept), so the ledger has one failed attempt it cannot explain (`unknown`) and the broken
  stream's tokens are in no record.

docs/reliability.md ("The real client") and docs/methodology.md ("What each client version lets us
measure") say how each counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import (
    OVERLOADED,
    FakeAnthropic,
    Reply,
    Rule,
    agent_call,
    all_of,
    answers_tool,
    error_reply,
    is_messages_path,
    main_thread,
    prompt_has,
    unified_headers,
)
from realclient import GATEWAY_TOKEN, Run, Sandbox, claimback, require_claude, run_claude

from claimback.analysis.outages import find_windows
from claimback.analysis.unattributed import summarize, unattributed_parts
from claimback.core.classify import COMPACTED_REFUSAL
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

RETRIES = 3  # CLAUDE_CODE_MAX_RETRIES in the sandbox


@dataclass
class Shape:
    sandbox: Sandbox
    served: list[dict[str, Any]]
    runs: list[Run] = field(default_factory=list)

    def messages(self) -> list[dict[str, Any]]:
        return [r for r in self.served if is_messages_path(r["path"])]

    def answered(self) -> list[dict[str, Any]]:
        return [r for r in self.messages() if r["complete"]]

    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.messages() if not r["complete"]]

    def ingest(self, tmp_path: Path) -> tuple[Any, Path]:
        db = tmp_path / "ledger.sqlite3"
        led = open_ledger(db)
        result = ingest(led, [self.sandbox.config_dir / "projects"], machine="test")
        assert result.unknown_records == {}
        return led, db

    def cli(self, tmp_path: Path, db: Path, *args: str) -> Any:
        """One claimback command's --json on the ledger (no ingest, no network, a private CLAIMBACK_HOME)."""
        out = claimback(self.sandbox, {"CLAIMBACK_HOME": str(tmp_path / "cb")}, *args, "--json", "--db", str(db))
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def _run(root: Path, rules: list[Rule], runs: list[tuple[str, tuple[str, ...]]],
         env: dict[str, str] | None = None) -> Shape:
    require_claude()
    sandbox = Sandbox(root)
    with FakeAnthropic(rules) as api:
        done = [run_claude(sandbox, api.url, prompt, *args, env=env) for prompt, args in runs]
    return Shape(sandbox, list(api.served), done)


def _since() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).date().isoformat()  # the runs' day


def _doctor_classes(report: dict[str, Any]) -> dict[str, int]:
    return {f["failure_class"]: f["count"] for f in report["failures"]}


def _ledger_failures(led: Any) -> list[dict[str, Any]]:
    return led.rows("SELECT kind, agent_id, status, request_id, failure_class, provider, message FROM failures "
                    "ORDER BY ts, kind")


def _assert_requests_are_the_answered(shape: Shape, led: Any, leave_out: set[str] = frozenset()) -> None:
    served = [r for r in shape.answered() if r["request_id"] not in leave_out]
    rows = led.rows("SELECT request_id, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens "
                    "FROM requests ORDER BY request_id")
    assert rows == sorted(({"request_id": r["request_id"], "input_tokens": r["input_tokens"],
                            "output_tokens": r["output_tokens"], "cache_read_tokens": r["cache_read_tokens"],
                            "cache_creation_tokens": r["cache_creation_tokens"]} for r in served),
                          key=lambda r: r["request_id"])


# -- parallel subagents: no-retry 529, a finish, a refusal the client answers by compacting ------------
ALPHA = "SUBTASK-ALPHA: check the release notes"
BETA = "SUBTASK-BETA: summarise the plan"
GAMMA = "SUBTASK-GAMMA: list the risks"
COMPACTION = "compaction retry"  # 2.1.332's summary request after a refusal: "[earlier conversation truncated …]"


@pytest.fixture(scope="module")
def subagents(tmp_path_factory: pytest.TempPathFactory) -> Shape:
    root = tmp_path_factory.mktemp("rc-shapes-agents")
    notes = root / "home" / "project" / "risks.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("risk: the demo laptop\n")
    first = lambda r: not r.tool_results  # noqa: E731
    rules = [
        Rule(Reply(kind="tool_use", tools=[agent_call(ALPHA, "Alpha"), agent_call(BETA, "Beta"),
                                           agent_call(GAMMA, "Gamma")],
                   input_tokens=520, output_tokens=90, cache_creation_tokens=4096),
             when=all_of(main_thread, first, prompt_has("three subagents"))),
        Rule(Reply(text="<summary>The subagent listed the risks file.</summary>", input_tokens=150,
                   output_tokens=25), when=prompt_has(COMPACTION), times=3),
        Rule(error_reply(**OVERLOADED, headers={"x-should-retry": "false"}), when=prompt_has(ALPHA),
             times=RETRIES + 1),
        Rule(Reply(text="Plan: ship on friday.", input_tokens=310, output_tokens=30), when=prompt_has(BETA)),
        Rule(Reply(kind="tool_use", text="", tools=[{"name": "Read", "input": {"file_path": str(notes)}}],
                   input_tokens=200, output_tokens=20, cache_creation_tokens=800),
             when=all_of(prompt_has(GAMMA), first)),
        Rule(error_reply(400, "invalid_request_error", "prompt is too long: 212000 tokens > 200000 maximum"),
             when=all_of(prompt_has(GAMMA), answers_tool)),
        Rule(Reply(text="Two reports are in; Alpha failed.", input_tokens=20, output_tokens=14,
                   cache_read_tokens=4700), when=all_of(main_thread, answers_tool, prompt_has("three subagents"))),
    ]
    return _run(root, rules, [("Review the plan with three subagents.", ())])


def test_subagents_no_retry_529_and_a_refusal_answered_by_compacting(subagents: Shape, tmp_path: Path) -> None:
    assert subagents.runs[0].returncode == 0, subagents.runs[0].stdout
    alpha = [r for r in subagents.messages() if ALPHA in r["first_user_text"]]
    assert [(r["status"], r["error_type"]) for r in alpha] == [(529, "overloaded_error")]  # sent once: no retry
    refused = [r for r in subagents.failed() if r["status"] == 400]
    assert len(refused) == 1 and len(subagents.failed()) == 2
    compactions = [r for r in subagents.answered() if COMPACTION in r["first_user_text"]]
    assert compactions  # the summary request of Gamma's conversation
    led, db = subagents.ingest(tmp_path)
    # Every answered request once, but the compaction's: its answer is in no transcript record ...
    _assert_requests_are_the_answered(subagents, led, leave_out={r["request_id"] for r in compactions})
    # ... only in the session's cost-state: measured, unattributed usage equal to what the server served it.
    figure = summarize(unattributed_parts(led))
    assert (figure.input_tokens, figure.output_tokens) == (sum(r["input_tokens"] for r in compactions),
                                                           sum(r["output_tokens"] for r in compactions))
    # One failure per failed attempt: Alpha's 529 (its final, with the request id), Gamma's refusal (no
    # record of its own: the compaction that followed it says what it was; it was `unknown` before).
    rows = _ledger_failures(led)
    assert sorted((r["kind"], r["status"], r["failure_class"], r["request_id"]) for r in rows) == [
        ("final", 529, "outage", alpha[0]["request_id"]), ("retry", None, "model_provider", None)]
    assert next(r for r in rows if r["kind"] == "retry")["message"] == COMPACTED_REFUSAL
    tasks = {t["description"]: t["outcome"] for t in led.rows("SELECT description, outcome FROM tasks")}
    assert tasks == {"Alpha": "killed", "Beta": "completed", "Gamma": "completed"}
    assert find_windows(led, offline=True, sync=False) == []  # one 529 is no burst
    led.close()
    doctor = subagents.cli(tmp_path, db, "doctor", "--no-ingest")
    assert _doctor_classes(doctor) == {"outage": 1, "model_provider": 1}
    resume = subagents.cli(tmp_path, db, "resume", "--no-ingest")
    assert [t["description"] for t in resume["tasks"]] == ["Alpha"]


@pytest.fixture(scope="module")
def compaction_fails(tmp_path_factory: pytest.TempPathFactory) -> Shape:
    """A subagent's conversation refused as too large, and every attempt of the compaction meant to
    recover it meets a 529: the run ends."""
    root = tmp_path_factory.mktemp("rc-shapes-compaction-529")
    notes = root / "home" / "project" / "risks.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("risk: the demo laptop\n")
    first = lambda r: not r.tool_results  # noqa: E731
    rules = [
        Rule(Reply(kind="tool_use", tools=[agent_call(GAMMA, "Gamma")], input_tokens=300, output_tokens=40),
             when=all_of(main_thread, first, prompt_has("one subagent"))),
        Rule(error_reply(**OVERLOADED), when=prompt_has(COMPACTION), times=RETRIES + 5),
        Rule(Reply(kind="tool_use", text="", tools=[{"name": "Read", "input": {"file_path": str(notes)}}],
                   input_tokens=200, output_tokens=20, cache_creation_tokens=800),
             when=all_of(prompt_has(GAMMA), first)),
        Rule(error_reply(400, "invalid_request_error", "prompt is too long: 212000 tokens > 200000 maximum"),
             when=all_of(prompt_has(GAMMA), answers_tool)),
        Rule(Reply(text="Gamma failed.", input_tokens=20, output_tokens=5),
             when=all_of(main_thread, answers_tool, prompt_has("one subagent"))),
    ]
    return _run(root, rules, [("Check the risks with one subagent.", ())])


def test_a_compaction_that_meets_529s_kills_the_run_by_the_outage(compaction_fails: Shape, tmp_path: Path) -> None:
    shape = compaction_fails
    assert shape.runs[0].returncode == 0
    refused = [r for r in shape.failed() if r["status"] == 400]
    overloaded = [r for r in shape.failed() if COMPACTION in r["first_user_text"]]
    assert len(refused) == 1 and [r["status"] for r in overloaded] == [529] * (RETRIES + 1)
    led, db = shape.ingest(tmp_path)
    _assert_requests_are_the_answered(shape, led)
    # 2.1.332's final: "Prompt is too long · automatic compaction failed: API Error: 529 Overloaded …" with
    # the refused request's status and id; the compaction's own attempts are in no record. The run died of
    # the 529s (was `model_provider`, by the 400, and off `resume`'s list).
    rows = _ledger_failures(led)
    assert [(r["kind"], r["status"], r["failure_class"], r["request_id"]) for r in rows] == [
        ("final", 400, "outage", refused[0]["request_id"])]
    assert "automatic compaction failed: API Error: 529 Overloaded" in rows[0]["message"]
    tasks = led.rows("SELECT outcome, result_error FROM tasks")
    assert [t["outcome"] for t in tasks] == ["killed"] and "automatic compaction failed" in tasks[0]["result_error"]
    led.close()
    resume = shape.cli(tmp_path, db, "resume", "--no-ingest")
    gamma = [r for r in shape.answered() if r["subagent"]]
    assert [(t["description"], t["cause_class"], t["tokens_burned"]) for t in resume["tasks"]] == [
        ("Gamma", "outage", sum(r["input_tokens"] + r["output_tokens"] + r["cache_creation_tokens"] for r in gamma))]


# -- Cloudflare's own 500 page for api.anthropic.com -----------------------------------------------------
EDGE_PAGE = ('<!DOCTYPE html>\n<html class="no-js" lang="en-US">\n<head>\n<title>api.anthropic.com | 500: Internal '
             'server error</title>\n<meta charset="UTF-8" />\n</head>\n<body>\n<div id="cf-wrapper"><h1>Internal server '
             'error <span>Error code 500</span></h1><p>Visit <a href="https://www.cloudflare.com/">cloudflare.com</a> '
             'for more information.</p><span>Cloudflare Ray ID: <strong>8f2a1b3c4d5e6f70</strong></span></div>\n'
             '</body>\n</html>\n')
EDGE_RETRIES = 2  # three attempts: a burst, and half the client's waits of the default three retries


@pytest.fixture(scope="module")
def edge_500(tmp_path_factory: pytest.TempPathFactory) -> Shape:
    page = Reply(kind="raw", status=500, body=EDGE_PAGE, headers={"server": "cloudflare", "cf-ray": "8f2a1b3c4d5e6f70-IAD"})
    return _run(tmp_path_factory.mktemp("rc-shapes-edge"), [Rule(page, times=EDGE_RETRIES + 1)],
                [("Say hi.", ())], env={"CLAUDE_CODE_MAX_RETRIES": str(EDGE_RETRIES)})


def test_anthropics_own_edge_page_is_anthropics_outage(edge_500: Shape, tmp_path: Path) -> None:
    run = edge_500.runs[0]
    assert run.returncode != 0 and "api.anthropic.com | 500: Internal server error" in run.stdout
    assert [r["status"] for r in edge_500.messages()] == [500] * (EDGE_RETRIES + 1)
    led, db = edge_500.ingest(tmp_path)
    rows = _ledger_failures(led)
    # The page names Anthropic's own zone: no row is a gateway's (the gateway page's are `other`).
    assert sorted(r["kind"] for r in rows) == ["final"] + ["retry"] * EDGE_RETRIES
    assert {(r["status"], r["failure_class"], r["request_id"]) for r in rows} == {(500, "outage", None)}
    assert all(r["provider"] in (None, "anthropic") for r in rows)
    led.close()
    loss = edge_500.cli(tmp_path, db, "loss", "--no-ingest", "--offline", "--since", _since())
    assert [(w["confirmed_by"], w["provider"]) for w in loss["windows"]] == [("logs", "anthropic")]
    assert _doctor_classes(edge_500.cli(tmp_path, db, "doctor", "--no-ingest")) == {"outage": EDGE_RETRIES + 1}


# -- a subscription's weekly limit -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weekly_limit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Shape, dict[str, str]]:
    headers = unified_headers("rejected", five_hour=0.64, seven_day=1.0, reset_in_s=2 * 86400, claim="seven_day")
    headers["retry-after"] = str(2 * 86400)
    limit = error_reply(429, "rate_limit_error", "This request would exceed your account's rate limit. "
                        "Please try again later.", headers=headers)
    # Behind a Claude gateway token the client reads the unified headers, as for a subscriber.
    shape = _run(tmp_path_factory.mktemp("rc-shapes-weekly"), [Rule(limit, times=RETRIES + 1)], [("Say hi.", ())],
                 env={"ANTHROPIC_AUTH_TOKEN": GATEWAY_TOKEN, "ANTHROPIC_API_KEY": ""})
    return shape, headers


def test_a_weekly_limit_is_one_quota_failure_with_the_headers_reset(weekly_limit: tuple[Shape, dict[str, str]],
                                                                      tmp_path: Path) -> None:
    shape, headers = weekly_limit
    reset = datetime.fromtimestamp(int(headers["anthropic-ratelimit-unified-reset"]), UTC)
    shown = f"You've hit your weekly limit · resets {reset:%b} {reset.day}"
    assert shape.runs[0].returncode != 0 and shown in shape.runs[0].stdout
    assert [r["status"] for r in shape.messages()] == [429]  # a rejected plan limit is not retried
    final = next(r for r in shape.sandbox.records() if r.get("isApiErrorMessage"))
    assert (final["error"], final["apiError"]) == ("rate_limit", "usage_limit_reached")
    led, db = shape.ingest(tmp_path)
    rows = _ledger_failures(led)
    assert [(r["kind"], r["status"], r["failure_class"], r["request_id"]) for r in rows] == [
        ("final", 429, "quota_rate", shape.messages()[0]["request_id"])]
    assert shown in rows[0]["message"]
    led.close()
    assert shape.cli(tmp_path, db, "loss", "--no-ingest", "--offline", "--since", _since())["windows"] == []
    assert _doctor_classes(shape.cli(tmp_path, db, "doctor", "--no-ingest")) == {"quota_rate": 1}


# -- headless stream-json, then --continue -----------------------------------------------------------------
@pytest.fixture(scope="module")
def stream_json(tmp_path_factory: pytest.TempPathFactory) -> Shape:
    second = lambda r: "second question" in r.last_user_text  # noqa: E731
    rules = [Rule(error_reply(**OVERLOADED), when=prompt_has("first question"), times=2),
             Rule(Reply(text="First answer.", input_tokens=300, output_tokens=6, cache_creation_tokens=2500),
                  when=prompt_has("first question")),
             Rule(error_reply(500, "api_error", "Internal server error", headers={"x-should-retry": "false"}),
                  when=second, times=RETRIES + 1)]
    flags = ("--output-format", "stream-json", "--verbose")
    return _run(tmp_path_factory.mktemp("rc-shapes-stream-json"), rules,
                [("This is the first question.", flags), ("And a second question.", ("--continue", *flags))])


def _result_event(run: Run) -> dict[str, Any]:
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return next(e for e in events if e.get("type") == "result")


def test_headless_stream_json_and_continue_agree_with_the_ledger(stream_json: Shape, tmp_path: Path) -> None:
    assert [r.returncode for r in stream_json.runs] == [0, 1]
    assert [r["status"] for r in stream_json.messages()] == [529, 529, 200, 500]  # the 500 sent once
    led, db = stream_json.ingest(tmp_path)
    _assert_requests_are_the_answered(stream_json, led)
    rows = _ledger_failures(led)
    assert [(r["kind"], r["status"], r["failure_class"], r["request_id"]) for r in rows] == \
        [("retry", 529, "outage", r["request_id"]) for r in stream_json.failed()[:2]] + \
        [("final", 500, "outage", stream_json.failed()[2]["request_id"])]
    assert led.scalar("SELECT COUNT(DISTINCT session_id) FROM failures") == 1  # --continue: one session
    # The headless stream's own summary says the same as the ledger.
    ok, failed = (_result_event(run) for run in stream_json.runs)
    assert (ok["is_error"], ok["api_error_status"]) == (False, None)
    assert (failed["is_error"], failed["api_error_status"], failed["api_error_type"]) == (True, 500, "api_error")
    first = stream_json.answered()[0]
    usage = ok["modelUsage"]["claude-sonnet-4-6"]
    assert (usage["inputTokens"], usage["outputTokens"], usage["cacheCreationInputTokens"]) == \
        (first["input_tokens"], first["output_tokens"], first["cache_creation_tokens"])
    windows = find_windows(led, offline=True, sync=False)
    assert len(windows) == 1 and windows[0].outage_failures == 3
    led.close()
    assert _doctor_classes(stream_json.cli(tmp_path, db, "doctor", "--no-ingest")) == {"outage": 3}


# -- SSE errors the client re-sends silently ---------------------------------------------------------------
@pytest.fixture(scope="module")
def silent_stream_errors(tmp_path_factory: pytest.TempPathFactory) -> Shape:
    streamed = lambda r: bool(r.body.get("stream"))  # noqa: E731
    rules = [Rule(Reply(kind="stream_error", error_after_deltas=-1, input_tokens=500),
                  when=all_of(streamed, prompt_has("first")), times=1),
             Rule(Reply(kind="stream_error", error_after_deltas=2, error_type="api_error",
                        error_message="Internal server error", text="Part one of the answer", input_tokens=700,
                        output_tokens=30, cache_creation_tokens=900),
                  when=all_of(streamed, prompt_has("second")), times=1)]
    return _run(tmp_path_factory.mktemp("rc-shapes-silent"), rules,
                [("Say the first thing.", ()), ("Say the second thing.", ())])


def test_sse_errors_the_client_resends_silently_are_one_unexplained_attempt_each(
        silent_stream_errors: Shape, tmp_path: Path) -> None:
    shape = silent_stream_errors
    assert [r.returncode for r in shape.runs] == [0, 0]
    broken = [r for r in shape.messages() if r["kind"] == "stream_error"]
    assert [r["status"] for r in broken] == [200, 200] and len(shape.answered()) == 2
    assert not any(r.get("isApiErrorMessage") or r.get("subtype") == "api_error" for r in shape.sandbox.records())
    led, db = shape.ingest(tmp_path)
    # The answers once each; the second stream's visible partial (message_start's 700 + 900 tokens) is in no
    # record: 2.1.332 keeps a partial only when the text block was finished before the error.
    _assert_requests_are_the_answered(shape, led)
    rows = _ledger_failures(led)
    assert [(r["kind"], r["failure_class"], r["request_id"]) for r in rows] == [("retry", "unknown", None)] * 2
    led.close()
    assert _doctor_classes(shape.cli(tmp_path, db, "doctor", "--no-ingest")) == {"unknown": 2}
