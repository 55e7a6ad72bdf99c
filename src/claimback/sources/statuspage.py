"""Status-page incidents in the ledger, and the sync policy that keeps them current (DESIGN §3.2).

Where incident facts come from, best first:

1. **live** — the status page, fetched by `status_client` (one deadline, ETag revalidation).
2. **cache** — the raw bodies of the last good fetch (`status_client.read_cache`).
3. **ledger** — every incident and update ever fetched or imported is upserted into `incidents` /
   `incident_updates` and kept forever (the feed forgets after ~50 incidents, about a month).
4. **archive** — real incidents gathered from public reports, shipped as package data
   (`claimback/data/anthropic-incidents.json`, each row with its sources), loaded into the ledger with
   `source='archive'` by `load_archive` (idempotent).

A row's `source` says which of live / import / archive / demo wrote it; a better source overwrites a
weaker one, never the reverse, so a later archive load cannot undo what the live feed said.
Network faults never raise: the caller gets the next source down and a note saying which one and how old
it is. The model and parsers live in `incidents`, the HTTP client and cache in `status_client`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from claimback.core.files import UnsafeFile, atomic_write, read_regular_bytes
from claimback.core.times import to_iso, utc_now_iso
from claimback.errors import BadInput
from claimback.ledger.store import Ledger
from claimback.sources.incidents import (
    CLOSED_STATUSES,
    IMPORT_FORMATS,
    Incident,
    IncidentUpdate,
    finish_incident,
    incident_from_archive,
    incident_from_statuspage,
    incidents_from_feed,
    json_list,
    parse_import,
)
from claimback.sources.status_client import (
    CACHE_FRESH_SECONDS,
    DEFAULT_TIMEOUT,
    ENDPOINTS,
    JSON_NAMES,
    age_seconds,
    describe_age,
    fetch_all,
    read_cache,
    status_cache_dir,
)

MAX_IMPORT_BYTES = 64 * 1024 * 1024
SOURCE_RANK = {"demo": 1, "archive": 2, "import": 3, "live": 4}
ARCHIVE_META_KEY = "statuspage.archive_sha256"
ARCHIVE_FROM_KEY = "statuspage.archive_covered_from"
ARCHIVE_UNTIL_KEY = "statuspage.archive_covered_until"
ARCHIVE_RESOURCE = "anthropic-incidents.json"


# -- ledger ----------------------------------------------------------------------------------------
_INCIDENT_COLUMNS = ("incident_id", "name", "status", "impact", "created_at", "updated_at", "resolved_at",
                     "impact_start", "impact_end", "components", "models", "shortlink", "url", "source",
                     "fetched_at", "raw")
_KEEP_IF_NULL = ("name", "status", "impact", "created_at", "updated_at", "impact_start",
                 "impact_end", "components", "shortlink", "url", "raw")


def _upsert_incident_sql(source: str) -> str:
    weaker_or_equal = ", ".join(f"'{s}'" for s, r in SOURCE_RANK.items() if r <= SOURCE_RANK[source])
    sets = [f"{c} = COALESCE(excluded.{c}, incidents.{c})" for c in _KEEP_IF_NULL]
    # A copy that says the incident is open again (Statuspage lets a resolved incident be reopened, and
    # its resolved_at goes back to null) is believed: an old resolved_at would end the outage too early.
    closed = ", ".join(f"'{s}'" for s in CLOSED_STATUSES)
    sets.append(f"resolved_at = CASE WHEN excluded.status IS NOT NULL AND excluded.status NOT IN ({closed}) "
                f"THEN excluded.resolved_at ELSE COALESCE(excluded.resolved_at, incidents.resolved_at) END")
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
            finish_incident(inc)  # updates may have arrived after the row
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
    # The days the archive speaks for (analysis.outages says "no official incident data" outside them).
    days = sorted(str(o.get("date") or o.get("created_at") or "")[:10] for o in data.get("incidents", [])
                  if isinstance(o, dict) and (o.get("date") or o.get("created_at")))
    covered = {ARCHIVE_META_KEY: digest}
    if days:
        covered[ARCHIVE_FROM_KEY] = days[0][:8] + "01"  # the archive holds whole months from its first one
        covered[ARCHIVE_UNTIL_KEY] = str(data.get("covered_until") or data.get("generated") or days[-1])[:10]
    with ledger.transaction():
        for key, value in covered.items():
            ledger.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                           "value = excluded.value", (key, value))
    return written


@dataclass
class ImportResult:
    path: str
    format: str
    incidents: int
    skipped: int
    updates: int


def import_file(ledger: Ledger, path: str | os.PathLike[str]) -> ImportResult:
    p = Path(path)
    try:
        if p.is_dir():
            raise BadInput(f"{p} is a directory; give the incident file itself")
        # A FIFO would block the import forever and a device never end: regular files only, capped.
        text = read_regular_bytes(p, MAX_IMPORT_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise BadInput(f"no such file: {p}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{p.name} is not UTF-8 text; accepted formats: {'; '.join(IMPORT_FORMATS)}") from None
    except UnsafeFile:
        if p.is_file():  # a regular file, refused for its size
            raise BadInput(f"{p.name} is larger than {MAX_IMPORT_BYTES // 1_048_576} MiB; not an incident file") from None
        raise BadInput(f"{p} is not a regular file (a FIFO or a device?); give the incident file itself") from None
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
        items = [i for i in (incident_from_statuspage(o) for o in json_list(data.get("incidents"))) if i]
        stored += store_incidents(ledger, items, "live", fetched_at)
        if name == "unresolved" or (name == "summary" and unresolved is None):
            unresolved = [i for i in items if (i.status or "") not in CLOSED_STATUSES]
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
        data = json.loads(read_regular_bytes(_failure_path(), 64 * 1024))
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
            atomic_write(_failure_path(), json.dumps({"at": utc_now_iso(), "faults": faults}).encode("utf-8"), durable=False)
    except OSError:
        pass


def _host(url: str | None) -> str:
    if not url:
        return "?"
    m = re.match(r"^[a-z]+://([^/]+)", url)
    return m.group(1) if m else url
