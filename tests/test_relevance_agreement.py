"""The guard hook and the outage windows judge incidents alike (one judgment: incident_text).

Every archived incident is put to both, for a session using a given set of models: the outage windows
of a real ledger holding the bundled archive and one request of that session at the start of each
incident's interval, and the guard's `classify_incident` on the same incident as a Statuspage object
that is open right now. With the guard's policy filters opened up (any impact, every component) the
two agree incident for incident; with the default policy the guard only ever narrows.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from claimback.analysis.outages import incident_interval, incident_relevance, outages_report
from claimback.core import times
from claimback.ledger import open_ledger
from claimback.prevent import signals
from claimback.sources import statuspage as sp
from claimback.sources.incidents import incident_from_archive
from claimback.sources.incident_text import families_overlap, model_family

ROWS: list[dict[str, Any]] = json.loads(
    resources.files("claimback").joinpath("data/anthropic-incidents.json").read_text(encoding="utf-8"))["incidents"]
# Impact below the default minimum, components outside the default list, claude.ai for login incidents.
OPEN_POLICY = dict(signals.DEFAULT_POLICY, min_impact="none",
                   components=sorted({c for r in ROWS for c in r["components"]} | {"claude.ai"}))

MODEL_SETS = [
    ["claude-opus-4-6"],
    ["claude-opus-4-8", "claude-haiku-4-5-20251001"],
    ["claude-sonnet-4-5-20250929"],
    ["claude-mythos-5-1", "claude-fable-5"],
    ["claude-opus-4-20250514"],
    ["claude-3-5-sonnet-20241022"],
]


def _as_statuspage(row: dict[str, Any]) -> dict[str, Any]:
    """The archive row as the guard would read it from the status cache while it is open."""
    return {"id": row["id"], "name": row["name"], "status": "investigating", "impact": row["impact"],
            "components": [{"name": c} for c in row["components"]]}


def _window_incidents(tmp_path: Path, models: list[str]) -> tuple[set[str], set[str]]:
    """(incident ids in the outage windows, ids of incidents with a time) of a ledger where session s1
    used `models` during every incident (an incident without any time can make no window)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    ledger = open_ledger(tmp_path / "agree.sqlite3")
    try:
        assert sp.load_archive(ledger) > 0
        now = datetime.now(timezone.utc)
        rows, timed = [], set()
        for inc in sp.ledger_incidents(ledger):
            span = incident_interval(inc, now)
            if span is None:
                continue
            timed.add(inc.incident_id)
            for model in models:
                rows.append((f"{inc.incident_id}:{model}", "s1", times.to_iso(span[0]), model))
        with ledger.transaction():
            ledger.executemany("INSERT INTO requests (request_key, session_id, ts, model) VALUES (?, ?, ?, ?)", rows)
        report = outages_report(ledger, "2024-01-01", "2026-12-31", sync=False)
        assert report.incidents_considered == len(ROWS)
        return {i for w in report.windows for i in w.incident_ids}, timed
    finally:
        ledger.close()


@pytest.mark.parametrize("models", MODEL_SETS, ids=lambda m: "+".join(m))
def test_guard_and_outage_windows_agree_on_every_archived_incident(tmp_path: Path, models: list[str]) -> None:
    in_windows, timed = _window_incidents(tmp_path, models)
    assert len(ROWS) == 705 and len(timed) >= 690
    used = [f for f in (model_family(m) for m in models) if f]
    keyed = [(incident_from_archive(r).incident_id, r) for r in ROWS]  # rows without id get a content key
    # An incident with no time makes no window: the windows' own relevance reading stands in for it.
    for iid, row in keyed:
        if iid not in timed:
            rel = incident_relevance(incident_from_archive(row))
            counts = rel.relevant and (rel.scope == "all" or families_overlap(rel.model_families, used))
            in_windows |= {iid} if counts else set()
    guard_open = {i for i, r in keyed if signals.classify_incident(_as_statuspage(r), OPEN_POLICY, used)}
    guard_default = {i for i, r in keyed if signals.classify_incident(_as_statuspage(r), dict(signals.DEFAULT_POLICY), used)}
    assert in_windows, "some archived incident concerns these models"
    names = {i: r["name"] for i, r in keyed}
    assert {i: names[i] for i in guard_open - in_windows} == {}
    assert {i: names[i] for i in in_windows - guard_open} == {}
    assert guard_default <= guard_open and guard_default, "the policy only narrows"


def test_model_specific_incidents_split_the_sessions(tmp_path: Path) -> None:
    """The agreement is not vacuous: the two model sets see different model-specific incidents."""
    opus, _ = _window_incidents(tmp_path / "a", ["claude-opus-4-6"])
    sonnet, _ = _window_incidents(tmp_path / "b", ["claude-sonnet-4-5-20250929"])
    assert opus - sonnet and sonnet - opus and opus & sonnet


# Statuspage payloads in the shapes copies of the API take: components given as plain strings (trimmed
# fixtures, exports) and updates without a body (a status change with no text). The guard reads the
# status cache's payload, the archive reads the same payload through incident_from_statuspage: one
# reading, so one judgement.
_NOW = "2026-11-30T10:00:00.000Z"
PAYLOADS: list[dict[str, Any]] = [
    {"id": "strcomp1", "name": "Elevated errors", "status": "investigating", "impact": "major",
     "components": ["Claude Code"], "created_at": _NOW},
    {"id": "strcomp2", "name": "Elevated errors", "status": "investigating", "impact": "major",
     "components": [" Claude API (api.anthropic.com) ", {"name": "Claude API (api.anthropic.com)"}, 7, None], "created_at": _NOW},
    {"id": "nobody1", "name": None, "status": "investigating", "impact": "minor", "created_at": _NOW,
     "components": [{"name": "Claude Code"}],
     "incident_updates": [
         {"id": "u3", "created_at": "2026-11-30T10:20:00.000Z", "body": "Errors on the API for Claude Code"},
         {"id": "u2", "created_at": "2026-11-30T10:10:00.000Z", "body": "We are looking into it."},
         {"id": "u1", "created_at": "2026-11-30T10:00:00.000Z", "status": "investigating"},
     ]},
    {"id": "nobody2", "name": "", "status": "identified", "impact": "minor", "created_at": _NOW,
     "incident_updates": [
         {"id": "u2", "created_at": "2026-11-30T10:10:00.000Z", "body": None,
          "affected_components": [{"name": "Claude API"}, "Claude Code"]},
         {"id": "u1", "display_at": "2026-11-30T10:00:00.000Z", "body": "Elevated errors on Opus 4.6"},
     ]},
    {"id": "plain1", "name": "Elevated errors on Claude Opus 4.6 and Sonnet 4.5", "status": "monitoring",
     "impact": "critical", "components": [{"name": "claude.ai"}], "created_at": _NOW,
     "incident_updates": [{"id": "u1", "created_at": _NOW, "body": "Switch to Haiku 4.5 meanwhile.",
                           "affected_components": [{"name": "Claude API"}]}]},
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p["id"])
def test_guard_and_archive_read_a_statuspage_payload_alike(payload: dict[str, Any]) -> None:
    from claimback.sources.incidents import incident_from_statuspage

    incident = incident_from_statuspage(payload)
    assert incident is not None
    bodies = [u.body for u in sorted(incident.updates, key=lambda u: u.created_at or "")]
    name, _impact, components, guard_bodies = signals.relevance_inputs(payload)
    assert (name, components, guard_bodies) == (incident.name, incident.components, bodies)
    archive = incident_relevance(incident)
    for models in MODEL_SETS:
        used = [f for f in (model_family(m) for m in models) if f]
        guard = signals.classify_incident(payload, OPEN_POLICY, used)
        counts = archive.relevant and (archive.scope == "all" or families_overlap(archive.model_families, used))
        assert bool(guard) == counts, (models, archive)
