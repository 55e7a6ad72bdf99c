"""Rich rendering for the terminal. Library functions return data; this module only draws it."""

from __future__ import annotations

from typing import Any


from rich.console import Console
from rich.errors import MarkupError
from rich.table import Table
from rich.text import Text

from claimback.core.secrets import scrub
from claimback.core.untrusted import strip_controls
from claimback.ledger.changes import IngestSummary

def terminal_text(text: str) -> str:
    """Foreign text made safe to print: control characters (ANSI/OSC sequences: colours, titles,
    hyperlinks, clipboard writes; bidi overrides) dropped as everywhere (core/untrusted.py), key-shaped
    values redacted. Text from transcripts, telemetry and status pages must not drive the terminal."""
    return strip_controls(scrub(text, personal=False))


class SafeConsole(Console):
    """Every string printed (print arguments and table cells alike pass through render_str) is cleaned
    by `terminal_text`; markup that does not parse is printed as plain text instead of crashing the
    command (an incident named `[/]` crashed `status`). Foreign text interpolated into our own markup
    should still go through `markup_safe`, so it cannot style or link either."""

    def render_str(self, text: str, **kwargs) -> Text:  # type: ignore[override]
        text = terminal_text(text)
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:
            return super().render_str(text, **{**kwargs, "markup": False})


def markup_safe(text: object) -> str:
    """Foreign text for interpolation into Rich markup: printed literally."""
    from rich.markup import escape

    return escape(terminal_text(str(text)))


def console(**kwargs) -> Console:
    return SafeConsole(highlight=False, **kwargs)


def fmt_int(value: int | float | None) -> str:
    return "-" if value is None else f"{int(value):,}"


def fmt_usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def render_ingest_summary(summary: IngestSummary) -> None:
    out = console()
    out.print(
        f"Ingested {summary.files_read:,} of {summary.files_seen:,} files "
        f"({summary.files_unchanged:,} unchanged, {summary.bytes_read / 1e6:,.1f} MB) "
        f"in {summary.seconds:.2f}s into {summary.ledger}"
    )
    out.print(f"  new requests: {summary.new_requests:,}   new subagent launches: {summary.new_tasks:,}   "
              f"new prompts: {summary.new_prompts:,}")
    if summary.new_failures:
        parts = ", ".join(f"{cls} {n:,}" for cls, n in summary.new_failures.items())
        out.print(f"  new failures by class: {parts}")
    else:
        out.print("  new failures: none")
    if summary.lines_skipped:
        parts = ", ".join(f"{reason} {n:,}" for reason, n in summary.lines_skipped.items())
        out.print(f"  lines skipped: {parts}")
    if summary.unknown_records:
        from rich.markup import escape

        parts = ", ".join(f"{escape(kind)} {n:,}" for kind, n in summary.unknown_records.items())
        out.print(f"  record kinds not known to this claimback (counted, not read): {parts}")
    if summary.partial_lines_left:
        out.print(f"  {summary.partial_lines_left} partial last line(s) left for the next run (still being written)")
    for path in summary.unreadable[:5]:
        out.print(f"  [yellow]unreadable:[/] {path}")


def simple_table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[str(c) for c in row])
    return table


def render_audit(report: Any) -> None:
    out = console()
    title = "claimback audit" + (" — DEMO data (the founding outage scenario)" if report.demo else "")
    out.print(f"[bold]{title}[/]  period {report.period_start} → {report.period_end} (UTC days)")
    if report.ingest is not None:
        s = report.ingest
        out.print(f"ledger {report.ledger}: {s.files_read:,} files read, {s.new_requests:,} new requests, "
                  f"{sum(s.new_failures.values()):,} new failures")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}")
    classes = sorted({c for day in report.days for c in day.failures})
    rows = [[d.date, fmt_int(d.requests), fmt_int(d.total_tokens)] + [fmt_int(d.failures.get(c, 0)) for c in classes]
            for d in report.days]
    out.print(simple_table("Usage and failures per day", ["day", "requests", "tokens"]
                           + [f"{c} failures" for c in classes], rows))
    if report.killed_tasks:
        rows = [[(t.launched_at or "")[:16].replace("T", " "), t.description or "-", t.subagent_type or "-",
                 t.outcome + ("" if not t.parent_was_told else f" (parent told: {t.parent_was_told})"),
                 fmt_int(t.tokens), (t.session_id or "")[:8]] for t in report.killed_tasks]
        out.print(simple_table("Subagent tasks killed by API failures", ["launched (UTC)", "task", "type",
                                                                        "outcome", "tokens burned", "session"], rows))
    else:
        out.print("No subagent task was killed by an API failure in this period.")
    _render_audit_windows(out, report)


def _render_audit_windows(out: Console, report: Any) -> None:
    if report.loss is None:
        return
    from claimback.analysis.outages import coverage_note
    from claimback.outputs.evidence import is_affected

    originals = {w.window_id: w for w in report.windows}
    hit = [w for w in report.loss.windows if is_affected(w, originals.get(w.id))]
    out.print("")
    claimable = [w for w in hit if w.claimable]
    elsewhere = [w for w in hit if not w.claimable]
    if claimable:
        out.print("Outage windows that touched your sessions:")
        for window in claimable:
            out.print(f"- {window.headline}", soft_wrap=True)  # the headline names its window
    elif report.loss.coverage_missing:
        out.print(f"[yellow]{coverage_note(report.loss.coverage_missing)}[/]", soft_wrap=True)
    else:
        out.print("No Anthropic API outage touched your Claude Code sessions in this period: nothing to claim.")
    if elsewhere:
        out.print("Not claimable with Anthropic (another provider served these requests):")
        for window in elsewhere:
            out.print(f"- {window.headline}", soft_wrap=True)
    if claimable and report.loss.coverage_missing:
        out.print(f"[yellow]note:[/] {coverage_note(report.loss.coverage_missing)}", soft_wrap=True)
    others = len(report.loss.windows) - len(hit)
    if others:
        out.print(f"({others} other status-page incident window(s) in the period touched none of your sessions.)")
    if report.packet is not None:
        out.print(f"\nclaim packet: {report.packet.dir}", soft_wrap=True)


CATEGORY_LABELS = {
    "killed_subagents": "killed subagent work",
    "partial_responses": "partial responses",
    "abandoned_turns": "abandoned turns",
    "cache_rebuild": "cache rebuild",
    "failed_attempt_exposure": "failed-attempt exposure",
    "overloaded_not_charged": "overloaded (529) attempts",
}


def render_loss(report: Any) -> None:
    out = console()
    if not report.windows:
        for note in report.notes:
            out.print(note)
        return
    quiet = [w for w in report.windows if w.measured_tokens == 0 and w.estimated_tokens == 0]
    for window in report.windows:
        if window in quiet:
            continue
        out.print(f"\n[bold]{window.id}[/]  {window.headline}")
        rows = []
        for key, label in CATEGORY_LABELS.items():
            figure = window.loss[key]
            attempts = key in ("failed_attempt_exposure", "overloaded_not_charged")
            count = figure.attempts if attempts else figure.requests
            unit = "attempts" if attempts else "requests"
            usd = "not charged" if key == "overloaded_not_charged" else fmt_usd(figure.usd)
            rows.append([label, figure.basis, fmt_int(figure.tokens), usd, f"{count:,} {unit}"])
        rows.append(["total measured", "measured", fmt_int(window.measured_tokens), fmt_usd(window.usd_measured), ""])
        rows.append(["total estimated", "estimated", fmt_int(window.estimated_tokens), fmt_usd(window.usd_estimated), ""])
        out.print(simple_table(None, ["category", "basis", "tokens", "USD (API prices)", "evidence"], rows))
        quota = window.quota
        if quota is not None:
            seven = "-" if quota.seven_day_delta_pct is None else f"{quota.seven_day_delta_pct:g} %"
            five = "-" if quota.five_hour_delta_pct is None else f"{quota.five_hour_delta_pct:g} %"
            reset = quota.weekly_reset_at or "unknown"
            line = f"quota ({quota.basis}): weekly Δ {seven}, 5-hour Δ {five}; weekly reset {reset}"
            if quota.hours_to_reset is not None:
                line += f" ({quota.hours_to_reset:g} h after the window)"
            if quota.plan_value_usd is not None:
                line += f"; plan value ≈ ${quota.plan_value_usd:,.2f} of your {quota.plan} plan"
            out.print(line)
            for note in quota.notes:
                out.print(f"  [dim]note: {note}[/]")
        if window.unpriced_models:
            out.print(f"  [yellow]no price for {', '.join(window.unpriced_models)}: USD is a lower bound[/]")
    if quiet:
        out.print(f"\n{len(quiet)} window(s) with no loss in your logs:")
        for window in quiet:
            out.print(f"  {window.id}  {window.headline}")
    totals = report.totals
    out.print(f"\nClaimable with Anthropic (Anthropic windows): {totals['measured_tokens']:,} tokens measured, "
              f"{totals['estimated_tokens']:,} estimated; {fmt_usd(totals['usd_measured'])} measured at API prices.")
    for provider, tokens in (totals.get("not_claimable") or {}).items():
        out.print(f"Not claimable with Anthropic: {tokens:,} tokens measured through {provider}.")
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}", soft_wrap=True)
