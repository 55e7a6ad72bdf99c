"""The CLI imports only the invoked command's module (issue 17); the command table says where each is."""

from __future__ import annotations

import subprocess
import sys

from claimback.cli import COMMAND_MODULES, load_all_commands, main


def test_command_modules_name_every_command_and_its_module() -> None:
    load_all_commands()
    registered = {name: command.callback.__module__.rsplit(".", 1)[-1] for name, command in main.commands.items()}
    assert registered == COMMAND_MODULES


def test_a_command_imports_only_its_own_module() -> None:
    probe = ("import sys; from claimback.cli import main; main(['usage', 'daily', '--help'], standalone_mode=False); "
             "print(sorted(m for m in sys.modules if m.startswith('claimback.cli.')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip().splitlines()[-1] == "['claimback.cli._common', 'claimback.cli.usage']"


def test_a_quiet_ingest_loads_no_renderer(tmp_path) -> None:
    """`ingest --quiet` (cron, hooks) prints nothing, so it must not pay for rich; the plain run still renders."""
    projects = tmp_path / "projects" / "-p"
    projects.mkdir(parents=True)
    (projects / "s.jsonl").write_text(
        '{"type":"assistant","sessionId":"s","timestamp":"2026-05-01T00:00:00.000Z","requestId":"req_011CA",'
        '"message":{"id":"msg_01A","model":"claude-sonnet-4-5","usage":{"input_tokens":1,"output_tokens":2}}}\n')
    probe = ("import sys; from claimback.cli import main; main(sys.argv[1:], standalone_mode=False); "
             "print('rich' in sys.modules, 'claimback.outputs.terminal' in sys.modules, file=sys.stderr)")
    args = ["--db", str(tmp_path / "l.sqlite3"), "--source", str(tmp_path / "projects")]
    quiet = subprocess.run([sys.executable, "-c", probe, "ingest", "--quiet", *args], capture_output=True, text=True,
                           timeout=60, check=True)
    assert quiet.stdout == "" and quiet.stderr.split()[-2:] == ["False", "False"]
    loud = subprocess.run([sys.executable, "-c", probe, "ingest", *args], capture_output=True, text=True, timeout=60,
                          check=True)
    assert "Ingested" in loud.stdout and loud.stderr.split()[-1] == "True"
