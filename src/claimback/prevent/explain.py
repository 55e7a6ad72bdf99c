"""`claimback doctor explain`: one error message → its class, meaning, likely cause, next step, and
whether an open incident on the status page (from the cache, never the network) explains it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from claimback.core.classify import (
    CLASS_INFO,
    INTERRUPT,
    OUTAGE,
    UNKNOWN,
    classify,
    extract_fields,
    normalize_signature,
)
from claimback.sources.status_client import read_cache


@dataclass
class IncidentNote:
    checked: bool  # False: no status data cached
    explains: bool | None
    summary: str
    incidents: list[dict[str, Any]] = field(default_factory=list)  # id, name, status, impact, started, link
    cache_fetched_at: str | None = None


@dataclass
class Explanation:
    failure_class: str
    meaning: str
    likely_cause: str
    next_step: str
    signature: str
    status: int | None
    error_type: str | None
    code: str | None
    incident: IncidentNote
    suggestion: str | None = None
    reference: str = ""  # the section of Claude Code's error reference for this class


_RELEVANT_COMPONENTS = ("claude api", "claude code", "api.anthropic.com", "claude.ai")


def _read_cached(name: str) -> tuple[Any, dict[str, Any] | None]:
    """One cached status payload, offline only (never fetches). Missing or corrupt → (None, None)."""
    cached = read_cache(name)
    return (cached.data, cached.meta) if cached is not None else (None, None)


def current_incidents() -> tuple[list[dict[str, Any]] | None, str | None]:
    """Unresolved incidents from the status cache (COMMON.md contract); (None, None) when no data."""
    for name in ("unresolved", "summary", "incidents"):
        body, meta = _read_cached(name)
        if not isinstance(body, dict) or not isinstance(body.get("incidents"), list):
            continue
        open_ones = [i for i in body["incidents"] if isinstance(i, dict)
                     and str(i.get("status", "")).lower() not in ("resolved", "completed", "postmortem")]
        return open_ones, (meta or {}).get("fetched_at")
    return None, None


def _incident_row(incident: dict[str, Any]) -> dict[str, Any]:
    components = [c.get("name") for c in incident.get("components") or () if isinstance(c, dict)]
    return {"id": incident.get("id"), "name": incident.get("name"), "status": incident.get("status"),
            "impact": incident.get("impact"), "started": incident.get("started_at") or incident.get("created_at"),
            "link": incident.get("shortlink"), "components": [c for c in components if c]}


def relevant_incident(incident: dict[str, Any]) -> bool:
    components = [str(c.get("name", "")).lower() for c in incident.get("components") or () if isinstance(c, dict)]
    if not components:
        return True  # many Anthropic incidents name no component; an open one may well be ours
    return any(any(key in c for key in _RELEVANT_COMPONENTS) for c in components)


def incident_note(failure_class: str) -> IncidentNote:
    incidents, fetched = current_incidents()
    if incidents is None:
        return IncidentNote(False, None, "no status-page data cached: run `claimback status` to check for a "
                            "current incident")
    relevant = [_incident_row(i) for i in incidents if relevant_incident(i)]
    if not relevant:
        return IncidentNote(True, False, "no open incident on status.claude.com"
                            + (" (as of " + str(fetched)[:16].replace("T", " ") + " UTC)" if fetched else ""),
                            cache_fetched_at=fetched)
    names = "; ".join(f"{r['name']} ({r['status']})" for r in relevant[:3])
    if failure_class == OUTAGE:
        return IncidentNote(True, True, f"yes, likely: open incident {names}", relevant, fetched)
    return IncidentNote(True, False, f"an incident is open ({names}), but a {failure_class} error is not the kind "
                        "an outage causes", relevant, fetched)


def explain(text: str) -> Explanation:
    """Classify one error message, with what it means, its likely cause, the next step, the normalized
    signature, and whether a current incident explains it."""
    status, etype, code = extract_fields(text)
    cls = classify(status, etype, code, text)
    info = CLASS_INFO.get(cls, CLASS_INFO[UNKNOWN])
    result = Explanation(cls, info.meaning, info.likely_cause, info.next_step,
                         normalize_signature(text), status, etype, code, incident_note(cls),
                         reference=info.reference)
    if cls == UNKNOWN:
        result.suggestion = ("Run `claimback doctor` for the full diagnostics; quote the signature above (not "
                             "the raw text) when you report it.")
    elif cls == INTERRUPT:
        result.incident = IncidentNote(False, None, "not applicable: an interruption is not an API error")
    return result


