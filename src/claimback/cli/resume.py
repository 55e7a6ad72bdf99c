"""`claimback resume`: what the outage killed, and a ready prompt to re-run only that."""

from __future__ import annotations

import dataclasses

import click

from claimback.cli import main
from claimback.cli._common import (
    db_option,
    demo_option,
    json_option,
    no_ingest_option,
    print_json,
    source_option,
    warn_roots,
)


def _when(ts: str | None) -> str:
    return f"{ts[:10]} {ts[11:16]}" if ts else "-"


def _hm(ts: str | None) -> str:
    return f"{ts[5:10]} {ts[11:16]}" if ts else "-"


def _brief(signature: str | None) -> str:
    """The message part of a signature (after status | type | code), cut to fit a table cell."""
    if not signature:
        return "-"
    text = signature.split(" | ")[-1]
    return text if len(text) <= 48 else text[:47] + "…"


def _short(value: str | None, n: int = 8) -> str:
    return value[:n] if value else "-"


@main.command()
@click.option("--session", metavar="ID", default=None, help="Only this session (its id, or a unique prefix such as the 8 characters shown).")
@click.option("--window", "window_id", metavar="ID", default=None,
              help="Only work killed inside this outage window (ids from `claimback outages`).")
@click.option("--prompt", "with_prompt", is_flag=True,
              help="Print, per session, the text to paste after `claude --resume <session>`. Reads the "
              "original prompts from your transcripts; shown here only, never stored.")
@click.option("--all", "include_done", is_flag=True,
              help="With --prompt: also re-dispatch tasks that were already re-launched and completed.")
@json_option
@demo_option
@db_option
@source_option
@no_ingest_option
def resume(session: str | None, window_id: str | None, with_prompt: bool, include_done: bool, as_json: bool,
           demo: bool, db: str | None, sources: tuple[str, ...], no_ingest: bool) -> None:
    """List the subagent tasks and turns that outages killed, newest first, and how to re-run them.

    \b
    For each killed subagent task: description, subagent type, when it died, the tokens its run burned,
    what the parent was told (Claude Code has reported killed runs as "completed"), and whether it was
    already re-launched (a later launch with the same prompt that completed). Killed main-session turns
    are listed too: "done" when you re-submitted the prompt, "continued" when the session went on.

    \b
    Examples:
      claimback resume                    what outages killed, and what is still unfinished
      claimback resume --prompt           plus the text to paste after `claude --resume <session>`
      claimback resume --demo --prompt    on the built-in outage example
    """
    from claimback.prevent.resume import build_resume
    from claimback.workspace import open_workspace

    with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest) as ws:
        warn_roots(ws)
        report = build_resume(ws.ledger, session=session, window_id=window_id, with_prompts=with_prompt,
                              include_done=include_done)
        report.demo = ws.demo
    if as_json:
        print_json(dataclasses.asdict(report))
        return
    _render(report, with_prompt, include_done)


def _render(report, with_prompt: bool, include_done: bool) -> None:  # type: ignore[no-untyped-def]
    from claimback.outputs.terminal import console
    from rich.table import Table

    out = console()
    if not out.is_terminal:
        out.width = max(out.width, 110)  # piped or captured: do not squeeze the tables into 80 columns
    if report.demo:
        out.print("[dim]demo data: the built-in outage of 2026-05-15, in a temporary ledger[/]")
    scope = []
    if report.session_filter:
        scope.append(f"session {report.session_filter}")
    if report.window:
        scope.append(f"window {report.window['id']} ({report.window['start']} → {report.window['end']})")
    if not report.tasks and not report.turns:
        out.print("Nothing to resume: no subagent task or turn was killed by an outage"
                  + (f" in {', '.join(scope)}" if scope else "") + ".")
        for note in report.notes:
            out.print(f"  {note}")
        return

    if report.tasks:
        table = Table(title="Subagent tasks killed by an outage (newest first)", title_justify="left")
        for name, justify in (("died UTC", "left"), ("description", "left"), ("subagent type", "left"),
                              ("tokens burned", "right"), ("parent was told", "left"), ("session", "left"),
                              ("status", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for task in report.tasks:
            if task.status == "done":
                status = (f"[green]done[/]: re-launched {_hm(task.relaunched_ts)}"
                          + ("" if task.relaunched_session == task.session_id
                             else f" in {_short(task.relaunched_session)}")
                          + ("" if task.relaunch_match == "same prompt" else " (same description)"))
            else:
                status = "[yellow]pending[/]"
            told = task.parent_reported or "-"
            if told == "completed":
                told = "[red]completed (misreport)[/]"
            table.add_row(_hm(task.ended_ts), task.description or "-", task.subagent_type or "-",
                          f"{task.tokens_burned:,}", told, _short(task.session_id), status)
        out.print(table)
        burned = sum(t.tokens_burned for t in report.tasks)
        out.print(f"  {len(report.tasks)} task(s), {burned:,} tokens burned; "
                  f"{len(report.pending_tasks)} still pending.")
    if report.turns:
        table = Table(title="Main-session turns ended by an outage (newest first)", title_justify="left")
        for name, justify in (("died UTC", "left"), ("prompt sent", "left"), ("tokens burned", "right"),
                              ("session", "left"), ("status", "left"), ("last error", "left")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for turn in report.turns:
            status = {"done": f"[green]done[/]: re-submitted {_hm(turn.resubmitted_ts)}"
                      + ("" if turn.resubmitted_session == turn.session_id
                         else f" in {_short(turn.resubmitted_session)}"),
                      "continued": "[cyan]continued[/] in the same session",
                      "pending": "[yellow]pending[/]"}[turn.status]
            table.add_row(_hm(turn.ended_ts), _hm(turn.prompt_ts), f"{turn.tokens_burned:,}",
                          _short(turn.session_id), status, _brief(turn.cause_signature))
        out.print(table)
    for note in report.notes:
        out.print(f"[dim]note: {note}[/]")

    if not with_prompt:
        if report.plans:
            out.print("Next: [bold]claimback resume --prompt[/] prints what to paste after "
                      f"[bold]{report.plans[0].resume_command}[/].")
        else:
            out.print("[green]Everything the outage killed was already redone.[/] Nothing to re-run.")
        return
    out.print()
    if not report.plans:
        out.print("[green]Nothing to re-run:[/] every task the outage killed was already re-launched and "
                  "completed, and every cut-off prompt was re-submitted (see above). "
                  "Use [bold]--prompt --all[/] to build the prompt anyway.")
        return
    for plan in report.plans:
        out.print(f"[bold]Run:[/] {plan.resume_command}")
        out.print("[bold]Then paste:[/] [dim](prompt text read from your transcript; shown here only)[/]")
        out.print("-" * 72, markup=False)
        click.echo(plan.prompt, nl=False)
        out.print("-" * 72, markup=False)
    if include_done:
        out.print("[dim](--all: tasks already re-launched are included)[/]")
