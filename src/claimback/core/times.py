"""The one time module: read the clock, parse and format instants, in the ledger's canonical form.

Every stored or exported instant is `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds truncated, `Z`): it sorts
as text, SQLite and PostgreSQL compare it correctly, and it is what docs/design.md promises. Readers accept
any ISO-8601 instant (`Z` or an offset); a naive time is taken as UTC. Parsed datetimes are always
timezone-aware. Standard library only, and only `datetime` (its C classes): the guard hook imports this on every call.

Which reader to use:
- `parse_utc` for the ledger's own values (trusted; a bad one is a bug and raises `ValueError`);
- `parse_iso` / `to_iso` for values from outside (status page, settings, payloads): junk → None;
- `normalize_ts` for transcript and telemetry timestamps: junk or a year outside 1990–2200 → None;
- `parse_epoch` / `format_epoch` where the hot path works in epoch seconds.
"""

from __future__ import annotations

try:
    # The C classes `datetime` itself re-exports (the very same objects), without running datetime.py's
    # pure-Python definitions first: ~2 ms of every guard hook start (sources/incident_text and
    # prevent/signals take them from here for the same reason).
    from _datetime import date, datetime, time, timedelta, timezone, tzinfo
except ImportError:  # an interpreter without the accelerator
    from datetime import date, datetime, time, timedelta, timezone, tzinfo

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms on the hook path
if TYPE_CHECKING:
    from typing import Any

UTC = timezone.utc


def utc_now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return datetime.now(UTC)


def format_iso(moment: datetime) -> str:
    """A datetime → `YYYY-MM-DDTHH:MM:SS.mmmZ` (a naive one is taken as UTC; milliseconds truncated)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_now_iso() -> str:
    """The current instant in the canonical form."""
    return format_iso(datetime.now(UTC))


def format_epoch(epoch: float) -> str:
    """Epoch seconds → the canonical form."""
    return format_iso(datetime.fromtimestamp(epoch, UTC))


def _fromiso(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)  # Python 3.11+ reads `Z` and every ISO-8601 form
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_utc(ts: str) -> datetime:
    """A trusted ISO-8601 instant (the ledger's own values) → an aware datetime; `ValueError` otherwise."""
    return _fromiso(ts)


def parse_iso(value: Any) -> datetime | None:
    """Any ISO-8601 instant from outside → an aware datetime; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return _fromiso(value.strip())
    except ValueError:
        return None


def to_iso(value: Any) -> str | None:
    """Any ISO-8601 instant (string or datetime) → the canonical form; junk → None."""
    if isinstance(value, datetime):
        return format_iso(value)
    dt = parse_iso(value)
    try:
        return format_iso(dt) if dt is not None else None
    except (ValueError, OverflowError):  # year 1 minus an offset
        return None


def parse_epoch(value: Any) -> float | None:
    """ISO-8601 (with Z or offset) → epoch seconds; None when absent or unreadable. Inline (no
    parse_iso call): the hook runs it on every record of a transcript tail."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def normalize_ts(value: str | None) -> str | None:
    """A transcript or telemetry timestamp → the canonical form; None when unreadable or outside the years
    1990–2200 (a clock set to 1970 or 9999 would otherwise sort before or after every real record)."""
    if not value:
        return None
    if len(value) == 24 and value[-1] == "Z" and value[10] == "T" and value[19] == "." and value.isascii():
        # Already in our form; still a real date and time ("2026-99-99T99:99:99.999Z" has the shape).
        try:
            datetime.fromisoformat(value[:-1])
        except ValueError:
            return None
        return value if "1990" <= value[:4] <= "2200" else None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)  # year 1 minus an offset overflows
    except (ValueError, OverflowError):
        return None
    if not 1990 <= parsed.year <= 2200:
        return None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def parse_day(value: str | None, option: str) -> date | None:
    """Dates as ccusage takes them (YYYYMMDD), ISO, or relative (`7d`, `2w`)."""
    if value is None:
        return None
    text = value.strip().lower()
    try:
        if text.endswith(("d", "w")) and text[:-1].isdigit():
            days = int(text[:-1]) * (7 if text.endswith("w") else 1)
            return (datetime.now(UTC) - timedelta(days=days)).date()
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return date.fromisoformat(text[:10])
    except (ValueError, OverflowError):  # OverflowError: `9999999d`, before year 1
        from claimback.errors import BadInput

        raise BadInput(f"{option} {value!r} is not a date (use YYYY-MM-DD, YYYYMMDD or 7d)") from None


def parse_range(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    """`--since`/`--until` as days; a range that ends before it starts is bad usage (exit 2)."""
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if first is not None and last is not None and first > last:
        from claimback.errors import BadInput

        raise BadInput(f"--since {first.isoformat()} is after --until {last.isoformat()}: the period is empty")
    return first, last
