"""`ledger export` on one machine, `ledger import` on another: one ledger, one claim, no PostgreSQL.

The demo's sessions are split between a "laptop" and a "workstation" ledger (each ingests only its own
files); the laptop's export imported into the workstation, twice, must give the same usage totals and
the same outage loss as one ledger that read every file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from claimback.cli import main
from claimback.demo import build_demo
from claimback.ledger import open_ledger
from claimback.ledger.ingest import ingest


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def _json(*args: str) -> dict[str, Any]:
    return json.loads(_cli(*args).output)


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("machines")
    scenario = build_demo(root / "demo")
    project = next(scenario.projects_dir.iterdir())
    sessions = sorted(p for p in project.glob("*.jsonl"))
    assert len(sessions) >= 4
    dirs = {}
    for name, part in (("laptop", sessions[0::2]), ("workstation", sessions[1::2])):
        target = root / name / "projects" / project.name
        target.mkdir(parents=True)
        for path in part:
            shutil.copy2(path, target / path.name)
            sub = path.with_suffix("")
            if sub.is_dir():  # the session's subagents travel with it
                shutil.copytree(sub, target / sub.name)
        dirs[name] = root / name / "projects"
    ledgers = {}
    for name, source in (*dirs.items(), ("everything", scenario.projects_dir)):
        ledger = open_ledger(root / f"{name}.sqlite3")
        ingest(ledger, [source], machine=name)
        scenario.load_extras(ledger)  # each machine has the incident archive and the statusline snapshots
        ledger.close()
        ledgers[name] = root / f"{name}.sqlite3"
    export = root / "laptop.jsonl"
    _cli("ledger", "export", "--db", str(ledgers["laptop"]), "--out", str(export))
    return {**ledgers, "export": export}


def _usage(db: Path) -> dict[str, Any]:
    return _json("usage", "daily", "--json", "--no-ingest", "--timezone", "UTC", "--mode", "calculate", "--db", str(db))


def _loss(db: Path) -> dict[str, Any]:
    return _json("loss", "--json", "--no-ingest", "--offline", "--db", str(db))


def _figures(loss: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(w["id"], w["start"], w["end"], w["measured_tokens"], w["estimated_tokens"], round(w["usd_measured"], 6),
             w["lost_requests"] if not isinstance(w["lost_requests"], list) else len(w["lost_requests"]))
            for w in loss["windows"]]


def test_laptop_and_workstation_merge_into_one_claim(machines: dict[str, Path], tmp_path: Path) -> None:
    merged = tmp_path / "merged.sqlite3"
    shutil.copy2(machines["workstation"], merged)
    everything = _usage(machines["everything"])["totals"]
    assert _usage(merged)["totals"]["totalTokens"] < everything["totalTokens"]  # half the sessions so far
    first = _json("ledger", "import", str(machines["export"]), "--db", str(merged), "--json")
    assert first["added"]["requests"] > 0 and first["added"]["sessions"] > 0
    # both machines hold the incident archive: the laptop's copies are already here
    assert first["added"]["incidents"] == 0 and first["present"]["incidents"] > 0
    after_one = (_usage(merged)["totals"], _figures(_loss(merged)))
    second = _json("ledger", "import", str(machines["export"]), "--db", str(merged), "--json")
    assert second["total_added"] == 0 and sum(second["present"].values()) == first["lines"]  # idempotent
    after_two = (_usage(merged)["totals"], _figures(_loss(merged)))
    assert after_one == after_two
    totals = after_two[0]
    for key in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens", "totalTokens"):
        assert totals[key] == everything[key], key
    reference = _figures(_loss(machines["everything"]))
    assert after_two[1] == reference and any(f[3] > 0 for f in reference)  # the same claim, with real loss
    # rows keep the machine that read them
    with open_ledger(merged) as ledger:
        owners = {r["machine_id"] for r in ledger.rows("SELECT DISTINCT machine_id FROM requests")}
    assert owners == {"laptop", "workstation"}
    packet = _cli("claim", "--no-ingest", "--offline", "--db", str(merged), "--out", str(tmp_path / "packet"))
    assert (tmp_path / "packet" / "report.html").is_file(), packet.output


def test_import_refuses_bad_files_and_imports_nothing(machines: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    shutil.copy2(machines["workstation"], db)
    good = machines["export"].read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(good[:50] + ["{not json"] + good[50:]) + "\n")
    result = CliRunner().invoke(main, ["ledger", "import", str(broken), "--db", str(db)])
    assert result.exit_code == 2 and f"{broken}:51: not a JSON line" in result.output
    with open_ledger(db) as ledger, open_ledger(machines["workstation"]) as original:
        assert ledger.scalar("SELECT COUNT(*) FROM requests") == original.scalar("SELECT COUNT(*) FROM requests")
    missing = CliRunner().invoke(main, ["ledger", "import", str(tmp_path / "nope.jsonl"), "--db", str(db)])
    assert missing.exit_code == 2 and "is not a file" in missing.output
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"table": "future_table", "row": {"x": 1}}) + "\n" + json.dumps(
        {"table": "machines", "row": {"machine_id": "m9", "user_label": None, "host_hash": None, "first_seen": None,
                                      "last_seen": None, "new_column": 3}}) + "\n")
    out = CliRunner().invoke(main, ["ledger", "import", str(newer), "--db", str(db)])
    assert out.exit_code == 0 and "future_table" in out.output and "new_column" in out.output
    assert "imported 1 new rows" in out.output


def test_export_help_says_it_is_re_importable() -> None:
    text = _cli("ledger", "export", "--help").output
    assert "ledger import" in text and "twice" in text


def test_rows_the_ledger_refuses_and_an_unwritable_export_are_one_line_errors(machines: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    shutil.copy2(machines["workstation"], db)
    good = machines["export"].read_text().splitlines()
    nested = tmp_path / "nested.jsonl"
    nested.write_text("\n".join(good[:5] + [json.dumps({"table": "requests", "row": {"request_key": "k",
                                                                                        "ts": {"a": 1}}})]) + "\n")
    wrong_kind = tmp_path / "wrong_kind.jsonl"
    wrong_kind.write_text("\n".join(good[:5] + [json.dumps({"table": "requests", "row": {
        "request_key": "k", "ts": "2026-05-15T01:00:00.000Z", "input_tokens": "lots", "model": 7}})]) + "\n")
    no_ts = tmp_path / "no_ts.jsonl"
    no_ts.write_text("\n".join(good[:5] + [json.dumps({"table": "requests", "row": {"request_key": "k"}})]) + "\n")
    with open_ledger(db) as ledger:
        before = ledger.scalar("SELECT COUNT(*) FROM requests")
    for path, says in ((nested, f"{nested}:6: a requests row with an object or list in ts"),
                       (wrong_kind, f"{wrong_kind}:6: a requests row with a value of the wrong kind in "
                                    "input_tokens (a number expected), model (text expected)"),
                       (no_ts, "a requests row the ledger refuses (NOT NULL constraint failed: requests.ts)")):
        result = CliRunner().invoke(main, ["ledger", "import", str(path), "--db", str(db)])
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
        with open_ledger(db) as ledger:
            assert ledger.scalar("SELECT COUNT(*) FROM requests") == before  # nothing imported
    out = CliRunner().invoke(main, ["ledger", "export", "--db", str(db), "--out", str(tmp_path / "no" / "x.jsonl")])
    assert out.exit_code == 2 and "cannot write" in out.output and "Traceback" not in out.output


def test_a_value_of_the_wrong_kind_is_refused_on_both_engines(ledger_db: str, tmp_path: Path) -> None:
    from claimback.errors import BadInput
    from claimback.ledger.merge import import_jsonl

    row = {"request_key": "k1", "ts": "2026-05-15T01:00:00.000Z", "input_tokens": 5, "model": "claude-opus-4-6"}
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps({"table": "requests", "row": row}) + "\n")
    bad.write_text(json.dumps({"table": "requests", "row": {**row, "request_key": "k2", "output_tokens": "9"}}) + "\n")
    with open_ledger(ledger_db) as ledger:
        with pytest.raises(BadInput, match="output_tokens \\(a number expected\\)"):
            import_jsonl(ledger, bad)
        assert import_jsonl(ledger, good).added == {"requests": 1}
        assert ledger.scalar("SELECT SUM(input_tokens) FROM requests") == 5
