"""Terminal rendering of outage windows and of the current status (data in, text out)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from claimback.analysis.outages import (
    ERROR_SPAN,
    INCIDENT_SPAN,
    CurrentStatus,
    DataSource,
    OutagesReport,
    OutageWindow,
    coverage_note,
    span_label,
)
from claimback.outputs.terminal import console, markup_safe as e

CONFIRMED_LABEL = {"both": "status page + your logs", "statuspage": "status page", "logs": "your logs"}


def _hm(ts: str | None) -> str:
    return f"{ts[:10]} {ts[11:16]}" if ts else "-"


def _source_line(out: Console, source: DataSource) -> None:
    style = "yellow" if source.origin not in ("live", "demo") else "dim"
    out.print(f"[{style}]Incident data: {source.note}[/{style}]")


def _cell(start: str | None, end: str | None) -> str:
    """A span in the table (the title says UTC): `05-15 00:18–01:46`."""
    label = span_label(start, end)
    return "-" if label is None else label.removesuffix(" UTC")[5:].replace(" – ", "–")


def render_outages(report: OutagesReport, verbose: bool = False) -> None:
    out = console()
    period = f"{(report.since or '?')[:10]} to {(report.until or '?')[:10]}"
    if not report.windows:
        if report.coverage_missing:
            out.print(f"{coverage_note(report.coverage_missing, capital=True)}. No burst of API errors in your "
                      f"logs from {period}.")
        else:
            out.print(f"No outage windows from {period} ({report.incidents_considered} incidents checked).")
        _source_line(out, report.data_source)
        return
    from rich import box

    table = Table(title=f"Outage windows, {period} (UTC)", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    table.add_column("Window", no_wrap=True)
    table.add_column(INCIDENT_SPAN[0].upper() + INCIDENT_SPAN[1:], no_wrap=False, min_width=11)
    table.add_column(ERROR_SPAN[0].upper() + ERROR_SPAN[1:], no_wrap=False, min_width=11)
    table.add_column("Provider", no_wrap=True)
    table.add_column("Fails", justify="right", no_wrap=True)
    for w in report.windows:
        table.add_row(w.window_id, _cell(w.statuspage_start, w.statuspage_end), _cell(w.logs_start, w.logs_end),
                      w.provider, str(w.outage_failures))
    out.print(table)
    for w in report.windows:
        if w.confirmed_by == "statuspage" and not verbose:
            continue
        _render_detail(out, w)
    if report.coverage_missing:
        out.print(f"[yellow]{coverage_note(report.coverage_missing, capital=True)}.[/yellow]")
    _source_line(out, report.data_source)
    if not verbose and any(w.confirmed_by == "statuspage" for w in report.windows):
        out.print("[dim]Status-page-only windows: the incident overlapped your active period but your logs "
                  "show no burst of failures. `--json` has every field.[/dim]")


def _render_detail(out: Console, w: OutageWindow) -> None:
    out.print(f"\n[bold]{w.window_id}[/bold]  confirmed by {CONFIRMED_LABEL.get(w.confirmed_by, w.confirmed_by)}; "
              f"provider {w.provider_label}")
    for part in w.spans.split("; "):
        out.print(f"  {part}")
    if not w.claimable:
        out.print(f"  [yellow]not claimable with Anthropic: a claim goes to {w.claim_to}[/yellow]")
    for i in w.incidents:
        scope = f" (models: {', '.join(i.model_families)})" if i.scope == "models" else ""
        out.print(f"  incident {e(i.incident_id)} [{e(i.source)}] {e(i.name or '')}{e(scope)}")
        out.print(f"    {span_label(i.start, i.end)} ({i.basis})")
        out.print(f"    {e(i.link)}", soft_wrap=True)
    if w.logs_start:
        out.print(f"  your logs: {w.outage_failures} outage-class failures")
    if w.sessions:
        out.print(f"  sessions: {', '.join(s[:8] for s in w.sessions)}"
                  + (f"  (with failures: {', '.join(s[:8] for s in w.sessions_failed)})" if w.sessions_failed else ""))
    if w.agents_failed:
        out.print(f"  subagents hit: {e(', '.join(w.agents_failed))}")
    if w.models:
        out.print(f"  models: {e(', '.join(w.models))}")


def render_status(status: CurrentStatus) -> None:
    out = console()
    if status.affected:
        out.print("[bold red]Claude Code is affected by an incident right now.[/bold red]")
    elif status.indicator is None and not status.incidents and status.data_source.origin not in ("live", "cache"):
        out.print("[yellow]Current status unknown: no live or cached status-page data.[/yellow]")
    else:
        out.print("[green]No open incident affects Claude Code.[/green]")
    if status.maintenance:
        out.print(f"[yellow]Scheduled maintenance in progress: {e(', '.join(status.maintenance))}[/yellow]")
    if status.description:
        out.print(f"Status page: {e(status.description)} (indicator: {e(status.indicator)})")
    for c in status.components:
        colour = "green" if c.status == "operational" else "yellow"
        out.print(f"  [{colour}]{e(c.name)}: {e(c.status)}[/{colour}]")
    for i in status.incidents:
        scope = f" — models: {', '.join(i.model_families)}" if i.scope == "models" else ""
        out.print(f"  [bold]{e(i.name)}[/bold] ({e(i.status)}, impact {e(i.impact)}, since {_hm(i.started_at)} UTC)"
                  f"{e(scope)}")
        if i.latest_update:
            out.print(f"    {e(i.latest_update)}")
        out.print(f"    {e(i.link)}")
    if status.ignored:
        out.print(f"[dim]{status.ignored} other open incident(s) do not touch Claude Code.[/dim]")
    _source_line(out, status.data_source)
