"""The status line and `guard install --statusline` under the real client, interactively.

`claude -p` never runs the status line, so here the real Claude Code binary runs as a user runs it: in a
pseudo-terminal (the standard library's `pty`), in the sandbox of tests/realclient.py. The user's own
settings are made the way a user makes them: `claimback guard install --statusline` into the sandbox's
CLAUDE_CONFIG_DIR. Then one prompt is typed, the fake API answers with `anthropic-ratelimit-unified-*`
headers, a second prompt meets 529s until the client gives up, and `/exit` is typed. A second session
keeps the user's earlier status line (chained, capturing the client's input) while another process holds
the ledger's write lock.

Claude Code puts `rate_limits` into the status line's input only for a subscriber or behind a Claude
gateway (2.1.332: a bearer token whose JWT `aud` is `claude-gateway` and a base URL that is not
Anthropic's); the sandbox takes the second route, a dummy unsigned token and the fake API on 127.0.0.1.
Its config is pre-seeded (onboarding done, the project trusted) so no dialog waits for a key.

What is checked is mostly what the commands leave behind (snapshots, stamps, hook decisions, StopFailure
records, captured payloads); the screen only for the lines the status line drew, compared with all
whitespace removed (the client redraws with cursor moves in place of spaces).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import statusline_shape
import statuspage_payloads as sp
from fake_anthropic import OVERLOADED, FakeAnthropic, Reply, Rule, error_reply, last_user_has, unified_headers
from realclient import GATEWAY_TOKEN, MODEL, Sandbox, StaticServer, claimback, require_claude

from claimback.ledger import open_ledger
from claimback.sources.statusline import compact_line

pty = pytest.importorskip("pty", reason="no pseudo-terminals on this platform (the pty module is POSIX only)")

FAIL_MARKER = "FAIL-TURN"
RETRIES = 1  # CLAUDE_CODE_MAX_RETRIES: the failing turn is two 529s, then the client gives up
PROMPT_CHAR = "❯".encode()  # the client's input prompt: it is ready for typing


_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78NOM]")


def screen_text(raw: bytes) -> str:
    """The terminal output with escape sequences and all whitespace removed."""
    return re.sub(r"\s", "", _ESCAPES.sub(b"", raw).decode("utf-8", "replace"))


class Terminal:
    """The real client on a pseudo-terminal: everything it writes is kept in `output`."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], rows: int = 40, cols: int = 160) -> None:
        import fcntl
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.master = master
        self.output = bytearray()

    def pump(self, seconds: float, until: Callable[[], bool] | None = None) -> bool:
        """Read for up to `seconds`; True as soon as `until()` holds."""
        deadline = time.monotonic() + seconds
        while True:
            if until is not None and until():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            readable, _, _ = select.select([self.master], [], [], min(left, 0.05))
            if not readable:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the client closed the terminal
                data = b""
            if not data:
                time.sleep(min(left, 0.05))
                continue
            self.output.extend(data)
            if b"\x1b[c" in data:  # a primary device attributes query: answer as a VT220-class terminal
                os.write(self.master, b"\x1b[?62;22c")

    def type(self, text: str) -> None:
        # The text, then Enter apart: typed at once, a trailing "\r" can land in the paste buffer.
        os.write(self.master, text.encode())
        self.pump(0.3)
        os.write(self.master, b"\r")

    def close(self) -> int:
        """`/exit`, then SIGINT twice, then a kill: the client is gone when this returns."""
        if self.proc.poll() is None:
            self.type("/exit")
            self.pump(10, lambda: self.proc.poll() is not None)
        for _ in range(2):
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
                self.pump(2, lambda: self.proc.poll() is not None)
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(timeout=10)
        os.close(self.master)
        return code

    def screen(self) -> str:
        return screen_text(bytes(self.output))


@dataclass
class TtyRun:
    sandbox: Sandbox
    cb_home: Path
    install: subprocess.CompletedProcess
    screen: str
    raw: bytes
    returncode: int
    served: list[dict[str, Any]]
    drawn: bool  # the expected status line text appeared

    def decisions(self) -> list[dict[str, Any]]:
        path = self.cb_home / "data" / "guard" / "decisions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def stop_failures(self) -> list[dict[str, Any]]:
        path = self.cb_home / "data" / "guard" / "stop-failures.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def snapshots(self) -> list[dict[str, Any]]:
        path = self.cb_home / "data" / "ledger.sqlite3"
        if not path.exists():
            return []
        with open_ledger(path) as ledger:
            return ledger.rows("SELECT session_id, five_hour_pct, five_hour_resets_at, seven_day_pct, "
                               "seven_day_resets_at, model FROM quota_snapshots")


def _session(root: Path, *, previous_statusline: str | None, expect: Callable[[str], bool],
             fail_turn: bool, ledger_busy: bool = False) -> TtyRun:
    """One interactive session. `ledger_busy`: another process holds the ledger's write lock throughout
    (as a long `claimback ingest` does)."""
    sandbox = Sandbox(root)
    # Onboarding done and this project trusted: without trust the client skips the status line command.
    (sandbox.config_dir / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True, "theme": "dark",
        "projects": {str(sandbox.workdir): {"hasTrustDialogAccepted": True}}}))
    if previous_statusline is not None:
        (sandbox.config_dir / "settings.json").write_text(json.dumps(
            {"statusLine": {"type": "command", "command": previous_statusline, "padding": 0}}))
    cb_home = root / "cb"
    pages = {"/api/v2/incidents/unresolved.json": sp.incidents_json(sp.OPEN_INCIDENT),
             "/api/v2/incidents.json": sp.incidents_json(sp.OPEN_INCIDENT),
             "/api/v2/summary.json": sp.summary_json([sp.OPEN_INCIDENT])}
    rules = [Rule(error_reply(**OVERLOADED), when=last_user_has(FAIL_MARKER), times=RETRIES + 1),
             Rule(Reply(text="Hello from the fake API.", headers=unified_headers(five_hour=0.12, seven_day=0.31)),
                  times=4)]
    with StaticServer(pages, lifetime_s=120) as status, FakeAnthropic(rules, max_requests=12, lifetime_s=120) as api:
        env = {"CLAIMBACK_HOME": str(cb_home), "CLAIMBACK_STATUS_URL": status.url}
        install = claimback(sandbox, env, "guard", "install", "--statusline")
        assert install.returncode == 0, install.stderr
        # The hooks and the status line read a cached copy of the status page: fill it first.
        subprocess.run([sys.executable, "-m", "claimback.prevent.refresh"], env={**sandbox.env("x"), **env},
                       check=True, timeout=30)
        client_env = sandbox.env(api.url, {**env, "TERM": "xterm-256color", "ANTHROPIC_AUTH_TOKEN": GATEWAY_TOKEN,
                                           "CLAUDE_CODE_MAX_RETRIES": str(RETRIES)})
        client_env.pop("ANTHROPIC_API_KEY")  # the gateway's token is the only credential
        busy = open_ledger(cb_home / "data" / "ledger.sqlite3") if ledger_busy else None
        if busy is not None:
            busy.conn.execute("BEGIN IMMEDIATE")
        term = Terminal([str(require_claude()), "--model", MODEL], sandbox.workdir, client_env)
        try:
            assert term.pump(30, lambda: PROMPT_CHAR in term.output), term.screen()[-2000:]
            term.type("Say hello.")
            stamp = cb_home / "cache" / "statusline.stamp"
            answered = lambda: any(r["status"] == 200 for r in api.served)  # noqa: E731
            drawn = term.pump(30, lambda: answered() and (previous_statusline is not None or stamp.exists())
                              and expect(term.screen()))
            if fail_turn:
                term.type(f"{FAIL_MARKER} now")
                failures = cb_home / "data" / "guard" / "stop-failures.jsonl"
                term.pump(30, failures.exists)
        finally:
            code = term.close()
            if busy is not None:
                busy.conn.execute("ROLLBACK")
                busy.close()
        return TtyRun(sandbox, cb_home, install, term.screen(), bytes(term.output), code, list(api.served), drawn)


@pytest.fixture(scope="session")
def tty(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TtyRun]:
    require_claude()
    runs = {"own": _session(tmp_path_factory.mktemp("rc-tty-own"), previous_statusline=None, fail_turn=True,
                            expect=lambda screen: "week31%" in screen)}
    chained_root = tmp_path_factory.mktemp("rc-tty-chain")
    capture = chained_root / "statusline-input.jsonl"
    # The user's own status line before install: it keeps running through claimback's, with the same stdin;
    # meanwhile another claimback process is writing the ledger.
    runs["chained"] = _session(chained_root, previous_statusline=f"cat >> {capture}; echo >> {capture}; echo MY-OWN-LINE",
                               fail_turn=False, ledger_busy=True, expect=lambda screen: "MY-OWN-LINE" in screen
                               and capture.exists() and "rate_limits" in capture.read_text())
    return runs


def _payloads(run: TtyRun) -> list[dict[str, Any]]:
    rows = []
    for line in (run.sandbox.root / "statusline-input.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass  # a refresh the client aborted mid-write
    return rows


def test_claimbacks_status_line_is_drawn_and_records_a_snapshot(tty: dict[str, TtyRun]) -> None:
    run = tty["own"]
    assert run.drawn, run.screen[-3000:]
    assert "Traceback" not in run.screen and "claimbackstatusline:" not in run.screen
    # Week, 5-hour window and the open incident from the status cache, as compact_line writes them. Each
    # piece alone: the client redraws only the cells that changed, so a later line comes in fragments.
    for piece in ("week31%", "5h12%", "⚠Elevatederrorsonclaude.ai"):
        assert piece in run.screen, (piece, run.screen[-3000:])
    sessions = {s.stem for s in run.sandbox.transcripts() if s.parent.parent.name == "projects"}
    [snapshot] = run.snapshots()
    assert snapshot["session_id"] in sessions and snapshot["model"] == MODEL
    assert (snapshot["five_hour_pct"], snapshot["seven_day_pct"]) == (12.0, 31.0)
    assert snapshot["five_hour_resets_at"] < snapshot["seven_day_resets_at"]
    assert run.returncode == 0


def test_the_hooks_guard_install_wrote_ran_in_the_interactive_session(tty: dict[str, TtyRun]) -> None:
    run = tty["own"]
    events = [d["event"] for d in run.decisions()]
    assert events[0] == "SessionStart" and events.count("UserPromptSubmit") == 2, events
    # Behind a relay an open incident only warns (docs/guard.md); the client shows the warning.
    assert {d["decision"] for d in run.decisions() if d["event"] == "UserPromptSubmit"} == {"warn"}
    # Interactively (unlike `-p`) 2.1.332 runs StopFailure for a turn its 529s ended; its kind there
    # is `server_error`.
    assert [(f["error"], f["class"]) for f in run.stop_failures()] == [("server_error", "outage")]
    # `/exit` writes no message: the session still ends on that error, and SessionEnd sees it was recorded.
    assert [d["why"] for d in run.decisions() if d["event"] == "SessionEnd"] == [
        "final error already recorded by StopFailure"]
    assert [r["status"] for r in run.served if r["status"] == 529] == [529] * (RETRIES + 1)


def test_the_previous_status_line_runs_through_claimbacks_with_the_real_payload(tty: dict[str, TtyRun]) -> None:
    run = tty["chained"]
    # Drawn while another process held the ledger's write lock (before the fix the command waited out
    # the ledger's 60 s busy timeout, and the client drew no line meanwhile); the snapshot was skipped.
    assert run.drawn, run.screen[-3000:]
    assert "Traceback" not in run.screen
    assert "[statusline]" in (run.cb_home / "config" / "config.toml").read_text()
    settings = json.loads((run.sandbox.config_dir / "settings.json").read_text())
    assert settings["statusLine"]["command"].endswith(" statusline") and settings["statusLine"]["padding"] == 0
    assert run.snapshots() == [] and not (run.cb_home / "cache" / "statusline.stamp").exists()


def test_the_real_payload_has_the_shape_the_unit_tests_use(tty: dict[str, TtyRun]) -> None:
    payloads = _payloads(tty["chained"])
    before = [p for p in payloads if "rate_limits" not in p]
    after = [p for p in payloads if "rate_limits" in p]
    assert before and after
    fixture = statusline_shape.load()
    assert statusline_shape.shape(before[0]) == fixture["before_first_response"]
    assert statusline_shape.shape(after[0]) == fixture["after_response_with_rate_limits"]
    assert after[0]["rate_limits"]["five_hour"]["used_percentage"] == 12
    assert compact_line(after[0]).startswith("week 31% (resets ")
