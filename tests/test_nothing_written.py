"""Nothing written that says nothing (issue 14 item 7): commands that look never create, an empty audit
writes no packet folder, a bad range is bad usage, a configured transcript root that is missing warns."""

from __future__ import annotations

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
