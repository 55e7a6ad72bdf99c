"""Run the real Claude Code client in a sandbox against a local server (tests only).

The binary comes from npm (`.ci/run` installs the pinned `@anthropic-ai/claude-code` into
`.ci/claude-code/`; see docs/reliability.md "The real client"), or from `CLAIMBACK_TEST_CLAUDE`.
Every run gets a private HOME and CLAUDE_CONFIG_DIR under a temp dir and an environment built from
scratch (never this machine's own ~/.claude or credentials), `ANTHROPIC_BASE_URL` on 127.0.0.1, a dummy
key and `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`, so the client talks to nothing but our server.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import serve_bounded, stop_bounded

ROOT = Path(__file__).resolve().parent.parent
INSTALL_DIR = ROOT / ".ci" / "claude-code"
PINNED_VERSION = (ROOT / ".ci" / "claude-code.version").read_text().strip()
DUMMY_KEY = "sk-ant-api03-" + "fake" * 20 + "-AAAA"  # the shape of a key; no service accepts it
MODEL = "claude-sonnet-4-6"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


# A Claude gateway's bearer token (ANTHROPIC_AUTH_TOKEN, with a base URL that is not Anthropic's): 2.1.332
# then reads the `anthropic-ratelimit-unified-*` headers as for a subscriber. The client only reads the
# token's payload to see that it is a gateway's (no signature is checked locally; the fake API checks nothing).
GATEWAY_TOKEN = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'aud': 'claude-gateway'})}.unsigned"


def find_claude() -> Path | None:
    """The pinned client: CLAIMBACK_TEST_CLAUDE, else the platform binary npm put in `.ci/claude-code`."""
    override = os.environ.get("CLAIMBACK_TEST_CLAUDE")
    if override:
        return Path(override) if Path(override).is_file() else None
    modules = INSTALL_DIR / "node_modules" / "@anthropic-ai"
    # The platform package (claude-code-linux-x64, -linux-arm64, ...) holds the native binary.
    for candidate in sorted(modules.glob("claude-code-*/claude")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_claude() -> Path:
    binary = find_claude()
    if binary is None:
        pytest.skip(f"the real Claude Code client is not installed (.ci/run installs "
                    f"@anthropic-ai/claude-code@{PINNED_VERSION} from npm into .ci/claude-code; npm was "
                    f"unreachable, or set CLAIMBACK_TEST_CLAUDE to a claude binary)")
    return binary


@dataclass
class Sandbox:
    """A private HOME with its own Claude Code config dir and a working directory."""

    root: Path
    home: Path = field(init=False)
    config_dir: Path = field(init=False)
    workdir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.config_dir = self.home / ".claude"
        self.workdir = self.home / "project"
        for path in (self.config_dir, self.workdir):
            path.mkdir(parents=True, exist_ok=True)

    def env(self, base_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.home), "CLAUDE_CONFIG_DIR": str(self.config_dir), "TMPDIR": str(self.root),
            "LANG": "C.UTF-8", "TERM": "dumb",
            "ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": DUMMY_KEY,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
            # Short runs: few retries with short waits (the client's own settings).
            "CLAUDE_CODE_MAX_RETRIES": "3", "API_TIMEOUT_MS": "20000",
            "CLAUDE_CODE_OVERLOADED_RETRY_BASE_DELAY_MS": "50", "CLAUDE_CODE_OVERLOADED_RETRY_MAX_DELAY_MS": "200",
        }
        env.update(extra or {})
        return env

    def transcripts(self) -> list[Path]:
        return sorted((self.config_dir / "projects").rglob("*.jsonl"))

    def records(self) -> list[dict[str, Any]]:
        """Every record of every transcript, each with `_file` (its path relative to projects/)."""
        rows = []
        base = self.config_dir / "projects"
        for path in self.transcripts():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    record["_file"] = str(path.relative_to(base))
                    rows.append(record)
        return rows


@dataclass
class Run:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_claude(sandbox: Sandbox, base_url: str, prompt: str | None, *args: str,
               env: dict[str, str] | None = None, timeout: float = 90,
               interrupt_when: Callable[[], bool] | None = None) -> Run:
    """`claude -p PROMPT ARGS...` in the sandbox; `--resume ID` / `--continue` go in `args`.

    `interrupt_when`: polled every 50 ms; once true the run gets SIGINT, as Ctrl-C would send it (in
    `-p` mode Claude Code then writes `[Request interrupted by user]` and exits).
    """
    argv = [str(require_claude()), "-p"]
    if prompt is not None:
        argv.append(prompt)
    argv += ["--model", MODEL, *args]
    proc = subprocess.Popen(argv, cwd=sandbox.workdir, env=sandbox.env(base_url, env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if interrupt_when is not None:
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline and not interrupt_when():
                time.sleep(0.05)
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Run(argv=argv, returncode=proc.returncode, stdout=stdout, stderr=stderr)


def session_ids(sandbox: Sandbox) -> list[str]:
    """The main sessions the client wrote, oldest first (one transcript file each)."""
    files = [p for p in sandbox.transcripts() if p.parent.parent.name == "projects"]
    return [p.stem for p in sorted(files, key=lambda p: p.stat().st_mtime_ns)]


def installed_version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent-claimback-home"})
    return out.stdout.split()[0] if out.stdout.split() else ""


class StaticServer:
    """A local HTTP server answering GET paths from a dict (a status page for the guard); bounded."""

    def __init__(self, pages: dict[str, str], lifetime_s: float = 300) -> None:
        self.pages = pages
        self.hits: list[str] = []
        self.lifetime_s = lifetime_s

    def __enter__(self) -> StaticServer:
        from http.server import BaseHTTPRequestHandler

        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                server.hits.append(path)
                body = server.pages.get(path)
                data = (body or "not found").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("content-type", "application/json" if path.endswith(".json") else "text/plain")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd, self._timer = serve_bounded(Handler, self.lifetime_s)
        return self

    def __exit__(self, *exc: Any) -> None:
        stop_bounded(self._httpd, self._timer)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"


def claimback(sandbox: Sandbox, env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m claimback ARGS` with the sandbox's environment (HOME, CLAUDE_CONFIG_DIR, CLAIMBACK_*)."""
    full = {**sandbox.env("http://127.0.0.1:9"), **env}
    return subprocess.run([sys.executable, "-m", "claimback", *args], env=full, cwd=sandbox.workdir,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
