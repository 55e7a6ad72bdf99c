"""Options and helpers shared by many commands (DESIGN §10)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from claimback.core.times import parse_day, parse_range  # noqa: F401  (the commands import them from here)

F = TypeVar("F", bound=Callable[..., Any])


def db_option(func: F) -> F:
    return click.option(
        "--db", "db", metavar="PATH|URL", envvar="CLAIMBACK_DB", default=None,
        help="Ledger to use: a SQLite file or a postgresql:// URL (env CLAIMBACK_DB; default: the "
        "ledger in your user data dir).",
    )(func)


def source_option(func: F) -> F:
    return click.option(
        "--source", "sources", metavar="PATH", multiple=True, type=click.Path(path_type=str),
        help="Transcript directory or file to read instead of the defaults (repeatable). Defaults: "
        "every dir in CLAUDE_CONFIG_DIR, else ~/.config/claude/projects and ~/.claude/projects.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (stable keys) instead of tables.")(func)


def demo_option(func: F) -> F:
    return click.option(
        "--demo", is_flag=True,
        help="Run on the built-in founding-outage scenario, in a temporary ledger (yours is untouched).",
    )(func)


def no_ingest_option(func: F) -> F:
    return click.option(
        "--no-ingest", is_flag=True, help="Report on the ledger as it is, without reading new transcript lines first.",
    )(func)


def range_options(func: F) -> F:
    func = click.option("--until", metavar="DATE", default=None,
                        help="Last day to include (YYYY-MM-DD, YYYYMMDD, or 7d for 7 days ago).")(func)
    func = click.option("--since", metavar="DATE", default=None,
                        help="First day to include (YYYY-MM-DD, YYYYMMDD, or 7d for 7 days ago).")(func)
    return func


def pricing_options(func: F) -> F:
    """--plan, --pricing and --offline: what a loss is priced and matched against (loss, claim)."""
    func = click.option("--offline", is_flag=True,
                        help="Do not contact the status page; use the cache, ledger and archive.")(func)
    func = click.option("--pricing", "pricing_file", type=click.Path(dir_okay=False), default=None,
                        help="A LiteLLM-format pricing JSON instead of the bundled table.")(func)
    func = click.option("--plan", type=click.Choice(["pro", "max5", "max20", "api"]), default=None,
                        help="Your plan, for the plan-value equivalent (default: `plan` in config.toml).")(func)
    return func


class ExistingDir(click.Path):
    """A directory that exists (a project root): click's own check lets a FIFO or a device through,
    and a missing one was reported as a project with no settings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(exists=True, file_okay=False, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        if not os.path.isdir(path):
            self.fail(f"{os.fspath(value)!r} is not a directory", param, ctx)
        return path


class FiniteRange(click.FloatRange):
    """A float range that refuses NaN (which every comparison lets through: `--refresh-interval nan`
    reached time.sleep and `--max-body-mb nan` int(), both as tracebacks)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


OUT_HELP = ("Folder the claim packet is written to. Default: claimback-packet-<today, UTC> in the current "
            "directory (claimback-packet-demo-2026-05-15 for --demo); when that folder already exists and is "
            "not empty, -2, -3, ... is added (claimback-packet-2026-12-01-2). An --out folder that exists and is "
            "not empty is refused unless --force.")


def warn_roots(ws: Any) -> None:
    """`Workspace.warning_line` on stderr (one line, so `--json` output stays JSON)."""
    line = ws.warning_line()
    if line:
        click.echo(line, err=True)


def print_json(data: Any) -> None:
    """JSON on stdout, every string scrubbed (`outputs.redact.printable_json`)."""
    from claimback.outputs.redact import printable_json

    click.echo(printable_json(data))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """A rich progress bar on a terminal; nothing at all when output is piped."""
    if not enabled or not stderr_is_terminal():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(TextColumn(label), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=name[-40:])

        yield update
