"""Reading what a status-page incident says in prose: impact windows, models, components.

Anthropic often states the true impact window only in an update's text ("Impact occurred from
17:34–18:52 UTC", "between 23:00 PT / 7:00 UTC and 1:50 PT / 9:50 UTC", "Between 10:09 and 10:31 PDT",
"between approximately 3:46 PM and 4:52 PM PDT on April 10"), and names models in titles ("Elevated
errors on Claude Opus 4.6 and Sonnet 4.6"). These helpers turn that prose into UTC instants and model
family keys ("opus-4.6") that transcripts' model ids ("claude-opus-4-6-20260101") map to as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
_PACIFIC = ZoneInfo("America/Los_Angeles")
_EASTERN = ZoneInfo("America/New_York")

# Fixed offsets where the abbreviation says which one; bare PT/ET follow the date's DST rules.
_ZONES: dict[str, timezone | ZoneInfo] = {
    "utc": UTC, "gmt": UTC, "z": UTC,
    "pdt": timezone(timedelta(hours=-7)), "pst": timezone(timedelta(hours=-8)), "pt": _PACIFIC,
    "edt": timezone(timedelta(hours=-4)), "est": timezone(timedelta(hours=-5)), "et": _EASTERN,
}

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

# One clock time, optional am/pm, optional zone.  `(?<![\d.:])` keeps "4.6" or "v2.1.120" out.
_TIME = re.compile(
    r"(?<![\d.:])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::[0-5]\d)?(?!\d)"
    r"\s*(?P<ampm>[ap]\.?m\.?)?(?![a-z])"
    r"(?:\s*(?P<zone>UTC|GMT|PDT|PST|PT|EDT|EST|ET|Z)\b)?",
    re.IGNORECASE,
)
# What may stand between two times of a range ("17:34–18:52", "from 7:00 UTC to 9:50 UTC", "and").
_RANGE_JOIN = re.compile(r"^\s*(?:-|–|—|to|and|until|till|through|thru)\s*(?:approximately\s+|about\s+|~\s*)?$",
                         re.IGNORECASE)
# "23:00 PT / 7:00 UTC": the same instant in two zones; keep the UTC one.
_SAME_INSTANT = re.compile(r"^\s*(?:/|\(|,)\s*$")
_DATE = re.compile(
    r"\b(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b"
    r"|\b(?P<iso>20\d\d-[01]\d-[0-3]\d)\b",
    re.IGNORECASE,
)
_START_WORDS = re.compile(r"(?:start(?:ed|ing)?|began|beginning|since)\s+(?:at\s+)?(?:approximately\s+|about\s+)?$",
                          re.IGNORECASE)
_END_WORDS = re.compile(
    r"(?:recover(?:ed|y)|baseline(?:\s+error\s+rates?)?(?:\s+from)?|resolved|mitigated|ended|stopped|"
    r"restored|returned to normal)\s+(?:as of\s+|at\s+|from\s+|by\s+)?(?:approximately\s+|about\s+)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _ClockTime:
    hour: int
    minute: int
    zone: str | None
    start: int
    end: int
    lead: int  # where this time's phrase begins ("23:00 PT / 7:00 UTC" → at "23:00")


def _clock_times(text: str) -> list[_ClockTime]:
    found: list[_ClockTime] = []
    for m in _TIME.finditer(text):
        hour, minute = int(m["h"]), int(m["m"])
        ampm = (m["ampm"] or "").lower().replace(".", "")
        if ampm:
            if hour > 12:
                continue
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        zone = m["zone"].lower() if m["zone"] else None
        found.append(_ClockTime(hour, minute, zone, m.start(), m.end(), m.start()))
    # "23:00 PT / 7:00 UTC": drop the first of a same-instant pair, keep the UTC reading.
    kept: list[_ClockTime] = []
    lead: int | None = None
    for i, t in enumerate(found):
        nxt = found[i + 1] if i + 1 < len(found) else None
        if (nxt is not None and t.zone and t.zone not in ("utc", "gmt", "z") and nxt.zone in ("utc", "gmt", "z")
                and _SAME_INSTANT.match(text[t.end:nxt.start])):
            lead = t.start
            continue
        kept.append(_ClockTime(t.hour, t.minute, t.zone, t.start, t.end, lead if lead is not None else t.start))
        lead = None
    # A time without a zone takes the zone of the next time that has one ("17:34–18:52 UTC").
    out: list[_ClockTime] = []
    for i, t in enumerate(kept):
        zone = t.zone
        if zone is None:
            zone = next((u.zone for u in kept[i + 1:] if u.zone), None)
        out.append(_ClockTime(t.hour, t.minute, zone, t.start, t.end, t.lead))
    return out


def _explicit_date(text: str, year: int) -> date | None:
    m = _DATE.search(text)
    if not m:
        return None
    try:
        if m["iso"]:
            return date.fromisoformat(m["iso"])
        return date(year, _MONTHS[m["mon"].lower()[:3]], int(m["day"]))
    except ValueError:
        return None


def _instant(day: date, clock: _ClockTime) -> datetime:
    tz = _ZONES.get(clock.zone or "utc", UTC)
    return datetime.combine(day, time(clock.hour, clock.minute), tzinfo=tz).astimezone(UTC)


def _anchor_day(text: str, ref: datetime, zone: str | None) -> tuple[date, bool]:
    """The day the times refer to: a date in the text, else the update's own day in that zone."""
    explicit = _explicit_date(text, ref.year)
    if explicit is not None:
        return explicit, True
    tz = _ZONES.get(zone or "utc", UTC)
    return ref.astimezone(tz).date(), False


def parse_impact_range(text: str, ref: datetime) -> tuple[datetime, datetime] | None:
    """The first "HH:MM – HH:MM <zone>" range in `text`, as UTC instants.

    `ref` is when the update was posted: with no date in the text, times are on the update's day in
    the stated zone, moved one day back if the start would lie more than an hour after the post (an
    update at 00:30 about "23:10 to 00:20"), and the end moves a day forward when it is before the
    start (ranges that cross midnight).
    """
    if not text:
        return None
    clocks = _clock_times(text)
    for first, second in zip(clocks, clocks[1:]):
        if not _RANGE_JOIN.match(text[first.end:second.lead]):
            continue
        day, explicit = _anchor_day(text, ref, first.zone)
        start = _instant(day, first)
        if not explicit and start > ref + timedelta(hours=1):
            day -= timedelta(days=1)
            start = _instant(day, first)
        end = _instant(day, second)
        if end <= start:
            end = _instant(day + timedelta(days=1), second)
        if end - start > timedelta(days=3):
            continue  # not a plausible impact range; keep looking
        return start, end
    return None


def _single_point(text: str, ref: datetime, words: re.Pattern[str]) -> datetime | None:
    for clock in _clock_times(text):
        before = text[max(0, clock.lead - 60):clock.lead]
        if words.search(before) and clock.zone:
            day, explicit = _anchor_day(text, ref, clock.zone)
            at = _instant(day, clock)
            if not explicit and at > ref + timedelta(hours=1):
                at = _instant(day - timedelta(days=1), clock)
            return at
    return None


@dataclass(frozen=True)
class UpdateText:
    body: str
    created_at: datetime
    status: str | None = None


def parse_impact_window(updates: Sequence[UpdateText]) -> tuple[datetime | None, datetime | None]:
    """The impact window stated across an incident's updates (newest statement wins), or (None, None).

    A full range in one update wins ("Impact occurred from 17:34–18:52 UTC"); otherwise a start
    ("Issue started at 1:33 PT / 8:53 UTC") and an end ("At baseline error rate from 2:19 PT / 9:19 UTC")
    stated in separate updates are combined; either may stay None.
    """
    ordered = sorted(updates, key=lambda u: u.created_at, reverse=True)
    for update in ordered:
        found = parse_impact_range(update.body, update.created_at)
        if found:
            return found
    start = end = None
    for update in ordered:
        said_end = _single_point(update.body, update.created_at, _END_WORDS)
        if said_end is not None:
            end = end or said_end
            continue  # one update states one point; "baseline from 9:19" is not a start
        if start is None:
            start = _single_point(update.body, update.created_at, _START_WORDS)
    if start and end and end <= start:
        end = None
    return start, end


# -- models ----------------------------------------------------------------------------------------
_TIERS = "opus|sonnet|haiku|fable|mythos"
_MODEL_MENTION = re.compile(rf"\b(?:claude\s+)?({_TIERS})\s+(\d+(?:\.\d+)?)(?![\d.]*\d)", re.IGNORECASE)
_MODEL_ID_NEW = re.compile(rf"({_TIERS})-(\d{{1,2}})(?:[-.](\d{{1,2}}))?(?!\d)", re.IGNORECASE)
_MODEL_ID_OLD = re.compile(rf"claude-(\d+)(?:[-.](\d{{1,2}}))?-({_TIERS})", re.IGNORECASE)


def models_mentioned(text: str | None) -> list[str]:
    """Model names in prose, as "Claude Opus 4.6" (deduplicated, in order of mention)."""
    seen: list[str] = []
    for m in _MODEL_MENTION.finditer(text or ""):
        name = f"Claude {m[1].capitalize()} {m[2]}"
        if name not in seen:
            seen.append(name)
    return seen


def family_of_name(name: str) -> str | None:
    """ "Claude Opus 4.6" / "Opus 4.6 Fast" → "opus-4.6"."""
    m = _MODEL_MENTION.search(name or "")
    return f"{m[1].lower()}-{m[2]}" if m else None


def model_family(model_id: str | None) -> str | None:
    """A transcript's model id → family key: "claude-opus-4-6-20260101" → "opus-4.6",
    "claude-opus-4-20250514" → "opus-4", "claude-3-5-sonnet-20241022" → "sonnet-3.5",
    Bedrock/Vertex ids ("anthropic.claude-sonnet-4-5-…-v1:0", "claude-opus-4-6@…") likewise."""
    if not model_id:
        return None
    m = _MODEL_ID_NEW.search(model_id)
    if m:
        return f"{m[1].lower()}-{m[2]}" + (f".{m[3]}" if m[3] else "")
    m = _MODEL_ID_OLD.search(model_id)
    if m:
        return f"{m[3].lower()}-{m[1]}" + (f".{m[2]}" if m[2] else "")
    return None


def families(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        fam = family_of_name(name)
        if fam and fam not in out:
            out.append(fam)
    return out


# -- relevance words -------------------------------------------------------------------------------
_ERROR_WORDS = re.compile(
    r"error|outage|down\b|unavailab|not available|disrupt|timeout|time out|failure|failing|fails?\b|"
    r"degraded (?:performance|service|functionality)|latency|unable|cannot|can't|unreachable|"
    r"not responding|unresponsive|connectivity|crash|issues?\b|impacted|problems?\b|spike",
    re.IGNORECASE,
)
_LOGIN_WORDS = re.compile(r"log(?:ging)?\s?-?in|sign-?in|auth|oauth|sso\b|credentials? for claude code", re.IGNORECASE)
_API_WORDS = re.compile(
    r"\bapi\b|\bmodels?\b|requests?\b|claude services|claude code\b|all products", re.IGNORECASE)
# Products that share a name with Claude Code or the API but not its request path.
_OTHER_SURFACE = re.compile(
    r"on the web|in slack|code review|ide extension|desktop|cowork|office|connectors?\b|\bmcp\b|vaults?\b|"
    r"google|github|share links|subscription|billing|credit|sign-ups|workspace creation|research\b|"
    r"status\.claude\.com|file operations|uploading|container creation|claude tag|dispatch|"
    r"structured outputs|usage and analytics|model picker|quality",
    re.IGNORECASE,
)


def has_error_impact(text: str) -> bool:
    return bool(_ERROR_WORDS.search(text or ""))


def mentions_login(text: str) -> bool:
    return bool(_LOGIN_WORDS.search(text or ""))


def mentions_api_surface(text: str) -> bool:
    return bool(_API_WORDS.search(text or ""))


def names_other_surface(text: str) -> bool:
    return bool(_OTHER_SURFACE.search(text or ""))
