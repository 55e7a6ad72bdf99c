"""The founding scenario (DESIGN §8), generated deterministically as real-shaped Claude Code files.

A Max-plan user's four ordinary weeks, then the evening (US time) of 2026-05-14: from 01:06 UTC on
2026-05-15 requests fail with HTTP 529/500 and dropped connections for well over half an hour. Three
subagents (~80-90k tokens each) die mid-run; the parent is told one "completed" (Claude Code's known
misreport), one failed, and never hears back from the third. The user re-submits the prompt in a new
session after recovery and re-launches the three tasks, which finish. The weekly quota resets ~21 h
after the outage, so the burned share can never be used.

Nothing here is a shortcut around the pipeline: the demo writes transcript files in the same layouts and
record shapes as Claude Code, and every report is computed from them by the real ingest and analysis.
Quota snapshots (which come from the statusline, not from transcripts) are the only rows added directly.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from claimback.core.times import format_iso, parse_utc
from claimback.ledger.store import Ledger

SEED = 20260515
VERSION = "2.1.150"
MAIN_MODEL = "claude-opus-4-6"
AGENT_MODEL = "claude-sonnet-4-6"
PROJECT_SLUG = "-home-demo-work-billing-service"
CWD = "/home/demo/work/billing-service"
DEMO_PLAN = "max20"  # the founding user: a Max subscriber
OUTAGE_DAY = "2026-05-15"
WEEKLY_RESET = "2026-05-15T23:30:00.000Z"
INCIDENT_ID = "8z7l5zcy0v3b"

REFACTOR_PROMPT = (
    "Split the invoice generator into a pricing step and a rendering step, keep the public API, and "
    "have three reviewers check the spec, the tests and the database migration in parallel."
)
TASKS = (
    ("Spec review", "spec-reviewer", "Review the invoice split against docs/spec.md and list every "
     "behaviour that changed.", 72_000),
    ("Test coverage", "test-writer", "Write tests for the pricing step covering discounts, taxes and "
     "currency rounding.", 70_000),
    ("Migration audit", "db-auditor", "Audit migration 0042 for locking and backfill risks on the "
     "invoices table.", 74_000),
)
OVERLOADED = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
INTERNAL = '{"type":"error","error":{"type":"api_error","message":"Internal server error"}}'
WORDS = ("invoice pricing render tax discount currency rounding module test spec migration lock table "
         "backfill schema api request handler service config field value total line item customer "
         "refactor split step public keep check review error retry cache session").split()


@dataclass
class DemoScenario:
    root: Path
    projects_dir: Path
    snapshots: list[dict[str, Any]]

    def load_extras(self, ledger: Ledger) -> None:
        """Add what the transcripts cannot hold: statusline quota snapshots, and the incident archive."""
        with ledger.transaction():
            ledger.executemany(
                "INSERT INTO quota_snapshots (machine_id, ts, session_id, account, five_hour_pct, "
                "five_hour_resets_at, seven_day_pct, seven_day_resets_at, model) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (machine_id, ts) DO NOTHING",
                [("demo", s["ts"], s["session_id"], "demo-account", s["five_hour_pct"],
                  s["five_hour_resets_at"], s["seven_day_pct"], WEEKLY_RESET, MAIN_MODEL)
                 for s in self.snapshots],
            )
        try:
            from claimback.sources.statuspage import load_archive
        except ImportError:  # the status-page source is optional for the ledger-only reports
            return
        load_archive(ledger)


class _Writer:
    """Writes one transcript file in Claude Code's record shapes."""

    def __init__(self, path: Path, session_id: str, rng: random.Random, *, agent_id: str | None = None,
                 model: str = MAIN_MODEL) -> None:
        self.path = path
        self.session_id = session_id
        self.rng = rng
        self.agent_id = agent_id
        self.model = model
        self.parent: str | None = None
        self.lines: list[str] = []
        self.context = 0  # tokens of conversation cached so far

    def _base(self, moment: datetime) -> dict[str, Any]:
        record: dict[str, Any] = {"parentUuid": self.parent, "isSidechain": self.agent_id is not None,
                                  "userType": "external", "cwd": CWD, "sessionId": self.session_id,
                                  "version": VERSION, "gitBranch": "invoice-split"}
        if self.agent_id:
            record["agentId"] = self.agent_id
        record["uuid"] = str(uuid.UUID(int=self.rng.getrandbits(128)))
        record["timestamp"] = format_iso(moment)
        return record

    def _emit(self, record: dict[str, Any]) -> str:
        self.lines.append(json.dumps(record, separators=(",", ":")))
        self.parent = record.get("uuid", self.parent)
        return record["uuid"]

    def text(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(n))

    def prompt(self, moment: datetime, text: str) -> str:
        record = self._base(moment)
        record.update(type="user", message={"role": "user", "content": text})
        return self._emit(record)

    def request(self, moment: datetime, *, cache_write: int, output: int, tool_uses: list[dict] | None = None,
                stop_reason: str | None = "end_turn", model: str | None = None) -> dict[str, Any]:
        """One API response written as one line per content block (same id, requestId and usage)."""
        usage = {"input_tokens": self.rng.randint(2, 9), "cache_creation_input_tokens": cache_write,
                 "cache_read_input_tokens": self.context,
                 "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
                 "output_tokens": output, "service_tier": "standard"}
        message_id = "msg_01" + "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789")
                                        for _ in range(22))
        request_id = "req_011C" + "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789")
                                          for _ in range(20))
        blocks: list[dict[str, Any]] = [{"type": "text", "text": self.text(30)}] + list(tool_uses or [])
        for block in blocks:
            record = self._base(moment)
            record.update(type="assistant", requestId=request_id, requestDuration=self.rng.randint(4000, 30000),
                          message={"id": message_id, "type": "message", "role": "assistant",
                                   "model": model or self.model, "content": [block],
                                   "stop_reason": stop_reason, "usage": usage})
            self._emit(record)
        total = usage["input_tokens"] + self.context + cache_write + output
        self.context += cache_write
        return {"message_id": message_id, "request_id": request_id, "total": total}

    def tool_round(self, moment: datetime, tool: str = "Read") -> int:
        """A tool call and its result; returns the request's token total."""
        tool_id = _tool_id(self.rng)
        sent = self.request(moment, cache_write=self.rng.randint(900, 2600), output=self.rng.randint(150, 700),
                     tool_uses=[{"type": "tool_use", "id": tool_id, "name": tool,
                                 "input": {"file_path": f"{CWD}/src/invoice.py"}}], stop_reason="tool_use")
        record = self._base(moment + timedelta(seconds=2))
        record.update(type="user", message={"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "content": self.text(120)}]},
            toolUseResult={"type": "text", "file": {"filePath": f"{CWD}/src/invoice.py", "numLines": 120}})
        self._emit(record)
        return sent["total"]

    def retry(self, moment: datetime, attempt: int, max_retries: int = 10, *, status: int | None = 529,
              code: str | None = None) -> None:
        record = self._base(moment)
        if code:
            error: dict[str, Any] = {"cause": {"code": code, "path": "https://api.anthropic.com/v1/messages?beta=true"}}
        else:
            body = json.loads(OVERLOADED if status == 529 else INTERNAL)
            error = {"status": status, "headers": {}, "requestID": "req_011CW" + self.text(1)[:6].upper() + str(attempt),
                     "error": body}
        record.update(type="system", subtype="api_error", level="error", error=error,
                      retryInMs=round(500 * 2 ** min(attempt, 6) * (1 + self.rng.random() / 4), 1),
                      retryAttempt=attempt, maxRetries=max_retries)
        self._emit(record)

    def final_error(self, moment: datetime, text: str, *, error: str | None = "server_error",
                    status: int | None = 500) -> None:
        record = self._base(moment)
        record.update(type="assistant", message={
            "id": str(uuid.UUID(int=self.rng.getrandbits(128))), "model": "<synthetic>", "role": "assistant",
            "type": "message", "content": [{"type": "text", "text": text}], "stop_reason": "stop_sequence",
            "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "service_tier": None}}, isApiErrorMessage=True)
        if error:
            record["error"] = error
        if status:
            record["apiErrorStatus"] = status
        self._emit(record)

    def task_result(self, moment: datetime, tool_id: str, *, content: str, is_error: bool,
                    result: Any) -> None:
        record = self._base(moment)
        record.update(type="user", message={"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_id, "is_error": is_error, "content": content}]})
        if result is not None:
            record["toolUseResult"] = result
        self._emit(record)

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def _tool_id(rng: random.Random) -> str:
    return "toolu_01" + "".join(rng.choice("abcdefghijkmnopqrstuvwxyz0123456789") for _ in range(22))


def _session_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _agent_id(rng: random.Random) -> str:
    return "a" + "".join(rng.choice("0123456789abcdef") for _ in range(16))


def _open_session(projects: Path, rng: random.Random, start: datetime, context: int, prompt: str) -> _Writer:
    """A new main-thread session whose first prompt is at `start`."""
    sid = _session_id(rng)
    writer = _Writer(projects / PROJECT_SLUG / f"{sid}.jsonl", sid, rng)
    writer.context = context
    writer.prompt(start, prompt)
    return writer


def _ordinary_session(projects: Path, rng: random.Random, start: datetime, turns: int) -> None:
    sid = _session_id(rng)
    writer = _Writer(projects / PROJECT_SLUG / f"{sid}.jsonl", sid, rng)
    moment = start
    writer.context = rng.randint(14_000, 22_000)
    for turn in range(turns):
        writer.prompt(moment, f"{writer.text(12)} ({turn})")
        for _ in range(rng.randint(2, 5)):
            moment += timedelta(seconds=rng.randint(20, 90))
            writer.tool_round(moment, rng.choice(["Read", "Edit", "Bash", "Grep"]))
        moment += timedelta(seconds=rng.randint(20, 60))
        if rng.random() < 0.25:
            _completed_subagent(projects, rng, writer, moment)
            moment += timedelta(minutes=6)
        writer.request(moment, cache_write=rng.randint(500, 1500), output=rng.randint(300, 1200))
        moment += timedelta(minutes=rng.randint(1, 4))
    writer.write()


def _completed_subagent(projects: Path, rng: random.Random, parent: _Writer, moment: datetime,
                        description: str = "Explore code", subagent_type: str = "Explore",
                        prompt: str | None = None) -> str:
    tool_id = _tool_id(rng)
    prompt = prompt or f"Find where {parent.text(6)} is handled."
    parent.request(moment, cache_write=rng.randint(300, 900), output=rng.randint(120, 300), stop_reason="tool_use",
                   tool_uses=[{"type": "tool_use", "id": tool_id, "name": "Agent",
                               "input": {"description": description, "subagent_type": subagent_type,
                                         "prompt": prompt}}])
    agent_id = _agent_id(rng)
    agent = _Writer(projects / PROJECT_SLUG / parent.session_id / "subagents" / f"agent-{agent_id}.jsonl",
                    parent.session_id, rng, agent_id=agent_id, model=AGENT_MODEL)
    agent.context = 4_000
    at = moment + timedelta(seconds=3)
    agent.prompt(at, prompt)
    for _ in range(rng.randint(3, 6)):
        at += timedelta(seconds=rng.randint(15, 50))
        agent.tool_round(at, rng.choice(["Read", "Grep", "Glob"]))
    at += timedelta(seconds=20)
    agent.request(at, cache_write=600, output=rng.randint(500, 1500))
    agent.write()
    parent.task_result(at + timedelta(seconds=2), tool_id, content=f"Summary: {parent.text(40)}", is_error=False,
                       result={"status": "completed", "prompt": prompt, "agentId": agent_id,
                               "totalDurationMs": int((at - moment).total_seconds() * 1000),
                               "totalTokens": agent.context, "totalToolUseCount": 4,
                               "content": [{"type": "text", "text": "Summary"}]})
    return tool_id


def _killed_subagent(projects: Path, rng: random.Random, parent: _Writer, tool_id: str, launched: datetime,
                     prompt: str, target_tokens: int, first_error: datetime, attempts: int,
                     final_at: datetime) -> _Writer:
    agent_id = _agent_id(rng)
    agent = _Writer(projects / PROJECT_SLUG / parent.session_id / "subagents" / f"agent-{agent_id}.jsonl",
                    parent.session_id, rng, agent_id=agent_id, model=AGENT_MODEL)
    agent.context = 3_800
    at = launched + timedelta(seconds=2)
    agent.prompt(at, prompt)
    burned = 0
    while burned < target_tokens:
        at += timedelta(seconds=rng.randint(20, 35))
        burned += agent.tool_round(at, rng.choice(["Read", "Grep", "Bash"]))
    gap = (final_at - first_error) / max(attempts, 1)
    for attempt in range(1, attempts + 1):
        status, code = ((None, "ECONNRESET") if attempt % 4 == 0 else (529 if attempt % 3 else 500, None))
        agent.retry(first_error + gap * (attempt - 1), attempt, status=status, code=code)
    agent.final_error(final_at, f"API Error: 500 {INTERNAL}")
    agent.write()
    return agent


def build_demo(root: Path) -> DemoScenario:
    """Write the scenario under `root/projects` and return where it is."""
    rng = random.Random(SEED)
    projects = root / "projects"
    outage_day = parse_utc("2026-05-15T00:00:00Z")

    # Four ordinary weeks (afternoons UTC, away from the archive's other incidents).
    for day in range(28, 0, -1):
        date = outage_day - timedelta(days=day)
        for n in range(rng.choice([1, 1, 2])):
            start = date + timedelta(hours=15 + 2 * n, minutes=rng.randint(0, 50))
            _ordinary_session(projects, rng, start, turns=rng.randint(4, 9))
    # An ordinary quota limit (not an outage) three days before.
    limited = _Writer(projects / PROJECT_SLUG / f"{_session_id(rng)}.jsonl", "", rng)
    limited.session_id = limited.path.stem
    moment = parse_utc("2026-05-12T17:40:00Z")
    limited.context = 30_000
    limited.prompt(moment, "Run the full test suite and fix what fails.")
    limited.tool_round(moment + timedelta(seconds=30))
    limited.final_error(moment + timedelta(minutes=1), "You've hit your session limit · resets 9:50pm (America/Los_Angeles)",
                        error="rate_limit", status=429)
    limited.write()

    # --- The outage evening ---------------------------------------------------------------------
    # Session A: the refactor whose three reviewers die.
    t = parse_utc("2026-05-15T00:31:40Z")
    main_a = _open_session(projects, rng, t, 21_000, REFACTOR_PROMPT)
    for step in range(7):
        t += timedelta(seconds=rng.randint(50, 110))
        main_a.tool_round(t, ["Read", "Read", "Grep", "Edit", "Edit", "Bash", "Read"][step])
    launched = parse_utc("2026-05-15T00:58:03Z")
    tool_ids = [_tool_id(rng) for _ in TASKS]
    main_a.request(launched, cache_write=1_400, output=620, stop_reason="tool_use", tool_uses=[
        {"type": "tool_use", "id": tid, "name": "Agent",
         "input": {"description": d, "subagent_type": s, "prompt": p}}
        for tid, (d, s, p, _) in zip(tool_ids, TASKS)])
    finals = [parse_utc("2026-05-15T01:31:55Z"), parse_utc("2026-05-15T01:34:12Z"), parse_utc("2026-05-15T01:38:40Z")]
    agents = []
    for i, (tid, (_, _, prompt, tokens)) in enumerate(zip(tool_ids, TASKS)):
        agents.append(_killed_subagent(projects, rng, main_a, tid, launched, prompt, tokens,
                                       parse_utc(f"2026-05-15T01:0{6 + i}:2{i}Z"),
                                       attempts=3, final_at=finals[i]))
    # The parent hears: failed (with the error), "completed" (the misreport), and nothing at all.
    main_a.task_result(finals[0] + timedelta(seconds=3), tool_ids[0], content=f"API Error: 500 {INTERNAL}",
                       is_error=True, result={"status": "failed", "agentId": agents[0].agent_id,
                                              "error": f"API Error: 500 {INTERNAL}"})
    main_a.task_result(finals[1] + timedelta(seconds=3), tool_ids[1], content=f"API Error: 500 {INTERNAL}",
                       is_error=False, result={"status": "completed", "agentId": agents[1].agent_id,
                                               "totalTokens": 512, "totalToolUseCount": 0,
                                               "content": [{"type": "text", "text": f"API Error: 500 {INTERNAL}"}]})
    # The parent's own turn then fails while waiting on the third reviewer.
    t = parse_utc("2026-05-15T01:39:30Z")
    for attempt in range(1, 4):
        main_a.retry(t, attempt, status=529 if attempt != 2 else 500)
        t += timedelta(seconds=50 * attempt)
    main_a.final_error(t, "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try "
                       "again in a moment. If it persists, check https://status.claude.com.",
                       error="server_error", status=529)
    main_a.write()

    # Session C: a second terminal whose long cached context is cut by a dropped stream.
    t = parse_utc("2026-05-15T00:44:10Z")
    side = _open_session(projects, rng, t, 27_000, "Profile the PDF renderer and cut its memory use.")
    for _ in range(5):
        t += timedelta(seconds=rng.randint(60, 120))
        side.tool_round(t, "Bash")
    t = parse_utc("2026-05-15T01:12:31Z")
    side.prompt(t, "Now apply the streaming writer change.")
    side.request(t + timedelta(seconds=40), cache_write=2_200, output=3_900, stop_reason=None)  # partial output
    side.final_error(t + timedelta(seconds=95), "API Error: Connection lost mid-response. The response above "
                     "may be incomplete.", error="server_error", status=None)
    t = parse_utc("2026-05-15T01:47:05Z")
    side.prompt(t, "Try again: apply the streaming writer change.")
    for attempt, minutes in enumerate((4, 12, 20, 28, 36), start=1):
        side.retry(t + timedelta(minutes=minutes), attempt, status=529 if attempt % 2 else 500)
    side.final_error(parse_utc("2026-05-15T02:31:02Z"), f"API Error: 529 {OVERLOADED}", error="server_error", status=529)
    # Back after recovery: the 5-minute cache expired, so the whole context is written again.
    t = parse_utc("2026-05-15T02:47:20Z")
    side.prompt(t, "Apply the streaming writer change.")
    cached = side.context
    side.context = 0
    side.request(t + timedelta(seconds=35), cache_write=cached + 1_800, output=2_400)
    side.context = cached + 1_800
    for _ in range(3):
        t += timedelta(seconds=70)
        side.tool_round(t, "Edit")
    side.write()

    # Session B: after recovery the user re-submits the refactor and re-launches the reviewers.
    t = parse_utc("2026-05-15T02:41:15Z")
    main_b = _open_session(projects, rng, t, 21_000, REFACTOR_PROMPT)
    for step in range(4):
        t += timedelta(seconds=rng.randint(50, 100))
        main_b.tool_round(t, ["Read", "Edit", "Edit", "Bash"][step])
    for description, subagent_type, prompt, _ in TASKS:
        t += timedelta(seconds=30)
        _completed_subagent(projects, rng, main_b, t, description, subagent_type, prompt)
        t += timedelta(minutes=5)
    main_b.request(t, cache_write=1_100, output=1_600)
    main_b.write()

    snapshots = []
    for ts, five, seven in (("2026-05-15T00:30:05.000Z", 22.0, 71.0), ("2026-05-15T01:00:10.000Z", 41.0, 74.0),
                            ("2026-05-15T01:40:00.000Z", 77.0, 80.0), ("2026-05-15T02:40:30.000Z", 9.0, 83.0),
                            ("2026-05-15T03:20:00.000Z", 31.0, 86.0)):
        snapshots.append({"ts": ts, "session_id": main_a.session_id, "five_hour_pct": five,
                          "five_hour_resets_at": "2026-05-15T02:30:00.000Z" if ts < "2026-05-15T02:30" else
                          "2026-05-15T07:30:00.000Z", "seven_day_pct": seven})
    return DemoScenario(root, projects, snapshots)
