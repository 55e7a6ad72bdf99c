"""`cost-state`: the client's running usage per session, and the usage it holds beyond the transcript.

Shapes from the real client (2.1.332, run here: tests/test_realclient.py's compaction and fork scenarios):
a `cost-state` line ends each run (no timestamp, no uuid), cumulative per model, restored on `--continue`
(same file, same session) and carried into a `--fork-session` fork (its own session, the same
`startTime`). A `/compact` summary request is in no other record: the cost-state grows by its usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from records import assistant, user_prompt, write

from claimback.analysis.unattributed import summarize, unattributed_parts
from claimback.analysis.usage import to_ccusage_json, usage_report
from claimback.ledger import open_ledger
from claimback.ledger.info import export_jsonl
from claimback.ledger.ingest import ingest
from claimback.ledger.merge import import_jsonl

ORIGINAL = "4a66bfa2-dc15-46e0-9cf6-7f27d534e56e"
FORK = "31c137eb-abe6-46f4-b05b-b2fb598a9c64"
START = 1796157938953
MODEL = "claude-sonnet-4-6"


def cost_state(session: str, inp: int, out: int, cr: int, cw: int, *, start: int = START, model: str = MODEL,
               cost: float = 0.01) -> dict[str, Any]:
    """A cost-state record as 2.1.332 writes it (its field order and keys)."""
    return {"type": "cost-state", "sessionId": session, "totalCostUSD": cost, "totalAPIDuration": 2004,
            "totalAPIDurationWithoutRetries": 115, "totalToolDuration": 0, "totalLinesAdded": 0,
            "totalLinesRemoved": 0, "totalDuration": 3363 + inp, "startTime": start,
            "modelUsage": {model: {"inputTokens": inp, "outputTokens": out, "thinkingTokens": 0,
                                   "cacheReadInputTokens": cr, "cacheCreationInputTokens": cw,
                                   "cacheCreationEphemeral5mInputTokens": cw,
                                   "cacheCreationEphemeral1hInputTokens": 0, "webSearchRequests": 0,
                                   "costUSD": cost}},
            "hasUnknownModelCost": False}


def _answer(n: int, ts: str, session: str, inp: int, out: int, cr: int = 0, cw: int = 0) -> dict[str, Any]:
    return assistant(f"msg_01Probe{n:04d}", f"req_011CProbe{n:04d}", ts, inp=inp, out=out, cr=cr, cw=cw,
                     model=MODEL, session=session)


def original_file(root: Path, *, continued: bool = True) -> Path:
    """First run: one answer (300/6, 2500 cache writes); second run: `/compact`, whose summary request
    (500/40, 77 cache reads) and two 529 attempts leave no record but the cost-state; a third run (when
    `continued`) after the fork: one answer (111/7, 1000 cache reads)."""
    records: list[Any] = [
        user_prompt("This is the first question.", "2026-12-01T20:45:39.100Z", session=ORIGINAL),
        _answer(1, "2026-12-01T20:45:39.736Z", ORIGINAL, 300, 6, cw=2500),
        cost_state(ORIGINAL, 300, 6, 0, 2500),
        {"type": "system", "subtype": "compact_boundary", "content": "Conversation compacted",
         "timestamp": "2026-12-01T20:45:42.068Z", "uuid": "4c5b10b7-0000-4000-8000-000000000001",
         "sessionId": ORIGINAL, "compactMetadata": {"trigger": "manual", "preTokens": 2806}},
        {**user_prompt("This session is being continued from a previous conversation ...",
                       "2026-12-01T20:45:42.066Z", session=ORIGINAL), "isCompactSummary": True},
        user_prompt("<local-command-stdout>Compacted</local-command-stdout>", "2026-12-01T20:45:42.189Z",
                    session=ORIGINAL),
        cost_state(ORIGINAL, 800, 46, 77, 2500),
    ]
    if continued:
        records += [user_prompt("This is the resume question.", "2026-12-01T20:45:43.800Z", session=ORIGINAL),
                    _answer(3, "2026-12-01T20:45:43.953Z", ORIGINAL, 111, 7, cr=1000),
                    cost_state(ORIGINAL, 911, 53, 1077, 2500)]
    return write(root / "projects" / "-home-u-app" / f"{ORIGINAL}.jsonl", records)


def fork_file(root: Path) -> Path:
    """The fork: its own answer (211/5, 900 cache reads); its cost-state carries the original's 800/46."""
    return write(root / "projects" / "-home-u-app" / f"{FORK}.jsonl", [
        user_prompt("This is the fork question.", "2026-12-01T20:45:42.788Z", session=FORK),
        _answer(2, "2026-12-01T20:45:42.937Z", FORK, 211, 5, cr=900),
        cost_state(FORK, 1011, 51, 977, 2500),
    ])


COMPACTION = [500, 40, 0, 0, 77]  # what the summary request used: input, output, cw, cw 1h, cache read


def _led(db: str, root: Path) -> Any:
    led = open_ledger(db)
    ingest(led, [root / "projects"], machine="m")
    return led


def _by_session(led: Any) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for part in unattributed_parts(led):
        for vec in part.by_model.values():
            into = out.setdefault(part.session_id, [0] * 5)
            for i, n in enumerate(vec):
                into[i] += n
    return out


def test_a_compactions_usage_is_measured_unattributed_once_and_a_fork_takes_nothing_twice(
        ledger_db: str, tmp_path: Path) -> None:
    original_file(tmp_path)
    fork_file(tmp_path)
    led = _led(ledger_db, tmp_path)
    assert led.scalar("SELECT COUNT(*) FROM cost_states") == 4
    assert _by_session(led) == {ORIGINAL: COMPACTION}  # the fork's carried-over 800/46 is not counted again
    parts = unattributed_parts(led)
    assert len(parts) == 1
    # it arose in the run between the first cost-state and the second: the compaction's run
    assert (parts[0].since, parts[0].until) == ("2026-12-01T20:45:39.736Z", "2026-12-01T20:45:42.189Z")
    assert parts[0].usd is not None and parts[0].usd > 0
    # an incremental run that reads nothing new changes nothing; a second ingest of the same files neither
    ingest(led, [tmp_path / "projects"], machine="m")
    assert led.scalar("SELECT COUNT(*) FROM cost_states") == 4 and _by_session(led) == {ORIGINAL: COMPACTION}


def test_the_result_does_not_depend_on_which_file_is_read_first_or_on_runs(tmp_path: Path) -> None:
    # The fork's file first, then the original growing run by run: the same figure as one read of both.
    root = tmp_path / "cc"
    fork_file(root)
    led = _led(str(tmp_path / "l.sqlite3"), root)
    original_file(root, continued=False)
    ingest(led, [root / "projects"], machine="m")
    assert _by_session(led) == {ORIGINAL: COMPACTION}
    original_file(root, continued=True)  # the resumed run appended
    ingest(led, [root / "projects"], machine="m")
    assert _by_session(led) == {ORIGINAL: COMPACTION}


def test_a_fork_alone_counts_what_it_carried_over_until_the_original_is_read(tmp_path: Path) -> None:
    # Without its original's records nothing tells a fork's carried-over total from its own: the
    # figure is then the fork's whole excess (said in docs/methodology.md), and shrinks once it is read.
    root = tmp_path / "cc"
    fork_file(root)
    led = _led(str(tmp_path / "l.sqlite3"), root)
    assert _by_session(led) == {FORK: [800, 46, 2500, 0, 77]}
    original_file(root)
    ingest(led, [root / "projects"], machine="m")
    assert _by_session(led) == {ORIGINAL: COMPACTION}


def test_a_run_that_wrote_no_cost_state_and_other_model_names(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    session = "58ef7597-0000-4000-8000-0000000000c5"
    write(root / "projects" / "-home-u-app" / f"{session}.jsonl", [
        _answer(1, "2026-12-01T10:00:00.000Z", session, 1000, 10),
        # the client keys its total by the model string it asked for; `[1m]` is the same priced model
        cost_state(session, 1000, 10, 0, 0, model="claude-sonnet-4-6[1m]", start=1),
        # a run killed before it wrote its cost-state: its answer is counted, never in a total
        _answer(2, "2026-12-01T11:00:00.000Z", session, 400, 4),
        # the next run restored the older total: nothing is beyond the counted requests
        _answer(3, "2026-12-01T12:00:00.000Z", session, 50, 5),
        cost_state(session, 1050, 15, 0, 0, model="claude-sonnet-4-6[1m]", start=1),
    ])
    led = _led(str(tmp_path / "l.sqlite3"), root)
    assert unattributed_parts(led) == []


def test_usage_reports_it_apart_from_its_rows_and_export_import_keeps_it(ledger_db: str, tmp_path: Path) -> None:
    original_file(tmp_path)
    fork_file(tmp_path)
    led = _led(ledger_db, tmp_path)
    report = usage_report(led, "session")
    counted = 300 + 6 + 2500 + 211 + 5 + 900 + 111 + 7 + 1000
    assert report.totals.totalTokens == counted  # the rows are the transcript's requests only
    assert report.unattributed.tokens == sum(COMPACTION) - COMPACTION[3]
    data = to_ccusage_json(report)
    assert data["claimback"]["unattributed"]["tokens"] == 617
    assert data["claimback"]["unattributed"]["basis"] == "measured, unattributed"
    assert {s["sessionId"]: s.get("unattributedTokens") for s in data["sessions"]} == {ORIGINAL: 617, FORK: None}
    assert "cost" not in to_ccusage_json(report, cost=False)["claimback"]["unattributed"]
    # a day without the compaction's run has none
    from datetime import date
    assert usage_report(led, "daily", since=date(2026, 12, 2)).unattributed is None
    # export -> import into an empty ledger, twice: the same figure, no row added the second time
    out = tmp_path / "export.jsonl"
    export_jsonl(led, out)
    other = open_ledger(tmp_path / "other.sqlite3")
    first = import_jsonl(other, out)
    assert first.added["cost_states"] == 4
    assert import_jsonl(other, out).added["cost_states"] == 0
    assert _by_session(other) == {ORIGINAL: COMPACTION}


def test_cost_state_lines_of_the_wrong_shape_are_skipped_and_counted(tmp_path: Path) -> None:
    root = tmp_path / "cc"
    session = "58ef7597-0000-4000-8000-0000000000c6"
    bad = cost_state(session, 5, 5, 0, 0)
    bad["modelUsage"][MODEL]["inputTokens"] = -3
    path = write(root / "projects" / "-home-u-app" / f"{session}.jsonl", [
        _answer(1, "2026-12-01T10:00:00.000Z", session, 10, 1),
        bad,
        {"type": "cost-state", "sessionId": session, "modelUsage": "lots"},
    ])
    led = open_ledger(tmp_path / "l.sqlite3")
    ingest(led, [root / "projects"], machine="m")
    assert led.scalar("SELECT COUNT(*) FROM cost_states") == 0
    assert led.scalar("SELECT lines_skipped FROM files WHERE path = ?", (str(path),)) == 2
    assert led.scalar("SELECT COUNT(*) FROM requests") == 1


def test_the_figure_is_the_same_from_either_read_of_the_rows_and_from_the_cache(
        ledger_db: str, tmp_path: Path, monkeypatch: Any) -> None:
    """The counted usage is summed per cost-state time in SQL, through the session index for a few
    sessions or in one pass over the table for many; with the bundled prices the parts come from
    report_cache while the ledger is unchanged. All three agree, and a run appended since is seen."""
    import claimback.analysis.unattributed as unattributed
    from claimback.analysis.pricing import PricingTable

    original_file(tmp_path, continued=False)
    fork_file(tmp_path)
    led = _led(ledger_db, tmp_path)
    # the same prices read from their file: another table, so nothing of it is cached
    uncached = PricingTable.from_file(Path(unattributed.__file__).parent.parent / "data" / "pricing.json")

    def every_way() -> list[Any]:
        cached = unattributed_parts(led)
        assert unattributed_parts(led) == cached  # the second from report_cache
        assert unattributed_parts(led, uncached) == cached
        monkeypatch.setattr(unattributed, "_FEW_SESSIONS", 0)
        assert unattributed_parts(led, uncached) == cached
        monkeypatch.setattr(unattributed, "_FEW_SESSIONS", 200)
        return cached

    before = every_way()
    assert _by_session(led) == {ORIGINAL: COMPACTION}
    # the resumed run appended, then one more whose total holds 100 input tokens no record shows
    path = original_file(tmp_path, continued=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(cost_state(ORIGINAL, 1011, 53, 1077, 2500), separators=(",", ":")) + "\n")
    ingest(led, [tmp_path / "projects"], machine="m")
    after = every_way()
    assert after != before and _by_session(led) == {ORIGINAL: [600, 40, 0, 0, 77]}
