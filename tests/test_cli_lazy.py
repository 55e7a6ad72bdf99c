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
