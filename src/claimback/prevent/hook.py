"""`claimback hook <event>`: the Claude Code hook runtime (DESIGN §7).

Claude Code runs this as a separate process for every hooked event and waits for it, so it must be
fast (p95 ≤ 60 ms process to exit, see benchmarks/hook_latency.py). `claimback.entry` dispatches
here before click, rich or httpx are imported; this module itself imports only the standard library
and `claimback.prevent.signals`.

Contract (Claude Code hooks): the event's JSON arrives on stdin (session_id, transcript_path, cwd,
hook_event_name, and per event tool_name/tool_input, prompt, source, error...). We always exit 0 and
speak through JSON on stdout:
- PreToolUse (matcher Agent|Task|Workflow): `hookSpecificOutput.permissionDecision = "deny"` with a reason;
- UserPromptSubmit: `decision = "block"` with a reason, or a warning (`systemMessage` for the user,
  `additionalContext` for the model);
- SessionStart: a warning the same way;
- StopFailure: output is ignored; the failure is recorded at once for the next hook call;
- SessionEnd: output is ignored; a final API error that StopFailure did not record (`claude -p` exits
  without waiting for that hook) is recorded from the transcript's last message.
It fails open: any error, a missing or corrupt cache, a slow disk → allow (no output), exit 0, and
the decision log says why.
"""

from __future__ import annotations

import os
import sys
import time

from claimback.core import jsonlite as json  # json without re/enum: ~10 ms of every hook's start-up
from claimback.core.files import read_regular_bytes
from claimback.core.times import format_epoch
from claimback.prevent import signals

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms on the hook path
if TYPE_CHECKING:
    from typing import Any

EVENTS = ("PreToolUse", "UserPromptSubmit", "SessionStart", "StopFailure", "SessionEnd")
# Every tool that starts subagents: Agent (Task before 2.1.x), and Workflow, which runs them in the background.
GUARDED_TOOLS = ("Agent", "Task", "Workflow")
LOG_NAME = "decisions.jsonl"
LOG_ROTATE_BYTES = 1024 * 1024
# Stop reading subagent tails after this much of our own time: a slow disk must not hold a launch.
READ_BUDGET_S = 0.040
MAX_STDIN_BYTES = 8 * 1024 * 1024
RANK = {"off": 0, "warn": 1, "block": 2}


def decision_log_path(data_dir: str) -> str:
    return os.path.join(signals.guard_dir(data_dir), LOG_NAME)


def override_path(data_dir: str) -> str:
    return os.path.join(signals.guard_dir(data_dir), "override.json")


def run(argv: list[str]) -> int:
    """Entry point for `claimback hook EVENT`. Always returns 0 (fail open)."""
    t0 = time.perf_counter()
    record: dict[str, Any] = {"event": argv[0] if argv else None, "decision": "allow"}
    output: dict[str, Any] | None = None
    data_dir = None
    try:
        _config_dir, data_dir, cache_dir = signals.fast_dirs()
        output = handle(argv, record, data_dir, cache_dir, t0)
    except BaseException as exc:  # noqa: BLE001 - fail open on anything, even KeyboardInterrupt
        record["decision"] = "allow"
        record["error"] = _describe_error(exc)
        output = None
    if output is not None:
        try:
            sys.stdout.write(json.dumps(output, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
    record["ms"] = round((time.perf_counter() - t0) * 1000, 2)
    if data_dir is not None:
        log_decision(data_dir, record)
    return 0


# What the logs keep of hook input (privacy rule: the logs never hold a secret): a session id as Claude
# Code makes them (a UUID), an error kind as it names them ("server_error"); anything else is not kept.
# Shapes checked without `re` (its import, with enum's, costs more than the hook's own work).
_ID_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ERROR_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz_")


def _session_shape(value: str) -> bool:
    """[0-9A-Za-z]{8}-{4}-{4}-{4}-{12}, as a UUID is written."""
    parts = value.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(_ID_CHARS.issuperset(p) for p in parts)


def _error_shape(value: str) -> bool:
    return 1 <= len(value) <= 40 and _ERROR_CHARS.issuperset(value)


def _session(value: Any) -> str | None:
    return value if isinstance(value, str) and _session_shape(value) else None


def _describe_error(exc: BaseException) -> str:
    # OSError messages carry full paths and other messages may quote input (int('sk-...')): keep the
    # type, and only the parts that hold no input (errno; where JSON failed to parse).
    if isinstance(exc, OSError):
        return f"{type(exc).__name__} errno={exc.errno}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{type(exc).__name__}: {exc.msg} at char {exc.pos}"
    return type(exc).__name__


def _read_stdin() -> dict[str, Any]:
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return {}
        # Bounded: a 500 MB stdin took 4.7 s and its size in memory. A real payload is KBs (a long
        # prompt: a few hundred KB); one past the bound is not read further and the hook fails open.
        raw = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    except (OSError, ValueError):
        return {}
    if len(raw) > MAX_STDIN_BYTES:
        return {"_oversized": True}
    if not raw.strip():
        return {}
    payload = json.loads(raw)
    return payload if isinstance(payload, dict) else {}


def _env_mode() -> str | None:
    value = os.environ.get("CLAIMBACK_GUARD", "").strip().lower()
    if value in ("off", "0", "false", "no", "disable", "disabled"):
        return "off"
    if value in ("warn", "block"):
        return value
    return None


# The settings that can route Claude Code away from Anthropic's API (core/provider.py reads them).
_PROVIDER_VARS = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CODE_USE_FOUNDRY",
                  "ANTHROPIC_BASE_URL")


def third_party_provider() -> str | None:
    """The provider when it is not Anthropic's own API (Bedrock, Vertex, Foundry, or a base URL that is a
    relay or gateway), else None. The hook runs in Claude Code's environment, settings `env` applied."""
    if not any(os.environ.get(name) for name in _PROVIDER_VARS):
        return None  # Claude Code's default, Anthropic: no need to import the provider rules (~2 ms)
    from claimback.core.provider import ANTHROPIC, provider_from_env

    provider = provider_from_env(os.environ)
    return None if provider == ANTHROPIC else provider


def _override_active(data_dir: str, now: float) -> float | None:
    try:
        until = json.loads(read_regular_bytes(override_path(data_dir), 64 * 1024)).get("until")
    except (OSError, ValueError, AttributeError):
        return None
    return until if isinstance(until, (int, float)) and until > now else None


def handle(argv: list[str], record: dict[str, Any], data_dir: str, cache_dir: str,
           t0: float) -> dict[str, Any] | None:
    payload = _read_stdin()
    event = (argv[0] if argv else None) or payload.get("hook_event_name")
    record["event"] = event
    if payload.get("_oversized"):
        record["why"] = f"hook input over {MAX_STDIN_BYTES >> 20} MiB: not read (fail open)"
        return None
    if _session(payload.get("session_id")):
        record["session"] = payload["session_id"]
    if event not in EVENTS:
        record["why"] = "unknown event"
        return None
    env_mode = _env_mode()
    if env_mode == "off":
        record.update(decision="off", why="CLAIMBACK_GUARD=off")
        return None
    now = time.time()
    until = _override_active(data_dir, now)
    if until is not None:
        record.update(decision="off", why=f"claimback guard off until {format_epoch(until)}")
        return None
    config_dir = signals.fast_dirs()[0]
    policy, note = signals.load_policy(config_dir, data_dir)
    if note:
        record["note"] = note
    key = signals.EVENT_KEYS[event]
    mode = str(policy.get(key, "off")).lower()

    if event in ("StopFailure", "SessionEnd"):
        if mode == "off":
            record.update(decision="off", why="policy")
            return None
        if event == "StopFailure":
            record_stop_failure(data_dir, payload, now, record)
        else:
            record_unreported_final_error(data_dir, payload, now, record)
        return None

    if mode not in RANK or mode == "off":
        record.update(decision="off", why="policy")
        return None
    if env_mode == "warn":
        mode = "warn"
    extra_models: list[str] = []
    if event == "PreToolUse":
        tool = payload.get("tool_name")
        if tool not in GUARDED_TOOLS:
            record["why"] = "tool not guarded"
            return None
        tool_input = payload.get("tool_input")
        if isinstance(tool_input, dict) and isinstance(tool_input.get("model"), str):
            extra_models.append(tool_input["model"])  # the subagent may run on another model
    elif event == "SessionStart" and isinstance(payload.get("model"), str):
        # A new session has no transcript yet: its input names the model, so an incident on another
        # model does not warn it.
        extra_models.append(payload["model"])
    judgments = signals.Judgments(data_dir)
    assessment = signals.assess(
        policy=policy, cache_dir=cache_dir, data_dir=data_dir,
        transcript_path=payload.get("transcript_path"), extra_models=extra_models, now=now,
        deadline=t0 + READ_BUDGET_S, judgments=judgments,
    )
    judgments.save()
    maybe_refresh(cache_dir, assessment["cache_age"], policy, now, record)
    record["incidents"] = [i.get("id") for i in assessment["incidents"]]
    record["failures"] = assessment["failures"] + assessment["stop_failures"]
    if assessment["cache_problem"]:
        record["cache"] = assessment["cache_problem"]
    if assessment["tail_skipped"]:
        record["note"] = "read budget exceeded; subagent tails skipped"
    level = assessment["level"]
    if level is None:
        record["why"] = "no active outage"
        return None
    if level == "monitoring":
        mode = min(mode, str(policy.get("monitoring", "warn")).lower(), key=lambda m: RANK.get(m, 0))
        if mode == "off":
            record.update(decision="allow", why="incident in monitoring; policy allows")
            return None
    provider = None if assessment["burst"] else third_party_provider()
    if provider:
        # Anthropic's status page speaks for its own API; on Bedrock, Vertex, Foundry or a gateway it is a
        # hint, not a reason to stop work (the user's own failures still are).
        mode = "warn" if mode == "block" else mode
        record["note"] = f"provider {provider}: status page incidents only warn"
    what = signals.describe(assessment, now)
    record["why"] = "status page" if assessment["incidents"] else "burst in logs"
    if assessment["incidents"] and assessment["burst"]:
        record["why"] = "status page + burst in logs"
    return render(event, mode, what, record)


def _override_hint() -> str:
    return ("To launch anyway the user can run `claimback guard off --for 30m` (or start Claude Code "
            "with CLAIMBACK_GUARD=off, or set pre_tool_use = \"warn\" under [guard] in claimback's "
            "config.toml).")


def render(event: str, mode: str, what: str, record: dict[str, Any]) -> dict[str, Any]:
    if event == "PreToolUse":
        if mode == "block":
            record["decision"] = "deny"
            reason = (f"claimback guard paused this subagent launch: {what}. A subagent started during "
                      f"an outage is likely to die mid-run and burn quota. Do not retry the launch until "
                      f"the outage clears; tell the user. {_override_hint()}")
            return {
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": reason,
                },
                "systemMessage": f"claimback guard: subagent launch paused — {what}. "
                                 "Override: `claimback guard off --for 30m`.",
            }
        record["decision"] = "warn"
        return {"systemMessage": f"claimback guard: {what}. Subagents launched now may die mid-run."}
    if event == "UserPromptSubmit" and mode == "block":
        record["decision"] = "block"
        return {"decision": "block",
                "reason": f"claimback guard held this prompt: {what}. Retry when it clears, or run "
                          "`claimback guard off --for 30m` to send prompts anyway."}
    record["decision"] = "warn"
    return {
        "systemMessage": f"claimback guard: {what}. Long tasks and subagents may fail and burn quota.",
        "hookSpecificOutput": {
            "hookEventName": event,
            # Facts only: Claude Code's hooks page warns that imperative text in additionalContext can
            # read as a prompt injection; the model decides what to do with the facts.
            "additionalContext": (f"Status reported by claimback (an outage monitor the user installed): "
                                  f"{what}. Subagents and long multi-step tasks started during an outage "
                                  "often fail partway and still use quota."),
        },
    }


def record_stop_failure(data_dir: str, payload: dict[str, Any], now: float, record: dict[str, Any]) -> None:
    """Append the failure at once: the fastest local outage signal (no ledger, no lock)."""
    details = payload.get("error_details")
    if not isinstance(details, str):
        details = payload.get("last_assistant_message") if isinstance(payload.get("last_assistant_message"), str) else None
    cls = signals.classify_stop_failure(payload.get("error"), details)
    error = payload.get("error")
    line = {"ts": format_epoch(now), "session": _session(payload.get("session_id")),
            "error": error if isinstance(error, str) and _error_shape(error) else None,
            "class": cls}
    _append(signals.stop_failure_path(data_dir), line)
    record.update(decision="record", why=f"StopFailure {line['error'] or 'unknown'} ({cls})")


# A StopFailure line dated this long before the final error record still reports it (clock steps, the
# record written after the hook started).
_REPORTED_SLACK_S = 5.0


def record_unreported_final_error(data_dir: str, payload: dict[str, Any], now: float, record: dict[str, Any]) -> None:
    """SessionEnd: record the session's final API error unless StopFailure already did.

    `claude -p` (2.1.332) exits without waiting for StopFailure, so in a CI loop of headless runs the next
    run's guard would never hear of the last one's death; SessionEnd is awaited. One line per failure: a
    StopFailure line of the same session dated at or after the error (less a few seconds) is the same one."""
    final = signals.final_api_error(payload.get("transcript_path"))
    if final is None:
        record["why"] = "session did not end in an API error"
        return
    session = _session(payload.get("session_id"))
    error_at = signals.parse_ts(final.get("timestamp"))
    when = error_at if error_at is not None and error_at <= now + 60 else now
    for line in signals.stop_failure_records(data_dir):
        ts = signals.parse_ts(line.get("ts"))
        if session is not None and line.get("session") == session and ts is not None \
                and ts >= when - _REPORTED_SLACK_S:
            record["why"] = "final error already recorded by StopFailure"
            return
    # The record's `error` is the kind StopFailure carries (server_error for a 529 or a 500, rate_limit,
    # authentication_failed, ...), so the failure gets the class StopFailure would have given it.
    error = final.get("error")
    cls = signals.classify_stop_failure(error, signals.failure_fields(final)[3])
    line = {"ts": format_epoch(when), "session": session,
            "error": error if isinstance(error, str) and _error_shape(error) else None,
            "class": cls, "from": "SessionEnd"}
    _append(signals.stop_failure_path(data_dir), line)
    record.update(decision="record", why=f"final error {line['error'] or 'unknown'} ({cls}) at session end")


def maybe_refresh(cache_dir: str, cache_age: float | None, policy: dict[str, Any], now: float,
                  record: dict[str, Any]) -> None:
    """Start a detached refresh of the status cache when it is older than `refresh_seconds`.

    A marker file's mtime limits attempts to one per interval, so an unreachable status server costs
    one background process a minute, never a wait on the hot path.
    """
    interval = float(policy.get("refresh_seconds", 60))
    if cache_age is not None and cache_age < interval:
        return
    marker = os.path.join(cache_dir, "status", ".guard-refresh")
    try:
        if now - os.stat(marker).st_mtime < interval:
            return
    except OSError:
        pass
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    # Non-blocking and never through a symlink: a FIFO put here must not hold the hook (ENXIO instead).
    os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_NOFOLLOW", 0), 0o600))
    os.utime(marker, (now, now))
    import subprocess  # only when a refresh is due (~3 ms)

    kwargs: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                              "stderr": subprocess.DEVNULL, "close_fds": True}
    if os.name == "nt":  # pragma: no cover - Windows
        kwargs["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS | NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    subprocess.Popen([sys.executable, "-m", "claimback.prevent.refresh"], **kwargs)
    record["refresh"] = "started"


def _append(path: str, obj: dict[str, Any]) -> None:
    data = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size > LOG_ROTATE_BYTES:
            os.replace(path, path[:-len(".jsonl")] + ".1.jsonl")
        os.write(fd, data)  # one write of one line: concurrent hooks do not interleave
    finally:
        os.close(fd)


def log_decision(data_dir: str, record: dict[str, Any]) -> None:
    record = {"ts": format_epoch(time.time()), **record}
    try:
        _append(decision_log_path(data_dir), record)
    except OSError:
        pass  # a read-only data dir must not break Claude Code


def main() -> None:  # `python -m claimback.prevent.hook EVENT`
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":  # pragma: no cover
    main()
