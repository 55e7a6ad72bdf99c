"""The `claimback` command line: parses options, calls one library function, renders the result.

Each command group lives in its own module in this package and registers on `main` when imported. Only
the module of the command being run is imported (`COMMAND_MODULES`): importing all of them, with their
~200 option declarations, was ~35 ms of every report's start-up. `claimback --help`, which lists every
command, imports them all. Modules keep heavy imports inside their command functions.
"""

from __future__ import annotations

import importlib

import click

from claimback import __version__
from claimback.errors import ClaimbackError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# Every top-level command and the module (in this package) that defines it; tests/test_cli_lazy.py checks
# this against what the modules register.
COMMAND_MODULES = {
    "audit": "audit", "claim": "claim", "doctor": "doctor", "guard": "guard", "hook": "guard",
    "ingest": "ingest", "ledger": "ledger", "loss": "loss", "statusline": "loss", "otel": "otel",
    "outages": "outages", "status": "outages", "preflight": "preflight", "resume": "resume",
    "team": "team", "usage": "usage",
}


def load_all_commands() -> None:
    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"{__name__}.{module}")


class _Group(click.Group):
    """Imports a command's module when that command is asked for; turns expected errors into one line on
    stderr with the right exit code (never a traceback)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = COMMAND_MODULES.get(cmd_name)
            if module is not None:
                importlib.import_module(f"{__name__}.{module}")
            else:
                load_all_commands()  # an unknown name: click suggests close ones from all commands
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ClaimbackError as exc:
            click.secho(f"claimback: error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("claimback: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            ctx.exit(0)


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="claimback")
def main() -> None:
    """claimback finds the Claude Code usage that Anthropic API outages burned, proves it with
    evidence a support agent can act on, and stops the next outage from burning more.

    \b
    Start here:
      claimback audit --demo     the whole job on a built-in example
      claimback audit            the whole job on your own Claude Code logs
    """
