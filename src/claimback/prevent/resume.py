"""What an outage killed, and how to re-run only that (DESIGN §7 `resume`).

Two kinds of lost work are listed, newest first:

* *subagent tasks* — a Task/Agent launch whose run was killed, interrupted or never answered
  (`tasks.outcome`, judged from the run's own file first), when the failure that ended it is of the
  outage class;
* *main-session turns* — a prompt whose turn ended in outage-class failures with no successful request
  after them.

Each item says whether it was already redone: a task is *done* when a later launch with the same
prompt (any session) completed — or, failing that, a later launch with the same description and
subagent type in the same project within a day; a turn is *done* when the same prompt was submitted
again later, and *continued* when its session went on working afterwards.

`build_resume(..., with_prompts=True)` reads the original prompts back from the transcripts at the
recorded (file, offset) — only for display; they are never stored.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from claimback.core.classify import NETWORK, OUTAGE
from claimback.core.times import format_iso, parse_iso
from claimback.errors import BadInput
from claimback.ledger.store import Ledger

KILLED_OUTCOMES = ("killed", "no_result", "interrupted")
RELAUNCH_SAME_DESCRIPTION_WITHIN = timedelta(hours=24)
# A parent-side failure this long after a run's last own record still counts as what ended it.
CAUSE_SLACK = timedelta(minutes=5)
_TOKENS = "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens"


@dataclass
class KilledTask:
    tool_use_id: str
    session_id: str | None
    description: str | None
    subagent_type: str | None
    tool_name: str | None
    launched_ts: str | None
    ended_ts: str | None  # the failure that ended it
    outcome: str  # killed | no_result | interrupted
    parent_reported: str | None  # what the parent was told: completed | failed | none
    agent_id: str | None
    requests: int
    tokens_burned: int
    cause_class: str | None
    cause_signature: str | None
    status: str  # pending | done
    relaunched_as: str | None = None  # tool_use_id of the completed re-launch
    relaunched_ts: str | None = None
    relaunched_session: str | None = None
    relaunch_match: str | None = None  # "same prompt" | "same description"
    prompt_len: int | None = None
    prompt: str | None = None  # only with with_prompts; never stored
    prompt_problem: str | None = None


@dataclass
class KilledTurn:
    session_id: str
    turn_id: str
    prompt_ts: str | None
    ended_ts: str
    failures: int
    requests: int
    tokens_burned: int
    cause_signature: str | None
    status: str  # pending | done | continued
    resubmitted_ts: str | None = None
    resubmitted_session: str | None = None
    prompt_len: int | None = None
    prompt: str | None = None
    prompt_problem: str | None = None


@dataclass
class SessionPlan:
    session_id: str
    resume_command: str
    pending_tasks: list[str]  # tool_use_ids
    pending_turns: list[str]  # turn ids
    prompt: str | None = None  # the text to paste, with_prompts only


@dataclass
class ResumeReport:
    tasks: list[KilledTask]
    turns: list[KilledTurn]
    plans: list[SessionPlan]
    window: dict[str, Any] | None = None
    session_filter: str | None = None
    other_cause_tasks: int = 0  # killed tasks whose cause was not an outage (quota, auth...): not listed
    notes: list[str] = field(default_factory=list)
    demo: bool = False

    @property
    def pending_tasks(self) -> list[KilledTask]:
        return [t for t in self.tasks if t.status == "pending"]

    @property
    def pending_turns(self) -> list[KilledTurn]:
        return [t for t in self.turns if t.status == "pending"]


# -- helpers --------------------------------------------------------------------------------------
def _shift(ts: str | None, delta: timedelta) -> str | None:
    moment = parse_iso(ts)
    return format_iso(moment + delta) if moment else None


def _read_record(path: str | None, offset: int | None) -> tuple[dict[str, Any] | None, str | None]:
    """The transcript record at (path, offset), or (None, why not)."""
    if not path or offset is None:
        return None, "no evidence location recorded"
    try:
        with open(path, "rb") as handle:
            handle.seek(int(offset))
            line = handle.readline()
    except FileNotFoundError:
        return None, "transcript no longer on disk (Claude Code's cleanupPeriodDays may have deleted it)"
    except OSError as exc:
        return None, f"transcript unreadable ({exc.strerror})"
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None, "transcript changed since ingest (no record at the recorded offset)"
    return (record, None) if isinstance(record, dict) else (None, "unexpected record shape")


def read_task_prompt(path: str | None, offset: int | None, tool_use_id: str) -> tuple[str | None, str | None]:
    record, problem = _read_record(path, offset)
    if record is None:
        return None, problem
    content = (record.get("message") or {}).get("content")
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and block.get("id") == tool_use_id:
            prompt = (block.get("input") or {}).get("prompt")
            if isinstance(prompt, str) and prompt:
                return prompt, None
            return None, "the launch carried no prompt"
    return None, "transcript changed since ingest (launch not found at the recorded offset)"


def read_user_prompt(path: str | None, offset: int | None) -> tuple[str | None, str | None]:
    record, problem = _read_record(path, offset)
    if record is None:
        return None, problem
    content = (record.get("message") or {}).get("content")
    if isinstance(content, str):
        return content, None
    texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"
             and isinstance(b.get("text"), str)] if isinstance(content, list) else []
    return ("\n".join(texts), None) if texts else (None, "no prompt text at the recorded offset")


def _window_bounds(ledger: Ledger, window_id: str) -> dict[str, Any]:
    """Start/end of an outage window (`claimback outages`), computed offline from the ledger."""
    try:
        from claimback.analysis.outages import find_windows, get_window
    except ImportError:
        raise BadInput("--window needs outage windows, which this build of claimback does not have; "
                       "use --session instead") from None
    # Offline: resume never waits on the network; the ledger keeps every incident fetched before.
    windows = find_windows(ledger, offline=True)
    window = get_window(windows, window_id)
    if window is None:
        known = ", ".join(w.window_id for w in windows[-8:]) or "none found"
        raise BadInput(f"no outage window {window_id!r} (known: {known}); see `claimback outages`")
    return {"id": window.window_id, "start": window.start, "end": window.end,
            "incident_ids": list(window.incident_ids), "confirmed_by": window.confirmed_by}


class _OutageSpans:
    """Outage windows (offline, from the ledger), computed once and only when a lost connection needs
    them: a `network` failure ended work for an outage only inside a window (core/classify.py)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._spans: list[tuple[str, str]] | None = None

    def holds(self, ts: str | None) -> bool:
        if ts is None:
            return False
        if self._spans is None:
            try:
                from claimback.analysis.outages import find_windows
            except ImportError:
                self._spans = []
            else:
                self._spans = [(w.start, _shift(w.end, CAUSE_SLACK) or w.end)
                               for w in find_windows(self.ledger, offline=True, sync=False)]
        return any(start <= ts <= end for start, end in self._spans)

    def ended_by_outage(self, failure_class: str | None, ts: str | None) -> bool:
        return failure_class == OUTAGE or (failure_class == NETWORK and self.holds(ts))


def _in_window(ts: str | None, window: dict[str, Any] | None) -> bool:
    if window is None:
        return True
    if ts is None:
        return False
    return window["start"] <= ts <= (_shift(window["end"], CAUSE_SLACK) or window["end"])


# -- tasks ----------------------------------------------------------------------------------------
def _task_cause(ledger: Ledger, task: dict[str, Any]) -> dict[str, Any] | None:
    """The failure that ended a run: its own last failure, else the parent's in the run's span."""
    if task["agent_id"]:
        rows = ledger.rows(
            "SELECT ts, failure_class, signature FROM failures WHERE agent_id = ? AND kind <> 'interrupt' "
            "ORDER BY ts DESC LIMIT 1", (task["agent_id"],))
        if rows:
            return rows[0]
    start = task["launched_ts"]
    end = task["result_ts"] or task["agent_last_ts"]
    end = _shift(end, CAUSE_SLACK) if end else _shift(start, timedelta(hours=6))
    if not start or not task["session_id"]:
        return None
    rows = ledger.rows(
        "SELECT ts, failure_class, signature FROM failures WHERE session_id = ? AND agent_id IS NULL "
        "AND kind <> 'interrupt' AND ts >= ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
        (task["session_id"], start, end))
    return rows[0] if rows else None


def _project_of(ledger: Ledger, session_id: str | None) -> str | None:
    if not session_id:
        return None
    return ledger.scalar("SELECT project FROM sessions WHERE session_id = ?", (session_id,))


def _relaunch(ledger: Ledger, task: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    if task["prompt_hash"]:
        rows = ledger.rows(
            "SELECT tool_use_id, session_id, launched_ts FROM tasks WHERE prompt_hash = ? "
            "AND launched_ts > ? AND outcome = 'completed' AND tool_use_id <> ? "
            "ORDER BY CASE WHEN session_id = ? THEN 0 ELSE 1 END, launched_ts LIMIT 1",
            (task["prompt_hash"], task["launched_ts"] or "", task["tool_use_id"], task["session_id"] or ""))
        if rows:
            return rows[0], "same prompt"
    if task["description"] and task["launched_ts"]:
        until = _shift(task["launched_ts"], RELAUNCH_SAME_DESCRIPTION_WITHIN)
        project = _project_of(ledger, task["session_id"])
        rows = ledger.rows(
            "SELECT t.tool_use_id, t.session_id, t.launched_ts, s.project FROM tasks AS t "
            "LEFT JOIN sessions AS s ON s.session_id = t.session_id "
            "WHERE t.description = ? AND COALESCE(t.subagent_type, '') = ? AND t.launched_ts > ? "
            "AND t.launched_ts <= ? AND t.outcome = 'completed' AND t.tool_use_id <> ? "
            "ORDER BY t.launched_ts LIMIT 5",
            (task["description"], task["subagent_type"] or "", task["launched_ts"], until, task["tool_use_id"]))
        for row in rows:
            if row["session_id"] == task["session_id"] or (project and row["project"] == project):
                return row, "same description"
    return None, None


def _tokens_by_agent(ledger: Ledger, agent_ids: list[str]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(agent_ids), 500):
        chunk = agent_ids[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in ledger.rows(
                f"SELECT agent_id, COUNT(*) AS n, SUM({_TOKENS}) AS tokens FROM requests "
                f"WHERE agent_id IN ({marks}) GROUP BY agent_id", chunk):
            found[row["agent_id"]] = (int(row["n"]), int(row["tokens"] or 0))
    return found


def _parent_reported(task: dict[str, Any]) -> str:
    if task["result_ts"] is None:
        return "none"
    if task["result_status"]:
        return str(task["result_status"])
    return "error" if task["result_is_error"] else "result"


def _killed_tasks(ledger: Ledger, session: str | None, window: dict[str, Any] | None,
                  with_prompts: bool, spans: _OutageSpans) -> tuple[list[KilledTask], int]:
    marks = ", ".join("?" for _ in KILLED_OUTCOMES)
    sql = (
        "SELECT t.tool_use_id, t.session_id, t.tool_name, t.agent_id, t.launched_ts, t.subagent_type, "
        "t.description, t.prompt_hash, t.prompt_len, t.result_ts, t.result_status, t.result_is_error, "
        "t.outcome, t.file_path, t.file_offset, a.last_ts AS agent_last_ts "
        f"FROM tasks AS t LEFT JOIN agents AS a ON a.agent_id = t.agent_id WHERE t.outcome IN ({marks})"
    )
    params: list[Any] = list(KILLED_OUTCOMES)
    if session:
        sql += " AND t.session_id = ?"
        params.append(session)
    rows = ledger.rows(sql, params)
    tokens = _tokens_by_agent(ledger, sorted({r["agent_id"] for r in rows if r["agent_id"]}))
    listed: list[KilledTask] = []
    other = 0
    for row in rows:
        cause = _task_cause(ledger, row)
        if cause is None or not spans.ended_by_outage(cause["failure_class"], cause["ts"]):
            other += 1
            continue
        if not _in_window(cause["ts"], window):
            continue
        relaunch, how = _relaunch(ledger, row)
        n, burned = tokens.get(row["agent_id"], (0, 0)) if row["agent_id"] else (0, 0)
        item = KilledTask(
            tool_use_id=row["tool_use_id"], session_id=row["session_id"], description=row["description"],
            subagent_type=row["subagent_type"], tool_name=row["tool_name"], launched_ts=row["launched_ts"],
            ended_ts=cause["ts"], outcome=row["outcome"], parent_reported=_parent_reported(row),
            agent_id=row["agent_id"], requests=n, tokens_burned=burned, cause_class=cause["failure_class"],
            cause_signature=cause["signature"], status="done" if relaunch else "pending",
            relaunched_as=relaunch["tool_use_id"] if relaunch else None,
            relaunched_ts=relaunch["launched_ts"] if relaunch else None,
            relaunched_session=relaunch["session_id"] if relaunch else None, relaunch_match=how,
            prompt_len=row["prompt_len"],
        )
        if with_prompts:
            item.prompt, item.prompt_problem = read_task_prompt(row["file_path"], row["file_offset"],
                                                                row["tool_use_id"])
        listed.append(item)
    listed.sort(key=lambda t: (t.ended_ts or t.launched_ts or "", t.tool_use_id), reverse=True)
    return listed, other


# -- turns ----------------------------------------------------------------------------------------
def _killed_turns(ledger: Ledger, session: str | None, window: dict[str, Any] | None,
                  with_prompts: bool, spans: _OutageSpans) -> list[KilledTurn]:
    sql = ("SELECT session_id, turn_id, MAX(ts) AS last_ts, COUNT(*) AS n, "
           "SUM(CASE WHEN failure_class = ? THEN 1 ELSE 0 END) AS http_level FROM failures "
           "WHERE is_sidechain = 0 AND agent_id IS NULL AND failure_class IN (?, ?) AND turn_id IS NOT NULL "
           "AND kind IN ('retry', 'final')")
    params: list[Any] = [OUTAGE, OUTAGE, NETWORK]
    if session:
        sql += " AND session_id = ?"
        params.append(session)
    sql += " GROUP BY session_id, turn_id"
    turns: list[KilledTurn] = []
    for group in ledger.rows(sql, params):
        sid, turn, last_ts = group["session_id"], group["turn_id"], group["last_ts"]
        if not _in_window(last_ts, window):
            continue
        if not group["http_level"] and not spans.holds(last_ts):
            continue  # only lost connections, outside any outage window: not shown to be an outage
        recovered = ledger.scalar(
            "SELECT COUNT(*) FROM requests WHERE session_id = ? AND turn_id = ? AND is_sidechain = 0 "
            "AND ts > ?", (sid, turn, last_ts))
        if recovered:
            continue  # Claude Code's retries got through: the turn finished
        prompt_rows = ledger.rows(
            "SELECT ts, text_hash, text_len, file_path, file_offset FROM prompts WHERE prompt_key = ?", (turn,))
        prompt = prompt_rows[0] if prompt_rows else None
        usage = ledger.rows(
            f"SELECT COUNT(*) AS n, SUM({_TOKENS}) AS tokens FROM requests WHERE session_id = ? "
            "AND turn_id = ? AND is_sidechain = 0", (sid, turn))[0]
        signature = ledger.scalar(
            "SELECT signature FROM failures WHERE session_id = ? AND turn_id = ? AND agent_id IS NULL "
            "AND failure_class IN (?, ?) ORDER BY ts DESC LIMIT 1", (sid, turn, OUTAGE, NETWORK))
        item = KilledTurn(session_id=sid, turn_id=turn, prompt_ts=prompt["ts"] if prompt else None,
                          ended_ts=last_ts, failures=int(group["n"]), requests=int(usage["n"] or 0),
                          tokens_burned=int(usage["tokens"] or 0), cause_signature=signature,
                          status="pending", prompt_len=prompt["text_len"] if prompt else None)
        if prompt:
            again = ledger.rows(
                "SELECT ts, session_id FROM prompts WHERE text_hash = ? AND ts > ? AND prompt_key <> ? "
                "AND is_sidechain = 0 ORDER BY ts LIMIT 1", (prompt["text_hash"], last_ts, turn))
            if again:
                item.status, item.resubmitted_ts, item.resubmitted_session = (
                    "done", again[0]["ts"], again[0]["session_id"])
        if item.status == "pending" and ledger.scalar(
                "SELECT COUNT(*) FROM requests WHERE session_id = ? AND is_sidechain = 0 AND ts > ?",
                (sid, last_ts)):
            item.status = "continued"
        if with_prompts and prompt:
            item.prompt, item.prompt_problem = read_user_prompt(prompt["file_path"], prompt["file_offset"])
        turns.append(item)
    turns.sort(key=lambda t: (t.ended_ts, t.turn_id), reverse=True)
    return turns


# -- the paste-ready prompt -----------------------------------------------------------------------
def _hhmm(ts: str | None) -> str:
    moment = parse_iso(ts)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown time"


def render_paste_prompt(tasks: list[KilledTask], turns: list[KilledTurn]) -> str:
    """The text to paste after `claude --resume <session>`: re-dispatch only what did not finish."""
    ends = sorted(t for t in [x.ended_ts for x in tasks] + [x.ended_ts for x in turns] if t)
    when = f"at {_hhmm(ends[-1])}" if ends else "earlier"
    lines = [f"An Anthropic API outage ({when}) killed the work below before it finished. Work that "
             "completed is not listed; do not redo it."]
    if tasks:
        if len(tasks) == 1:
            lines += ["", "Re-launch this subagent task with the same subagent type and prompt:"]
        else:
            lines += ["", f"Re-launch these {len(tasks)} subagent tasks with the same subagent types and "
                      "prompts, in parallel where they are independent:"]
        for n, task in enumerate(tasks, 1):
            label = task.description or "(no description)"
            kind = task.subagent_type or "general-purpose"
            lines += ["", f"{n}. {task.tool_name or 'Agent'} \"{label}\" (subagent_type: {kind})"]
            if task.prompt:
                lines += ["   prompt:"] + [f"   | {p}" for p in task.prompt.splitlines() or [""]]
            else:
                lines.append(f"   (original prompt unavailable: {task.prompt_problem or 'not read'}; "
                             "reconstruct it from the conversation above)")
    if turns:
        lines += ["", ("Then finish this request of mine that the outage cut off:" if len(turns) == 1 else
                       "Then finish these requests of mine that the outage cut off:")]
        for n, turn in enumerate(turns, 1):
            if turn.prompt:
                lines += ["", f"{n}. (sent {_hhmm(turn.prompt_ts)})"] + [f"   | {p}" for p in
                                                                        turn.prompt.splitlines() or [""]]
            else:
                lines += ["", f"{n}. (sent {_hhmm(turn.prompt_ts)}; text unavailable: "
                          f"{turn.prompt_problem or 'not read'})"]
    return "\n".join(lines) + "\n"


def _resolve_session(ledger: Ledger, session: str) -> str:
    """A full session id from the id or a unique prefix of it (the tables show 8 characters)."""
    if ledger.scalar("SELECT COUNT(*) FROM sessions WHERE session_id = ?", (session,)):
        return session
    matches = [r["session_id"] for r in ledger.rows(
        "SELECT session_id FROM sessions WHERE session_id LIKE ? ORDER BY session_id LIMIT 6",
        (session.replace("%", "").replace("_", "") + "%",))]
    if len(matches) > 1:
        raise BadInput(f"--session {session!r} matches several sessions ({', '.join(m[:13] for m in matches)}…); "
                       "give more characters")
    return matches[0] if matches else session


def build_resume(ledger: Ledger, *, session: str | None = None, window_id: str | None = None,
                 with_prompts: bool = False, include_done: bool = False) -> ResumeReport:
    """Killed tasks and turns (newest first) and, per session, what to paste to re-run them.

    `include_done` puts already re-launched tasks and re-submitted turns into the paste-ready prompt
    too (they are always listed in the report).
    """
    window = _window_bounds(ledger, window_id) if window_id else None
    if session:
        session = _resolve_session(ledger, session)
    spans = _OutageSpans(ledger)
    tasks, other = _killed_tasks(ledger, session, window, with_prompts, spans)
    turns = _killed_turns(ledger, session, window, with_prompts, spans)
    by_session: dict[str, tuple[list[KilledTask], list[KilledTurn]]] = defaultdict(lambda: ([], []))
    for task in tasks:
        if task.session_id and (task.status == "pending" or include_done):
            by_session[task.session_id][0].append(task)
    for turn in turns:
        if turn.status == "pending" or (include_done and turn.status == "done"):
            by_session[turn.session_id][1].append(turn)
    plans = []
    for sid, (ptasks, pturns) in by_session.items():
        ptasks = sorted(ptasks, key=lambda t: (t.launched_ts or "", t.ended_ts or "", t.tool_use_id))
        pturns = sorted(pturns, key=lambda t: (t.prompt_ts or "", t.turn_id))
        plans.append(SessionPlan(
            session_id=sid, resume_command=f"claude --resume {sid}",
            pending_tasks=[t.tool_use_id for t in ptasks], pending_turns=[t.turn_id for t in pturns],
            prompt=render_paste_prompt(ptasks, pturns) if with_prompts else None))
    plans.sort(key=lambda p: max([t.ended_ts or "" for t in tasks if t.session_id == p.session_id]
                                 + [t.ended_ts for t in turns if t.session_id == p.session_id]), reverse=True)
    report = ResumeReport(tasks=tasks, turns=turns, plans=plans, window=window, session_filter=session,
                          other_cause_tasks=other)
    if session and not tasks and not turns and not ledger.scalar(
            "SELECT COUNT(*) FROM sessions WHERE session_id = ?", (session,)):
        report.notes.append(f"no session {session} in the ledger")
    if other:
        report.notes.append(f"{other} other killed task(s) were ended by something other than an outage "
                            "(quota, auth, a local error or the user) and are not listed")
    return report
