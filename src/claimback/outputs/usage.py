"""Rich tables for `claimback usage` (the data comes from `claimback.analysis.usage`)."""

from __future__ import annotations

from rich.table import Table

from claimback.analysis.usage import ModelBreakdown, UsageReport, UsageRow
from claimback.outputs.terminal import console, fmt_int

_TOKEN_COLUMNS = ["Input", "Output", "Cache write", "Cache read", "Total tokens", "Cost (USD)"]


def _cost(value: float, unpriced: int, requests: int) -> str:
    if requests and unpriced == requests:
        return "unknown"
    text = f"${value:,.2f}"
    return text + " +?" if unpriced else text


def _cells(row: UsageRow | ModelBreakdown, unpriced: int, requests: int, cost: float) -> list[str]:
    total = row.inputTokens + row.outputTokens + row.cacheCreationTokens + row.cacheReadTokens
    return [fmt_int(row.inputTokens), fmt_int(row.outputTokens), fmt_int(row.cacheCreationTokens),
            fmt_int(row.cacheReadTokens), fmt_int(total), _cost(cost, unpriced, requests)]


def render_usage(report: UsageReport, *, breakdown: bool = False) -> None:
    out = console()
    titles = {"daily": "Claude Code usage by day", "session": "Claude Code usage by session",
              "blocks": "Claude Code usage by 5-hour block"}
    title = titles[report.kind] + (" — DEMO data" if report.demo else "")
    table = Table(title=title, title_justify="left")
    first = {"daily": "Date", "session": "Session", "blocks": "Block start (UTC)"}[report.kind]
    table.add_column(first, justify="left")
    if report.kind == "session":
        table.add_column("Last activity (UTC)", justify="left")
    table.add_column("Models", justify="left")
    for name in _TOKEN_COLUMNS:
        table.add_column(name, justify="right")

    def add_breakdowns(models: list[ModelBreakdown]) -> None:
        if not breakdown:
            return
        for m in models:
            lead = ["", ""] if report.kind == "session" else [""]
            table.add_row(*lead, f"  └ {m.modelName}",
                          *_cells(m, m.unpricedRequests, m.requests, m.cost), style="dim")

    if report.kind == "blocks":
        for b in report.blocks:
            if b.isGap:
                table.add_row(f"{b.startTime[:16].replace('T', ' ')} (gap)", "", *[""] * 6, style="dim")
                continue
            label = b.startTime[:16].replace("T", " ") + (" (active)" if b.isActive else "")
            table.add_row(label, ", ".join(b.models),
                          fmt_int(b.inputTokens), fmt_int(b.outputTokens), fmt_int(b.cacheCreationTokens),
                          fmt_int(b.cacheReadTokens), fmt_int(b.totalTokens),
                          _cost(b.costUSD, b.unpricedRequests, b.entries))
            add_breakdowns(sorted(b.breakdown.values(), key=lambda m: -m.cost))
    else:
        for row in report.rows:
            lead = [row.key] if report.kind == "daily" else [
                row.key[:8], (row.lastActivity or "")[:16].replace("T", " ")]
            table.add_row(*lead, ", ".join(row.modelsUsed),
                          *_cells(row, row.unpricedRequests, row.requests, row.totalCost))
            add_breakdowns(row.modelBreakdowns)
    t = report.totals
    lead = ["Total", ""] if report.kind == "session" else ["Total"]
    table.add_row(*lead, "", *_cells(t, t.unpricedRequests, t.requests, t.totalCost), style="bold")
    out.print(table)
    out.print(f"[dim]timezone {report.timezone} · cost mode {report.mode} · pricing {report.pricing}[/]")
    if report.unpriced_models:
        out.print(f"[yellow]no price for:[/] {', '.join(report.unpriced_models)} "
                  "(their cost is left out of the totals; pass --pricing FILE with these models)")
