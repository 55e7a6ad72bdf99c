"""Loss attribution: every category on a hand-built fixture whose figures are derived by hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimback.analysis.loss import attribute_window, build_loss_report
from claimback.analysis.pricing import PricingTable
from claimback.analysis.quota import next_weekly_reset, quota_impact
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from records import agent_launch, assistant, final_error, retry, task_result, user_prompt, write

S1, S2, S3 = "s1-0000", "s2-0000", "s3-0000"


@dataclass
class Window:
    id: str
    start: str
    end: str
    confirmed_by: str = "both"


WINDOW = Window("w-test", "2026-05-15T01:00:00.000Z", "2026-05-15T01:30:00.000Z")


def t(hm: str) -> str:
    return f"2026-05-15T{hm}:00.000Z"


def build(tmp_path: Path):
    projects = tmp_path / "projects"
    write(projects / "app" / f"{S1}.jsonl", [
        user_prompt("Refactor the billing module", t("00:50"), session=S1, uuid="p1"),
        assistant("m1", "r1", t("00:51"), inp=10, out=100, cw=1000, cr=5000, session=S1),
        agent_launch("m2", "r2", t("00:52"), "toolu_k1", "Review the change", session=S1),
        retry(t("01:05"), 1, status=529, session=S1),
        final_error(t("01:10"), "API Error: 500 Internal server error", session=S1),
        task_result("toolu_k1", t("01:09"), status="completed", agent_id="k1", is_error=False,
                    text="API Error: 500 Internal server error", session=S1),
        final_error(t("01:12"), "You've hit your session limit · resets 3am", error="rate_limit", status=429,
                    session=S1),
    ])
    # agent_launch's assistant record carries cr=0; give it a cached prompt by rewriting m2's usage.
    text = (projects / "app" / f"{S1}.jsonl").read_text().replace(
        '"cache_read_input_tokens":0,"output_tokens":100,"service_tier":"standard"}},"requestId":"r2"',
        '"cache_read_input_tokens":8000,"output_tokens":100,"service_tier":"standard"}},"requestId":"r2"')
    (projects / "app" / f"{S1}.jsonl").write_text(text)
    write(projects / "app" / S1 / "subagents" / "agent-k1.jsonl", [
        user_prompt("Review the change", t("00:52"), session=S1, sidechain=True, agent_id="k1", uuid="k1p"),
        assistant("k1a", "rk1a", t("00:53"), cr=20000, session=S1, sidechain=True, agent_id="k1"),
        assistant("k1b", "rk1b", t("00:56"), cr=30000, session=S1, sidechain=True, agent_id="k1"),
        retry(t("01:02"), 1, session=S1, agent_id="k1"),
        final_error(t("01:08"), "API Error: 500 Internal server error", session=S1, agent_id="k1"),
    ])
    write(projects / "app" / f"{S2}.jsonl", [
        user_prompt("refactor the   billing module", t("02:00"), session=S2, uuid="p2"),  # same, normalized
        assistant("n1", "rn1", t("02:01"), cw=2000, session=S2),
    ])
    write(projects / "app" / f"{S3}.jsonl", [
        user_prompt("Profile the renderer", t("00:58"), session=S3, uuid="p3"),
        assistant("r3a", "rr3a", t("00:59"), out=200, cr=40000, session=S3),
        final_error(t("01:02"), "API Error: Connection lost mid-response. The response above may be incomplete.",
                    status=None, session=S3),
        user_prompt("Profile the renderer again", t("02:00"), session=S3, uuid="p3b"),
        assistant("r3b", "rr3b", t("02:00"), cw=45000, session=S3),
    ])
    ledger = open_ledger(tmp_path / "ledger.db")
    ingest(ledger, [projects], machine="t")
    return ledger


def test_every_category_matches_the_hand_derivation(tmp_path):
    ledger = build(tmp_path)
    loss = attribute_window(ledger, WINDOW)
    figures = {k: v.tokens for k, v in loss.loss.items()}
    assert figures["killed_subagents"] == (3 + 100 + 20000) + (3 + 100 + 30000)
    assert figures["partial_responses"] == 3 + 200 + 40000
    assert figures["abandoned_turns"] == (10 + 100 + 1000 + 5000) + (3 + 100 + 8000)
    # Cache rebuild: the 45,000-token write after a 58-minute gap, capped at the 40,003 tokens cached before.
    assert figures["cache_rebuild"] == 40003
    # Exposure: S1's and k1's finals (HTTP 500: 8,003 and 30,003), S3's final (40,003); the 429 is not an
    # outage failure. Their two retries were 529 overloaded_error: not charged (Anthropic documents that a
    # 529 does not count against the quota), shown apart and never in the estimate.
    assert figures["failed_attempt_exposure"] == 8003 + 30003 + 40003
    assert loss.loss["failed_attempt_exposure"].attempts == 3
    assert loss.loss["failed_attempt_exposure"].basis == "estimated"
    assert figures["overloaded_not_charged"] == 8003 + 30003
    assert loss.loss["overloaded_not_charged"].attempts == 2
    assert loss.loss["overloaded_not_charged"].basis == "not charged"
    assert loss.estimated_tokens == figures["failed_attempt_exposure"]
    assert all(loss.loss[k].basis == "measured" for k in ("killed_subagents", "partial_responses",
                                                          "abandoned_turns", "cache_rebuild"))
    assert loss.measured_tokens == sum(figures[k] for k in ("killed_subagents", "partial_responses",
                                                            "abandoned_turns", "cache_rebuild"))
    # Redo work (S2's re-submission) is evidence, not loss.
    assert not any(r.session_id == S2 for r in loss.lost_requests)
    assert sorted(loss.loss["killed_subagents"].request_ids) == ["rk1a", "rk1b"]


def test_cache_rebuild_is_zero_when_nothing_was_cached_before_the_window(tmp_path):
    # S3's only request before the failure moves inside the window: the session had cached nothing
    # before the window began, so the write after it rebuilds nothing the outage destroyed.
    ledger = build(tmp_path)
    ledger.execute("UPDATE requests SET ts = ? WHERE request_id = 'rr3a'", (t("01:01"),))
    loss = attribute_window(ledger, WINDOW)
    assert loss.loss["cache_rebuild"].tokens == 0
    assert loss.loss["partial_responses"].tokens == 3 + 200 + 40000  # the stream that died still counts


def test_a_same_session_resend_is_evidence_not_loss(tmp_path):
    # DESIGN §5: a prompt re-sent in the same session keeps the earlier work in context. Move S1's
    # re-submission from S2 into S1 itself: the turn is listed as a re-send, and nothing is abandoned.
    ledger = build(tmp_path)
    ledger.execute("UPDATE prompts SET session_id = ? WHERE prompt_key = 'p2'", (S1,))
    loss = attribute_window(ledger, WINDOW)
    assert loss.loss["abandoned_turns"].tokens == 0
    assert [(r["session_id"], r["requests_before"]) for r in loss.resent_same_session] == [(S1, 2)]
    assert loss.resent_same_session[0]["tokens_before"] == (10 + 100 + 1000 + 5000) + (3 + 100 + 8000)


def test_no_resubmission_means_no_abandoned_turn(tmp_path):
    ledger = build(tmp_path)
    ledger.execute("DELETE FROM prompts WHERE prompt_key = 'p2'")
    loss = attribute_window(ledger, WINDOW)
    assert loss.loss["abandoned_turns"].tokens == 0


def test_window_without_sessions_has_zero_loss(tmp_path):
    ledger = build(tmp_path)
    empty = Window("w-empty", "2026-05-10T01:00:00.000Z", "2026-05-10T02:00:00.000Z", "statuspage")
    report = build_loss_report(ledger, [empty], pricing=PricingTable.load(None))
    window = report.windows[0]
    assert window.measured_tokens == 0 and window.estimated_tokens == 0 and window.usd_measured == 0.0
    assert "status page only" in window.headline


def test_usd_uses_the_pricing_table_and_unknown_models_are_not_zero(tmp_path):
    ledger = build(tmp_path)
    report = build_loss_report(ledger, [WINDOW], pricing=PricingTable.load(None))
    window = report.windows[0]
    assert window.usd_measured is not None and window.usd_measured > 0
    ledger.execute("UPDATE requests SET model = 'claude-unreleased-9'")
    report = build_loss_report(ledger, [WINDOW], pricing=PricingTable.load(None))
    window = report.windows[0]
    assert window.measured_tokens > 0 and window.usd_measured is None
    assert window.unpriced_models == ["claude-unreleased-9"]
    assert "USD unknown" in window.headline


def snapshot(ledger, ts, seven, five, account="acct", seven_reset="2026-05-15T23:30:00.000Z",
             five_reset="2026-05-15T03:00:00.000Z"):
    with ledger.transaction():
        ledger.execute("INSERT INTO quota_snapshots (machine_id, ts, account, five_hour_pct, five_hour_resets_at, "
                       "seven_day_pct, seven_day_resets_at) VALUES ('m', ?, ?, ?, ?, ?, ?)",
                       (ts, account, five, five_reset, seven, seven_reset))


def test_quota_delta_is_measured_from_snapshots(tmp_path):
    ledger = build(tmp_path)
    snapshot(ledger, "2026-05-15T00:55:00.000Z", 70.0, 20.0)
    snapshot(ledger, "2026-05-15T01:40:00.000Z", 78.5, 45.0)
    snapshot(ledger, "2026-05-15T01:45:00.000Z", 99.0, 99.0, account="someone-else")
    snapshot(ledger, "2026-05-15T00:50:00.000Z", 70.0, 20.0, account="other")
    impact = quota_impact(ledger, WINDOW.start, WINDOW.end, 1000)
    assert impact.basis == "measured"
    assert impact.seven_day_delta_pct == 8.5 and impact.five_hour_delta_pct == 25.0
    assert impact.weekly_reset_at == "2026-05-15T23:30:00.000Z" and impact.hours_to_reset == 22.0
    assert any("another account" in n for n in impact.notes)


def test_quota_out_of_order_snapshots_and_resets_are_not_measured(tmp_path):
    ledger = build(tmp_path)
    snapshot(ledger, "2026-05-15T00:55:00.000Z", 80.0, 20.0)
    snapshot(ledger, "2026-05-15T01:40:00.000Z", 60.0, 10.0, five_reset="2026-05-15T06:00:00.000Z")
    impact = quota_impact(ledger, WINDOW.start, WINDOW.end, 1000, weekly_reset="friday 23:00")
    assert impact.seven_day_delta_pct is None and impact.five_hour_delta_pct is None
    assert impact.basis in ("estimated", "unknown")
    assert any("out of order" in n for n in impact.notes) and any("reset between" in n for n in impact.notes)


def test_quota_estimated_from_p90_week_and_plan_value(tmp_path):
    projects = tmp_path / "hist"
    records = []
    for week in range(1, 5):  # four past weeks of 100k, 200k, 300k, 400k tokens
        day = 15 - 7 * week
        records.append(assistant(f"h{week}", f"rh{week}", f"2026-05-{day:02d}T12:00:00.000Z" if day > 0 else
                                 f"2026-04-{30 + day:02d}T12:00:00.000Z", inp=week * 100_000, out=0))
    write(projects / "a" / "h.jsonl", records)
    ledger = open_ledger(tmp_path / "h.db")
    ingest(ledger, [projects], machine="t")
    impact = quota_impact(ledger, WINDOW.start, WINDOW.end, 40_000, plan="max20",
                          weekly_reset="2026-05-08T23:30:00Z")
    assert impact.basis == "estimated" and impact.p90_week_tokens == 400_000
    assert impact.share_of_week_pct == 10.0
    assert impact.plan_value_usd == round(0.10 * 200 * 12 / 52, 2)
    assert impact.weekly_reset_at == "2026-05-15T23:30:00.000Z" and impact.reset_source == "config"


def test_weekly_reset_setting_forms():
    from datetime import datetime, timezone

    after = datetime(2026, 5, 15, 1, 30, tzinfo=timezone.utc)  # a Friday
    assert next_weekly_reset("friday 23:30", after) == datetime(2026, 5, 15, 23, 30, tzinfo=timezone.utc)
    assert next_weekly_reset("thursday 09:00", after) == datetime(2026, 5, 21, 9, 0, tzinfo=timezone.utc)
    assert next_weekly_reset("nonsense", after) is None


event = st.tuples(st.integers(0, 120), st.sampled_from(["req", "retry", "final", "prompt", "agentreq", "agentfail"]),
                  st.integers(0, 50_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(event, min_size=1, max_size=40))
def test_property_no_request_counted_twice_and_measured_within_usage(tmp_path_factory, events):
    tmp = tmp_path_factory.mktemp("prop")
    projects = tmp / "projects"
    main, agent = [], [user_prompt("task", "2026-05-15T00:00:00.000Z", session=S1, sidechain=True, agent_id="ag")]
    main.append(agent_launch("launch", "rl", "2026-05-15T00:00:00.000Z", "toolu_ag", "task", session=S1))
    for i, (minute, kind, size) in enumerate(sorted(events)):
        ts = f"2026-05-15T{minute // 60:02d}:{minute % 60:02d}:{i % 60:02d}.000Z"
        if kind == "req":
            main.append(assistant(f"m{i}", f"r{i}", ts, cr=size, cw=size // 10, session=S1))
        elif kind == "retry":
            main.append(retry(ts, 1, session=S1, uuid=f"rt{i}"))
        elif kind == "final":
            main.append(final_error(ts, "API Error: Connection lost mid-response.", status=None, session=S1))
        elif kind == "prompt":
            main.append(user_prompt("do it" if i % 2 else "again", ts, session=S1, uuid=f"pp{i}"))
        elif kind == "agentreq":
            agent.append(assistant(f"a{i}", f"ra{i}", ts, cr=size, session=S1, sidechain=True, agent_id="ag"))
        else:
            agent.append(retry(ts, 1, session=S1, agent_id="ag", uuid=f"ar{i}"))
    write(projects / "app" / f"{S1}.jsonl", main)
    write(projects / "app" / S1 / "subagents" / "agent-ag.jsonl", agent)
    ledger = open_ledger(tmp / "l.db")
    try:
        ingest(ledger, [projects], machine="t")
        loss = attribute_window(ledger, Window("w", "2026-05-15T00:20:00.000Z", "2026-05-15T01:20:00.000Z"))
        keys = [r.request_key for r in loss.lost_requests]
        assert len(keys) == len(set(keys))
        assert loss.measured_tokens <= loss.scope_total_tokens
        assert loss.measured_tokens == sum(r.tokens for r in loss.lost_requests)
    finally:
        ledger.close()


def test_demo_reproduces_the_founding_case():
    import json

    from click.testing import CliRunner

    from claimback.cli import main

    result = CliRunner().invoke(main, ["loss", "--demo", "--json", "--plan", "max20"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    window = next(w for w in report["windows"] if "8z7l5zcy0v3b" in [i["id"] for i in w["incidents"]])
    assert window["confirmed_by"] == "both"
    assert window["affected_start"].startswith("2026-05-15T01:06")
    loss = window["loss"]
    killed = loss["killed_subagents"]
    assert killed["basis"] == "measured" and 3 * 70_000 <= killed["tokens"] <= 3 * 95_000
    assert loss["failed_attempt_exposure"]["basis"] == "estimated"
    assert all(loss[k]["tokens"] > 0 for k in ("partial_responses", "abandoned_turns", "cache_rebuild"))
    # "About 1M tokens burned" in all; the 529 attempts among them are shown as not charged, never claimed.
    not_charged = loss["overloaded_not_charged"]
    assert not_charged["basis"] == "not charged" and not_charged["attempts"] > 0
    total = window["measured_tokens"] + window["estimated_tokens"] + not_charged["tokens"]
    assert 800_000 <= total <= 1_400_000
    assert window["estimated_tokens"] == loss["failed_attempt_exposure"]["tokens"]
    assert window["provider"] == "anthropic" and window["claimable"] is True
    assert "not charged (Anthropic documents that 529 does not count against your quota)" in window["headline"]
    assert window["headline"].index("tokens lost, measured") < window["headline"].index("estimated")
    assert window["quota"]["basis"] == "measured" and window["quota"]["seven_day_delta_pct"] == 9.0
    assert window["quota"]["hours_to_reset"] == 21.0 and window["quota"]["plan_value_usd"] > 0
    assert "01:06–02:31 UTC" in window["headline"] and "estimated" in window["headline"]
    assert report["totals"]["measured_tokens"] == window["measured_tokens"]
    others = [w for w in report["windows"] if w is not window]
    assert all(w["measured_tokens"] == 0 and w["estimated_tokens"] == 0 for w in others)


def test_unknown_window_is_a_clear_error():
    from click.testing import CliRunner

    from claimback.cli import main

    result = CliRunner().invoke(main, ["loss", "--demo", "--window", "nope"])
    assert result.exit_code == 2 and "no outage window 'nope'" in result.output


def test_no_cache_rebuild_is_attributed_to_a_session_the_outage_did_not_hit(tmp_path):
    projects = tmp_path / "projects"
    write(projects / "app" / "quiet.jsonl", [
        assistant("q1", "rq1", t("00:55"), cr=30000, session="quiet"),
        assistant("q2", "rq2", t("02:00"), cw=30000, session="quiet"),  # a long pause, but no failure
    ])
    ledger = open_ledger(tmp_path / "q.db")
    ingest(ledger, [projects], machine="t")
    loss = attribute_window(ledger, WINDOW)
    assert loss.measured_tokens == 0 and loss.estimated_tokens == 0


def test_overloaded_attempts_before_any_answer_are_counted_not_charged(tmp_path):
    """A session whose first prompt meets the outage has no answer to size its attempts by: no estimate, but
    its 529s are the window's overloaded attempts not charged like any other (and a 500 there adds nothing)."""
    projects = tmp_path / "projects"
    write(projects / "app" / f"{S1}.jsonl", [
        user_prompt("Start the migration", t("01:04"), session=S1, uuid="q1"),
        retry(t("01:05"), 1, status=529, session=S1),
        retry(t("01:06"), 2, status=529, session=S1),
        retry(t("01:07"), 3, status=500, session=S1),
        final_error(t("01:08"), "API Error: 529 Overloaded. This is a server-side issue, usually temporary.",
                    error="server_error", status=529, session=S1),
    ])
    write(projects / "app" / f"{S2}.jsonl", [
        user_prompt("Lint it", t("00:58"), session=S2, uuid="q2"),
        assistant("a1", "ra1", t("00:59"), inp=5, out=50, cr=7000, session=S2),
        retry(t("01:10"), 1, status=529, session=S2),
    ])
    ledger = open_ledger(tmp_path / "ledger.db")
    ingest(ledger, [projects], machine="t")
    loss = attribute_window(ledger, WINDOW)
    not_charged = loss.loss["overloaded_not_charged"]
    assert not_charged.attempts == 4  # S1's three 529s (two retries, the final) and S2's retry
    assert not_charged.tokens == 7005  # sized only where an answer came before (S2's prompt)
    assert loss.loss["failed_attempt_exposure"].attempts == 0 and loss.estimated_tokens == 0


def _interrupted_run(tmp_path: Path, outage_elsewhere: bool):
    """S1 launches a subagent the user interrupts at 01:10, inside the window; with `outage_elsewhere`,
    S3 meets a 500 in the window too."""
    projects = tmp_path / "projects"
    write(projects / "app" / f"{S1}.jsonl", [
        user_prompt("Audit the dependencies", t("00:50"), session=S1, uuid="q1"),
        assistant("i0", "ri0", t("00:51"), session=S1),
        agent_launch("i1", "ri1", t("00:52"), "toolu_i1", "Audit the lock file", session=S1),
        task_result("toolu_i1", t("01:10"), status="completed", agent_id="i1", is_error=True,
                    text="[Request interrupted by user for tool use]", session=S1),
    ])
    write(projects / "app" / S1 / "subagents" / "agent-i1.jsonl", [
        user_prompt("Audit the lock file", t("00:52"), session=S1, sidechain=True, agent_id="i1", uuid="i1p"),
        assistant("i1a", "ri1a", t("00:55"), cr=50000, session=S1, sidechain=True, agent_id="i1"),
        assistant("i1b", "ri1b", t("01:05"), cr=60000, session=S1, sidechain=True, agent_id="i1"),
        user_prompt("[Request interrupted by user]", t("01:10"), session=S1, sidechain=True, agent_id="i1",
                    uuid="i1x"),
    ])
    records = [user_prompt("Profile the renderer", t("00:58"), session=S3, uuid="p3"),
               assistant("r3a", "rr3a", t("00:59"), session=S3)]
    if outage_elsewhere:
        records.append(final_error(t("01:06"), "API Error: 500 Internal server error", session=S3))
    write(projects / "app" / f"{S3}.jsonl", records)
    ledger = open_ledger(tmp_path / "ledger.db")
    ingest(ledger, [projects], machine="t")
    return ledger


def test_a_run_the_user_interrupted_is_the_outages_only_where_the_logs_show_the_outage(tmp_path):
    # An incident on the status page alone (no API failure in the user's logs during it): the interrupt
    # is the user's own stop, not a run the outage killed.
    quiet = _interrupted_run(tmp_path / "quiet", outage_elsewhere=False)
    assert quiet.scalar("SELECT outcome FROM tasks WHERE tool_use_id = 'toolu_i1'") == "interrupted"
    status_page_only = Window("w-sp", WINDOW.start, WINDOW.end, confirmed_by="statuspage")
    loss = attribute_window(quiet, status_page_only)
    assert loss.loss["killed_subagents"].tokens == 0 and not loss.lost_requests
    # The same interrupt while the logs show the outage (a 500 in another session): the user stopped a
    # run the outage was holding up, counted as before.
    shown = _interrupted_run(tmp_path / "shown", outage_elsewhere=True)
    loss = attribute_window(shown, WINDOW)
    assert sorted(loss.loss["killed_subagents"].request_ids) == ["ri1a", "ri1b"]
    assert loss.loss["killed_subagents"].tokens == (3 + 100 + 50000) + (3 + 100 + 60000)
