"""`claimback claim`: write the claim packet for an outage."""

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
    pricing_options,
    progress_bar,
    range_options,
    source_option,
    warn_roots,
)


@main.command()
@click.option("--window", "window_id", metavar="ID", default=None,
              help="Only this outage window, by window id or incident id (see `claimback outages`).")
@range_options
@click.option("--out", "out_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=str), default=None,
              help=OUT_HELP)
@click.option("--zip", "make_zip", is_flag=True, help="Also write <DIR>.zip next to the folder.")
@click.option("--force", is_flag=True, help="Overwrite the packet files in an existing --out folder.")
@click.option("--include-paths", is_flag=True,
              help="Keep project paths, home directory, user and host names (default: replaced by short hashes).")
@click.option("--include-text", is_flag=True,
              help="Include subagent task descriptions (default: left out). A key in them aborts the packet.")
@pricing_options
@demo_option
@source_option
@db_option
@no_ingest_option
@json_option
def claim(window_id: str | None, since: str | None, until: str | None, out_dir: str | None, make_zip: bool,
          force: bool, include_paths: bool, include_text: bool, plan: str | None, pricing_file: str | None,
          offline: bool, demo: bool, sources: tuple[str, ...], db: str | None, no_ingest: bool, as_json: bool) -> None:
    """Write a claim packet: the evidence Anthropic support needs, in one folder.

    \b
    Files: report.html (self-contained, prints on A4), report.md, evidence.json
    (schema: docs/evidence-schema.md), evidence.csv (one row per failure and per
    lost request), message.txt (a draft to support, <= 1,500 characters) and
    MANIFEST.sha256 (check with `sha256sum -c MANIFEST.sha256`).

    \b
    Redacted by default: no prompt, response or tool text; home directory, user
    and host names replaced; project paths hashed. Every file is scanned for keys
    and tokens before the manifest is written; a finding removes the packet
    (exit 1). With no outage in the period, the packet says so (exit 0).
    """
    from claimback.claim import run_claim
    from claimback.workspace import open_workspace

    since_day, until_day = parse_range(since, until)
    with progress_bar("ingest", enabled=not as_json) as progress:
        with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest, progress=progress) as ws:
            warn_roots(ws)
            result = run_claim(ws, since=since_day, until=until_day, window_id=window_id, out_dir=out_dir,
                               force=force, zip=make_zip, include_paths=include_paths, include_text=include_text,
                               plan=plan, pricing_file=pricing_file, offline=offline)
    if as_json:
        print_json(msgspec.to_builtins(result))
        return
    packet = result.packet
    if packet.outage_found:
        for line in result.headlines:
            click.echo(f"- {line}")
    elif result.notes:
        for note in result.notes:
            click.echo(note)
    else:
        click.echo("No outage touched your Claude Code sessions in this period: the packet says so, and claims nothing.")
    if packet.zip_path:
        click.echo(f"zip: {packet.zip_path}")
    click.echo(f"claim packet: {packet.dir}")
