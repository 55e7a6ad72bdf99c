"""`claimback preflight`: a CI gate before an expensive Claude Code run."""

from __future__ import annotations

import os

import click

from claimback.cli import main
from claimback.cli._common import ExistingDir, json_option, print_json

_MARK = {"ok": "ok", "skip": "--", "warn": "WARN", "fail": "FAIL", "outage": "OUTAGE"}


@main.command("preflight")
@json_option
@click.option("--strict", is_flag=True, help="Treat warnings as failures (exit 1 instead of 3).")
@click.option("--github", "github", is_flag=True,
              help="Print GitHub Actions annotations (automatic when GITHUB_ACTIONS=true) and add a "
                   "table to the job summary.")
@click.option("--probe", "do_probe", is_flag=True,
              help="Also send one minimal real Messages request (max_tokens 1; costs a few tokens) to "
                   "ANTHROPIC_BASE_URL or api.anthropic.com.")
@click.option("--project-dir", type=ExistingDir(), default=None,
              help="Project whose .claude settings to read (default: the current directory).")
@click.option("--baseline", metavar="FILE", type=click.Path(dir_okay=False), default=None,
              help="A `doctor --out FILE.json` snapshot of a setup that works: fail (exit 1) when this setup "
                   "differs from it in a way likely to explain a failure, and print those differences.")
def preflight_cmd(as_json: bool, strict: bool, github: bool, do_probe: bool, project_dir: str | None,
                  baseline: str | None) -> None:
    """Check that a Claude Code run can start now: claude installed, credentials (names only),
    provider settings, model, Anthropic's status page, transcript retention.

    \b
    Exit codes: 0 ok · 1 a check failed (or, with --baseline, a likely difference from the working setup)
                3 warnings only (1 with --strict) · 75 Anthropic reports an active outage: retry later
    """
    from claimback.prevent.preflight import github_annotations, run_preflight, step_summary_markdown

    report = run_preflight(strict=strict, do_probe=do_probe, project_dir=project_dir)
    if baseline is not None:
        from claimback.prevent.preflight import baseline_check

        report = baseline_check(report, baseline, project_dir)
    in_actions = github or os.environ.get("GITHUB_ACTIONS") == "true"
    if as_json:
        print_json(report.to_dict())
    else:
        for check in report.checks:
            click.echo(f"{_MARK.get(check.status, check.status):>6}  {check.name:<10} {check.summary}")
        click.echo(f"preflight: {report.verdict} (exit {report.exit_code})")
    if in_actions:
        # Workflow commands go to stdout, where the runner reads them; with --json, to stderr so
        # that stdout stays one JSON document.
        for line in github_annotations(report):
            click.echo(line, err=as_json)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            try:
                with open(summary, "a", encoding="utf-8") as fh:
                    fh.write(step_summary_markdown(report))
            except OSError:
                pass
    click.get_current_context().exit(report.exit_code)
