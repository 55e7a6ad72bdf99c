"""Planted secrets: a corpus carrying 58 secret formats in prompts, tool outputs, API error messages,
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

import pytest
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
    # -- issue 15: shapes the first scrubber missed ---------------------------------------------------
    "password colon": "password: Tr0ub4dor&3-horse",
    "json password": '{"password":"Zebra-Quartz-77"}',
    "api_key assignment": "api_key=kq83JdhE72hdlQ0",
    "basic auth header": "Authorization: Basic ZGFuYTpzM2NyZXQtcGFzcw==",
    "x-api-key header": "x-api-key: 9f8e7d6c5b4a3f2e1d0c",
    "lower-case aws secret": "aws_secret_access_key = Zk3P9qLm2Rt8Vx1Wn5Ys7Bd4Hf6Jg0Kc2Ae9Uo3I",
    "bare aws secret": "creds Qm4T8wKz1Lp6Rv3Xn9Ys2Bd7Hf5Jg0Kc4Ae8Uo1P ok",
    "slack webhook": "https://hooks.slack.com/services/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",
    "e-mail address": "dana.q.lastname@corp-mail.example.org",
    "url password with @": "https://bob:p@ss@word-99@git.example.net/x.git",
    "pgp private key": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGZ7pGkBCADq3rT9vWx2Yz8aBc4dEf6gH\n"
                       "=Wq9x\n-----END PGP PRIVATE KEY BLOCK-----",
    "bedrock arn": "arn:aws:bedrock:us-east-1:493817265502:application-inference-profile/x7k2m9",
    "iam user arn": "arn:aws:iam::381726550249:user/dana-ops-admin",
    # -- vendor shapes (as detect-secrets' plugins and the gitleaks rules describe them) ---------------
    "twilio api key": "SK" + "0f1e2d3c4b5a6978" * 2,
    "twilio account sid": "AC" + "9a8b7c6d5e4f3a2b" * 2,
    "mailchimp key": "3f2a9c8b7d6e5f4a3b2c1d0e9f8a7b6c-us14",
    "pypi token": "pypi-AgEIcHlwaS5vcmc" + "Cj8xZ2Y0LWJk" * 6,
    "shopify token": "shpat_" + "a1b2c3d4e5f60718" * 2,
    "digitalocean token": "dop_v1_" + "0a1b2c3d4e5f6a7b" * 4,
    "databricks token": "dapi" + "a1b2c3d4e5f6a7b8" * 2,
    "telegram bot token": "5123456789:AA" + "Hk7Lm2Np4Qr6St8Vw0Xy3Za5Bc7De9Fg1H",
    "discord bot token": "MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl." + "Mn0pQrStUvWxYz1234567890AbCdEf",
    "discord webhook": "https://discord.com/api/webhooks/112233445566778899/Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1",
    "azure storage key": "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + "Qk9zWm4pR7tX" * 7
                         + "ab==;EndpointSuffix=core.windows.net",
    "square secret": "sq0csp-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0UvWxYz12345",
    "google oauth client secret": "GOCSPX-" + "Hj3Kl5Mn7Pq9Rs1Tu3Vw5Xy7Z",
    "gitlab trigger token": "glptt-" + "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b",
    "openssh private key": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
                           "-----END OPENSSH PRIVATE KEY-----",
    "encrypted private key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w\n"
                             "-----END ENCRYPTED PRIVATE KEY-----",
    "cookie header": "Cookie: sessionid=8c7b6a5d4e3f2a1b0c9d8e7f; csrftoken=Qw8Er7Ty6",
    "yaml client secret": "client_secret: Lp0Ok9Ij8Uh7Yg6",
    "query access token": "https://api.example.net/v2/items?access_token=Rt5Yu6Io7Pa8Sd9&page=2",
    "db password env": "DB_PASS=Mq7Wn3Eb5Rv1",
    "json token field": '{"token": "Vb6Nm5Qw4Er3"}',
}

# A distinctive piece of each (the part after any prefix a scrubber might keep), searched verbatim.
# Where the generic rule (last 16 characters after '=') does not name the secret part.
FINGERPRINTS = {
    "password colon": "Tr0ub4dor&3-horse", "json password": "Zebra-Quartz-77",
    "basic auth header": "ZGFuYTpzM2NyZXQtcGFzcw", "x-api-key header": "9f8e7d6c5b4a3f2e1d0c",
    "bare aws secret": "Qm4T8wKz1Lp6Rv3Xn9Ys2Bd7Hf5Jg0Kc4Ae8Uo1P", "e-mail address": "dana.q.lastname",
    "url password with @": "ss@word-99", "pgp private key": "lQOYBGZ7pGkBCADq3rT9vWx2Yz8aBc4dEf6gH",
    "bedrock arn": "493817265502", "iam user arn": "dana-ops-admin",
    "openssh private key": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
    "encrypted private key": "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w", "azure storage key": "Qk9zWm4pR7tXQk9z",
    "cookie header": "8c7b6a5d4e3f2a1b0c9d8e7f", "yaml client secret": "Lp0Ok9Ij8Uh7Yg6",
    "query access token": "Rt5Yu6Io7Pa8Sd9", "json token field": "Vb6Nm5Qw4Er3",
    "telegram bot token": "Hk7Lm2Np4Qr6St8Vw0Xy3Za5Bc7De9Fg1H", "discord webhook": "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1",
    "slack webhook": "Xy9Zw8Vu7Ts6Rq5Po4Nm3Lk2",
}


def fingerprints() -> dict[str, str]:
    out = {}
    for name, value in SECRETS.items():
        if name in FINGERPRINTS:
            out[name] = FINGERPRINTS[name]
        elif name == "private key block":
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
        # Personal identifiers are scrubbed wherever text is written, but are no reason to stop a packet.
        assert contains_secret(value) or name in ("e-mail address", "bedrock arn", "iam user arn"), name
        assert not leaks(scrub(value)), (name, scrub(value))


def test_the_corpus_has_at_least_50_shapes():
    assert len(SECRETS) >= 50 and len(set(fingerprints().values())) == len(SECRETS)


def test_every_secret_a_maintained_rule_set_finds_is_scrubbed_too():
    """detect-secrets' plugins (all but the entropy guessers) as an oracle: whatever value they find in a
    shape, alone or embedded in an error text, our scrubber removes; and they do find most shapes, so the
    comparison means something."""
    pytest.importorskip("detect_secrets", reason="detect-secrets not installed (it is in the test extra)")
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import default_settings

    with default_settings():
        plugins = [cls() for kind, cls in get_mapping_from_secret_type_to_class().items()
                   if "High Entropy" not in kind and "Public IP" not in kind]
        flagged = 0
        missed: dict[str, list[str]] = {}
        for name, value in SECRETS.items():
            for line in (value, f"API Error: 502 upstream said {value} (retrying)"):
                for text_line in line.splitlines():
                    found = {hit.secret_value for p in plugins
                             for hit in p.analyze_line(filename="error.txt", line=text_line) if hit.secret_value}
                    flagged += bool(found)
                    cleaned = scrub(text_line)
                    left = [v for v in found if len(v) >= 4 and v in cleaned]
                    if left:
                        missed.setdefault(name, []).extend(left)
    assert missed == {}
    assert flagged >= 20


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


# Identifier fields (issue 15): each carries one planted value; none may abort the packet or leak.
IDENTIFIERS = {
    "model": "arn:aws:bedrock:us-east-1:493817265502:application-inference-profile/x7k2m9",
    "request_id": SECRETS["github classic token"],
    "error_type": SECRETS["anthropic api key"],
    "cause.code": SECRETS["aws access key id"],
    "subagent_type": SECRETS["slack bot"],
    "claude_code_version": SECRETS["gitlab token"],
    "retry request id": SECRETS["npm token"],
}


def plant_identifiers(projects: Path) -> None:
    ids = IDENTIFIERS
    records: list = [user_prompt("review the code", "2026-05-15T00:55:00.000Z", session=SESSION)]
    for n in range(1, 5):
        rec = assistant(f"msg_{n}", ids["request_id"] if n == 1 else f"req_{n}", f"2026-05-15T01:0{n}:00.000Z",
                        session=SESSION, model=ids["model"] if n == 4 else "claude-opus-4-6", out=5000)
        rec["version"] = ids["claude_code_version"]
        records.append(rec)
    launch = agent_launch("msg_9", "req_9", "2026-05-15T01:02:10.000Z", "toolu_idf", "review", session=SESSION)
    launch["message"]["content"][0]["input"]["subagent_type"] = ids["subagent_type"]
    launch["message"]["model"] = ids["model"]
    records.append(launch)
    for n in range(1, 4):
        rec = retry(f"2026-05-15T01:0{n + 3}:00.000Z", n, session=SESSION, uuid=f"ri-{n}")
        rec["error"]["error"]["error"]["type"] = ids["error_type"]
        rec["error"]["requestID"] = ids["retry request id"]
        records.append(rec)
        records.append(retry(f"2026-05-15T01:0{n + 3}:30.000Z", n, code=ids["cause.code"], session=SESSION,
                             uuid=f"ci-{n}"))
    records.append(final_error("2026-05-15T01:08:00.000Z", "API Error: 529 Overloaded", error=ids["error_type"],
                               status=529, session=SESSION))
    records.append(task_result("toolu_idf", "2026-05-15T01:09:00.000Z", status="failed", agent_id="aidf01",
                               is_error=True, text="API Error: 529 Overloaded", session=SESSION))
    write(projects / "-home-u-app" / f"{SESSION}.jsonl", records)


def test_identifier_fields_are_redacted_in_place_and_never_abort_the_packet(tmp_path):
    projects = tmp_path / "claude" / "projects"
    plant_identifiers(projects)
    source = ["--db", str(tmp_path / "ledger.sqlite3"), "--source", str(projects)]
    runner = CliRunner()
    outputs: dict[str, str] = {}
    for name, args in {
        "ingest": ["ingest", *source],
        "claim": ["claim", "--offline", "--out", str(tmp_path / "packet"), *source, "--no-ingest"],
        "audit": ["audit", "--offline", "--out", str(tmp_path / "packet2"), *source, "--no-ingest"],
        "doctor": ["doctor", *source, "--no-ingest", "--out", str(tmp_path / "doctor.txt")],
        "doctor json": ["doctor", "--json", *source, "--no-ingest", "--out", str(tmp_path / "doctor.json")],
        "loss": ["loss", "--json", "--offline", *source, "--no-ingest"],
        "outages": ["outages", "--offline", *source, "--no-ingest"],
    }.items():
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (name, result.output)
        outputs[name] = result.output
    # audit writes a packet only when something is claimable (a Bedrock model is not, with Anthropic)
    files = [p for d in ("packet", "packet2") if (tmp_path / d).exists() for p in (tmp_path / d).iterdir()]
    files += [tmp_path / "doctor.txt", tmp_path / "doctor.json"]
    assert {"evidence.json", "report.html", "evidence.csv"} <= {p.name for p in files}
    texts = {str(p.relative_to(tmp_path)): p.read_text(errors="replace") for p in files}
    texts |= {f"output of {k}": v for k, v in outputs.items()}
    marks = {name: ("493817265502" if name == "model" else value[-16:]) for name, value in IDENTIFIERS.items()}
    found = {where: [name for name, mark in marks.items() if mark in text] for where, text in texts.items()}
    assert {where: names for where, names in found.items() if names} == {}
    # the planted fields did reach these outputs (as [REDACTED]): doctor lists error types and codes
    assert "[REDACTED]" in texts["doctor.json"] and "[REDACTED]" in texts["output of loss"]
