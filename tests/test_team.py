"""A team on one PostgreSQL ledger: two `claimback ingest` processes on different "machines" (own
CLAIMBACK_HOME, own transcripts) at the same time, plus Claude Code telemetry through a running
`claimback otel serve` — and one consistent `claimback team report`. Also the report on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from claimback.analysis.team import team_report
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.ledger.team import register_machine
from records import assistant, final_error, retry, user_prompt, write

DAY = "2026-05-15"


def ts(hour: int, minute: int, second: int = 0) -> str:
    return f"{DAY}T{hour:02d}:{minute:02d}:{second:02d}.000Z"


def make_corpus(root: Path, tag: str, sessions: int, per_session: int) -> dict[str, int]:
    """Sessions of ordinary requests, and in the first one an outage: retries then a final error."""
    expected = {"requests": 0, "input": 0, "output": 0, "cache_write": 0, "cache_read": 0, "retries": 0,
                "finals": 0}
    for s in range(sessions):
        session = f"{tag}-0000-4000-8000-{s:012d}"
        records: list[Any] = [user_prompt(f"task {s} for {tag}", ts(0, 1), session=session,
                                          uuid=f"p-{tag}-{s}")]
        for i in range(per_session):
            inp, out, cw, cr = 3 + i % 5, 100 + i, 50 * (i % 3), 1000 + 10 * i
            minute, second = divmod(i * 2, 60)
            records.append(assistant(f"msg_{tag}_{s}_{i}", f"req_{tag}_{s}_{i}", ts(0, 2 + minute % 50, second),
                                     inp=inp, out=out, cw=cw, cr=cr, session=session))
            expected["requests"] += 1
            expected["input"] += inp
            expected["output"] += out
            expected["cache_write"] += cw
            expected["cache_read"] += cr
        if s == 0:
            for attempt in range(1, 6):
                records.append(retry(ts(1, 6 + 2 * attempt), attempt, session=session,
                                     uuid=f"r-{tag}-{attempt}"))
                expected["retries"] += 1
            # Record uuids are unique in real transcripts; the helper derives them from the time.
            records.append(final_error(ts(1, 20, int(tag[0], 16)), "API Error: 529 Overloaded", status=529,
                                       session=session))
            expected["finals"] += 1
        write(root / "projects" / f"proj-{tag}" / f"{session}.jsonl", records)
    return expected


def claimback(*args: str, home: Path, user: str | None = None, **popen: Any) -> subprocess.Popen:
    env = {**os.environ, "CLAIMBACK_HOME": str(home)}
    if user:
        env["CLAIMBACK_USER"] = user
    return subprocess.Popen([sys.executable, "-m", "claimback", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def finish(proc: subprocess.Popen, timeout: float = 240) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def test_two_ingesters_and_telemetry_make_one_consistent_team_report(tmp_path, pg_url):
    from test_otel import api_error, api_request, exhausted, sdk_export

    alice_dir, bob_dir = tmp_path / "alice-claude", tmp_path / "bob-claude"
    alice = make_corpus(alice_dir, "aaaaaaaa", sessions=8, per_session=300)
    bob = make_corpus(bob_dir, "bbbbbbbb", sessions=6, per_session=350)
    alice_home, bob_home, server_home = tmp_path / "home-a", tmp_path / "home-b", tmp_path / "home-s"

    # Two machines ingest into the same (fresh) PostgreSQL at the same moment: they race to migrate
    # it and then to write.
    procs = [claimback("ingest", "--db", pg_url, "--source", str(alice_dir / "projects"), "--json",
                       home=alice_home, user="alice"),
             claimback("ingest", "--db", pg_url, "--source", str(bob_dir / "projects"), "--json",
                       home=bob_home, user="bob")]
    summaries = [json.loads(finish(p)) for p in procs]
    assert [s["files_read"] for s in summaries] == [8, 6]
    alice_machine = (alice_home / "data" / "machine-id").read_text().strip()

    # Carol's machine only sends telemetry; Alice's also does, for a request her transcript has.
    server = claimback("otel", "serve", "--db", pg_url, "--port", "0", "--token", "tok", "--json",
                       home=server_home)
    try:
        line = server.stderr.readline()
        assert "listening on" in line, line
        url = line.split("listening on ")[1].split(" ")[0]
        carol = "carol-session-0000-4000-8000-000000000001"
        sdk_export(url, [
            api_request("req_carol_1", ts(0, 30), session=carol, inp=10, out=200, cr=5000, cw=100,
                        email="carol@example.com"),
            api_request("req_carol_2", ts(0, 40), session=carol, inp=20, out=300, cr=6000, cw=0,
                        email="carol@example.com", seq=2),
            # One failure after three attempts: api_error once, with attempt = 3, and the give-up beside it.
            api_error("req_carol_e3", ts(1, 15), 3, session=carol, email="carol@example.com"),
            exhausted(ts(1, 15), total=3, session=carol, email="carol@example.com"),
        ], token="tok", resource={"claimback.user": "carol", "claimback.machine_id": "carol-machine"})
        sdk_export(url, [api_request("req_aaaaaaaa_0_0", ts(0, 2), session="aaaaaaaa-0000-4000-8000-"
                                     "000000000000", inp=3, out=100, cr=1000, cw=0)],
                   token="tok", resource={"claimback.user": "alice", "claimback.machine_id": alice_machine})
        server.send_signal(15)
        stats = json.loads(finish(server, timeout=30))
    finally:
        if server.poll() is None:
            server.kill()
    assert stats["new_requests"] == 2 and stats["new_failures"] == 1 and stats["duplicates"] == 1

    # Both machines ingest again, at once: nothing new, nothing lost.
    again = [claimback("ingest", "--db", pg_url, "--source", str(alice_dir / "projects"), "--json",
                       home=alice_home, user="alice"),
             claimback("ingest", "--db", pg_url, "--source", str(bob_dir / "projects"), "--json",
                       home=bob_home, user="bob")]
    assert [json.loads(finish(p))["files_read"] for p in again] == [0, 0]

    report = json.loads(finish(claimback("team", "report", "--db", pg_url, "--offline", "--json",
                                         home=server_home)))
    members = {m["key"]: m for m in report["members"]}
    assert set(members) == {"alice", "bob", "carol"}
    for name, exp in (("alice", alice), ("bob", bob)):
        m = members[name]
        assert m["requests"] == exp["requests"], name
        assert (m["input_tokens"], m["output_tokens"], m["cache_write_tokens"], m["cache_read_tokens"]) == (
            exp["input"], exp["output"], exp["cache_write"], exp["cache_read"]), name
        assert m["failed_attempts"] == exp["retries"] and m["final_errors"] == exp["finals"], name
        assert m["requests_by_origin"] == {"transcript": exp["requests"]}, name
        assert len(m["machines"]) == 1
    carol_m = members["carol"]
    assert carol_m["requests"] == 2 and carol_m["requests_by_origin"] == {"otel": 2}
    assert (carol_m["input_tokens"], carol_m["output_tokens"], carol_m["cache_read_tokens"]) == (30, 500, 11000)
    assert carol_m["failed_attempts"] == 2 and carol_m["final_errors"] == 1 and carol_m["outage_failures"] == 3
    assert members["alice"]["machines"] == [alice_machine]
    assert report["totals"]["requests"] == alice["requests"] + bob["requests"] + 2
    assert report["totals"]["machines"] == 3

    with open_ledger(pg_url) as ledger:
        # No request recorded twice, by key or by Anthropic request id.
        assert ledger.rows("SELECT request_id FROM requests GROUP BY request_id HAVING COUNT(*) > 1") == []
        assert ledger.scalar("SELECT COUNT(*) FROM requests") == report["totals"]["requests"]
        assert ledger.scalar("SELECT COUNT(*) FROM machines") == 3

    # The outage loss per person adds up to what `claimback loss` finds for the whole ledger.
    assert report["loss_available"] and report["windows"], report["notes"]
    loss = json.loads(finish(claimback("loss", "--db", pg_url, "--no-ingest", "--offline", "--json",
                                       home=server_home)))
    assert sum(m["loss_estimated_tokens"] for m in members.values()) == loss["totals"]["estimated_tokens"]
    assert sum(m["loss_measured_tokens"] for m in members.values()) == loss["totals"]["measured_tokens"]
    # The team's failed attempts are sized (the sum above is not vacuous); their 529s are not charged
    # (Anthropic's error reference), so they stay out of the estimate.
    sized = loss["totals"]["estimated_tokens"] + sum(w["loss"]["overloaded_not_charged"]["tokens"]
                                                     for w in loss["windows"])
    assert sized > 0
    # Her three failed attempts, each sized by the prompt of her last good request (20 + 6000 + 0); the
    # 529s among them are not charged, the rest estimated.
    assert carol_m["loss_estimated_tokens"] + carol_m["loss_not_charged_tokens"] == 3 * 6020
    for name in ("alice", "bob"):
        assert members[name]["loss_estimated_tokens"] + members[name]["loss_not_charged_tokens"] > 0, name

    by_machine = json.loads(finish(claimback("team", "report", "--db", pg_url, "--offline", "--json",
                                             "--by", "machine", "--user", "alice", home=server_home)))
    assert [m["key"] for m in by_machine["members"]] == [alice_machine]


def test_team_report_on_sqlite_groups_machines_by_label(tmp_path, monkeypatch):
    db = tmp_path / "ledger.sqlite3"
    one = make_corpus(tmp_path / "one", "11111111", sessions=2, per_session=20)
    two = make_corpus(tmp_path / "two", "22222222", sessions=1, per_session=30)
    with open_ledger(db) as ledger:
        monkeypatch.setenv("CLAIMBACK_USER", "erin")
        ingest(ledger, [tmp_path / "one" / "projects"], machine="erin-desktop")
        ingest(ledger, [tmp_path / "two" / "projects"], machine="erin-laptop")
        monkeypatch.delenv("CLAIMBACK_USER")
        # A plain ingest (OS login name, not chosen) does not undo the chosen label ...
        ingest(ledger, [tmp_path / "two" / "projects"], machine="erin-laptop")
        report = team_report(ledger, offline=True, since=None)
        assert [(m.key, m.machines, m.requests) for m in report.members] == [
            ("erin", ["erin-desktop", "erin-laptop"], one["requests"] + two["requests"])]
        # ... an explicit one does.
        with ledger.transaction():
            register_machine(ledger, "erin-laptop", "erin-travel")
        by_user = {m.key: m.requests for m in team_report(ledger, offline=True).members}
        assert by_user == {"erin": one["requests"], "erin-travel": two["requests"]}
        by_machine = team_report(ledger, by="machine", with_loss=False)
        assert {m.key: m.users for m in by_machine.members} == {"erin-desktop": ["erin"],
                                                                "erin-laptop": ["erin-travel"]}
        from datetime import date

        assert team_report(ledger, since=date(2026, 5, 16), with_loss=False).members == []


@pytest.mark.parametrize("args", [["--by", "team"], ["--since", "yesterday-ish"]])
def test_team_report_bad_options_exit_2(tmp_path, args):
    result = subprocess.run([sys.executable, "-m", "claimback", "team", "report", "--db",
                             str(tmp_path / "l.sqlite3"), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_team_cli_register_and_table(tmp_path):
    from click.testing import CliRunner

    from claimback.cli import main

    db = str(tmp_path / "ledger.sqlite3")
    make_corpus(tmp_path / "c", "33333333", sessions=1, per_session=10)
    runner = CliRunner()
    registered = runner.invoke(main, ["team", "register", "--user", "frank", "--db", db, "--json"])
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.output)["user_label"] == "frank"
    assert runner.invoke(main, ["ingest", "--db", db, "--source", str(tmp_path / "c" / "projects"), "-q"]).exit_code == 0
    table = runner.invoke(main, ["team", "report", "--db", db, "--offline"], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "frank" in table.output and "1 person on 1 machine" in table.output


def test_loss_and_team_count_a_failure_rows_attempts_by_one_rule(tmp_path: Path) -> None:
    """Which failed attempts count (analysis/loss.py failure_attempts): a transcript row is one attempt, a
    telemetry final row stands for all its attempts. The loss's exposure and the team report's failure
    counts read the same rows alike, whatever attempt/max_attempts say (0 and NULL included)."""
    from datetime import date

    from claimback.analysis.loss import EXPOSURE, attribute_window, failure_attempts
    from claimback.analysis.team import team_report
    from claimback.ledger import open_ledger

    ledger = open_ledger(tmp_path / "l.sqlite3")
    try:
        shapes = [("otel", "final", 3, None), ("otel", "final", 3, 5), ("otel", "final", None, 4),
                  ("otel", "final", 3, 0), ("otel", "final", 0, None), ("otel", "final", None, None),
                  ("transcript", "retry", 2, 10), ("transcript", "final", None, None), ("otel", "retry", 4, 4)]
        with ledger.transaction():
            ledger.execute("INSERT INTO requests (request_key, session_id, ts, model, input_tokens) "
                           "VALUES ('r0', 's1', '2026-05-15T00:59:00.000Z', 'claude-opus-4-6', 100)")
            for i, (origin, kind, attempt, max_attempts) in enumerate(shapes):
                ledger.execute(
                    "INSERT INTO failures (failure_key, kind, session_id, ts, status, error_type, failure_class, "
                    "origin, attempt, max_attempts) VALUES (?, ?, 's1', ?, 500, 'api_error', 'outage', ?, ?, ?)",
                    (f"f{i}", kind, f"2026-05-15T01:{10 + i:02d}:00.000Z", origin, attempt, max_attempts))
        rows = ledger.rows("SELECT origin, kind, attempt, max_attempts FROM failures")
        want = sum(failure_attempts(r) for r in rows)
        window = type("W", (), {"id": "w", "start": "2026-05-15T01:00:00.000Z", "end": "2026-05-15T02:00:00.000Z"})()
        loss = attribute_window(ledger, window)
        assert loss.loss[EXPOSURE].attempts == want
        team = team_report(ledger, since=date(2026, 5, 15), until=date(2026, 5, 15), with_loss=False)
        (m,) = team.members
        assert m.failures_by_class == {"outage": want} and m.outage_failures == want
        finals = sum(1 for r in rows if r["kind"] == "final")
        assert m.failed_attempts == want - finals and m.final_errors == finals
    finally:
        ledger.close()
