"""The ledger on both backends (SQLite file and a throwaway PostgreSQL): migrations, refusal of a newer
ledger, idempotent and incremental ingest, bulk loading. `ledger_db` runs each test once per backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claimback.demo import build_demo
from claimback.errors import LedgerError
from claimback.ledger import open_ledger, schema, store
from claimback.ledger.ingest import ingest
from records import SESSION, assistant, final_error, retry, user_prompt, write

TABLES = ("requests", "failures", "tasks", "prompts", "sessions", "agents", "files")


def counts(ledger: store.Ledger) -> dict[str, int]:
    return {t: int(ledger.scalar(f"SELECT COUNT(*) FROM {t}")) for t in TABLES}


def token_totals(ledger: store.Ledger) -> dict[str, Any]:
    row = ledger.rows("SELECT COUNT(*) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o, "
                      "SUM(cache_creation_tokens) AS cw, SUM(cache_read_tokens) AS cr FROM requests")[0]
    return {k: int(v or 0) for k, v in row.items()}


@pytest.fixture(scope="module")
def demo_projects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo")).projects_dir


def test_migrates_an_empty_ledger_to_the_latest_schema(ledger_db):
    with open_ledger(ledger_db) as ledger:
        assert ledger.applied_versions() == {m.version for m in schema.MIGRATIONS}
        assert ledger.schema_version() == schema.LATEST_VERSION
        assert counts(ledger) == dict.fromkeys(TABLES, 0)
    # Re-opening applies nothing.
    with open_ledger(ledger_db) as ledger:
        assert ledger.migrate() == []


def _earlier_definition(index: str, version: int) -> str:
    import re

    for migration in sorted((m for m in schema.MIGRATIONS if m.version < version), key=lambda m: -m.version):
        for statement in migration.statements:
            if re.match(rf"\s*CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?{index}\b", statement):
                return statement
    raise AssertionError(f"no earlier definition of {index}")


def _undo_later_migrations(ledger: store.Ledger) -> None:
    """Turn a ledger into one written by a claimback that knew only migration 1: every later migration's
    tables, indexes and columns removed (today's ingest writes columns migration 1 lacks, so the old
    ledger is made by ingesting first and undoing after)."""
    import re

    with ledger.transaction():
        for migration in sorted((m for m in schema.MIGRATIONS if m.version != 1), key=lambda m: -m.version):
            # a migration of another dialect is recorded as applied, with nothing to undo
            for statement in reversed(migration.statements if ledger.dialect in migration.dialects else ()):
                if found := re.match(r"\s*CREATE (?:UNIQUE )?INDEX (?:IF NOT EXISTS )?(\w+)", statement):
                    ledger.execute(f"DROP INDEX IF EXISTS {found.group(1)}")
                elif found := re.match(r"\s*DROP INDEX IF EXISTS (\w+)", statement):
                    # a team index, or one a later migration redefined: its earlier definition back
                    ledger.execute(schema.TEAM_INDEXES.get(found.group(1))
                                   or _earlier_definition(found.group(1), migration.version))
                elif found := re.match(r"\s*CREATE TABLE (\w+)", statement):
                    ledger.execute(f"DROP TABLE {found.group(1)}")
                elif re.match(r"\s*UPDATE ", statement):
                    continue  # a data fix-up: the dropped column takes it along
                elif found := re.match(r"\s*ALTER TABLE (\w+) ADD COLUMN (\w+)", statement):
                    ledger.execute(f"ALTER TABLE {found.group(1)} DROP COLUMN {found.group(2)}")
                else:
                    raise AssertionError(f"this test cannot undo: {statement[:60]}")
            ledger.execute("DELETE FROM schema_migrations WHERE version = ?", (migration.version,))


def test_migrates_a_populated_ledger_written_by_the_previous_schema(ledger_db, demo_projects):
    # A ledger made by a claimback that knew only migration 1, holding real ingested rows.
    with open_ledger(ledger_db) as old:
        ingest(old, [demo_projects], machine="m-old")
        _undo_later_migrations(old)
        before, tokens_before = counts(old), token_totals(old)
        assert old.applied_versions() == {1}

    with open_ledger(ledger_db) as ledger:
        assert ledger.applied_versions() == {m.version for m in schema.MIGRATIONS}
        assert counts(ledger) == before and token_totals(ledger) == tokens_before
        assert before["requests"] > 100 and before["failures"] > 10
        # Rows from before the provider column keep NULL there: readers judge them (core/provider.py).
        assert ledger.scalar("SELECT COUNT(*) FROM requests WHERE provider IS NULL") == before["requests"]
        # The new migration's indexes answer the queries they exist for.
        some_id = ledger.scalar("SELECT request_id FROM requests WHERE request_id IS NOT NULL LIMIT 1")
        assert ledger.scalar("SELECT COUNT(*) FROM requests WHERE request_id = ?", (some_id,)) == 1
        # And ingesting again on the new schema adds nothing.
        summary = ingest(ledger, [demo_projects], machine="m-old")
        assert summary.files_unchanged == summary.files_seen and counts(ledger) == before


def test_refuses_a_ledger_written_by_a_newer_claimback(ledger_db):
    with open_ledger(ledger_db) as ledger:
        with ledger.transaction():
            ledger.execute("INSERT INTO schema_migrations (version, name, applied_at, claimback_version) "
                           "VALUES (?, ?, ?, ?)", (999, "from the future", "2030-01-01T00:00:00.000Z", "9.0"))
    with pytest.raises(LedgerError, match="newer claimback.*schema 999"):
        open_ledger(ledger_db)


def test_a_missing_middle_migration_is_applied_even_when_a_later_one_is_present(ledger_db, monkeypatch):
    # Versions are handed out to parallel work and can land out of order: 1 and 6 applied, 3 arrives.
    late = schema.Migration(3, "late arrival", ("CREATE TABLE late_arrival (k TEXT PRIMARY KEY)",))
    with open_ledger(ledger_db) as ledger:
        assert 3 not in ledger.applied_versions()
    monkeypatch.setattr(store, "MIGRATIONS", schema.MIGRATIONS + (late,))
    with open_ledger(ledger_db) as ledger:
        assert 3 in ledger.applied_versions()
        assert ledger.scalar("SELECT COUNT(*) FROM late_arrival") == 0


def test_ingest_is_idempotent(ledger_db, demo_projects):
    with open_ledger(ledger_db) as ledger:
        first = ingest(ledger, [demo_projects], machine="m1")
        after_first, tokens = counts(ledger), token_totals(ledger)
        assert first.new_requests == after_first["requests"] > 0
        again = ingest(ledger, [demo_projects], machine="m1")
        assert again.files_read == 0 and again.new_requests == 0
        assert counts(ledger) == after_first
        # Forgetting the file state forces a full re-read: still no duplicate rows.
        with ledger.transaction():
            ledger.execute("DELETE FROM files")
        reread = ingest(ledger, [demo_projects], machine="m1")
        assert reread.files_read == first.files_read and reread.new_requests == 0
        assert counts(ledger) == after_first and token_totals(ledger) == tokens


def test_incremental_append_reads_only_new_complete_lines(ledger_db, tmp_path):
    projects = tmp_path / "projects"
    # Longer than the 4 KiB head that identifies a file, as real sessions are after a turn or two.
    path = write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("Refactor the parser", "2026-05-15T00:50:00.000Z"),
        assistant("msg_1", "req_1", "2026-05-15T00:50:10.000Z", out=120, cr=4000,
                  content=[{"type": "text", "text": "x" * 5000}]),
    ])
    with open_ledger(ledger_db) as ledger:
        ingest(ledger, [projects], machine="m1")
        assert token_totals(ledger)["n"] == 1
        # Claude Code appends: two retries, a final error, and a half-written line.
        write(path, [
            retry("2026-05-15T01:06:20.000Z", 1),
            retry("2026-05-15T01:06:40.000Z", 2),
            final_error("2026-05-15T01:07:30.000Z", "API Error: 500 Internal server error"),
            assistant("msg_2", "req_2", "2026-05-15T01:40:00.000Z", out=77),
            '{"type":"assistant","partial',
        ], mode="a")
        summary = ingest(ledger, [projects], machine="m1")
        assert summary.partial_lines_left == 1
        assert summary.new_requests == 1
        assert summary.new_failures == {"outage": 3}
        offset = ledger.scalar("SELECT byte_offset FROM files WHERE machine_id = ?", ("m1",))
        assert offset == path.stat().st_size - len('{"type":"assistant","partial')
        # The writer finishes the line: it is read once, nothing else again.
        write(path, ['"}\n'], mode="a")
        summary = ingest(ledger, [projects], machine="m1")
        assert summary.lines_read == 1 and summary.new_requests == 0
        assert ledger.scalar("SELECT COUNT(*) FROM failures") == 3


def test_text_postgres_cannot_hold_and_sql_percent_literals_round_trip(ledger_db, tmp_path):
    # A NUL inside a message (SQLite keeps it, PostgreSQL text cannot) and LIKE patterns with % in
    # the post-ingest SQL must both work.
    projects = tmp_path / "projects"
    write(projects / "app" / f"{SESSION}.jsonl", [
        assistant("msg_1", "req_1", "2026-05-15T00:50:10.000Z"),
        final_error("2026-05-15T01:07:30.000Z", "API Error: 500 bad\u0000byte"),
    ])
    with open_ledger(ledger_db) as ledger:
        ingest(ledger, [projects], machine="m1")
        message = ledger.scalar("SELECT message FROM failures")
        assert message.startswith("API Error: 500 bad") and message.endswith("byte")
        assert ledger.scalar("SELECT COUNT(*) FROM failures WHERE message LIKE ?", ("API Error%",)) == 1


def test_bulk_upsert_keeps_the_statement_semantics(ledger_db):
    # Large batches take the bulk path on PostgreSQL (COPY + INSERT ... SELECT); a key repeated inside
    # one DO UPDATE batch falls back to row-by-row. The result must equal row-by-row semantics.
    upsert = ("INSERT INTO sessions (session_id, project, cwd, first_ts, last_ts, cc_version, machine_id) "
              "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
              "last_ts = CASE WHEN excluded.last_ts > sessions.last_ts THEN excluded.last_ts "
              "ELSE sessions.last_ts END")
    rows = [(f"s{i:04d}", "p", None, "2026-05-01T00:00:00.000Z", f"2026-05-01T00:{i % 60:02d}:00.000Z",
             "2.1", "m") for i in range(300)]
    repeated = rows + [("s0001", "p", None, "2026-05-01T00:00:00.000Z", "2026-05-02T00:00:00.000Z", "2.1", "m")]
    with open_ledger(ledger_db) as ledger:
        with ledger.transaction():
            ledger.executemany(upsert, rows)
        with ledger.transaction():
            ledger.executemany(upsert, repeated)
        assert ledger.scalar("SELECT COUNT(*) FROM sessions") == 300
        assert ledger.scalar("SELECT last_ts FROM sessions WHERE session_id = ?", ("s0001",)) \
            == "2026-05-02T00:00:00.000Z"
        assert ledger.scalar("SELECT last_ts FROM sessions WHERE session_id = ?", ("s0059",)) \
            == "2026-05-01T00:59:00.000Z"
        # DO NOTHING with duplicates inside the batch keeps the first copy, as row-by-row would.
        insert = ("INSERT INTO prompts (prompt_key, session_id, ts, text_hash, text_len, machine_id) "
                  "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (prompt_key) DO NOTHING")
        with ledger.transaction():
            ledger.executemany(insert, [(f"k{i % 100}", "s", "2026-05-01T00:00:00.000Z", "h", i, "m")
                                        for i in range(250)])
        assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 100


def test_a_failed_write_rolls_back_and_the_ledger_stays_usable(ledger_db):
    with open_ledger(ledger_db) as ledger:
        insert = ("INSERT INTO prompts (prompt_key, session_id, ts, text_hash, text_len, machine_id) "
                  "VALUES (?, ?, ?, ?, ?, ?)")
        rows = [(f"k{i}", "s", "2026-05-01T00:00:00.000Z", "h", i, "m") for i in range(120)]
        with pytest.raises(Exception):
            with ledger.transaction():
                ledger.executemany(insert, rows)
                ledger.executemany(insert, rows[:60])  # primary-key violation, no ON CONFLICT
        assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 0
        with ledger.transaction():
            ledger.executemany(insert, rows)
        assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 120


def test_sqlite_and_postgresql_hold_the_same_rows(tmp_path, pg_url, demo_projects):
    results = []
    for target in (str(tmp_path / "ledger.sqlite3"), pg_url):
        with open_ledger(target) as ledger:
            ingest(ledger, [demo_projects], machine="m1")
            results.append((counts(ledger), token_totals(ledger), ledger.rows(
                "SELECT failure_class, kind, COUNT(*) AS n FROM failures GROUP BY failure_class, kind "
                "ORDER BY failure_class, kind"), ledger.rows(
                "SELECT tool_use_id, outcome, agent_id FROM tasks ORDER BY tool_use_id")))
    sqlite_result, pg_result = results
    assert sqlite_result == pg_result


def test_postgres_url_password_is_never_shown(pg_server_url):
    bad = pg_server_url.replace("claimback@", "claimback:s3cret@").rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(LedgerError) as info:
        open_ledger(bad)
    assert "s3cret" not in str(info.value)


def _rounded(value: Any) -> Any:
    """Float sums may differ in the last bit between engines (summation order); nothing else may."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items() if k not in ("generated_at", "age_seconds")}
    if isinstance(value, list):
        # Lists built from rows read without ORDER BY (or with ties) follow physical row order, which
        # differs between engines; their content must still match.
        return sorted((_rounded(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return value


def test_reporting_commands_agree_on_both_backends(tmp_path, pg_url, demo_projects):
    from click.testing import CliRunner

    from claimback.cli import main

    commands = [["usage", "daily"], ["usage", "session"], ["usage", "blocks"], ["loss", "--offline"],
                ["outages", "--offline"], ["resume"], ["team", "report", "--offline"]]
    results: list[dict[str, Any]] = []
    for target in (str(tmp_path / "ledger.sqlite3"), pg_url):
        runner = CliRunner()
        done = runner.invoke(main, ["ingest", "--db", target, "--source", str(demo_projects), "-q"])
        assert done.exit_code == 0, done.output
        out: dict[str, Any] = {}
        for command in commands:
            extra = [] if command[0] == "team" else ["--no-ingest"]
            result = runner.invoke(main, [*command, "--db", target, "--json", *extra])
            assert result.exit_code == 0, (command, result.output)
            data = _rounded(json.loads(result.output))
            out[" ".join(command)] = data
        results.append(out)
    for command in results[0]:
        assert results[0][command] == results[1][command], command



def test_the_claim_packets_evidence_agrees_on_both_backends(tmp_path, pg_url, demo_projects):
    # The packet's SQL (each window's timeline summed per 10-minute bin, the first request after a
    # window, the scope sums of migration 110's index, the coverage check's day seeks) on both engines.
    from click.testing import CliRunner

    from claimback.cli import main

    evidence = []
    for name, target in (("sqlite", str(tmp_path / "ledger.sqlite3")), ("postgresql", pg_url)):
        runner = CliRunner()
        done = runner.invoke(main, ["ingest", "--db", target, "--source", str(demo_projects), "-q"])
        assert done.exit_code == 0, done.output
        out = tmp_path / f"packet-{name}"
        result = runner.invoke(main, ["audit", "--db", target, "--no-ingest", "--offline", "--since", "2026-01-01",
                                      "--out", str(out), "--force", "--json"])
        assert result.exit_code == 0, result.output
        evidence.append(_rounded(json.loads((out / "evidence.json").read_text(encoding="utf-8"))))
    assert evidence[0]["windows"] and any(b["requests"] for w in evidence[0]["windows"] for b in w["timeline"]["bins"])
    assert evidence[0] == evidence[1]

# -- speed: indexes built after a first load, team indexes only in shared ledgers (issue 17) ----------

def _index_names(path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


def test_first_load_builds_the_indexes_after_the_rows_and_keeps_every_row(tmp_path, demo_projects):
    fresh = tmp_path / "fresh.sqlite3"
    with open_ledger(fresh) as ledger:
        expected = _index_names(fresh)
        ingest(ledger, [demo_projects])
        assert ledger.scalar("SELECT value FROM meta WHERE key = ?", (store.DEFERRED_INDEXES_KEY,)) is None
        fresh_counts, fresh_tokens = counts(ledger), token_totals(ledger)
    assert _index_names(fresh) == expected and "requests_ts" in expected
    # The same corpus into a ledger that already held a row: no deferral, the same rows.
    other = tmp_path / "other.sqlite3"
    with open_ledger(other) as ledger:
        with ledger.transaction():
            ledger.execute("INSERT INTO prompts (prompt_key, ts, text_hash, text_len) VALUES ('x', '2026-01-01', 'h', 1)")
        assert store.defer_indexes(ledger) is False
        ingest(ledger, [demo_projects])
        with ledger.transaction():
            ledger.execute("DELETE FROM prompts WHERE prompt_key = 'x'")
        assert (counts(ledger), token_totals(ledger)) == (fresh_counts, fresh_tokens)


def test_indexes_a_crashed_first_load_dropped_come_back_on_open(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "crashed.sqlite3"
    with open_ledger(path):
        expected = _index_names(path)
    # A process that drops the indexes and dies before building them again (as kill -9 mid-load would).
    subprocess.run([sys.executable, "-c", "import sys, os; from claimback.ledger import open_ledger, store; "
                    "led = open_ledger(sys.argv[1]); assert store.defer_indexes(led); os._exit(9)", str(path)],
                   check=False)
    assert "requests_ts" not in _index_names(path)
    with open_ledger(path) as ledger:
        assert ledger.scalar("SELECT value FROM meta WHERE key = ?", (store.DEFERRED_INDEXES_KEY,)) is None
    assert _index_names(path) == expected


def test_team_indexes_only_once_a_ledger_is_shared(tmp_path):
    from claimback.ledger.team import register_machine

    path = tmp_path / "team.sqlite3"
    with open_ledger(path) as ledger:
        assert not set(schema.TEAM_INDEXES) & _index_names(path)
        with ledger.transaction():
            register_machine(ledger, "machine-a", "ann")
        assert not set(schema.TEAM_INDEXES) & _index_names(path)
        with ledger.transaction():
            register_machine(ledger, "machine-b", "bob")
    assert set(schema.TEAM_INDEXES) <= _index_names(path)


def test_migration_60_keeps_team_indexes_of_a_shared_ledger(tmp_path):
    from claimback.ledger.team import register_machine

    path = tmp_path / "old.sqlite3"
    with open_ledger(path) as ledger:
        with ledger.transaction():
            register_machine(ledger, "machine-a", "ann")
            ledger.execute("INSERT INTO machines (machine_id, user_label) VALUES ('machine-b', 'bob')")
            ledger.execute("DELETE FROM schema_migrations WHERE version = 60")  # as a ledger before it
    with open_ledger(path) as ledger:
        assert 60 in ledger.applied_versions()
    assert set(schema.TEAM_INDEXES) <= _index_names(path)
    single = tmp_path / "single.sqlite3"
    with open_ledger(single) as ledger:
        with ledger.transaction():
            for statement in schema.TEAM_INDEXES.values():
                ledger.execute(statement)
            ledger.execute("DELETE FROM schema_migrations WHERE version = 60")
    with open_ledger(single):
        pass
    assert not set(schema.TEAM_INDEXES) & _index_names(single)


def test_new_sqlite_ledgers_use_16k_pages(tmp_path):
    with open_ledger(tmp_path / "p.sqlite3") as ledger:
        assert ledger.scalar("PRAGMA page_size") == 16384
