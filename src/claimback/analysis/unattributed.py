"""Usage the client's own running total holds beyond the requests its transcripts show.

Claude Code 2.1.33x ends each run with a `cost-state` record: the session's cumulative usage per model
(restored from the file's last one on `--continue`/`--resume`, carried into a `--fork-session` fork).
Some requests leave no other record: a `/compact` summary request and its failed attempts are in no
transcript line (tests/test_realclient.py). What a cost-state holds beyond the session's counted
requests is such usage: **measured** (the client's own counts), **unattributed** (no record says which
request, failure or outage it was). It is reported beside the usage, never added to a loss category.

The method (docs/methodology.md, "Usage no record shows"), per session, its cost-states in time order:

- `counted(t)`: the session's request rows (transcript and telemetry alike) up to time t, per model.
- `base`: what the session's first cost-state carried over from another session of the same running
  total (same `startTime`: the session it was forked from, or continued in another file): the pointwise
  largest record of those sessions that fits inside what the first cost-state holds beyond its own
  requests. Never less than the true carry-over, so a fork never counts its original's usage again.
- each cost-state's excess = (record - base - counted(its time)), each count floored at 0; the excess
  that first appears at a record arose in the run that record closes, between the file's previous
  cost-state and this one (`since` .. `as_of`).
- the session's total is the last record's excess against all its counted requests: a run that never
  wrote its cost-state (killed) cannot inflate it.

Models are matched by their price-table name (`claude-opus-4-6[1m]` is `claude-opus-4-6`); a session
whose requests name a model no cost-state names is compared by its sums only (USD unknown).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from claimback.analysis.pricing import PricingTable, TokenSums
from claimback.core.lazyre import lazy_compile
from claimback.ledger.store import Ledger, chunks, marks

# Token kinds, in the order of every count vector here (the ledger's column names).
KINDS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_creation_1h_tokens",
         "cache_read_tokens")
BASIS = "measured, unattributed"
NOTE = ("what Claude Code's own running total (cost-state) holds beyond the requests its transcripts show "
        "(a /compact summary request leaves no other record); tied to no request, failure or outage, "
        "never added to a loss")
ANY_MODEL = "*"  # a session compared by its sums only
_SUFFIX = lazy_compile(r"\[[^\]]*\]$")

Vec = list[int]
Usage = dict[str, Vec]


@dataclass
class UnattributedPart:
    """Usage one run's cost-state shows beyond the session's counted requests."""

    session_id: str
    since: str | None  # the previous cost-state's time in its file (the file's first time for the first)
    until: str | None  # the latest time its file showed before the record
    by_model: dict[str, Vec]
    usd: float | None

    @property
    def tokens(self) -> int:
        return sum(_total(v) for v in self.by_model.values())


@dataclass
class UnattributedSummary:
    tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    usd: float | None = 0.0
    usd_complete: bool = True  # False when a model had no price (or models could not be matched)
    sessions: list[str] = field(default_factory=list)
    basis: str = BASIS
    note: str = NOTE

    def as_json(self, cost_key: str = "usd") -> dict[str, Any]:
        return {"tokens": self.tokens, "inputTokens": self.input_tokens, "outputTokens": self.output_tokens,
                "cacheCreationTokens": self.cache_creation_tokens, "cacheReadTokens": self.cache_read_tokens,
                cost_key: self.usd, "usdComplete": self.usd_complete, "sessions": self.sessions,
                "basis": self.basis, "note": self.note}

    def describe(self) -> str:
        """One line: the figure, its basis and what it is not."""
        usd = "" if self.usd is None else (f", ~${self.usd:,.2f} at API prices" if self.usd >= 0.01 or not self.usd
                                           else ", <$0.01 at API prices")
        if self.usd is not None and not self.usd_complete:
            usd += " (some models unpriced)"
        count = len(self.sessions)
        return (f"{self.tokens:,} tokens{usd} in {count} session{'s' if count != 1 else ''}, "
                f"{self.basis}: {self.note}")


def _total(v: Vec) -> int:
    # cache_creation_1h is a part of cache_creation, not a fifth kind
    return v[0] + v[1] + v[2] + v[4]


def _zero() -> Vec:
    return [0, 0, 0, 0, 0]


def _canon(model: str | None, pricing: PricingTable, memo: dict[str, str]) -> str:
    name = model or ""
    found = memo.get(name)
    if found is None:
        price = pricing.lookup(name) if name else None
        found = memo[name] = price.key if price is not None else _SUFFIX.sub("", name).lower()
    return found


def _minus(a: Usage, b: Usage) -> Usage:
    """a - b per model and kind, floored at 0, over a's models."""
    return {m: [max(x - y, 0) for x, y in zip(v, b.get(m, _zero()))] for m, v in a.items()}


def _fits(small: Usage, big: Usage) -> bool:
    return all(x <= y for m, v in small.items() for x, y in zip(v, big.get(m, _zero())))


def _max(a: Usage, b: Usage) -> Usage:
    out = {m: list(v) for m, v in a.items()}
    for m, v in b.items():
        out[m] = [max(x, y) for x, y in zip(out.get(m, _zero()), v)]
    return out


def _add(into: Usage, model: str, counts: Sequence[int]) -> None:
    vec = into.setdefault(model, _zero())
    for i, n in enumerate(counts):
        vec[i] += int(n or 0)


def _collapse(usage: Usage) -> Usage:
    out: Usage = {ANY_MODEL: _zero()}
    for v in usage.values():
        _add(out, ANY_MODEL, v)
    return out


@dataclass
class _Record:
    session_id: str
    start_ms: int | None
    since: str | None
    as_of: str | None
    offset: int
    usage: Usage


def _records(ledger: Ledger, pricing: PricingTable, memo: dict[str, str]) -> list[_Record]:
    records: dict[str, _Record] = {}
    for row in ledger.rows(f"SELECT state_key, model, session_id, start_ms, since, as_of, file_offset, "
                           f"{', '.join(KINDS)} FROM cost_states"):
        rec = records.get(row["state_key"])
        if rec is None:
            rec = records[row["state_key"]] = _Record(row["session_id"], row["start_ms"], row["since"],
                                                      row["as_of"], int(row["file_offset"] or 0), {})
        _add(rec.usage, _canon(row["model"], pricing, memo), [row[k] for k in KINDS])
    return list(records.values())


# The counted usage per session, model and cost-state time, summed by SQLite (or PostgreSQL): each request
# is counted at the first of its session's cost-state times at or after it (`bucket`; NULL after the
# last), so the usage counted at a record's time is the sum of the buckets up to it. Was every request
# row read into Python: 1.5-2.0 s per report at 1 GB when every session has cost-states (2.1.33x), now a
# few thousand grouped rows (one index seek per request, cost_states_session of migration 180), and the
# grouped rows come from report_cache while the ledger is unchanged (analysis/usage.grouped_rows).
_BUCKETED = ("SELECT r.session_id, r.model, (SELECT MIN(c.as_of) FROM cost_states AS c WHERE c.session_id = "
             "r.session_id AND c.as_of >= r.ts) AS bucket, "
             + ", ".join(f"SUM(r.{k})" for k in KINDS) + " FROM requests AS r{where} GROUP BY 1, 2, 3")
# Sessions few enough that reading their rows through the session index beats one pass over the table.
_FEW_SESSIONS = 200


def _bucketed_sql(ledger: Ledger, sessions: Sequence[str]) -> tuple[str, list[str]]:
    if len(sessions) <= _FEW_SESSIONS:
        marks = ", ".join("?" for _ in sessions)
        return _BUCKETED.format(where=f" WHERE r.session_id IN ({marks})"), list(sessions)
    # Most of the ledger's sessions: one pass over the table (its rows in page order) is cheaper than
    # a seek per row through the session index; the sessions without cost-state are left out below.
    return _BUCKETED.format(where=""), []


def _requests(ledger: Ledger, sessions: Sequence[str]) -> dict[str, list[tuple[str | None, str | None, Vec]]]:
    """Per session: (bucket, model, counts) sums (see _BUCKETED)."""
    from claimback.analysis.usage import grouped_rows

    wanted = set(sessions)
    out: dict[str, list[tuple[str | None, str | None, Vec]]] = defaultdict(list)
    sql, params = _bucketed_sql(ledger, sessions)
    for row in grouped_rows(ledger, sql, params):
        if row[0] in wanted:
            out[row[0]].append((row[2], row[1], [int(n or 0) for n in row[3:]]))
    return out


def _price(pricing: PricingTable, by_model: dict[str, Vec]) -> float | None:
    usd = 0.0
    for model, v in by_model.items():
        if not _total(v):
            continue
        if model == ANY_MODEL:
            return None
        # Sums of many requests: the part of each beyond a long-context tier is not known, so the
        # base rates apply (a lower bound for sessions with prompts beyond 200k tokens).
        cost = pricing.cost_of(model, TokenSums(v[0], v[1], max(v[2] - v[3], 0), v[3], v[4]))
        if cost is None:
            return None
        usd += cost
    return usd


# Bumped when the parts computed from the same rows change (the cached parts are then computed again).
_PARTS_VERSION = "1"


def unattributed_parts(ledger: Ledger, pricing: PricingTable | None = None) -> list[UnattributedPart]:
    """Every run's unattributed usage in the ledger, oldest first (see the module's docstring). With the
    bundled prices, from report_cache while the ledger is unchanged (every report of an unchanged
    ledger: 0.09 -> ~0.005 s at 1 GB); a price file of the user's is read anew each time, so never cached."""
    bundled = PricingTable.bundled()
    pricing = pricing or bundled
    if pricing is not bundled:
        return _parts(ledger, pricing)
    from claimback import __version__
    from claimback.analysis.usage import cached_rows

    # The ledger token (ledger/report_cache.py) moves with every cost-state added.
    rows = cached_rows(ledger, ["unattributed parts", _PARTS_VERSION, __version__, pricing.describe()],
                       lambda: [[p.session_id, p.since, p.until, p.by_model, p.usd] for p in _parts(ledger, pricing)])
    return [UnattributedPart(*row) for row in rows]


def _parts(ledger: Ledger, pricing: PricingTable) -> list[UnattributedPart]:
    memo: dict[str, str] = {}
    records = _records(ledger, pricing, memo)
    if not records:
        return []
    by_session: dict[str, list[_Record]] = defaultdict(list)
    family: dict[int, list[_Record]] = defaultdict(list)
    for rec in records:
        by_session[rec.session_id].append(rec)
        if rec.start_ms is not None:
            family[rec.start_ms].append(rec)
    counted_rows = _requests(ledger, sorted(by_session))
    parts: list[UnattributedPart] = []
    for session_id, recs in by_session.items():
        recs.sort(key=lambda r: (r.as_of or "", sum(_total(v) for v in r.usage.values()), r.offset))
        # Buckets in time order, those after the last cost-state (NULL) last.
        rows = sorted(((bucket, _canon(model, pricing, memo), counts)
                       for bucket, model, counts in counted_rows.get(session_id, [])),
                      key=lambda r: (r[0] is None, r[0] or ""))
        named = {m for r in recs for m in r.usage}
        by_sums = any(_total(c) and m not in named for _, m, c in rows)

        def shape(usage: Usage) -> Usage:
            return _collapse(usage) if by_sums else usage

        # The counted usage at each record's time (the buckets up to it) and in all, in one walk. A
        # record of no known time (none before it in its file) sorts first and is held against all.
        at: list[Usage] = []
        running: Usage = {}
        i = 0
        for rec in recs:
            while i < len(rows) and (rec.as_of is None or (rows[i][0] is not None and rows[i][0] <= rec.as_of)):
                _add(running, ANY_MODEL if by_sums else rows[i][1], rows[i][2])
                i += 1
            at.append({m: list(v) for m, v in running.items()})
        for _, model, counts in rows[i:]:
            _add(running, ANY_MODEL if by_sums else model, counts)

        first = shape(recs[0].usage)
        beyond = _minus(first, at[0])
        base: Usage = {}
        for other in family.get(recs[0].start_ms, []) if recs[0].start_ms is not None else []:
            if other.session_id != session_id and _fits(shape(other.usage), beyond):
                base = _max(base, shape(other.usage))
        seen: Usage = {}
        increments = []
        for rec, counted in zip(recs, at):
            excess = _minus(_minus(shape(rec.usage), base), counted)
            grown = _minus(excess, seen)
            seen = _max(seen, excess)
            increments.append((rec, grown))
        # The session's total: its last record against every counted request (a killed run's requests
        # are counted, never in a cost-state); the runs' parts are taken from it in time order.
        remaining = _minus(_minus(shape(recs[-1].usage), base), running)
        for rec, grown in increments:
            take = {m: [min(x, y) for x, y in zip(v, remaining.get(m, _zero()))] for m, v in grown.items()}
            remaining = _minus(remaining, take)
            take = {m: v for m, v in take.items() if _total(v)}
            if take:
                parts.append(UnattributedPart(session_id, rec.since, rec.as_of, take, _price(pricing, take)))
    parts.sort(key=lambda p: (p.until or "", p.session_id))
    return parts


def summarize(parts: Iterable[UnattributedPart]) -> UnattributedSummary:
    summary = UnattributedSummary()
    sessions: set[str] = set()
    for part in parts:
        sessions.add(part.session_id)
        for v in part.by_model.values():
            summary.input_tokens += v[0]
            summary.output_tokens += v[1]
            summary.cache_creation_tokens += v[2]
            summary.cache_read_tokens += v[4]
        summary.tokens += part.tokens
        if part.usd is None:
            summary.usd_complete = False
        else:
            summary.usd = (summary.usd or 0.0) + part.usd
    if summary.tokens and not summary.usd_complete and not summary.usd:
        summary.usd = None
    summary.sessions = sorted(sessions)
    return summary


def in_span(parts: Iterable[UnattributedPart], start: str | None, end: str | None) -> list[UnattributedPart]:
    """The parts whose run overlaps [start, end] (ISO-8601 UTC text; None is open)."""
    out = []
    for part in parts:
        first, last = part.since or part.until, part.until or part.since
        if first is None:
            continue
        if (end is None or first <= end) and (start is None or last >= start):
            out.append(part)
    return out


def for_window(ledger: Ledger, parts: Sequence[UnattributedPart], start: str, end: str,
               provider: str) -> UnattributedSummary | None:
    """The unattributed usage of the runs that overlap a window, in sessions of its provider: shown
    beside the window's loss (it may be what an outage cost a compaction), never added to it."""
    from claimback.core.provider import SQL_PROVIDER

    hits = in_span(parts, start, end)
    if not hits:
        return None
    sessions = sorted({p.session_id for p in hits})
    served: set[str] = set()
    for chunk in chunks(sessions, 400):
        served |= {r["session_id"] for r in ledger.rows(
            f"SELECT DISTINCT session_id FROM requests WHERE session_id IN ({marks(chunk)}) AND {SQL_PROVIDER} = ?",
            (*chunk, provider))}
    hits = [p for p in hits if p.session_id in served]
    return summarize(hits) if hits else None
