"""The demo runs the real pipeline on generated, real-shaped files; and the ledger commands."""

from __future__ import annotations

import json

from click.testing import CliRunner

from claimback.cli import main


def test_audit_demo_shows_the_three_killed_subagents():
    result = CliRunner().invoke(main, ["audit", "--demo", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["demo"] is True
    killed = [t for t in report["killed_tasks"] if t["launched_at"].startswith("2026-05-15T00:58")]
    assert sorted(t["description"] for t in killed) == ["Migration audit", "Spec review", "Test coverage"]
    assert all(70_000 <= t["tokens"] <= 95_000 for t in killed)
    # One of them was reported to the parent as "completed": judged by its own file, it was killed.
    assert {t["parent_was_told"] for t in killed} == {"completed", "failed", None}
    outage_day = next(d for d in report["days"] if d["date"] == "2026-05-15")
    assert outage_day["failures"]["outage"] >= 20
    assert "quota_rate" not in outage_day["failures"]


def test_demo_is_deterministic_and_never_touches_the_users_ledger(isolated_home):
    first = CliRunner().invoke(main, ["audit", "--demo", "--json"])
    second = CliRunner().invoke(main, ["audit", "--demo", "--json"])
    # The packet differs by design: a second run writes a second folder (…-2) with a new generation time.
    strip = lambda out: {k: v for k, v in json.loads(out).items() if k not in ("ingest", "packet")}  # noqa: E731
    assert strip(first.output) == strip(second.output)
    assert json.loads(first.output)["packet"]["dir"] != json.loads(second.output)["packet"]["dir"]
    assert not (isolated_home / "data" / "ledger.sqlite3").exists()


def test_audit_text_output_names_the_demo():
    result = CliRunner().invoke(main, ["audit", "--demo"])
    assert result.exit_code == 0, result.output
    assert "DEMO" in result.output and "Spec review" in result.output


def test_ledger_info_export_vacuum(tmp_path):
    db = tmp_path / "l.db"
    projects = tmp_path / "p"
    (projects / "a").mkdir(parents=True)
    (projects / "a" / "s.jsonl").write_text(json.dumps({
        "type": "assistant", "timestamp": "2026-05-15T01:00:00.000Z", "sessionId": "s", "requestId": "r",
        "message": {"id": "m", "model": "claude-opus-4-6", "usage": {"input_tokens": 1, "output_tokens": 2}}}) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", "--source", str(projects), "--db", str(db)]).exit_code == 0
    info = json.loads(runner.invoke(main, ["ledger", "info", "--json", "--db", str(db)]).output)
    assert info["rows"]["requests"] == 1 and info["schema_version"] == info["schema_latest"]
    out = tmp_path / "export.jsonl"
    assert runner.invoke(main, ["ledger", "export", "--db", str(db), "--out", str(out)]).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["row"]["request_key"] for r in rows if r["table"] == "requests"] == ["m:r"]
    again = runner.invoke(main, ["ledger", "export", "--db", str(db), "--out", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
    assert runner.invoke(main, ["ledger", "vacuum", "--db", str(db)]).exit_code == 0
