"""Rich tables for `claimback usage` (the data comes from `claimback.analysis.usage`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from claimback.prevent.live import LiveState

from claimback.analysis.usage import Block, ModelBreakdown, UsageReport, UsageRow
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


def render_usage(report: UsageReport, *, breakdown: bool = False, subagents: bool = False, cost: bool = True) -> None:
    out = console()
    compact = out.width < 120
    keep = [i for i in range(len(_TOKEN_COLUMNS)) if not (compact and i in _CACHE_COLUMNS)
            and (cost or _TOKEN_COLUMNS[i] != "Cost (USD)")]

    def pick(cells: list[str]) -> list[str]:
        return [cells[i] for i in keep]
    titles = {"daily": "Claude Code usage by day", "weekly": "Claude Code usage by week",
              "monthly": "Claude Code usage by month", "session": "Claude Code usage by session",
              "blocks": "Claude Code usage by 5-hour block"}
    title = titles[report.kind] + (f" — project {report.project_filter}" if report.project_filter else "")
    title += " — DEMO data" if report.demo else ""
    table = Table(title=title, title_justify="left")
    first = {"daily": "Date", "weekly": "Week of", "monthly": "Month", "session": "Session",
             "blocks": "Block start (UTC)"}[report.kind]
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
        shown_project = None
        for row in report.rows:
            if report.projects is not None and row.project != shown_project:
                shown_project = row.project
                table.add_row(Text(row.project or "Unknown Project", style="bold cyan"), *[""] * (len(keep) + 1))
            lead = [row.key[:8], (row.lastActivity or "")[:16].replace("T", " ")] if report.kind == "session" \
                else [row.key]
            table.add_row(*lead, ", ".join(short_model(m) for m in row.modelsUsed),
                          *pick(_cells(row, row.unpricedRequests, row.requests, row.totalCost)))
            add_breakdowns(row.modelBreakdowns)
            if subagents and report.kind == "session":
                runs = ([row.mainThread] if row.mainThread else []) + row.subagents
                for run in runs:
                    name = "main thread" if run is row.mainThread else f"{run.subagentType or 'subagent'} {run.key[:10]}"
                    table.add_row(f"  ├ {name}", (run.lastActivity or "")[:16].replace("T", " "),
                                  ", ".join(short_model(m) for m in run.modelsUsed),
                                  *pick(_cells(run, run.unpricedRequests, run.requests, run.totalCost)), style="dim")
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
    if report.unattributed is not None:
        extra = report.unattributed
        if not cost:
            extra = type(extra)(**{**extra.__dict__, "usd": None})
        out.print(f"Not in the rows above: {extra.describe()}", markup=False, highlight=False)


# -- usage blocks --live ---------------------------------------------------------------------------
def _minutes(value: float) -> str:
    hours, minutes = divmod(int(value), 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def live_view(state: LiveState, *, refresh: int, interval: float) -> Group:
    """One frame: the active block's figures, the incident state, the quota (plain rich renderables)."""
    lines: list[Text | Table] = []
    head = f"claimback live · {state.now[:19].replace('T', ' ')} UTC · refresh {refresh} (every {interval:g}s, Ctrl-C stops)"
    lines.append(Text(head + (" · DEMO data" if state.demo else ""), style="bold"))
    block: Block | None = state.block
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    if block is None:
        last = state.last_block
        table.add_row("Active block", "none (no request in the last 5 hours)" if last is None else
                      f"none; the last ended {last.actualEndTime[:16].replace('T', ' ') if last.actualEndTime else '?'} UTC")
    else:
        table.add_row("Active block", f"{block.startTime[11:16]}–{block.endTime[11:16]} UTC, "
                      f"{block.entries} requests, models {', '.join(short_model(m) for m in block.models) or '-'}")
        table.add_row("Tokens", f"{fmt_int(block.totalTokens)} · cost {_cost(block.costUSD, block.unpricedRequests, block.entries)}")
        if block.burnRate is not None:
            table.add_row("Burn rate", f"{fmt_int(round(block.burnRate.tokensPerMinute))} tokens/min · "
                          f"${block.burnRate.costPerHour:,.2f}/h")
        if block.projection is not None:
            table.add_row("Projection", f"{fmt_int(block.projection.totalTokens)} tokens · "
                          f"${block.projection.totalCost:,.2f} by the block's end ({_minutes(block.projection.remainingMinutes)} left)")
        if block.tokenLimitStatus is not None:
            t = block.tokenLimitStatus
            colour = {"ok": "green", "warning": "yellow", "exceeds": "red"}[t.status]
            table.add_row("Token limit", Text(f"{t.percentUsed:.0f}% of {fmt_int(t.limit)} projected ({t.status})",
                                              style=colour))
    level_style = {"block": "bold red", "monitoring": "yellow"}.get(state.incident_level or "", "green")
    incident = state.incident_text + (f" ({state.incident_problem})" if state.incident_problem else "")
    table.add_row("Incidents", Text(incident, style=level_style))
    q = state.quota
    if q is None:
        table.add_row("Quota", "no status-line snapshot yet (claimback guard install --statusline records them)")
    else:
        parts = []
        if q.get("five_hour_pct") is not None:
            parts.append(f"5h {q['five_hour_pct']:.0f}%")
        if q.get("seven_day_pct") is not None:
            parts.append(f"week {q['seven_day_pct']:.0f}%")
        table.add_row("Quota", " · ".join(parts) + f" (as of {q['ts'][11:16]} UTC)")
    lines.append(table)
    return Group(*lines)


def run_live(frame: Callable[[], LiveState], *, refresh_interval: float, max_refreshes: int | None) -> None:
    """Redraw in place on a terminal (plain frames one after another when piped); ends cleanly on Ctrl-C
    or after `max_refreshes` frames."""
    from rich.live import Live

    out = console()
    count = 0
    try:
        if out.is_terminal:
            with Live(console=out, auto_refresh=False, transient=False) as live:
                while True:
                    count += 1
                    live.update(live_view(frame(), refresh=count, interval=refresh_interval), refresh=True)
                    if max_refreshes is not None and count >= max_refreshes:
                        break
                    time.sleep(refresh_interval)
        else:
            while True:
                count += 1
                out.print(live_view(frame(), refresh=count, interval=refresh_interval))
                if max_refreshes is not None and count >= max_refreshes:
                    break
                time.sleep(refresh_interval)
    except KeyboardInterrupt:
        out.print("[dim]stopped[/]")
