"""A window's scope total (analysis/loss.py `WindowLoss.scope_total_tokens`), summed for all windows at once.

A window's scope is the tokens its sessions recorded from 2 h before it to 12 h after, through its
provider: `SUM(tokens) WHERE session_id IN (sessions) AND lo <= ts <= hi AND provider = p`. Summed
window by window, a row is read once for every window whose scope holds it; a dense ledger's windows
overlap (at 5 GB, 330 windows with 16 sessions each read 1.19 M index rows for 557 k distinct ones).
Here each (session, provider) pair's time line is cut at every bound of the scopes that name it; each
piece between two cuts that some scope covers is summed once in SQL (in `requests_session`, migration
110: no table read), and a scope's total is the sum of its pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from claimback.core.provider import SQL_PROVIDER
from claimback.ledger.store import Ledger

_TOKENS_SUM = "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens"
# A cut lies just before its instant (a scope's `lo`: ts >= lo is inside) or just after it (a scope's
# `hi`: ts <= hi is inside); at one instant the cut before sorts first.
_BEFORE, _AFTER = 0, 1
# The comparisons that bound a piece from its two cuts' kinds.
_BOUNDS = {(_BEFORE, _BEFORE): (">=", "<"), (_BEFORE, _AFTER): (">=", "<="),
           (_AFTER, _BEFORE): (">", "<"), (_AFTER, _AFTER): (">", "<=")}
_CHUNK = 400  # pieces per statement (5 parameters each)


class Scope(NamedTuple):
    sessions: Sequence[str]
    lo: str  # ISO text, inclusive
    hi: str  # ISO text, inclusive
    provider: str


def piece_sql(rows: int, lower: str = ">=", upper: str = "<=") -> str:
    """The statement summing `rows` pieces (session, from, to, provider) with the given bounds: each
    piece one seek of `requests_session` (session_id, ts range; provider and tokens in the index)."""
    values = ", ".join("(?, ?, ?, ?)" for _ in range(rows))
    return (f"WITH piece(s, a, z, p) AS (VALUES {values}) SELECT piece.s, piece.a, piece.z, piece.p, "
            f"(SELECT COALESCE(SUM({_TOKENS_SUM}), 0) FROM requests WHERE session_id = piece.s "
            f"AND ts {lower} piece.a AND ts {upper} piece.z AND {SQL_PROVIDER} = piece.p) FROM piece")


def scope_totals(ledger: Ledger, scopes: Sequence[Scope]) -> list[int]:
    """Each scope's token total, exactly what `SUM ... WHERE session_id IN (sessions) AND lo <= ts <= hi
    AND provider = p` gives for it alone, with every index row read at most once."""
    # (session, provider) -> {cut: scopes opening (+) minus scopes closing (-) there}
    cuts: dict[tuple[str, str], dict[tuple[str, int], int]] = {}
    for scope in scopes:
        if scope.lo > scope.hi:
            continue  # an empty range: no row, total 0
        for session in set(scope.sessions):
            if not session:
                continue
            line = cuts.setdefault((session, scope.provider), {})
            line[(scope.lo, _BEFORE)] = line.get((scope.lo, _BEFORE), 0) + 1
            line[(scope.hi, _AFTER)] = line.get((scope.hi, _AFTER), 0) - 1
    # Per line: its cuts in order, and the pieces some scope covers (the count of open scopes > 0).
    order: dict[tuple[str, str], list[tuple[str, int]]] = {}
    wanted: dict[tuple[int, int], list[tuple[str, str, str, str]]] = {kinds: [] for kinds in _BOUNDS}
    for (session, provider), line in cuts.items():
        points = order[(session, provider)] = sorted(line)
        open_scopes = 0
        for left, right in zip(points, points[1:]):
            open_scopes += line[left]
            if open_scopes > 0:
                wanted[(left[1], right[1])].append((session, left[0], right[0], provider))
    sums: dict[tuple[int, int, str, str, str, str], int] = {}
    for kinds, pieces in wanted.items():
        lower, upper = _BOUNDS[kinds]
        for i in range(0, len(pieces), _CHUNK):
            chunk = pieces[i:i + _CHUNK]
            params = [value for piece in chunk for value in piece]
            statement = piece_sql(len(chunk), lower, upper)
            for session, a, z, provider, total in ledger.execute(statement, params).fetchall():
                sums[(*kinds, session, a, z, provider)] = int(total or 0)
    # Per line: the tokens before each cut (pieces no scope covers count 0: no scope spans them).
    before: dict[tuple[str, str], dict[tuple[str, int], int]] = {}
    for key, points in order.items():
        running, at = 0, {points[0]: 0}
        for left, right in zip(points, points[1:]):
            running += sums.get((left[1], right[1], key[0], left[0], right[0], key[1]), 0)
            at[right] = running
        before[key] = at
    totals = []
    for scope in scopes:
        total = 0
        if scope.lo <= scope.hi:
            for session in set(scope.sessions):
                if session:
                    at = before[(session, scope.provider)]
                    total += at[(scope.hi, _AFTER)] - at[(scope.lo, _BEFORE)]
        totals.append(total)
    return totals
