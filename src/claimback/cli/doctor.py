"""`claimback doctor`: diagnostics, `doctor explain` one error, `doctor verify` after a change."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from claimback.cli import main
from claimback.cli._common import ExistingDir, db_option, demo_option, json_option, no_ingest_option, print_json, source_option, warn_roots
from claimback.errors import BadInput

_OK, _WARN, _BAD = "[green]ok[/]", "[yellow]warn[/]", "[red]fail[/]"


@main.group(invoke_without_command=True)
@json_option
@click.option("--out", "out_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the diagnostics to FILE (JSON when it ends in .json, else text) "
              "to attach to a bug report. Secrets are never included.")
@click.option("--project", metavar="DIR", type=ExistingDir(path_type=Path), default=None,
              help="Project whose .claude/settings*.json to check (default: the current directory).")
@demo_option
@db_option
@source_option
@no_ingest_option
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, out_file: Path | None, project: Path | None, demo: bool,
           db: str | None, sources: tuple[str, ...], no_ingest: bool) -> None:
    """Non-secret diagnostics: versions, provider, models, settings and hooks, retention, ledger health,
    the providers seen in your logs next to the one your settings select, and the failures of the 7 days
    up to your newest data (today, or the last record when the logs are older) by class with their top
    signatures and the next step for each.

    \b
    Environment variables are listed by name only; URLs by host only; no key, token or password is
    ever printed or written.

    \b
    Also:
      claimback doctor explain "API Error: 529 Overloaded..."   classify one error message (or - for stdin)
      claimback doctor verify [--probe]                           after a change: is the error gone?
    """
    if ctx.invoked_subcommand is not None:
        return
    from claimback.prevent.doctor import run_doctor
    from claimback.workspace import open_workspace

    from claimback.errors import LedgerError

    try:
        with open_workspace(db, sources, demo=demo, run_ingest=False) as ws:
            warn_roots(ws)
            report = run_doctor(ws.ledger, ws.roots, project=project, ingest_first=not no_ingest, demo=ws.demo)
    except LedgerError as exc:
        # Doctor is what you run when things are broken: report the ledger, check everything else.
        report = run_doctor(None, [], project=project, ledger_error=str(exc))
    data = dataclasses.asdict(report)
    if out_file is not None:
        import io

        from claimback.core.files import atomic_write

        if out_file.exists() and not out_file.is_file():
            # A FIFO would hold the command until someone reads it, a device swallow the snapshot.
            raise BadInput(f"cannot write {out_file}: not a regular file")
        if not out_file.parent.is_dir():
            raise BadInput(f"cannot write {out_file}: {out_file.parent} is not a directory")
        if out_file.suffix.lower() == ".json":
            from claimback.outputs.redact import redact_tree

            # A file meant to be shared: every field scrubbed, e-mail addresses too.
            clean = redact_tree(json.loads(json.dumps(data, default=str)))
            text = json.dumps(clean, indent=2) + "\n"
        else:
            handle = io.StringIO()
            _render_doctor(report, _console(handle, color=False))
            text = handle.getvalue()
        try:
            atomic_write(out_file, text.encode("utf-8"), durable=False)  # all of it or nothing
        except OSError as exc:
            raise BadInput(f"cannot write {out_file}: {exc.strerror}") from None
    if as_json:
        print_json(data)
    else:
        _render_doctor(report, _console(None))
        if out_file is not None:
            click.echo(f"\nWritten to {out_file}")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _console(file: Any, color: bool = True):  # type: ignore[no-untyped-def]
    from claimback.outputs.terminal import console as make_console

    console = make_console(file=file, no_color=not color, soft_wrap=False,
                           force_terminal=False if file is not None else None)
    if not console.is_terminal:
        console.width = max(console.width, 110)
    return console


def _render_doctor(report, out) -> None:  # type: ignore[no-untyped-def]
    from rich.markup import escape
    from rich.table import Table

    e = escape
    if report.demo:
        out.print("[dim]demo data: the built-in scenario, in a temporary ledger (settings below are yours)[/]")
    out.print(f"[bold]claimback {e(report.claimback_version)}[/] · {e(report.os)} · {e(report.python)}")
    claude = report.claude
    if claude.found and not claude.error:
        out.print(f"claude: {_OK} {e(claude.version or '')} ({e(claude.path or '')})")
    else:
        out.print(f"claude: {_BAD} {e(claude.error or 'not found')}" + (f" ({e(claude.path)})" if claude.path else ""))
    if report.claude_versions_in_logs:
        out.print("Claude Code versions in your transcripts (newest first): "
                  + e(", ".join(report.claude_versions_in_logs)))
    prov = report.provider
    where = f" via {e(prov.base_url_host)}" if prov.base_url_host else ""
    out.print(f"provider: {e(prov.name)}{where}" + (f" (set in {e(prov.source)})" if prov.source else ""))
    if report.providers_in_logs:
        mix = ", ".join(f"{e(name)} {n['requests']:,} requests / {n['failures']:,} failures"
                        for name, n in report.providers_in_logs.items())
        out.print(f"providers in your logs: {mix} (settings say: {e(report.provider_expected)})")
    out.print("credentials present (names only): " + (e(", ".join(prov.auth)) if prov.auth else "none found"))
    if report.models:
        out.print("models: " + e("; ".join(f"{k} = {v}" for k, v in report.models.items())))
    else:
        out.print("models: Claude Code defaults (no model set in env or settings)")

    table = Table(title="Settings files", title_justify="left")
    for col in ("scope", "path", "state", "hooks", "notes"):
        table.add_column(col, no_wrap=col in ("scope", "path"), overflow="fold")
    for row in report.settings_files:
        if not row.exists:
            state = "[dim]absent[/]"
        elif row.error:
            state = f"{_BAD} {e(row.error)}"
        else:
            state = _OK
        hooks = ", ".join(sorted({f"{h.event}" + (f"[{h.matcher}]" if h.matcher else "") for h in row.hooks}))
        notes = []
        if row.model:
            notes.append(f"model={row.model}")
        if row.cleanup_period_days is not None:
            notes.append(f"cleanupPeriodDays={row.cleanup_period_days}")
        if row.env_names:
            notes.append("env: " + ", ".join(row.env_names))
        if row.api_key_helper:
            notes.append("apiKeyHelper")
        if row.status_line:
            notes.append("statusLine")
        if any(h.is_claimback for h in row.hooks):
            notes.append("claimback hooks")
        table.add_row(row.scope, e(row.path), state, e(hooks) or "-", e("; ".join(notes)) or "-")
    out.print(table)
    out.print("Claude Code environment variables set (values hidden): "
              + (e(", ".join(report.env_vars)) if report.env_vars else "none"))
    ret = report.retention
    out.print(f"transcript retention: cleanupPeriodDays = {ret.cleanup_period_days} ({e(ret.source)}); "
              f"last ingest: {e(ret.last_ingest or 'never')}"
              + (f"; transcript files {ret.transcript_files:,}, not yet ingested {ret.not_ingested:,}"
                 + (" (ingested now)" if ret.ingested_now and ret.not_ingested else "")
                 if ret.transcript_files is not None else ""))
    led = report.ledger
    if led.error:
        out.print(f"ledger: {_BAD} " + (f"{e(led.location)}: " if led.location else "") + e(led.error))
    else:
        size = f"{led.size_bytes / 1e6:,.1f} MB" if led.size_bytes is not None else "size n/a"
        rows = led.rows or {}
        out.print(f"ledger: {e(led.location or '')} ({led.backend}, schema {led.schema_version}/{led.schema_latest}, "
                  f"{size}); requests {rows.get('requests', 0):,}, failures {rows.get('failures', 0):,}, "
                  f"sessions {rows.get('sessions', 0):,}, incidents {rows.get('incidents', 0):,}; "
                  f"last ingest {e(led.last_ingest or 'never')}")

    out.print()
    if not report.failures:
        out.print(f"Failures since {report.failures_since[:10]}: none recorded.")
    else:
        table = Table(title=f"Failures since {report.failures_since[:16].replace('T', ' ')} UTC, by class",
                      title_justify="left")
        for col, justify in (("class", "left"), ("count", "right"), ("top signatures (count)", "left"),
                             ("next step", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for summary in report.failures:
            sigs = "\n".join(f"{_cut(s.signature, 70)} ({s.count})" for s in summary.top_signatures)
            table.add_row(summary.failure_class, f"{summary.count:,}", e(sigs), e(summary.next_step))
        out.print(table)
    if report.warnings:
        out.print()
        out.print("[bold]To check:[/]")
        for warning in report.warnings:
            out.print(f"  {_WARN} {e(warning)}")
    else:
        out.print(f"\n{_OK} nothing to fix in the local setup.")


@doctor.command()
@click.argument("text", metavar="TEXT|-")
@json_option
def explain(text: str, as_json: bool) -> None:
    """Classify one error message: class, meaning, likely cause, next step, normalized signature, and
    whether a current incident explains it. Pass - to read the message from stdin.

    \b
    Example:
      claimback doctor explain "API Error: 529 Overloaded. This is a server-side issue..."
      pbpaste | claimback doctor explain -
    """
    from claimback.prevent.explain import explain as explain_text

    if text == "-":
        text = sys.stdin.read()
    if not text.strip():
        raise BadInput("no error text given (pass the message, or - to read it from stdin)")
    result = explain_text(text)
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    from rich.markup import escape as e

    out = _console(None)
    out.print(f"[bold]class:[/] {result.failure_class}")
    out.print(f"[bold]what it means:[/] {e(result.meaning)}")
    out.print(f"[bold]likely cause:[/] {e(result.likely_cause)}")
    out.print(f"[bold]next step:[/] {e(result.next_step)}")
    if result.reference:
        out.print(f"[bold]Claude Code's reference:[/] {e(result.reference)}")
    fields = ", ".join(f"{k}={v}" for k, v in (("status", result.status), ("type", result.error_type),
                                                 ("code", result.code)) if v is not None)
    out.print(f"[bold]signature:[/] {e(result.signature)}" + (f"  [dim]({e(fields)})[/]" if fields else ""))
    out.print(f"[bold]current incident:[/] {e(result.incident.summary)}")
    for incident in result.incident.incidents[:3]:
        out.print(f"  - {e(str(incident.get('name')))} [{e(str(incident.get('status')))}] "
                  f"{e(str(incident.get('link') or ''))}")
    if result.suggestion:
        out.print(f"[bold]then:[/] {e(result.suggestion)}")


@doctor.command()
@click.option("--probe", is_flag=True, help="Also make one tiny real request with `claude -p` (costs a few tokens).")
@json_option
@db_option
@source_option
@no_ingest_option
def verify(probe: bool, as_json: bool, db: str | None, sources: tuple[str, ...], no_ingest: bool) -> None:
    """After changing one thing: re-run the smallest checks and say whether the last failure's signature
    is gone. Exit 0 gone, 1 still failing, 3 cannot tell yet."""
    from claimback.prevent.verify import verify as run_verify
    from claimback.workspace import open_workspace

    with open_workspace(db, sources, run_ingest=False) as ws:
        warn_roots(ws)
        result = run_verify(ws.ledger, ws.roots, probe=probe, ingest_first=not no_ingest)
    if as_json:
        print_json(dataclasses.asdict(result))
    else:
        from rich.markup import escape as e

        out = _console(None)
        if result.signature:
            out.print(f"[bold]last failure:[/] {e(result.signature)} ({result.failure_class}, "
                      f"{(result.last_seen or '')[:16].replace('T', ' ')} UTC)")
        for check in result.checks:
            mark = {True: _OK, False: _BAD, None: _WARN}[check.ok]
            out.print(f"  {mark} {check.name}: {e(check.detail)}")
        out.print(f"[bold]verdict:[/] {e(result.verdict)}")
    sys.exit(0 if result.gone or result.signature is None else (1 if result.gone is False else 3))


@doctor.command()
@click.argument("working", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("this", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--project", metavar="DIR", type=ExistingDir(path_type=Path), default=None,
              help="Without THIS: the project whose settings to snapshot now (default: the current directory).")
@json_option
def compare(working: Path, this: Path | None, project: Path | None, as_json: bool) -> None:
    """Line up a snapshot of a setup that works (`doctor --out WORKING.json` there) with this one
    (THIS.json, or this machine now): the differences most likely to explain a failure first, each
    with one change to try.

    \b
    Compared: provider, base URL host, credentials (names), claude on PATH and its version, proxy and
    TLS variables, models, hooks and settings per scope, relevant environment variable names,
    retention. Exit 0 (a report); `preflight --baseline WORKING.json` fails CI on the likely ones.
    """
    from claimback.prevent.compare import compare_snapshots, load_snapshot, this_snapshot

    ref = load_snapshot(working)
    here = load_snapshot(this) if this is not None else this_snapshot(project)
    report = compare_snapshots(ref, here, working_name=str(working), this_name=str(this) if this else "this machine")
    if as_json:
        print_json(report.to_dict())
        return
    render_compare(report, _console(None))


def render_compare(report, out) -> None:  # type: ignore[no-untyped-def]
    from rich.markup import escape as e

    from claimback.prevent.compare import LIKELY

    out.print(f"[bold]{e(report.this)}[/] compared with the working setup [bold]{e(report.working)}[/]:")
    if not report.differences:
        out.print("no differences in what doctor records: look at the network path (proxy, firewall) and the "
                  "account itself (`claimback doctor explain` on the error)")
        return
    for n, d in enumerate(report.differences, 1):
        tag = "[red]likely[/]" if d.weight >= LIKELY else "[dim]less likely[/]"
        out.print(f"{n}. {tag} {e(d.what)}: working {e(_show(d.working))} · here {e(_show(d.this))}")
        out.print(f"   {e(d.why)}")
        out.print(f"   [bold]try:[/] {e(d.try_this)}")


def _show(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k} = {v}" for k, v in value.items())
    return str(value)
