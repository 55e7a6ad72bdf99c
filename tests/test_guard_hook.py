"""The guard hook as Claude Code runs it: a real process, JSON on stdin, a decision on stdout.

Every case writes real files (status cache per the cache contract, transcripts in Claude Code's
record shapes, config.toml) and runs `python -m claimback hook EVENT` as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from claimback.prevent import signals

NOW = datetime.now(timezone.utc)


@pytest.fixture(autouse=True)
def fresh_now() -> None:
    # The hook judges ages against the real clock (a 60 s cache, a 10 min failure window): taking NOW
    # once at import made every test after the first minutes of a slow (loaded) run see stale facts.
    global NOW
    NOW = datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def write_cache(home: Path, incidents: list[dict[str, Any]] | None, age: timedelta = timedelta(0),
                body: bytes | None = None) -> None:
    folder = home / "cache" / "status"
    folder.mkdir(parents=True, exist_ok=True)
    payload = body if body is not None else json.dumps(
        {"page": {"id": "tymt9n04zgry", "name": "Claude"}, "incidents": incidents or []}).encode()
    (folder / "unresolved.json").write_bytes(payload)
    meta = {"url": "https://status.claude.com/api/v2/incidents/unresolved.json",
            # Fetched "now" when written (not at import: a long suite would age the cache past the refresh age).
            "fetched_at": iso(datetime.now(timezone.utc) - age), "etag": None, "last_modified": None,
            "status": 200}
    (folder / "unresolved.meta.json").write_text(json.dumps(meta))


def incident(name: str, *, components: list[str] | None = None, impact: str = "major",
             status: str = "investigating", minutes_ago: int = 34, iid: str = "8z7l5zcy0v3b") -> dict[str, Any]:
    return {
        "id": iid, "name": name, "status": status, "impact": impact,
        "created_at": iso(NOW - timedelta(minutes=minutes_ago)), "resolved_at": None,
        "shortlink": "https://stspg.io/abc", "components": [{"name": c} for c in components or []],
        "incident_updates": [],
    }


def assistant(ts: datetime, model: str = "claude-opus-4-6", sidechain: bool = False) -> dict[str, Any]:
    return {"type": "assistant", "isSidechain": sidechain, "timestamp": iso(ts), "sessionId": "s1",
            "requestId": f"req_{ts.timestamp()}",
            "message": {"id": f"msg_{ts.timestamp()}", "model": model, "role": "assistant",
                        "content": [{"type": "text", "text": "ok"}],
                        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                                  "cache_creation_input_tokens": 0}}}


def retry(ts: datetime, status: int = 529, etype: str = "overloaded_error") -> dict[str, Any]:
    return {"type": "system", "subtype": "api_error", "level": "error", "isSidechain": False,
            "sessionId": "s1", "timestamp": iso(ts),
            "error": {"status": status, "headers": {},
                      "error": {"type": "error", "error": {"type": etype, "message": "Overloaded"}}},
            "retryInMs": 1187.4, "retryAttempt": 3, "maxRetries": 10}


def final_500(ts: datetime) -> dict[str, Any]:
    return {"type": "assistant", "isSidechain": False, "timestamp": iso(ts), "sessionId": "s1",
            "message": {"id": "6d1b", "model": "<synthetic>", "role": "assistant",
                        "content": [{"type": "text", "text": "API Error: 500 {\"type\":\"error\"}"}],
                        "usage": {"input_tokens": 0, "output_tokens": 0}},
            "isApiErrorMessage": True, "error": "server_error", "apiErrorStatus": 500}


def write_transcript(path: Path, records: list[dict[str, Any]], filler_bytes: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        if filler_bytes:
            # Old, ordinary lines before the tail (tool results); only the last 64 KiB is read.
            line = json.dumps({"type": "user", "timestamp": iso(NOW - timedelta(hours=3)),
                               "message": {"role": "user", "content": [{"type": "tool_result",
                                           "content": "x" * 900}]}})
            for _ in range(filler_bytes // (len(line) + 1) + 1):
                fh.write(line + "\n")
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    return path


def run_hook(event: str, payload: dict[str, Any], env: dict[str, str] | None = None,
             timeout: float = 30) -> tuple[dict[str, Any] | None, subprocess.CompletedProcess[str]]:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "claimback", "hook", event],
                          input=json.dumps({"hook_event_name": event, "session_id": "s1", **payload}),
                          capture_output=True, text=True, env=full_env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout) if proc.stdout.strip() else None
    return out, proc


def agent_payload(transcript: Path | None = None, model: str | None = None) -> dict[str, Any]:
    tool_input: dict[str, Any] = {"description": "review", "prompt": "do it", "subagent_type": "general-purpose"}
    if model:
        tool_input["model"] = model
    return {"tool_name": "Agent", "tool_input": tool_input, "tool_use_id": "toolu_1",
            "transcript_path": str(transcript) if transcript else None, "cwd": "/tmp"}


def decisions(home: Path) -> list[dict[str, Any]]:
    path = home / "data" / "guard" / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def is_deny(out: dict[str, Any] | None) -> bool:
    return bool(out) and out.get("hookSpecificOutput", {}).get("permissionDecision") == "deny"


# ----------------------------------------------------------------------------- decisions


def test_no_incident_allows(isolated_home: Path) -> None:
    write_cache(isolated_home, [])
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None
    last = decisions(isolated_home)[-1]
    assert last["decision"] == "allow" and last["why"] == "no active outage"
    assert last["event"] == "PreToolUse" and "refresh" not in last  # fresh cache: no refresh


def test_active_claude_code_incident_denies_agent_launch_with_reason(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    out, _ = run_hook("PreToolUse", agent_payload())
    assert is_deny(out)
    reason = out["hookSpecificOutput"]["permissionDecisionReason"]
    assert "Elevated errors on Claude Code" in reason
    since = (NOW - timedelta(minutes=34)).strftime("%H:%M UTC")
    assert f"since {since}" in reason
    assert "claimback guard off" in reason and "CLAIMBACK_GUARD=off" in reason
    assert out["hookSpecificOutput"]["hookEventName"] == "PreToolUse"
    assert "Elevated errors on Claude Code" in out["systemMessage"]
    last = decisions(isolated_home)[-1]
    assert last["decision"] == "deny" and last["incidents"] == ["8z7l5zcy0v3b"]


def test_task_tool_is_guarded_but_other_tools_are_not(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    out, _ = run_hook("PreToolUse", {**agent_payload(), "tool_name": "Task"})
    assert is_deny(out)
    out, _ = run_hook("PreToolUse", {**agent_payload(), "tool_name": "Bash", "tool_input": {"command": "ls"}})
    assert out is None


def test_incident_on_other_component_or_below_min_impact_allows(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Login issues", components=["claude.ai"]),
                                incident("Slow console", impact="none", iid="x2")])
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None


def test_model_incident_for_a_model_the_session_does_not_use(isolated_home: Path, tmp_path: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Opus 4.6", components=["Claude API (api.anthropic.com)"])])
    sonnet = write_transcript(tmp_path / "p" / "s-sonnet.jsonl",
                              [assistant(NOW - timedelta(minutes=2), model="claude-sonnet-4-5-20250929")])
    out, _ = run_hook("PreToolUse", agent_payload(sonnet))
    assert out is None
    # The same incident does block a session on Opus 4.6 ...
    opus = write_transcript(tmp_path / "p" / "s-opus.jsonl",
                            [assistant(NOW - timedelta(minutes=2), model="claude-opus-4-6")])
    out, _ = run_hook("PreToolUse", agent_payload(opus))
    assert is_deny(out) and "Opus 4.6" in out["hookSpecificOutput"]["permissionDecisionReason"]
    # ... and a Sonnet session launching an Opus subagent.
    out, _ = run_hook("PreToolUse", agent_payload(sonnet, model="opus"))
    assert is_deny(out)


def test_burst_in_transcript_tail_denies_without_any_incident(isolated_home: Path, tmp_path: Path) -> None:
    write_cache(isolated_home, [])
    records = [assistant(NOW - timedelta(minutes=9)), retry(NOW - timedelta(minutes=6)),
               retry(NOW - timedelta(minutes=5), status=500, etype="api_error"),
               final_500(NOW - timedelta(minutes=4)), assistant(NOW - timedelta(seconds=5))]
    transcript = write_transcript(tmp_path / "proj" / "s1.jsonl", records, filler_bytes=200_000)
    out, _ = run_hook("PreToolUse", agent_payload(transcript))
    assert is_deny(out)
    reason = out["hookSpecificOutput"]["permissionDecisionReason"]
    assert "3 outage-class API failures" in reason
    assert decisions(isolated_home)[-1]["why"] == "burst in logs"


def test_old_failures_quota_errors_and_recovery_do_not_make_a_burst(isolated_home: Path, tmp_path: Path) -> None:
    write_cache(isolated_home, [])
    old = [retry(NOW - timedelta(minutes=50 + i)) for i in range(5)]
    quota = [retry(NOW - timedelta(minutes=3 - i / 2), status=429, etype="rate_limit_error") for i in range(4)]
    transcript = write_transcript(tmp_path / "proj" / "a.jsonl", old + quota + [assistant(NOW)])
    out, _ = run_hook("PreToolUse", agent_payload(transcript))
    assert out is None
    recovered = [retry(NOW - timedelta(minutes=6 - i)) for i in range(3)] + \
        [assistant(NOW - timedelta(minutes=2, seconds=i)) for i in range(3)]
    transcript = write_transcript(tmp_path / "proj" / "b.jsonl", recovered)
    out, _ = run_hook("PreToolUse", agent_payload(transcript))
    assert out is None


def lost_connection(ts: datetime) -> dict[str, Any]:
    return {"type": "system", "subtype": "api_error", "level": "error", "isSidechain": False, "sessionId": "s1",
            "timestamp": iso(ts), "error": {"cause": {"code": "ECONNRESET", "path": "https://api.anthropic.com/v1/messages"}},
            "retryInMs": 1200.0, "retryAttempt": 2, "maxRetries": 10}


def test_lost_connections_count_toward_a_burst_only_beside_an_http_failure(isolated_home: Path, tmp_path: Path) -> None:
    """A reset connection proves no outage on its own (it may be the user's network: core/classify.py
    NETWORK); beside a 529 it is one more failure of the burst."""
    write_cache(isolated_home, [])
    alone = [lost_connection(NOW - timedelta(minutes=6 - i)) for i in range(4)]
    out, _ = run_hook("PreToolUse", agent_payload(write_transcript(tmp_path / "proj" / "a.jsonl", alone)))
    assert out is None
    beside = alone[:2] + [retry(NOW - timedelta(minutes=1))]
    out, _ = run_hook("PreToolUse", agent_payload(write_transcript(tmp_path / "proj" / "b.jsonl", beside)))
    assert is_deny(out)
    assert "3 outage-class API failures" in out["hookSpecificOutput"]["permissionDecisionReason"]


def test_subagent_failures_count_toward_the_burst(isolated_home: Path, tmp_path: Path) -> None:
    write_cache(isolated_home, [])
    transcript = write_transcript(tmp_path / "proj" / "sess.jsonl", [assistant(NOW - timedelta(seconds=3))])
    sub = tmp_path / "proj" / "sess" / "subagents"
    for n in range(2):
        write_transcript(sub / f"agent-{n}.jsonl",
                         [dict(assistant(NOW - timedelta(minutes=5), sidechain=True)),
                          {**retry(NOW - timedelta(minutes=4 - n)), "isSidechain": True},
                          {**final_500(NOW - timedelta(minutes=3 - n)), "isSidechain": True}])
    out, _ = run_hook("PreToolUse", agent_payload(transcript))
    assert is_deny(out)
    assert "4 outage-class" in out["hookSpecificOutput"]["permissionDecisionReason"]


def api_request(ts: datetime, source: str = "agent:builtin:general-purpose") -> dict[str, Any]:
    """2.1.33x's record of one HTTP attempt (`id` is what an answer's `requestRef` names)."""
    return {"type": "api-request", "sessionId": "s1", "agentId": "a1b2c3d4e5f607182",
            "id": f"ar-{ts.timestamp()}", "timestamp": iso(ts), "version": "2.1.332", "querySource": source,
            "params": {"model": "claude-sonnet-4-6"}}


def final_529_of_a_subagent(ts: datetime) -> dict[str, Any]:
    return {**final_500(ts), "isSidechain": True, "apiErrorStatus": 529,
            "message": {"id": "7e2c", "model": "<synthetic>", "role": "assistant",
                        "content": [{"type": "text", "text": "API Error: 529 Overloaded. This is a server-side "
                                     "issue, usually temporary — try again in a moment."}],
                        "usage": {"input_tokens": 0, "output_tokens": 0}}}


def test_a_subagents_unanswered_attempts_before_its_final_are_its_burst(isolated_home: Path, tmp_path: Path) -> None:
    """2.1.332: a subagent killed after four 529s wrote four api-request records and one final, no retry
    record. The attempts met the final's error: four failures, a burst, as the ingest counts them. Attempts
    an answer followed (re-sent silently) and the main thread's, each with its own retry record, are not
    counted twice."""
    write_cache(isolated_home, [])
    transcript = write_transcript(tmp_path / "proj" / "sess.jsonl", [
        assistant(NOW - timedelta(seconds=30)), api_request(NOW - timedelta(seconds=20), "sdk"),
        assistant(NOW - timedelta(seconds=19))])
    sub = tmp_path / "proj" / "sess" / "subagents"
    killed = [api_request(NOW - timedelta(seconds=10 - n)) for n in range(4)] + \
        [final_529_of_a_subagent(NOW - timedelta(seconds=5))]
    write_transcript(sub / "agent-a1b2c3d4e5f607182.jsonl", killed)
    out, _ = run_hook("PreToolUse", agent_payload(transcript))
    assert is_deny(out)
    assert "4 outage-class" in out["hookSpecificOutput"]["permissionDecisionReason"]
    # A silent re-send then an answer, and a main thread whose attempts each have a retry record.
    write_transcript(sub / "agent-a1b2c3d4e5f607182.jsonl", [
        api_request(NOW - timedelta(seconds=9)), api_request(NOW - timedelta(seconds=8)),
        dict(assistant(NOW - timedelta(seconds=7), sidechain=True))])
    main = [assistant(NOW - timedelta(seconds=30))]
    for n in range(2):
        main += [api_request(NOW - timedelta(seconds=20 - 2 * n), "sdk"), retry(NOW - timedelta(seconds=19 - 2 * n))]
    main += [api_request(NOW - timedelta(seconds=14), "sdk")]
    transcript = write_transcript(tmp_path / "proj" / "sess.jsonl", main + [assistant(NOW - timedelta(seconds=13))])
    out, _ = run_hook("PreToolUse", agent_payload(transcript))
    assert out is None  # two failures: no burst
    assert decisions(isolated_home)[-1]["failures"] == 2


def test_corrupt_cache_fails_open_and_logs_it(isolated_home: Path) -> None:
    write_cache(isolated_home, None, body=b'{"incidents": [{"name": "trunc')
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None
    last = decisions(isolated_home)[-1]
    assert last["decision"] == "allow" and "corrupt" in last["cache"]


def test_no_cache_allows_and_starts_a_background_refresh(isolated_home: Path) -> None:
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None
    last = decisions(isolated_home)[-1]
    assert last["cache"] == "no status cache" and last["refresh"] == "started"
    # A second call within the refresh interval does not start another one.
    run_hook("PreToolUse", agent_payload())
    assert "refresh" not in decisions(isolated_home)[-1]


def test_stale_cache_is_not_trusted(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])],
                age=timedelta(hours=2))
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None
    assert "not trusted" in decisions(isolated_home)[-1]["cache"]


def test_unreachable_status_server_does_not_hold_the_hook(isolated_home: Path, httpserver: Any) -> None:
    """The status server hangs until the hook process has exited: the hook must not wait for it."""
    release = threading.Event()
    hits: list[str] = []

    def slow(request: Any) -> Any:
        from werkzeug import Response

        hits.append(request.path)
        release.wait(20)
        body = {"page": {"id": "p"}, "incidents": [incident("Elevated errors on Claude Code",
                                                             components=["Claude Code"])]}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/api/v2/incidents/unresolved.json").respond_with_handler(slow)
    env = {"CLAIMBACK_STATUS_URL": httpserver.url_for("/").rstrip("/")}
    try:
        out, _ = run_hook("PreToolUse", agent_payload(), env=env, timeout=15)
    finally:
        hook_done_before_release = not release.is_set()
        # give the detached refresh a moment to reach the server, then let it answer
        deadline = time.monotonic() + 10
        while not hits and time.monotonic() < deadline:
            time.sleep(0.05)
        release.set()
    assert hook_done_before_release and out is None
    assert hits == ["/api/v2/incidents/unresolved.json"]  # the refresh ran, detached
    cache = isolated_home / "cache" / "status" / "unresolved.json"
    deadline = time.monotonic() + 15
    while not cache.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.exists()
    # With the refreshed cache the next launch is denied.
    out, _ = run_hook("PreToolUse", agent_payload(), env=env)
    assert is_deny(out)


def test_monitoring_incident_warns_instead_of_blocking(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"],
                                         status="monitoring")])
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is not None and not is_deny(out)
    assert "Elevated errors on Claude Code" in out["systemMessage"]
    assert decisions(isolated_home)[-1]["decision"] == "warn"


# ----------------------------------------------------------------------------- other events and policy


def test_user_prompt_submit_and_session_start_warn(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    out, _ = run_hook("UserPromptSubmit", {"prompt": "SECRET-PROMPT-TEXT refactor everything", "cwd": "/tmp"})
    assert out["hookSpecificOutput"]["hookEventName"] == "UserPromptSubmit"
    assert "Elevated errors on Claude Code" in out["hookSpecificOutput"]["additionalContext"]
    assert "Elevated errors on Claude Code" in out["systemMessage"]
    assert "decision" not in out
    out, _ = run_hook("SessionStart", {"source": "startup"})
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    log = (isolated_home / "data" / "guard" / "decisions.jsonl").read_text()
    assert "SECRET-PROMPT-TEXT" not in log  # prompt text is never stored


def test_policy_from_config_toml(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[guard]\npre_tool_use = "warn"\nuser_prompt_submit = "block"\n')
    out, _ = run_hook("PreToolUse", agent_payload())
    assert not is_deny(out) and "systemMessage" in out
    out, _ = run_hook("UserPromptSubmit", {"prompt": "x"})
    assert out["decision"] == "block" and "Elevated errors on Claude Code" in out["reason"]
    # min_impact raised above the incident's: allow. The policy cache follows the file's changes.
    config.write_text('[guard]\nmin_impact = "critical"\n')
    os.utime(config, (time.time() + 5, time.time() + 5))
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None


def test_broken_config_fails_open_to_defaults(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    config = isolated_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[guard\npre_tool_use = ")
    out, _ = run_hook("PreToolUse", agent_payload())
    assert is_deny(out)  # defaults still guard
    assert "unreadable" in decisions(isolated_home)[-1]["note"]


def test_env_and_pause_override(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    out, _ = run_hook("PreToolUse", agent_payload(), env={"CLAIMBACK_GUARD": "off"})
    assert out is None and decisions(isolated_home)[-1]["decision"] == "off"
    subprocess.run([sys.executable, "-m", "claimback", "guard", "off", "--for", "10m"], check=True,
                   capture_output=True)
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None and "guard off until" in decisions(isolated_home)[-1]["why"]
    subprocess.run([sys.executable, "-m", "claimback", "guard", "on"], check=True, capture_output=True)
    out, _ = run_hook("PreToolUse", agent_payload())
    assert is_deny(out)


def test_stop_failure_is_recorded_and_guards_the_next_launch(isolated_home: Path) -> None:
    write_cache(isolated_home, [])
    out, _ = run_hook("StopFailure", {"error": "rate_limit", "error_details": "429 rate limited"})
    assert out is None
    out, _ = run_hook("PreToolUse", agent_payload())
    assert out is None  # a quota failure is not an outage
    run_hook("StopFailure", {"error": "server_error",
                             "error_details": "API Error: 500 Internal server error"})
    lines = (isolated_home / "data" / "guard" / "stop-failures.jsonl").read_text().splitlines()
    assert [json.loads(x)["class"] for x in lines] == ["quota_rate", "outage"]
    out, _ = run_hook("PreToolUse", agent_payload())
    assert is_deny(out)


SESSION = "8ef3de28-958b-41ca-bf57-e6929386a7a8"


def _headless_end(final: dict[str, Any]) -> list[dict[str, Any]]:
    """A `claude -p` session's closing lines as 2.1.332 writes them: the last message, then bookkeeping."""
    return [assistant(NOW - timedelta(seconds=30)), final,
            {"type": "last-prompt", "lastPrompt": "go", "sessionId": SESSION},
            {"type": "cost-state", "sessionId": SESSION, "totalCostUSD": 0, "modelUsage": {}}]


def test_session_end_records_the_final_error_stop_failure_never_reported(isolated_home: Path, tmp_path: Path) -> None:
    # 2.1.332 `-p` exits without waiting for StopFailure; SessionEnd (reason "other") is awaited.
    write_cache(isolated_home, [])
    transcript = write_transcript(tmp_path / "t.jsonl", _headless_end(final_500(NOW - timedelta(seconds=2))))
    end = {"session_id": SESSION, "transcript_path": str(transcript), "cwd": "/tmp", "reason": "other"}
    out, _ = run_hook("SessionEnd", end)
    assert out is None
    lines = [json.loads(x) for x in (isolated_home / "data" / "guard" / "stop-failures.jsonl").read_text().splitlines()]
    assert [(x["session"], x["error"], x["class"], x["from"]) for x in lines] == [
        (SESSION, "server_error", "outage", "SessionEnd")]
    assert decisions(isolated_home)[-1]["decision"] == "record"
    # The next headless run (a new session, no transcript yet) hears of it.
    assert is_deny(run_hook("PreToolUse", agent_payload())[0])


def test_session_end_adds_nothing_stop_failure_recorded_or_no_final_error(isolated_home: Path, tmp_path: Path) -> None:
    write_cache(isolated_home, [])
    failures = isolated_home / "data" / "guard" / "stop-failures.jsonl"
    transcript = write_transcript(tmp_path / "t.jsonl", _headless_end(final_500(NOW - timedelta(seconds=2))))
    run_hook("StopFailure", {"session_id": SESSION, "transcript_path": str(transcript), "error": "server_error",
                             "last_assistant_message": "API Error: 500 Internal server error."})
    run_hook("SessionEnd", {"session_id": SESSION, "transcript_path": str(transcript), "reason": "other"})
    assert len(failures.read_text().splitlines()) == 1
    assert decisions(isolated_home)[-1]["why"] == "final error already recorded by StopFailure"
    # Answered last; or a subagent's error after the main thread's answer: not the session's end.
    sub_error = {**final_500(NOW - timedelta(seconds=1)), "isSidechain": True}
    for records in ([assistant(NOW - timedelta(seconds=5))],
                    [final_500(NOW - timedelta(seconds=9)), assistant(NOW - timedelta(seconds=5)), sub_error]):
        other = write_transcript(tmp_path / "other.jsonl", records)
        run_hook("SessionEnd", {"session_id": "11111111-2222-4333-8444-555555555555",
                                "transcript_path": str(other), "reason": "other"})
        assert decisions(isolated_home)[-1]["why"] == "session did not end in an API error"
    assert len(failures.read_text().splitlines()) == 1


def test_garbage_stdin_fails_open(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    proc = subprocess.run([sys.executable, "-m", "claimback", "hook", "PreToolUse"], input="not json{",
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == ""
    last = decisions(isolated_home)[-1]
    assert last["decision"] == "allow" and last["error"].startswith("JSONDecodeError")


def test_unwritable_data_dir_still_answers(isolated_home: Path, tmp_path: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    (isolated_home / "data").write_text("a file where the data dir should be")
    out, _ = run_hook("PreToolUse", agent_payload())
    assert is_deny(out)


# ----------------------------------------------------------------------------- fast path


def test_hook_path_imports_no_cli_libraries(isolated_home: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "claimback", "hook", "PreToolUse"],
                          input=json.dumps(agent_payload()), capture_output=True, text=True, timeout=30)
    assert "permissionDecision" in proc.stdout
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "claimback.prevent.hook" in modules
    for heavy in ("click", "rich", "httpx", "platformdirs", "tomllib", "claimback.cli", "msgspec"):
        assert heavy not in modules, heavy


@pytest.mark.parametrize("xdg", [False, True])
def test_fast_dirs_match_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: bool) -> None:
    from claimback import config

    assert signals.fast_dirs() == (str(config.config_dir()), str(config.data_dir()), str(config.cache_dir()))
    monkeypatch.delenv("CLAIMBACK_HOME")
    if xdg:
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            monkeypatch.setenv(var, str(tmp_path / var.lower()))
    else:
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            monkeypatch.delenv(var, raising=False)
    assert signals.fast_dirs() == (str(config.config_dir()), str(config.data_dir()), str(config.cache_dir()))


# ----------------------------------------------------------------------------- pure helpers


def test_classify_incident_on_real_archive_titles() -> None:
    from importlib import resources

    rows = json.loads(resources.files("claimback").joinpath("data/anthropic-incidents.json").read_text())["incidents"]
    by_id = {r["id"]: r["name"] for r in rows}
    policy = dict(signals.DEFAULT_POLICY)
    # The founding incident names "some models", none in particular: it concerns every session.
    founding = {"name": by_id["8z7l5zcy0v3b"], "status": "identified", "impact": "major", "components": []}
    assert signals.classify_incident(founding, policy, ["haiku-4.5"]) == "active"
    named = {"name": "Elevated errors for Claude Fable 5, Claude Sonnet 5, Claude Haiku 4.5, and other models",
             "status": "investigating", "impact": "major", "components": []}
    assert named["name"] in by_id.values()
    assert signals.classify_incident(named, policy, ["opus-4.6"]) == "active"  # "and other models"
    mythos = {"name": "Elevated errors for Claude Mythos 5, Claude Fable 5, and Claude Sonnet 5",
              "status": "monitoring", "impact": "minor", "components": []}
    assert mythos["name"] in by_id.values()
    assert signals.classify_incident(mythos, policy, ["fable-5"]) == "monitoring"
    assert signals.classify_incident(mythos, policy, ["opus-4.6"]) is None
    opus5 = {"name": "Elevated errors on Claude Opus 5", "status": "investigating", "impact": "minor", "components": []}
    assert signals.classify_incident(opus5, policy, ["opus-5"]) == "active"
    assert signals.classify_incident(opus5, policy, ["opus-5.1"]) is None  # another model, listed apart
    assert signals.classify_incident(opus5, policy, ["opus"]) == "active"  # alias: version unknown
    assert signals.classify_incident(opus5, policy, ["sonnet-5"]) is None
    assert signals.classify_incident(opus5, policy, []) == "active"  # model unknown: count it
    # Components listed: the policy's decide (a claude.ai login incident is not the guard's business).
    login = {"name": "Errors logging into Claude.ai", "status": "investigating", "impact": "major",
             "components": [{"name": "claude.ai"}]}
    assert signals.classify_incident(login, policy, []) is None
    assert signals.classify_incident(login, dict(policy, components=["claude.ai"]), []) == "active"
    # An update's affected components count, as they do for the outage windows.
    bare = {"name": "Elevated errors", "status": "identified", "impact": "major", "components": []}
    assert signals.classify_incident(bare, policy, []) is None  # no component, no product named
    later = dict(bare, incident_updates=[{"body": "Investigating.", "created_at": "2026-05-15T01:14:00Z",
                                          "affected_components": [{"name": "Claude Code"}]}])
    assert signals.classify_incident(later, policy, []) == "active"
    # Not the guard's business however open: quality notices, another product's errors.
    for name in ("Claude Sonnet 4 degraded performance quality", "Elevated Connector Error Rates"):
        assert signals.classify_incident(dict(opus5, name=name), policy, []) is None


def test_bedrock_sessions_are_warned_not_blocked_by_the_status_page(isolated_home: Path, tmp_path: Path) -> None:
    write_cache(isolated_home, [incident("Elevated errors on Claude Code", components=["Claude Code"])])
    out, _ = run_hook("PreToolUse", agent_payload(), env={"CLAUDE_CODE_USE_BEDROCK": "1"})
    assert out is not None and not is_deny(out) and "Elevated errors" in out["systemMessage"]
    # their own failing requests still block
    records = [retry(NOW - timedelta(minutes=3 - i)) for i in range(3)]
    transcript = write_transcript(tmp_path / "p" / "b.jsonl", records)
    out, _ = run_hook("PreToolUse", agent_payload(transcript), env={"CLAUDE_CODE_USE_BEDROCK": "1"})
    assert is_deny(out)
