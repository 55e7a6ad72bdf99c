"""Hostile files and payloads: Claude Code settings that are huge, symlinked, read-only or not an object;
ids and names with `../`; fuzzed status-page payloads; a corrupt status cache under the guard hook.

Every command must end with a one-line error or a result (never a traceback), never touch a file it
was refused, never write outside the places it owns, and the hook must always allow and exit 0.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimback.cli import main
from claimback.ledger import open_ledger
from claimback.prevent import signals
from claimback.sources import incident_text, status_client, statuspage
from claimback.sources.incidents import incidents_from_feed, parse_import
from records import agent_launch, assistant, final_error, line, retry, task_result, user_prompt, write
from statuspage_payloads import OPEN_INCIDENT, history_atom

OK_EXITS = {0, 1, 2, 3, 75}


def run(*args: str, input: str | None = None) -> Any:
    result = CliRunner().invoke(main, list(args), input=input)
    # A ClaimbackError ends as SystemExit with one line; anything else is a crash.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args} crashed: {result.exception!r}\n{result.output[-2000:]}")
    assert result.exit_code in OK_EXITS, (args, result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output
    return result


# -- Claude Code settings files -------------------------------------------------------------------------
def _settings(tmp_path: Path) -> Path:
    return tmp_path / "user-home" / ".claude" / "settings.json"


def _huge() -> bytes:
    # 30 MB of permission rules: valid, absurd, and still Claude Code's to own.
    rules = [f"Bash(echo {i:08d} {'x' * 40})" for i in range(500_000)]
    return json.dumps({"permissions": {"allow": rules}, "model": "opus"}, indent=2).encode()


SETTINGS_CASES: dict[str, Any] = {
    "array": b'[{"hooks": {}}]\n',
    "string": b'"settings"\n',
    "hooks not an object": b'{"hooks": 5}\n',
    "hook groups of wrong types": b'{"hooks": {"PreToolUse": [{"hooks": 7}, "x", {"hooks": [1, {"command": 5}]}],'
                                  b' "Stop": {"a": 1}}, "env": [1, 2], "model": {"x": 1}, "cleanupPeriodDays": 1.5,'
                                  b' "statusLine": {"command": 7}}\n',
    # Python reads 1e400 as infinity; written back it would be `Infinity`, which Claude Code cannot parse.
    "number too large for JSON": b'{"cleanupPeriodDays": 1e400}\n',
    "deep nesting": b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n",
    "invalid UTF-8": b'{"model": "\xff\xfe"}\n',
    "duplicate keys": b'{"hooks": {}, "hooks": {}}\n',
    "directory": None,
    "empty": b"",
}


def _plant(tmp_path: Path, case: str) -> Path:
    path = _settings(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = SETTINGS_CASES[case]
    if body is None:
        path.mkdir()
    else:
        path.write_bytes(body)
    return path


def _every_settings_reader(tmp_path: Path) -> None:
    run("guard", "status", "--json")
    run("doctor", "--json", "--no-ingest", "--out", str(tmp_path / "doctor.json"))
    run("preflight", "--json")


@pytest.mark.parametrize("case", sorted(SETTINGS_CASES))
def test_hostile_settings_files_are_reported_never_crash_and_stay_untouched(tmp_path, case):
    path = _plant(tmp_path, case)
    before = path.read_bytes() if path.is_file() else None
    _every_settings_reader(tmp_path)
    result = run("guard", "install", "--json")
    if case in ("empty", "hook groups of wrong types"):
        # An empty file is an empty object; odd hook groups of other events are the user's to keep.
        assert result.exit_code == 0, result.output
        _every_settings_reader(tmp_path)
    else:
        assert result.exit_code != 0, result.output
        if before is not None:
            assert path.read_bytes() == before  # refused: not a byte changed
    run("guard", "uninstall", "--json")
    if before is not None:
        assert path.read_bytes() == before


def test_a_read_only_settings_file_is_refused_not_replaced(tmp_path):
    path = _settings(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"model": "opus"}\n')
    path.chmod(0o444)
    result = run("guard", "install")
    assert result.exit_code == 1 and "read-only" in result.output
    assert path.read_text() == '{"model": "opus"}\n' and stat.S_IMODE(path.stat().st_mode) == 0o444
    _every_settings_reader(tmp_path)


def test_a_symlinked_settings_file_is_edited_through_the_link(tmp_path):
    """Dotfile managers symlink settings.json: the link stays a link, its target gets the hooks, and
    uninstall gives the target back byte for byte."""
    target = tmp_path / "dotfiles" / "claude-settings.json"
    target.parent.mkdir()
    original = b'{\n  "model": "opus",\n  "env": {"FOO": "1"}\n}\n'
    target.write_bytes(original)
    link = _settings(tmp_path)
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    assert run("guard", "install").exit_code == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert "claimback" in target.read_text() and json.loads(target.read_text())["model"] == "opus"
    _every_settings_reader(tmp_path)
    assert run("guard", "uninstall").exit_code == 0
    assert link.is_symlink() and target.read_bytes() == original


def test_a_project_settings_link_out_of_the_project_is_refused(tmp_path):
    """A cloned repo cannot point .claude/settings.local.json at another file of the user's."""
    victim = tmp_path / "user-home" / ".config" / "other-app.json"
    victim.parent.mkdir(parents=True)
    victim.write_text('{"theme": "dark"}\n')
    project = tmp_path / "repo"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.local.json").symlink_to(victim)
    result = run("guard", "install", "--scope", "local", "--project-dir", str(project))
    assert result.exit_code == 2 and "outside" in result.output
    assert victim.read_text() == '{"theme": "dark"}\n'


@pytest.mark.slow
def test_a_huge_settings_file_installs_and_uninstalls_byte_for_byte(tmp_path):
    path = _settings(tmp_path)
    path.parent.mkdir(parents=True)
    original = _huge()
    path.write_bytes(original)
    assert run("guard", "install").exit_code == 0
    data = json.loads(path.read_text())
    assert len(data["permissions"]["allow"]) == 500_000 and "PreToolUse" in data["hooks"]
    _every_settings_reader(tmp_path)
    assert run("guard", "uninstall").exit_code == 0
    assert path.read_bytes() == original


# -- ids and names with ../ -----------------------------------------------------------------------------
EVIL = "../../../../../../tmp/claimback-evil"


def _tree(root: Path, skip: set[Path]) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d not in skip]
        out.update(str(here / f) for f in filenames)
    return out


def test_ids_and_names_with_dot_dot_never_write_outside_the_packet(tmp_path):
    projects = tmp_path / "claude" / "projects" / "app"
    sid = f"{EVIL}-session"
    agent = f"{EVIL}-agent"
    main_file = projects / "58ef7597-0000-4000-8000-00000000dead.jsonl"
    write(main_file, [
        user_prompt("review it", "2026-05-15T01:00:00.000Z", session=sid),
        agent_launch("msg_1", "req_1", "2026-05-15T01:00:05.000Z", "toolu_../../x", "review", session=sid),
        *[retry(f"2026-05-15T01:0{m}:00.000Z", m, session=sid) for m in range(1, 6)],
        final_error("2026-05-15T01:07:00.000Z", "API Error: 500 ../../etc/passwd", session=sid),
        task_result("toolu_../../x", "2026-05-15T01:08:00.000Z", status="failed", agent_id=agent, is_error=True,
                    text="API Error: 500", session=sid),
    ])
    # A subagent file whose own name carries dots (the id part of agent-<id>.jsonl).
    write(projects / "58ef7597-0000-4000-8000-00000000dead" / "subagents" / "agent-..%2F..%2Fevil.jsonl", [
        assistant("msg_2", "req_2", "2026-05-15T01:00:10.000Z", session=sid, sidechain=True, agent_id=agent),
        final_error("2026-05-15T01:06:00.000Z", "API Error: 529 Overloaded", session=sid, agent_id=agent),
    ])
    db = tmp_path / "ledger.sqlite3"
    out = tmp_path / "work" / "packet"
    before = _tree(tmp_path, {tmp_path / "work"})
    source = ["--db", str(db), "--source", str(tmp_path / "claude" / "projects")]
    run("ingest", *source)
    for args in (["resume", "--json"], ["resume", "--prompt"], ["loss", "--json", "--offline"],
                 ["outages", "--json", "--offline"], ["usage", "session", "--json"]):
        run(*args, *source, "--no-ingest")
    run("claim", "--offline", "--out", str(out), "--zip", *source, "--no-ingest")
    run("claim", "--offline", "--window", EVIL, "--out", str(tmp_path / "work" / "p2"), *source, "--no-ingest")
    after = _tree(tmp_path, {tmp_path / "work"})
    owned = {str(db), str(db) + "-wal", str(db) + "-shm"}
    new = {p for p in after - before if p not in owned and "claimback-home" not in p
           and "/.cache/matplotlib/" not in p}  # matplotlib's font cache (the packet's chart)
    assert new == set()
    assert not Path("/tmp/claimback-evil-session").exists() and not list(Path("/tmp").glob("claimback-evil*"))
    if out.exists():
        for path in out.rglob("*"):
            assert path.resolve().is_relative_to(out.resolve())


def test_the_hook_reads_only_transcripts(tmp_path):
    """transcript_path comes from the hook's stdin: a path that is not a .jsonl transcript is not read."""
    secretish = tmp_path / "not-a-transcript.txt"
    secretish.write_text("".join(line(retry(signals.iso(time.time() - 30), n)) for n in range(1, 6)))
    seen = signals.transcript_signals(str(secretish), time.time(), 600, None)
    assert seen["files"] == 0 and seen["failures"] == []
    as_jsonl = tmp_path / "t.jsonl"
    as_jsonl.write_text(secretish.read_text())
    assert len(signals.transcript_signals(str(as_jsonl), time.time(), 600, None)["failures"]) == 5


# -- status payloads --------------------------------------------------------------------------------------
text_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=60),
                        st.sampled_from(["", "2026-05-15T01:06:00.000Z", "2026-13-45T99:99:99Z", "minor", "critical",
                                         "resolved", "investigating", "Claude Code", "Opus 4.6", "\x00", "9" * 400]))
json_values = st.recursive(text_values, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)), max_leaves=10)
impact_sentences = st.sampled_from([
    "Impact occurred from 17:34–18:52 UTC", "between 23:00 PT / 7:00 UTC and 1:50 PT / 9:50 UTC",
    "From 01:06 to 02:40 UTC on May 15 requests to Opus 4.6 failed", "since 25:99 UTC", "at 12:00 PM PDT",
    "between 11:59pm and 12:01am", "from 99:99 to 00:00 UTC",
])


@st.composite
def mutated_incident(draw: st.DrawFn) -> Any:
    inc = json.loads(json.dumps(OPEN_INCIDENT))
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.sampled_from(["top", "update", "component"]))
        target = inc
        if where == "update" and isinstance(inc.get("incident_updates"), list) and inc["incident_updates"]:
            target = inc["incident_updates"][0]
        elif where == "component" and isinstance(inc.get("components"), list) and inc["components"]:
            target = inc["components"][0]
        if not isinstance(target, dict) or not target:
            continue
        key = draw(st.sampled_from(sorted(target)))
        if draw(st.booleans()):
            target[key] = draw(json_values)
        else:
            target[key] = draw(impact_sentences) + draw(st.text(max_size=20))
    return inc if draw(st.integers(0, 9)) else draw(json_values)


def _write_cache(name: str, body: bytes, fetched_at: str | None = None) -> None:
    status_client.write_cache(name, body, {"url": "https://status.claude.com/api/v2/x.json",
                                        "fetched_at": fetched_at or datetime.now(timezone.utc).isoformat(),
                                        "etag": None, "last_modified": None, "status": 200})


@settings(max_examples=int(os.environ.get("CLAIMBACK_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(incidents=st.lists(mutated_incident(), max_size=4), body_text=st.text(max_size=300))
def test_fuzzed_status_payloads_never_crash_the_readers(tmp_path_factory, incidents, body_text):
    from claimback.analysis.outages import outages_report

    work = tmp_path_factory.mktemp("status")
    payload = json.dumps({"page": {"id": "x"}, "incidents": incidents}).encode()
    for name in ("incidents", "unresolved"):
        _write_cache(name, payload)
    _write_cache("summary", json.dumps({"status": {"indicator": "minor"}, "incidents": incidents}).encode())
    ledger = open_ledger(work / "ledger.sqlite3")
    with ledger:
        statuspage.sync_status(ledger, offline=True)
        outages_report(ledger)
    cache_dir = os.environ["CLAIMBACK_HOME"] + "/cache"
    assessment = signals.assess(policy=dict(signals.DEFAULT_POLICY), cache_dir=cache_dir,
                                data_dir=os.environ["CLAIMBACK_HOME"] + "/data", now=time.time())
    signals.describe(assessment)
    ref = datetime(2026, 5, 15, 3, 0, tzinfo=timezone.utc)
    incident_text.parse_impact_range(body_text, ref)
    incident_text.parse_impact_window([incident_text.UpdateText(body_text, ref)])
    incident_text.models_mentioned(body_text)
    try:
        parse_import(body_text)
    except Exception as exc:  # noqa: BLE001 - only the documented refusal is allowed
        from claimback.errors import BadInput

        assert isinstance(exc, BadInput), repr(exc)


@pytest.mark.parametrize("feed", ["atom", "truncated", "entity bomb", "not xml"])
def test_hostile_history_feeds(feed):
    good = history_atom(OPEN_INCIDENT)
    text = {
        "atom": good,
        "truncated": good[: len(good) // 2],
        "entity bomb": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;'
                       '&lol;&lol;&lol;&lol;&lol;&lol;">]><feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol2;'
                       '</title></entry></feed>',
        "not xml": "<html><body>captive portal</body></html>",
    }[feed]
    try:
        incidents_from_feed(text)
    except Exception as exc:  # noqa: BLE001
        from claimback.errors import BadInput

        assert isinstance(exc, BadInput), repr(exc)


# -- a corrupt cache under the hook ------------------------------------------------------------------------
def _status_dir() -> Path:
    return Path(os.environ["CLAIMBACK_HOME"]) / "cache" / "status"


CACHE_CASES = {
    "binary garbage": lambda d: (d / "unresolved.json").write_bytes(os.urandom(4096)),
    "array": lambda d: (d / "unresolved.json").write_text("[1, 2, 3]"),
    "incidents of wrong types": lambda d: (d / "unresolved.json").write_text(json.dumps(
        {"incidents": [1, "x", None, {"name": 5, "impact": [], "status": {}, "components": "Claude Code",
                                      "created_at": 1e300, "incident_updates": 7, "id": ["a"]}]})),
    "deep nesting": lambda d: (d / "unresolved.json").write_bytes(b'{"incidents": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "huge": lambda d: (d / "unresolved.json").write_text(json.dumps(
        {"incidents": [dict(OPEN_INCIDENT, id=f"i{n}", status="resolved") for n in range(6000)]})),
    "meta garbage": lambda d: (d / "unresolved.meta.json").write_bytes(b"\x00\xff{"),
    "meta array": lambda d: (d / "unresolved.meta.json").write_text("[]"),
    "directory": lambda d: ((d / "unresolved.json").unlink(), (d / "unresolved.json").mkdir()),
    "symlink loop": lambda d: ((d / "unresolved.json").unlink(), (d / "unresolved.json").symlink_to(d / "unresolved.json")),
}


@pytest.mark.parametrize("case", sorted(CACHE_CASES))
def test_a_corrupt_status_cache_lets_the_hook_allow_and_exit_0(tmp_path, case):
    _write_cache("unresolved", json.dumps({"incidents": []}).encode())
    CACHE_CASES[case](_status_dir())
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(line(assistant("m", "r", signals.iso(time.time() - 5))))
    payload = {"session_id": "s", "transcript_path": str(transcript), "cwd": str(tmp_path),
               "hook_event_name": "PreToolUse", "tool_name": "Agent", "tool_input": {"prompt": "x"}}
    # The timeout only guards against a hang; speed is measured in benchmarks/hook_latency.py.
    proc = subprocess.run([sys.executable, "-m", "claimback", "hook", "PreToolUse"], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert '"deny"' not in proc.stdout
    log = Path(os.environ["CLAIMBACK_HOME"]) / "data" / "guard" / "decisions.jsonl"
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["decision"] == "allow"


# -- files that are not transcripts, named like one ----------------------------------------------------
def test_ingest_reads_only_regular_transcripts_inside_its_roots(tmp_path):
    """A FIFO or a device named *.jsonl would hang the ingest or never end a line; a symlink may point
    out of the roots. None of them is read; a symlink to a transcript inside the roots is."""
    projects = tmp_path / "claude" / "projects"
    app = projects / "app"
    real = write(app / "58ef7597-0000-4000-8000-000000000001.jsonl", [assistant("m1", "r1", "2026-05-15T01:00:00.000Z")])
    outside = write(tmp_path / "elsewhere" / "private.jsonl", [assistant("m2", "r2", "2026-05-15T01:00:00.000Z")])
    os.mkfifo(app / "58ef7597-0000-4000-8000-00000000f1f0.jsonl")
    (app / "58ef7597-0000-4000-8000-0000000000de.jsonl").symlink_to("/dev/zero")
    (app / "58ef7597-0000-4000-8000-00000000003e.jsonl").symlink_to(outside)
    (app / "58ef7597-0000-4000-8000-0000000000ee.jsonl").symlink_to(app / "58ef7597-0000-4000-8000-0000000000ee.jsonl")
    (app / "copy").mkdir()
    (app / "copy" / "58ef7597-0000-4000-8000-000000000001.jsonl").symlink_to(real)
    proc = subprocess.run([sys.executable, "-m", "claimback", "ingest", "--json", "--db", str(tmp_path / "l.sqlite3"),
                           "--source", str(projects)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["files_seen"] == 2 and summary["new_requests"] == 1  # the real file and its in-root link
    ledger = open_ledger(tmp_path / "l.sqlite3")
    with ledger:
        assert ledger.scalar("SELECT COUNT(*) FROM requests WHERE message_id = 'm2'") == 0


def test_a_fifo_transcript_does_not_hold_the_hook(tmp_path):
    fifo = tmp_path / "58ef7597-0000-4000-8000-00000000f1f0.jsonl"
    os.mkfifo(fifo)
    (tmp_path / fifo.stem / "subagents").mkdir(parents=True)
    os.mkfifo(tmp_path / fifo.stem / "subagents" / "agent-a1.jsonl")
    payload = {"session_id": fifo.stem, "transcript_path": str(fifo), "cwd": str(tmp_path),
               "hook_event_name": "PreToolUse", "tool_name": "Agent", "tool_input": {"prompt": "x"}}
    # A blocking open would wait forever for a writer; the timeout only turns such a hang into a failure.
    proc = subprocess.run([sys.executable, "-m", "claimback", "hook", "PreToolUse"], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and '"deny"' not in proc.stdout


# -- the status line payload ------------------------------------------------------------------------------
STATUSLINE_BASE = {"session_id": "58ef7597-0000-4000-8000-000000000001", "model": {"id": "claude-opus-4-6",
                   "display_name": "Opus 4.6"}, "rate_limits": {
                       "five_hour": {"used_percentage": 42.5, "resets_at": 1789000000},
                       "seven_day": {"used_percentage": 77, "resets_at": 1789300000}}}


@st.composite
def statusline_payload(draw: st.DrawFn) -> bytes:
    payload = json.loads(json.dumps(STATUSLINE_BASE))
    for _ in range(draw(st.integers(0, 3))):
        limits = payload.get("rate_limits") if isinstance(payload.get("rate_limits"), dict) else {}
        spots = [payload, limits, limits.get("five_hour"), limits.get("seven_day"), payload.get("model")]
        where = draw(st.sampled_from([d for d in spots if isinstance(d, dict) and d]))
        if where:
            where[draw(st.sampled_from(sorted(where)))] = draw(st.one_of(json_values, st.sampled_from([
                "2026-05-16", "2026-05-16T00:00:00", "2026-05-16T00:00:00+09:00", "2026garbage", "9" * 30,
                -1, 101, 1e300, float("nan")])))
    raw = json.dumps(payload).encode()
    tail = draw(st.sampled_from([b"", b"", b"x", b"[" * 5000]))
    return raw[:draw(st.integers(len(raw) // 2, len(raw)))] + tail if tail or draw(st.booleans()) else raw


@settings(max_examples=int(os.environ.get("CLAIMBACK_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(raw=statusline_payload())
def test_fuzzed_status_line_payloads_print_a_line_and_keep_the_quota_reports_working(raw, capsys):
    """Claude Code runs the status line every few seconds: it must always print one line and exit 0, and
    whatever it stores must not break the loss report's quota impact later."""
    from claimback.analysis.quota import quota_impact
    from claimback.config import cache_dir
    from claimback.sources import statusline

    (cache_dir() / "statusline.stamp").unlink(missing_ok=True)  # one snapshot a minute: take each one
    assert statusline.run([], stdin=raw) == 0
    out = capsys.readouterr().out
    assert out.endswith("\n") and out.count("\n") == 1
    ledger = open_ledger(None)
    with ledger:
        for row in ledger.rows("SELECT five_hour_resets_at, seven_day_resets_at FROM quota_snapshots"):
            for value in row.values():
                assert value is None or (len(value) == 24 and value.endswith("Z")), value
        now = datetime.now(timezone.utc)
        quota_impact(ledger, signals.iso(now.timestamp() - 3600), signals.iso(now.timestamp() + 60), 1000)


# -- telemetry from the network (otel serve) --------------------------------------------------------------
HOSTILE_ATTRS = st.one_of(json_values, st.sampled_from([
    "9" * 400, -5, 10**30, 1e300, "1e400", "NaN", "-inf", "", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z",
    "2026-99-99T00:00:00Z", "API Error: 401 x-api-key sk-ant-api03-" + "Zz9_" * 20 + "AA"]))


try:  # the OTLP shapes of tests/test_otel.py (imported here, not in the strategy: it seeds `random`)
    from test_otel import api_error, api_request, exhausted, otlp_json
except ImportError:  # opentelemetry not installed: the receiver tests skip
    otlp_json = None


@st.composite
def otel_batch(draw: st.DrawFn) -> tuple[bytes, bool]:
    if otlp_json is None:
        return b"", False
    events = [api_request("req_a", "2026-05-15T01:00:00.000Z"), api_error("req_b", "2026-05-15T01:01:00.000Z", 1),
              exhausted("2026-05-15T01:02:00.000Z")]
    for name, attrs in events:
        for _ in range(draw(st.integers(0, 2))):
            attrs[draw(st.sampled_from(sorted(attrs)))] = draw(HOSTILE_ATTRS)
    body = otlp_json(events)
    if draw(st.booleans()):
        body = body.replace(b'"1778806692345000000"', draw(st.sampled_from(
            [b'"18446744073709551615"', b'"0"', b'"99999999999999999999"', b'"-1"', b'"abc"'])))
    return body, True


@settings(max_examples=int(os.environ.get("CLAIMBACK_FUZZ_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(batch=otel_batch())
def test_fuzzed_telemetry_is_stored_sane_or_refused(tmp_path_factory, batch):
    if otlp_json is None:
        pytest.skip("opentelemetry not installed (pip install 'claimback[test]')")
    from claimback.analysis.usage import usage_report
    from claimback.errors import BadInput
    from claimback.core.secrets import contains_secret
    from claimback.sources.otel import receive_logs

    body, _ = batch
    ledger = open_ledger(tmp_path_factory.mktemp("otel") / "ledger.sqlite3")
    with ledger:
        try:
            receive_logs(ledger, body, "application/json")
        except BadInput:
            return  # refused with a reason (the server answers 400)
        for row in ledger.rows("SELECT * FROM requests"):
            for column in ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"):
                assert 0 <= row[column] <= 10**10, (column, row[column])
            assert len(row["ts"]) == 24 and "1990" <= row["ts"][:4] <= "2200", row["ts"]
        for row in ledger.rows("SELECT ts, message, signature FROM failures"):
            assert len(row["ts"]) == 24 and "1990" <= row["ts"][:4] <= "2200", row["ts"]
            assert not contains_secret(f"{row['message']} {row['signature']}")
        for kind in ("daily", "session", "blocks"):
            usage_report(ledger, kind)
