"""The `claimback` command line: parses options, calls one library function, renders the result.

Each command group lives in its own module in this package; every module is imported here so its
commands register on `main`. Modules keep heavy imports inside their command functions, so that
`claimback --help` and the hook fast path stay quick.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from claimback import __version__
from claimback.errors import ClaimbackError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Group(click.Group):
    """Turns expected errors into one line on stderr with the right exit code (never a traceback)."""

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


def _register_commands() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_register_commands()
