"""Every command on wrong input: one line on stderr, never a traceback, exit 2 for bad usage (1 for a
runtime failure such as a damaged ledger), nothing half-written (docs/reliability.md, "Bad input").

The paths are what a demanding user (as root here, so a chmod 000 stops nobody) can still get wrong: a
missing path, a directory for a file and a file for a directory, a FIFO, a dangling link, a path under a
regular file, an empty or binary file, a ledger that is corrupt, truncated, from a newer claimback or
not a ledger at all, and option values out of range or not of their kind. Each case builds its own
files (tmp_path), so no case sees what another wrote.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.cli import main
from claimback.ledger import open_ledger


def _good_ledger(tmp: Path) -> Path:
    path = tmp / "good.sqlite3"
    if not path.exists():
        open_ledger(path).close()
    return path


def _make(kind: str, tmp: Path) -> str:
    """A path of the given kind under tmp."""
    p = tmp / "bad"
    p.mkdir(exist_ok=True)
    if kind == "missing":
        return str(p / "no" / "such")
    if kind == "dir":
        (p / "adir").mkdir(exist_ok=True)
        return str(p / "adir")
    if kind == "fifo":
        os.mkfifo(p / "fifo")
        return str(p / "fifo")
    if kind == "dangling":
        (p / "dangling").symlink_to(p / "nowhere")
        return str(p / "dangling")
    if kind == "under-file":
        (p / "afile").write_text("x\n")
        return str(p / "afile" / "sub")
    if kind == "file":
        (p / "afile").write_text("x\n")
        return str(p / "afile")
    if kind == "empty":
        (p / "empty.json").write_bytes(b"")
        return str(p / "empty.json")
    if kind == "binary":
        (p / "binary.json").write_bytes(bytes(range(256)) * 16)
        return str(p / "binary.json")
    if kind == "deep-json":
        (p / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
        return str(p / "deep.json")
    if kind == "corrupt-ledger":
        (p / "corrupt.sqlite3").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 20)
        return str(p / "corrupt.sqlite3")
    if kind == "text-ledger":
        (p / "notes.sqlite3").write_text("not a database\n" * 50)
        return str(p / "notes.sqlite3")
    if kind == "truncated-ledger":
        data = _good_ledger(tmp).read_bytes()
        (p / "cut.sqlite3").write_bytes(data[: len(data) // 3])
        return str(p / "cut.sqlite3")
    if kind == "future-ledger":
        shutil.copy(_good_ledger(tmp), p / "future.sqlite3")
        with sqlite3.connect(p / "future.sqlite3") as conn:
            conn.execute("INSERT INTO schema_migrations VALUES (99999, 'from the future', '2030-01-01', '9.0')")
        return str(p / "future.sqlite3")
    if kind == "url":
        return "mysql://someone:secret@db.example/ledger"
    raise AssertionError(kind)


def _snapshot(tmp: Path) -> dict[str, bytes | None]:
    """Every file under tmp/bad and the working directory, to show nothing was written or created."""
    out: dict[str, bytes | None] = {}
    for base in (tmp / "bad", Path.cwd()):
        for dirpath, dirnames, filenames in os.walk(base):
            for name in dirnames + filenames:
                full = Path(dirpath, name)
                if name.startswith("good.sqlite3") or name.endswith(("-wal", "-shm")):
                    continue  # the working ledger (a report may store incidents first) and SQLite's own files
                if full.is_fifo() or full.is_symlink() or full.is_dir():
                    out[str(full)] = None
                elif full.is_file():
                    out[str(full)] = full.read_bytes()
    return out


def _one_line(args: list[str], exit_code: int, fragment: str, tmp: Path, *, created_ok: bool = False) -> None:
    before = _snapshot(tmp)
    result = CliRunner().invoke(main, args, input="")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args} crashed: {result.exception!r}")
    assert "Traceback" not in result.output
    assert result.exit_code == exit_code, (args, result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    if lines and lines[0].startswith("Usage:"):  # click's own bad-usage form: usage, hint, one Error line
        errors = [line for line in lines if line.startswith("Error:")]
        assert len(errors) == 1, result.stderr
        message = errors[0]
    else:
        assert len(lines) == 1 and lines[0].startswith("claimback: error: "), (args, result.stderr)
        message = lines[0]
    assert fragment in message, (args, message)
    assert "secret" not in result.output  # a URL's password is never shown
    if "--json" in args:
        assert result.stdout == ""  # no half of a JSON document
    if not created_ok:
        assert _snapshot(tmp) == before, args  # nothing written, nothing created


# -- --db: a ledger that is not one ------------------------------------------------------------------------
REPORTS = [["ledger", "info"], ["usage", "daily", "--no-ingest"], ["loss", "--no-ingest", "--offline"],
           ["outages", "--no-ingest", "--offline"], ["resume", "--no-ingest"], ["status", "--offline"],
           ["team", "report", "--offline"], ["doctor", "verify", "--no-ingest"],
           ["claim", "--no-ingest", "--offline"], ["audit", "--no-ingest", "--offline", "--no-packet"],
           ["ledger", "vacuum"], ["team", "register"]]
LEDGERS: dict[str, tuple[int, str]] = {
    "dir": (2, "is a directory; give a file"),
    "fifo": (2, "is not a regular file"),
    "under-file": (2, "is a file, not a directory"),
    "url": (2, "is not a ledger: give a SQLite file path or a postgresql:// URL"),
    "corrupt-ledger": (1, "is it a claimback ledger?"),
    "text-ledger": (1, "is it a claimback ledger?"),
    "truncated-ledger": (1, "is it a claimback ledger?"),
    "future-ledger": (1, "was written by a newer claimback"),
}


@pytest.mark.parametrize("kind", sorted(LEDGERS))
@pytest.mark.parametrize("command", REPORTS, ids=lambda c: " ".join(c[:2]))
def test_a_ledger_that_is_not_one_is_one_line_and_left_alone(tmp_path: Path, command: list[str], kind: str) -> None:
    db = _make(kind, tmp_path)
    code, fragment = LEDGERS[kind]
    if command[0] == "ledger" and kind == "under-file":
        code, fragment = 2, "no ledger at"  # ledger info/vacuum never create one, whatever is in the way
    args = command + ["--db", db] + ([] if command[0] == "ledger" and command[1] == "vacuum" else ["--json"])
    _one_line(args, code, fragment, tmp_path)


def test_doctor_reports_a_ledger_that_is_not_one_and_checks_the_rest(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["doctor", "--no-ingest", "--db", _make("dir", tmp_path), "--json"])
    assert result.exit_code in (0, 1, 3) and "is a directory; give a file" in result.stdout, result.output


# -- files given as arguments and options ---------------------------------------------------------------
def _file_cases() -> list[tuple[str, Callable[[Path, str], list[str]], str, int, str]]:
    db = lambda tmp: str(_good_ledger(tmp))  # noqa: E731
    return [
        ("outages import", lambda t, p: ["outages", "import", p, "--db", db(t), "--json"], "fifo", 2, "not a regular file"),
        ("outages import", lambda t, p: ["outages", "import", p, "--db", db(t)], "dir", 2, "is a directory"),
        ("outages import", lambda t, p: ["outages", "import", p, "--db", db(t)], "under-file", 2, "cannot read"),
        ("outages import", lambda t, p: ["outages", "import", p, "--db", db(t)], "binary", 2, "not UTF-8"),
        ("outages import", lambda t, p: ["outages", "import", p, "--db", db(t)], "empty", 2, "unknown format"),
        ("outages import", lambda t, p: ["outages", "import", p, "--db", db(t)], "deep-json", 2, "unknown format"),
        ("ledger import", lambda t, p: ["ledger", "import", p, "--db", db(t), "--json"], "deep-json", 2, "not a JSON line"),
        ("doctor compare", lambda t, p: ["doctor", "compare", p], "deep-json", 2, "not JSON"),
        ("doctor --out", lambda t, p: ["doctor", "--no-ingest", "--db", db(t), "--out", p], "fifo", 2, "not a regular file"),
        ("doctor --out", lambda t, p: ["doctor", "--no-ingest", "--db", db(t), "--out", p], "under-file", 2, "is not a directory"),
        ("doctor --out", lambda t, p: ["doctor", "--no-ingest", "--db", db(t), "--out", p], "dir", 2, "is a directory"),
        ("doctor compare", lambda t, p: ["doctor", "compare", p, "--json"], "fifo", 2, "not a regular file"),
        ("doctor compare", lambda t, p: ["doctor", "compare", p], "binary", 2, "not JSON"),
        ("doctor compare", lambda t, p: ["doctor", "compare", p], "under-file", 2, "cannot read"),
        ("doctor compare", lambda t, p: ["doctor", "compare", p], "missing", 2, "no such file"),
        ("preflight --baseline", lambda t, p: ["preflight", "--baseline", p, "--json"], "fifo", 2, "not a regular file"),
        ("ledger import", lambda t, p: ["ledger", "import", p, "--db", db(t)], "fifo", 2, "is not a file"),
        ("ledger import", lambda t, p: ["ledger", "import", p, "--db", db(t)], "binary", 2, "not a JSON line"),
        ("ledger export", lambda t, p: ["ledger", "export", "--db", db(t), "--out", p], "under-file", 2, "cannot write"),
        ("ledger export", lambda t, p: ["ledger", "export", "--db", db(t), "--out", p], "fifo", 2, "already exists"),
        ("--pricing", lambda t, p: ["loss", "--no-ingest", "--offline", "--db", db(t), "--pricing", p, "--json"], "fifo", 2, "not a regular file"),
        ("--pricing", lambda t, p: ["usage", "daily", "--no-ingest", "--db", db(t), "--pricing", p], "binary", 2, "not JSON"),
        ("claim --out", lambda t, p: ["claim", "--no-ingest", "--offline", "--db", db(t), "--out", p], "fifo", 2, "not a directory"),
        ("claim --out", lambda t, p: ["claim", "--no-ingest", "--offline", "--db", db(t), "--out", p], "file", 2, "is a file"),
        ("--project-dir", lambda t, p: ["guard", "install", "--scope", "project", "--project-dir", p], "fifo", 2, "is not a directory"),
        ("--project-dir", lambda t, p: ["guard", "status", "--project-dir", p, "--json"], "missing", 2, "does not exist"),
        ("--project-dir", lambda t, p: ["guard", "uninstall", "--scope", "local", "--project-dir", p], "under-file", 2, "does not exist"),
        ("--project-dir", lambda t, p: ["preflight", "--project-dir", p], "fifo", 2, "is not a directory"),
        ("--project", lambda t, p: ["doctor", "--no-ingest", "--db", db(t), "--project", p], "fifo", 2, "is not a directory"),
        ("--source", lambda t, p: ["usage", "daily", "--db", db(t), "--source", p, "--json"], "fifo", 2, "neither a directory nor"),
        ("--source", lambda t, p: ["ingest", "--db", db(t), "--source", p], "file", 2, "neither a directory nor"),
        ("--source", lambda t, p: ["loss", "--offline", "--db", db(t), "--source", p], "missing", 2, "does not exist"),
        ("--source", lambda t, p: ["audit", "--offline", "--no-packet", "--db", db(t), "--source", p], "dangling", 2, "does not exist"),
        ("--source", lambda t, p: ["claim", "--offline", "--db", db(t), "--source", p], "under-file", 2, "does not exist"),
    ]


@pytest.mark.parametrize("name, build, kind, code, fragment", _file_cases(),
                         ids=[f"{c[0]}-{c[2]}" for c in _file_cases()])
def test_a_wrong_path_is_one_line_and_nothing_is_written(tmp_path: Path, name: str, build, kind: str, code: int,
                                                         fragment: str) -> None:
    _good_ledger(tmp_path)
    args = build(tmp_path, _make(kind, tmp_path))
    _one_line(args, code, fragment, tmp_path)


# -- option values ---------------------------------------------------------------------------------------
VALUES = [
    (["usage", "daily", "--since", "9999999d"], "is not a date"),
    (["loss", "--offline", "--until", "99999999w", "--json"], "is not a date"),
    (["outages", "--offline", "--since", "2026-02-30"], "is not a date"),
    (["team", "report", "--offline", "--since", "2026-05-15", "--until", "2026-05-01"], "the period is empty"),
    (["usage", "blocks", "-z", "Mars/Olympus"], "unknown timezone"),
    (["usage", "daily", "-z", "../../etc/passwd", "--json"], "unknown timezone"),
    (["usage", "blocks", "--token-limit", "-5"], "must be a positive number"),
    (["usage", "blocks", "--token-limit", "1e400"], "is not a number of tokens"),
    (["usage", "blocks", "--live", "--refresh-interval", "nan"], "is not a number"),
    (["usage", "daily", "--order", "sideways"], "is not one of"),
    (["usage", "weekly", "--start-of-week", "someday"], "is not one of"),
    (["loss", "--offline", "--plan", "platinum"], "is not one of"),
    (["loss", "--offline", "--window", "../../x"], "no outage window"),
    (["claim", "--offline", "--window", "nope", "--json"], "no outage window"),
    (["resume", "--window", "nope"], "no outage window"),
    (["guard", "off", "--for", "1e9h"], "is not a duration"),
    (["guard", "off", "--for", "1000000d", "--json"], "between 1 second and 30 days"),
    (["guard", "log", "--limit", "-1"], "is not in the range"),
    (["otel", "serve", "--max-body-mb", "nan"], "is not a number"),
    (["otel", "serve", "--port", "70000"], "is not in the range"),
    (["ledger", "export", "--format", "csv"], "is not 'jsonl'"),
]


@pytest.mark.parametrize("args, fragment", VALUES, ids=[" ".join(a) for a, _ in VALUES])
def test_a_bad_option_value_is_one_line_of_bad_usage(tmp_path: Path, args: list[str], fragment: str) -> None:
    db = [] if args[0] == "guard" else ["--db", str(_good_ledger(tmp_path))]
    if args[0] in ("usage", "loss", "outages", "claim", "resume"):
        db.append("--no-ingest")
    _one_line(args + db, 2, fragment, tmp_path)


def test_an_empty_or_binary_transcript_is_read_as_nothing(tmp_path: Path) -> None:
    root = tmp_path / "projects" / "-home-u-app"
    root.mkdir(parents=True)
    (root / "58ef7597-0000-4000-8000-000000000001.jsonl").write_bytes(b"")
    (root / "58ef7597-0000-4000-8000-000000000002.jsonl").write_bytes(bytes(range(256)) * 64)
    db = str(tmp_path / "ledger.sqlite3")
    for args in (["ingest", "--json"], ["usage", "daily", "--json"], ["loss", "--offline", "--json"]):
        result = CliRunner().invoke(main, args + ["--db", db, "--source", str(tmp_path / "projects")])
        assert result.exit_code == 0 and result.exception is None, (args, result.output)
        assert result.stderr.strip() == "", result.stderr
