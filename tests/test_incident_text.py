"""Impact windows, models and families read from real status-page prose (issue 4, shared/data notes)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from claimback.sources.incident_text import (
    UpdateText,
    families_overlap,
    family_of_name,
    incident_relevance,
    model_family,
    models_mentioned,
    parse_impact_range,
    parse_impact_window,
)

ARCHIVE = Path(__file__).resolve().parents[1] / "src" / "claimback" / "data" / "anthropic-incidents.json"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M") if moment else None


# (update text, when the update was posted, expected start, expected end) — the texts are the real
# statements quoted in issue 4 and in the archive's notes for the incident named in the comment.
REAL_TEXTS = [
    # 9l93x2ht4s5w, 2026-04-28: resolve update at 19:15 UTC
    ("Impact occurred from 17:34–18:52 UTC.", "2026-04-28T19:15:00Z", "2026-04-28T17:34", "2026-04-28T18:52"),
    # lhws0phdvzz3, 2026-04-08: PT and UTC side by side; the end lies after the post (as published)
    ("between 23:00 PT / 7:00 UTC and 1:50 PT / 9:50 UTC", "2026-04-08T09:33:00Z",
     "2026-04-08T07:00", "2026-04-08T09:50"),
    # 7n7xgqws441v, 2026-04-04: posted retroactively at 17:30 UTC, PDT = UTC-7
    ("Between 10:09 and 10:31 PDT", "2026-04-04T17:30:00Z", "2026-04-04T17:09", "2026-04-04T17:31"),
    ("10:09–10:31 PDT", "2026-04-04T17:30:00Z", "2026-04-04T17:09", "2026-04-04T17:31"),
    # qcfvv041lb1k, 2026-04-10: 12-hour clock, explicit date, posted after UTC midnight
    ("between approximately 3:46 PM and 4:52 PM PDT on April 10", "2026-04-11T00:00:00Z",
     "2026-04-10T22:46", "2026-04-10T23:52"),
    # z0bqmftj68dr, 2026-04-08
    ("approximately 4:15 PM to 7:30 PM UTC", "2026-04-08T19:40:00Z", "2026-04-08T16:15", "2026-04-08T19:30"),
]


@pytest.mark.parametrize("text,posted,start,end", REAL_TEXTS)
def test_real_impact_statements(text: str, posted: str, start: str, end: str) -> None:
    found = parse_impact_range(text, at(posted))
    assert found is not None
    assert (iso(found[0]), iso(found[1])) == (start, end)


def test_range_crossing_midnight_posted_after_midnight() -> None:
    # Posted at 00:40 about a range that began the evening before.
    got = parse_impact_range("Impact occurred from 23:10–00:20 UTC.", at("2026-05-15T00:40:00Z"))
    assert got and (iso(got[0]), iso(got[1])) == ("2026-05-14T23:10", "2026-05-15T00:20")


def test_range_crossing_midnight_posted_next_morning() -> None:
    got = parse_impact_range("Requests failed between 23:10 and 00:20 UTC", at("2026-05-15T03:40:00Z"))
    assert got and (iso(got[0]), iso(got[1])) == ("2026-05-14T23:10", "2026-05-15T00:20")


def test_start_and_end_in_separate_updates() -> None:
    # k3z0fjwdjkzl, 2026-03-31: the start is in the first update, the end in the monitoring update.
    updates = [UpdateText("Issue started at 1:33 PT / 8:53 UTC", at("2026-03-31T08:53:00Z"), "investigating"),
               UpdateText("At baseline error rate from 2:19 PT / 9:19 UTC", at("2026-03-31T09:25:00Z"), "monitoring")]
    start, end = parse_impact_window(updates)
    assert (iso(start), iso(end)) == ("2026-03-31T08:53", "2026-03-31T09:19")


def test_no_times_no_window() -> None:
    updates = [UpdateText("We are investigating elevated errors on Claude Opus 4.6.", at("2026-05-15T00:18:00Z"))]
    assert parse_impact_window(updates) == (None, None)
    # version numbers and model numbers are not clock times
    assert parse_impact_range("Claude Code v2.1.120 crashes; Opus 4.6 and 4.5 fine", at("2026-05-15T00:18:00Z")) is None


def test_newest_stated_window_wins() -> None:
    updates = [UpdateText("Errors between 10:00 and 10:30 UTC", at("2026-05-01T10:40:00Z")),
               UpdateText("Correction: impact occurred from 09:55–10:45 UTC", at("2026-05-01T12:00:00Z"))]
    start, end = parse_impact_window(updates)
    assert (iso(start), iso(end)) == ("2026-05-01T09:55", "2026-05-01T10:45")


@pytest.mark.parametrize("text,expected", [
    ("Elevated Error Rates for Opus 4.8, Opus 4.7, Opus 4.6, Sonnet 4.6, and Haiku 4.5",
     ["Claude Opus 4.8", "Claude Opus 4.7", "Claude Opus 4.6", "Claude Sonnet 4.6", "Claude Haiku 4.5"]),
    ("Claude Opus 4.1 and Opus 4 degraded quality", ["Claude Opus 4.1", "Claude Opus 4"]),
    ("Sonnet 4.6 and Sonnet 5 errors elevated", ["Claude Sonnet 4.6", "Claude Sonnet 5"]),
    ("Elevated errors on Claude.ai, API, Claude Code", []),
])
def test_models_mentioned(text: str, expected: list[str]) -> None:
    assert models_mentioned(text) == expected


@pytest.mark.parametrize("model_id,family", [
    ("claude-opus-4-6", "opus-4.6"),
    ("claude-opus-4-6-20260101", "opus-4.6"),
    ("claude-opus-4-20250514", "opus-4"),
    ("claude-sonnet-4-5-20250929", "sonnet-4.5"),
    ("claude-haiku-4-5-20251001", "haiku-4.5"),
    ("claude-3-5-sonnet-20241022", "sonnet-3.5"),
    ("claude-3-opus-20240229", "opus-3"),
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "sonnet-4.5"),
    ("claude-opus-4-6@20260101", "opus-4.6"),
    ("claude-opus-4-6[1m]", "opus-4.6"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "sonnet-4.5"),
    ("claude-haiku-4-5@20251001", "haiku-4.5"),
    ("claude-mythos-5", "mythos-5"),
    ("claude-mythos-5-1", "mythos-5.1"),
    ("opus", "opus"),  # a settings alias: the family, version unknown
    ("sonnet[1m]", "sonnet"),
    ("claude-code-2-1", None),
    ("<synthetic>", None),
    ("default", None),
    (None, None),
])
def test_model_family(model_id: str | None, family: str | None) -> None:
    assert model_family(model_id) == family


def test_family_of_name_matches_model_ids() -> None:
    assert family_of_name("Claude Opus 4.6") == model_family("claude-opus-4-6")
    assert family_of_name("Opus 4.8 Fast") == "opus-4.8"
    assert family_of_name("Claude Haiku 4.5") == model_family("claude-haiku-4-5-20251001")
    assert family_of_name("Claude Mythos 5.1") == model_family("claude-mythos-5-1")
    assert family_of_name("Claude Code 2.1") is None  # a product, not a model


@pytest.mark.parametrize("title,fams", [
    ("Elevated errors on Claude Opus 4.6 and Sonnet 4.6", ["opus-4.6", "sonnet-4.6"]),
    ("Elevated errors on Opus 4.6 and 4.5", ["opus-4.6", "opus-4.5"]),
    ("Elevated errors for Claude Mythos 5, Claude Fable 5, and Claude Sonnet 5", ["mythos-5", "fable-5", "sonnet-5"]),
    ("elevated errors on Opus 48", ["opus"]),  # a typo for some Opus: every Opus
    ("Elevated errors on Claude Code", []),
    ("Claude Code 2.1 login errors", []),
    ("Elevated errors for some models", []),
])
def test_title_families(title: str, fams: list[str]) -> None:
    assert incident_relevance(title).model_families == fams


def test_families_overlap() -> None:
    assert families_overlap(["opus-4.6"], ["opus-4.6"])
    assert not families_overlap(["opus-5"], ["opus-5.1"])  # distinct models ("Opus 4.1 and Opus 4")
    assert families_overlap(["opus-5"], ["opus"]) and families_overlap(["opus"], ["opus-4.8"])
    assert not families_overlap(["opus"], ["sonnet-4.6", None])
    assert not families_overlap([], ["opus-4.6"])


@pytest.mark.parametrize("name,impact,components,bodies,scope", [
    ("Elevated errors on Claude Opus 4.6", "major", [], [], "models"),
    ("Elevated errors for Claude Fable 5, Claude Sonnet 5, Claude Haiku 4.5, and other models", "major", [], [], "all"),
    ("Elevated errors for some models", "minor", [], [], "all"),
    ("Elevated errors", "major", ["Claude Code"], [], "all"),
    ("Elevated errors", "major", ["Claude Cowork"], [], "none"),
    ("Elevated errors on Claude.ai", "major", ["claude.ai"], ["Users cannot log in to Claude Code."], "all"),
    ("Elevated errors on Claude.ai", "major", ["claude.ai"], ["Chats fail to load."], "none"),
    ("Enterprise SSO sign-in failures", "major", [], [], "all"),  # login: how Claude Code signs in
    ("Scheduled maintenance of the API", "maintenance", ["Claude API (api.anthropic.com)"], [], "none"),
    # Update prose names workarounds too: the title decides the models.
    ("Elevated errors on the API", "major", [], ["Errors on Claude Opus 4.6; switch to Sonnet 4.5."], "all"),
    (None, "major", [], ["We are investigating elevated errors on Claude Opus 4.6."], "models"),
])
def test_incident_relevance_fields(name: str | None, impact: str, components: list[str], bodies: list[str],
                                   scope: str) -> None:
    rel = incident_relevance(name, impact, components, bodies)
    assert (rel.scope, rel.relevant) == (scope, scope != "none"), rel.reason
    assert rel.login_only == (rel.reason.startswith("claude.ai login"))


def test_archive_models_all_have_families() -> None:
    data = json.loads(ARCHIVE.read_text(encoding="utf-8"))
    names = {m for inc in data["incidents"] for m in inc["models"]}
    assert names, "the archive lists models"
    assert {n: family_of_name(n) for n in names if family_of_name(n) is None} == {}
    # The titles' own model mentions agree with the archive's model lists.
    disagree = [inc["id"] for inc in data["incidents"]
                if inc["models"] and inc["name"] and set(models_mentioned(inc["name"])) - set(inc["models"])]
    assert disagree == []
