"""A claim holds up (issue 14): on a corpus mixing first-party errors with a relay's, the packet claims only
Anthropic's requests, never a 529 attempt, and states each window the same way in every output.

The corpus is our own records of the shapes seen in published transcripts: first-party `msg_01…` /
`req_011C…` ids during the 2026-05-15 incident 8z7l5zcy0v3b (in the bundled archive), and a relay
session (hex `msg_…` ids, a glm-4.7 model, EdgeOne 524 pages, "No available Claude accounts …") whose
errors overlap the incident and burst again on their own the next day.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from claimback.cli import main
from records import agent_launch, assistant, final_error, retry, task_result, user_prompt, write

FIRST = "5d0c9f7e-1111-4000-8000-00000000aaaa"
RELAY = "7a1e2b3c-2222-4000-8000-00000000bbbb"
AGENT = "a1b2c3d4e5f60718"
EDGEONE = ("API Error: 524 <!DOCTYPE html><html><head><title>524 A timeout occurred</title></head><body>"
           "<p>EdgeOne: the origin did not answer in time.</p></body></html>")
NO_ACCOUNTS = ('API Error: 503 {"error":{"type":"new_api_error","message":"No available Claude accounts '
               'support the requested model: claude-opus-4-6"}}')


def t(day: int, hms: str) -> str:
    return f"2026-05-{day:02d}T{hms}.000Z"


def _fp(n: int) -> tuple[str, str]:
    """First-party shapes: base58 message and request ids."""
    tail = "".join("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789"[(n * 7 + k) % 57] for k in range(22))
    return f"msg_01{tail}", f"req_011C{tail[:18]}"


def _relay_retry(ts: str, attempt: int, text: str, status: int) -> dict:
    record = retry(ts, attempt, status=status, session=RELAY)
    record["error"] = {"status": status, "headers": {}, "error": text}
    record["retryInMs"] = 4000.0
    return record


def _build(root: Path) -> Path:
    projects = root / "projects"
    # First party: a session working through the incident; 529 retries, 500 finals, a killed subagent.
    records = [user_prompt("Port the billing module", t(15, "00:55:00"), session=FIRST, uuid="fp-p1")]
    for n, minute in enumerate(range(56, 60)):
        mid, rid = _fp(n)
        records.append(assistant(mid, rid, t(15, f"00:{minute}:00"), inp=4, out=300, cw=2000, cr=60000,
                                 session=FIRST))
    mid, rid = _fp(10)
    records.append(agent_launch(mid, rid, t(15, "01:00:00"), "toolu_01Kp9", "Review the port", session=FIRST))
    for k, minute in enumerate(("06", "08", "10", "12"), start=1):
        r = retry(t(15, f"01:{minute}:00"), k, status=529, session=FIRST)
        r["error"]["requestID"] = _fp(20 + k)[1]
        records.append(r)
    records.append(final_error(t(15, "01:14:00"), 'API Error: 500 {"type":"error","error":{"type":"api_error",'
                               '"message":"Internal server error"}}', session=FIRST))
    records.append(task_result("toolu_01Kp9", t(15, "01:20:00"), status="failed", agent_id=AGENT, is_error=True,
                               text="API Error: 500", session=FIRST))
    write(projects / "app" / f"{FIRST}.jsonl", records)
    agent = [user_prompt("Review the port", t(15, "01:00:01"), session=FIRST, sidechain=True, agent_id=AGENT,
                         uuid="fp-ap")]
    for n in range(3):
        mid, rid = _fp(30 + n)
        agent.append(assistant(mid, rid, t(15, f"01:0{n + 1}:00"), inp=3, out=500, cr=30000, session=FIRST,
                               sidechain=True, agent_id=AGENT))
    agent.append(retry(t(15, "01:05:00"), 1, status=500, session=FIRST, agent_id=AGENT))
    agent[-1]["error"]["error"]["error"] = {"type": "api_error", "message": "Internal server error"}
    agent[-1]["error"]["requestID"] = _fp(40)[1]
    agent.append(final_error(t(15, "01:18:00"), "API Error: 500 Internal server error", session=FIRST,
                             agent_id=AGENT))
    write(projects / "app" / FIRST / "subagents" / f"agent-{AGENT}.jsonl", agent)

    # The relay: hex ids, a non-Claude model, HTML gateway pages and relay wording.
    relay = [user_prompt("Summarise the logs", t(15, "01:00:00"), session=RELAY, uuid="r-p1")]
    for n in range(3):
        relay.append(assistant(f"msg_{(n + 1) * 0x1f3a5c7e9b2d4f60:032x}"[:36], f"req_{n:024x}",
                               t(15, f"01:0{n + 1}:30"), inp=5, out=200, cr=90000, model="glm-4.7", session=RELAY))
    for k, minute in enumerate(("05", "07", "09", "11"), start=1):
        relay.append(_relay_retry(t(15, f"01:{minute}:30"), k, NO_ACCOUNTS, 503))
    relay.append(final_error(t(15, "01:13:30"), EDGEONE, error=None, status=524, session=RELAY))
    # The next day, a relay burst of its own, and three lone final errors stamped at one instant.
    for k in range(1, 5):
        relay.append(_relay_retry(t(16, f"05:1{k}:00"), k, EDGEONE, 524))
    relay.append(final_error(t(16, "05:16:00"), EDGEONE, error=None, status=524, session=RELAY))
    for k in range(3):
        rec = final_error(t(16, "09:00:00"), EDGEONE, error=None, status=522, session=RELAY)
        rec["uuid"] = f"lone-{k}"
        relay.append(rec)
    write(projects / "other" / f"{RELAY}.jsonl", relay)
    return projects


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("mixed")
    projects = _build(base)
    db = str(base / "ledger.sqlite3")
    out: dict = {"base": base}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMBACK_HOME", str(base / "home"))
        mp.setenv("HOME", str(base / "user-home"))
        mp.setenv("TZ", "UTC")
        mp.delenv("CLAUDE_CONFIG_DIR", raising=False)
        mp.setenv("CLAIMBACK_STATUS_URL", "http://127.0.0.1:9")
        mp.chdir(base)
        common = ["--source", str(projects), "--db", db, "--offline", "--since", "2026-05-14", "--until", "2026-05-16"]

        def run(*args: str) -> str:
            res = CliRunner().invoke(main, list(args))
            assert res.exit_code == 0, res.output
            return res.output

        out["outages"] = json.loads(run("outages", *common, "--json"))
        out["outages_text"] = run("outages", *common)
        out["loss"] = json.loads(run("loss", *common, "--json", "--plan", "max5"))
        out["loss_text"] = run("loss", *common, "--plan", "max5")
        out["claim_text"] = run("claim", *common, "--plan", "max5", "--out", str(base / "packet"))
        out["audit_text"] = run("audit", *common, "--out", str(base / "packet-audit"))
    packet = base / "packet"
    out["ev"] = json.loads((packet / "evidence.json").read_text())
    out["message"] = (packet / "message.txt").read_text()
    out["md"] = (packet / "report.md").read_text()
    out["html"] = (packet / "report.html").read_text()
    with (packet / "evidence.csv").open(newline="") as handle:
        out["csv"] = list(csv.DictReader(handle))
    return out


def test_ingest_stores_who_served_each_row(mixed: dict) -> None:
    from claimback.ledger import open_ledger

    with open_ledger(mixed["base"] / "ledger.sqlite3") as ledger:
        by = {r["session_id"]: r["p"] for r in ledger.rows(
            "SELECT session_id, GROUP_CONCAT(DISTINCT provider) AS p FROM requests GROUP BY session_id")}
        fails = {r["session_id"]: r["p"] for r in ledger.rows(
            "SELECT session_id, GROUP_CONCAT(DISTINCT provider) AS p FROM failures GROUP BY session_id")}
    assert by == {FIRST: "anthropic", RELAY: "other"}
    assert fails == {FIRST: "anthropic", RELAY: "other"}


def test_every_window_carries_its_provider_and_relay_bursts_are_not_anthropics(mixed: dict) -> None:
    windows = mixed["outages"]["windows"]
    assert windows and all(w["provider"] in ("anthropic", "other") for w in windows)
    anthropic = [w for w in windows if w["provider"] == "anthropic" and w["outage_failures"]]
    other = [w for w in windows if w["provider"] == "other"]
    assert [w["incident_ids"] for w in anthropic] == [["8z7l5zcy0v3b"]]
    assert sorted(w["window_id"] for w in other) == ["20260515-0105", "20260516-0511"]
    assert all(w["incident_ids"] == [] and not w["claimable"] and "relay" in w["claim_to"] for w in other)
    # The Anthropic window counts only first-party failures: 4 retries + 1 final + the subagent's 2.
    assert anthropic[0]["outage_failures"] == 7 and anthropic[0]["sessions_failed"] == [FIRST]
    # Three final errors stamped at one instant, with no retries: no window (never zero minutes long).
    assert not any(w["start"].startswith("2026-05-16T09:00") for w in windows)
    assert all(w["start"] < w["end"] for w in windows)
    for w in mixed["loss"]["windows"]:
        assert w["provider"] in ("anthropic", "other") and "claimable" in w


def test_the_packet_claims_only_anthropics_requests_and_never_a_529(mixed: dict) -> None:
    ev, message = mixed["ev"], mixed["message"]
    assert [w["provider"] for w in ev["windows"]] == ["anthropic"]
    window = ev["windows"][0]
    relay_ids = {f"req_{n:024x}" for n in range(3)}
    every_id = {r["request_id"] for w in ev["windows"] for r in w["lost_requests"]} | {
        f["request_id"] for w in ev["windows"] for f in w["failures"]}
    assert not every_id & relay_ids
    assert {f["session_id"] for f in window["failures"]} == {FIRST}
    assert RELAY not in message and "glm" not in message and "EdgeOne" not in message
    assert not relay_ids & set(re.findall(r"req_[0-9A-Za-z]+", message))
    # The relay's windows are reported apart, with where such a claim goes.
    assert sorted(o["id"] for o in ev["not_claimable"]) == ["20260515-0105", "20260516-0511"]
    assert "Not claimable with Anthropic" in mixed["md"] and "Not claimable with Anthropic" in mixed["html"]
    assert all("relay" in o["claim_to"] for o in ev["not_claimable"])
    # 529 attempts: shown as not charged, never in a claimed figure.
    not_charged = window["loss"]["overloaded_not_charged"]
    assert not_charged["attempts"] == 4 and not_charged["basis"] == "not charged"
    assert window["estimated_tokens"] == window["loss"]["failed_attempt_exposure"]["tokens"]
    rows_529 = [r for r in mixed["csv"] if r["record"] == "failure" and r["status"] == "529"]
    assert rows_529 and all(r["basis"] == "not charged" for r in rows_529)
    assert sum(int(r["tokens"] or 0) for r in mixed["csv"] if r["basis"] == "estimated") == ev["totals"]["estimated_tokens"]
    assert "Not claimed: 4 overloaded (529) attempts" in message
    assert "https://code.claude.com/docs/en/errors" in mixed["md"]
    assert ev["totals"]["measured_tokens"] == window["measured_tokens"] > 0


def test_one_window_one_description_everywhere(mixed: dict) -> None:
    window = next(w for w in mixed["outages"]["windows"] if w["incident_ids"] == ["8z7l5zcy0v3b"])
    incident_span, error_span = window["incident_span"], window["error_span"]
    assert incident_span == "2026-05-15 00:18–01:46 UTC"
    assert error_span == "2026-05-15 01:05–01:18 UTC"
    spans = window["spans"]
    assert spans == f"incident span (status page): {incident_span}; error span (Claude Code logs): {error_span}"
    loss = next(w for w in mixed["loss"]["windows"] if w["id"] == window["window_id"])
    assert loss["spans"] == spans and spans in loss["headline"]
    ev = mixed["ev"]["windows"][0]
    assert ev["spans"] == spans and ev["incident_span"] == incident_span and ev["error_span"] == error_span
    flat = {name: " ".join(text.split()) for name, text in mixed.items() if name.endswith("_text")}
    for name in ("loss_text", "claim_text", "audit_text"):
        assert spans in flat[name], name
    assert incident_span in flat["outages_text"] and error_span in flat["outages_text"]
    assert f"Incident span (status page): {incident_span}" in mixed["message"]
    assert f"Error span (Claude Code logs): {error_span}" in mixed["message"]
    assert f"Incident span (status page): {incident_span}" in mixed["md"]
    assert incident_span in mixed["html"] and error_span in mixed["html"]
    assert "UTC+00:00" not in mixed["message"] and len(mixed["message"]) <= 1500


def test_doctor_shows_the_provider_mix_next_to_the_settings_and_counts_back_from_the_newest_data(
        mixed: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The logs are from May; "today" is months later: recent failures count back from the newest data.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
    res = CliRunner().invoke(main, ["doctor", "--json", "--db", str(mixed["base"] / "ledger.sqlite3"),
                                    "--no-ingest", "--project", str(tmp_path)])
    assert res.exit_code in (0, 1, 3), res.output
    report = json.loads(res.output)
    assert report["provider_expected"] == "anthropic"
    mix = report["providers_in_logs"]
    assert set(mix) == {"anthropic", "other"} and mix["other"]["requests"] == 3 and mix["other"]["failures"] > 0
    assert any("Anthropic API" in w and "relay" in w for w in report["warnings"])
    assert report["failures_since"].startswith("2026-05-09")  # 7 days before the newest record (05-16)
    assert sum(c["count"] for c in report["failures"]) > 0


def test_no_official_incident_data_is_said_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Logs from November 2026: after the bundled archive (2026-10-07) and, offline, out of the feed's reach.
    # A few scattered errors, no burst: claimback cannot say "no outage", only that it has no data.
    mid, rid = _fp(1)
    write(tmp_path / "projects" / "app" / f"{FIRST}.jsonl", [
        user_prompt("Tidy the tests", "2026-11-20T10:00:00.000Z", session=FIRST, uuid="n-p1"),
        assistant(mid, rid, "2026-11-20T10:01:00.000Z", session=FIRST),
        final_error("2026-11-20T10:30:00.000Z", "API Error: 500 Internal server error", session=FIRST),
    ])
    monkeypatch.setenv("TZ", "UTC")
    common = ["--source", str(tmp_path / "projects"), "--db", str(tmp_path / "l.sqlite3"), "--offline"]
    runner = CliRunner()
    outages = runner.invoke(main, ["outages", *common])
    assert outages.exit_code == 0 and "No official incident data for this period (2026-11" in outages.output
    assert "No outage windows" not in outages.output
    data = json.loads(runner.invoke(main, ["outages", *common, "--json"]).output)
    assert data["windows"] == [] and data["coverage"]["missing"] == ["2026-11"]
    assert data["coverage"]["note"].startswith("no official incident data for this period (2026-11)")
    loss = json.loads(runner.invoke(main, ["loss", *common, "--json"]).output)
    assert loss["coverage_missing"] == ["2026-11"]
    assert loss["notes"] and loss["notes"][0].startswith("no official incident data for this period")
    audit = runner.invoke(main, ["audit", *common, "--since", "2026-11-14", "--until", "2026-11-20"])
    assert audit.exit_code == 0 and "no official incident data for this period" in audit.output
    assert not list(tmp_path.glob("claimback-packet-*"))
    claim = runner.invoke(main, ["claim", *common, "--out", str(tmp_path / "packet")])
    assert claim.exit_code == 0, claim.output
    ev = json.loads((tmp_path / "packet" / "evidence.json").read_text())
    assert ev["coverage"]["missing"] == ["2026-11"] and ev["outage_found"] is False
    for name in ("report.md", "report.html"):
        assert "No official incident data for this period" in (tmp_path / "packet" / name).read_text(), name
    assert "no official incident data for this period" in (tmp_path / "packet" / "message.txt").read_text()


def _no_data_logs(root: Path) -> list[str]:
    """November 2026 logs (after the archive, offline: no incident data) with a few errors, no burst."""
    mid, rid = _fp(1)
    write(root / "projects" / "app" / f"{FIRST}.jsonl", [
        user_prompt("Tidy the tests", "2026-11-20T10:00:00.000Z", session=FIRST, uuid="n-p1"),
        assistant(mid, rid, "2026-11-20T10:01:00.000Z", session=FIRST),
        final_error("2026-11-20T10:30:00.000Z", "API Error: 500 Internal server error", session=FIRST),
    ])
    return ["--source", str(root / "projects"), "--db", str(root / "l.sqlite3"), "--offline"]


def test_no_incident_data_is_one_sentence_in_every_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from claimback.analysis.outages import coverage_note

    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "400")  # one sentence on one line
    common = _no_data_logs(tmp_path)
    sentence = coverage_note(["2026-11"])
    assert sentence and sentence.startswith("no official incident data for this period (2026-11)")
    runner = CliRunner()
    flat = {name: " ".join(runner.invoke(main, args).output.split()).lower() for name, args in {
        "outages": ["outages", *common], "loss": ["loss", *common],
        "audit": ["audit", *common, "--since", "2026-11-14", "--until", "2026-11-20"]}.items()}
    for name, text in flat.items():
        assert sentence in text, (name, text)
    assert json.loads(runner.invoke(main, ["outages", *common, "--json"]).output)["coverage"]["note"] == sentence
    assert sentence in json.loads(runner.invoke(main, ["loss", *common, "--json"]).output)["notes"]
    assert runner.invoke(main, ["claim", *common, "--out", str(tmp_path / "packet")]).exit_code == 0
    for name in ("report.md", "report.html", "message.txt"):
        text = " ".join((tmp_path / "packet" / name).read_text().split()).lower()
        assert sentence in re.sub(r"<[^>]+>", "", text).replace("**", ""), name


def test_incident_coverage_is_read_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """loss, audit and claim read which months the incident data covers once (outage windows and the
    loss report share it)."""
    from claimback.analysis import outages

    calls: list[tuple[str | None, str | None]] = []
    real = outages.incident_coverage

    def counted(ledger, lo, hi):  # type: ignore[no-untyped-def]
        calls.append((lo, hi))
        return real(ledger, lo, hi)

    monkeypatch.setattr(outages, "incident_coverage", counted)
    common = _no_data_logs(tmp_path)
    runner = CliRunner()
    for args in (["loss", *common, "--json"], ["audit", *common, "--no-packet", "--json"],
                 ["claim", *common, "--out", str(tmp_path / "p")]):
        calls.clear()
        res = runner.invoke(main, args)
        assert res.exit_code == 0, res.output
        assert len(calls) == 1, (args[0], calls)


GATEWAY_PAGE = ("502 <html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
                "Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n")


def test_a_final_error_takes_the_route_its_attempts_named(tmp_path: Path) -> None:
    """2.1.332 behind a gateway that answers with its own HTML page (tests/test_realclient.py,
    `gateway_page`): each attempt's record holds the page, the final error only "API Error: 502 Bad
    Gateway. … check your inference gateway (HOST)". The final ends those attempts: same route, so a
    relay's burst is never claimed from Anthropic through its last row. An answer in between, or a new
    prompt, ends that inheritance."""
    from claimback.ledger import open_ledger
    from claimback.ledger.ingest import ingest

    def attempt(ts: str, n: int) -> dict:
        return {"type": "system", "subtype": "api_error", "level": "error", "sessionId": RELAY, "timestamp": ts,
                "uuid": f"g-{n}", "error": {"message": GATEWAY_PAGE, "status": 502, "formatted": "502 Bad Gateway",
                                            "connection": None, "isNetworkDown": False},
                "retryAttempt": n, "maxRetries": 3, "retryInMs": 600.0, "isSidechain": False}

    final_text = ("API Error: 502 Bad Gateway. This is a server-side issue, usually temporary — try again in a "
                  "moment. If it persists, check your inference gateway (gw.example.com).")
    records = [user_prompt("first", t(16, "10:00:00"), session=RELAY, uuid="p1"),
               attempt(t(16, "10:00:01"), 1), attempt(t(16, "10:00:03"), 2),
               {**final_error(t(16, "10:00:09"), final_text, status=502, session=RELAY), "uuid": "f1"},
               # a new turn whose only failure is a final error with no attempts before it; its text names
               # a loopback gateway (a local proxy), which proves no route
               user_prompt("second", t(16, "11:00:00"), session=RELAY, uuid="p2"),
               {**final_error(t(16, "11:00:05"), final_text.replace("gw.example.com", "127.0.0.1:4000"),
                              status=502, session=RELAY), "uuid": "f2"}]
    write(tmp_path / "projects" / "-home-u-gw" / f"{RELAY}.jsonl", records)
    led = open_ledger(tmp_path / "ledger.sqlite3")
    try:
        ingest(led, [tmp_path / "projects"], machine="m")
        rows = led.rows("SELECT failure_key, kind, provider FROM failures ORDER BY ts")
        assert [(r["kind"], r["provider"]) for r in rows] == [
            ("retry", "other"), ("retry", "other"), ("final", "other"), ("final", None)]
    finally:
        led.close()
