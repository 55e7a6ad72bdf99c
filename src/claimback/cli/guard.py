"""`claimback guard install|uninstall|status|log|off|on` and `claimback hook EVENT`.

The hook normally never reaches click: the console script (`claimback.entry`) dispatches
`claimback hook …` straight to `claimback.prevent.hook`. The click command below exists for
`--help` and for callers that go through the group (`python -c "from claimback.cli import main"`).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

import click

from claimback.cli import main
from claimback.cli._common import ExistingDir, json_option, print_json

_SCOPE_HELP = ("Which Claude Code settings file: user (~/.claude/settings.json, or the first "
               "CLAUDE_CONFIG_DIR entry), project (.claude/settings.json) or local "
               "(.claude/settings.local.json, not committed).")


def _scope_option(func):  # type: ignore[no-untyped-def]
    return click.option("--scope", type=click.Choice(["user", "project", "local"]), default="user",
                        show_default=True, help=_SCOPE_HELP)(func)


def _project_option(func):  # type: ignore[no-untyped-def]
    return click.option("--project-dir", type=ExistingDir(), default=None,
                        help="Project root for --scope project/local (default: the current directory).")(func)


@main.group()
def guard() -> None:
    """Stop outages from burning more quota: hooks that pause subagent launches during an outage.

    \b
    claimback guard install     add the hooks to Claude Code's settings (backup first)
    claimback guard install --plugin   or: the Claude Code plugin (hooks + /claimback:* commands)
    claimback guard status      what is installed, and what the guard would decide now
    claimback guard log         recent hook decisions
    claimback guard off --for 30m   let launches through for a while
    claimback guard uninstall   remove exactly what install added

    Policy lives under [guard] in claimback's config.toml (block | warn | off per event,
    components, min_impact, burst thresholds); CLAIMBACK_GUARD=off disables the hooks.
    """


@guard.command("install")
@_scope_option
@_project_option
@click.option("--statusline", is_flag=True,
              help="Also make `claimback statusline` Claude Code's status line (records quota "
                   "snapshots; your previous status line command keeps running through it).")
@click.option("--plugin", is_flag=True,
              help="Install the claimback Claude Code plugin instead (hooks + /claimback:* commands), with "
                   "`claude plugin marketplace add` and `claude plugin install`; settings files are not touched. "
                   "A plugin cannot set the status line: use --statusline without --plugin for that.")
@click.option("--marketplace", "marketplace", metavar="SOURCE", default=None,
              help="With --plugin: where the marketplace is (a GitHub owner/repo, a git URL or a local clone; "
                   "default: claimback/claimback).")
@json_option
def install_cmd(scope: str, project_dir: str | None, statusline: bool, plugin: bool, marketplace: str | None,
                as_json: bool) -> None:
    """Merge claimback's hooks into a Claude Code settings file (idempotent; other hooks kept)."""
    from claimback.prevent.guard import install
    from claimback.prevent.guard_plugin import install_plugin

    if plugin or marketplace:
        if statusline:
            raise click.UsageError("a plugin cannot set Claude Code's status line: run `claimback guard install "
                                   "--statusline` (settings hooks + status line) instead of the plugin")
        done = install_plugin(**({"source": marketplace} if marketplace else {}), scope=scope, project_dir=project_dir)
        if as_json:
            print_json(asdict(done))
            return
        click.echo(done.message)
        return
    result = install(scope, statusline=statusline, project_dir=project_dir)
    _print_result(result, as_json)
    from claimback.prevent.guard_plugin import plugin_scopes

    doubled = plugin_scopes(project_dir)
    if doubled and not as_json:
        click.echo(f"note: the claimback plugin is also enabled ({', '.join(doubled)} settings): every hook would run "
                   "twice; keep one (`claude plugin disable claimback@claimback`, or `claimback guard uninstall`)",
                   err=True)
    if result.changed and not as_json:
        click.echo("Claude Code picks up hook changes in new sessions (or via /hooks).")


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        print_json(asdict(result))
        return
    click.echo(result.message)
    if result.backup:
        click.echo(f"backup: {result.backup}")


@guard.command("uninstall")
@_scope_option
@_project_option
@json_option
def uninstall_cmd(scope: str, project_dir: str | None, as_json: bool) -> None:
    """Remove only what `guard install` added (byte-for-byte restore when nothing else changed)."""
    from claimback.prevent.guard import uninstall

    _print_result(uninstall(scope, project_dir=project_dir), as_json)


@guard.command("status")
@_project_option
@json_option
def status_cmd(project_dir: str | None, as_json: bool) -> None:
    """Where the hooks are installed, the policy, and what the guard would decide right now."""
    from claimback.prevent.guard import status

    data = status(project_dir=project_dir)
    if as_json:
        print_json(data.to_dict())
        return
    from claimback.outputs.terminal import console, markup_safe, simple_table

    out = console()
    rows = []
    for s in data.scopes:
        state = s.problem or (", ".join(s.events) if s.events else ("not installed" if s.exists else "no file"))
        if s.missing:
            state += f" (missing: {', '.join(s.missing)})"
        if s.plugin:
            state = ("plugin claimback@claimback" if not s.events
                     else state + " + plugin (every hook runs twice: keep one)")
        rows.append([s.scope, s.path, state, "yes" if s.statusline else "-"])
    out.print(simple_table("guard hooks", ["scope", "settings file", "claimback hooks", "statusline"], rows))
    if data.hooks_inert:
        out.print(f"warning: {data.hooks_inert}", markup=False)
    if data.env_override:
        out.print(f"CLAIMBACK_GUARD={data.env_override} is set in this shell")
    if data.paused_until:
        out.print(f"paused until {data.paused_until} (`claimback guard on` ends the pause)")
    age = "no cache" if data.cache_age_s is None else f"{data.cache_age_s / 60:.0f} min old"
    out.print(f"status cache: {age}{'; ' + data.cache_problem if data.cache_problem else ''}")
    verdict = {"block": "would pause subagent launches", "monitoring": "would warn"}.get(
        data.level or "", "would allow")
    out.print(f"now: {markup_safe(data.outage)} → {verdict}")
    pol = data.policy
    out.print(f"policy: PreToolUse={pol['pre_tool_use']} UserPromptSubmit={pol['user_prompt_submit']} "
              f"SessionStart={pol['session_start']} StopFailure={pol['stop_failure']} "
              f"min_impact={pol['min_impact']} burst={pol['burst_failures']}/{pol['burst_window_minutes']}min")
    if data.policy_note:
        out.print(f"note: {data.policy_note}")
    out.print(f"decision log: {data.decision_log}")


@guard.command("log")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many decisions to show.")
@json_option
def log_cmd(limit: int, as_json: bool) -> None:
    """Recent hook decisions (allow / deny / warn / record), newest last."""
    from claimback.prevent.guard_state import read_log

    rows = read_log(limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no hook decisions yet")
        return
    from claimback.outputs.terminal import console, simple_table

    table_rows = []
    for r in rows:
        detail = r.get("why") or ""
        if r.get("incidents"):
            detail += f" [{', '.join(str(i) for i in r['incidents'])}]"
        if r.get("error"):
            detail += f" error: {r['error']}"
        table_rows.append([r.get("ts", ""), r.get("event") or "", r.get("decision", ""), detail,
                           f"{r.get('ms', '')}"])
    console().print(simple_table("guard decisions", ["time (UTC)", "event", "decision", "why", "ms"], table_rows))


@guard.command("off")
@click.option("--for", "duration", default="30m", show_default=True, help="How long: 30m, 2h, 1d.")
@json_option
def off_cmd(duration: str, as_json: bool) -> None:
    """Let subagent launches and prompts through for a while (the hooks stay installed)."""
    from claimback.prevent.guard_state import pause

    until = pause(duration)
    if as_json:
        print_json({"paused_until": until})
    else:
        click.echo(f"claimback guard paused until {until}; `claimback guard on` ends the pause")


@guard.command("on")
@json_option
def on_cmd(as_json: bool) -> None:
    """End a pause started by `claimback guard off`."""
    from claimback.prevent.guard_state import resume_guard

    was = resume_guard()
    if as_json:
        print_json({"was_paused": was})
    else:
        click.echo("claimback guard active again" if was else "claimback guard was not paused")


@main.command("hook", context_settings={"ignore_unknown_options": True})
@click.argument("event", type=click.Choice(["PreToolUse", "UserPromptSubmit", "SessionStart", "StopFailure", "SessionEnd"]))
def hook_cmd(event: str) -> None:
    """Run one Claude Code hook (reads the event JSON on stdin; used by `guard install`)."""
    from claimback.prevent.hook import run

    sys.exit(run([event]))
