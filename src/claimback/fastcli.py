"""`claimback usage daily|weekly|monthly|session|blocks --json`, answered before click is imported.

Scripts and status bars poll these reports, and an unchanged re-run is mostly start-up: click's import
alone (~55 ms: it loads `inspect`, `typing`, `enum`, `datetime`) was a third of one, more than the
report itself. So `entry.main` hands these argument lists here first. What this module reads is the
plain shapes scripts write: `--name VALUE`, `--name=VALUE`, `-x VALUE` and flags, each known below.
Anything else (`--help`, an unknown or misspelt option, a value outside an option's choices,
bundled short flags, `--`, a positional argument, a directory for `--pricing`, no `--json`) returns
None and click parses the whole line as before, with its own messages. Both paths then run `json_answer`,
so they print the same bytes; tests/test_fastcli.py checks the option table below against the click
commands' own (names, flags, choices, defaults, env var) and the outputs of both paths.

`json_answer` keeps the text it printed (ledger/report_cache.py) under `output_key`, so an unchanged
re-run is the interpreter, the changed-files check and one read: docs/design.md, "The kept --json text".
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing is part of what this path saves
if TYPE_CHECKING:
    from typing import Any

    from claimback.analysis.usage import UsageReport
    from claimback.ledger.changes import ProgressFn

FLAG, VALUE, MULTIPLE = "flag", "value", "multiple"

# option spelling -> (parameter name, arity, choices or None); the click options of cli/usage.py.
_REPORT_OPTIONS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "--since": ("since", VALUE, None),
    "--until": ("until", VALUE, None),
    "--json": ("as_json", FLAG, None),
    "-b": ("breakdown", FLAG, None), "--breakdown": ("breakdown", FLAG, None),
    "--no-cost": ("no_cost", FLAG, None),
    "-o": ("order", VALUE, ("asc", "desc")), "--order": ("order", VALUE, ("asc", "desc")),
    "-z": ("tz_name", VALUE, None), "--timezone": ("tz_name", VALUE, None),
    "-m": ("mode", VALUE, ("auto", "calculate", "display")),
    "--mode": ("mode", VALUE, ("auto", "calculate", "display")),
    "--pricing": ("pricing_file", VALUE, None),
    "--db": ("db", VALUE, None),
    "--source": ("sources", MULTIPLE, None),
    "--no-ingest": ("no_ingest", FLAG, None),
    "--demo": ("demo", FLAG, None),
}
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
COMMAND_OPTIONS: dict[str, dict[str, tuple[str, str, tuple[str, ...] | None]]] = {
    "daily": {**_REPORT_OPTIONS, "-p": ("project", VALUE, None), "--project": ("project", VALUE, None),
              "-i": ("instances", FLAG, None), "--instances": ("instances", FLAG, None)},
    "weekly": {**_REPORT_OPTIONS, "-w": ("start_of_week", VALUE, _WEEKDAYS),
               "--start-of-week": ("start_of_week", VALUE, _WEEKDAYS)},
    "monthly": dict(_REPORT_OPTIONS),
    "session": {**_REPORT_OPTIONS, "--subagents": ("subagents", FLAG, None)},
    # --live (a terminal view) and its --refresh-interval / --max-refreshes are click's
    "blocks": {**_REPORT_OPTIONS, "-a": ("active_only", FLAG, None), "--active": ("active_only", FLAG, None),
               "-r": ("recent", FLAG, None), "--recent": ("recent", FLAG, None),
               "-t": ("token_limit", VALUE, None), "--token-limit": ("token_limit", VALUE, None)},
}
DEFAULTS: dict[str, object] = {"order": "asc", "mode": "auto", "start_of_week": "sunday"}
DB_ENVVAR = "CLAIMBACK_DB"


def parse_usage_json(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """`argv` after the program name → (report kind, the keyword arguments click would pass), or None
    when click must parse it."""
    if len(argv) < 3 or argv[0] != "usage" or argv[1] not in COMMAND_OPTIONS:
        return None
    kind, spec = argv[1], COMMAND_OPTIONS[argv[1]]
    options: dict[str, Any] = {name: DEFAULTS.get(name, False if arity == FLAG else None)
                               for name, arity, _ in spec.values()}
    options["sources"] = []
    words = argv[2:]
    i = 0
    while i < len(words):
        word = words[i]
        spelling, attached = word.split("=", 1) if word.startswith("--") and "=" in word else (word, None)
        known = spec.get(spelling)
        if known is None:
            return None
        name, arity, choices = known
        if arity == FLAG:
            if attached is not None:
                return None
            options[name] = True
            i += 1
            continue
        if attached is None:
            if i + 1 >= len(words):
                return None
            value, i = words[i + 1], i + 2
        else:
            value, i = attached, i + 1
        if choices is not None and value not in choices:  # click takes the next word whatever it is
            return None
        if arity == MULTIPLE:
            options[name].append(value)
        else:
            options[name] = value
    if not options["as_json"]:
        return None
    if options["pricing_file"] is not None and os.path.isdir(options["pricing_file"]):
        return None  # click's message for a directory
    if options["db"] is None:
        options["db"] = os.environ.get(DB_ENVVAR) or None  # click skips an empty variable too
    options["sources"] = tuple(options["sources"])
    return kind, options


def usage_output(kind: str, since: str | None, until: str | None, tz_name: str | None, mode: str,
                 pricing_file: str | None, db: str | None, sources: tuple[str, ...], no_ingest: bool,
                 demo: bool, progress: ProgressFn | None = None, warn: Any = None,
                 **extra: Any) -> UsageReport:
    """The usage report both command lines print: the range parsed, the pricing table loaded, the ledger
    brought up to date (unless `no_ingest`), `warn(line)` called with the unreadable-roots warning."""
    return _report(kind, since, until, tz_name, mode, pricing_file, db, sources, no_ingest, demo, progress,
                   warn, None, **extra)


def json_answer(kind: str, *, cost: bool, progress: ProgressFn | None = None, warn: Any = None,
                **options: Any) -> str:
    """The text `usage KIND --json` prints (both command lines), from `report_cache` when nothing it
    depends on changed since it was computed (`output_key`, ledger/report_cache.py): then neither the
    report modules nor the parser are imported. `options` are the report's (`subagents` among them for
    the session report)."""
    subagents = bool(options.get("subagents"))
    key = output_key(kind, options, cost=cost)
    if key is not None:
        text = _cached_answer(key, options["db"], options["sources"], options["no_ingest"], warn)
        if text is not None:
            return text

    def render(report: UsageReport) -> str:
        from claimback.analysis.usage import to_ccusage_json
        from claimback.outputs.redact import printable_json

        return printable_json(to_ccusage_json(report, subagents=subagents, cost=cost)) + "\n"

    return _report(kind, progress=progress, warn=warn, render=render, cache_key=key, **options)


def _report(kind: str, since: str | None, until: str | None, tz_name: str | None, mode: str,
            pricing_file: str | None, db: str | None, sources: tuple[str, ...], no_ingest: bool, demo: bool,
            progress: ProgressFn | None, warn: Any, render: Any, cache_key: str | None = None,
            **extra: Any) -> Any:
    """The report (or `render(report)`, kept under `cache_key` when one is given)."""
    from claimback.analysis.pricing import PricingTable
    from claimback.analysis.usage import usage_report
    from claimback.core.times import parse_range
    from claimback.ledger.report_cache import ledger_token, remember
    from claimback.workspace import open_workspace

    first, last = parse_range(since, until)
    table = PricingTable.load(pricing_file)
    with open_workspace(db, sources, demo=demo, run_ingest=not no_ingest, progress=progress) as ws:
        # Read before the report: a write landing while it runs then makes the kept text a miss next time.
        token = ledger_token(ws.ledger) if cache_key else None
        report = usage_report(ws.ledger, kind, since=first, until=last, tz_name=tz_name, mode=mode,
                              pricing=table, **extra)
        report.demo = ws.demo
        result = render(report) if render is not None else report
        if cache_key and token is not None:
            remember(ws.ledger, cache_key, token, result)
        line = ws.warning_line()  # `ingest` errors on this; a report goes on with the ledger
        if line and warn is not None:
            warn(line)
    return result


# The reports whose --json text is kept: `blocks` depends on the clock's minute (the active block).
CACHED_KINDS = ("daily", "weekly", "monthly", "session")
_NOT_IN_KEY = ("db", "sources", "no_ingest", "demo")


def output_key(kind: str, options: dict[str, Any], *, cost: bool, clock: float | None = None) -> str | None:
    """What the `--json` text of `usage KIND` depends on beyond the ledger, as a cache key: the options,
    the pricing file's identity, the time zone, today's date (in UTC and locally, for relative ranges and
    the zone's offsets this year) and claimback's own files. None when the text is not kept: `blocks`,
    `--demo` (a fresh ledger each run), or a pricing file that cannot be read (the report says why)."""
    import time

    from claimback.core.digest import sha256

    if kind not in CACHED_KINDS or options.get("demo"):
        return None
    parts: list[Any] = ["usage-json", kind, cost,
                        sorted((k, repr(v)) for k, v in options.items() if k not in _NOT_IN_KEY)]
    pricing_file = options.get("pricing_file")
    if pricing_file:
        try:
            st = os.stat(pricing_file)
        except OSError:
            return None
        parts.append((os.path.realpath(pricing_file), st.st_size, st.st_mtime_ns, st.st_ino))
    now = time.time() if clock is None else clock
    parts += [os.environ.get("TZ"), os.path.realpath("/etc/localtime"), time.tzname, time.timezone,
              time.altzone, time.strftime("%Y-%m-%d %z", time.localtime(now)),
              time.strftime("%Y-%m-%d", time.gmtime(now)), _code_signature()]
    return "json:" + sha256(repr(parts).encode()).hexdigest()[:32]


def _code_signature() -> list[tuple[str, int, int]]:
    """Every file of the installed package (its modules and bundled data, such as the pricing table) by
    name, size and mtime: an upgrade or an edit makes every kept text a miss. ~100 stats."""
    root = os.path.dirname(os.path.abspath(__file__))
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            files.append((os.path.join(dirpath[len(root):], name), st.st_size, st.st_mtime_ns))
    return files


def _cached_answer(key: str, db: str | None, sources: tuple[str, ...], no_ingest: bool, warn: Any) -> str | None:
    """The kept text for `key` when no transcript changed (what the report's incremental ingest would
    find) and the ledger reads as it did then; None sends the run down the full path, which also gives
    any error its own words and order."""
    from claimback.config import machine_id
    from claimback.errors import ClaimbackError
    from claimback.ledger.filestate import nothing_to_ingest
    from claimback.ledger.report_cache import cached, ledger_token
    from claimback.ledger.store import open_ledger, restore_deferred_indexes
    from claimback.sources.discovery import report_roots, roots_warning_line

    try:
        roots, warning = report_roots(sources)
        ledger = open_ledger(db)
    except ClaimbackError:
        return None
    try:
        if not no_ingest and roots:
            if not nothing_to_ingest(ledger, roots, machine_id()):
                return None
            restore_deferred_indexes(ledger)  # as the incremental ingest does when it finds nothing
        text = cached(ledger, key, ledger_token(ledger))
    except ClaimbackError:
        return None
    finally:
        ledger.close()
    line = roots_warning_line(warning)
    if text is not None and line and warn is not None:
        warn(line)
    return text


def run(argv: list[str]) -> int | None:
    """Answer `argv` (after the program name) and return the exit code, or None for click to answer it."""
    parsed = parse_usage_json(argv)
    if parsed is None:
        return None
    kind, options = parsed
    from claimback.errors import ClaimbackError

    cost = not options.pop("no_cost")
    options.pop("as_json")
    options.pop("breakdown")  # a table option: --json ignores it, as the click command does
    try:
        sys.stdout.write(json_answer(kind, cost=cost, warn=_warn, **options))
        sys.stdout.flush()
    except ClaimbackError as exc:
        _warn(f"claimback: error: {exc}", red=True)
        return exc.exit_code
    except KeyboardInterrupt:
        _warn("claimback: interrupted")
        return 130
    except BrokenPipeError:
        # The reader left (`| head`): nothing more to say, and the interpreter's own flush at exit must
        # not fail on the same pipe.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives until exit)
        return 0
    return 0


def _warn(line: str, red: bool = False) -> None:
    # click.secho(..., fg="red") colours only a terminal; the same here.
    if red and sys.stderr.isatty():
        line = f"\x1b[31m{line}\x1b[0m"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
