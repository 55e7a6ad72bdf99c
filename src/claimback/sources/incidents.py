"""Status-page incidents: the model, and the parsers of every format they arrive in.

Statuspage's API v2 JSON (incidents / unresolved / summary), the bundled archive
(`claimback/data/anthropic-incidents.json`, gathered from public reports), claimback's own
`outages --json` export, and a Statuspage Atom or RSS history feed all become `Incident`s with their
`IncidentUpdate`s. A parser never raises for a bad entry: it returns None and the caller counts it as
skipped. Where a copy gives no impact window, the update text does (`incident_text`).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from claimback.core.times import parse_iso, to_iso
from claimback.errors import BadInput
from claimback.sources.incident_text import (
    UpdateText,
    is_maintenance,
    models_mentioned,
    parse_impact_window,
    statuspage_parts,
)

PAGE_URL = "https://status.claude.com"
ATOM_NS = "{http://www.w3.org/2005/Atom}"
CLOSED_STATUSES = ("resolved", "postmortem", "completed")  # an incident's ends, and a maintenance's


@dataclass
class IncidentUpdate:
    update_id: str
    incident_id: str
    status: str | None
    body: str
    created_at: str | None
    display_at: str | None = None
    components: list[str] = field(default_factory=list)


@dataclass
class Incident:
    incident_id: str
    name: str | None
    status: str | None = None
    impact: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    resolved_at: str | None = None
    impact_start: str | None = None
    impact_end: str | None = None
    components: list[str] | None = None  # None = unknown (e.g. from an Atom feed), [] = none listed
    models: list[str] = field(default_factory=list)
    shortlink: str | None = None
    url: str | None = None
    source: str = "live"
    fetched_at: str | None = None
    updates: list[IncidentUpdate] = field(default_factory=list)
    raw: dict[str, Any] | None = None

    @property
    def link(self) -> str:
        return self.shortlink or self.url or f"{PAGE_URL}/incidents/{self.incident_id}"


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def json_list(value: Any) -> list[Any]:
    """A JSON list, or nothing: a payload's "components": 7 or "...": "text" holds no items."""
    return value if isinstance(value, list) else []


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def finish_incident(incident: Incident) -> Incident:
    """Derive the impact window (from update text) and the models named, where not given."""
    if incident.impact_start is None and incident.impact_end is None and incident.updates:
        texts = [UpdateText(u.body, parse_iso(u.created_at), u.status) for u in incident.updates
                 if u.body and parse_iso(u.created_at)]
        start, end = parse_impact_window(texts)
        incident.impact_start, incident.impact_end = to_iso(start), to_iso(end)
    if not incident.models:
        text = " ".join([incident.name or ""] + [u.body for u in incident.updates if u.body])
        incident.models = models_mentioned(text)
    return incident


def incident_from_statuspage(obj: Any) -> Incident | None:
    """One incident object of Statuspage's API v2; None when it lacks a usable id."""
    if not isinstance(obj, dict):
        return None
    incident_id = _str(obj.get("id"))
    if incident_id is None or not _ID.match(incident_id):
        # Some copies (trimmed fixtures) drop the id; the shortlink/url still names the incident page.
        link = _str(obj.get("url")) or ""
        m = re.search(r"/incidents/([A-Za-z0-9]+)", link)
        if not m:
            return None
        incident_id = m.group(1)
    # The one reading of a Statuspage object, shared with the guard hook (incident_text.statuspage_parts).
    name, impact, components, parts = statuspage_parts(obj)
    updates: list[IncidentUpdate] = []
    for i, part in enumerate(parts):
        upd = part.raw
        update_id = _str(upd.get("id")) or f"{incident_id}:{part.created or i}"
        updates.append(IncidentUpdate(update_id, incident_id, _str(upd.get("status")), part.body, part.created,
                                      to_iso(upd.get("display_at")), part.affected))
    status = _str(obj.get("status"))
    resolved_at = to_iso(obj.get("resolved_at"))
    if resolved_at is None and (status or "").lower() in CLOSED_STATUSES:
        # A trimmed copy without resolved_at: its first closing update says when it ended.
        resolved_at = min((u.created_at for u in updates if u.created_at and (u.status or "").lower()
                           in CLOSED_STATUSES), default=None)
    return finish_incident(Incident(
        incident_id=incident_id,
        name=name,
        status=status,
        impact=impact,
        created_at=to_iso(obj.get("created_at")) or to_iso(obj.get("started_at")),
        updated_at=to_iso(obj.get("updated_at")),
        resolved_at=resolved_at,
        components=components,
        shortlink=_str(obj.get("shortlink")),
        url=f"{PAGE_URL}/incidents/{incident_id}",
        updates=updates,
        raw=obj,
    ))


def incident_from_archive(obj: Any) -> Incident | None:
    """One row of claimback's archive format (`data/anthropic-incidents.json`)."""
    if not isinstance(obj, dict):
        return None
    iid = _str(obj.get("id"))
    url = _str(obj.get("url"))
    if iid is None:
        # A few public reports name an incident without its page id: key it by its content instead.
        if not (obj.get("impact_start") or obj.get("created_at")):
            return None
        iid = "x" + hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:11]
        url = url or f"{PAGE_URL}/history"
    elif not _ID.match(iid):
        return None
    components = [c for c in json_list(obj.get("components")) if isinstance(c, str)]
    models = [m for m in json_list(obj.get("models")) if isinstance(m, str)]
    incident = Incident(
        incident_id=iid,
        name=_str(obj.get("name")),
        status="resolved" if obj.get("resolved_at") else None,
        impact=_str(obj.get("impact")),
        created_at=to_iso(obj.get("created_at")),
        resolved_at=to_iso(obj.get("resolved_at")),
        impact_start=to_iso(obj.get("impact_start")),
        impact_end=to_iso(obj.get("impact_end")),
        components=components,
        models=models,
        shortlink=_str(obj.get("shortlink")),
        url=url or f"{PAGE_URL}/incidents/{iid}",
        raw=obj,
    )
    return finish_incident(incident)


def incident_from_export(obj: Any) -> Incident | None:
    """One incident of claimback's own `outages --json` export."""
    if not isinstance(obj, dict) or not _str(obj.get("incident_id")) or not _ID.match(obj["incident_id"]):
        return None
    iid = obj["incident_id"]
    updates = []
    for i, u in enumerate(json_list(obj.get("updates"))):
        if isinstance(u, dict) and isinstance(u.get("body"), str):
            updates.append(IncidentUpdate(_str(u.get("update_id")) or f"{iid}:{i}", iid, _str(u.get("status")),
                                          u["body"], to_iso(u.get("created_at")), to_iso(u.get("display_at"))))
    comps = obj.get("components")
    return finish_incident(Incident(
        incident_id=iid, name=_str(obj.get("name")), status=_str(obj.get("status")),
        impact=_str(obj.get("impact")), created_at=to_iso(obj.get("created_at")),
        updated_at=to_iso(obj.get("updated_at")), resolved_at=to_iso(obj.get("resolved_at")),
        impact_start=to_iso(obj.get("impact_start")), impact_end=to_iso(obj.get("impact_end")),
        components=[c for c in comps if isinstance(c, str)] if isinstance(comps, list) else None,
        models=[m for m in json_list(obj.get("models")) if isinstance(m, str)],
        shortlink=_str(obj.get("shortlink")), url=_str(obj.get("url")), updates=updates, raw=None,
    ))


# Atom/RSS: each entry's content holds every update as <p><small>May <var>15</var>, <var>01:46</var> UTC
# </small><br><strong>Resolved</strong> - text</p>.
_P = re.compile(r"<p>(.*?)</p>", re.DOTALL | re.IGNORECASE)
_SMALL = re.compile(r"<small>(.*?)</small>", re.DOTALL | re.IGNORECASE)
_STRONG = re.compile(r"<strong>(.*?)</strong>", re.DOTALL | re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_STAMP = re.compile(r"([A-Za-z]{3})[a-z]*\s+(\d{1,2}),\s*(\d{1,2}):(\d{2})\s*(UTC|GMT)?", re.IGNORECASE)
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                       "oct", "nov", "dec"), start=1)}


def _plain(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAGS.sub(" ", fragment))).strip()


def _updates_from_feed_html(incident_id: str, content: str, ref: datetime) -> list[IncidentUpdate]:
    updates = []
    for i, para in enumerate(_P.findall(html.unescape(content))):
        small, strong = _SMALL.search(para), _STRONG.search(para)
        stamp = _STAMP.search(_plain(small.group(1))) if small else None
        created = None
        if stamp and stamp.group(1).lower()[:3] in _MONTHS:
            month = _MONTHS[stamp.group(1).lower()[:3]]
            year = ref.year - (1 if month > ref.month + 1 else 0)  # a December update in a January feed
            try:
                created = datetime(year, month, int(stamp.group(2)), int(stamp.group(3)), int(stamp.group(4)),
                                   tzinfo=timezone.utc)
            except ValueError:
                created = None
        rest = para[small.end():] if small else para
        if strong:
            rest = rest.replace(strong.group(0), "", 1)
        body = _plain(rest).lstrip("-–— ").strip()
        created_iso = to_iso(created)
        updates.append(IncidentUpdate(f"feed:{incident_id}:{created_iso or i}", incident_id,
                                      _plain(strong.group(1)).lower() if strong else None, body, created_iso))
    return updates


def incidents_from_feed(text: str) -> list[Incident]:
    """Incidents of a Statuspage Atom (`/history.atom`) or RSS (`/history.rss`) feed."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise BadInput(f"the feed is not valid XML: {exc}") from None
    out: list[Incident] = []
    if root.tag == f"{ATOM_NS}feed":
        entries = [(e.findtext(f"{ATOM_NS}title"),
                    next((l.get("href") for l in e.findall(f"{ATOM_NS}link") if l.get("href")), None),
                    e.findtext(f"{ATOM_NS}published") or e.findtext(f"{ATOM_NS}updated"),
                    e.findtext(f"{ATOM_NS}updated"), e.findtext(f"{ATOM_NS}content") or "")
                   for e in root.findall(f"{ATOM_NS}entry")]
    elif root.tag == "rss":
        from email.utils import parsedate_to_datetime

        entries = []
        for item in root.iter("item"):
            try:
                pub = parsedate_to_datetime(item.findtext("pubDate") or "").isoformat()
            except (TypeError, ValueError):
                pub = None
            entries.append((item.findtext("title"), item.findtext("link"), pub, pub,
                            item.findtext("description") or ""))
    else:
        raise BadInput("the XML file is neither an Atom nor an RSS feed")
    for title, link, published, updated, content in entries:
        m = re.search(r"/incidents/([A-Za-z0-9]+)", link or "")
        if not m:
            continue
        iid = m.group(1)
        ref = parse_iso(to_iso(updated) or to_iso(published)) or datetime.now(timezone.utc)
        updates = _updates_from_feed_html(iid, content, ref)
        stamps = sorted(u.created_at for u in updates if u.created_at)
        resolved = next((u.created_at for u in updates if u.status == "resolved"), None)
        status = updates[0].status if updates else None
        out.append(finish_incident(Incident(
            incident_id=iid, name=_str(title), status=status,
            impact="maintenance" if is_maintenance(status, (u.status for u in updates)) else None,
            created_at=stamps[0] if stamps else to_iso(published), updated_at=to_iso(updated),
            resolved_at=resolved, components=None, url=f"{PAGE_URL}/incidents/{iid}", updates=updates,
        )))
    return out


IMPORT_FORMATS = ("Statuspage incidents.json / incidents/unresolved.json / summary.json",
                  "a Statuspage Atom (history.atom) or RSS (history.rss) feed",
                  "claimback's own export (`claimback outages --json`)",
                  "claimback's incident archive (anthropic-incidents.json)")


def parse_import(text: str) -> tuple[str, list[Incident], int]:
    """(format name, incidents, entries skipped) for any accepted format; BadInput otherwise."""
    accepted = "; ".join(IMPORT_FORMATS)
    stripped = text.lstrip()
    if stripped.startswith("<"):
        if stripped[:200].lower().startswith(("<!doctype html", "<html")):
            raise BadInput(f"this is an HTML page, not a feed; accepted formats: {accepted}")
        incidents = incidents_from_feed(text)
        fmt = "atom" if "http://www.w3.org/2005/Atom" in text[:2000] else "rss"
        return fmt, incidents, 0
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise BadInput(f"unknown format (neither JSON nor XML); accepted formats: {accepted}") from None
    if isinstance(data, dict) and data.get("claimback") == "outages" and isinstance(data.get("incidents"), list):
        items = data["incidents"]
        got = [incident_from_export(o) for o in items]
        return "claimback-export", [i for i in got if i], sum(1 for i in got if i is None)
    if isinstance(data, dict) and isinstance(data.get("incidents"), list):
        items = data["incidents"]
        if items and all(isinstance(o, dict) and "sources" in o and "impact_start" in o for o in items):
            got = [incident_from_archive(o) for o in items]
            return "claimback-archive", [i for i in got if i], sum(1 for i in got if i is None)
        if not items or any(isinstance(o, dict) and ("incident_updates" in o or "shortlink" in o or "impact" in o)
                            for o in items):
            got = [incident_from_statuspage(o) for o in items]
            fmt = "statuspage-summary" if "components" in data or "status" in data else "statuspage-incidents"
            return fmt, [i for i in got if i], sum(1 for i in got if i is None)
    if isinstance(data, list) and data and all(isinstance(o, dict) and "incident_updates" in o for o in data):
        got = [incident_from_statuspage(o) for o in data]
        return "statuspage-incidents", [i for i in got if i], sum(1 for i in got if i is None)
    raise BadInput(f"unknown incident file format; accepted formats: {accepted}")


