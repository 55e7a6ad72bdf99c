"""The claim packet: files agree, the manifest checks, the message fits, secrets never leave, bad input.

Packets are written by the real `claimback claim` / `audit` commands from real transcripts (the demo
corpus or a hand-built one with planted secrets), then read back the way a user or support agent would.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.cli import main
from claimback.outputs.packet import FILES, MANIFEST
from claimback.core.secrets import scan_file
from records import agent_launch, assistant, final_error, retry, task_result, user_prompt, write

INCIDENT_LINK = "https://status.claude.com/incidents/8z7l5zcy0v3b"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def demo_packet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo packet for the read-only tests of this module (written by the real CLI)."""
    base = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMBACK_HOME", str(base / "home"))
        mp.setenv("HOME", str(base / "user-home"))
        mp.setenv("CLAIMBACK_STATUS_URL", "http://127.0.0.1:9")
        mp.delenv("CLAIMBACK_DB", raising=False)
        result = invoke("claim", "--demo", "--out", str(base / "packet"), "--zip")
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(str(base / "packet"))
    return base / "packet"


class _Tables(HTMLParser):
    """Collects the loss table rows (data-category → data-tokens) and what the page would load."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, int] = {}
        self.category: str | None = None
        self.loads: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "tr" and a.get("data-category"):
            self.category = a["data-category"]
        if tag == "td" and self.category and a.get("data-tokens") is not None:
            self.rows[self.category] = int(a["data-tokens"] or 0)
            self.category = None
        for key in ("src", "srcset", "data", "poster"):
            if a.get(key):
                self.loads.append(a[key] or "")
        if tag == "link" or (tag in ("image", "use") and (a.get("href") or a.get("xlink:href", "")).startswith("http")):
            self.loads.append(str(a))


def test_every_file_exists_and_the_manifest_checks_with_sha256sum(demo_packet: Path):
    assert sorted(p.name for p in demo_packet.iterdir()) == sorted([*FILES, MANIFEST])
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (coreutils) not installed")
    check = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=demo_packet, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert sorted(line.split(":")[0] for line in check.stdout.splitlines()) == sorted(FILES)
    # Tampering is caught: the manifest is a real check, not decoration.
    copy = demo_packet.parent / "tampered"
    shutil.copytree(demo_packet, copy)
    (copy / "evidence.csv").write_text((copy / "evidence.csv").read_text() + "x\n")
    assert subprocess.run(["sha256sum", "-c", MANIFEST], cwd=copy, capture_output=True).returncode != 0


def test_html_markdown_json_and_csv_carry_the_same_numbers(demo_packet: Path):
    ev = json.loads((demo_packet / "evidence.json").read_text())
    assert ev["schema_version"] == "2" and ev["outage_found"] is True
    assert [w["incidents"][0]["id"] for w in ev["windows"]] == ["8z7l5zcy0v3b"]
    window = ev["windows"][0]
    assert window["measured_tokens"] == sum(window["loss"][k]["tokens"] for k in
                                            ("killed_subagents", "partial_responses", "abandoned_turns",
                                             "cache_rebuild"))
    assert window["measured_tokens"] > 200_000 and window["loss"]["killed_subagents"]["tokens"] > 200_000

    tables = _Tables()
    tables.feed((demo_packet / "report.html").read_text())
    for key, figure in window["loss"].items():
        assert tables.rows[key] == figure["tokens"], key
    assert tables.rows["total_measured"] == window["measured_tokens"] == ev["totals"]["measured_tokens"]
    assert tables.rows["total_estimated"] == window["estimated_tokens"] == ev["totals"]["estimated_tokens"]

    md = (demo_packet / "report.md").read_text()
    assert f"| **Total lost** | measured | **{window['measured_tokens']:,}** |" in md
    assert f"| **Total exposure** | estimated | **{window['estimated_tokens']:,}** |" in md
    for figure in window["loss"].values():
        assert f"| {figure['label']} | {figure['basis']} | {figure['tokens']:,} |" in md

    with (demo_packet / "evidence.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    failures = [r for r in rows if r["record"] == "failure"]
    lost = [r for r in rows if r["record"] == "lost_request"]
    assert len(failures) == len(window["failures"]) and len(lost) == len(window["lost_requests"])
    assert sum(int(r["tokens"]) for r in lost if r["basis"] == "measured") == window["measured_tokens"]
    assert sum(int(r["tokens"] or 0) for r in failures if r["basis"] == "estimated") == window["estimated_tokens"]
    # 529 attempts: their own category and basis, never in the estimate.
    not_charged = [r for r in failures if r["category"] == "overloaded_not_charged"]
    assert not_charged and {r["status"] for r in not_charged} == {"529"}
    assert {r["basis"] for r in not_charged} == {"not charged"}
    assert sum(int(r["tokens"]) for r in not_charged) == window["loss"]["overloaded_not_charged"]["tokens"]
    for key, figure in window["loss"].items():
        if key not in ("failed_attempt_exposure", "overloaded_not_charged"):
            assert sum(int(r["tokens"]) for r in lost if r["category"] == key) == figure["tokens"]
    assert {r["class"] for r in failures} == {"outage"} and all(r["time_utc"].endswith("Z") for r in rows)
    assert {r["status"] for r in failures} >= {"529", "500"}


def test_html_is_self_contained(demo_packet: Path):
    html = (demo_packet / "report.html").read_text()
    tables = _Tables()
    tables.feed(html)
    assert tables.loads == [] and "script" not in tables.tags
    assert "<svg" in html and "@page" in html and "A4" in html
    assert "url(http" not in html and "@import" not in html
    # The only absolute URLs are the incident links a reader may click.
    urls = set(re.findall(r'href="(https?://[^"]+)"', html))
    assert urls and all(u.startswith("https://status.claude.com/incidents/") for u in urls)


def test_message_is_short_factual_and_names_incident_and_requests(demo_packet: Path):
    message = (demo_packet / "message.txt").read_text()
    ev = json.loads((demo_packet / "evidence.json").read_text())
    assert len(message) <= 1500
    window = ev["windows"][0]
    assert INCIDENT_LINK in message and "Incident 8z7l5zcy0v3b" in message
    # Both spans, each labelled, in the very words every other output uses.
    assert f"Incident span (status page): {window['incident_span']}" in message
    assert f"Error span (Claude Code logs): {window['error_span']}" in message
    assert window["incident_span"] == "2026-05-15 00:18–01:46 UTC"
    assert window["error_span"] == "2026-05-15 01:06–02:31 UTC"
    assert "UTC+00:00" not in message  # the user's clock is UTC here: no redundant zone text
    lost_line = next(line for line in message.splitlines() if line.startswith("Lost requests' ids: "))
    failed_line = next(line for line in message.splitlines() if line.startswith("Failed request ids: "))
    lost_ids = {r["request_id"] for r in window["lost_requests"] if r["request_id"]}
    failed_ids = {f["request_id"] for f in window["failures"] if f["request_id"]}
    assert len(lost_ids & set(re.findall(r"req_[A-Za-z0-9]+", lost_line))) >= 3
    assert set(re.findall(r"req_[A-Za-z0-9]+", failed_line)) <= failed_ids
    assert all(s["session_id"] in message for s in window["sessions"][:2])
    assert "/feedback ID" in message and "support conversation ID" in message
    assert "Plan: Max 20x" in message and "2026-05-15 23:30 UTC" in message  # plan and weekly reset
    assert f"{ev['totals']['measured_tokens']:,}" in message and f"{ev['totals']['estimated_tokens']:,}" in message
    assert "measured" in message and "estimated" in message and "restore" in message
    # Measured loss leads; 529 attempts are never claimed, and the message says why.
    assert message.index("measured") < message.index("estimated")
    assert "does not count against your quota" in message


def test_zip_holds_the_same_files(demo_packet: Path):
    with zipfile.ZipFile(demo_packet.parent / "packet.zip") as archive:
        names = sorted(archive.namelist())
        assert names == sorted(f"packet/{n}" for n in (*FILES, MANIFEST))
        assert archive.read("packet/evidence.json") == (demo_packet / "evidence.json").read_bytes()


def test_demo_packet_hides_the_demo_users_paths(demo_packet: Path):
    for path in demo_packet.iterdir():
        text = path.read_text()
        assert "/home/demo" not in text and "billing-service" not in text, path.name
    ev = json.loads((demo_packet / "evidence.json").read_text())
    projects = {s["project"] for w in ev["windows"] for s in w["sessions"]}
    assert projects and all(re.fullmatch(r"project-[0-9a-f]{8}", p) for p in projects)


# -- audit ends with the packet ---------------------------------------------------------------------
def test_audit_demo_ends_by_printing_the_packet_path(tmp_path: Path):
    result = invoke("audit", "--demo")
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == f"claim packet: {tmp_path / 'claimback-packet-demo-2026-05-15'}"
    assert "20260515-0018" in result.output and "tokens lost, measured" in result.output
    packet = tmp_path / "claimback-packet-demo-2026-05-15"
    assert subprocess.run(["sha256sum", "-c", MANIFEST], cwd=packet, capture_output=True).returncode == 0
    # Run again: the default folder is taken, so the next one is written beside it, never over it.
    again = invoke("audit", "--demo")
    assert again.output.strip().endswith("claimback-packet-demo-2026-05-15-2")
    assert invoke("audit", "--demo", "--no-packet").output.count("claim packet:") == 0


# -- bad input --------------------------------------------------------------------------------------
def test_existing_output_dir_is_refused_unless_forced(tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    refused = invoke("claim", "--demo", "--out", str(out))
    assert refused.exit_code == 2 and "--force" in refused.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    forced = invoke("claim", "--demo", "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "notes.txt").read_text() == "keep me" and (out / MANIFEST).exists()


def test_unwritable_output_dir_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = invoke("claim", "--demo", "--out", str(blocker / "packet"))
    assert result.exit_code == 1 and "cannot create the packet folder" in result.output
    assert "Traceback" not in result.output


def test_no_outage_gives_a_plain_packet_without_invented_loss(tmp_path: Path):
    projects = tmp_path / "projects"
    write(projects / "app" / "s-quiet.jsonl", [
        user_prompt("Add a test", "2026-03-03T10:00:00.000Z", session="s-quiet"),
        assistant("q1", "rq1", "2026-03-03T10:01:00.000Z", cw=5000, out=400, session="s-quiet"),
        assistant("q2", "rq2", "2026-03-03T10:03:00.000Z", cr=5000, out=300, session="s-quiet"),
    ])
    out = tmp_path / "packet"
    result = invoke("claim", "--source", str(projects), "--db", str(tmp_path / "l.db"), "--offline",
                    "--since", "2026-03-03", "--until", "2026-03-03", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "No outage touched" in result.output
    ev = json.loads((out / "evidence.json").read_text())
    assert ev["outage_found"] is False and ev["windows"] == []
    assert ev["totals"]["measured_tokens"] == 0 and ev["totals"]["estimated_tokens"] == 0
    assert "No outage touched your Claude Code sessions" in (out / "report.html").read_text()
    assert "No outage touched your Claude Code sessions" in (out / "report.md").read_text()
    assert (out / "evidence.csv").read_text().strip().count("\n") == 0  # the header only
    assert "no loss to claim" in (out / "message.txt").read_text()
    assert subprocess.run(["sha256sum", "-c", MANIFEST], cwd=out, capture_output=True).returncode == 0


def test_a_claim_resting_on_lost_connections_names_them_as_the_failed_requests(tmp_path: Path):
    """During the 2026-05-15 incident a stream dies on connection resets alone (the `network` class, outage
    loss inside a window): the message and report must name those failures, not "Failed requests: 0"."""
    projects = tmp_path / "projects"
    write(projects / "app" / "s-reset.jsonl", [
        user_prompt("Port the parser", t("00:50"), session="s-reset", uuid="pr1"),
        assistant("c1", "rc1", t("00:55"), out=300, cr=20000, session="s-reset"),
        retry(t("01:00"), 1, code="ECONNRESET", session="s-reset"),
        retry(t("01:01"), 2, code="ECONNRESET", session="s-reset"),
        final_error(t("01:02"), "API Error: Connection error.", status=None, session="s-reset"),
    ])
    out = tmp_path / "packet"
    result = invoke("claim", "--source", str(projects), "--db", str(tmp_path / "l.db"), "--offline",
                    "--since", "2026-05-15", "--until", "2026-05-15", "--out", str(out))
    assert result.exit_code == 0, result.output
    ev = json.loads((out / "evidence.json").read_text())
    [window] = ev["windows"]
    assert window["loss"]["partial_responses"]["tokens"] == 3 + 300 + 20000
    assert window["failure_counts"]["outage"] == 0 and window["failure_counts"]["network"] == 3
    assert ev["totals"]["network_failures"] == 3
    message = (out / "message.txt").read_text()
    assert "Failed requests: 3 lost connections (reset or timed out)" in message
    assert "Failed requests: 0" not in message
    assert "3 lost connections (reset or timed out)" in (out / "report.md").read_text()


# -- secrets ----------------------------------------------------------------------------------------
PLANTED = {
    "api_key_prompt": "sk-ant-api03-PrOmPtKeY0123456789abcdefghijklmnopqrstuvwxyzABCDEFG-hij_klmnopqrstuvAA",
    "api_key_error": "sk-ant-api03-ErRoRkEy0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH-ijklmnopqrstuvwxAA",
    "oauth_error": "sk-ant-oat01-OaUtHtOkEn0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV-AA",
    "oauth_tool": "sk-ant-oat01-ToOlOuTpUt0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU-AA",
    "env_key": "sk-ant-api03-EnVdUmP0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-klmnopqrstuvwxyzAA",
    "aws_id": "AKIAIOSFODNN7PLANTED",
    "aws_id_error": "AKIAJ7PLANTEDERR0R01",
    "aws_secret": "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",
    "task_key": "sk-ant-api03-TaSkDeScRiPtIoN0123456789abcdefghijklmnopqrstuvwxyzABCDEFG-hijklmnopAA",
    # Shapes pasted with error texts in public issues (tests/test_classify_public_texts.py): a relay's key, an
    # Azure AI key, a bare AWS session token, a proxy URL with its password.
    "relay_key": "cr_" + "5ec7e7" * 10 + "a1b2",
    "azure_key": "9pLaNtEdAzUrEkEy0123456789abcdefghijklmnopqrstuvwxyzAB" + "JQQJ99" + "BFACplantedAzureKey0123",
    "aws_session": "IQoJb3JpZ2luX2VjEPlAnTeD" + "A1b2C3d4E5f6G7h8" * 12,
    "proxy_password": "pr0xyPlAnTeDpw",
}


def t(hm: str) -> str:
    return f"2026-05-15T{hm}:00.000Z"


def build_secret_corpus(root: Path, home: Path) -> Path:
    """A real-shaped outage (a killed subagent, retries, a dropped stream) with secrets planted in
    prompts, tool output, API error texts, env dumps and a task description."""
    projects = root / "projects"
    cwd = str(home / "work" / "acme-secret-project")
    s1, s3 = "s1-secret", "s3-secret"
    env_dump = (f"ANTHROPIC_API_KEY={PLANTED['env_key']}\nAWS_ACCESS_KEY_ID={PLANTED['aws_id']}\n"
                f"AWS_SECRET_ACCESS_KEY={PLANTED['aws_secret']}\nHOME={home}\n")
    bash_out = {"type": "user", "sessionId": s1, "timestamp": t("00:51"), "uuid": "bash-env",
                "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_env",
                                                          "is_error": False, "content": env_dump}]},
                "toolUseResult": {"stdout": env_dump, "stderr": "", "interrupted": False}}
    oauth_retry = retry(t("01:05"), 1, status=529, session=s1)
    oauth_retry["error"]["error"]["error"]["message"] = (
        f"Overloaded (token {PLANTED['oauth_error']}) key {PLANTED['relay_key']} {PLANTED['azure_key']}")
    main_records = [
        user_prompt(f"Deploy with ANTHROPIC_API_KEY={PLANTED['api_key_prompt']} and {PLANTED['aws_id']}",
                    t("00:50"), session=s1, uuid="p1"),
        assistant("m1", "r1", t("00:51"), inp=10, out=100, cw=1000, cr=5000, session=s1),
        bash_out,
        agent_launch("m2", "r2", t("00:52"), "toolu_k1", f"Use {PLANTED['task_key']} to review",
                     description=f"Review with key {PLANTED['task_key']}", session=s1),
        oauth_retry,
        final_error(t("01:10"), f"API Error: 500 Internal server error at {cwd}/src/app.py "
                    f"(x-api-key: {PLANTED['api_key_error']}, {PLANTED['aws_id_error']})", session=s1),
        task_result("toolu_k1", t("01:09"), status="completed", agent_id="k1", is_error=False,
                    text=f"API Error: 500 Internal server error\n{env_dump}", session=s1),
    ]
    slug = cwd.replace("/", "-")
    write(projects / slug / f"{s1}.jsonl", _in(cwd, main_records))
    sub = [
        user_prompt(f"Use {PLANTED['task_key']} to review", t("00:52"), session=s1, sidechain=True, agent_id="k1",
                    uuid="k1p"),
        assistant("k1a", "rk1a", t("00:53"), cr=20000, session=s1, sidechain=True, agent_id="k1"),
        assistant("k1b", "rk1b", t("00:56"), cr=30000, session=s1, sidechain=True, agent_id="k1"),
        retry(t("01:02"), 1, session=s1, agent_id="k1"),
        final_error(t("01:08"), f"API Error: 500 Internal server error via http://u:{PLANTED['proxy_password']}@"
                    f"10.0.0.1:3128 (session {PLANTED['aws_session']})", session=s1, agent_id="k1"),
    ]
    write(projects / slug / s1 / "subagents" / "agent-k1.jsonl", _in(cwd, sub))
    write(projects / slug / f"{s3}.jsonl", _in(cwd, [
        user_prompt("Profile the renderer", t("00:58"), session=s3, uuid="p3"),
        assistant("r3a", "rr3a", t("01:01"), out=200, cr=40000, session=s3),
        final_error(t("01:02"), "API Error: Connection lost mid-response. The response above may be incomplete.",
                    status=None, session=s3),
    ]))
    return projects


def _in(cwd: str, records: list[dict]) -> list[dict]:
    """Every record carries the user's real working directory, as Claude Code writes it."""
    for record in records:
        record["cwd"] = cwd
    return records


def _claim_corpus(tmp_path: Path, out: Path, *extra: str):
    home = Path.home()
    projects = build_secret_corpus(tmp_path, home)
    return invoke("claim", "--source", str(projects), "--db", str(tmp_path / "l.db"), "--offline",
                  "--since", "2026-05-15", "--until", "2026-05-15", "--out", str(out), *extra)


def test_planted_secrets_never_reach_any_packet_file(tmp_path: Path):
    out = tmp_path / "packet"
    result = _claim_corpus(tmp_path, out)
    assert result.exit_code == 0, result.output
    ev = json.loads((out / "evidence.json").read_text())
    # The corpus really is an outage with loss, and its error texts really are in the packet (scrubbed).
    assert ev["outage_found"] and ev["totals"]["measured_tokens"] > 0
    messages = [f["message"] for w in ev["windows"] for f in w["failures"] if f["message"]]
    assert any("[REDACTED]" in m for m in messages), messages
    assert any("Internal server error" in m for m in messages)
    home = str(Path.home())
    for path in sorted(out.iterdir()):
        text = path.read_text()
        for name, secret in PLANTED.items():
            assert secret not in text, f"{name} leaked into {path.name}"
            assert secret[:24] not in text, f"a prefix of {name} leaked into {path.name}"
        assert home not in text and "acme-secret-project" not in text, path.name
        assert scan_file(path) == [], path.name


def test_a_key_in_a_task_description_is_redacted_at_ingest_even_with_include_text(tmp_path: Path):
    # The ledger never stores a secret (tests/test_secret_corpus.py): the description arrives redacted.
    out = tmp_path / "packet"
    result = _claim_corpus(tmp_path, out, "--include-text")
    assert result.exit_code == 0, result.output
    written = "".join(p.read_text(errors="replace") for p in out.iterdir() if p.is_file())
    assert PLANTED["task_key"] not in written and "Review with key [REDACTED]" in written


def test_a_key_in_a_kept_path_is_redacted_in_place_and_the_packet_is_written(tmp_path: Path):
    # A key in a directory name is a path, kept verbatim with --include-paths: the key alone is redacted
    # (issue 15: one key-shaped value must never cost the whole packet); the rest of the path stays.
    out = tmp_path / "packet"
    projects = build_secret_corpus(tmp_path, tmp_path / f"home-{PLANTED['task_key']}")
    result = invoke("claim", "--source", str(projects), "--db", str(tmp_path / "l.db"), "--offline",
                    "--since", "2026-05-15", "--until", "2026-05-15", "--out", str(out), "--include-paths")
    assert result.exit_code == 0, result.output
    assert PLANTED["task_key"] not in result.output
    written = {p.name: p.read_text(errors="replace") for p in out.iterdir() if p.is_file()}
    assert {"report.html", "evidence.json", "evidence.csv", "MANIFEST.sha256"} <= set(written)
    for name, text in written.items():
        assert PLANTED["task_key"] not in text and PLANTED["task_key"][:24] not in text, name
        assert scan_file(out / name) == [], name
    assert "home-[REDACTED]" in written["evidence.json"]


def test_include_paths_keeps_the_project_path(tmp_path: Path):
    out = tmp_path / "packet"
    result = _claim_corpus(tmp_path, out, "--include-paths")
    assert result.exit_code == 0, result.output
    ev = json.loads((out / "evidence.json").read_text())
    assert any(s["project"].endswith("acme-secret-project") for w in ev["windows"] for s in w["sessions"])
    assert all(secret not in (out / "evidence.json").read_text() for secret in PLANTED.values())


def test_claim_json_output_and_window_by_incident_id(tmp_path: Path):
    result = invoke("claim", "--demo", "--window", "8z7l5zcy0v3b", "--out", str(tmp_path / "p"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["packet"]["windows"] == ["20260515-0018"] and data["packet"]["message_chars"] <= 1500
    assert data["packet"]["sha256"]["evidence.json"] == subprocess.run(
        ["sha256sum", "evidence.json"], cwd=tmp_path / "p", capture_output=True, text=True).stdout.split()[0]
    bad = invoke("claim", "--demo", "--window", "nope", "--out", str(tmp_path / "q"))
    assert bad.exit_code == 2 and "no outage window" in bad.output


def test_message_gives_local_time_in_the_users_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import time

    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        result = invoke("claim", "--demo", "--out", str(tmp_path / "p"))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert result.exit_code == 0, result.output
    message = (tmp_path / "p" / "message.txt").read_text()
    # 01:06 UTC on the 15th is 18:06 the evening before in California (PDT, UTC-7).
    assert "2026-05-15 01:06" in message and "local time 2026-05-14 18:06–19:31 PDT" in message
    ev = json.loads((tmp_path / "p" / "evidence.json").read_text())
    assert ev["windows"][0]["start_local"].startswith("2026-05-14 17:18 PDT")


def test_message_stays_within_the_limit_with_many_windows(demo_packet: Path):
    from claimback.outputs.packet import MESSAGE_LIMIT, _environment, render_message

    ev = json.loads((demo_packet / "evidence.json").read_text())
    window = ev["windows"][0]
    many = []
    for n in range(8):
        copy = json.loads(json.dumps(window))
        copy["id"] = f"w{n}"
        copy["incidents"] = [dict(window["incidents"][0], id=f"inc{n}{k}", url=f"https://status.claude.com/incidents/inc{n}{k}",
                                  name="A very long incident title " * 5) for k in range(4)]
        many.append(copy)
    ev["windows"] = many
    message = render_message(_environment(), ev)
    assert len(message) <= MESSAGE_LIMIT
    assert "https://status.claude.com/incidents/inc0" in message and "restore" in message
    assert "more outage window(s)" in message


@pytest.mark.parametrize(("zone", "label", "span"), [
    ("America/Los_Angeles", "2026-05-14 18:06 PDT (UTC-07:00)", " (local time 2026-05-14 18:06–19:31 PDT)"),
    ("Asia/Kolkata", "2026-05-15 06:36 IST (UTC+05:30)", " (local time 2026-05-15 06:36–08:01 IST)"),
    ("Australia/Lord_Howe", "2026-05-15 11:36 UTC+10:30", " (local time 2026-05-15 11:36–13:01 UTC+10:30)"),
    ("Etc/GMT-3", "2026-05-15 04:06 UTC+03:00", " (local time 2026-05-15 04:06–05:31 UTC+03:00)"),
    ("UTC", "2026-05-15 01:06 UTC+00:00", ""),
])
def test_one_local_clock_rule_for_the_packets_labels_and_the_messages_span(zone: str, label: str, span: str) -> None:
    """evidence.json's *_local labels and message.txt's "(local time …)" name the zone alike (one rule,
    outputs/evidence.py): the zone's own abbreviation, else its UTC offset; on a UTC clock no suffix."""
    from zoneinfo import ZoneInfo

    from claimback.outputs.evidence import local_label, local_span

    tz = ZoneInfo(zone)
    start, end = "2026-05-15T01:06:00.000Z", "2026-05-15T02:31:00.000Z"
    assert local_label(start, tz) == label
    assert local_span(start, end, tz) == span
    assert local_span(None, end, tz) == "" and local_label(None, tz) == ""
    if span:  # across midnight on the local clock the end says its day
        assert local_span("2026-05-15T23:06:00.000Z", "2026-05-16T02:31:00.000Z", ZoneInfo("Asia/Kolkata")) == \
            " (local time 2026-05-16 04:36–08:01 IST)"
        assert local_span("2026-05-15T20:06:00.000Z", "2026-05-15T21:31:00.000Z", ZoneInfo("Asia/Kolkata")) == \
            " (local time 2026-05-16 01:36–03:01 IST)"
        assert local_span("2026-05-15T18:06:00.000Z", "2026-05-15T18:59:00.000Z", ZoneInfo("Asia/Kolkata")) == \
            " (local time 2026-05-15 23:36–2026-05-16 00:29 IST)"


@pytest.mark.parametrize("value", [
    {"a": [1, 2.5, None, True, False, "é\u2028\x7f\x1b\"\\\n", {}, []], "b": {"c": -0.0, "d": 1e15}},
    {"exponent": 1e16}, {"small": 1.5e-07}, {"nan": float("nan")}, {"inf": [float("inf")]},
    {1: "an int key"}, {"surrogate": "\ud800"}, {"big": 2 ** 70}, ("a", "tuple"), [],
])
@pytest.mark.parametrize("large", [False, True])
def test_json_text_is_json_dumps_indented(value: object, large: bool) -> None:
    # evidence.json and every --json print: msgspec writes plain trees, json the rest; the text is
    # json.dumps(indent=2, ensure_ascii=False) either way (large: past the size where msgspec is used).
    from claimback.outputs.escape import json_text

    tree = {"rows": [{"ts": f"2026-05-01T00:{i % 60:02d}:00.000Z", "n": i, "usd": i / 7} for i in range(7000)],
            "value": value} if large else value
    assert json_text(tree) == json.dumps(tree, indent=2, ensure_ascii=False)


REPEATED_KEY = "sk-ant-api03-RePeAtEd0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH-ijklmnopqrstuvwxAA"


def test_a_key_only_in_a_repeated_evidence_text_is_scrubbed_in_every_file(demo_packet: Path, tmp_path: Path):
    # Fields a builder passes through unscrubbed (here every failure's error type and every lost request's
    # model, the same text each time) are cleaned by redact_tree, once per distinct string; the files
    # rendered from the tree hold no copy. Rendered without that step, the final scan finds the key on
    # every line of every file that holds it.
    from claimback.core.secrets import scan_text
    from claimback.outputs.escape import safe_links
    from claimback.outputs.packet import render_files, scan_packet
    from claimback.outputs.redact import redact_tree

    ev = json.loads((demo_packet / "evidence.json").read_text())
    text = f"overloaded_error (x-api-key: {REPEATED_KEY})"
    planted = 0
    for w in ev["windows"]:
        for f in w["failures"]:
            f["error_type"] = text
            planted += 1
        for r in w["lost_requests"]:
            r["model"] = text
            planted += 1
    assert planted >= 10
    files = render_files(safe_links(redact_tree(ev)))
    for name, body in files.items():
        assert REPEATED_KEY not in body and REPEATED_KEY[:24] not in body, name
        assert scan_text(body, name) == [], name
    assert json.loads(files["evidence.json"]) == json.loads(json.dumps(ev).replace(
        text, "overloaded_error (x-api-key: [REDACTED])"))
    raw = render_files(ev)
    for name in FILES:
        (tmp_path / name).write_text(raw[name], encoding="utf-8")
    found = {(f.path, f.line) for f in scan_packet(tmp_path, list(FILES))}
    holding = {(name, n) for name in FILES for n, line in enumerate(raw[name].splitlines(), start=1)
               if REPEATED_KEY in line}
    assert {name for name, _ in holding} >= {"report.html", "report.md", "evidence.json", "evidence.csv"}
    assert holding <= found


def test_templates_read_a_dicts_fields_as_jinja_does():
    # The packet's environment reads `x.name` of a plain dict as its item without Jinja's attribute try
    # first (outputs/packet.py _environment_class); whatever a template asks, the text is Jinja's own.
    import jinja2

    from claimback.outputs.packet import _environment_class

    class Row(dict):
        label = "attribute"

    source = ("{{ d.ts }} {{ d['class'] }} {{ d.items is callable }} {{ d.get('x', 1) }} {{ s.label }} "
              "{{ s.ts }} {{ o.real }}{% for k, v in d.items() %} {{ k }}={{ v }}{% endfor %}")
    values = {"d": {"ts": "2026-05-15", "class": "outage", "items": "field named items"},
              "s": Row(ts="t", label="item"), "o": 3}
    ours = _environment_class()(undefined=jinja2.StrictUndefined).from_string(source).render(**values)
    assert ours == jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(source).render(**values)
    assert ours.startswith("2026-05-15 outage True 1 attribute t 3")
    for missing in ("{{ d.nope }}", "{{ d.nope.deeper }}"):
        with pytest.raises(jinja2.UndefinedError) as ours_error:
            _environment_class()(undefined=jinja2.StrictUndefined).from_string(missing).render(d={})
        with pytest.raises(jinja2.UndefinedError) as jinja_error:
            jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(missing).render(d={})
        assert str(ours_error.value) == str(jinja_error.value)
