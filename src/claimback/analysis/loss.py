"""Loss attribution (DESIGN §5): what each outage window cost, measured apart from estimated.

Five categories per window. Each lost request is counted in at most one category, in this order:

1. killed_subagents (measured): every request of a subagent run that an outage killed — its Task/Agent
   call ended in an error, was interrupted, or never returned, and its last failure lies in the window.
2. partial_responses (measured): the request whose stream died mid-response (final failure with no HTTP
   status, or a "connection lost mid-response" / "stream idle timeout" / socket reset), in the window.
3. abandoned_turns (measured): the requests of a main-session turn that ended in an outage failure in
   the window and whose prompt the user re-submitted later (same normalized-text hash) in another
   session (a new session, or after `/clear`, which starts one). A re-send in the same session keeps the
   earlier work in context (DESIGN §5): it is listed as evidence (`resent_same_session`), not loss.
4. cache_rebuild (measured tokens, attributed): the first request after the window in each session that
   was active around it and hit by an outage failure in it, when the gap exceeded the cache TTL (5 min; 1 h if 1-h cache writes were used):
   its cache writes, up to the prompt size cached before the outage reached you (the start of your
   error span, else of the window): a session that began after that had nothing cached, zero.
5. failed_attempt_exposure (estimated): for each outage-class failed attempt in the window, the prompt
   size (input + cache read + cache write) of the last successful request of the same session/agent.
   Whether such attempts count against a quota is not public; this figure is labelled estimated.
   529 / overloaded_error attempts are apart (`overloaded_not_charged`): Anthropic's Claude Code error
   reference (https://code.claude.com/docs/en/errors) says a 529 is not your usage limit and does not
   count against your quota, so they are shown as not charged and never claimed.

Only the window's own provider counts (core/provider.py): a relay's or a cloud provider's requests and
failures never enter an Anthropic window's figures, and the reverse.

Redo work after the window (re-launched tasks, re-submitted prompts) is evidence, never extra loss.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from claimback.core.classify import ERROR_REFERENCE, MID_STREAM_MARKERS, NO_OUTPUT_MARKERS, extract_fields
from claimback.core.times import format_iso, parse_utc
from claimback.core.provider import ANTHROPIC, CLAIM_DESTINATION, SQL_PROVIDER
from claimback.analysis.scope import Scope, scope_totals
from claimback.ledger.store import Ledger, chunks

MEASURED = "measured"
ESTIMATED = "estimated"
CATEGORIES = ("killed_subagents", "partial_responses", "abandoned_turns", "cache_rebuild")
EXPOSURE = "failed_attempt_exposure"
NOT_CHARGED = "overloaded_not_charged"
NOT_CHARGED_BASIS = "not charged"
DOCS_529_URL = ERROR_REFERENCE
NOT_CHARGED_NOTE = "not charged (Anthropic documents that 529 does not count against your quota)"
EXPOSURE_ASSUMPTION = ("assumes each failed attempt re-sent the prompt of the last successful request; "
                       "whether such attempts count against a quota is not public")

KILLED_TASK_OUTCOMES = ("killed", "no_result", "interrupted")
_MID_STREAM_LOWER = tuple(marker.lower() for marker in MID_STREAM_MARKERS)
CACHE_TTL_5M = timedelta(minutes=5)
CACHE_TTL_1H = timedelta(hours=1)
ACTIVE_BEFORE = timedelta(hours=1)  # a session counts as "active around the window" if used this close
PARTIAL_LOOKBACK = timedelta(minutes=15)
AFTER_WINDOW = timedelta(hours=12)  # how far past a window re-submissions and cache rebuilds are sought


class WindowLike(Protocol):
    id: str
    start: str
    end: str


CostFn = Callable[[dict[str, Any]], "float | None"]


@dataclass
class LostRequest:
    request_key: str
    request_id: str | None
    ts: str
    session_id: str | None
    agent_id: str | None
    model: str | None
    tokens: int
    usd: float | None
    category: str
    basis: str


@dataclass
class ExposedAttempt:
    failure_key: str
    ts: str
    session_id: str | None
    agent_id: str | None
    model: str | None
    status: int | None
    error_type: str | None
    request_id: str | None
    tokens: int
    usd: float | None
    # Attempts this row stands for: 1 for a transcript row (one per attempt); a telemetry failure is one
    # row for all its attempts (api_error carries the total), and each of them was exposed.
    attempts: int = 1
    charged: bool = True  # False for 529 / overloaded_error: Anthropic documents those as not counted


def failure_attempts(failure: Mapping[str, Any]) -> int:
    """How many failed attempts one `failures` row stands for: the one rule the loss's exposure and the
    team report count by. A transcript writes a row per attempt (retries, then the final error): 1. A
    telemetry `final` row is the whole failure (api_error's `attempt` is the total; `max_attempts` the
    exhausted event's total_attempts): every one of its attempts, at least 1."""
    if failure.get("origin") == "otel" and failure.get("kind") == "final":
        return max(int(failure.get("max_attempts") or failure.get("attempt") or 1), 1)
    return 1


def is_overloaded(status: int | None, error_type: str | None, message: str | None = None) -> bool:
    """A 529 / overloaded_error attempt: Anthropic documents that it does not count against the quota."""
    if status == 529 or (error_type or "").lower() == "overloaded_error":
        return True
    if status is None and message:
        # The status or type the text itself names ("API Error: 529 …", "529 {…overloaded_error…}"),
        # read as the classifier reads it: a bare "529" elsewhere ("took 1529 ms") is no status.
        named_status, named_type, _ = extract_fields(message)
        return (named_status == 529 or (named_type or "").lower() == "overloaded_error"
                or "overloaded" in message.lower())
    return False


@dataclass
class CategoryFigure:
    tokens: int = 0
    usd: float | None = 0.0
    basis: str = MEASURED
    requests: int = 0
    request_ids: list[str] = field(default_factory=list)
    usd_complete: bool = True  # False when a model had no price: the USD figure is then a lower bound


@dataclass
class ExposureFigure:
    tokens: int = 0
    usd: float | None = 0.0
    basis: str = ESTIMATED
    attempts: int = 0
    usd_complete: bool = True


@dataclass
class Breakdown:
    key: str
    measured_tokens: int = 0
    estimated_tokens: int = 0
    usd_measured: float | None = 0.0
    usd_estimated: float | None = 0.0


@dataclass
class WindowLoss:
    window_id: str
    start: str
    end: str
    loss: dict[str, Any]
    measured_tokens: int
    estimated_tokens: int
    usd_measured: float | None
    usd_estimated: float | None
    by_session: list[Breakdown]
    by_model: list[Breakdown]
    lost_requests: list[LostRequest]
    exposed_attempts: list[ExposedAttempt]
    # All usage recorded by the sessions the window touched, from 2 h before it to 12 h after: the pool
    # every measured category draws from, so their sum can never exceed it.
    scope_total_tokens: int
    unpriced_models: list[str] = field(default_factory=list)
    resent_same_session: list[dict[str, Any]] = field(default_factory=list)


def _tokens(row: dict[str, Any]) -> int:
    return int(row["input_tokens"] + row["output_tokens"] + row["cache_creation_tokens"] + row["cache_read_tokens"])


def _prompt_size(row: dict[str, Any]) -> int:
    return int(row["input_tokens"] + row["cache_read_tokens"] + row["cache_creation_tokens"])


def _add_usd(total: float | None, value: float | None) -> float | None:
    if value is None:
        return total  # unpriced: tokens still counted, USD flagged incomplete by the caller
    return (total or 0.0) + value


# What the attribution and its pricing read of a request (each column costs every row read).
_REQUEST_COLUMNS = ("request_key, request_id, session_id, agent_id, ts, model, input_tokens, output_tokens, "
                    "cache_creation_tokens, cache_creation_1h_tokens, cache_read_tokens, speed, turn_id")


class ReportRows:
    """Rows that do not depend on the window (killed tasks, each agent's last failure): read once per
    report and shared by its windows (`attribute_window(..., shared=...)`), not once per window."""

    def __init__(self, ledger: Ledger) -> None:
        self.tasks = ledger.rows(
            "SELECT t.tool_use_id, t.session_id, t.agent_id, t.outcome, t.result_ts, t.launched_ts, "
            "t.description FROM tasks AS t WHERE t.outcome IN (?, ?, ?) AND t.agent_id IS NOT NULL "
            "ORDER BY t.launched_ts, t.tool_use_id", KILLED_TASK_OUTCOMES)
        self.agent_failures = {
            r["agent_id"]: r for r in ledger.rows(
                "SELECT agent_id, MAX(ts) AS last_ts, "
                "MAX(CASE WHEN failure_class IN ('outage', 'network') THEN ts END) AS last_api_ts "
                "FROM failures WHERE agent_id IS NOT NULL "
                "AND failure_class IN ('outage', 'network', 'interrupt') GROUP BY agent_id")}


class WindowScope:
    """Which sessions a window covers (hit by its failures, or active in the hour before it) and the bounds
    of its scope total: read for every window of a report first, so their scope totals are summed in one
    pass (analysis/scope.py), then handed to `attribute_window`."""

    def __init__(self, ledger: Ledger, window: WindowLike) -> None:
        provider = getattr(window, "provider", None) or ANTHROPIC
        self.provider = provider
        self.lo = format_iso(parse_utc(window.start) - ACTIVE_BEFORE - CACHE_TTL_1H)
        self.hi = format_iso(parse_utc(window.end) + AFTER_WINDOW)
        self.failures = ledger.rows(
            "SELECT failure_key, kind, session_id, agent_id, ts, status, error_type, error_code, request_id, "
            "message, failure_class, model, turn_id, origin, attempt, max_attempts FROM failures "
            # inside a window a lost connection (`network`) is outage loss too (core/classify.py)
            "WHERE ts >= ? AND ts <= ? AND failure_class IN ('outage', 'network') "
            f"AND {SQL_PROVIDER} = ? ORDER BY ts", (window.start, window.end, provider))
        sessions = {f["session_id"] for f in self.failures if f["session_id"]}
        active = ledger.rows(f"SELECT DISTINCT session_id FROM requests WHERE ts >= ? AND ts <= ? AND {SQL_PROVIDER} = ?",
                             (format_iso(parse_utc(window.start) - ACTIVE_BEFORE), window.end, provider))
        self.sessions = sorted(sessions | {r["session_id"] for r in active if r["session_id"]})
        self.total: int | None = None  # the scope total, once summed

    def scope(self) -> Scope:
        return Scope(self.sessions, self.lo, self.hi, self.provider)


def window_scopes(ledger: Ledger, windows: Sequence[WindowLike]) -> list[WindowScope]:
    """Every window's scope, with the scope totals summed for all of them at once."""
    scopes = [WindowScope(ledger, window) for window in windows]
    for scope, total in zip(scopes, scope_totals(ledger, [s.scope() for s in scopes])):
        scope.total = total
    return scopes


class _WindowData:
    """The rows one window needs, loaded once."""

    def __init__(self, ledger: Ledger, window: WindowLike, shared: ReportRows | None = None,
                 scope: WindowScope | None = None) -> None:
        self.start, self.end = window.start, window.end
        # When the outage reached your sessions: the start of your error span (a window merged with an
        # incident can begin earlier, before the session whose cache it later cost even existed).
        self.hit_from = getattr(window, "logs_start", None) or window.start
        scope = scope or window_scopes(ledger, [window])[0]
        provider, lo, hi = scope.provider, scope.lo, scope.hi
        self.failures = scope.failures
        sessions = scope.sessions
        self.sessions = sessions
        shared = shared or ReportRows(ledger)
        # launched_ts <= end, as SQL compares text (a NULL launch time never qualifies)
        self.tasks = [t for t in shared.tasks if t["launched_ts"] is not None and t["launched_ts"] <= window.end]
        self.agent_failures = shared.agent_failures
        hit = sorted({f["session_id"] for f in self.failures if f["session_id"]})
        # Main-session turns a final failure in the window ended (category 3).
        self.ended_turns = sorted({f["turn_id"] for f in self.failures
                                   if f["agent_id"] is None and f["kind"] == "final" and f["turn_id"]})
        # Subagents whose killed task ended in the window (category 1), as attribute_window decides it.
        self.logs_show_outage = bool(self.failures)
        killed_agents = sorted({t["agent_id"] for t in self.tasks
                                if (end := _task_end(t, self.agent_failures, self.logs_show_outage)) is not None
                                and self.start <= end <= self.end})
        # Rows up to the window's end: every row of the sessions the outage hit (categories 2, 4 and 5
        # read their streams), and of the other sessions around it the rows a killed subagent owns
        # (category 1), each read through an index: (session_id, ts) and agent_id. The rows an ended
        # turn owns in another session (category 3) are read only for a turn whose prompt was re-sent
        # (`turn_rows_elsewhere`): finding them needs every row of those sessions, and one statement for
        # all three scanned 274 k rows at 5 GB to return 50 k. After the window only two things are read,
        # by `first_after` and `turns_going_on`: category 4's first request of a stream that may have
        # rebuilt its cache, and whether a re-sent turn went on. The scope's token total is summed in
        # SQL. Reading every session's rows to 12 hours after every window made the rows read grow with
        # windows x sessions (1.2 M rows for 330 windows at 5 GB: 7 of loss's 11 s); reading the hit
        # sessions' 12 hours after still read 165 k rows there for the first one of each stream (0.9 s).
        self.requests: list[dict[str, Any]] = []
        # The scope's token total is summed for all windows of a report at once (analysis/scope.py).
        self.scope_total = int(scope.total) if scope.total is not None else scope_totals(ledger, [scope.scope()])[0]
        self.provider, self.hi, self.lo = provider, hi, lo
        self._ledger = ledger
        hit_set = set(hit)
        self._others = [s for s in sessions if s not in hit_set]
        for chunk in chunks(hit, 400):
            marks = ", ".join("?" for _ in chunk)
            self.requests += ledger.rows(
                f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE session_id IN ({marks}) AND ts >= ? AND ts <= ? "
                f"AND {SQL_PROVIDER} = ? ORDER BY ts", (*chunk, lo, window.end, provider))
        for agents in chunks(killed_agents, 400):
            for chunk in chunks(self._others, 400):
                marks, agent_marks = ", ".join("?" for _ in chunk), ", ".join("?" for _ in agents)
                self.requests += ledger.rows(
                    f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE agent_id IN ({agent_marks}) AND session_id IN "
                    f"({marks}) AND ts >= ? AND ts <= ? AND {SQL_PROVIDER} = ? ORDER BY ts",
                    (*agents, *chunk, lo, window.end, provider))
        # Prompts serve category 3 only: an ended turn's own prompt and the prompts with its text hash.
        self.prompts: list[dict[str, Any]] = []
        if self.ended_turns:
            columns = "prompt_key, session_id, ts, text_hash, text_len"
            hashes: set[str] = set()
            for turns in chunks(self.ended_turns, 400):
                marks = ", ".join("?" for _ in turns)
                hashes |= {r["text_hash"] for r in ledger.rows(
                    f"SELECT text_hash FROM prompts WHERE prompt_key IN ({marks}) AND is_sidechain = 0 "
                    "AND ts >= ? AND ts <= ?", (*turns, lo, hi))}
            for chunk in chunks(sorted(hashes), 400):
                marks = ", ".join("?" for _ in chunk)
                self.prompts += ledger.rows(
                    f"SELECT {columns} FROM prompts WHERE text_hash IN ({marks}) AND is_sidechain = 0 "
                    "AND ts >= ? AND ts <= ? ORDER BY ts", (*chunk, lo, hi))
            self.prompts.sort(key=lambda p: p["ts"])  # one time order over the chunks, as one query gave

    def first_after(self, session_id: str, agent_id: str | None) -> dict[str, Any] | None:
        """A stream's first request after the window (up to AFTER_WINDOW past it): one index seek."""
        agent = "agent_id IS NULL" if agent_id is None else "agent_id = ?"
        rows = self._ledger.rows(
            f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE session_id = ? AND {agent} AND ts > ? AND ts <= ? "
            f"AND {SQL_PROVIDER} = ? ORDER BY ts LIMIT 1",
            (session_id, *(() if agent_id is None else (agent_id,)), self.end, self.hi, self.provider))
        return rows[0] if rows else None

    def turn_rows_elsewhere(self, turns: Sequence[str]) -> list[dict[str, Any]]:
        """The main-thread rows of `turns` up to the window's end in the sessions around it the outage
        did not hit (the hit sessions' rows are read already)."""
        rows: list[dict[str, Any]] = []
        for chunk_turns in chunks(sorted(turns), 200):
            for chunk in chunks(self._others, 400):
                marks, turn_marks = ", ".join("?" for _ in chunk), ", ".join("?" for _ in chunk_turns)
                rows += self._ledger.rows(
                    f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE session_id IN ({marks}) AND turn_id IN "
                    f"({turn_marks}) AND agent_id IS NULL AND ts >= ? AND ts <= ? AND {SQL_PROVIDER} = ? ORDER BY ts",
                    (*chunk, *chunk_turns, self.lo, self.end, self.provider))
        return rows

    def turns_going_on(self, turns: Sequence[str]) -> set[str]:
        """Which of `turns` have a main-thread request after the window, in any session around it."""
        going_on: set[str] = set()
        for chunk_turns in chunks(sorted(turns), 200):
            for chunk in chunks(self.sessions, 400):
                marks, turn_marks = ", ".join("?" for _ in chunk), ", ".join("?" for _ in chunk_turns)
                going_on |= {r["turn_id"] for r in self._ledger.rows(
                    f"SELECT DISTINCT turn_id FROM requests WHERE session_id IN ({marks}) AND turn_id IN "
                    f"({turn_marks}) AND agent_id IS NULL AND ts > ? AND ts <= ? AND {SQL_PROVIDER} = ?",
                    (*chunk, *chunk_turns, self.end, self.hi, self.provider))}
        return going_on


def _task_end(task: dict[str, Any], agent_failures: dict[str, Any], logs_show_outage: bool) -> str | None:
    """When a killed task's run ended: its agent's last outage-class failure, else its result's time; None
    when it is not the outage's. A run the user interrupted, or one that never returned, with no API
    failure of its own is the outage's only where the user's logs show the outage in the window (an
    outage or lost-connection failure of any session there): during an incident on the status page alone
    it is the user's own stop, and a claim resting on it has nothing from the API to show."""
    last_failure = agent_failures.get(task["agent_id"])
    if task["outcome"] != "killed" and not logs_show_outage and not (last_failure and last_failure["last_api_ts"]):
        return None
    return last_failure["last_ts"] if last_failure else task["result_ts"]


def attribute_window(ledger: Ledger, window: WindowLike, cost: CostFn | None = None,
                     shared: ReportRows | None = None, scope: WindowScope | None = None) -> WindowLoss:
    """The loss of one outage window, every figure traceable to request ids or failure records. A
    report over many windows passes one `ReportRows` to all of them, and each its `WindowScope` from
    `window_scopes` (their scope totals summed at once)."""
    data = _WindowData(ledger, window, shared, scope)
    price: CostFn = cost or (lambda row: None)
    taken: dict[str, str] = {}  # request_key -> category
    lost: list[LostRequest] = []
    unpriced: set[str] = set()

    def take(row: dict[str, Any], category: str, tokens: int | None = None, priced_row: dict | None = None) -> None:
        if row["request_key"] in taken:
            return
        taken[row["request_key"]] = category
        usd = price(priced_row or row)
        if usd is None and row["model"]:
            unpriced.add(row["model"])
        lost.append(LostRequest(row["request_key"], row["request_id"], row["ts"], row["session_id"],
                                row["agent_id"], row["model"], _tokens(row) if tokens is None else tokens, usd,
                                category, MEASURED))

    by_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_stream: dict[tuple[str | None, str | None], list[dict[str, Any]]] = defaultdict(list)
    for row in data.requests:
        if row["agent_id"]:
            by_agent[row["agent_id"]].append(row)
        by_stream[(row["session_id"], row["agent_id"])].append(row)

    # 1. Killed subagent work.
    for task in data.tasks:
        ended = _task_end(task, data.agent_failures, data.logs_show_outage)
        if ended is None or not (data.start <= ended <= data.end):
            continue
        for row in by_agent.get(task["agent_id"], []):
            if row["ts"] <= ended:
                take(row, "killed_subagents")

    # 2. Partial responses: the request whose stream died under it.
    for failure in data.failures:
        text = (failure["message"] or "") + " " + (failure["error_code"] or "")
        lowered = text.lower()
        mid_stream = (failure["kind"] == "final" and failure["status"] is None) or any(
            marker in lowered for marker in _MID_STREAM_LOWER)
        if not mid_stream or any(marker in lowered for marker in NO_OUTPUT_MARKERS):
            continue
        stream = by_stream.get((failure["session_id"], failure["agent_id"]), [])
        earlier = [r for r in stream if r["ts"] <= failure["ts"]
                   and parse_utc(failure["ts"]) - parse_utc(r["ts"]) <= PARTIAL_LOOKBACK
                   and (failure["turn_id"] is None or r["turn_id"] == failure["turn_id"])]
        if earlier:
            take(earlier[-1], "partial_responses")

    # 3. Abandoned turns: a main-session turn ended by the outage, whose prompt was re-submitted later in
    # another session (new session or /clear). A same-session re-send kept the work in context: evidence.
    resent_same: list[dict[str, Any]] = []
    prompt_by_key = {p["prompt_key"]: p for p in data.prompts}
    ended_turns: dict[str, dict[str, Any]] = {}
    for failure in data.failures:
        if failure["agent_id"] is None and failure["kind"] == "final" and failure["turn_id"]:
            ended_turns[failure["turn_id"]] = failure
    resent: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}  # turn -> its prompt, the re-sends
    for turn_id, failure in ended_turns.items():
        prompt = prompt_by_key.get(turn_id)
        if prompt is None:
            continue
        resends = [p for p in data.prompts if p["text_hash"] == prompt["text_hash"] and p["ts"] > failure["ts"]
                   and p["prompt_key"] != turn_id]
        if resends:
            resent[turn_id] = (prompt, resends)
    # Only a re-sent turn asks whether it went on after the window (one statement for all of them) and
    # reads its rows in the sessions the outage did not hit (in time order among the hit sessions' rows).
    going_on = data.turns_going_on(list(resent)) if resent else set()
    elsewhere = data.turn_rows_elsewhere(list(resent)) if resent else []
    turn_pool = sorted(data.requests + elsewhere, key=lambda r: r["ts"]) if elsewhere else data.requests
    for turn_id, (prompt, resends) in resent.items():
        failure = ended_turns[turn_id]
        later_success = turn_id in going_on or any(
            r["turn_id"] == turn_id and r["ts"] > failure["ts"] and r["agent_id"] is None for r in turn_pool)
        if later_success:
            continue
        if not any(p["session_id"] != prompt["session_id"] for p in resends):
            turn_rows = [r for r in turn_pool if r["turn_id"] == turn_id and r["agent_id"] is None
                         and r["ts"] <= failure["ts"]]
            resent_same.append({"session_id": prompt["session_id"], "turn_ts": prompt["ts"],
                                "failed_at": failure["ts"], "resent_at": resends[0]["ts"],
                                "requests_before": len(turn_rows),
                                "tokens_before": sum(_tokens(r) for r in turn_rows)})
            continue
        for row in turn_pool:
            if row["turn_id"] == turn_id and row["agent_id"] is None and row["ts"] <= failure["ts"]:
                take(row, "abandoned_turns")

    # 4. Cache rebuild: the first request after the window, when the cache had expired meanwhile. Only
    # sessions the outage actually hit count: a pause in a session with no failure proves nothing.
    window_start = parse_utc(data.start)
    hit_sessions = {f["session_id"] for f in data.failures}
    for (session_id, agent_id), stream in by_stream.items():
        if session_id not in hit_sessions:
            continue
        before = [r for r in stream if r["ts"] <= data.end]
        # The cap: what was cached before the outage reached you (the start of your error span). A
        # session that began after that had nothing cached to lose.
        before_window = [r for r in stream if r["ts"] < data.hit_from]
        if not before or not before_window:
            continue
        last = before[-1]
        if parse_utc(last["ts"]) < window_start - ACTIVE_BEFORE:
            continue
        first = data.first_after(session_id, agent_id)
        if first is None:
            continue
        ttl = CACHE_TTL_1H if any(r["cache_creation_1h_tokens"] for r in before) else CACHE_TTL_5M
        if parse_utc(first["ts"]) - parse_utc(last["ts"]) <= ttl or first["cache_creation_tokens"] <= 0:
            continue
        cached_before = max(_prompt_size(r) for r in before_window[-3:])
        rebuilt = min(int(first["cache_creation_tokens"]), cached_before)
        if rebuilt <= 0:
            continue
        priced = dict(first, input_tokens=0, output_tokens=0, cache_read_tokens=0, cache_creation_tokens=rebuilt,
                      cache_creation_1h_tokens=min(first["cache_creation_1h_tokens"], rebuilt))
        take(first, "cache_rebuild", tokens=rebuilt, priced_row=priced)

    # 5. Failed-attempt exposure (estimated).
    exposed: list[ExposedAttempt] = []
    for failure in data.failures:
        if failure["kind"] not in ("retry", "final"):
            continue
        stream = by_stream.get((failure["session_id"], failure["agent_id"]), [])
        previous = [r for r in stream if r["ts"] < failure["ts"]]
        if not previous:
            # No answer before it to size its prompt by: nothing to estimate. A 529 is still one of the
            # window's overloaded attempts not charged (a session whose first prompt met the outage: a
            # published tree had 22 of the founding incident's 529s in two such sessions, and the packet
            # said "7 not charged" beside "30 failed requests (HTTP 529)").
            if is_overloaded(failure["status"], failure["error_type"], failure["message"]):
                exposed.append(ExposedAttempt(failure["failure_key"], failure["ts"], failure["session_id"],
                                              failure["agent_id"], None, failure["status"], failure["error_type"],
                                              failure["request_id"], 0, None, failure_attempts(failure), False))
            continue
        last_ok = previous[-1]
        attempts = failure_attempts(failure)
        size = _prompt_size(last_ok) * attempts
        usd = price(dict(last_ok, output_tokens=0))
        usd = usd * attempts if usd is not None else None
        charged = not is_overloaded(failure["status"], failure["error_type"], failure["message"])
        exposed.append(ExposedAttempt(failure["failure_key"], failure["ts"], failure["session_id"],
                                      failure["agent_id"], last_ok["model"], failure["status"],
                                      failure["error_type"], failure["request_id"], size, usd, attempts,
                                      charged))
        if usd is None and last_ok["model"] and charged:
            unpriced.add(last_ok["model"])

    result = _summarize(window, lost, exposed, data.scope_total, sorted(unpriced))
    result.resent_same_session = resent_same
    return result


def _credit(sessions: dict[str, Breakdown], models: dict[str, Breakdown], session_id: str | None,
            model: str | None, tokens: int, usd: float | None, basis: str) -> None:
    """Add one lost request or exposed attempt to the per-session and per-model breakdowns."""
    for key, table in ((session_id or "-", sessions), (model or "-", models)):
        entry = table.setdefault(key, Breakdown(key))
        if basis == MEASURED:
            entry.measured_tokens += tokens
            entry.usd_measured = _add_usd(entry.usd_measured, usd)
        else:
            entry.estimated_tokens += tokens
            entry.usd_estimated = _add_usd(entry.usd_estimated, usd)


def _summarize(window: WindowLike, lost: list[LostRequest], exposed: list[ExposedAttempt], scope_total: int,
               unpriced: list[str]) -> WindowLoss:
    figures = {name: CategoryFigure() for name in CATEGORIES}
    sessions: dict[str, Breakdown] = {}
    models: dict[str, Breakdown] = {}
    for item in lost:
        figure = figures[item.category]
        figure.tokens += item.tokens
        figure.requests += 1
        figure.request_ids.append(item.request_id or item.request_key)
        if item.usd is None:
            figure.usd_complete = False
        figure.usd = _add_usd(figure.usd, item.usd)
        _credit(sessions, models, item.session_id, item.model, item.tokens, item.usd, MEASURED)
    exposure = ExposureFigure()
    not_charged = ExposureFigure(basis=NOT_CHARGED_BASIS, usd=None)
    for attempt in exposed:
        if not attempt.charged:
            not_charged.tokens += attempt.tokens
            not_charged.attempts += attempt.attempts
            continue
        exposure.tokens += attempt.tokens
        exposure.attempts += attempt.attempts
        if attempt.usd is None:
            exposure.usd_complete = False
        exposure.usd = _add_usd(exposure.usd, attempt.usd)
        _credit(sessions, models, attempt.session_id, attempt.model, attempt.tokens, attempt.usd, ESTIMATED)
    for figure in figures.values():
        if figure.requests and not figure.usd_complete and figure.usd == 0.0:
            figure.usd = None
    if exposure.attempts and not exposure.usd_complete and exposure.usd == 0.0:
        exposure.usd = None
    measured = sum(f.tokens for f in figures.values())
    usd_measured: float | None = sum(f.usd or 0.0 for f in figures.values())
    if any(f.requests and f.usd is None for f in figures.values()):
        usd_measured = None
    loss: dict[str, Any] = dict(figures)
    loss[EXPOSURE] = exposure
    loss[NOT_CHARGED] = not_charged
    return WindowLoss(
        window_id=window.id, start=window.start, end=window.end, loss=loss, measured_tokens=measured,
        estimated_tokens=exposure.tokens, usd_measured=usd_measured,
        usd_estimated=exposure.usd, by_session=sorted(sessions.values(), key=lambda b: -(b.measured_tokens + b.estimated_tokens)),
        by_model=sorted(models.values(), key=lambda b: -(b.measured_tokens + b.estimated_tokens)),
        lost_requests=sorted(lost, key=lambda r: r.ts), exposed_attempts=exposed,
        scope_total_tokens=scope_total, unpriced_models=unpriced,
    )


@dataclass
class WindowReport:
    """One outage window with its loss and quota impact: the unit the headline, packet and JSON share."""

    id: str
    start: str
    end: str
    confirmed_by: str
    incidents: list[dict[str, Any]]
    # When your logs saw it: the span of your own failures (the window itself may be wider, as it is the
    # union with the incident's official span). Equal to start/end for status-page-only windows.
    affected_start: str
    affected_end: str
    loss: dict[str, Any]
    quota: Any
    measured_tokens: int
    estimated_tokens: int
    usd_measured: float | None
    usd_estimated: float | None
    by_session: list[Breakdown]
    by_model: list[Breakdown]
    scope_total_tokens: int
    unpriced_models: list[str]
    headline: str
    lost_requests: list[LostRequest]
    exposed_attempts: list[ExposedAttempt]
    provider: str = ANTHROPIC
    # The two named spans every output shows (analysis.outages.describe_spans): the incident's own span
    # on the status page, and the span of your own errors.
    statuspage_start: str | None = None
    statuspage_end: str | None = None
    logs_start: str | None = None
    logs_end: str | None = None
    spans: str = ""
    resent_same_session: list[dict[str, Any]] = field(default_factory=list)
    # Only what Anthropic's own API served can be claimed with Anthropic; `claim_to` names where a
    # claim for this window goes (core.provider.CLAIM_DESTINATION).
    claimable: bool = True
    claim_to: str = ""
    # Measured, unattributed usage of the runs that overlap the window (analysis/unattributed.py): the
    # client's running total beyond its transcript, tied to no failure; beside the loss, never in it.
    unattributed: dict[str, Any] | None = None


@dataclass
class LossReport:
    windows: list[WindowReport]
    totals: dict[str, Any]
    pricing: str
    notes: list[str] = field(default_factory=list)
    # Months with activity in your logs that no official incident data covers (analysis.outages).
    coverage_missing: list[str] = field(default_factory=list)


def request_pricer(table: Any) -> CostFn:
    """Adapts a `PricingTable` to the row-based cost function the attribution uses."""

    def cost(row: dict[str, Any]) -> float | None:
        return table.request_cost(row["model"], int(row["input_tokens"]), int(row["output_tokens"]),
                                  int(row["cache_creation_tokens"]), int(row["cache_creation_1h_tokens"]),
                                  int(row["cache_read_tokens"]), row.get("speed"))

    return cost


def _incident_dicts(window: Any) -> list[dict[str, Any]]:
    incidents = getattr(window, "incidents", None) or []
    out = []
    for incident in incidents:
        if isinstance(incident, dict):
            out.append(incident)
        else:
            out.append({k: getattr(incident, k, None) for k in ("id", "name", "url", "impact", "source")})
    return out


def _fmt_tokens(n: int) -> str:
    return f"{n:,}"


def headline(report: WindowReport) -> str:
    """One sentence a user can repeat to support: the measured loss first, every figure labelled by its
    basis, the window described by its two named spans (the same text in every output)."""
    from claimback.core.provider import LABELS

    names = ", ".join(f"incident {i.get('id')}" for i in report.incidents if i.get("id"))
    source = {"both": "confirmed by your logs", "statuspage": "status page only; your logs show no errors",
              "logs": "seen in your logs; no official incident"}.get(report.confirmed_by, report.confirmed_by)
    context = f"{names}, {source}" if names else source
    where = f"window {report.id} ({context}; {report.spans})"
    if not report.claimable:
        where = (f"window {report.id} ({LABELS.get(report.provider, report.provider)}, not claimable with "
                 f"Anthropic: a claim goes to {report.claim_to}; {report.spans})")
    not_charged = report.loss.get(NOT_CHARGED)
    if report.measured_tokens == 0 and report.estimated_tokens == 0:
        tail = ""
        if not_charged is not None and not_charged.attempts:
            tail = f"; {not_charged.attempts} overloaded (529) attempts {NOT_CHARGED_NOTE}"
        if report.unattributed:
            tail += f"; {unattributed_clause(report.unattributed)}"
        return f"No loss recorded in your logs in {where}{tail}."
    parts = [f"{_fmt_tokens(report.measured_tokens)} tokens lost, measured"]
    measured_parts = [f"{k.replace('_', ' ')} {_fmt_tokens(report.loss[k].tokens)}"
                      for k in CATEGORIES if report.loss[k].tokens]
    if measured_parts:
        parts[0] += f" ({', '.join(measured_parts)})"
    parts[0] += f", in {where}"
    if report.loss[EXPOSURE].attempts:
        parts.append(f"plus {_fmt_tokens(report.estimated_tokens)} tokens exposed by "
                     f"{report.loss[EXPOSURE].attempts} other failed attempts, estimated")
    if not_charged is not None and not_charged.attempts:
        parts.append(f"{not_charged.attempts} overloaded (529) attempts {NOT_CHARGED_NOTE}")
    if report.usd_measured is not None:
        usd = f"~${report.usd_measured:,.2f} at API prices"
        if report.usd_estimated:
            usd += f" (+${report.usd_estimated:,.2f} estimated)"
        parts.append(usd)
    else:
        parts.append("USD unknown (unpriced model)")
    quota = report.quota
    if quota is not None and quota.share_of_week_pct is not None:
        text = f"{quota.share_of_week_pct:g} % of your weekly quota ({quota.basis})"
        if quota.hours_to_reset is not None:
            text += f", {quota.hours_to_reset:g} h before your weekly reset"
        parts.append(text)
    if report.unattributed:
        parts.append(unattributed_clause(report.unattributed))
    return "; ".join(parts) + "."


def unattributed_clause(figure: dict[str, Any]) -> str:
    return (f"besides, {_fmt_tokens(figure['tokens'])} tokens measured but unattributed in the window's "
            f"sessions (Claude Code's own running total beyond its transcript records, e.g. a /compact; "
            f"tied to no failure, not in the loss)")


def build_loss_report(ledger: Ledger, windows: Sequence[Any], *, pricing: Any, plan: str | None = None,
                      weekly_reset: str | None = None, history: Any = None) -> LossReport:
    """The loss report of `windows`. `history` (a quota.TokenHistory) may be passed in so a caller
    that also shows daily totals reads the hourly totals once (audit)."""
    from claimback.analysis.quota import TokenHistory, load_snapshots, quota_impact

    from claimback.analysis.outages import describe_spans

    cost = request_pricer(pricing)
    reports = []
    # Read once for the whole report, not once per window (at 1 GB, 27 windows paid 216 range sums).
    shared = ReportRows(ledger) if windows else None
    history = history or TokenHistory(ledger)
    snapshots = load_snapshots(ledger) if windows else None
    from claimback.analysis.unattributed import for_window, unattributed_parts

    extra_parts = unattributed_parts(ledger, pricing) if windows else []
    # Each window's sessions first, so the scope totals of all windows are one pass over their rows.
    scopes = window_scopes(ledger, windows)
    for window, scope in zip(windows, scopes):
        loss = attribute_window(ledger, window, cost, shared, scope)
        logs_start, logs_end = getattr(window, "logs_start", None), getattr(window, "logs_end", None)
        sp_start, sp_end = getattr(window, "statuspage_start", None), getattr(window, "statuspage_end", None)
        affected_start = logs_start or window.start
        affected_end = logs_end or window.end
        quota = quota_impact(ledger, affected_start, affected_end, loss.measured_tokens + loss.estimated_tokens,
                             plan=plan, weekly_reset=weekly_reset, history=history, snapshots=snapshots)
        report = WindowReport(
            id=window.id, start=window.start, end=window.end,
            confirmed_by=getattr(window, "confirmed_by", "logs"), incidents=_incident_dicts(window),
            affected_start=affected_start, affected_end=affected_end,
            loss=loss.loss, quota=quota, measured_tokens=loss.measured_tokens,
            estimated_tokens=loss.estimated_tokens, usd_measured=loss.usd_measured,
            usd_estimated=loss.usd_estimated, by_session=loss.by_session, by_model=loss.by_model,
            scope_total_tokens=loss.scope_total_tokens, unpriced_models=loss.unpriced_models, headline="",
            lost_requests=loss.lost_requests, exposed_attempts=loss.exposed_attempts,
            provider=getattr(window, "provider", None) or ANTHROPIC, statuspage_start=sp_start,
            statuspage_end=sp_end, logs_start=logs_start, logs_end=logs_end,
            spans=describe_spans(sp_start, sp_end, logs_start, logs_end),
            resent_same_session=loss.resent_same_session)
        report.claimable = report.provider == ANTHROPIC
        report.claim_to = CLAIM_DESTINATION.get(report.provider, CLAIM_DESTINATION["other"])
        extra = for_window(ledger, extra_parts, window.start, window.end, report.provider) if extra_parts else None
        report.unattributed = extra.as_json() if extra is not None else None
        report.headline = headline(report)
        reports.append(report)
    usd_measured: float | None
    # Totals are what a claim to Anthropic can rest on: Anthropic windows only. Other providers'
    # windows keep their own figures, reported apart.
    claimable = [r for r in reports if r.claimable]
    usd_measured = sum(r.usd_measured or 0.0 for r in claimable)
    if any(r.usd_measured is None for r in claimable):
        usd_measured = None
    totals = {
        "measured_tokens": sum(r.measured_tokens for r in claimable),
        "estimated_tokens": sum(r.estimated_tokens for r in claimable),
        "usd_measured": usd_measured,
        "usd_estimated": sum(r.usd_estimated or 0.0 for r in claimable),
        "not_charged_attempts": sum(r.loss[NOT_CHARGED].attempts for r in claimable),
        "not_claimable": {p: sum(r.measured_tokens for r in reports if r.provider == p)
                          for p in sorted({r.provider for r in reports if not r.claimable})},
    }
    notes = [] if reports else ["no outage window in this period: nothing was lost to an outage"]
    return LossReport(reports, totals, pricing.describe() if hasattr(pricing, "describe") else "", notes)
