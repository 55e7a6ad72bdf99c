"""Rich tables for `claimback usage` (the data comes from `claimback.analysis.usage`)."""

from __future__ import annotations

import re

from rich.table import Table

from claimback.analysis.usage import ModelBreakdown, UsageReport, UsageRow
from claimback.outputs.terminal import console, fmt_int

_TOKEN_COLUMNS = ["Input", "Output", "Cache write", "Cache read", "Total tokens", "Cost (USD)"]
_CACHE_COLUMNS = (2, 3)  # dropped on narrow terminals, as ccusage's compact mode does
_DATE_SUFFIX = re.compile(r"-\d{8}$")


def short_model(name: str) -> str:
    """claude-sonnet-4-5-20250929 → sonnet-4-5 (the table's Models column; JSON keeps full names)."""
    return _DATE_SUFFIX.sub("", name.removeprefix("claude-"))


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
    compact = out.width < 120
    keep = [i for i in range(len(_TOKEN_COLUMNS)) if not (compact and i in _CACHE_COLUMNS)]

    def pick(cells: list[str]) -> list[str]:
        return [cells[i] for i in keep]
    titles = {"daily": "Claude Code usage by day", "session": "Claude Code usage by session",
              "blocks": "Claude Code usage by 5-hour block"}
    title = titles[report.kind] + (" — DEMO data" if report.demo else "")
    table = Table(title=title, title_justify="left")
    first = {"daily": "Date", "session": "Session", "blocks": "Block start (UTC)"}[report.kind]
    table.add_column(first, justify="left", no_wrap=True)
    if report.kind == "session":
        table.add_column("Last activity (UTC)", justify="left", no_wrap=True)
    table.add_column("Models", justify="left")
    for i in keep:
        table.add_column(_TOKEN_COLUMNS[i], justify="right", no_wrap=True)

    def add_breakdowns(models: list[ModelBreakdown]) -> None:
        if not breakdown:
            return
        for m in models:
            lead = ["", ""] if report.kind == "session" else [""]
            table.add_row(*lead, f"└ {short_model(m.modelName)}",
                          *pick(_cells(m, m.unpricedRequests, m.requests, m.cost)), style="dim")

    if report.kind == "blocks":
        for b in report.blocks:
            if b.isGap:
                table.add_row(f"{b.startTime[:16].replace('T', ' ')} (gap)", "", *[""] * len(keep), style="dim")
                continue
            label = b.startTime[:16].replace("T", " ") + (" (active)" if b.isActive else "")
            table.add_row(label, ", ".join(short_model(m) for m in b.models),
                          *pick([fmt_int(b.inputTokens), fmt_int(b.outputTokens), fmt_int(b.cacheCreationTokens),
                                 fmt_int(b.cacheReadTokens), fmt_int(b.totalTokens),
                                 _cost(b.costUSD, b.unpricedRequests, b.entries)]))
            add_breakdowns(sorted(b.breakdown.values(), key=lambda m: -m.cost))
    else:
        for row in report.rows:
            lead = [row.key] if report.kind == "daily" else [
                row.key[:8], (row.lastActivity or "")[:16].replace("T", " ")]
            table.add_row(*lead, ", ".join(short_model(m) for m in row.modelsUsed),
                          *pick(_cells(row, row.unpricedRequests, row.requests, row.totalCost)))
            add_breakdowns(row.modelBreakdowns)
    t = report.totals
    lead = ["Total", ""] if report.kind == "session" else ["Total"]
    table.add_row(*lead, "", *pick(_cells(t, t.unpricedRequests, t.requests, t.totalCost)), style="bold")
    out.print(table)
    if compact:
        out.print("[dim]narrow terminal: cache columns hidden (they are in the total; --json has them all)[/]")
    out.print(f"[dim]timezone {report.timezone} · cost mode {report.mode} · pricing {report.pricing}[/]")
    if report.unpriced_models:
        out.print(f"[yellow]no price for:[/] {', '.join(report.unpriced_models)} "
                  "(their cost is left out of the totals; pass --pricing FILE with these models)")
