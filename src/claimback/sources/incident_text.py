"""Reading what a status-page incident says in prose: impact windows, models, and whether it matters.

Anthropic often states the true impact window only in an update's text ("Impact occurred from
17:34–18:52 UTC", "between 23:00 PT / 7:00 UTC and 1:50 PT / 9:50 UTC", "Between 10:09 and 10:31 PDT",
"between approximately 3:46 PM and 4:52 PM PDT on April 10"), and names models in titles ("Elevated
errors on Claude Opus 4.6 and Sonnet 4.6"). These helpers turn that prose into UTC instants and model
family keys ("opus-4.6") that transcripts' model ids ("claude-opus-4-6-20260101") map to as well.

`incident_relevance` is THE judgment of whether an incident touches Claude Code's requests (and for
which model families): the outage windows (`analysis.outages`) and the guard hook
(`prevent.signals`) both call it, so they cannot disagree.

`statuspage_parts` is THE reading of a Statuspage API v2 incident object (its name, impact, components
and updates' texts): the incident archive (`sources.incidents.incident_from_statuspage`) and the guard
hook (`prevent.signals.relevance_inputs`, on the status cache's payload) both read a payload through it,
so they judge the same incident from the same inputs.

The guard hook imports this module on every call (p95 budget 60 ms), so it imports neither `re` nor
`typing` at load time; patterns compile on first use (core/lazyre.py) and `zoneinfo` loads only when a
text names a Pacific or Eastern time.
"""

from __future__ import annotations

# Patterns compile on first use (core/lazyre.py: neither `re` nor `typing` is imported until then).
from claimback.core.lazyre import lazy_compile
# datetime's own classes without running datetime.py (see core/times.py)
from claimback.core.times import date, datetime, time, timedelta, timezone, to_iso, tzinfo

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~2 ms on the hook path
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from claimback.core.lazyre import LazyPattern


_I = 2  # re.IGNORECASE; `re` itself is imported when a pattern is first used
UTC = timezone.utc

# Fixed offsets where the abbreviation says which one; bare PT/ET follow the date's DST rules.
_FIXED: dict[str, tzinfo] = {
    "utc": UTC, "gmt": UTC, "z": UTC,
    "pdt": timezone(timedelta(hours=-7)), "pst": timezone(timedelta(hours=-8)),
    "edt": timezone(timedelta(hours=-4)), "est": timezone(timedelta(hours=-5)),
}
_DST_ZONES = {"pt": "America/Los_Angeles", "et": "America/New_York"}
_loaded: dict[str, tzinfo] = {}


def _zone(name: str | None) -> tzinfo:
    """The tzinfo of a zone abbreviation (UTC when none or unknown); ZoneInfo only when needed."""
    key = name or "utc"
    if key in _FIXED:
        return _FIXED[key]
    if key not in _DST_ZONES:
        return UTC
    if key not in _loaded:
        from zoneinfo import ZoneInfo

        _loaded[key] = ZoneInfo(_DST_ZONES[key])
    return _loaded[key]


_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

# One clock time, optional am/pm, optional zone.  `(?<![\d.:])` keeps "4.6" or "v2.1.120" out.
_TIME = lazy_compile(
    r"(?<![\d.:])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::[0-5]\d)?(?!\d)"
    r"\s*(?P<ampm>[ap]\.?m\.?)?(?![a-z])"
    r"(?:\s*(?P<zone>UTC|GMT|PDT|PST|PT|EDT|EST|ET|Z)\b)?",
    _I,
)
# What may stand between two times of a range ("17:34–18:52", "from 7:00 UTC to 9:50 UTC", "and").
_RANGE_JOIN = lazy_compile(r"^\s*(?:-|–|—|to|and|until|till|through|thru)\s*(?:approximately\s+|about\s+|~\s*)?$",
                         _I)
# "23:00 PT / 7:00 UTC": the same instant in two zones; keep the UTC one.
_SAME_INSTANT = lazy_compile(r"^\s*(?:/|\(|,)\s*$")
_DATE = lazy_compile(
    r"\b(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b"
    r"|\b(?P<iso>20\d\d-[01]\d-[0-3]\d)\b",
    _I,
)
_START_WORDS = lazy_compile(r"(?:start(?:ed|ing)?|began|beginning|since)\s+(?:at\s+)?(?:approximately\s+|about\s+)?$",
                          _I)
_END_WORDS = lazy_compile(
    r"(?:recover(?:ed|y)|baseline(?:\s+error\s+rates?)?(?:\s+from)?|resolved|mitigated|ended|stopped|"
    r"restored|returned to normal)\s+(?:as of\s+|at\s+|from\s+|by\s+)?(?:approximately\s+|about\s+)?$",
    _I,
)


class _ClockTime:
    __slots__ = ("hour", "minute", "zone", "start", "end", "lead")

    def __init__(self, hour: int, minute: int, zone: str | None, start: int, end: int, lead: int) -> None:
        self.hour, self.minute, self.zone = hour, minute, zone
        self.start, self.end = start, end
        self.lead = lead  # where this time's phrase begins ("23:00 PT / 7:00 UTC" → at "23:00")


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
    tz = _zone(clock.zone)
    return datetime.combine(day, time(clock.hour, clock.minute), tzinfo=tz).astimezone(UTC)


def _anchor_day(text: str, ref: datetime, zone: str | None) -> tuple[date, bool]:
    """The day the times refer to: a date in the text, else the update's own day in that zone."""
    explicit = _explicit_date(text, ref.year)
    if explicit is not None:
        return explicit, True
    tz = _zone(zone)
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


def _single_point(text: str, ref: datetime, words: LazyPattern) -> datetime | None:
    for clock in _clock_times(text):
        before = text[max(0, clock.lead - 60):clock.lead]
        if words.search(before) and clock.zone:
            day, explicit = _anchor_day(text, ref, clock.zone)
            at = _instant(day, clock)
            if not explicit and at > ref + timedelta(hours=1):
                at = _instant(day - timedelta(days=1), clock)
            return at
    return None


class UpdateText:
    """One update's text and when it was posted (a plain class: `dataclasses` costs ~5 ms to import)."""

    __slots__ = ("body", "created_at", "status")

    def __init__(self, body: str, created_at: datetime, status: str | None = None) -> None:
        self.body, self.created_at, self.status = body, created_at, status

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UpdateText) and (self.body, self.created_at, self.status) == \
            (other.body, other.created_at, other.status)

    def __hash__(self) -> int:
        return hash((self.body, self.created_at, self.status))

    def __repr__(self) -> str:
        return f"UpdateText({self.body!r}, {self.created_at!r}, {self.status!r})"


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
# A family key is "<tier>-<version>" ("opus-4.6", "sonnet-5") or a bare "<tier>" when no version is
# known ("opus": a settings alias, or a title saying just "Opus"); a bare key stands for every version.
# Distinct versions are distinct models ("Claude Opus 4.1 and Opus 4" are listed apart), so "opus-5"
# does not cover "opus-5.1".
KNOWN_TIERS = ("opus", "sonnet", "haiku", "fable", "mythos")
_TIERS = "|".join(KNOWN_TIERS)
# Words after "Claude" that name a product or plan, not a model family ("Claude Code 2.1"). Any other
# "Claude <Word> <version>" is a model: new families appear (Fable, Mythos) before this code knows them.
_NOT_FAMILY = frozenset({
    "code", "api", "app", "apps", "ai", "desktop", "console", "platform", "for", "on", "and", "in", "web",
    "mobile", "cowork", "chrome", "enterprise", "team", "max", "pro", "models", "model", "gov", "government",
    "tag", "review", "is", "was", "has", "will", "may", "can", "users", "requests", "services", "the",
})
# A version has a one-digit major ("4", "4.6", "5.1"): "Opus 48" in a title is a typo for some Opus,
# read as the bare tier, not a model that does not exist.
_VER = r"\d(?:\.\d{1,2})?(?![\d.:]*\d)"
_MENTION = lazy_compile(rf"\bclaude\s+(?P<word>[a-z]+)\s+(?P<v1>{_VER})|\b(?:claude\s+)?(?P<tier>{_TIERS})\b(?:\s+(?P<v2>{_VER}))?", _I)
# Further versions of the same tier: "Opus 4.6 and 4.5", "Opus 4.8, 4.7 and 4.6".
_MORE_VERSIONS = lazy_compile(rf"\s*(?:,\s*(?:and\s+)?|and\s+|/\s*)(?P<v>{_VER})(?!\s*(?:%|percent|hours?|minutes?|mins?\b|"
                     rf"seconds?|am\b|pm\b|[ap]\.m\.|utc\b|gmt\b|p[ds]?t\b|e[ds]?t\b))", _I)
_ID_TIER = lazy_compile(rf"({_TIERS})-(\d{{1,2}})(?:[-.](\d{{1,2}}))?(?!\d)", _I)        # claude-opus-4-6-20260101
_ID_ANY = lazy_compile(r"claude-([a-z]+)-(\d{1,2})(?:[-.](\d{1,2}))?(?!\d)", _I)         # claude-<new family>-5
_ID_OLD = lazy_compile(r"claude-(\d{1,2})(?:[-.](\d{1,2}))?-([a-z]+)", _I)               # claude-3-5-sonnet-20241022
_ID_ALIAS = lazy_compile(rf"\b({_TIERS})\b", _I)                                           # "opus", "sonnet[1m]"
# A title that names some models and then "other models", or just "all/many models": every model.
_ANY_MODEL = lazy_compile(r"\b(?:other|all|some|most|multiple|several|many|various)\s+(?:claude\s+)?models\b", _I)


def _mentions(text: str) -> list[tuple[str, str | None]]:
    """(tier, version or None) for each model named in `text`, deduplicated, in order of mention."""
    found: list[tuple[str, str | None]] = []
    for m in _MENTION.finditer(text or ""):
        if m["word"]:
            tier, version = m["word"].lower(), m["v1"]
            if tier in _NOT_FAMILY:
                continue
        else:
            tier, version = m["tier"].lower(), m["v2"]
        versions = [version]
        pos = m.end()
        while version is not None:
            more = _MORE_VERSIONS.match(text, pos)
            if not more:
                break
            versions.append(more["v"])
            pos = more.end()
        for v in versions:
            if (tier, v) not in found:
                found.append((tier, v))
    # a bare "Opus" adds nothing next to "Opus 4.6"
    return [(t, v) for t, v in found if v is not None or not any(t2 == t and v2 for t2, v2 in found)]


def models_mentioned(text: str | None) -> list[str]:
    """Model names with a version in prose, as "Claude Opus 4.6" (deduplicated, in order of mention)."""
    return [f"Claude {tier.capitalize()} {version}" for tier, version in _mentions(text or "") if version]


def family_of_name(name: str | None) -> str | None:
    """ "Claude Opus 4.6" / "Opus 4.6 Fast" → "opus-4.6"; "Opus" → "opus"; no model → None."""
    found = _mentions(name or "")
    if not found:
        return None
    tier, version = found[0]
    return f"{tier}-{version}" if version else tier


def title_families(title: str | None) -> list[str]:
    """Family keys of every model a title names: "Elevated errors on Opus 4.6 and 4.5" →
    ["opus-4.6", "opus-4.5"]; "Elevated errors on Opus 48" → ["opus"]."""
    return [f"{tier}-{version}" if version else tier for tier, version in _mentions(title or "")]


def model_family(model_id: str | None) -> str | None:
    """A transcript's or a setting's model id → family key: "claude-opus-4-6-20260101" → "opus-4.6",
    "claude-opus-4-20250514" → "opus-4", "claude-3-5-sonnet-20241022" → "sonnet-3.5", Bedrock/Vertex
    ids ("anthropic.claude-sonnet-4-5-…-v1:0", "claude-opus-4-6@…") likewise, a new family
    ("claude-mythos-5") too, and an alias ("opus", "sonnet[1m]") → the bare tier ("opus")."""
    if not model_id or not isinstance(model_id, str):
        return None
    m = _ID_TIER.search(model_id)
    if m:
        return f"{m[1].lower()}-{m[2]}" + (f".{m[3]}" if m[3] else "")
    m = _ID_OLD.search(model_id)
    if m:
        return f"{m[3].lower()}-{m[1]}" + (f".{m[2]}" if m[2] else "")
    m = _ID_ANY.search(model_id)
    if m and m[1].lower() not in _NOT_FAMILY:
        return f"{m[1].lower()}-{m[2]}" + (f".{m[3]}" if m[3] else "")
    m = _ID_ALIAS.search(model_id)
    return m[1].lower() if m else None


def families(names: Iterable[str]) -> list[str]:
    """Family keys of model names ("Claude Opus 4.6" → "opus-4.6"), deduplicated, in order."""
    out: list[str] = []
    for name in names:
        fam = family_of_name(name)
        if fam and fam not in out:
            out.append(fam)
    return out


def _covers(a: str, b: str) -> bool:
    if a == b:
        return True
    tier_a, _, ver_a = a.partition("-")
    tier_b, _, ver_b = b.partition("-")
    return tier_a == tier_b and (not ver_a or not ver_b)  # a bare tier stands for every version


def families_overlap(incident: Iterable[str | None], used: Iterable[str | None]) -> bool:
    """Does a model-specific incident's family list touch the families a session used?"""
    used_list = [u for u in used if u]
    return any(_covers(f, u) for f in incident if f for u in used_list)


# -- relevance -------------------------------------------------------------------------------------
_ERROR_WORDS = lazy_compile(
    r"error|outage|down\b|unavailab|not available|disrupt|timeout|time out|failure|failing|fails?\b|"
    r"degraded (?:performance|service|functionality)|latency|unable|cannot|can't|unreachable|"
    r"not responding|unresponsive|connectivity|crash|issues?\b|impacted|problems?\b|spike",
    _I,
)
_LOGIN_WORDS = lazy_compile(r"log(?:ging)?\s?-?in|sign-?in|auth|oauth|sso\b|credentials? for claude code", _I)
_API_WORDS = lazy_compile(r"\bapi\b|\bmodels?\b|requests?\b|claude services|claude code\b|all products", _I)
# Products that share words with Claude Code or the API but not its request path. A name is judged on
# what remains after these phrases are removed ("…claude.ai, Claude Code, Claude Cowork and the API").
_OTHER_SURFACES = lazy_compile(
    r"claude code (?:on the web|in slack|review|code review|ide extension|desktop)|code review|"
    r"ide extension|(?:claude(?:\.ai)?|the) desktop(?: app(?:lication)?s?)?|desktop app(?:lication)?s?|"
    r"cowork(?: remote| on windows)?|claude for (?:microsoft )?office(?: 365)?|office add-in|"
    r"(?:google )?connectors?|mcp (?:apps|servers|calls)|vaults?(?: and credentials)?|credentials to vaults|"
    r"google (?:drive|play)(?: subscriptions)?|github(?: operation| access)?|share links|subscriptions?|"
    r"billing(?: related)?|credit purchases|usage credits|sign-ups|workspace creation|\bresearch\b|"
    r"status\.claude\.com|file operations|uploading (?:files|documents)|container creation|claude tag|"
    r"dispatch sessions|structured outputs|usage and analytics(?: admin api endpoints)?|model picker|"
    r"platform\.claude\.com|claude for government",
    _I,
)
_QUALITY = lazy_compile(r"\bquality\b", _I)
# Features Claude Code's requests do not depend on, or local defects that burn no tokens.
_FEATURE_ONLY = lazy_compile(r"structured outputs|crash\w* on startup|json parse error|\bbatch(?:es)?\b|files api|"
                    r"admin api|usage credits|model picker", _I)


def has_error_impact(text: str | None) -> bool:
    return bool(_ERROR_WORDS.search(text or ""))


def mentions_login(text: str | None) -> bool:
    return bool(_LOGIN_WORDS.search(text or ""))


def mentions_api_surface(text: str | None) -> bool:
    return bool(_API_WORDS.search(text or ""))


class Relevance:
    """Whether an incident touches Claude Code's requests: scope "all" (every session), "models"
    (sessions using one of `model_families`) or "none"; `reason` says why, for people."""

    __slots__ = ("relevant", "scope", "model_families", "reason", "login_only")

    def __init__(self, relevant: bool, scope: str, model_families: list[str], reason: str,
                 login_only: bool = False) -> None:
        self.relevant, self.scope, self.model_families, self.reason = relevant, scope, model_families, reason
        # Relevant only because Claude Code signs in through claude.ai: a running session keeps its
        # token, so the guard weighs these by its policy's components (as if "claude.ai" were listed).
        self.login_only = login_only

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Relevance) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.relevant, self.scope, tuple(self.model_families), self.reason, self.login_only))

    def _key(self) -> tuple[bool, str, list[str], str, bool]:
        return self.relevant, self.scope, self.model_families, self.reason, self.login_only

    def __repr__(self) -> str:
        return (f"Relevance({self.relevant!r}, {self.scope!r}, {self.model_families!r}, {self.reason!r}"
                f"{', login_only=True' if self.login_only else ''})")


def _no(reason: str) -> Relevance:
    return Relevance(False, "none", [], reason)


def incident_relevance(name: str | None, impact: str | None = None, components: Iterable[str] | None = None,
                       bodies: Sequence[str] = ()) -> Relevance:
    """Does this incident touch Claude Code's requests, and for which model families?

    `components` are the component names the incident lists (its own and its updates' affected ones;
    None or empty when unknown), `bodies` its update texts, oldest first (only the first two are read:
    the first words say what broke). Models come from the title, as the status page headlines them
    (update prose also names workarounds: "switch to Sonnet 4.5"); from the bodies only when there is
    no title. Relevant when it has error impact on Claude Code's request path: components Claude
    API / Claude Code, a name naming the API, models or Claude Code, or claude.ai login. Model-
    specific titles give scope "models", unless they add "other models"/"all models" (scope "all").
    """
    name = name or ""
    first_bodies = " ".join(b for b in list(bodies)[:2] if isinstance(b, str))
    if (impact or "").lower() == "maintenance":
        return _no("scheduled maintenance")
    if _QUALITY.search(name):
        return _no("output-quality notice, no error impact")
    if _FEATURE_ONLY.search(name):
        return _no("a feature or defect that burns no Claude Code requests")
    if not (has_error_impact(name) or (not name and has_error_impact(first_bodies))):
        return _no("notice without error impact")
    comps = [c.lower() for c in (components or []) if isinstance(c, str)]
    comp_api = any("claude api" in c or "api.anthropic.com" in c for c in comps)
    comp_code = any(c.startswith("claude code") for c in comps)
    comp_ai = any(c.startswith("claude.ai") for c in comps)
    rest = _OTHER_SURFACES.sub(" ", name)
    fams = title_families(name or first_bodies)
    other = rest != name
    if other and not (mentions_api_surface(rest) or fams or "claude.ai" in rest.lower() and mentions_login(rest)):
        return _no("another product, not Claude Code's requests")
    if fams:
        if _ANY_MODEL.search(name or first_bodies):
            return Relevance(True, "all", fams, "names some models and others: every model")
        return Relevance(True, "models", fams, "model-specific incident")
    if comp_api or comp_code:
        return Relevance(True, "all", [], "component Claude API / Claude Code")
    if mentions_api_surface(rest):
        return Relevance(True, "all", [], "API, models or Claude Code named")
    if (comp_ai or "claude.ai" in name.lower() or mentions_login(name)) and mentions_login(name + " " + first_bodies):
        return Relevance(True, "all", [], "claude.ai login (Claude Code signs in through it)", login_only=True)
    if comp_ai or "claude.ai" in name.lower():
        return _no("claude.ai only (not login)")
    return _no("no component or model that Claude Code uses")


# -- reading a Statuspage incident object ----------------------------------------------------------
def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []  # "components": 7 holds no items


def _component_names(items: Any, into: list[str]) -> list[str]:
    """Names of a component list, added to `into` when new: {"name": "Claude API"} or a plain
    "Claude API" (trimmed copies and exports list bare names); anything else names nothing."""
    added: list[str] = []
    for comp in _items(items):
        name = _text(comp.get("name")) if isinstance(comp, dict) else _text(comp)
        if name:
            added.append(name)
            if name not in into:
                into.append(name)
    return added


class StatuspageUpdate:
    """One update of a Statuspage incident as read: its object, text ("" when it has none: a status
    change without words still counts as an update), when it was posted (canonical ISO: created_at,
    else display_at) and the components it names as affected."""

    __slots__ = ("raw", "body", "created", "affected")

    def __init__(self, raw: dict[str, Any], body: str, created: str | None, affected: list[str]) -> None:
        self.raw, self.body, self.created, self.affected = raw, body, created, affected


# Statuspage's scheduled-maintenance statuses; an incident's are investigating / identified / monitoring /
# resolved / postmortem, so the two sets never meet (https://doers.statuspage.io/api/v1/incidents/).
MAINTENANCE_STATUSES = frozenset(("scheduled", "in_progress", "in progress", "verifying", "completed"))


def is_maintenance(status: str | None, update_statuses: Iterable[str | None] = (),
                   scheduled_for: Any = None) -> bool:
    """A scheduled maintenance, whatever its `impact` says: Statuspage lists maintenances among the
    incidents with `scheduled_for` set and maintenance statuses, and their impact may be "none" or an
    override such as "minor" rather than "maintenance". A planned window is not an outage."""
    if isinstance(scheduled_for, str) and scheduled_for.strip():
        return True
    return any((s or "").strip().lower() in MAINTENANCE_STATUSES for s in (status, *update_statuses))


def statuspage_parts(obj: dict[str, Any]) -> tuple[str | None, str | None, list[str], list[StatuspageUpdate]]:
    """(name, impact, components, updates in the payload's order) of a Statuspage incident object.

    Components are the incident's own and then every update's affected ones, deduplicated in that order.
    The impact of a scheduled maintenance (`is_maintenance`) reads "maintenance", whatever the payload says.
    """
    components: list[str] = []
    _component_names(obj.get("components"), components)
    updates: list[StatuspageUpdate] = []
    for upd in _items(obj.get("incident_updates")):
        if not isinstance(upd, dict):
            continue
        affected = _component_names(upd.get("affected_components"), components)
        body = upd.get("body")
        created = to_iso(upd.get("created_at")) or to_iso(upd.get("display_at"))
        updates.append(StatuspageUpdate(upd, body if isinstance(body, str) else "", created, affected))
    impact = _text(obj.get("impact"))
    status = obj.get("status") if isinstance(obj.get("status"), str) else None
    if is_maintenance(status, (u.raw.get("status") if isinstance(u.raw.get("status"), str) else None
                               for u in updates), obj.get("scheduled_for")):
        impact = "maintenance"
    return _text(obj.get("name")), impact, components, updates


def bodies_oldest_first(updates: Iterable[tuple[str | None, str]]) -> list[str]:
    """The texts of (posted at, text) updates, oldest first (undated ones first, in their order): the
    `bodies` that `incident_relevance` reads."""
    return [body for _at, body in sorted(updates, key=lambda u: u[0] or "")]


def statuspage_relevance_inputs(obj: dict[str, Any]) -> tuple[str | None, str | None, list[str], list[str]]:
    """(name, impact, components, bodies): what `incident_relevance` judges of a Statuspage object."""
    name, impact, components, updates = statuspage_parts(obj)
    return name, impact, components, bodies_oldest_first((u.created, u.body) for u in updates)
