"""`claimback preflight` exit codes against a local status server and a local Messages endpoint.

Runs the real CLI as a subprocess with a controlled environment: a fake `claude` executable on PATH
(a real script that prints a version), a pytest-httpserver standing in for status.claude.com and,
for --probe, for the Messages API via ANTHROPIC_BASE_URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

SECRET = "sk-ant-api03-PLANTED-SECRET-VALUE-0123456789"


@pytest.fixture
def claude_bin(tmp_path: Path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "claude"
    script.write_text("#!/bin/sh\necho '2.1.150 (Claude Code)'\n")
    script.chmod(0o755)
    return bindir


def unresolved(*incidents: dict[str, Any]) -> dict[str, Any]:
    return {"page": {"id": "tymt9n04zgry", "name": "Claude"}, "incidents": list(incidents)}


def incident(name: str, components: list[str], status: str = "investigating", impact: str = "major") -> dict[str, Any]:
    created = (datetime.now(timezone.utc) - timedelta(minutes=25)).isoformat()
    return {"id": "inc1", "name": name, "status": status, "impact": impact, "created_at": created,
            "shortlink": "https://stspg.io/inc1", "components": [{"name": c} for c in components]}


def run(args: list[str], *, status_url: str, bindir: Path | None, extra: dict[str, str] | None = None,
        drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANTHROPIC_", "CLAUDE_CODE_", "AWS_", "GITHUB_", "CLOUD_ML", "GOOGLE_"))}
    env["PATH"] = (f"{bindir}{os.pathsep}" if bindir else "") + "/usr/bin:/bin"
    env["CLAIMBACK_STATUS_URL"] = status_url
    env["ANTHROPIC_API_KEY"] = SECRET
    env.update(extra or {})
    for name in drop:
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "claimback", "preflight", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def serve(httpserver: Any, payload: dict[str, Any]) -> str:
    httpserver.expect_request("/api/v2/incidents/unresolved.json").respond_with_json(payload)
    return httpserver.url_for("/").rstrip("/")


def test_all_clear_exits_0_and_never_prints_secrets(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved())
    proc = run([], status_url=url, bindir=claude_bin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Claude Code 2.1.150" in proc.stdout and "ANTHROPIC_API_KEY" in proc.stdout
    proc = run(["--json"], status_url=url, bindir=claude_bin)
    report = json.loads(proc.stdout)
    assert report["verdict"] == "ok" and report["exit_code"] == 0
    assert {c["name"] for c in report["checks"]} == {"claude", "auth", "provider", "model", "status", "retention"}
    assert SECRET not in proc.stdout + proc.stderr


def test_active_outage_exits_75(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved(incident("Elevated errors on Claude Code", ["Claude Code"])))
    proc = run([], status_url=url, bindir=claude_bin)
    assert proc.returncode == 75, proc.stdout
    assert "Elevated errors on Claude Code" in proc.stdout and "retry later" in proc.stdout


def test_unrelated_incident_is_ok(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved(incident("Elevated errors on claude.ai", ["claude.ai"]),
                                       incident("Elevated errors on Claude Opus 4.6", ["Claude API (api.anthropic.com)"])))
    proc = run([], status_url=url, bindir=claude_bin, extra={"ANTHROPIC_MODEL": "claude-sonnet-4-5"})
    assert proc.returncode == 0, proc.stdout
    # the same model incident matters when the job runs on that model
    proc = run([], status_url=url, bindir=claude_bin, extra={"ANTHROPIC_MODEL": "claude-opus-4-6"})
    assert proc.returncode == 75, proc.stdout


def test_monitoring_is_a_warning_and_strict_fails(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved(incident("Elevated errors on Claude Code", ["Claude Code"], status="monitoring")))
    assert run([], status_url=url, bindir=claude_bin).returncode == 3
    assert run(["--strict"], status_url=url, bindir=claude_bin).returncode == 1


def test_status_server_down_is_a_warning(claude_bin: Path) -> None:
    proc = run([], status_url="http://127.0.0.1:9", bindir=claude_bin)
    assert proc.returncode == 3, proc.stdout
    assert "status unknown" in proc.stdout


def test_failed_checks_exit_1(httpserver: Any, claude_bin: Path, tmp_path: Path) -> None:
    url = serve(httpserver, unresolved(incident("Elevated errors on Claude Code", ["Claude Code"])))
    # A broken configuration beats an outage: retrying later would not fix it.
    proc = run([], status_url=url, bindir=None)
    assert proc.returncode == 1 and "not found on PATH" in proc.stdout
    proc = run([], status_url=url, bindir=claude_bin, drop=("ANTHROPIC_API_KEY",))
    assert proc.returncode == 1 and "no credentials found" in proc.stdout
    proc = run([], status_url=url, bindir=claude_bin,
               extra={"CLAUDE_CODE_USE_BEDROCK": "1", "CLAUDE_CODE_USE_VERTEX": "1", "AWS_PROFILE": "ci"})
    assert proc.returncode == 1 and "choose one" in proc.stdout
    proc = run([], status_url=url, bindir=claude_bin, extra={"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_PROFILE": "ci"})
    assert proc.returncode == 1 and "AWS_REGION" in proc.stdout
    proc = run([], status_url=url, bindir=claude_bin, extra={"ANTHROPIC_BASE_URL": "gateway.local:8080"})
    assert proc.returncode == 1 and "not an http(s) URL" in proc.stdout
    broken = tmp_path / "bin2"
    broken.mkdir()
    (broken / "claude").write_text("#!/bin/sh\nexit 3\n")
    (broken / "claude").chmod(0o755)
    assert run([], status_url=url, bindir=broken).returncode == 1


def test_bedrock_configured_coherently(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved())
    proc = run(["--json"], status_url=url, bindir=claude_bin, drop=("ANTHROPIC_API_KEY",),
               extra={"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1", "AWS_PROFILE": "ci",
                      "ANTHROPIC_MODEL": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"})
    report = json.loads(proc.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert proc.returncode == 0, proc.stdout
    assert checks["provider"]["summary"] == "Amazon Bedrock" and checks["auth"]["detail"]["names"] == ["AWS_PROFILE"]


def test_bedrock_job_is_warned_not_stopped_by_an_anthropic_incident(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved(incident("Elevated errors on Claude Code", ["Claude Code"])))
    extra = {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1", "AWS_PROFILE": "ci"}
    proc = run([], status_url=url, bindir=claude_bin, drop=("ANTHROPIC_API_KEY",), extra=extra)
    assert proc.returncode == 3 and "this job uses bedrock" in proc.stdout


def test_settings_env_model_and_retention(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved())
    settings = Path(os.environ["HOME"]) / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"model": "gpt-5", "cleanupPeriodDays": 3,
                                    "env": {"ANTHROPIC_BASE_URL": "https://gateway.example.com/anthropic"}}))
    proc = run(["--json"], status_url=url, bindir=claude_bin)
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert proc.returncode == 3
    assert checks["model"]["status"] == "warn" and checks["retention"]["status"] == "warn"
    assert checks["provider"]["detail"] == {"provider": "base_url", "base_url_host": "gateway.example.com"}


def test_github_annotations_and_step_summary(httpserver: Any, claude_bin: Path, tmp_path: Path) -> None:
    url = serve(httpserver, unresolved(incident("Elevated errors on Claude Code, API", ["Claude Code"])))
    summary = tmp_path / "summary.md"
    proc = run([], status_url=url, bindir=claude_bin,
               extra={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 75
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1
    assert errors[0].startswith("::error title=claimback preflight%3A status::Anthropic reports")
    assert "| status | ⛔ outage |" in summary.read_text()
    proc = run(["--github", "--json"], status_url=url, bindir=claude_bin)
    assert json.loads(proc.stdout)["verdict"] == "outage"  # stdout stays one JSON document
    assert "::error title=" in proc.stderr
    proc = run([], status_url=url, bindir=claude_bin)
    assert "::error" not in proc.stdout  # not in Actions, no --github: no annotations


def _messages(httpserver: Any, status: int, body: dict[str, Any]) -> list[Any]:
    seen: list[Any] = []

    def handler(request: Any) -> Any:
        from werkzeug import Response

        seen.append(request)
        return Response(json.dumps(body), status=status, content_type="application/json")

    httpserver.expect_request("/v1/messages", method="POST").respond_with_handler(handler)
    return seen


def test_probe_ok_sends_one_minimal_request(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved())
    seen = _messages(httpserver, 200, {"id": "msg_1", "type": "message", "role": "assistant",
                                       "content": [{"type": "text", "text": "p"}], "usage": {"input_tokens": 8, "output_tokens": 1}})
    proc = run(["--probe", "--json"], status_url=url, bindir=claude_bin, extra={"ANTHROPIC_BASE_URL": url})
    assert proc.returncode == 0, proc.stdout
    assert len(seen) == 1
    req = seen[0]
    assert req.headers["x-api-key"] == SECRET and req.headers["anthropic-version"] == "2023-06-01"
    sent = json.loads(req.get_data())
    assert sent["max_tokens"] == 1 and len(sent["messages"]) == 1
    probe = [c for c in json.loads(proc.stdout)["checks"] if c["name"] == "probe"][0]
    assert probe["status"] == "ok" and SECRET not in proc.stdout


@pytest.mark.parametrize("status,body,code", [
    (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 75),
    (500, {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}, 75),
    (401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}, 1),
    (404, {"type": "error", "error": {"type": "not_found_error", "message": "model: nope"}}, 1),
    (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}, 3),
])
def test_probe_failures(httpserver: Any, claude_bin: Path, status: int, body: dict[str, Any], code: int) -> None:
    url = serve(httpserver, unresolved())
    _messages(httpserver, status, body)
    proc = run(["--probe"], status_url=url, bindir=claude_bin, extra={"ANTHROPIC_BASE_URL": url})
    assert proc.returncode == code, proc.stdout
    assert body["error"]["type"] in proc.stdout


def test_probe_unreachable_api_fails(httpserver: Any, claude_bin: Path) -> None:
    url = serve(httpserver, unresolved())
    proc = run(["--probe"], status_url=url, bindir=claude_bin, extra={"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 1 and "cannot reach 127.0.0.1" in proc.stdout
