"""Issue 17: an incremental ingest reads no whole table. Every statement an ingest runs after a first load
(one that finds new lines of every kind, one that finds nothing) is traced (sqlite3's trace callback)
and its query plan read: a `SCAN <table>` without an index is a read of every row, and its cost grows
with the ledger. SQLite's plans here do not depend on the ledger's size (claimback never runs ANALYZE on
SQLite), so a small ledger shows the plans a large one gets; benchmarks/incremental_plans.py prints them
for any ledger, PostgreSQL's too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from records import agent_launch, assistant, retry, task_result, user_prompt, write

from claimback.demo import build_demo
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest

# Tables that hold a handful of rows whatever the ledger's size: reading them whole is free.
TINY = {"sqlite_master", "machines", "meta", "schema_migrations"}
SESSION = "7c1d9e2a-0000-4000-8000-0000000000a1"
COPY = "7c1d9e2a-0000-4000-8000-0000000000c2"
SLUG = "-home-u-plans"


def _ts(minute: int, second: int = 0) -> str:
    return f"2026-11-20T09:{minute:02d}:{second:02d}.000Z"


def _standin(record: dict[str, Any], n: int) -> dict[str, Any]:
    """The record as a tool that duplicated the session writes it: new session and uuid, the uuid as its
    message id (a stand-in: ledger/ingest._DROP_STANDIN_COPIES), time and requestId kept."""
    uuid = f"c{n:03d}-0000-4000-8000-000000000000"
    return {**record, "sessionId": COPY, "uuid": uuid, "message": {**record["message"], "id": uuid}}


def _turn(minute: int, n: int) -> list[dict[str, Any]]:
    """A prompt, a retry whose record says nothing (`error: {cause: {}}`: it takes its turn's class), a
    launch with its run's result, an answer with a request id and one without (an older client's)."""
    return [
        user_prompt(f"step {n}", _ts(minute), session=SESSION, uuid=f"p-{n}"),
        {"type": "system", "subtype": "api_error", "level": "error", "sessionId": SESSION, "timestamp": _ts(minute, 5),
         "uuid": f"r-{n}", "error": {"cause": {}}, "retryInMs": 500.0, "retryAttempt": 1, "maxRetries": 10},
        agent_launch(f"msg_01PlanLaunch{n:04d}", f"req_011PlanLaunch{n:04d}", _ts(minute, 10), f"toolu_01Plan{n:04d}",
                     f"check part {n}", session=SESSION),
        task_result(f"toolu_01Plan{n:04d}", _ts(minute, 40), status="completed", agent_id=None, is_error=False,
                    text="done", session=SESSION),
        assistant(f"msg_01PlanAnswer{n:04d}", f"req_011PlanAnswer{n:04d}", _ts(minute, 50), session=SESSION),
        assistant(f"msg_01PlanUnkeyed{n:04d}", None, _ts(minute, 55), session=SESSION),
    ]


def _plan_scans(led: Any, statements: list[str]) -> tuple[list[tuple[str, str]], set[str]]:
    """(statement, plan) of every statement that reads a table that is not tiny whole, and the statements."""
    scans = []
    seen: set[str] = set()
    for statement in statements:
        head = statement.lstrip().upper()
        if head.startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")):
            continue
        seen.add(statement)
        plan = [str(row[-1]) for row in led.conn.execute("EXPLAIN QUERY PLAN " + statement)]
        for step in plan:
            words = step.split()
            if (words[:1] == ["SCAN"] and " INDEX " not in step and "CONSTANT ROW" not in step
                    and words[1] not in TINY):
                scans.append((statement, " | ".join(plan)))
    return scans, seen


def test_an_incremental_ingest_reads_no_whole_table(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    build_demo(root)  # sessions with outages, retries, final errors, subagent runs (some killed)
    projects = root / "projects"
    main = projects / SLUG / f"{SESSION}.jsonl"
    copy = projects / SLUG / f"{COPY}.jsonl"
    first = _turn(1, 1) + _turn(2, 2)
    write(main, first)
    write(copy, [_standin(first[4], 1)])  # a stand-in whose original is in the ledger: dropped
    # a stand-in without its original (the ledger holds a stand-in key from now on)
    write(copy, [_standin(assistant("msg_01Gone", "req_011PlanNoOriginal", _ts(3)), 2)], mode="a")
    led = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(led, [projects], machine="m")
        assert led.scalar("SELECT COUNT(*) FROM requests WHERE request_key LIKE '~%'") == 1
        # New lines of every kind: a turn in the session, its stand-in copy (its original at its time),
        # a subagent run's next answer and a 529 in it.
        more = _turn(4, 3)
        write(main, more, mode="a")
        write(copy, [_standin(more[4], 3)], mode="a")
        run = next(projects.rglob("agent-*.jsonl"))
        agent_id = run.stem[len("agent-"):]
        write(run, [retry(_ts(5), 1, agent_id=agent_id),
                    assistant("msg_01PlanSubagent", "req_011PlanSubagent", _ts(5, 30), agent_id=agent_id,
                              sidechain=True)], mode="a")
        statements: list[str] = []
        led.conn.set_trace_callback(statements.append)
        summary = ingest(led, [projects], machine="m")
        led.conn.set_trace_callback(None)
        assert summary.files_read == 3 and summary.new_requests == 4 and summary.new_tasks == 1
        assert led.scalar("SELECT COUNT(*) FROM requests WHERE request_key LIKE '~%'") == 1  # the copy went
        scans, seen = _plan_scans(led, statements)
        assert not scans, scans
        # every cross-file step ran on this run's rows (the test would pass without them)
        for step in ("DELETE FROM requests WHERE request_id IN", "UPDATE tasks SET outcome",
                     "UPDATE failures SET failure_class", "UPDATE failures SET provider", "UPDATE tasks SET agent_id",
                     "DELETE FROM requests WHERE request_id IS NULL", "DELETE FROM requests WHERE is_sidechain"):
            assert any(s.startswith(step) for s in seen), step
        # an ingest that finds nothing
        statements.clear()
        led.conn.set_trace_callback(statements.append)
        assert ingest(led, [projects], machine="m").files_read == 0
        led.conn.set_trace_callback(None)
        scans, seen = _plan_scans(led, statements)
        assert not scans and seen, scans
    finally:
        led.close()
