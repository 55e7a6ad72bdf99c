"""Parity of the reports ccusage users script against: weekly, monthly, per project, order, and the active
block's burn rate and projection. Recorded from ccusage 20.0.24 (commands in tests/fixtures/parity/README.md).

ccusage 20's `weekly` and `monthly`, like its `session` and `blocks`, keep subagent replays of a parent
message that its `daily` drops (all of them are on 2026-05-15 in the corpus): our weekly and monthly
reports stay consistent with our daily one, so a period with that day differs from ccusage by exactly the
replays, and every other period must equal it token for token.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from claimback.analysis.usage import block_usage, to_ccusage_json
from claimback.cli import main
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

FIXTURE = Path(__file__).parent / "fixtures" / "parity"
CORPUS = FIXTURE / "claude"
ACTIVE = FIXTURE / "active"
TOKENS = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens")
REPLAY_DAY = "2026-05-15"


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURE / name).read_text())


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One ledger of the corpus for every report here (the reports only read it)."""
    path = tmp_path_factory.mktemp("parity") / "ledger.sqlite3"
    ledger = open_ledger(path)
    try:
        ingest(ledger, [CORPUS / "projects"], machine="m")
    finally:
        ledger.close()
    return str(path)


def _usage(db: str, kind: str, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["usage", kind, "--json", "--mode", "calculate", "--timezone", "UTC",
                                       "--no-ingest", "--db", db, *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= 0.005 * abs(theirs) + 1e-9


def _tokens(row: dict[str, Any]) -> dict[str, int]:
    return {k: row[k] for k in TOKENS}


def _days_in(period_key: str, kind: str, start_of_week: int) -> list[str]:
    days = [d["date"] for d in _recorded("ccusage20-daily.json")["daily"]]
    if kind == "monthly":
        return [d for d in days if d.startswith(period_key)]
    start = date.fromisoformat(period_key)
    return [d for d in days if 0 <= (date.fromisoformat(d) - start).days < 7]


@pytest.mark.parametrize("fixture,kind,extra", [
    ("ccusage20-weekly.json", "weekly", ()),
    ("ccusage20-weekly-monday.json", "weekly", ("--start-of-week", "monday")),
    ("ccusage20-monthly.json", "monthly", ()),
])
def test_weekly_and_monthly_equal_ccusage_20(db: str, fixture: str, kind: str, extra: tuple[str, ...]) -> None:
    ours, theirs = _usage(db, kind, *extra), _recorded(fixture)
    key = "month" if kind == "monthly" else "week"
    assert [r[key] for r in ours[kind]] == [r[key] for r in theirs[kind]]
    daily = {d["date"]: d for d in _recorded("ccusage20-daily.json")["daily"]}
    session_totals, daily_totals = _recorded("ccusage20-session.json")["totals"], _recorded("ccusage20-daily.json")["totals"]
    replays = {k: session_totals[k] - daily_totals[k] for k in TOKENS}
    assert replays["totalTokens"] > 0
    exact = 0
    for mine, ref in zip(ours[kind], theirs[kind], strict=True):
        assert set(ref) <= set(mine), set(ref) - set(mine)
        days = _days_in(mine[key], kind, 0)
        # our period is the sum of ccusage's own daily rows in it...
        assert _tokens(mine) == {k: sum(daily[d][k] for d in days) for k in TOKENS}, mine[key]
        assert _close(mine["totalCost"], sum(daily[d]["totalCost"] for d in days))
        if REPLAY_DAY in days:
            # ...and differs from ccusage's period by exactly the replays its daily report drops
            assert {k: ref[k] - mine[k] for k in TOKENS} == replays
        else:
            assert _tokens(mine) == _tokens(ref), mine[key]
            assert _close(mine["totalCost"], ref["totalCost"])
            assert sorted(mine["modelsUsed"]) == sorted(ref["modelsUsed"])
            theirs_models = {m["modelName"]: m for m in ref["modelBreakdowns"]}
            for m in mine["modelBreakdowns"]:
                assert {k: m[k] for k in TOKENS[:4]} == {k: theirs_models[m["modelName"]][k] for k in TOKENS[:4]}
            exact += 1
    assert exact == (1 if extra else 0)
    assert ours["totals"]["unpricedModels"] == theirs["totals"]["unpricedModels"] == ["claude-experimental-9"]


def test_daily_per_project_equals_ccusage_20(db: str) -> None:
    """`--instances` (rows per project) and `--project NAME` equal ccusage's exactly: its daily report
    dedups replays, so no exception applies."""
    ours, theirs = _usage(db, "daily", "--instances"), _recorded("ccusage20-daily-instances.json")
    assert list(ours["projects"]) == list(theirs["projects"]) == ["-home-u-code-app", "-home-u-code-lib"]
    for name, rows in theirs["projects"].items():
        mine = ours["projects"][name]
        assert [(r["date"], r["project"]) for r in mine] == [(r["date"], r["project"]) for r in rows]
        for m, r in zip(mine, rows, strict=True):
            assert _tokens(m) == _tokens(r) and _close(m["totalCost"], r["totalCost"]), (name, m["date"])
    assert _tokens(ours["totals"]) == _tokens(theirs["totals"])
    one, ref = _usage(db, "daily", "--project", "-home-u-code-lib"), _recorded("ccusage20-daily-project.json")
    assert [(r["date"], r["project"]) for r in one["daily"]] == [(r["date"], r["project"]) for r in ref["daily"]]
    for m, r in zip(one["daily"], ref["daily"], strict=True):
        assert _tokens(m) == _tokens(r) and _close(m["totalCost"], r["totalCost"])
    assert _tokens(one["totals"]) == _tokens(ref["totals"])
    assert one["totals"]["unpricedModels"] == ref["totals"]["unpricedModels"]
    none = _usage(db, "daily", "--project", "no-such-project")
    assert none["daily"] == [] and none["totals"]["totalTokens"] == 0


def test_order_desc_equals_ccusage_20(db: str) -> None:
    ours, theirs = _usage(db, "daily", "--order", "desc"), _recorded("ccusage20-daily-desc.json")
    assert [d["date"] for d in ours["daily"]] == [d["date"] for d in theirs["daily"]]
    assert ours["daily"][0]["date"] > ours["daily"][-1]["date"]
    # ccusage 20 lists sessions by cost, highest first, whatever --order says; ours go by last activity
    # (the table says "newest activity last") and --order flips that.
    for name in ("ccusage20-session.json", "ccusage20-session-desc.json"):
        costs = [s["totalCost"] for s in _recorded(name)["sessions"]]
        assert costs == sorted(costs, reverse=True)
    asc = [s["lastActivity"] for s in _usage(db, "session")["sessions"]]
    desc = [s["lastActivity"] for s in _usage(db, "session", "--order", "desc")["sessions"]]
    assert asc == sorted(asc) and desc == asc[::-1]


def test_session_subagents_add_up_and_name_every_run(db: str) -> None:
    """`--subagents`: each session's main thread plus its subagent runs equal the session, and every
    subagent file of the corpus appears once, under the session its records name, with its type."""
    ours = _usage(db, "session", "--subagents")
    plain = {s["sessionId"]: s for s in _usage(db, "session")["sessions"]}
    runs: dict[str, str] = {}
    for s in ours["sessions"]:
        parts = ([s["mainThread"]] if s["mainThread"] else []) + s["subagents"]
        assert {k: sum(p[k] for p in parts) for k in TOKENS} == _tokens(plain[s["sessionId"]]), s["sessionId"]
        assert _close(sum(p["totalCost"] for p in parts), plain[s["sessionId"]]["totalCost"])
        for sub in s["subagents"]:
            runs[sub["agentId"]] = s["sessionId"]
            assert sub["subagentType"] in ("reviewer", "general-purpose") and sub["requests"] > 0
    files = {p.stem.removeprefix("agent-"): p for p in CORPUS.rglob("agent-*.jsonl")}
    assert set(runs) == set(files)
    for agent, path in files.items():
        assert runs[agent] == json.loads(path.read_text().splitlines()[0])["sessionId"]


# -- the active block ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def active_db(tmp_path_factory: pytest.TempPathFactory):
    ledger = open_ledger(tmp_path_factory.mktemp("active") / "ledger.sqlite3")
    ingest(ledger, [ACTIVE / "projects"], machine="m")
    yield ledger
    ledger.close()


RECORDED_AT = datetime.fromisoformat((FIXTURE / "active-now.txt").read_text().strip().replace("Z", "+00:00"))


def _blocks(ledger: Any, **options: Any) -> list[dict[str, Any]]:
    report = block_usage(ledger, tz_name="UTC", mode="calculate", now=RECORDED_AT, **options)
    return to_ccusage_json(report)["blocks"]


def _same_block(mine: dict[str, Any], ref: dict[str, Any]) -> None:
    for key in ("id", "startTime", "endTime", "actualEndTime", "isActive", "isGap", "entries", "tokenCounts",
                "totalTokens", "models"):
        assert mine[key] == ref[key], key
    assert _close(mine["costUSD"], ref["costUSD"])
    if ref["burnRate"] is None:
        assert mine["burnRate"] is None and mine["projection"] is None
        return
    for key, value in ref["burnRate"].items():
        assert mine["burnRate"][key] == pytest.approx(value, rel=1e-6), key
    assert mine["projection"] == ref["projection"]


def test_active_block_burn_rate_and_projection_equal_ccusage_20(active_db: Any) -> None:
    theirs = _recorded("ccusage20-active-blocks.json")["blocks"]
    ours = _blocks(active_db)
    assert [b["id"] for b in ours] == [b["id"] for b in theirs]
    for mine, ref in zip(ours, theirs, strict=True):
        assert set(ref) <= set(mine)
        _same_block(mine, ref)
    assert ours[-1]["isActive"] and ours[-1]["projection"]["remainingMinutes"] > 0
    limited = _blocks(active_db, active_only=True, token_limit="500000")
    ref = _recorded("ccusage20-active-limit.json")["blocks"]
    assert len(limited) == len(ref) == 1
    _same_block(limited[0], ref[0])
    assert limited[0]["tokenLimitStatus"] == pytest.approx(ref[0]["tokenLimitStatus"])


def test_token_limit_max_is_the_largest_finished_block(active_db: Any) -> None:
    """`--token-limit max` equals ccusage's on the whole report. With `--active` ccusage takes the max over
    the shown blocks only (none are finished, so it drops the status); we keep the largest finished block."""
    ref = _recorded("ccusage20-active-max.json")["blocks"][-1]["tokenLimitStatus"]
    mine = _blocks(active_db, token_limit="max")[-1]["tokenLimitStatus"]
    assert mine == pytest.approx(ref)
    assert "tokenLimitStatus" not in _recorded("ccusage20-active-max-active.json")["blocks"][0]
    assert _blocks(active_db, active_only=True, token_limit="max")[0]["tokenLimitStatus"] == pytest.approx(ref)


def _keys(value: Any, path: str = "") -> set[str]:
    """Every key path in a JSON value (list items share their list's path)."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{path}.{k}"} | _keys(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {p for v in value for p in _keys(v, path)}
    return set()


OURS_ONLY = ("unpricedRequests", "claimback", "versions", "requests")


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "session", "blocks"])
def test_no_cost_drops_the_keys_ccusage_drops(db: str, kind: str) -> None:
    ours = _usage(db, kind, "--no-cost")
    theirs = _recorded(f"ccusage20-{kind}-nocost.json")
    mine = {p for p in _keys(ours) if not any(part in OURS_ONLY for part in p.split("."))}
    if kind == "blocks":  # claimback's blocks also carry per-model rows and totals
        mine = {p for p in mine if not p.startswith((".totals", ".blocks.modelBreakdowns"))}
    assert mine == _keys(theirs), (mine ^ _keys(theirs))
    assert not any(p.rsplit(".", 1)[-1] in ("totalCost", "cost", "costUSD") for p in _keys(ours))
    with_cost = _usage(db, kind)
    rows = "sessions" if kind == "session" else kind
    assert [r["totalTokens"] for r in ours[rows]] == [r["totalTokens"] for r in with_cost[rows]]
    table = CliRunner().invoke(main, ["usage", kind, "--no-cost", "--no-ingest", "--db", db], terminal_width=160)
    assert table.exit_code == 0 and "Cost (USD)" not in table.output and "$" not in table.output


def test_no_cost_on_the_active_block_keeps_the_burn_rate(active_db: Any) -> None:
    from claimback.analysis.usage import block_usage

    report = block_usage(active_db, tz_name="UTC", mode="calculate", now=RECORDED_AT, active_only=True,
                         token_limit="500000")
    (mine,) = to_ccusage_json(report, cost=False)["blocks"]
    (ref,) = _recorded("ccusage20-active-nocost.json")["blocks"]
    assert set(mine["projection"]) == set(ref["projection"]) == {"remainingMinutes", "totalTokens"}
    assert set(mine["burnRate"]) == set(ref["burnRate"])  # costPerHour stays, as in ccusage
    assert "costUSD" not in mine and "costUSD" not in ref
