"""Quota impact of an outage window (DESIGN §5): measured from statusline snapshots where they exist,
otherwise estimated against the user's own typical (P90) week. Also the weekly reset and plan value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from claimback.core.times import format_iso, parse_utc
from claimback.ledger.store import Ledger

MEASURED = "measured"
ESTIMATED = "estimated"
UNKNOWN = "unknown"

SNAPSHOT_REACH = timedelta(hours=6)  # a snapshot farther than this from the window says nothing about it
HISTORY_WEEKS = 8
# Monthly list prices in USD; the weekly share is price x 12 / 52.
PLAN_MONTHLY_USD = {"pro": 20.0, "max5": 100.0, "max20": 200.0}
PLANS = ("pro", "max5", "max20", "api")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class QuotaImpact:
    seven_day_delta_pct: float | None
    five_hour_delta_pct: float | None
    basis: str  # measured (snapshots) | estimated (share of P90 week) | unknown
    share_of_week_pct: float | None  # the figure the headline quotes, on the basis above
    p90_week_tokens: int | None
    weekly_reset_at: str | None
    reset_source: str | None  # snapshots | config | None
    hours_to_reset: float | None
    plan: str | None = None
    plan_value_usd: float | None = None
    notes: list[str] = field(default_factory=list)


def _valid(value: Any) -> bool:
    return isinstance(value, (int, float)) and 0.0 <= float(value) <= 100.0


def load_snapshots(ledger: Ledger) -> tuple[list[dict[str, Any]], list[str]]:
    """Usable snapshots in time order, and notes on what was ignored and why."""
    rows = ledger.rows("SELECT ts, account, five_hour_pct, five_hour_resets_at, seven_day_pct, seven_day_resets_at "
                       "FROM quota_snapshots ORDER BY ts")
    notes: list[str] = []
    if not rows:
        return [], notes
    accounts = [r["account"] for r in rows if r["account"]]
    main_account = max(set(accounts), key=accounts.count) if accounts else None
    kept, foreign, invalid = [], 0, 0
    for row in rows:
        if main_account and row["account"] and row["account"] != main_account:
            foreign += 1
            continue
        if not (_valid(row["seven_day_pct"]) or _valid(row["five_hour_pct"])):
            invalid += 1
            continue
        kept.append(row)
    if foreign:
        notes.append(f"{foreign} quota snapshot(s) from another account ignored")
    if invalid:
        notes.append(f"{invalid} quota snapshot(s) with impossible percentages ignored")
    return kept, notes


def _delta(before: dict[str, Any], after: dict[str, Any], pct: str, resets: str) -> tuple[float | None, str | None]:
    if not (_valid(before[pct]) and _valid(after[pct])):
        return None, None
    if before[resets] and after[resets] and before[resets] != after[resets]:
        return None, f"{pct.split('_pct')[0].replace('_', '-')} quota reset between the snapshots around the window"
    change = float(after[pct]) - float(before[pct])
    if change < 0:
        return None, f"{pct.split('_pct')[0].replace('_', '-')} snapshots out of order (usage went down): ignored"
    return round(change, 2), None


_TOKENS_SQL = "input_tokens + output_tokens + cache_creation_tokens + cache_read_tokens"


# Walks the index of migration 95 (requests_hour) in order: no sort, no table read.
HOURLY_SQL = (f"SELECT SUBSTR(ts, 1, 13) AS hour, COUNT(*), SUM({_TOKENS_SQL}) FROM requests "
              "GROUP BY SUBSTR(ts, 1, 13) ORDER BY hour")


class TokenHistory:
    """Request count and token total per UTC hour of the whole ledger, read once per report (one grouped
    scan), so the eight weekly sums behind each window's P90 week are a few additions instead of eight
    range scans per window, and the report's daily totals (`days`) are sums of hours, not a second
    scan. The sums stay exact: only the part of a boundary's own hour before the boundary is read, per
    boundary, from the rows of that hour."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._hours: list[str] | None = None
        self._counts: list[int] = []
        self._totals: list[int] = []
        self._before: list[int] = []  # tokens in all hours before hours[i]

    @property
    def loaded(self) -> bool:
        return self._hours is not None

    def _load(self) -> list[str]:
        if self._hours is None:
            rows = self.ledger.execute(HOURLY_SQL).fetchall()
            self._hours = [str(hour) for hour, _, _ in rows]
            self._counts = [int(n) for _, n, _ in rows]
            self._totals = [int(total or 0) for _, _, total in rows]
            running = 0
            for total in self._totals:
                self._before.append(running)
                running += total
            self._before.append(running)
        return self._hours

    def days(self, start: str, end: str) -> list[tuple[str, int, int]]:
        """(day, requests, tokens) of every UTC day `start` <= day < `end` (YYYY-MM-DD) with requests:
        what `GROUP BY SUBSTR(ts, 1, 10)` over `start <= ts < end` gives, as an hour's first ten
        characters are its day."""
        import bisect

        hours = self._load()
        out: dict[str, list[int]] = {}
        for i in range(bisect.bisect_left(hours, start), bisect.bisect_left(hours, end)):
            day = out.setdefault(hours[i][:10], [0, 0])
            day[0] += self._counts[i]
            day[1] += self._totals[i]
        return [(day, n, tokens) for day, (n, tokens) in out.items()]

    def tokens_before(self, moment: str) -> int:
        """Tokens of every request with ts < `moment` (ISO text, compared as the ledger compares it)."""
        import bisect

        hours = self._load()
        hour = moment[:13]
        i = bisect.bisect_left(hours, hour)
        total = self._before[i]
        if i < len(hours) and hours[i] == hour:
            # The rows of [hour, moment) are exactly the rows of that hour before `moment` (they share
            # its 13-character prefix): named so, they are one seek in requests_hour (migration 126:
            # ts follows the hour, so only the rows on one side of `moment` are read), no table read.
            # In the hour's second half the rows from `moment` on are fewer: the hour's total less them
            # (a dense ledger's P90 weeks have ~1,700 such boundaries, each reading up to an hour of rows).
            if moment[14:16] >= "30":
                total += self._totals[i] - int(self.ledger.scalar(
                    f"SELECT COALESCE(SUM({_TOKENS_SQL}), 0) FROM requests WHERE SUBSTR(ts, 1, 13) = ? "
                    "AND ts >= ?", (hour, moment)) or 0)
            else:
                total += int(self.ledger.scalar(
                    f"SELECT COALESCE(SUM({_TOKENS_SQL}), 0) FROM requests WHERE SUBSTR(ts, 1, 13) = ? "
                    "AND ts >= ? AND ts < ?", (hour, hour, moment)) or 0)
        return total

    def tokens_between(self, lo: str, hi: str) -> int:
        return self.tokens_before(hi) - self.tokens_before(lo)


def p90_week_tokens(ledger: Ledger, before: datetime, history: TokenHistory | None = None) -> int | None:
    """The 90th percentile of the user's 7-day token totals over the weeks before `before`. Pass one
    `history` for every window of a report: its hourly totals are read once."""
    history = history or TokenHistory(ledger)
    weeks = []
    edges = [format_iso((before - timedelta(days=7 * k)).replace(microsecond=0)) for k in range(HISTORY_WEEKS + 1)]
    sums = [history.tokens_before(edge) for edge in edges]
    for k in range(1, HISTORY_WEEKS + 1):
        total = sums[k - 1] - sums[k]  # [before - 7k days, before - 7(k-1) days)
        if total:
            weeks.append(int(total))
    if len(weeks) < 2:
        return None
    weeks.sort()
    index = min(len(weeks) - 1, max(0, round(0.9 * (len(weeks) - 1))))
    return weeks[index]


def next_weekly_reset(setting: str | None, after: datetime) -> datetime | None:
    """`weekly_reset` in config: an ISO datetime (recurring weekly) or `<weekday> HH:MM` in UTC."""
    if not setting:
        return None
    text = setting.strip()
    try:
        anchor = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=timezone.utc)
        weeks = (after - anchor) // timedelta(days=7) + 1 if anchor <= after else 0
        return anchor + timedelta(days=7 * weeks)
    except ValueError:
        pass
    found = re.fullmatch(r"([a-zA-Z]+)\s+(\d{1,2}):(\d{2})(?:\s*UTC)?", text)
    if not found or found.group(1).lower() not in _WEEKDAYS:
        return None
    weekday = _WEEKDAYS.index(found.group(1).lower())
    candidate = after.replace(hour=int(found.group(2)), minute=int(found.group(3)), second=0, microsecond=0)
    candidate += timedelta(days=(weekday - candidate.weekday()) % 7)
    if candidate <= after:
        candidate += timedelta(days=7)
    return candidate


def quota_impact(ledger: Ledger, start: str, end: str, lost_tokens: int, *, plan: str | None = None,
                 weekly_reset: str | None = None, history: TokenHistory | None = None,
                 snapshots: tuple[list[dict[str, Any]], list[str]] | None = None) -> QuotaImpact:
    # `snapshots` (load_snapshots' answer) and `history`: read once per report, shared by its windows.
    snapshots, notes = snapshots if snapshots is not None else load_snapshots(ledger)
    notes = list(notes)
    start_at, end_at = parse_utc(start), parse_utc(end)
    before = [s for s in snapshots if s["ts"] <= start and start_at - parse_utc(s["ts"]) <= SNAPSHOT_REACH]
    after = [s for s in snapshots if s["ts"] >= end and parse_utc(s["ts"]) - end_at <= SNAPSHOT_REACH]
    seven = five = None
    if before and after:
        seven, note7 = _delta(before[-1], after[0], "seven_day_pct", "seven_day_resets_at")
        five, note5 = _delta(before[-1], after[0], "five_hour_pct", "five_hour_resets_at")
        notes += [n for n in (note7, note5) if n]
    p90 = p90_week_tokens(ledger, start_at, history)
    if seven is not None:
        basis, share = MEASURED, seven
    elif p90:
        basis, share = ESTIMATED, round(100.0 * lost_tokens / p90, 2)
    else:
        basis, share = UNKNOWN, None
        notes.append("no quota snapshots around the window and under two weeks of history: quota share unknown")

    reset_at, reset_source = None, None
    later = [s for s in snapshots if s["seven_day_resets_at"] and s["ts"] >= start]
    if later and parse_utc(later[0]["seven_day_resets_at"]) > end_at:
        reset_at, reset_source = parse_utc(later[0]["seven_day_resets_at"]), "snapshots"
        while reset_at - timedelta(days=7) > end_at:  # the weekly reset recurs: take the first after the window
            reset_at -= timedelta(days=7)
    else:
        configured = next_weekly_reset(weekly_reset, end_at)
        if configured:
            reset_at, reset_source = configured, "config"
    hours = round((reset_at - end_at).total_seconds() / 3600, 1) if reset_at else None

    plan_value = None
    if plan in PLAN_MONTHLY_USD and share is not None:
        plan_value = round(share / 100.0 * PLAN_MONTHLY_USD[plan] * 12 / 52, 2)
    return QuotaImpact(seven, five, basis, share, p90,
                       format_iso(reset_at.replace(microsecond=0)) if reset_at else None, reset_source, hours,
                       plan, plan_value, notes)
