"""Write docs/cli.md from the commands' own --help (run: python scripts/cli_reference.py).

The reference is generated, never typed: `tests/test_cli_reference.py` fails when it is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from claimback.cli import main

OUT = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def _walk(command: click.Command, path: list[str], parent: click.Context | None):
    # make_context applies each command's context_settings (e.g. -h as a help option), as a real run does.
    ctx = command.make_context(path[-1], [], parent=parent, resilient_parsing=True, terminal_width=100,
                               max_content_width=100)
    yield path, command.get_help(ctx)
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, path + [name], ctx)


def render() -> str:
    parts = ["# Command reference", "",
             "Generated from each command's `--help` by `scripts/cli_reference.py`; do not edit by hand.", ""]
    for path, text in _walk(main, ["claimback"], None):
        parts += [f"## {' '.join(path)}", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
