"""Real-shaped Statuspage API v2 payloads for tests (status.claude.com, page tymt9n04zgry).

Incident ids, names, components, times and the quoted impact sentences are real (see
../shared/data and src/claimback/data/anthropic-incidents.json); update ids and the surrounding
boilerplate sentences are invented in Statuspage's shape.
"""

from __future__ import annotations

import json
from typing import Any

PAGE = {"id": "tymt9n04zgry", "name": "Claude", "url": "https://status.claude.com",
        "time_zone": "Etc/UTC", "updated_at": "2026-09-29T14:41:08.412Z"}

API = {"id": "k8w3r06qmzrp", "name": "Claude API (api.anthropic.com)"}
CODE = {"id": "yyzkbfz2thpt", "name": "Claude Code"}
CLAUDE_AI = {"id": "rwppv331jlwc", "name": "claude.ai"}
CONSOLE = {"id": "0qbwn08sd68x", "name": "Claude Console (platform.claude.com)"}


def component(ref: dict[str, str], status: str = "operational") -> dict[str, Any]:
    return {"id": ref["id"], "name": ref["name"], "status": status, "created_at": "2023-07-11T17:33:19.455Z",
            "updated_at": "2026-09-29T14:41:08.394Z", "position": 1, "description": None, "showcase": True,
            "start_date": None, "group_id": None, "page_id": PAGE["id"], "group": False,
            "only_show_if_degraded": False}


def update(uid: str, incident_id: str, status: str, body: str, at: str,
           affected: list[tuple[dict[str, str], str]] = ()) -> dict[str, Any]:
    return {"id": uid, "status": status, "body": body, "incident_id": incident_id, "created_at": at,
            "updated_at": at, "display_at": at, "deliver_notifications": True, "custom_tweet": None,
            "tweet_id": None,
            "affected_components": [{"code": ref["id"], "name": ref["name"], "old_status": "operational",
                                     "new_status": new} for ref, new in affected] or None}


def incident(iid: str, name: str, status: str, impact: str, created: str, resolved: str | None,
             comps: list[dict[str, str]], updates: list[dict[str, Any]], shortlink: str | None = None) -> dict[str, Any]:
    return {"id": iid, "name": name, "status": status, "created_at": created,
            "updated_at": updates[0]["created_at"] if updates else created, "monitoring_at": None,
            "resolved_at": resolved, "impact": impact, "shortlink": shortlink or f"https://stspg.io/{iid[:8]}",
            "started_at": created, "page_id": PAGE["id"], "incident_updates": updates,
            "components": [component(c, "operational" if resolved else "partial_outage") for c in comps],
            "reminder_intervals": None}


# The 2026-09-29 incident as the sample fixture shows it (unresolved, "identified").
OPEN_INCIDENT = incident(
    "4xvtc2gnq73l", "Elevated errors on claude.ai, Claude Code, Claude Cowork and the Claude API", "identified",
    "major", "2026-09-29T14:21:37.188Z", None, [CLAUDE_AI, CODE, API],
    [update("m2d1xk7c9f0q", "4xvtc2gnq73l", "identified", "The issue has been identified and a fix is being "
            "implemented.", "2026-09-29T14:41:08.385Z", [(CODE, "partial_outage"), (API, "degraded_performance")]),
     update("c7q0v2n8hw3s", "4xvtc2gnq73l", "investigating", "We are currently investigating this issue.",
            "2026-09-29T14:21:37.264Z", [(CLAUDE_AI, "partial_outage")])],
    shortlink="https://stspg.io/br61xzj05pp5")

# 9l93x2ht4s5w: the impact window is only in the resolve update's text.
LOGIN_INCIDENT = incident(
    "9l93x2ht4s5w", "Claude.ai unavailable and elevated errors on the API", "resolved", "major",
    "2026-04-28T17:41:00.000Z", "2026-04-28T19:15:00.000Z", [CLAUDE_AI, API, CONSOLE, CODE],
    [update("r1", "9l93x2ht4s5w", "resolved", "This incident has been resolved. Impact occurred from "
            "17:34–18:52 UTC.", "2026-04-28T19:15:00.000Z"),
     update("r2", "9l93x2ht4s5w", "monitoring", "A fix has been implemented and we are monitoring the results.",
            "2026-04-28T18:59:00.000Z"),
     update("r3", "9l93x2ht4s5w", "identified", "We have identified elevated authentication errors affecting "
            "Claude.ai, the API and Claude Code login.", "2026-04-28T17:51:00.000Z"),
     update("r4", "9l93x2ht4s5w", "investigating", "We are currently investigating this issue.",
            "2026-04-28T17:41:00.000Z")])

# lhws0phdvzz3: model-specific, PT/UTC statement.
SONNET_INCIDENT = incident(
    "lhws0phdvzz3", "Sonnet 4.6 elevated rate of errors", "resolved", "major", "2026-04-08T06:23:00.000Z",
    "2026-04-08T09:33:00.000Z", [],
    [update("s1", "lhws0phdvzz3", "resolved", "Errors on Claude Sonnet 4.6 occurred between 23:00 PT / 7:00 UTC "
            "and 1:50 PT / 9:50 UTC.", "2026-04-08T09:33:00.000Z"),
     update("s2", "lhws0phdvzz3", "investigating", "We are investigating elevated errors on Sonnet 4.6.",
            "2026-04-08T06:23:00.000Z")])


def incidents_json(*items: dict[str, Any]) -> str:
    return json.dumps({"page": PAGE, "incidents": list(items)})


def summary_json(open_incidents: list[dict[str, Any]], degraded: bool = True) -> str:
    comps = [component(API, "degraded_performance" if degraded else "operational"),
             component(CODE, "partial_outage" if degraded else "operational"),
             component(CLAUDE_AI, "partial_outage" if degraded else "operational"), component(CONSOLE)]
    status = ({"indicator": "major", "description": "Partial System Outage"} if degraded else
              {"indicator": "none", "description": "All Systems Operational"})
    return json.dumps({"page": PAGE, "components": comps, "incidents": open_incidents,
                       "scheduled_maintenances": [], "status": status})


def _atom_entry(inc: dict[str, Any]) -> str:
    import html

    paras = []
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    for u in inc["incident_updates"]:
        ts = u["created_at"]
        paras.append(f"<p><small>{months[int(ts[5:7]) - 1]} <var data-var='date'>{int(ts[8:10])}</var>, "
                     f"<var data-var='time'>{ts[11:16]}</var> UTC</small><br><strong>{u['status'].capitalize()}"
                     f"</strong> - {u['body']}</p>")
    return (f"<entry><id>tag:status.claude.com,2005:Incident/{abs(hash(inc['id'])) % 10**8}</id>"
            f"<published>{inc['created_at']}</published><updated>{inc['updated_at']}</updated>"
            f"<link rel=\"alternate\" type=\"text/html\" href=\"https://status.claude.com/incidents/{inc['id']}\"/>"
            f"<title>{html.escape(inc['name'])}</title>"
            f"<content type=\"html\">{html.escape(''.join(paras))}</content></entry>")


def history_atom(*items: dict[str, Any]) -> str:
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xml:lang=\"en-US\" xmlns=\"http://www.w3.org/2005/Atom\">"
            "<id>tag:status.claude.com,2005:/history</id>"
            "<link rel=\"alternate\" type=\"text/html\" href=\"https://status.claude.com\"/>"
            "<title>Claude Status - Incident History</title><updated>2026-09-29T14:41:08Z</updated>"
            + "".join(_atom_entry(i) for i in items) + "</feed>")


def history_rss(*items: dict[str, Any]) -> str:
    import html
    from datetime import datetime
    from email.utils import format_datetime

    out = []
    for inc in items:
        atom = _atom_entry(inc)
        content = atom[atom.index("<content type=\"html\">") + 21:atom.index("</content>")]
        pub = format_datetime(datetime.fromisoformat(inc["updated_at"].replace("Z", "+00:00")))
        out.append(f"<item><title>{html.escape(inc['name'])}</title><description>{content}</description>"
                   f"<pubDate>{pub}</pubDate><link>https://status.claude.com/incidents/{inc['id']}</link>"
                   f"<guid>https://status.claude.com/incidents/{inc['id']}</guid></item>")
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Claude Status - "
            "Incident History</title><link>https://status.claude.com</link>" + "".join(out) + "</channel></rss>")


def write_open_incident_cache(home: Any, name: str, components: tuple[str, ...] | list[str] = ()) -> None:
    """claimback's status cache under `home` (CLAIMBACK_HOME), fetched now, holding one open major
    incident named `name` that lists `components`: what the guard and the live views read."""
    from datetime import datetime, timezone
    from pathlib import Path

    folder = Path(home) / "cache" / "status"
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    (folder / "unresolved.json").write_text(json.dumps({"page": {"id": "x"}, "incidents": [{
        "id": "inc1", "name": name, "status": "investigating", "impact": "major", "created_at": now,
        "resolved_at": None, "shortlink": "https://stspg.io/abc",
        "components": [{"name": c} for c in components], "incident_updates": []}]}))
    (folder / "unresolved.meta.json").write_text(json.dumps({"url": "x", "fetched_at": now, "status": 200}))
