"""Anthropic's status page (DESIGN §3.2): live feed, on-disk cache, ledger history, bundled archive.

Where incident facts come from, best first:

1. **live** — `https://status.claude.com` (then `status.anthropic.com`), or the base URL in
   `CLAIMBACK_STATUS_URL` / config key `status_url` (mirrors, proxies, tests). Endpoints
   `/api/v2/summary.json`, `/api/v2/incidents.json`, `/api/v2/incidents/unresolved.json` and
   `/history.atom`, fetched in parallel under ONE deadline (3 s by default: a status check must never
   stall the user), with ETag / Last-Modified revalidation.
2. **cache** — the raw bodies of the last good fetch, `cache_dir()/status/<name>.json` plus
   `<name>.meta.json` = {url, fetched_at, etag, last_modified, status}. Other modules (guard,
   preflight, doctor) read these files through `read_cache`; a missing or corrupt file means "no data".
3. **ledger** — every incident and update ever fetched or imported is upserted into `incidents` /
   `incident_updates` and kept forever (the feed forgets after ~50 incidents, about a month).
4. **archive** — real incidents gathered from public reports, shipped as package data
   (`claimback/data/anthropic-incidents.json`, each row with its sources), loaded into the ledger with
   `source='archive'` by `load_archive` (idempotent).

A row's `source` says which of live / import / archive / demo wrote it; a better source overwrites a
weaker one, never the reverse, so a later archive load cannot undo what the live feed said.
Faults (DNS, refused connection, timeout, HTTP errors, HTML instead of JSON, invalid or oversized
JSON, incidents with missing fields) never raise: the caller gets the next source down and a note
saying which one and how old it is.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from claimback import __version__
from claimback.config import cache_dir, load_config
from claimback.errors import BadInput, ClaimbackError
from claimback.ledger.store import Ledger, utc_now_iso
from claimback.sources.incident_text import UpdateText, models_mentioned, parse_impact_window

DEFAULT_BASE_URLS = ("https://status.claude.com", "https://status.anthropic.com")
DEFAULT_TIMEOUT = 3.0
CACHE_FRESH_SECONDS = 300  # a cache younger than this is used without asking the network
MAX_BODY_BYTES = 8 * 1024 * 1024  # the real incidents.json is ~200 KB; anything huge is not it
MAX_IMPORT_BYTES = 64 * 1024 * 1024
ENDPOINTS: dict[str, str] = {
    "summary": "/api/v2/summary.json",
    "incidents": "/api/v2/incidents.json",
    "unresolved": "/api/v2/incidents/unresolved.json",
    "history": "/history.atom",
}
JSON_NAMES = ("summary", "incidents", "unresolved")
SOURCE_RANK = {"demo": 1, "archive": 2, "import": 3, "live": 4}
ARCHIVE_META_KEY = "statuspage.archive_sha256"
ARCHIVE_RESOURCE = "anthropic-incidents.json"
PAGE_URL = "https://status.claude.com"
ATOM_NS = "{http://www.w3.org/2005/Atom}"


# -- time helpers ----------------------------------------------------------------------------------
def to_iso(value: Any) -> str | None:
    """Any ISO-8601 instant (Z or offset) → the ledger's `YYYY-MM-DDTHH:MM:SS.mmmZ`; junk → None."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def age_seconds(iso: str | None, now: datetime | None = None) -> float | None:
    dt = parse_iso(iso)
    if dt is None:
        return None
    return max(0.0, ((now or datetime.now(timezone.utc)) - dt).total_seconds())


def describe_age(seconds: float | None) -> str:
    if seconds is None:
        return "of unknown age"
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


# -- configuration ---------------------------------------------------------------------------------
def base_urls() -> list[str]:
    """`CLAIMBACK_STATUS_URL`, else config `status_url`, else status.claude.com then status.anthropic.com."""
    override = os.environ.get("CLAIMBACK_STATUS_URL", "").strip()
    if not override:
        try:
            override = (load_config().status_url or "").strip()
        except ClaimbackError:
            override = ""  # a broken config file must not stop a status check
    if override:
        return [override.rstrip("/")]
    return list(DEFAULT_BASE_URLS)


# -- cache -----------------------------------------------------------------------------------------
def status_cache_dir() -> Path:
    return cache_dir() / "status"


def _cache_paths(name: str) -> tuple[Path, Path]:
    ext = "atom" if name == "history" else "json"
    folder = status_cache_dir()
    return folder / f"{name}.{ext}", folder / f"{name}.meta.json"


@dataclass
class CachedPayload:
    name: str
    body: bytes
    meta: dict[str, Any]
    data: Any  # decoded JSON (dict) for JSON names; the raw text for history

    @property
    def fetched_at(self) -> str | None:
        return self.meta.get("fetched_at")

    @property
    def age_seconds(self) -> float | None:
        return age_seconds(self.fetched_at)


def read_cache(name: str) -> CachedPayload | None:
    """The cached payload `name` (summary | incidents | unresolved | history), or None when missing,
    unreadable or corrupt — callers treat all of those as "no data"."""
    body_path, meta_path = _cache_paths(name)
    try:
        body = body_path.read_bytes()
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("fetched_at"), str):
        return None
    if name == "history":
        try:
            return CachedPayload(name, body, meta, body.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if _shape_problem(name, data):
        return None
    return CachedPayload(name, body, meta, data)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_cache(name: str, body: bytes, meta: dict[str, Any]) -> None:
    body_path, meta_path = _cache_paths(name)
    try:
        _atomic_write(body_path, body)
        _atomic_write(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
    except OSError:
        pass  # a read-only cache dir costs freshness next time, nothing else


def _touch_cache(name: str, meta: dict[str, Any]) -> None:
    _, meta_path = _cache_paths(name)
    try:
        _atomic_write(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
    except OSError:
        pass


# -- fetching --------------------------------------------------------------------------------------
@dataclass
class FetchOutcome:
    name: str
    ok: bool
    url: str | None = None
    data: Any = None
    body: bytes | None = None
    status: int | None = None
    not_modified: bool = False
    fault: str | None = None
    seconds: float = 0.0


def _shape_problem(name: str, data: Any) -> str | None:
    if not isinstance(data, dict):
        return "JSON is not an object"
    if name in ("incidents", "unresolved"):
        if not isinstance(data.get("incidents"), list):
            return "JSON has no 'incidents' list"
    elif name == "summary":
        if not any(k in data for k in ("status", "components", "incidents")):
            return "JSON is not a Statuspage summary"
        for key in ("components", "incidents"):
            if key in data and not isinstance(data[key], list):
                return f"summary '{key}' is not a list"
    return None


def _decode(name: str, body: bytes) -> tuple[Any, str | None]:
    if name == "history":
        try:
            text = body.decode("utf-8")
            root = ET.fromstring(text)
        except (UnicodeDecodeError, ET.ParseError):
            return None, "history feed is not valid XML"
        if root.tag not in (f"{ATOM_NS}feed", "rss"):
            return None, "history feed is not Atom or RSS (an HTML page?)"
        return text, None
    head = body.lstrip()[:1]
    if head == b"<":
        return None, "got HTML instead of JSON (a captive portal or error page?)"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, "invalid JSON"
    problem = _shape_problem(name, data)
    return (None, problem) if problem else (data, None)


def _fetch_one(name: str, bases: Sequence[str], deadline: float) -> FetchOutcome:
    import httpx

    started = time.monotonic()
    cached = read_cache(name)
    faults: list[str] = []
    for base in bases:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            faults.append("no time left")
            break
        url = base + ENDPOINTS[name]
        headers = {"User-Agent": f"claimback/{__version__}",
                   "Accept": "application/atom+xml" if name == "history" else "application/json"}
        if cached and cached.meta.get("url") == url:
            if cached.meta.get("etag"):
                headers["If-None-Match"] = cached.meta["etag"]
            if cached.meta.get("last_modified"):
                headers["If-Modified-Since"] = cached.meta["last_modified"]
        host = httpx.URL(url).host
        try:
            with httpx.Client(timeout=httpx.Timeout(remaining), follow_redirects=True,
                              trust_env=True) as client:
                with client.stream("GET", url, headers=headers) as resp:
                    if resp.status_code == 304 and cached is not None:
                        meta = dict(cached.meta, fetched_at=utc_now_iso(), status=304)
                        _touch_cache(name, meta)
                        return FetchOutcome(name, True, url, cached.data, cached.body, 304, True,
                                            seconds=time.monotonic() - started)
                    if resp.status_code >= 300:
                        faults.append(f"{host}: HTTP {resp.status_code}")
                        continue
                    chunks: list[bytes] = []
                    total = 0
                    too_big = late = False
                    for chunk in resp.iter_bytes():
                        total += len(chunk)
                        if total > MAX_BODY_BYTES:
                            too_big = True
                            break
                        if time.monotonic() > deadline:
                            late = True
                            break
                        chunks.append(chunk)
                    if too_big:
                        faults.append(f"{host}: response larger than {MAX_BODY_BYTES // 1_048_576} MiB")
                        continue
                    if late:
                        faults.append(f"{host}: timed out while reading")
                        continue
                    etag, last_modified = resp.headers.get("etag"), resp.headers.get("last-modified")
                    status = resp.status_code
        except httpx.TimeoutException:
            faults.append(f"{host}: timed out")
            continue
        except httpx.ConnectError as exc:
            faults.append(f"{host}: cannot connect ({_short(exc)})")
            continue
        except (httpx.HTTPError, OSError, ValueError) as exc:
            faults.append(f"{host}: {_short(exc)}")
            continue
        body = b"".join(chunks)
        data, problem = _decode(name, body)
        if problem:
            faults.append(f"{host}: {problem}")
            continue
        write_cache(name, body, {"url": url, "fetched_at": utc_now_iso(), "etag": etag,
                                 "last_modified": last_modified, "status": status})
        return FetchOutcome(name, True, url, data, body, status, seconds=time.monotonic() - started)
    return FetchOutcome(name, False, fault="; ".join(faults) or "no status URL",
                        seconds=time.monotonic() - started)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


def fetch_all(names: Sequence[str] = tuple(ENDPOINTS), timeout: float = DEFAULT_TIMEOUT) -> dict[str, FetchOutcome]:
    """Fetch the endpoints in parallel; returns within `timeout` seconds (plus a few ms).

    Each fetch runs in a daemon thread joined with the shared deadline, because a DNS lookup
    (getaddrinfo) is not covered by httpx's timeouts: a thread stuck there is abandoned, never waited on.
    """
    import threading

    bases = base_urls()
    deadline = time.monotonic() + timeout
    results: dict[str, FetchOutcome] = {}

    def run(name: str) -> None:
        try:
            results[name] = _fetch_one(name, bases, deadline)
        except Exception as exc:  # noqa: BLE001 - a status check must never crash its caller
            results[name] = FetchOutcome(name, False, fault=f"unexpected error: {_short(exc)}")

    threads = [threading.Thread(target=run, args=(name,), name=f"claimback-status-{name}", daemon=True)
               for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 0.2)
    return {name: results.get(name) or FetchOutcome(name, False, fault="timed out (no answer, DNS?)",
                                                    seconds=timeout) for name in names}


# -- normalized incidents --------------------------------------------------------------------------
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


def _items(value: Any) -> list[Any]:
    """A JSON list, or nothing: a payload's "components": 7 or "...": "text" holds no items."""
    return value if isinstance(value, list) else []


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _finish(incident: Incident) -> Incident:
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
    components: list[str] = []
    for comp in _items(obj.get("components")):
        name = _str(comp.get("name")) if isinstance(comp, dict) else _str(comp)
        if name and name not in components:
            components.append(name)
    updates: list[IncidentUpdate] = []
    for i, upd in enumerate(_items(obj.get("incident_updates"))):
        if not isinstance(upd, dict):
            continue
        affected = [n for n in (_str(c.get("name")) for c in _items(upd.get("affected_components"))
                                if isinstance(c, dict)) if n]
        for name in affected:
            if name not in components:
                components.append(name)
        created = to_iso(upd.get("created_at")) or to_iso(upd.get("display_at"))
        update_id = _str(upd.get("id")) or f"{incident_id}:{created or i}"
        updates.append(IncidentUpdate(update_id, incident_id, _str(upd.get("status")),
                                      upd.get("body") if isinstance(upd.get("body"), str) else "",
                                      created, to_iso(upd.get("display_at")), affected))
    return _finish(Incident(
        incident_id=incident_id,
        name=_str(obj.get("name")),
        status=_str(obj.get("status")),
        impact=_str(obj.get("impact")),
        created_at=to_iso(obj.get("created_at")) or to_iso(obj.get("started_at")),
        updated_at=to_iso(obj.get("updated_at")),
        resolved_at=to_iso(obj.get("resolved_at")),
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
    components = [c for c in _items(obj.get("components")) if isinstance(c, str)]
    models = [m for m in _items(obj.get("models")) if isinstance(m, str)]
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
    return _finish(incident)


def incident_from_export(obj: Any) -> Incident | None:
    """One incident of claimback's own `outages --json` export."""
    if not isinstance(obj, dict) or not _str(obj.get("incident_id")) or not _ID.match(obj["incident_id"]):
        return None
    iid = obj["incident_id"]
    updates = []
    for i, u in enumerate(_items(obj.get("updates"))):
        if isinstance(u, dict) and isinstance(u.get("body"), str):
            updates.append(IncidentUpdate(_str(u.get("update_id")) or f"{iid}:{i}", iid, _str(u.get("status")),
                                          u["body"], to_iso(u.get("created_at")), to_iso(u.get("display_at"))))
    comps = obj.get("components")
    return _finish(Incident(
        incident_id=iid, name=_str(obj.get("name")), status=_str(obj.get("status")),
        impact=_str(obj.get("impact")), created_at=to_iso(obj.get("created_at")),
        updated_at=to_iso(obj.get("updated_at")), resolved_at=to_iso(obj.get("resolved_at")),
        impact_start=to_iso(obj.get("impact_start")), impact_end=to_iso(obj.get("impact_end")),
        components=[c for c in comps if isinstance(c, str)] if isinstance(comps, list) else None,
        models=[m for m in _items(obj.get("models")) if isinstance(m, str)],
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
        out.append(_finish(Incident(
            incident_id=iid, name=_str(title), status=updates[0].status if updates else None,
            created_at=stamps[0] if stamps else to_iso(published), updated_at=to_iso(updated),
            resolved_at=resolved, components=None, url=f"{PAGE_URL}/incidents/{iid}", updates=updates,
        )))
    return out


# -- ledger ----------------------------------------------------------------------------------------
_INCIDENT_COLUMNS = ("incident_id", "name", "status", "impact", "created_at", "updated_at", "resolved_at",
                     "impact_start", "impact_end", "components", "models", "shortlink", "url", "source",
                     "fetched_at", "raw")
_KEEP_IF_NULL = ("name", "status", "impact", "created_at", "updated_at", "resolved_at", "impact_start",
                 "impact_end", "components", "shortlink", "url", "raw")


def _upsert_incident_sql(source: str) -> str:
    weaker_or_equal = ", ".join(f"'{s}'" for s, r in SOURCE_RANK.items() if r <= SOURCE_RANK[source])
    sets = [f"{c} = COALESCE(excluded.{c}, incidents.{c})" for c in _KEEP_IF_NULL]
    sets.append("models = CASE WHEN excluded.models = '[]' THEN incidents.models ELSE excluded.models END")
    sets += ["source = excluded.source", "fetched_at = excluded.fetched_at"]
    marks = ", ".join("?" for _ in _INCIDENT_COLUMNS)
    return (f"INSERT INTO incidents ({', '.join(_INCIDENT_COLUMNS)}) VALUES ({marks}) "
            f"ON CONFLICT (incident_id) DO UPDATE SET {', '.join(sets)} "
            f"WHERE incidents.source IS NULL OR incidents.source IN ({weaker_or_equal})")


_UPSERT_UPDATE = (
    "INSERT INTO incident_updates (update_id, incident_id, status, body, created_at, display_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (update_id) DO UPDATE SET status = excluded.status, "
    "body = excluded.body, created_at = excluded.created_at, display_at = excluded.display_at"
)


def store_incidents(ledger: Ledger, incidents: Iterable[Incident], source: str,
                    fetched_at: str | None = None) -> int:
    """Upsert incidents and their updates; a weaker source never overwrites a stronger one."""
    if source not in SOURCE_RANK:
        raise ValueError(f"unknown incident source {source!r}")
    fetched_at = fetched_at or utc_now_iso()
    rows, update_rows = [], []
    for inc in incidents:
        inc.source = source
        inc.fetched_at = fetched_at
        rows.append((inc.incident_id, inc.name, inc.status, inc.impact, inc.created_at, inc.updated_at,
                     inc.resolved_at, inc.impact_start, inc.impact_end,
                     json.dumps(inc.components) if inc.components is not None else None,
                     json.dumps(inc.models), inc.shortlink, inc.url, source, fetched_at,
                     json.dumps(inc.raw, ensure_ascii=False)[:200_000] if inc.raw is not None else None))
        update_rows += [(u.update_id, u.incident_id, u.status, u.body, u.created_at, u.display_at)
                        for u in inc.updates]
    if not rows:
        return 0
    with ledger.transaction():
        ledger.executemany(_upsert_incident_sql(source), rows)
        ledger.executemany(_UPSERT_UPDATE, update_rows)
    return len(rows)


def _loads_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else None


def ledger_incidents(ledger: Ledger, since: str | None = None, until: str | None = None) -> list[Incident]:
    """Every incident in the ledger (optionally overlapping [since, until]), with its updates."""
    rows = ledger.rows("SELECT * FROM incidents ORDER BY created_at")
    updates: dict[str, list[IncidentUpdate]] = {}
    for u in ledger.rows("SELECT update_id, incident_id, status, body, created_at, display_at "
                         "FROM incident_updates ORDER BY created_at"):
        updates.setdefault(u["incident_id"], []).append(
            IncidentUpdate(u["update_id"], u["incident_id"], u["status"], u["body"] or "", u["created_at"],
                           u["display_at"]))
    for iid, ups in updates.items():
        # The feed repeats what the JSON API says, minus ids: keep the feed's copy only when alone.
        if any(not u.update_id.startswith("feed:") for u in ups):
            updates[iid] = [u for u in ups if not u.update_id.startswith("feed:")]
    out = []
    for r in rows:
        raw = None
        if r["raw"]:
            try:
                raw = json.loads(r["raw"])
            except ValueError:
                raw = None
        inc = Incident(
            incident_id=r["incident_id"], name=r["name"], status=r["status"], impact=r["impact"],
            created_at=r["created_at"], updated_at=r["updated_at"], resolved_at=r["resolved_at"],
            impact_start=r["impact_start"], impact_end=r["impact_end"],
            components=_loads_list(r["components"]), models=_loads_list(r["models"]) or [],
            shortlink=r["shortlink"], url=r["url"], source=r["source"] or "live", fetched_at=r["fetched_at"],
            updates=updates.get(r["incident_id"], []), raw=raw if isinstance(raw, dict) else None,
        )
        if inc.impact_start is None and inc.impact_end is None and inc.updates:
            _finish(inc)  # updates may have arrived after the row
        first = inc.impact_start or inc.created_at
        last = inc.impact_end or inc.resolved_at or inc.updated_at or first
        if since and last and last < since:
            continue
        if until and first and first > until:
            continue
        out.append(inc)
    return out


# -- the archive -----------------------------------------------------------------------------------
def archive_bytes() -> bytes:
    # Addressed from the `claimback` package so `data/` needs no __init__.py of its own.
    return resources.files("claimback").joinpath("data", ARCHIVE_RESOURCE).read_bytes()


def archive_note() -> str:
    try:
        return str(json.loads(archive_bytes()).get("source_note") or "")
    except (OSError, ValueError):
        return ""


def load_archive(ledger: Ledger, force: bool = False) -> int:
    """Load the bundled incident archive into the ledger (`source='archive'`), once per archive version.

    Returns the number of incidents written (0 when this archive version is already loaded). Rows the
    live feed or an import already wrote are not overwritten. The demo's `load_extras` may call this.
    """
    body = archive_bytes()
    digest = hashlib.sha256(body).hexdigest()
    if not force and ledger.scalar("SELECT value FROM meta WHERE key = ?", (ARCHIVE_META_KEY,)) == digest:
        return 0
    data = json.loads(body)
    incidents = [i for i in (incident_from_archive(o) for o in data.get("incidents", [])) if i]
    written = store_incidents(ledger, incidents, "archive", fetched_at=to_iso(data.get("generated")))
    with ledger.transaction():
        ledger.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                       "value = excluded.value", (ARCHIVE_META_KEY, digest))
    return written


# -- import ----------------------------------------------------------------------------------------
IMPORT_FORMATS = ("Statuspage incidents.json / incidents/unresolved.json / summary.json",
                  "a Statuspage Atom (history.atom) or RSS (history.rss) feed",
                  "claimback's own export (`claimback outages --json`)",
                  "claimback's incident archive (anthropic-incidents.json)")


@dataclass
class ImportResult:
    path: str
    format: str
    incidents: int
    skipped: int
    updates: int


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
    except ValueError:
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


def import_file(ledger: Ledger, path: str | os.PathLike[str]) -> ImportResult:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_IMPORT_BYTES:
            raise BadInput(f"{p.name} is larger than {MAX_IMPORT_BYTES // 1_048_576} MiB; not an incident file")
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"no such file: {p}") from None
    except IsADirectoryError:
        raise BadInput(f"{p} is a directory; give the incident file itself") from None
    except UnicodeDecodeError:
        raise BadInput(f"{p.name} is not UTF-8 text; accepted formats: {'; '.join(IMPORT_FORMATS)}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {p}: {exc.strerror}") from None
    fmt, incidents, skipped = parse_import(text)
    load_archive(ledger)  # the archive first, so imported rows win where both speak
    n = store_incidents(ledger, incidents, "import")
    return ImportResult(p.name, fmt, n, skipped, sum(len(i.updates) for i in incidents))


# -- sync: the fallback chain ----------------------------------------------------------------------
@dataclass
class StatusSync:
    """What the status data in the ledger is based on, for the report's "data source" line."""

    origin: str  # live | cache | ledger | archive | demo
    fetched_at: str | None
    age_seconds: float | None
    note: str
    faults: list[str] = field(default_factory=list)
    url: str | None = None
    incidents_stored: int = 0
    archive_incidents: int = 0
    summary: dict[str, Any] | None = None  # raw summary.json, when live or cached
    unresolved: list[Incident] | None = None  # from unresolved.json / summary, when live or cached


def _store_payloads(ledger: Ledger, payloads: dict[str, Any], fetched_at: str | None) -> tuple[int, list[Incident] | None]:
    stored = 0
    if isinstance(payloads.get("history"), str):
        try:
            stored += store_incidents(ledger, incidents_from_feed(payloads["history"]), "live", fetched_at)
        except BadInput:
            pass
    unresolved: list[Incident] | None = None
    for name in ("incidents", "summary", "unresolved"):
        data = payloads.get(name)
        if not isinstance(data, dict):
            continue
        items = [i for i in (incident_from_statuspage(o) for o in _items(data.get("incidents"))) if i]
        stored += store_incidents(ledger, items, "live", fetched_at)
        if name == "unresolved" or (name == "summary" and unresolved is None):
            unresolved = [i for i in items if (i.status or "") not in ("resolved", "postmortem", "completed")]
    return stored, unresolved


def sync_status(ledger: Ledger, *, offline: bool = False, refresh: bool = False,
                timeout: float = DEFAULT_TIMEOUT, demo: bool = False) -> StatusSync:
    """Bring the ledger's incidents up to date as far as possible, never raising for network faults.

    Order: live (unless `offline`, or the cache is fresher than 5 min and not `refresh`) → cache →
    ledger → archive. The archive is always loaded (once) because it reaches back further than the feed.
    """
    archive_n = load_archive(ledger)
    faults: list[str] = []
    if demo:
        return StatusSync("demo", None, None, "demo data: the bundled archive and the demo's incidents "
                          "(no network)", archive_incidents=archive_n)
    names = tuple(ENDPOINTS)
    cached = {n: read_cache(n) for n in names}
    ages = [c.age_seconds if c is not None else None for c in (cached[n] for n in JSON_NAMES)]
    fresh = all(a is not None and a < CACHE_FRESH_SECONDS for a in ages)
    recent_failure = None if (offline or refresh) else _recent_failure()
    if recent_failure is not None and not fresh:
        # The page failed moments ago (one audit asks several times): do not wait on it again.
        faults = [str(f) for f in recent_failure.get("faults") or []]
    elif not offline and (refresh or not fresh):
        outcomes = fetch_all(names, timeout)
        good = {n: o for n, o in outcomes.items() if o.ok}
        faults = [f"{n}: {o.fault}" for n, o in outcomes.items() if not o.ok]
        _note_failure(None if good else faults)
        if "incidents" in good or "unresolved" in good or "summary" in good:
            now = utc_now_iso()
            payloads = {n: o.data for n, o in good.items()}
            stored, unresolved = _store_payloads(ledger, payloads, now)
            url = next((o.url for o in good.values() if o.url), None)
            summary = payloads.get("summary") if isinstance(payloads.get("summary"), dict) else None
            partial = f" ({len(faults)} of {len(names)} endpoints failed)" if faults else ""
            return StatusSync("live", now, 0.0, f"status page: live from {_host(url)}, fetched just now{partial}",
                              faults, url, stored, archive_n, summary, unresolved)
        cached = {n: read_cache(n) for n in names}  # a 304 may have refreshed the meta
    have = {n: c for n, c in cached.items() if c is not None}
    why = "offline" if offline else ("status page unreachable: " + "; ".join(sorted(set(
        f.split(": ", 1)[1] for f in faults)))[:300] if faults else "")
    if have:
        oldest = min((c.fetched_at for c in have.values() if c.fetched_at), default=None)
        payloads = {n: c.data for n, c in have.items()}
        stored, unresolved = _store_payloads(ledger, payloads, oldest)
        age = age_seconds(oldest)
        url = next((c.meta.get("url") for c in have.values() if c.meta.get("url")), None)
        lead = f"{why}; " if why else ""
        summary = payloads.get("summary") if isinstance(payloads.get("summary"), dict) else None
        return StatusSync("cache", oldest, age, f"{lead}status page: cached copy from {_host(url)}, "
                          f"fetched {describe_age(age)}", faults, url, stored, archive_n, summary, unresolved)
    last_live = ledger.scalar("SELECT MAX(fetched_at) FROM incidents WHERE source = 'live'")
    lead = f"{why}; " if why else ""
    if last_live:
        age = age_seconds(last_live)
        return StatusSync("ledger", last_live, age, f"{lead}status page: incidents stored in the ledger, last "
                          f"fetched {describe_age(age)}, plus the bundled archive", faults,
                          archive_incidents=archive_n)
    generated = ledger.scalar("SELECT MAX(fetched_at) FROM incidents WHERE source = 'archive'")
    return StatusSync("archive", generated, age_seconds(generated),
                      f"{lead}status page: bundled archive only (collected {(generated or '?')[:10]}; "
                      f"incidents after that are missing unless imported)", faults, archive_incidents=archive_n)


FAILURE_BACKOFF_SECONDS = 60


def _failure_path() -> Path:
    return status_cache_dir() / "last-failure.json"


def _recent_failure() -> dict[str, Any] | None:
    try:
        data = json.loads(_failure_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    age = age_seconds(data.get("at") if isinstance(data.get("at"), str) else None)
    return data if age is not None and age < FAILURE_BACKOFF_SECONDS else None


def _note_failure(faults: list[str] | None) -> None:
    """Remember a failed fetch for a minute (None clears it after a success)."""
    try:
        if faults is None:
            _failure_path().unlink(missing_ok=True)
        else:
            _atomic_write(_failure_path(), json.dumps({"at": utc_now_iso(), "faults": faults}).encode("utf-8"))
    except OSError:
        pass


def _host(url: str | None) -> str:
    if not url:
        return "?"
    m = re.match(r"^[a-z]+://([^/]+)", url)
    return m.group(1) if m else url
