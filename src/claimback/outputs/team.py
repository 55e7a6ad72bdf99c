"""Rich table for `claimback team report` (data from `claimback.analysis.team`)."""

from __future__ import annotations

from rich.table import Table

from claimback.analysis.team import TeamReport
from claimback.outputs.terminal import console, fmt_int


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def render_team_report(report: TeamReport) -> None:
    out = console()
    span = f"{report.since or 'start'} → {report.until or 'now'}"
    table = Table(title=f"Team report by {report.by} ({span})", title_justify="left")
    first = "User" if report.by == "user" else "Machine"
    table.add_column(first, justify="left", no_wrap=True)
    for name, justify in ( ("Machines" if report.by == "user" else "User", "left"),
                          ("Sessions", "right"), ("Requests", "right"), ("Tokens", "right"),
                          ("Cost (USD)", "right"), ("Failed attempts", "right"), ("Final errors", "right"),
                          ("Outage failures", "right"), ("Killed subagents", "right"),
                          ("Outage loss (measured)", "right"), ("+ estimated", "right")):
        table.add_column(name, justify=justify)
    for m in report.members:
        second = str(len(m.machines)) if report.by == "user" else ", ".join(m.users)
        table.add_row(m.key, second, fmt_int(m.sessions), fmt_int(m.requests), fmt_int(m.total_tokens),
                      _usd(m.usd), fmt_int(m.failed_attempts), fmt_int(m.final_errors),
                      fmt_int(m.outage_failures), fmt_int(m.killed_subagents),
                      fmt_int(m.loss_measured_tokens) if report.loss_available else "-",
                      fmt_int(m.loss_estimated_tokens) if report.loss_available else "-")
    out.print(table)
    t = report.totals
    who = (f"{t['members']} {'person' if t['members'] == 1 else 'people'} on {t['machines']} "
           f"machine{'s' if t['machines'] != 1 else ''}" if report.by == "user"
           else f"{t['machines']} machine{'s' if t['machines'] != 1 else ''}")
    out.print(f"{who} · {fmt_int(t['requests'])} requests · {fmt_int(t['total_tokens'])} tokens · "
              f"{_usd(t['usd'])} API-equivalent")
    for window in report.windows:
        out.print(f"outage window {window['id']}: {window['start'][:16]} → {window['end'][:16]} UTC "
                  f"(confirmed by {window['confirmed_by']})")
    for m in report.members:
        if m.failures_by_class:
            classes = ", ".join(f"{k} {v}" for k, v in m.failures_by_class.items())
            out.print(f"[dim]{m.key}: failures by class: {classes}[/]")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}")
    out.print(f"[dim]pricing {report.pricing}[/]")
