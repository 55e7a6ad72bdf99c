"""The copy rules across ingest runs: a ledger built over many runs equals one run over the same lines.

A copy is a failure or prompt record whose line equals another's but for its uuid and parentUuid
(`--resume` in 1.0.8x rewrites earlier records with new uuids, ledger/ingest.py). Of one key the
earliest line is the record (the first read on ties); of keys whose records are equal, the smallest key
stays. An incremental run only checks this run's keys and copy hashes (issue 17: no table scan), so
what an earlier run dropped must still count: the cases below failed when a dropped copy was forgotten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from claimback.sources.transcripts import copy_hash

SESSION = "58ef7597-0000-4000-8000-000000000001"
SLUG = "-home-u-app"


def retry_line(uuid: str, ts: str, *, level: str = "error") -> bytes:
    record = {"type": "system", "subtype": "api_error", "level": level, "sessionId": SESSION,
              "timestamp": ts, "uuid": uuid, "error": {"status": 529, "error": {"type": "error", "error": {
                  "type": "overloaded_error", "message": "Overloaded"}}},
              "retryInMs": 1000.0, "retryAttempt": 1, "maxRetries": 10}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def prompt_line(uuid: str, ts: str, *, level: str = "a") -> bytes:
    # `level` stands for any field the ledger does not read: it changes the copy hash and nothing else.
    record = {"type": "user", "sessionId": SESSION, "timestamp": ts, "uuid": uuid, "isSidechain": False,
              "userType": level, "message": {"role": "user", "content": "Port the wombatqueue to asyncio."}}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


LINES = {"failures": retry_line, "prompts": prompt_line}
KEY = {"failures": "failure_key", "prompts": "prompt_key"}


def _ledger_rows(led: Any, table: str) -> list[tuple]:
    return [tuple(r.values()) for r in led.rows(f"SELECT {KEY[table]}, ts, copy_hash, file_offset FROM {table} "
                                       f"ORDER BY {KEY[table]}")]


FILES = (f"{SESSION}.jsonl", "0bd1c2e3-0000-4000-8000-000000000002.jsonl")  # a resumed session's file


def _ingest_runs(tmp: Path, runs: list[dict[int, bytes]], table: str, db: str | None = None) -> list[tuple]:
    """Each run appends its bytes to the files (indexes into FILES), then ingests; the table's rows at
    the end."""
    root = tmp / "projects"
    (root / SLUG).mkdir(parents=True, exist_ok=True)
    led = open_ledger(db or tmp / "ledger.sqlite3")
    try:
        for run in runs:
            for index, data in run.items():
                with open(root / SLUG / FILES[index], "ab") as handle:
                    handle.write(data)
            ingest(led, [root], machine="m")
        return _ledger_rows(led, table)
    finally:
        led.close()


def _reference(files: dict[int, bytes]) -> set[str]:
    """The keys the rules keep, read independently: per key its earliest line (first on ties), then of
    keys with equal records (copy hash) the smallest."""
    first: dict[str, tuple[str, str]] = {}
    for data in files.values():
        for raw in data.splitlines(keepends=True):
            record = json.loads(raw)
            key, ts = record["uuid"], record["timestamp"]
            if key not in first or ts < first[key][0]:
                first[key] = (ts, copy_hash(raw))
    return {key for key, (_, content) in first.items()
            if not any(other < key and first[other][1] == content for other in first)}


def _whole(runs: list[dict[int, bytes]]) -> dict[int, bytes]:
    files: dict[int, bytes] = {}
    for run in runs:
        for index, data in run.items():
            files[index] = files.get(index, b"") + data
    return files


def _check(tmp: Path, table: str, pieces: list[bytes] | list[dict[int, bytes]]) -> list[tuple]:
    """Many runs give what one run over the same files gives, and what the rules say."""
    runs = [p if isinstance(p, dict) else {0: p} for p in pieces]
    by_runs = _ingest_runs(tmp / "runs", runs, table)
    single = _ingest_runs(tmp / "single", [_whole(runs)], table)
    assert by_runs == single
    assert {row[0] for row in by_runs} == _reference(_whole(runs))
    return by_runs


T0, T1 = "2026-05-15T01:02:00.000Z", "2026-05-15T01:01:00.000Z"


@pytest.mark.parametrize("table", ["failures", "prompts"])
def test_a_dropped_copy_written_again_under_its_own_key_stays_dropped(tmp_path: Path, table: str) -> None:
    """The draw of 2026-12-01: `e-b` is dropped as a copy of `e-a` in the first run; the second run
    brings `e-b` again with another field changed (not earlier): `e-b`'s record is still its first line,
    a copy, so no new failure or prompt."""
    make = LINES[table]
    rows = _check(tmp_path, table, [make("e-b", T0) + make("e-a", T0), make("e-b", T0, level="warning")])
    assert [row[0] for row in rows] == ["e-a"]


@pytest.mark.parametrize("table", ["failures", "prompts"])
def test_a_dropped_copy_comes_back_when_its_original_turns_out_to_be_something_else(
        tmp_path: Path, table: str) -> None:
    """`e-b` dropped as a copy of `e-a`; a later run brings an earlier line of `e-a` with other content:
    `e-a`'s record is that one now, `e-b` copies nothing and counts again."""
    make = LINES[table]
    rows = _check(tmp_path, table, [make("e-b", T0) + make("e-a", T0), make("e-a", T1, level="warning")])
    assert [row[0] for row in rows] == ["e-a", "e-b"]


@pytest.mark.parametrize("table", ["failures", "prompts"])
def test_a_dropped_copy_rewritten_earlier_with_new_content_counts(tmp_path: Path, table: str) -> None:
    make = LINES[table]
    rows = _check(tmp_path, table, [make("e-b", T0) + make("e-a", T0), make("e-b", T1, level="warning")])
    assert [(row[0], row[1]) for row in rows] == [("e-a", T0), ("e-b", T1)]


@pytest.mark.parametrize("table", ["failures", "prompts"])
def test_a_smaller_key_arriving_later_takes_over_a_chain_of_copies(tmp_path: Path, table: str) -> None:
    make = LINES[table]
    rows = _check(tmp_path, table, [make("e-c", T0) + make("e-b", T0), make("e-a", T0),
                                    make("e-a", T1, level="x")])
    assert [row[0] for row in rows] == ["e-a", "e-b"]


@pytest.mark.parametrize("table", ["failures", "prompts"])
def test_the_copy_rules_across_runs_on_both_engines(tmp_path: Path, ledger_db: str, table: str) -> None:
    make = LINES[table]
    pieces = [make("e-c", T0) + make("e-b", T0), make("e-c", T0, level="x") + make("e-a", T0),
              make("e-a", T1, level="x"), make("e-b", T1, level="y") + make("e-d", T1, level="x")]
    runs = _ingest_runs(tmp_path / "runs", [{0: p} for p in pieces], table, ledger_db)
    assert runs == _ingest_runs(tmp_path / "single", [{0: b"".join(pieces)}], table)
    assert [row[0] for row in runs] == ["e-a", "e-b", "e-c"]


# A property over the copy rules alone: few keys, few contents and two times, so that copies, re-writes
# of dropped keys and earlier originals are common (the transcript fuzz test meets them rarely); the
# lines go to two files (a session and the one resumed from it) in any order of runs.
_line = st.tuples(st.sampled_from([0, 1]), st.sampled_from(["e-a", "e-b", "e-c", "e-d"]),
                  st.sampled_from([T0, T1]), st.sampled_from(["error", "warning", "info"]))


@settings(max_examples=int(os.environ.get("CLAIMBACK_FUZZ_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(["failures", "prompts"]),
       runs=st.lists(st.lists(_line, min_size=1, max_size=4), min_size=2, max_size=4))
def test_many_runs_keep_what_one_run_keeps(tmp_path_factory, table: str, runs: list[list[tuple]]) -> None:
    # Two lines of one key at one time in different files: which is first (its content, or its file and
    # offset) depends on the order the files are read in, in one run as in many (not this question).
    first_file: dict[tuple[str, str, str], int] = {}
    for index, uuid, ts, level in (line for run in runs for line in run):
        assume(all(f == index for (u, t, _), f in first_file.items() if (u, t) == (uuid, ts)))
        first_file.setdefault((uuid, ts, level), index)
    make = LINES[table]
    pieces = []
    for run in runs:
        piece: dict[int, bytes] = {}
        for index, uuid, ts, level in run:
            piece[index] = piece.get(index, b"") + make(uuid, ts, level=level)
        pieces.append(piece)
    _check(tmp_path_factory.mktemp("copies"), table, pieces)


@pytest.mark.parametrize("table", ["failures", "prompts"])
def test_the_copies_set_aside_have_every_column_of_their_table(tmp_path: Path, table: str) -> None:
    """A copy comes back whole: a column added to the table must be added to its copies' table too."""
    with open_ledger(tmp_path / "ledger.sqlite3") as led:
        columns = {r["name"] for r in led.rows(f"PRAGMA table_info({table})")}
        copies = {r["name"] for r in led.rows(f"PRAGMA table_info({table[:-1]}_copies)")}
    assert copies == columns | {"copy_of"}


def test_an_incremental_run_checks_the_copy_rules_without_a_table_scan(tmp_path: Path) -> None:
    """Issue 17: a run looks up its own keys and copy hashes (SQLite's plans: no SCAN of the tables)."""
    root = tmp_path / "projects"
    path = root / SLUG / f"{SESSION}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(retry_line(f"e-{i:03d}", T0 if i % 2 else T1) for i in range(50))
                     + b"".join(prompt_line(f"p-{i:03d}", T0, level=str(i % 3)) for i in range(50)))
    with open_ledger(tmp_path / "ledger.sqlite3") as led:
        ingest(led, [root], machine="m")
        with open(path, "ab") as handle:
            handle.write(retry_line("e-001", T1, level="x") + retry_line("e-000", T1) + prompt_line("p-000", T0))
        statements: list[str] = []
        led.conn.set_trace_callback(statements.append)
        ingest(led, [root], machine="m")
        led.conn.set_trace_callback(None)
        checked = [s for s in statements if "_copies" in s and not s.lstrip().upper().startswith("EXPLAIN")]
        assert len(checked) >= 8
        for statement in checked:
            plan = " ".join(str(row[-1]) for row in led.conn.execute("EXPLAIN QUERY PLAN " + statement))
            assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (statement, plan)
        assert led.scalar("SELECT COUNT(*) FROM failure_copies") + led.scalar("SELECT COUNT(*) FROM failures") == 50
