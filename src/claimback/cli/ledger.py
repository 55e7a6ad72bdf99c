"""`claimback ledger info|export|import|vacuum`: the store itself."""

from __future__ import annotations

import os
from pathlib import Path

import click
import msgspec

from claimback.cli import main
from claimback.cli._common import db_option, json_option, print_json


@main.group()
def ledger() -> None:
    """Inspect, export, import or compact the ledger (the durable store of your evidence).

    \b
    Many machines, one claim (no PostgreSQL needed):
      laptop$       claimback ledger export --out laptop.jsonl
      workstation$  claimback ledger import laptop.jsonl && claimback claim
    """


def _require_existing(db: str | None) -> None:
    """Commands that read or rewrite a ledger must not create one: opening a path that holds none makes an
    empty ledger (and its folders) there. A PostgreSQL URL names a server, checked when connecting."""
    from claimback.errors import BadInput
    from claimback.ledger.store import is_postgres_url, resolve_target

    target = resolve_target(db)
    # A path that is there but no file (a directory, a FIFO) and a URL of another kind are for
    # open_ledger to name (and a URL's password is never printed).
    if "://" not in target and not os.path.lexists(Path(target).expanduser()):
        raise BadInput(f"no ledger at {target} (nothing was created); `claimback ingest` makes one")


@ledger.command("info")
@db_option
@json_option
def info(db: str | None, as_json: bool) -> None:
    """Where the ledger is, how big, its schema version and what it holds."""
    from claimback.ledger import open_ledger
    from claimback.ledger.info import ledger_info
    from claimback.outputs.terminal import console, fmt_int, simple_table

    _require_existing(db)
    with open_ledger(db) as store:
        data = ledger_info(store)
    if as_json:
        print_json(msgspec.to_builtins(data))
        return
    out = console()
    size = "-" if data.size_bytes is None else f"{data.size_bytes / 1e6:,.2f} MB"
    out.print(f"ledger {data.location} ({data.backend}, schema {data.schema_version}/{data.schema_latest}, {size})")
    out.print(f"activity {data.first_activity or '-'} → {data.last_activity or '-'}; last ingest {data.last_ingest or 'never'}")
    out.print(simple_table(None, ["table", "rows"], [[t, fmt_int(n)] for t, n in data.rows.items()]))


@ledger.command("export")
@db_option
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True,
              help="Export format: one JSON object per line, {\"table\": ..., \"row\": {...}}.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
def export(db: str | None, fmt: str, out: Path | None) -> None:
    """Export every table of the ledger: a full backup of the evidence, re-importable with
    `claimback ledger import FILE` here or on another machine (importing twice changes nothing)."""
    from claimback.errors import BadInput
    from claimback.ledger import open_ledger
    from claimback.ledger.info import export_jsonl

    _require_existing(db)
    if out is not None and out.exists():
        raise BadInput(f"{out} already exists; choose another --out")
    with open_ledger(db) as store:
        count = export_jsonl(store, out)
    if out is not None:
        click.echo(f"exported {count:,} rows to {out}", err=True)


@ledger.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@json_option
def import_cmd(file: Path, db: str | None, as_json: bool) -> None:
    """Merge another ledger's `ledger export` into this one (idempotent: rows already here are kept,
    so importing the same file twice changes nothing). Rows keep the machine that read them."""
    from claimback.ledger import open_ledger
    from claimback.ledger.merge import import_jsonl

    with open_ledger(db) as store:
        summary = import_jsonl(store, file)
    if as_json:
        print_json({"path": summary.path, "lines": summary.lines, "added": summary.added,
                    "present": summary.present, "total_added": summary.total_added,
                    "unknown_tables": summary.unknown_tables, "dropped_columns": summary.dropped_columns})
        return
    parts = [f"{table} +{n:,}" for table, n in summary.added.items() if n]
    click.echo(f"imported {summary.total_added:,} new rows from {file}" + (f" ({', '.join(parts)})" if parts else "")
               + f"; {sum(summary.present.values()):,} already present")
    for table, n in summary.unknown_tables.items():
        click.echo(f"note: {n:,} rows of table {table!r} skipped (made by a newer claimback?)", err=True)
    for table, cols in summary.dropped_columns.items():
        click.echo(f"note: {table} columns this ledger lacks were left out: {', '.join(cols)}", err=True)


@ledger.command("vacuum")
@db_option
@json_option
def vacuum_cmd(db: str | None, as_json: bool) -> None:
    """Compact the ledger file (checkpoint the WAL and rebuild)."""
    from claimback.ledger import open_ledger
    from claimback.ledger.info import vacuum

    _require_existing(db)
    with open_ledger(db) as store:
        before, after = vacuum(store)
    if as_json:
        print_json({"size_before": before, "size_after": after})
    else:
        click.echo(f"vacuumed: {before or 0:,} → {after or 0:,} bytes")
