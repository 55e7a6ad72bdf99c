"""Planted secrets: a corpus carrying 24 secret formats in prompts, tool outputs, API error messages,
retry causes, env dumps, subagent launches, hook payloads, settings files and the environment. None may
appear in a claim packet (folder and zip), doctor's output or --out file, preflight's output, guard's
output and logs, or any other file claimback writes under its home (logs, caches, state).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from click.testing import CliRunner

from claimback.cli import main
from claimback.core.secrets import contains_secret, scrub
from records import agent_launch, assistant, final_error, retry, task_result, user_prompt, write

# Shaped like the real thing (prefix, alphabet, length); every one made up.
SECRETS = {
    "anthropic api key": "sk-ant-api03-" + "Qx7_vB2m" * 11 + "-AbCdEfAA",
    "anthropic oauth token": "sk-ant-oat01-" + "Lm3nP9qR" * 11 + "_zYxWAA",
    "anthropic admin key": "sk-ant-admin01-" + "Tt5uVw8x" * 11 + "AA",
    "openai project key": "sk-proj-" + "Ab12Cd34Ef56" * 13,
    "openai legacy key": "sk-" + "ZyXwVuTs9876" * 4,
    "aws access key id": "AKIAZ7Q3XK2M5N4P6R8T",
    "aws secret in env": "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8W4t2LmN",
    "github classic token": "ghp_" + "R4nd0mT0k3nV4lu3s" * 2 + "abcd",
    "github fine-grained": "github_pat_11AB2CD3E0" + "aBcDeFgHiJ" * 6 + "_kLmN",
    "github oauth": "gho_" + "Q1w2E3r4T5y6U7i8O9p0" * 2,
    "slack bot": "xoxb-2048-4096-" + "ZxCvBnMaSdFgHjKl" * 2,
    "slack user": "xoxp-1111-2222-3333-" + "0f9e8d7c6b5a" * 3,
    "stripe live": "sk_live_" + "51HqLyjWDarjtT1zdp7dc" + "XyZ123",
    "stripe restricted": "rk_live_" + "51HqLyjWDarjtT1zd" + "Qw3rTy",
    "google api key": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "jwt": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoxOTAwMDAwMDAwfQ."
           "c2lnbmF0dXJlLXRoYXQtaXMtbm90LXJlYWwtYXQtYWxs",
    "bearer header": "Authorization: Bearer " + "tok3n.v4lue-" * 4,
    "password in url": "https://deploy:Hunter2-Correct-Horse@git.internal.example/acme/app.git",
    "db url password": "postgresql://app:S3cr3t-P4ss-W0rd@db.internal:5432/prod",
    "private key block": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq1Q2Yf3y9mXq0L2x7Q8ZpV\n"
                         "yQ9mT2wK4nR6sL8vP1xZ3cB5dF7gH9jK2lM4nP6qR8s\n-----END RSA PRIVATE KEY-----",
    "npm token": "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "gitlab token": "glpat-" + "xY9zW8vU7tS6rQ5pO4nM",
    "huggingface token": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    "password assignment": "PASSWORD=correct-horse-battery-staple",
}

# A distinctive piece of each (the part after any prefix a scrubber might keep), searched verbatim.
def fingerprints() -> dict[str, str]:
    out = {}
    for name, value in SECRETS.items():
        if name == "private key block":
            out[name] = "yQ9mT2wK4nR6sL8vP1xZ3cB5dF7gH9jK2lM4nP6qR8s"  # the key's body, not its header
        elif "=" in value and name != "jwt":
            out[name] = value.split("=", 1)[1][-16:]
        elif name in ("password in url", "db url password"):
            out[name] = value.split(":")[2].split("@")[0]
        else:
            out[name] = value[-18:]
    return out


SESSION = "58ef7597-0000-4000-8000-00000000c0de"


def _all_in_one() -> str:
    return "\n".join(SECRETS.values())


def plant_corpus(projects: Path) -> None:
    secrets = list(SECRETS.values())
    everything = _all_in_one()
    records: list = [user_prompt(f"deploy with {everything}", "2026-05-15T00:55:00.000Z", session=SESSION)]
    # Tool output: an env dump and a config file echoed back.
    env_dump = "\n".join(f"VAR_{i}={s}" for i, s in enumerate(secrets))
    records.append({"type": "user", "sessionId": SESSION, "timestamp": "2026-05-15T00:56:00.000Z",
                    "uuid": "tool-env", "message": {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_env", "content": env_dump}]},
                    "toolUseResult": {"stdout": env_dump, "stderr": everything}})
    records.append(assistant("msg_1", "req_1", "2026-05-15T00:57:00.000Z", session=SESSION,
                             content=[{"type": "text", "text": everything}]))
    # Error messages: each retry cause and each final error quotes one secret (a proxy echoing headers).
    for n, secret in enumerate(secrets, start=1):
        rec = retry(f"2026-05-15T01:{n:02d}:00.000Z", n, session=SESSION, uuid=f"r-{n}")
        rec["error"]["error"]["error"]["message"] = f"Overloaded; upstream said {secret}"
        records.append(rec)
        cause = retry(f"2026-05-15T01:{n:02d}:30.000Z", n, code="ECONNRESET", session=SESSION, uuid=f"c-{n}")
        cause["error"]["cause"]["message"] = f"socket hang up {secret}"
        records.append(cause)
        records.append(final_error(f"2026-05-15T01:{n:02d}:45.000Z",
                                   f"API Error: 500 {{\"type\":\"error\",\"error\":{{\"type\":\"api_error\","
                                   f"\"message\":\"{secret}\"}}}}", session=SESSION))
    launch = agent_launch("msg_2", "req_2", "2026-05-15T01:00:10.000Z", "toolu_sec", f"use {everything}",
                          description=f"Deploy with {secrets[0]}", session=SESSION)
    records.append(launch)
    records.append(task_result("toolu_sec", "2026-05-15T01:40:00.000Z", status="failed", agent_id="asec01",
                               is_error=True, text=f"API Error: 500 {everything}", session=SESSION))
    write(projects / "-home-u-app" / f"{SESSION}.jsonl", records)
    write(projects / "-home-u-app" / SESSION / "subagents" / "agent-asec01.jsonl", [
        user_prompt(f"use {everything}", "2026-05-15T01:00:11.000Z", session=SESSION, sidechain=True,
                    agent_id="asec01"),
        assistant("msg_3", "req_3", "2026-05-15T01:00:20.000Z", session=SESSION, sidechain=True, agent_id="asec01",
                  out=80000, content=[{"type": "text", "text": everything}]),
        final_error("2026-05-15T01:30:00.000Z", f"API Error: 529 {everything}", session=SESSION, agent_id="asec01"),
    ])


def plant_settings(home: Path, project: Path) -> None:
    secrets = list(SECRETS.values())
    env = {f"MY_VAR_{i}": s for i, s in enumerate(secrets)} | {"ANTHROPIC_API_KEY": secrets[0],
                                                               "ANTHROPIC_BASE_URL": SECRETS["password in url"]}
    settings = {"model": secrets[3], "env": env, "apiKeyHelper": f"echo {secrets[1]}",
                "hooks": {"Stop": [{"hooks": [{"type": "command", "command": f"{secrets[4]} notify --token {secrets[6]}"}]}]},
                "statusLine": {"type": "command", "command": f"TOKEN={secrets[7]} ccstatus"},
                secrets[8]: "a key pasted as a setting name"}
    for path in (home / ".claude" / "settings.json", project / ".claude" / "settings.local.json"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))


def leaks(text: str) -> list[str]:
    found = [name for name, mark in fingerprints().items() if mark in text]
    if contains_secret(text):
        found.append("scanner match")
    return found


def test_the_planted_fingerprints_are_really_secrets():
    """Guard the test itself: every planted value is caught by the scanner, and scrubbing removes it."""
    for name, value in SECRETS.items():
        assert contains_secret(value), name
        assert not leaks(scrub(value)), (name, scrub(value))


def test_no_planted_secret_reaches_a_packet_doctor_preflight_guard_or_log(tmp_path, monkeypatch):
    home = tmp_path / "user-home"
    project = tmp_path / "proj"
    projects = tmp_path / "claude" / "projects"
    plant_corpus(projects)
    plant_settings(home, project)
    monkeypatch.chdir(project)
    for i, secret in enumerate(SECRETS.values()):
        if "\n" not in secret:
            monkeypatch.setenv(f"PLANTED_{i}", secret)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRETS["anthropic api key"])
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", SECRETS["anthropic oauth token"])
    monkeypatch.setenv("GITHUB_TOKEN", SECRETS["github classic token"])
    monkeypatch.setenv("HTTPS_PROXY", SECRETS["password in url"])
    db = tmp_path / "ledger.sqlite3"
    source = ["--db", str(db), "--source", str(projects)]
    runner = CliRunner()
    outputs: dict[str, str] = {}

    def cli(name: str, *args: str, input: str | None = None) -> None:
        result = runner.invoke(main, list(args), input=input)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        outputs[name] = result.output

    cli("ingest", "ingest", *source)
    cli("claim", "claim", "--offline", "--out", str(tmp_path / "packet"), "--zip", *source, "--no-ingest")
    cli("claim json", "claim", "--offline", "--out", str(tmp_path / "packet2"), "--json", *source, "--no-ingest")
    cli("audit", "audit", "--offline", "--out", str(tmp_path / "packet3"), *source, "--no-ingest")
    cli("doctor", "doctor", *source, "--no-ingest", "--out", str(tmp_path / "doctor.txt"))
    cli("doctor json", "doctor", "--json", *source, "--no-ingest", "--out", str(tmp_path / "doctor.json"))
    cli("doctor explain", "doctor", "explain", f"API Error: 401 {SECRETS['anthropic api key']}")
    cli("preflight", "preflight", "--json")
    cli("preflight text", "preflight")
    cli("guard install", "guard", "install", "--scope", "local", "--project-dir", str(project))
    cli("guard status", "guard", "status", "--json")
    for event, extra in (("PreToolUse", {"tool_name": "Agent", "tool_input": {"prompt": _all_in_one()}}),
                         ("UserPromptSubmit", {"prompt": _all_in_one()}),
                         ("SessionStart", {"source": "startup"}),
                         ("StopFailure", {"error": SECRETS["jwt"], "error_details": _all_in_one(),
                                          "last_assistant_message": _all_in_one()})):
        payload = {"session_id": f"s-{SECRETS['slack bot']}", "transcript_path": str(
            projects / "-home-u-app" / f"{SESSION}.jsonl"), "cwd": str(project), "hook_event_name": event, **extra}
        proc = subprocess.run([sys.executable, "-m", "claimback", "hook", event], input=json.dumps(payload),
                              capture_output=True, text=True, timeout=60)
        outputs[f"hook {event}"] = proc.stdout + proc.stderr
    cli("guard log", "guard", "log", "--json")
    cli("loss", "loss", "--json", "--offline", *source, "--no-ingest")
    cli("outages", "outages", "--json", "--offline", *source, "--no-ingest")

    found: dict[str, list[str]] = {}
    for name, text in outputs.items():
        if leaks(text):
            found[f"output of {name}"] = leaks(text)
    written = [p for p in (tmp_path / "packet", tmp_path / "packet2", tmp_path / "packet3") if p.exists()]
    assert written, "no packet was written"
    files = [p for folder in written for p in folder.rglob("*") if p.is_file()]
    files += [tmp_path / "doctor.txt", tmp_path / "doctor.json"]
    home_files = [p for p in Path(os.environ["CLAIMBACK_HOME"]).rglob("*") if p.is_file()]
    # Guard's backups and install state hold the user's settings bytes on purpose (uninstall restores
    # them byte for byte): the user's own data, readable by the user alone, never sent anywhere.
    kept = [p for p in home_files if p.parent.name == "backups" or p.name == "installs.json"]
    assert kept and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in kept)
    files += [p for p in home_files if p not in kept]  # logs, caches, state
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        if leaks(text):
            found[str(path.relative_to(tmp_path))] = leaks(text)
    for archive in tmp_path.glob("packet*.zip"):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                text = zf.read(member).decode("utf-8", "replace")
                if leaks(text):
                    found[f"{archive.name}:{member}"] = leaks(text)
    assert found == {}
    assert len(files) >= 10


def test_the_ledger_stores_no_planted_secret(tmp_path):
    """Prompts are stored as hashes; error texts and task descriptions are stored scrubbed."""
    projects = tmp_path / "claude" / "projects"
    plant_corpus(projects)
    db = tmp_path / "ledger.sqlite3"
    result = CliRunner().invoke(main, ["ingest", "--db", str(db), "--source", str(projects)])
    assert result.exit_code == 0, result.output
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert leaks(dump) == []
