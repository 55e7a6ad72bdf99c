"""Ingest: discovery, dedup, failures, tasks, incremental state and bad input, on real files."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.cli import main
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest
from records import (
    SESSION,
    agent_launch,
    assistant,
    final_error,
    line,
    retry,
    task_result,
    user_prompt,
    write,
)

T0 = "2026-05-15T00:58:12.345Z"


def ts(minute: int, second: int = 0) -> str:
    return f"2026-05-15T01:{minute:02d}:{second:02d}.000Z"


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    return tmp_path / "claude" / "projects"


def run_ingest(tmp_path: Path, projects: Path):
    ledger = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        return ingest(ledger, [projects], machine="test"), ledger
    except Exception:
        ledger.close()
        raise


def totals(ledger) -> dict:
    return ledger.rows("SELECT COUNT(*) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o, "
                       "SUM(cache_creation_tokens) AS cw, SUM(cache_read_tokens) AS cr FROM requests")[0]


def test_streamed_lines_count_once_with_the_largest_usage(tmp_path, projects):
    # Claude Code writes one line per content block; some versions grow output_tokens on later lines.
    write(projects / "app" / f"{SESSION}.jsonl", [
        assistant("msg_1", "req_1", ts(0), out=10),
        assistant("msg_1", "req_1", ts(0), out=250),
        assistant("msg_1", "req_1", ts(0), out=250),
        assistant("msg_2", "req_2", ts(1), out=40, cw=100, cr=900),
    ])
    summary, ledger = run_ingest(tmp_path, projects)
    assert summary.new_requests == 2
    assert totals(ledger) == {"n": 2, "i": 6, "o": 290, "cw": 100, "cr": 900}


def test_lines_without_request_id_merge_by_message_id_and_reingest_is_idempotent(tmp_path, projects):
    # Seen in real 1.0.8x transcripts: the blocks of one response written on several lines with no
    # requestId. They are one request (ccusage 20's `session` rule): the largest line counts, once.
    no_message_id = assistant("ignored", None, ts(2), out=3)
    del no_message_id["message"]["id"]
    write(projects / "app" / f"{SESSION}.jsonl", [
        assistant("msg_1", None, ts(0), out=7), assistant("msg_1", None, ts(0), out=9),
        assistant("msg_2", None, ts(1), out=5), no_message_id, no_message_id,
    ])
    summary, ledger = run_ingest(tmp_path, projects)
    # msg_1 once (its larger line), msg_2, and both lines that have no id at all (nothing to merge on)
    assert summary.new_requests == 4
    assert totals(ledger)["o"] == 9 + 5 + 3 + 3
    ledger.execute("DELETE FROM files")  # forget the ingest state: a full re-read must add nothing
    again = ingest(ledger, [projects], machine="test")
    assert again.new_requests == 0 and totals(ledger)["n"] == 4


def test_unkeyed_lines_merge_across_files_and_runs(tmp_path, projects):
    """The merge holds when the lines arrive in two ingest runs (the file grew), and a later larger line
    replaces the kept one."""
    path = write(projects / "app" / f"{SESSION}.jsonl", [assistant("msg_1", None, ts(0), out=7)])
    _, ledger = run_ingest(tmp_path, projects)
    write(path, [assistant("msg_1", None, ts(0), out=70)], mode="a")
    again = ingest(ledger, [projects], machine="test")
    assert again.new_requests == 0
    assert totals(ledger) == {"n": 1, "i": 3, "o": 70, "cw": 0, "cr": 0}


def test_one_h_cache_writes_are_summed(tmp_path, projects):
    write(projects / "app" / f"{SESSION}.jsonl", [assistant("m", "r", ts(0), cw=5000, cache_1h=3000)])
    _, ledger = run_ingest(tmp_path, projects)
    row = ledger.rows("SELECT cache_creation_tokens, cache_creation_1h_tokens FROM requests")[0]
    assert row == {"cache_creation_tokens": 5000, "cache_creation_1h_tokens": 3000}


def test_subagent_replay_of_parent_message_is_not_a_new_request(tmp_path, projects):
    write(projects / "app" / f"{SESSION}.jsonl", [assistant("msg_parent", "req_a", ts(0), out=300)])
    write(projects / "app" / SESSION / "subagents" / "agent-abc.jsonl", [
        assistant("msg_parent", "req_b", ts(0), out=300, sidechain=True, agent_id="abc"),
        assistant("msg_child", "req_c", ts(1), out=50, sidechain=True, agent_id="abc"),
    ])
    _, ledger = run_ingest(tmp_path, projects)
    keys = {r["request_key"] for r in ledger.rows("SELECT request_key FROM requests")}
    assert keys == {"msg_parent:req_a", "msg_child:req_c"}


def test_both_subagent_layouts_are_found(tmp_path, projects):
    write(projects / "app" / SESSION / "subagents" / "agent-new.jsonl",
          [assistant("m1", "r1", ts(0), sidechain=True, agent_id="new")])
    write(projects / "app" / "agent-old.jsonl",
          [assistant("m2", "r2", ts(1), sidechain=True, agent_id="old")])
    _, ledger = run_ingest(tmp_path, projects)
    rows = ledger.rows("SELECT agent_id, session_id FROM agents ORDER BY agent_id")
    assert rows == [{"agent_id": "new", "session_id": SESSION}, {"agent_id": "old", "session_id": SESSION}]
    kinds = {r["kind"] for r in ledger.rows("SELECT kind FROM files")}
    assert kinds == {"subagent"}


def test_workflow_runs_nest_their_agents_deeper_under_subagents(tmp_path, projects):
    # The Workflow tool writes <session>/subagents/workflows/<run>/agent-<id>.jsonl plus a journal.jsonl
    # of its own bookkeeping. Both belong to the session (and project) above `subagents`, even when the
    # session's own file is gone.
    run = projects / "app" / SESSION / "subagents" / "workflows" / "wf_run1"
    write(run / "agent-wf1.jsonl", [assistant("m1", "r1", ts(0), sidechain=True, agent_id="wf1")])
    write(run / "journal.jsonl", ['{"type":"started","key":"v2:h0","agentId":"wf1"}\n'])
    _, ledger = run_ingest(tmp_path, projects)
    assert ledger.rows("SELECT session_id, project FROM sessions") == [{"session_id": SESSION, "project": "app"}]
    assert ledger.rows("SELECT agent_id, session_id FROM agents") == [{"agent_id": "wf1", "session_id": SESSION}]
    files = {Path(r["path"]).name: (r["kind"], r["session_id"])
             for r in ledger.rows("SELECT path, kind, session_id FROM files")}
    assert files == {"agent-wf1.jsonl": ("subagent", SESSION), "journal.jsonl": ("session", SESSION)}


def test_claude_config_dir_comma_list_and_config_dir_form(tmp_path, monkeypatch):
    first = tmp_path / "cfg1"
    second = tmp_path / "cfg2" / "projects"
    write(first / "projects" / "a" / "s1.jsonl", [assistant("m1", "r1", ts(0))])
    write(second / "b" / "s2.jsonl", [assistant("m2", "r2", ts(1))])
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{first},{second}")
    result = CliRunner().invoke(main, ["ingest", "--json", "--db", str(tmp_path / "l.db")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["new_requests"] == 2


def test_default_roots_xdg_and_dot_claude(tmp_path):
    home = Path(os.environ["HOME"])
    write(home / ".config" / "claude" / "projects" / "a" / "s1.jsonl", [assistant("m1", "r1", ts(0))])
    write(home / ".claude" / "projects" / "b" / "s2.jsonl", [assistant("m2", "r2", ts(1))])
    result = CliRunner().invoke(main, ["ingest", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["new_requests"] == 2


def test_failures_are_recorded_per_attempt_and_final_with_classes(tmp_path, projects):
    write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("fix the bug", ts(0)),
        assistant("m1", "r1", ts(0, 5)),
        retry(ts(1), 1, status=529),
        retry(ts(2), 2, code="ECONNRESET"),
        final_error(ts(3), 'API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}'),
        final_error(ts(4), "You've hit your session limit · resets 9:50pm (Asia/Saigon)", error="rate_limit", status=429),
        final_error(ts(5), "Claude AI usage limit reached|1736503200", error=None, status=None),
        user_prompt("[Request interrupted by user for tool use]", ts(6)),
        # A user pasting an error is not a failure:
        user_prompt("why do I get API Error: 529 Overloaded?", ts(7)),
    ])
    summary, ledger = run_ingest(tmp_path, projects)
    rows = ledger.rows("SELECT kind, failure_class, status, error_type, error_code, attempt FROM failures ORDER BY ts")
    # A reset connection alone is `network` (no proof of an outage: tests/test_connection_errors.py).
    assert [(r["kind"], r["failure_class"]) for r in rows] == [
        ("retry", "outage"), ("retry", "network"), ("final", "outage"), ("final", "quota_rate"),
        ("final", "quota_rate"), ("interrupt", "interrupt")]
    assert rows[0]["status"] == 529 and rows[0]["error_type"] == "overloaded_error" and rows[0]["attempt"] == 1
    assert rows[1]["error_code"] == "ECONNRESET"
    assert summary.new_failures == {"interrupt": 1, "network": 1, "outage": 2, "quota_rate": 2}
    assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 2


def test_prompts_store_hash_and_length_never_text(tmp_path, projects):
    secret = "deploy with sk-ant-api03-" + "A" * 40
    write(projects / "app" / f"{SESSION}.jsonl", [user_prompt(secret, ts(0))])
    _, ledger = run_ingest(tmp_path, projects)
    ledger.close()
    raw = (tmp_path / "ledger.sqlite3").read_bytes()
    for extra in (tmp_path / "ledger.sqlite3-wal",):
        if extra.exists():
            raw += extra.read_bytes()
    assert b"sk-ant-api03" not in raw and b"deploy with" not in raw


def test_killed_subagent_reported_completed_is_still_killed(tmp_path, projects):
    prompt = "Review the change against docs/spec.md"
    write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("refactor", ts(0)),
        agent_launch("m1", "r1", ts(0, 10), "toolu_A", prompt),
        agent_launch("m2", "r2", ts(0, 11), "toolu_B", "Write tests"),
        agent_launch("m3", "r3", ts(0, 12), "toolu_C", "Audit migration"),
        task_result("toolu_A", ts(9), status="completed", agent_id="killed1", is_error=False,
                    text="API Error: 500 Internal server error"),
        task_result("toolu_B", ts(9, 30), status="completed", agent_id="fine1", is_error=False, text="All good"),
    ])
    sub = projects / "app" / SESSION / "subagents"
    write(sub / "agent-killed1.jsonl", [
        user_prompt(prompt, ts(0, 15), sidechain=True, agent_id="killed1"),
        assistant("mk", "rk", ts(1), out=900, cr=40000, sidechain=True, agent_id="killed1"),
        retry(ts(2), 1, agent_id="killed1"),
        final_error(ts(8), "API Error: 500 Internal server error", agent_id="killed1"),
    ])
    write(sub / "agent-fine1.jsonl", [
        user_prompt("Write tests", ts(0, 15), sidechain=True, agent_id="fine1"),
        retry(ts(1), 1, agent_id="fine1"),
        assistant("mf", "rf", ts(3), out=50, sidechain=True, agent_id="fine1"),
    ])
    # The third run never returned and names no agent id: linked through its first prompt.
    write(sub / "agent-lost1.jsonl", [
        user_prompt("Audit migration", ts(0, 16), sidechain=True, agent_id="lost1"),
        assistant("ml", "rl", ts(1), out=20, sidechain=True, agent_id="lost1"),
        retry(ts(4), 1, agent_id="lost1"),
    ])
    _, ledger = run_ingest(tmp_path, projects)
    outcomes = {r["tool_use_id"]: (r["agent_id"], r["outcome"])
                for r in ledger.rows("SELECT tool_use_id, agent_id, outcome FROM tasks")}
    assert outcomes == {"toolu_A": ("killed1", "killed"), "toolu_B": ("fine1", "completed"),
                        "toolu_C": ("lost1", "killed")}


def test_incremental_append_and_partial_last_line(tmp_path, projects):
    path = write(projects / "app" / f"{SESSION}.jsonl", [assistant("m1", "r1", ts(0))])
    summary, ledger = run_ingest(tmp_path, projects)
    assert summary.new_requests == 1
    # Claude Code is mid-write: a line without its newline must wait for the next run.
    partial = line(assistant("m2", "r2", ts(1), out=77))
    write(path, [partial[:-20]], mode="a")
    second = ingest(ledger, [projects], machine="test")
    assert second.new_requests == 0 and second.partial_lines_left == 1
    write(path, [partial[-20:], assistant("m3", "r3", ts(2))], mode="a")
    third = ingest(ledger, [projects], machine="test")
    assert third.new_requests == 2
    assert totals(ledger)["n"] == 3
    unchanged = ingest(ledger, [projects], machine="test")
    assert unchanged.files_unchanged == 1 and unchanged.files_read == 0


def test_truncated_or_replaced_file_is_reread_without_double_counting(tmp_path, projects):
    path = write(projects / "app" / f"{SESSION}.jsonl",
                 [assistant("m1", "r1", ts(0)), assistant("m2", "r2", ts(1)), assistant("m3", "r3", ts(2))])
    _, ledger = run_ingest(tmp_path, projects)
    write(path, [assistant("m1", "r1", ts(0))])  # shrunk (rewritten)
    ingest(ledger, [projects], machine="test")
    path.unlink()
    write(path, [assistant("m1", "r1", ts(0)), assistant("m4", "r4", ts(3)), assistant("m5", "r5", ts(4)),
                 assistant("m6", "r6", ts(5))])  # replaced, larger
    summary = ingest(ledger, [projects], machine="test")
    assert summary.new_requests == 3
    assert totals(ledger)["n"] == 6  # evidence already recorded is kept


def test_bad_lines_are_counted_skipped_and_valid_entries_kept(tmp_path, projects):
    good = [assistant(f"m{i}", f"r{i}", ts(i)) for i in range(5)]
    bad_type = assistant("mx", "rx", ts(6))
    bad_type["message"]["usage"]["input_tokens"] = "many"
    null_usage = assistant("my", "ry", ts(7))
    null_usage["message"]["usage"] = None
    negative = assistant("mz", "rz", ts(8), out=-5)
    huge_line = assistant("mh", "rh", ts(9), content=[{"type": "text", "text": "x" * (20 * 1024 * 1024)}])
    write(projects / "app" / f"{SESSION}.jsonl", [
        good[0], '{"type":"assistant","message":{"usage":{"input_tokens":3,\n', good[1], b'{"type":"assistant","message":{"usage":{"input_tokens":\xff}}\n',
        line(bad_type), good[2], line(null_usage), '{"type":"queue-operation","operation":"enqueue"}\n',
        '{"type":"summary","summary":"x","leafUuid":"u"}\n', line(negative), line(huge_line), good[3], "\n",
        '{"type":"assistant","message":{"usage":{"input_tokens":1,"output_tokens":2}}}\n',  # no timestamp
        good[4],
    ])
    summary, ledger = run_ingest(tmp_path, projects)
    assert summary.new_requests == 6  # the five good ones and the 20 MB line
    skipped = summary.lines_skipped
    assert skipped["malformed JSON"] == 1
    assert skipped["invalid UTF-8"] == 1
    assert skipped["wrong field types"] == 1
    assert skipped["invalid values"] == 1
    assert skipped["missing or invalid timestamp"] == 1


def test_missing_root_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "nope"))
    result = CliRunner().invoke(main, ["ingest"])
    assert result.exit_code == 2
    assert "CLAUDE_CONFIG_DIR" in result.output and str(tmp_path / "nope") in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["ingest", "--source", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = CliRunner().invoke(main, ["ingest"], env={"CLAUDE_CONFIG_DIR": ""})
    assert result.exit_code == 2 and "no Claude Code transcripts found" in result.output


def test_unwritable_ledger_is_a_clear_error(tmp_path, projects):
    write(projects / "a" / "s.jsonl", [assistant("m", "r", ts(0))])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = CliRunner().invoke(main, ["ingest", "--source", str(projects), "--db", str(blocker / "l.db")])
    # bad usage: the path leads through a regular file (what is in the way, not SQLite's words)
    assert result.exit_code == 2 and f"{blocker} is a file, not a directory" in result.output
    assert "Traceback" not in result.output and blocker.read_text() == "not a directory"
    if os.geteuid() != 0:  # permission bits do not stop root
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        result = CliRunner().invoke(main, ["ingest", "--source", str(projects), "--db", str(locked / "l.db")])
        assert result.exit_code == 1 and "not writable" in result.output


def test_ledger_path_that_is_a_directory_or_garbage_is_a_clear_error(tmp_path, projects):
    write(projects / "a" / "s.jsonl", [assistant("m", "r", ts(0))])
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    result = CliRunner().invoke(main, ["ingest", "--source", str(projects), "--db", str(garbage)])
    assert result.exit_code == 1 and "claimback: error" in result.output and "Traceback" not in result.output
    assert garbage.read_bytes() == b"this is not sqlite" * 100


def test_newer_ledger_is_refused_untouched(tmp_path, projects):
    write(projects / "a" / "s.jsonl", [assistant("m", "r", ts(0))])
    db = tmp_path / "l.db"
    open_ledger(db).close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01', '9.0')")
    conn.commit()
    conn.close()
    result = CliRunner().invoke(main, ["ingest", "--source", str(projects), "--db", str(db)])
    assert result.exit_code == 1 and "newer claimback" in result.output
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0


def test_summary_is_printed_and_piped_output_has_no_progress_bar(tmp_path, projects):
    write(projects / "a" / "s.jsonl", [assistant("m", "r", ts(0)), "garbage\n"])
    result = CliRunner().invoke(main, ["ingest", "--source", str(projects)])
    assert result.exit_code == 0
    assert "new requests: 1" in result.output and "malformed JSON 1" in result.output
    assert "\r" not in result.output


def test_odd_types_in_descriptive_fields_do_not_cost_the_record(tmp_path, projects):
    request = assistant("m1", "r1", ts(0))
    request.update(isSidechain="no", requestDuration="slow", costUSD=None, cwd=42, version=["2"])
    failure = final_error(ts(1), "API Error: 529 Overloaded", status=None)
    failure["apiErrorStatus"] = "529"
    old_retry = {"type": "system", "subtype": "api_error", "level": "error", "sessionId": SESSION,
                 "timestamp": ts(2), "uuid": "old-retry", "retryAttempt": 2.0, "maxRetries": "10",
                 "content": "API Error (529 Overloaded) · Retrying in 5 seconds… (attempt 2/10)"}
    write(projects / "app" / f"{SESSION}.jsonl", [request, failure, old_retry])
    summary, ledger = run_ingest(tmp_path, projects)
    assert summary.new_requests == 1 and not summary.lines_skipped
    rows = ledger.rows("SELECT kind, status, failure_class, attempt FROM failures ORDER BY ts")
    assert rows == [{"kind": "final", "status": 529, "failure_class": "outage", "attempt": None},
                    {"kind": "retry", "status": None, "failure_class": "outage", "attempt": 2}]


def test_a_small_growing_file_is_read_from_its_offset_not_from_the_start(tmp_path, projects):
    path = write(projects / "app" / f"{SESSION}.jsonl", [assistant("m1", "r1", ts(0))])
    first_size = path.stat().st_size
    assert first_size < 4096
    _, ledger = run_ingest(tmp_path, projects)
    appended = write(path, [assistant("m2", "r2", ts(1))], mode="a").stat().st_size - first_size
    summary = ingest(ledger, [projects], machine="test")
    assert summary.new_requests == 1 and summary.bytes_read == appended
    # A replaced file whose first bytes differ is still re-read from the start.
    path.write_text(line(assistant("m9", "r9", ts(9))) + line(assistant("m1", "r1", ts(0))))
    summary = ingest(ledger, [projects], machine="test")
    assert summary.bytes_read == path.stat().st_size and summary.new_requests == 1


def test_a_lone_surrogate_escape_does_not_cost_the_request(tmp_path, projects):
    # Node's JSON.stringify writes half an emoji (a cut string) as a lone "\ud83d" escape; ccusage
    # (JSON.parse) reads such a line, so the request must count here too.
    text = line(assistant("m1", "r1", ts(0), out=321, content=[{"type": "text", "text": "cut here: @"}]))
    text = text.replace("@", "\\ud83d")
    write(projects / "app" / f"{SESSION}.jsonl", [text])
    summary, ledger = run_ingest(tmp_path, projects)
    assert summary.new_requests == 1 and not summary.lines_skipped
    assert totals(ledger)["o"] == 321


def test_old_unflagged_synthetic_errors_and_compact_summaries(tmp_path, projects):
    unflagged = final_error(ts(1), "API Error: 529 Overloaded", error=None, status=None)
    del unflagged["isApiErrorMessage"]
    not_an_error = final_error(ts(2), "No response requested.", error=None, status=None)
    del not_an_error["isApiErrorMessage"]
    summary_record = user_prompt("This session is being continued from a previous conversation...", ts(3))
    summary_record["isCompactSummary"] = True
    # Versions before the flag wrote the same summary as a plain user message.
    old_summary = user_prompt("This session is being continued from a previous conversation that ran out "
                              "of context. The conversation is summarized below:", ts(3, 30))
    write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("fix it", ts(0)), unflagged, not_an_error, summary_record, old_summary,
        assistant("m1", "r1", ts(4))])
    _, ledger = run_ingest(tmp_path, projects)
    rows = ledger.rows("SELECT kind, failure_class, status FROM failures")
    assert rows == [{"kind": "final", "failure_class": "outage", "status": 529}]
    assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 1
    # The request after the compaction still belongs to the user's turn, not to the summary.
    assert ledger.scalar("SELECT turn_id FROM requests") == f"p-{ts(0)}"


def _notification(agent_id: str, tool_id: str | None, status: str) -> str:
    text = f"<task-notification>\n<task-id>{agent_id}</task-id>\n"
    if tool_id:
        text += f"<tool-use-id>{tool_id}</tool-use-id>\n"
    return text + f"<status>{status}</status>\n<summary>Agent \"x\" {status}</summary>\n</task-notification>"


def test_background_runs_end_at_their_notification_not_at_the_launch_ack(tmp_path, projects):
    # `run_in_background` agents answer the launch at once with status "async_launched"; how the run
    # ended comes later in a <task-notification>, delivered as a user record, a queue-operation or a
    # queued_command attachment. The notification is the harness talking, never a prompt.
    acks = []
    for tool_id, agent_id in (("toolu_A", "bgA"), ("toolu_B", "bgB"), ("toolu_C", "bgC"), ("toolu_D", "bgD")):
        ack = task_result(tool_id, ts(1), status="async_launched", agent_id=agent_id, is_error=False,
                          text=f"Async agent launched successfully.\nagentId: {agent_id}")
        ack["toolUseResult"]["isAsync"] = True
        acks.append(ack)
    delivered = user_prompt(_notification("bgA", "toolu_A", "completed"), ts(5))
    delivered["origin"] = {"kind": "task-notification"}
    queued = {"type": "queue-operation", "operation": "enqueue", "sessionId": SESSION, "timestamp": ts(6),
              "content": _notification("bgB", None, "failed")}
    attached = {"type": "attachment", "sessionId": SESSION, "timestamp": ts(7), "uuid": "att-1",
                "attachment": {"type": "queued_command", "commandMode": "task-notification",
                               "prompt": _notification("bgC", "toolu_C", "killed")}}
    path = write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("fan out", ts(0)),
        agent_launch("m1", "r1", ts(0, 10), "toolu_A", "review api"),
        agent_launch("m2", "r2", ts(0, 11), "toolu_B", "review db"),
        agent_launch("m3", "r3", ts(0, 12), "toolu_C", "review ui"),
        agent_launch("m4", "r4", ts(0, 13), "toolu_D", "review docs"),
        *acks, delivered, queued,
    ])
    _, ledger = run_ingest(tmp_path, projects)
    write(path, [attached, assistant("m5", "r5", ts(8))], mode="a")  # a later run reads the rest
    ingest(ledger, [projects], machine="test")
    rows = {r["tool_use_id"]: (r["agent_id"], r["result_status"], r["outcome"])
            for r in ledger.rows("SELECT tool_use_id, agent_id, result_status, outcome FROM tasks")}
    assert rows == {"toolu_A": ("bgA", "completed", "completed"), "toolu_B": ("bgB", "failed", "failed"),
                    "toolu_C": ("bgC", "killed", "failed"), "toolu_D": ("bgD", "async_launched", "no_result")}
    assert ledger.scalar("SELECT COUNT(*) FROM prompts") == 1
    # The request after a notification still belongs to the user's turn.
    assert ledger.scalar("SELECT turn_id FROM requests WHERE message_id = 'm5'") == f"p-{ts(0)}"


def test_a_subagent_the_user_interrupted_is_interrupted_not_failed(tmp_path, projects):
    # Claude Code writes the parent's result of an interrupted tool as a plain string toolUseResult,
    # "Error: " before the marker, with the marker itself as the tool_result content.
    interrupted = task_result("toolu_I", ts(3), status="x", agent_id=None, is_error=True,
                              text="[Request interrupted by user for tool use]")
    interrupted["toolUseResult"] = "Error: [Request interrupted by user for tool use]"
    rejected = task_result("toolu_R", ts(4), status="x", agent_id=None, is_error=True, text="rejected")
    rejected["toolUseResult"] = "Error: The user doesn't want to proceed with this tool use. The tool use was rejected."
    write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("review", ts(0)),
        agent_launch("m1", "r1", ts(1), "toolu_I", "review api"),
        agent_launch("m2", "r2", ts(2), "toolu_R", "review db"),
        interrupted, rejected,
    ])
    _, ledger = run_ingest(tmp_path, projects)
    rows = {r["tool_use_id"]: (r["outcome"], r["result_error"])
            for r in ledger.rows("SELECT tool_use_id, outcome, result_error FROM tasks")}
    assert rows == {"toolu_I": ("interrupted", "[Request interrupted by user for tool use]"),
                    "toolu_R": ("failed", "Error: The user doesn't want to proceed with this tool use. "
                                          "The tool use was rejected.")}


def test_an_inline_sidechain_prompt_opens_no_main_thread_turn(tmp_path, projects):
    # Versions before agent files wrote a Task's run into the parent's own file (isSidechain true, no
    # agentId), interleaved with the main thread. The run's prompt is not a turn of the main thread.
    task = "Create the TODO components"
    write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("build a todo app", ts(0), uuid="main-turn"),
        agent_launch("m1", "r1", ts(1), "toolu_T", task),
        user_prompt(task, ts(1, 5), sidechain=True, uuid="side-prompt"),
        assistant("s1", "rs1", ts(2), sidechain=True),
        task_result("toolu_T", ts(3), status="completed", agent_id=None, is_error=False, text="done"),
        assistant("m2", "r2", ts(4)),
    ])
    _, ledger = run_ingest(tmp_path, projects)
    turns = {r["message_id"]: r["turn_id"] for r in ledger.rows("SELECT message_id, turn_id FROM requests")}
    assert turns == {"m1": "main-turn", "s1": "main-turn", "m2": "main-turn"}
    assert ledger.rows("SELECT prompt_key, is_sidechain FROM prompts ORDER BY ts") == [
        {"prompt_key": "main-turn", "is_sidechain": 0}, {"prompt_key": "side-prompt", "is_sidechain": 1}]


def test_records_that_name_their_session_only_as_session_id(tmp_path, projects):
    # Records of newer versions carry `session_id`; some carry no `sessionId` at all. A flat-layout
    # agent file learns its session from its records.
    records = [assistant("m1", "r1", ts(0), sidechain=True, agent_id="flat1"),
               user_prompt("again", ts(1), sidechain=True, agent_id="flat1")]
    for record in records:
        record["session_id"] = record.pop("sessionId")
    write(projects / "app" / "agent-flat1.jsonl", records)
    _, ledger = run_ingest(tmp_path, projects)
    assert ledger.rows("SELECT agent_id, session_id FROM agents") == [{"agent_id": "flat1", "session_id": SESSION}]
    assert ledger.scalar("SELECT session_id FROM requests") == SESSION


def test_a_teammate_spawn_is_neither_completed_nor_lost(tmp_path, projects):
    # Agent teams: the parent's result only acknowledges the spawn ({"status":"teammate_spawned",
    # "agent_id":"name@team"}); the teammate works as a session of its own.
    spawned = task_result("toolu_S", ts(2), status="teammate_spawned", agent_id=None, is_error=False,
                          text="Spawned successfully.")
    spawned["toolUseResult"].update({"agent_id": "reviewer@team-x", "teammate_id": "reviewer@team-x",
                                     "name": "reviewer", "team_name": "team-x"})
    write(projects / "app" / f"{SESSION}.jsonl", [
        user_prompt("review with a team", ts(0)), agent_launch("m1", "r1", ts(1), "toolu_S", "review"), spawned])
    _, ledger = run_ingest(tmp_path, projects)
    assert ledger.rows("SELECT agent_id, result_status, outcome FROM tasks") == [
        {"agent_id": "reviewer@team-x", "result_status": "teammate_spawned", "outcome": "spawned"}]


def test_replay_rule_on_an_incremental_run_sees_the_parent_copy_that_arrives_later(tmp_path, projects):
    # Run 1 writes only the subagent's replay (no parent copy yet: it is a request); run 2 appends the
    # parent's copy and must drop the replay, though the rule now runs for this run's messages only.
    parent = projects / "app" / f"{SESSION}.jsonl"
    write(parent, [assistant("msg_other", "req_o", ts(0), out=10)])
    write(projects / "app" / SESSION / "subagents" / "agent-abc.jsonl", [
        assistant("msg_parent", "req_b", ts(1), out=300, sidechain=True, agent_id="abc"),
        assistant("msg_child", "req_c", ts(2), out=50, sidechain=True, agent_id="abc"),
    ])
    first, ledger = run_ingest(tmp_path, projects)
    assert first.new_requests == 3
    write(parent, [assistant("msg_parent", "req_a", ts(3), out=300)], mode="a")
    second, ledger = run_ingest(tmp_path, projects)
    keys = {r["request_key"] for r in ledger.rows("SELECT request_key FROM requests")}
    assert keys == {"msg_other:req_o", "msg_parent:req_a", "msg_child:req_c"}
    assert second.new_requests == 0  # one parent row in, its replay out


def test_cpu_probe_sees_a_busy_neighbour_but_not_our_own_work() -> None:
    """Parse workers start only when a core is free (ledger/ingest.py _core_free): the probe counts the
    CPU other processes use right now, never this process's own (its file scan runs during the sample)."""
    import subprocess
    import sys
    import time

    from claimback.ledger import ingest as ingest_module

    cores = os.cpu_count() or 1
    if cores < 2 or ingest_module.cpu_ticks() is None:
        pytest.skip("needs two cores and /proc/stat")

    def sample(spin: bool) -> float:
        probe = ingest_module._CpuProbe()
        until = time.monotonic() + 0.2
        while spin and time.monotonic() < until:  # our own work during the sample
            pass
        if not spin:
            time.sleep(0.2)
        value = probe.others_busy()
        assert value is not None
        return value

    # Our own full core is not someone else's: spinning reads (about) what sleeping reads, not a core more.
    spinning, sleeping = sample(spin=True), sample(spin=False)
    assert spinning - sleeping < 0.6, (spinning, sleeping)
    if sleeping > cores - 1.3:
        pytest.skip(f"the other processes keep {sleeping:.1f} of {cores} cores busy: no room to see one more")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        beside = sample(spin=True)
    finally:
        hog.kill()
        hog.wait()
    assert beside - spinning >= 0.6, (spinning, beside)
