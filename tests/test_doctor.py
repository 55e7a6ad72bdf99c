"""`claimback doctor`, `doctor explain`, `doctor verify`: real settings files, real processes, real SQLite.

The masking tests plant secrets where users really keep them (environment, settings `env`, apiKeyHelper,
hook commands, proxy and base URLs with passwords) and check that no output channel carries them.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.cli import main
from claimback.config import cache_dir
from claimback.core.provider import url_host
from claimback.ledger import open_ledger
from claimback.prevent import doctor as doctor_mod
from claimback.prevent.doctor import find_claude, run_doctor
from claimback.prevent.explain import explain
from claimback.prevent.verify import verify

PLANTED = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-PLANTEDapiKEY0000000000000000000000000000000000000000000000000000-AAAAAA",
    "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-PLANTEDoauthTOKEN000000000000000000000000000000-BBBB",
    "ANTHROPIC_AUTH_TOKEN": "PLANTEDauthTokenValue123",
    "HTTPS_PROXY": "http://proxyuser:PLANTEDproxyPass@proxy.corp.example:3128",
    "ANTHROPIC_BASE_URL": "https://gwuser:PLANTEDgwPass@gateway.example.com/v1?key=PLANTEDqueryKey",
    "AWS_SECRET_ACCESS_KEY": "PLANTEDawsSecret/abc+def",
    "ANTHROPIC_CUSTOM_HEADERS": "Authorization: Bearer PLANTEDbearerValue",
    "ANTHROPIC_MODEL": "sk-ant-api03-PLANTEDinModelSetting",
}
SETTINGS_SECRETS = {
    "env": {"ANTHROPIC_API_KEY": "sk-ant-api03-PLANTEDinSettingsEnv000000000000000000000",
            "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku-4-5"},
    "apiKeyHelper": "echo sk-ant-api03-PLANTEDhelper0000000000000000",
    "model": "claude-opus-4-6",
    "cleanupPeriodDays": 20,
    "statusLine": {"type": "command", "command": "mybar --token PLANTEDstatusToken"},
    "hooks": {"PreToolUse": [{"matcher": "Agent|Task", "hooks": [
        {"type": "command", "command": "curl -H 'x-api-key: sk-ant-api03-PLANTEDinHook000' https://h.example"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "/usr/local/bin/claimback hook Stop"}]}]},
}


def _write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _fake_claude(bindir: Path, body: str) -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    script = bindir / "claude"
    script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    # Project settings: invalid JSON that contains a secret (the error must not quote it).
    bad = root / ".claude" / "settings.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"env": {"ANTHROPIC_API_KEY": "sk-ant-api03-PLANTEDinBrokenFile"}, oops}', encoding="utf-8")
    # Local settings: unreadable (a directory where a file should be; works even as root).
    (root / ".claude" / "settings.local.json").mkdir()
    return root


@pytest.fixture()
def planted_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    _write_json(Path.home() / ".claude" / "settings.json", SETTINGS_SECRETS)
    _fake_claude(tmp_path / "bin", 'echo "2.1.150 (Claude Code)"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")


def _assert_no_secret(text: str, where: str) -> None:
    assert "planted" not in text.lower(), f"secret leaked in {where}"
    assert "sk-ant" not in text, f"key prefix leaked in {where}"
    assert "proxyuser" not in text and "gwuser" not in text, f"URL user leaked in {where}"


def test_masking_every_output_channel(planted_env: None, project: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.sqlite3")
    runner = CliRunner()
    out_json, out_txt = tmp_path / "diag.json", tmp_path / "diag.txt"
    text = runner.invoke(main, ["doctor", "--project", str(project), "--db", db, "--out", str(out_txt)])
    assert text.exit_code == 0, text.output
    js = runner.invoke(main, ["doctor", "--project", str(project), "--db", db, "--json", "--out", str(out_json)])
    assert js.exit_code == 0, js.output
    for where, content in (("stdout", text.output), ("json stdout", js.output),
                           ("--out json", out_json.read_text()), ("--out text", out_txt.read_text())):
        _assert_no_secret(content, where)
    data = json.loads(js.output)
    # What must be there: names, hosts, per-file problems, the fake claude's version.
    assert data["claude"]["version"] == "2.1.150 (Claude Code)"
    assert "ANTHROPIC_API_KEY" in data["env_vars"] and "HTTPS_PROXY" in data["env_vars"]
    assert data["provider"]["name"] == "custom" and data["provider"]["base_url_host"] == "gateway.example.com"
    assert "ANTHROPIC_API_KEY" in data["provider"]["auth"] and "apiKeyHelper (settings)" in data["provider"]["auth"]
    assert any("embeds credentials" in p for p in data["provider"]["problems"])
    files = {f["scope"]: f for f in data["settings_files"]}
    assert files["user"]["valid"] is True and files["user"]["model"] == "claude-opus-4-6"
    assert files["project"]["valid"] is False and "invalid JSON" in files["project"]["error"]
    assert files["local"]["readable"] is False and "not readable" in files["local"]["error"]
    hooks = {(h["event"], h["command"]) for h in files["user"]["hooks"]}
    assert ("PreToolUse", "curl") in hooks and ("Stop", "claimback") in hooks
    models = data["models"]
    assert models["model (user settings)"] == "claude-opus-4-6"
    assert models["ANTHROPIC_SMALL_FAST_MODEL (user settings)"] == "claude-haiku-4-5"
    assert "not shown" in models["ANTHROPIC_MODEL (env)"]
    assert data["retention"]["cleanup_period_days"] == 20 and data["retention"]["source"] == "user settings"
    assert "~/.claude/settings.json" in text.output and str(Path.home()) not in text.output


def test_no_claude_binary_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    found = find_claude()
    assert found.found is False and "not found" in found.error
    result = CliRunner().invoke(main, ["doctor", "--db", str(tmp_path / "l.sqlite3"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["claude"]["found"] is False


def test_hanging_or_failing_claude_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_claude(tmp_path / "slow", "sleep 20")
    monkeypatch.setattr(doctor_mod, "CLAUDE_VERSION_TIMEOUT", 0.5)
    slow = find_claude({"PATH": f"{tmp_path / 'slow'}{os.pathsep}/usr/bin{os.pathsep}/bin"})
    assert slow.found and "did not answer" in slow.error
    _fake_claude(tmp_path / "bad", "echo boom >&2; exit 3")
    bad = find_claude({"PATH": f"{tmp_path / 'bad'}{os.pathsep}/usr/bin{os.pathsep}/bin"})
    assert bad.found and "exited 3" in bad.error


@pytest.mark.parametrize("env,name,problem", [
    ({"CLAUDE_CODE_USE_BEDROCK": "1"}, "bedrock", "AWS_REGION"),
    ({"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "us-east-1"}, "bedrock", None),
    ({"CLAUDE_CODE_USE_VERTEX": "true", "CLOUD_ML_REGION": "us-east5"}, "vertex", "ANTHROPIC_VERTEX_PROJECT_ID"),
    ({"CLAUDE_CODE_USE_VERTEX": "1", "CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "x"}, "bedrock",
     "more than one provider"),
    ({"ANTHROPIC_BASE_URL": "http://llm-gw.internal:8080/anthropic"}, "custom", "plain http"),
    ({"ANTHROPIC_BASE_URL": "http://localhost:4141"}, "custom", None),
    ({}, "anthropic", None),
])
def test_provider_detection(env: dict, name: str, problem: str | None, tmp_path: Path) -> None:
    led = open_ledger(tmp_path / "l.sqlite3")
    report = run_doctor(led, [], project=tmp_path, env={"PATH": "", **env}, ingest_first=False)
    led.close()
    assert report.provider.name == name
    if problem:
        assert any(problem in p for p in report.provider.problems), report.provider.problems
    else:
        assert report.provider.problems == []


def test_url_host_strips_credentials_path_and_query() -> None:
    assert url_host("https://u:p@gw.example.com:8443/v1?key=x", port=True) == "gw.example.com:8443"
    assert url_host("https://u:p@gw.example.com:8443/v1?key=x") == "gw.example.com"
    assert url_host("gw.example.com", port=True) == "gw.example.com"
    assert url_host(None, port=True) is None


def _seed(led, ts_fail: str | None, ts_req: str | None, *, files_updated: str | None = None,
          signature: str = "529 | overloaded_error | Overloaded", repeats: int = 1) -> None:
    with led.transaction():
        for i in range(repeats):
            if ts_fail:
                led.execute("INSERT INTO failures (failure_key, kind, ts, failure_class, signature, status, message) "
                            "VALUES (?, 'retry', ?, 'outage', ?, 529, 'Overloaded')", (f"f{i}{ts_fail}", ts_fail,
                                                                                      signature))
        if ts_req:
            led.execute("INSERT INTO requests (request_key, ts, input_tokens, output_tokens) VALUES (?, ?, 1, 1)",
                        ("r1", ts_req))
        if files_updated:
            led.execute("INSERT INTO files (machine_id, path, kind, updated_at) VALUES ('m', '/x', 'session', ?)",
                        (files_updated,))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_retention_warns_when_evidence_is_deleted_before_ingest(tmp_path: Path) -> None:
    now = datetime(2026, 6, 20, tzinfo=timezone.utc)
    _write_json(tmp_path / "p" / ".claude" / "settings.json", {"cleanupPeriodDays": 20})
    led = open_ledger(tmp_path / "l.sqlite3")
    _seed(led, None, None, files_updated=_iso(now - timedelta(days=45)))
    report = run_doctor(led, [], project=tmp_path / "p", env={"PATH": ""}, ingest_first=False, now=now)
    assert report.retention.cleanup_period_days == 20 and report.retention.source == "project settings"
    assert "45 days ago" in report.retention.warning and "2026-05-31" in report.retention.warning
    fresh = open_ledger(tmp_path / "fresh.sqlite3")
    _seed(fresh, None, None, files_updated=_iso(now - timedelta(days=1)))
    ok = run_doctor(fresh, [], project=tmp_path / "p", env={"PATH": ""}, ingest_first=False, now=now)
    assert ok.retention.warning is None
    never = run_doctor(open_ledger(tmp_path / "never.sqlite3"), [], project=tmp_path, env={"PATH": ""},
                       ingest_first=False, now=now)
    assert "nothing ingested yet" in never.retention.warning


def test_failures_last_week_grouped_with_next_steps(tmp_path: Path) -> None:
    now = datetime(2026, 5, 16, tzinfo=timezone.utc)
    led = open_ledger(tmp_path / "l.sqlite3")
    _seed(led, "2026-05-15T01:10:00.000Z", None, repeats=3)
    _seed(led, "2026-04-01T01:10:00.000Z", None, signature="old")  # outside the 7 days
    report = run_doctor(led, [], project=tmp_path, env={"PATH": ""}, ingest_first=False, now=now)
    assert [(s.failure_class, s.count) for s in report.failures] == [("outage", 3)]
    assert report.failures[0].top_signatures[0].signature == "529 | overloaded_error | Overloaded"
    assert "claimback resume" in report.failures[0].next_step


def _cache_incident(status: str = "investigating", components: list | None = None) -> None:
    base = cache_dir() / "status"
    _write_json(base / "unresolved.json", {"page": {"id": "tymt9n04zgry"}, "incidents": [{
        "id": "8z7l5zcy0v3b", "name": "Elevated error rates on requests to some models", "status": status,
        "impact": "major", "created_at": "2026-05-15T00:18:00.000Z", "shortlink": "https://stspg.io/abc",
        "components": components if components is not None else [{"name": "Claude API (api.anthropic.com)"}]}]})
    _write_json(base / "unresolved.meta.json", {"url": "x", "fetched_at": "2026-05-15T01:20:00Z", "etag": None,
                                                "last_modified": None, "status": 200})


def test_explain_529_with_and_without_incident() -> None:
    text = "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again in a moment."
    none = explain(text)
    assert none.failure_class == "outage" and none.status == 529
    assert none.incident.checked is False and "claimback status" in none.incident.summary
    _cache_incident()
    hit = explain(text)
    assert hit.incident.explains is True and "Elevated error rates" in hit.incident.summary
    assert hit.incident.incidents[0]["link"] == "https://stspg.io/abc"
    auth = explain('API Error: 401 {"type":"error","error":{"type":"authentication_error"}} · Please run /login')
    assert auth.failure_class == "auth" and auth.incident.explains is False
    _cache_incident(components=[{"name": "Claude for Government"}])
    assert explain(text).incident.explains is False


def test_explain_corrupt_cache_is_no_data() -> None:
    base = cache_dir() / "status"
    base.mkdir(parents=True, exist_ok=True)
    (base / "unresolved.json").write_text("{not json", encoding="utf-8")
    assert explain("API Error: 500").incident.checked is False


def test_explain_cli_stdin_and_unknown() -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["doctor", "explain", "-"], input="Unable to connect to API (ConnectionRefused)\n")
    assert out.exit_code == 0 and "local_runtime" in out.output and "NODE_EXTRA_CA_CERTS" in out.output
    unknown = runner.invoke(main, ["doctor", "explain", "--json", "zorp failed at 12:34 with id 9f8e7d6c5b4a3928"])
    data = json.loads(unknown.output)
    assert data["failure_class"] == "unknown" and "claimback doctor" in data["suggestion"]
    assert data["signature"] == "zorp failed at <time> with id <hex>"
    empty = runner.invoke(main, ["doctor", "explain", "-"], input="  \n")
    assert empty.exit_code == 2


def test_explain_cli_actionable_for_529() -> None:
    out = CliRunner().invoke(main, ["doctor", "explain", "API Error: 529 Overloaded..."])
    assert out.exit_code == 0
    for expected in ("class: outage", "next step:", "claimback resume", "signature: API Error: 529 Overloaded",
                     "current incident:"):
        assert expected in out.output


def test_verify(tmp_path: Path) -> None:
    recent = _iso(datetime.now(timezone.utc) - timedelta(minutes=2))
    older = _iso(datetime.now(timezone.utc) - timedelta(hours=2))
    later = _iso(datetime.now(timezone.utc) - timedelta(hours=1))
    gone = open_ledger(tmp_path / "gone.sqlite3")
    _seed(gone, older, later)
    result = verify(gone, [], env={"PATH": ""}, ingest_first=False)
    assert result.gone is True and result.failure_class == "outage"
    waiting = open_ledger(tmp_path / "waiting.sqlite3")
    _seed(waiting, older, None)
    assert verify(waiting, [], env={"PATH": ""}, ingest_first=False).gone is None
    still = open_ledger(tmp_path / "still.sqlite3")
    _seed(still, recent, None, repeats=2)
    assert verify(still, [], env={"PATH": ""}, ingest_first=False).gone is False
    empty = verify(open_ledger(tmp_path / "empty.sqlite3"), [], env={"PATH": ""}, ingest_first=False)
    assert empty.signature is None and "nothing to verify" in empty.verdict


def test_verify_probe_runs_the_real_process(tmp_path: Path) -> None:
    older = _iso(datetime.now(timezone.utc) - timedelta(hours=2))
    led = open_ledger(tmp_path / "l.sqlite3")
    _seed(led, older, None)
    _fake_claude(tmp_path / "ok", 'if [ "$1" = "-p" ]; then echo OK; else echo "2.1.150"; fi')
    assert verify(led, [], probe=True, env={"PATH": str(tmp_path / "ok")}, ingest_first=False).gone is True
    _fake_claude(tmp_path / "down", 'echo "API Error: 529 Overloaded" >&2; exit 1')
    down = verify(led, [], probe=True, env={"PATH": str(tmp_path / "down")}, ingest_first=False)
    assert down.gone is False and "outage" in down.verdict


def test_verify_cli_exit_codes(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    led = open_ledger(db)
    _seed(led, _iso(datetime.now(timezone.utc) - timedelta(hours=2)), None)
    led.close()
    result = CliRunner().invoke(main, ["doctor", "verify", "--db", str(db), "--no-ingest"])
    assert result.exit_code == 3 and "cannot tell yet" in result.output


def test_doctor_demo() -> None:
    pytest.importorskip("claimback.demo")
    out = CliRunner().invoke(main, ["doctor", "--demo", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    classes = {f["failure_class"]: f for f in data["failures"]}
    assert classes["outage"]["count"] >= 10 and "quota_rate" in classes
    assert data["demo"] is True and data["ledger"]["rows"]["requests"] > 0
    assert data["claude_versions_in_logs"] == ["2.1.150"]


def test_verify_probe_through_preflight_against_a_local_api(tmp_path: Path, httpserver) -> None:
    """With an API key, `verify --probe` re-runs the CI preflight's one-token request: here against a
    local HTTP server standing in for the API, first failing with 529, then answering."""
    pytest.importorskip("claimback.prevent.preflight")
    led = open_ledger(tmp_path / "l.sqlite3")
    _seed(led, _iso(datetime.now(timezone.utc) - timedelta(hours=2)), None)
    env = {"PATH": "", "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": httpserver.url_for("/").rstrip("/")}
    httpserver.expect_oneshot_request("/v1/messages", method="POST").respond_with_json(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=529)
    down = verify(led, [], probe=True, env=env, ingest_first=False)
    assert down.gone is False and "still failing" in down.verdict
    httpserver.expect_oneshot_request("/v1/messages", method="POST").respond_with_json(
        {"id": "msg_1", "type": "message", "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}})
    up = verify(led, [], probe=True, env=env, ingest_first=False)
    assert up.gone is True and any(c.name.startswith("preflight") for c in up.checks)


def test_broken_ledger_is_reported_and_the_rest_still_runs(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database, but it is long enough to have a header" * 4)
    out = CliRunner().invoke(main, ["doctor", "--db", str(broken), "--json", "--no-ingest"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert "not a database" in data["ledger"]["error"]
    assert data["provider"]["name"] == "anthropic" and data["settings_files"]
    assert any("ledger" in w for w in data["warnings"])


def test_user_settings_follow_claude_config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "alt-config"
    _write_json(config / "settings.json", {"model": "claude-sonnet-4-6", "cleanupPeriodDays": 90})
    _write_json(Path.home() / ".claude" / "settings.json", {"model": "claude-opus-4-6"})  # not this one
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    led = open_ledger(tmp_path / "l.sqlite3")
    report = run_doctor(led, [], project=tmp_path, env={**os.environ, "PATH": ""}, ingest_first=False)
    user = [f for f in report.settings_files if f.scope == "user"]
    assert len(user) == 1 and user[0].model == "claude-sonnet-4-6"
    assert report.retention.cleanup_period_days == 90


def test_transcripts_due_for_deletion_before_ingest(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    root = tmp_path / "projects" / "-home-u-app"
    root.mkdir(parents=True)
    old, fresh = root / "11111111-0000-4000-8000-000000000001.jsonl", root / "11111111-0000-4000-8000-000000000002.jsonl"
    for path in (old, fresh):
        path.write_text(json.dumps({"type": "user", "sessionId": path.stem, "timestamp": _iso(now),
                                    "uuid": path.stem, "message": {"role": "user", "content": "hi"}}) + "\n")
    stamp = (now - timedelta(days=29)).timestamp()  # default cleanupPeriodDays 30: due within 3 days
    os.utime(old, (stamp, stamp))
    led = open_ledger(tmp_path / "l.sqlite3")
    before = run_doctor(led, [tmp_path / "projects"], project=tmp_path, env={"PATH": ""}, ingest_first=False)
    assert (before.retention.transcript_files, before.retention.not_ingested, before.retention.at_risk) == (2, 2, 1)
    assert "due for deletion" in before.retention.warning
    during = run_doctor(led, [tmp_path / "projects"], project=tmp_path, env={"PATH": ""}, ingest_first=True)
    assert during.retention.ingested_now and during.retention.at_risk == 1
    assert "due for deletion" not in (during.retention.warning or "")
    after = run_doctor(led, [tmp_path / "projects"], project=tmp_path, env={"PATH": ""}, ingest_first=False)
    assert after.retention.not_ingested == 0 and after.retention.warning is None
