"""claimback's Claude Code plugin as the guard installs it: the hooks file it ships (the same events
as `guard install` writes) and `guard install --plugin` through Claude Code's own CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from claimback.errors import BadInput, ClaimbackError
from claimback.prevent.guard_settings import (
    HOOK_EVENTS,
    HOOK_TIMEOUT_S,
    SCOPES,
    installed_events,
    parse_settings,
    read_file,
    settings_path,
)


PLUGIN_LAUNCHER = "${CLAUDE_PLUGIN_ROOT}/bin/claimback-run"


def plugin_hooks() -> dict[str, Any]:
    """The plugin's hooks/hooks.json: the same events, matchers and timeout as `guard install` writes,
    in exec form (`command` + `args`: no shell parses anything) through the plugin's launcher, which
    runs the installed claimback or `uvx claimback`. tests/test_plugin.py checks the file equals this."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event, matcher in HOOK_EVENTS:
        group: dict[str, Any] = {"matcher": matcher} if matcher else {}
        group["hooks"] = [{"type": "command", "command": PLUGIN_LAUNCHER, "args": ["hook", event],
                           "timeout": HOOK_TIMEOUT_S}]
        hooks[event] = [group]
    return {"description": "claimback's outage guard (docs/guard.md)", "hooks": hooks}


PLUGIN_ID = "claimback@claimback"  # plugin name @ marketplace name (.claude-plugin/marketplace.json)

MARKETPLACE_SOURCE = "claimback/claimback"  # the GitHub repository holding the marketplace


def plugin_enabled(data: dict[str, Any]) -> bool:
    """Whether a settings file's `enabledPlugins` turns claimback's plugin on (then its hooks run from it)."""
    enabled = data.get("enabledPlugins")
    return isinstance(enabled, dict) and enabled.get(PLUGIN_ID) is True


def plugin_scopes(project_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The scopes whose settings enable claimback's plugin."""
    found = []
    for scope in SCOPES:
        path = settings_path(scope, project_dir)
        try:
            if plugin_enabled(parse_settings(read_file(path), path)):
                found.append(scope)
        except BadInput:
            continue
    return found


@dataclass
class PluginInstallResult:
    source: str
    scope: str
    ran: list[list[str]]  # the `claude plugin ...` commands run (empty when `claude` is not on PATH)
    slash_commands: list[str]  # the same steps typed inside Claude Code
    installed: bool
    settings_hooks: list[str]  # scopes whose settings already hold `guard install`'s hooks
    message: str


def install_plugin(source: str = MARKETPLACE_SOURCE, scope: str = "user", *, claude: str | None = None,
                   project_dir: str | os.PathLike[str] | None = None) -> PluginInstallResult:
    """Add claimback's marketplace and install its plugin with Claude Code's own CLI (`claude plugin
    marketplace add` + `claude plugin install`); without `claude` on PATH, say the two slash commands.
    A plugin cannot set statusLine, so `guard install --statusline` stays the way to get quota snapshots."""
    if scope not in SCOPES:
        raise BadInput(f"unknown scope {scope!r} ({', '.join(SCOPES)})")
    slash = [f"/plugin marketplace add {source}", f"/plugin install {PLUGIN_ID}"]
    doubled = []
    for each in SCOPES:
        try:
            if installed_events(parse_settings(read_file(settings_path(each, project_dir)),
                                               settings_path(each, project_dir))):
                doubled.append(each)
        except BadInput:
            continue
    binary = claude or shutil.which("claude")
    ran: list[list[str]] = []
    if binary is None:
        message = ("`claude` is not on PATH; inside Claude Code, run:\n  " + "\n  ".join(slash))
        installed = False
    else:
        for argv in ([binary, "plugin", "marketplace", "add", source, "--scope", scope],
                     [binary, "plugin", "install", PLUGIN_ID, "--scope", scope]):
            ran.append(argv)
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ClaimbackError(f"{' '.join(argv[1:4])} failed: {exc}") from None
            if done.returncode != 0:
                why = (done.stderr or done.stdout).strip().splitlines()
                raise ClaimbackError(f"`claude {' '.join(argv[1:])}` failed: {why[-1] if why else done.returncode}")
        installed = True
        message = (f"installed the claimback plugin ({PLUGIN_ID}, {scope} scope) from {source}; new Claude Code "
                   "sessions run its hooks and offer /claimback:status, /claimback:loss, /claimback:claim, "
                   "/claimback:resume")
    if doubled:
        message += (f"\nnote: `guard install` hooks are also in the {', '.join(doubled)} settings; every hook would "
                    "run twice: remove them with `claimback guard uninstall --scope SCOPE` (keep the status line "
                    "with `claimback guard install --statusline` only if you want quota snapshots)")
    return PluginInstallResult(source, scope, ran, slash, installed, doubled, message)
