"""`claimback otel serve`: receive Claude Code telemetry (OTLP/HTTP) into the ledger."""

from __future__ import annotations

import dataclasses

import click

from claimback.cli import main
from claimback.cli._common import FiniteRange, db_option, json_option, print_json


@main.group()
def otel() -> None:
    """Claude Code telemetry (OpenTelemetry) as a source: the exact record of failed attempts."""


@otel.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to accept other machines; then set --token).")
@click.option("--port", default=4318, show_default=True, type=click.IntRange(0, 65535),
              help="Port (4318 is OTLP/HTTP's standard port; 0 picks a free one).")
@click.option("--token", envvar="CLAIMBACK_OTEL_TOKEN", default=None, metavar="T",
              help="Require `Authorization: Bearer T` on every request (env CLAIMBACK_OTEL_TOKEN).")
@click.option("--max-body-mb", default=8.0, show_default=True, type=FiniteRange(0.01, 512),
              help="Largest request body accepted (compressed and decompressed), in MiB.")
@click.option("--grpc", "grpc", is_flag=True,
              help="Also serve OTLP over gRPC (needs `pip install 'claimback[grpc]'`), into the same ledger.")
@click.option("--grpc-port", default=4317, show_default=True, type=click.IntRange(0, 65535),
              help="With --grpc: its port (4317 is OTLP/gRPC's standard port; 0 picks a free one).")
@click.option("-v", "--verbose", is_flag=True, help="Log every request to stderr.")
@db_option
@json_option
def serve(host: str, port: int, token: str | None, max_body_mb: float, grpc: bool, grpc_port: int, verbose: bool,
          db: str | None, as_json: bool) -> None:
    """Receive OTLP/HTTP logs and metrics from Claude Code and store its API events in the ledger.

    \b
    POST /v1/logs (protobuf or JSON, gzip ok): claude_code.api_request → requests,
    claude_code.api_error (sent once when the client gives up; api_retries_exhausted beside it is
    the same failure) → one final failure carrying its number of attempts, all with origin 'otel';
    rows a transcript already has (same request id) count once.
    POST /v1/metrics is accepted and not stored. Stops cleanly on SIGTERM or Ctrl-C and prints what
    it received. Point Claude Code at it (docs/team.md):
      OTEL_LOGS_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
      OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:4318
    or, with --grpc: OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:4317
    (the gRPC services LogsService/Export and MetricsService/Export; the token as `authorization` metadata).
    """
    from claimback.ledger import open_ledger
    from claimback.sources.otel import require_proto
    from claimback.sources.otel_server import exposure_warning, serve as run

    require_proto()  # one clear line before listening, not a 400 on every batch
    warning = exposure_warning(host, token)
    if warning:
        click.secho(warning, err=True, fg="red", bold=True)
    if grpc:
        from claimback.sources.otel_grpc import require_grpc

        require_grpc()

    def ready(server) -> None:
        also = f" and gRPC on {host}:{server.grpc_port}" if server.grpc_port else ""
        click.echo(f"claimback otel: listening on {server.url}{also} (ledger {ledger.location}"
                   f"{', token required' if token else ''})", err=True)

    def log(line: str) -> None:
        click.echo(line, err=True)

    with open_ledger(db) as ledger:
        stats = run(ledger, host, port, token=token, max_body=int(max_body_mb * 1024 * 1024),
                    ready=ready, log=log if verbose else None, reopen=lambda: open_ledger(db),
                    grpc_port=grpc_port if grpc else None)
    if as_json:
        print_json(dataclasses.asdict(stats))
    else:
        events = ", ".join(f"{k} {v}" for k, v in sorted(stats.events.items())) or "none"
        click.echo(f"claimback otel: stopped; {stats.batches} batches ({events}); "
                   f"{stats.new_requests} new requests, {stats.new_failures} new failures, "
                   f"{stats.duplicates} duplicates, {stats.rejected} rejected", err=True)
