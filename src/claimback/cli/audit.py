"""`claimback audit`: the main job in one command."""

from __future__ import annotations

import click
import msgspec

from claimback.cli import main
from claimback.cli._common import (
    OUT_HELP,
    db_option,
    demo_option,
    json_option,
    no_ingest_option,
    parse_range,
    print_json,
    progress_bar,
    range_options,
    source_option,
    warn_roots,
)


@main.command()
@demo_option
@range_options
@source_option
@db_option
@no_ingest_option
@click.option("--out", "out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=str), default=None,
              help=OUT_HELP)
@click.option("--no-packet", is_flag=True, help="Do not write the claim packet.")
@click.option("--force", is_flag=True, help="Overwrite the packet files in an existing --out folder.")
@click.option("--offline", is_flag=True, help="Do not contact the status page; use the cache, ledger and archive.")
@json_option
def audit(demo: bool, since: str | None, until: str | None, sources: tuple[str, ...], db: str | None,
          no_ingest: bool, out_dir: str | None, no_packet: bool, force: bool, offline: bool, as_json: bool) -> None:
    """Ingest your Claude Code logs, then show what outages cost you.

    Reads new transcript lines into the ledger, then reports the period's usage, failures by class
    and the subagent tasks that API failures killed, finds the outage windows, prints what each cost
    you, and ends by writing the claim packet (see `claimback claim --help`) and printing its path.
    Without --since/--until the period is the 7 days ending at your last recorded activity. `--demo`
    runs the founding-outage scenario instead (its packet still lands in the current directory).
    """
    from claimback.audit import run_audit
    from claimback.outputs.terminal import render_audit
    from claimback.workspace import open_workspace

    since_day, until_day = parse_range(since, until)
    with progress_bar("ingest", enabled=not as_json) as progress:
        with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest, progress=progress) as ws:
            warn_roots(ws)
            report = run_audit(ws, since_day, until_day, packet=not no_packet, out_dir=out_dir, force=force,
                               offline=offline)
    if as_json:
        print_json(msgspec.to_builtins(report))
        return
    render_audit(report)
