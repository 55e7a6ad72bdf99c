"""`usage … --json` before click (claimback.fastcli): the same options as the click commands, the same
parse, and the same bytes, exit code and stderr as click's path, or click's path itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from claimback.cli.usage import usage
from claimback.fastcli import COMMAND_OPTIONS, DB_ENVVAR, FLAG, MULTIPLE, parse_usage_json
from test_usage import SID_A, SID_B, request, write

# The --live view is click's.
_CLICKS_ONLY = {"blocks": {"live", "refresh_interval", "max_refreshes"}}


@pytest.mark.parametrize("kind", sorted(COMMAND_OPTIONS))
def test_the_option_table_is_the_click_commands(kind: str) -> None:
    command = usage.commands[kind]
    spec = COMMAND_OPTIONS[kind]
    seen: set[str] = set()
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in _CLICKS_ONLY.get(kind, set()):
            continue
        for spelling in (*param.opts, *param.secondary_opts):
            assert spelling in spec, f"{kind}: click's {spelling} is not in the fast table"
            name, arity, choices = spec[spelling]
            assert name == param.name
            assert (arity == FLAG) == param.is_flag and (arity == MULTIPLE) == param.multiple
            click_choices = tuple(param.type.choices) if isinstance(param.type, click.Choice) else None
            assert choices == click_choices
            seen.add(spelling)
        assert param.envvar == (DB_ENVVAR if param.name == "db" else None)
    assert seen == set(spec), f"{kind}: the fast table knows options click does not: {set(spec) - seen}"


def _click_params(argv: list[str]) -> dict:
    command = usage.commands[argv[1]]
    ctx = command.make_context(argv[1], list(argv[2:]))
    params = dict(ctx.params)
    for name in _CLICKS_ONLY.get(argv[1], set()):
        params.pop(name)
    return params


FAST = [
    *(["usage", kind, "--json"] for kind in sorted(COMMAND_OPTIONS)),  # every default as click's
    ["usage", "daily", "--json", "--mode", "calculate", "--db", "x.sqlite3", "--source", "a", "--source", "b"],
    ["usage", "daily", "--db=x.sqlite3", "-m", "display", "--json", "-o", "desc", "-z", "UTC", "-p", "-home-u",
     "-i", "--since", "20260501", "--until=2026-05-31", "--no-ingest", "--breakdown", "--no-cost"],
    ["usage", "weekly", "--json", "-w", "monday", "--start-of-week", "friday"],
    ["usage", "monthly", "--json", "--order=desc", "--order", "asc"],
    ["usage", "session", "--json", "--subagents", "--source=one"],
    ["usage", "blocks", "--json", "--active", "-r", "-t", "max", "--demo"],
    ["usage", "daily", "--db", "--json", "--json", "-p", "--help"],  # a value is the next word, as in click
]
CLICKS = [
    ["usage", "daily"],  # a table
    ["usage", "daily", "--json", "--help"],
    ["usage", "daily", "--json", "-h"],
    ["usage", "daily", "--json", "--mode", "sometimes"],  # click names the choices
    ["usage", "daily", "--json", "--mode"],  # no value
    ["usage", "daily", "--json", "-bi"],  # bundled short flags
    ["usage", "daily", "--json", "-mcalculate"],  # an attached short value
    ["usage", "daily", "--json", "--json=1"],
    ["usage", "daily", "--json", "--jsn"],
    ["usage", "daily", "--json", "--", "x"],
    ["usage", "daily", "--json", "extra"],
    ["usage", "weekly", "--json", "--subagents"],  # another command's option
    ["usage", "blocks", "--json", "--live"],
    ["usage", "blocks", "--json", "--refresh-interval", "5"],
    ["usage", "hourly", "--json"],
    ["usage", "--json", "daily"],
    ["usage", "daily", "--json", "--pricing", "."],  # a directory: click's message
]


@pytest.mark.parametrize("argv", FAST, ids=" ".join)
def test_the_fast_parse_is_clicks(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENVVAR, raising=False)
    parsed = parse_usage_json(argv)
    assert parsed is not None and parsed[0] == argv[1]
    expected = _click_params(argv)
    assert parsed[1] == expected


@pytest.mark.parametrize("argv", CLICKS, ids=" ".join)
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    assert parse_usage_json(argv) is None


@pytest.mark.parametrize("value", ["env.sqlite3", ""])
def test_the_ledger_env_var_is_read_as_click_reads_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_ENVVAR, value)
    argv = ["usage", "daily", "--json"]
    assert parse_usage_json(argv)[1] == _click_params(argv)
    assert parse_usage_json([*argv, "--db", "flag.sqlite3"])[1]["db"] == "flag.sqlite3"


_VIA_CLICK = "import sys\nfrom claimback.cli import main\nmain(sys.argv[1:], prog_name='claimback')"
_VIA_ENTRY = ("import sys\nfrom claimback.entry import main\nsys.argv[0] = 'claimback'\ntry:\n    main()\n"
              "finally:\n    print('click' in sys.modules, file=sys.stderr)")


def _both(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    fast = subprocess.run([sys.executable, "-c", _VIA_ENTRY, *argv], capture_output=True, text=True, env=env,
                          timeout=120)
    slow = subprocess.run([sys.executable, "-c", _VIA_CLICK, *argv], capture_output=True, text=True, env=env,
                          timeout=120)
    return fast, slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fastcli") / "claude"
    write(root, SID_A, [request("2026-05-15T10:00:00.000Z", 10, 20, cw=30, cr=40),
                        request("2026-05-15T23:30:00.000Z", 5, 7, model="claude-opus-4-6"),
                        request("2026-05-16T01:00:00.000Z", 1, 2, model="claude-nova-1")])
    write(root, SID_B, [request("2026-05-20T12:00:00.000Z", 100, 200, sid=SID_B, cost=0.5)])
    return root / "projects"


SAME = [
    ["usage", "daily", "--json", "--timezone", "UTC"],
    ["usage", "daily", "--json", "--timezone", "Asia/Tokyo", "--mode", "calculate", "--order", "desc", "-i"],
    ["usage", "daily", "--json", "--since", "2026-05-16", "--until", "20260531", "--no-cost"],
    ["usage", "weekly", "--json", "-z", "UTC", "-w", "monday"],
    ["usage", "monthly", "--json", "-m", "display"],
    ["usage", "session", "--json", "--subagents", "-z", "UTC"],
    ["usage", "blocks", "--json", "-t", "max"],
    ["usage", "daily", "--json", "--since", "yesterday-ish"],  # exit 2, one line
    ["usage", "daily", "--json", "--since", "2026-06-01", "--until", "2026-05-01"],
    ["usage", "daily", "--json", "--timezone", "Nowhere/Land"],
    ["usage", "daily", "--json", "--pricing", "missing.json"],
    ["usage", "daily", "--json", "--db", "mysql://u:secret@h/db"],
]


@pytest.mark.parametrize("argv", SAME, ids=" ".join)
def test_both_paths_print_the_same(argv: list[str], corpus: Path, tmp_path: Path) -> None:
    env = dict(os.environ, CLAIMBACK_HOME=str(tmp_path / "home"), TZ="UTC")
    env.pop(DB_ENVVAR, None)
    sources = ["--source", str(corpus)]
    db = [] if "--db" in argv else ["--db", str(tmp_path / "l.sqlite3")]
    first, _ = _both([*argv, *db, *sources], env)
    # the second run of each is the unchanged re-run (the first ingested; the kept text, where there is one)
    fast, slow = _both([*argv, *db, *sources], env)
    assert (first.returncode, first.stdout) == (fast.returncode, fast.stdout)
    assert fast.stderr.splitlines()[-1] == "False", "the fast path imported click"
    assert (fast.returncode, fast.stdout, fast.stderr.splitlines()[:-1]) == (
        slow.returncode, slow.stdout, slow.stderr.splitlines())
    if fast.returncode == 0:
        assert fast.stdout.startswith("{") and "Traceback" not in fast.stderr
    else:
        assert fast.returncode == 2 and len(fast.stderr.splitlines()) == 2 and "secret" not in fast.stderr


def test_an_unreadable_config_dir_warns_alike_and_the_env_ledger_is_used(corpus: Path, tmp_path: Path) -> None:
    env = dict(os.environ, CLAIMBACK_HOME=str(tmp_path / "home"), TZ="UTC",
               CLAUDE_CONFIG_DIR=str(tmp_path / "nowhere"), HOME=str(tmp_path))
    env[DB_ENVVAR] = str(tmp_path / "env.sqlite3")
    fast, slow = _both(["usage", "daily", "--json"], env)
    assert fast.returncode == slow.returncode == 0 and fast.stdout == slow.stdout
    assert fast.stderr.splitlines()[:-1] == slow.stderr.splitlines() and "warning:" in slow.stderr
    assert (tmp_path / "env.sqlite3").exists()


def test_a_closed_pipe_ends_quietly(corpus: Path, tmp_path: Path) -> None:
    env = dict(os.environ, CLAIMBACK_HOME=str(tmp_path / "home"), TZ="UTC")
    argv = ["usage", "daily", "--json", "--db", str(tmp_path / "l.sqlite3"), "--source", str(corpus)]
    proc = subprocess.Popen([sys.executable, "-m", "claimback", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Traceback" not in err and "Exception ignored" not in err
