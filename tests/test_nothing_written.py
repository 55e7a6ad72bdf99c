"""Nothing written that says nothing (issue 14 item 7): commands that look never create, an empty audit
writes no packet folder, a bad range is bad usage, a configured transcript root that is missing warns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_audit_with_no_transcripts_writes_no_packet_and_says_why(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite3"
    result = invoke("audit", "--offline", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "no claim packet written" in result.output and "nothing to claim" in result.output
    assert not list(tmp_path.glob("claimback-packet-*"))
    assert "claim packet:" not in result.output


def test_audit_help_explains_out_and_the_suffixes() -> None:
    for command in ("audit", "claim"):
        text = "".join(invoke(command, "--help").output.split())  # the help wraps at hyphens
        assert "claimback-packet-<today,UTC>" in text and "-2,-3" in text, command


def test_ledger_info_on_a_missing_path_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "deeper" / "ledger.sqlite3"
    result = invoke("ledger", "info", "--db", str(target))
    assert result.exit_code == 2 and "no ledger at" in result.output and "nothing was created" in result.output
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("command", [["loss"], ["outages"], ["claim"], ["audit"], ["usage", "daily"],
                                     ["team", "report"]])
def test_since_after_until_is_bad_usage(command: list[str], tmp_path: Path) -> None:
    result = invoke(*command, "--since", "2026-05-20", "--until", "2026-05-10", "--db", str(tmp_path / "l.db"))
    assert result.exit_code == 2, result.output
    assert "--since 2026-05-20 is after --until 2026-05-10" in result.output
    assert "Traceback" not in result.output


def test_usage_warns_when_the_configured_claude_config_dir_is_missing(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-such-config"))
    result = invoke("usage", "daily", "--db", str(tmp_path / "l.db"))
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "CLAUDE_CONFIG_DIR" in result.output
    # ingest, which exists to read them, refuses outright
    assert invoke("ingest", "--db", str(tmp_path / "l.db")).exit_code == 2


def test_audit_writes_no_packet_when_the_only_failures_were_uncharged_529s(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # 529 retries inside the archived incident 8z7l5zcy0v3b, then the same turn gets through at once: no
    # work was lost, and Anthropic documents 529s as not counting against the quota. A packet would ask
    # support to restore nothing.
    from records import assistant, retry, user_prompt, write

    session = "5d0c9f7e-3333-4000-8000-00000000cccc"
    ids = lambda n: (f"msg_01Qx7NvPz3WmKc8RtYbLdF{n:02d}", f"req_011CQx7NvPz3WmKc8RtY{n:02d}")  # noqa: E731
    records = [user_prompt("Tidy the changelog", "2026-05-15T00:50:00.000Z", session=session, uuid="p-1")]
    for n, minute in enumerate(("51", "53", "55")):
        mid, rid = ids(n)
        records.append(assistant(mid, rid, f"2026-05-15T00:{minute}:00.000Z", session=session))
    records += [retry(f"2026-05-15T01:{m}:00.000Z", k, status=529, session=session)
                for k, m in enumerate(("06", "07", "08"), start=1)]
    mid, rid = ids(9)
    records.append(assistant(mid, rid, "2026-05-15T01:09:00.000Z", session=session))
    write(tmp_path / "claude" / "projects" / "-home-u-code-notes" / f"{session}.jsonl", records)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))

    result = invoke("audit", "--offline", "--since", "2026-05-14", "--until", "2026-05-16",
                    "--db", str(tmp_path / "l.db"))
    assert result.exit_code == 0, result.output
    assert "no claim packet written" in result.output, result.output
    assert "3 overloaded (529) attempts" in result.output and "not charged" in result.output
    assert not list(tmp_path.glob("claimback-packet-*"))


@pytest.mark.parametrize("command", [
    ["usage", "daily"], ["usage", "daily", "--json"], ["loss"], ["loss", "--json"], ["outages"], ["claim"],
    ["audit", "--no-packet"], ["audit", "--no-packet", "--json"], ["resume"], ["doctor"], ["doctor", "verify"],
], ids=" ".join)
def test_every_command_reading_the_transcript_roots_warns_when_claude_config_dir_is_missing(
        command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A report on the ledger alone must not look complete: one warning line on stderr, the same in
    every command that reads the user's transcript roots (JSON on stdout stays JSON)."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-such-config"))
    monkeypatch.chdir(tmp_path)
    result = invoke(*command, "--offline" if command[0] in ("loss", "outages", "claim", "audit") else "--db",
                    *(["--db"] if command[0] in ("loss", "outages", "claim", "audit") else []),
                    str(tmp_path / "l.db"))
    assert "Traceback" not in result.output
    assert result.exit_code in ((0, 1, 3) if command[0] == "doctor" else (0,)), result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.stderr
    assert "CLAUDE_CONFIG_DIR" in warnings[0] and warnings[0].endswith("; reporting on the ledger as it is")
    if command[0] != "doctor":  # doctor lists the environment's variable names on stdout
        assert "CLAUDE_CONFIG_DIR" not in result.stdout
    if "--json" in command:
        json.loads(result.stdout)


@pytest.mark.parametrize("command", [["ledger", "export"], ["ledger", "export", "--out", "OUT"],
                                     ["ledger", "vacuum"], ["ledger", "vacuum", "--json"]], ids=" ".join)
def test_ledger_export_and_vacuum_on_a_missing_path_create_nothing(command: list[str], tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "ledger.sqlite3"
    args = [str(tmp_path / "out.jsonl") if a == "OUT" else a for a in command]
    result = invoke(*args, "--db", str(target))
    assert result.exit_code == 2, result.output
    assert "no ledger at" in result.output and "nothing was created" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "out.jsonl").exists()
