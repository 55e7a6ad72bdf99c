"""The guard hook's start-up (issue 17): its quiet path loads neither json nor re (nor enum, which re
loads), and core/jsonlite, which stands in for json there, gives json's own results and errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimback.core import jsonlite
from claimback.prevent import signals
from test_guard_hook import agent_payload, decisions, write_cache

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def _outcome(fn, *args, **kwargs):
    try:
        return ("ok", repr(fn(*args, **kwargs)))
    except Exception as exc:  # the same error type and message, or the test fails
        return ("error", type(exc).__name__, str(exc))


@settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans(), st.sampled_from([None, (",", ":")]))
def test_jsonlite_dumps_and_loads_as_json_does(value, ascii_only, separators) -> None:
    kwargs = {"ensure_ascii": ascii_only} | ({"separators": separators} if separators else {})
    text = json.dumps(value, **kwargs)
    assert jsonlite.dumps(value, **kwargs) == text
    assert _outcome(jsonlite.loads, text) == _outcome(json.loads, text)
    assert _outcome(jsonlite.loads, text.encode("utf-8")) == _outcome(json.loads, text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.eE+-tfnul \t\n\r\x0c\ufeffaNI\\')), max_size=30))
def test_jsonlite_accepts_and_refuses_what_json_does(text: str) -> None:
    assert _outcome(jsonlite.loads, text) == _outcome(json.loads, text)


@pytest.mark.parametrize("raw", [b"\xef\xbb\xbf{}", '{"a": 1}'.encode("utf-16"), b"\xff{}", b'{"a": "\xc3\xa9"}'])
def test_jsonlite_bytes_as_json_reads_them(raw: bytes) -> None:
    assert _outcome(jsonlite.loads, raw) == _outcome(json.loads, raw)


def test_quiet_hook_path_imports_no_json_re_or_enum(isolated_home: Path) -> None:
    write_cache(isolated_home, [])
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "claimback", "hook", "PreToolUse"],
                          input=json.dumps(agent_payload()), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert decisions(isolated_home)[-1]["decision"] == "allow"
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "claimback.prevent.hook" in modules
    for heavy in ("json", "re", "enum", "typing"):
        assert heavy not in modules, heavy


# -- the report's start-up (issue 17): an unchanged re-run imports no parser and compiles no pattern ------

_REPORT_PROBE = """
import json, sys
from claimback.entry import main
sys.argv = ["claimback", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
finally:
    print("probe:", file=sys.stderr, flush=True)
    from claimback.core import classify, secrets
    rules = [p for r in classify.DECISIVE + classify.RULES if (p := r.text) is not None]
    others = [classify._URL, classify._PROTECT, classify._STATUS_IN_TEXT, *(p for p, _ in classify._NORMALIZERS)]
    print(json.dumps({"classify": sum(p._compiled is not None for p in rules + others),
                      "secrets": [r.kind for r in secrets._RULES if r.pattern._compiled is not None]}),
          file=sys.stderr)
"""
_PARSER_MODULES = ("claimback.ledger.ingest", "claimback.sources.transcripts", "claimback.core.classify")


def _report_run(db: Path, projects: Path) -> tuple[str, set[str], dict]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", _REPORT_PROBE, "usage", "daily", "--json",
                           "--db", str(db), "--source", str(projects)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-500:]
    before_probe = proc.stderr.split("probe:")[0]  # the probe's own imports come after
    modules = {line.split("|")[-1].strip() for line in before_probe.splitlines() if "|" in line}
    return proc.stdout, modules, json.loads(proc.stderr.rsplit("probe:", 1)[1].strip().splitlines()[-1])


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (k, *_strings(v))]
    if isinstance(value, list):
        return [t for v in value for t in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_unchanged_rerun_imports_no_parser_and_compiles_no_pattern(tmp_path: Path) -> None:
    projects = tmp_path / "projects"
    shutil.copytree(Path(__file__).parent / "fixtures" / "parity" / "claude" / "projects", projects)
    db = tmp_path / "ledger.sqlite3"
    first, first_modules, _ = _report_run(db, projects)  # reads every file: the parser is needed
    assert set(_PARSER_MODULES) <= first_modules
    again, modules, compiled = _report_run(db, projects)
    assert again == first and json.loads(again)["daily"]
    assert not set(_PARSER_MODULES) & modules, set(_PARSER_MODULES) & modules
    assert "_hashlib" not in modules  # OpenSSL: core/digest.py hashes the tails
    # No failure rule is compiled; a secret shape only when a printed string passed its cheap hint test
    # (the JSON is scrubbed on its way out), so most never are.
    from claimback.core.secrets import _RULES

    printed = _strings(json.loads(again))
    tried = {r.kind for r in _RULES if any(r.may_match(t, t.lower()) for t in printed)}
    assert compiled["classify"] == 0
    assert set(compiled["secrets"]) <= tried and len(tried) < len(_RULES) / 2, (compiled, tried)
    # One line more in one file: that run reads it (and so imports the parser) and reports it.
    transcript = next(p for p in sorted(projects.rglob("*.jsonl")) if "assistant" in p.read_text())
    line = next(l for l in transcript.read_text().splitlines() if '"type":"assistant"' in l.replace(" ", ""))
    record = json.loads(line)
    record["uuid"], record["requestId"], record["message"]["id"] = "u-rerun-1", "req_rerun_1", "msg_rerun_1"
    record["message"]["usage"] = {"input_tokens": 1000, "output_tokens": 7}
    with open(transcript, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    grown, grown_modules, _ = _report_run(db, projects)
    assert "claimback.sources.transcripts" in grown_modules
    assert json.loads(grown)["totals"]["inputTokens"] == json.loads(first)["totals"]["inputTokens"] + 1000


# -- the deny path: no re, no urllib (core/untrusted without them; judgments kept between calls) ------

# The pattern core/untrusted.strip_controls used before it cleaned ASCII text without `re`.
_CONTROLS_ORACLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TEXT = st.text(alphabet=st.sampled_from(list("aZ 9\t\n\r\x00\x08\x0b\x1b\x1f\x7f\x80\x9f\xa0é€\u202a\u202e\u2066\u2069\u200b\U0001f600")),
                max_size=40)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_strip_controls_removes_what_the_pattern_removes(text: str) -> None:
    from claimback.core.untrusted import strip_controls

    assert strip_controls(text) == _CONTROLS_ORACLE.sub("", text)


_SCHEMES = st.sampled_from(["https", "HTTPS", "hTtPs", "http", "javascript", "data", "ftp", "https:", ""])
_HOSTS = st.sampled_from(["status.claude.com", "STATUS.Claude.COM", "stspg.io", "www.stspg.io", "status.anthropic.com",
                          "status.claude.com.evil.io", "evil.io", "stspg.io:443", "u:p@stspg.io", "@stspg.io",
                          "stspg.io@evil.io", "[stspg.io]", "stspg.io%2f", "st\u0455pg.io", "\u212a.io", "",
                          "127.0.0.1:9", "STSPG.IO."])
_TAILS = st.sampled_from(["", "/", "/incidents/abc", "?x=1", "#f", "/a?b#c", "\\evil", "/\x1b", " /x", "/é"])


@settings(max_examples=500, deadline=None)
@given(_SCHEMES, st.sampled_from(["://", ":", ":///", "//", ""]), _HOSTS, _TAILS)
def test_safe_link_without_urllib_accepts_what_urlsplit_accepts(scheme: str, sep: str, host: str, tail: str) -> None:
    from claimback.core import untrusted

    url = f"{scheme}{sep}{host}{tail}"
    try:
        parsed = untrusted._parsed_link(url) if untrusted.strip_controls(url) == url and not any(
            c.isspace() for c in url) and len(url) <= 2048 else None
    except Exception as exc:  # noqa: BLE001 - the same outcome, error or not
        parsed = type(exc).__name__
    assert untrusted.safe_link(url) == parsed, url


def test_a_quiet_call_with_its_judgments_kept_imports_no_incident_rules(isolated_home: Path) -> None:
    """No incident open and the session's model family kept: nothing is judged, so the hook imports neither
    sources/incident_text nor core/lazyre (only an incident or a new model id needs them)."""
    write_cache(isolated_home, [])
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "claimback", "hook", "PreToolUse"],
                              input=json.dumps(agent_payload(model="claude-opus-4-6")), capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr[-500:]
        runs.append({line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line})
    assert "claimback.sources.incident_text" in runs[0]  # the new model id was judged once
    for module in ("claimback.sources.incident_text", "claimback.core.lazyre", "claimback.sources"):
        assert module not in runs[1], module
    assert [d["decision"] for d in decisions(isolated_home)[-2:]] == ["allow", "allow"]


def _deny_home(home: Path) -> None:
    from test_guard_hook import incident

    write_cache(home, [incident("Elevated errors on Claude Opus 4.6", components=["Claude Code"])])


def test_deny_path_imports_no_re_or_urllib_once_its_judgments_are_kept(isolated_home: Path) -> None:
    _deny_home(isolated_home)
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "claimback", "hook", "PreToolUse"],
                              input=json.dumps(agent_payload(model="claude-opus-4-6")), capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr[-500:]
        runs.append((proc.stdout, {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}))
    (first_out, first_modules), (second_out, second_modules) = runs
    assert json.loads(first_out)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert second_out == first_out  # the kept judgment gives the same decision and words
    assert "re" in first_modules  # the first call judged the incident with the patterns
    for heavy in ("re", "enum", "urllib.parse", "ipaddress", "json", "typing"):
        assert heavy not in second_modules, heavy
    assert [d["decision"] for d in decisions(isolated_home)[-2:]] == ["deny", "deny"]


_ARCHIVE = json.loads((Path(__file__).resolve().parents[1] / "src" / "claimback" / "data"
                       / "anthropic-incidents.json").read_text(encoding="utf-8"))["incidents"]
_MODEL_IDS = ["claude-opus-4-6", "claude-opus-4-8", "claude-haiku-4-5-20251001", "claude-sonnet-4-5-20250929",
              "claude-mythos-5-1", "claude-fable-5", "claude-opus-4-20250514", "claude-3-5-sonnet-20241022",
              "anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-opus-4-6@20260101", "sonnet[1m]", "opus",
              "gpt-4o", "", "<synthetic>", "claude-code-2"]


def test_kept_judgments_equal_the_judgment_for_every_archived_incident(tmp_path: Path) -> None:
    from claimback.sources.incident_text import incident_relevance, model_family

    data_dir = str(tmp_path / "data")
    incidents = [{"name": r["name"], "impact": r["impact"], "components": [{"name": c} for c in r["components"]],
                  # the archive keeps no update texts: its note stands in for one (bodies are judged too)
                  "incident_updates": [{"body": r["note"]}] if isinstance(r.get("note"), str) else []}
                 for r in _ARCHIVE]
    wanted = [incident_relevance(*signals.relevance_inputs(i)) for i in incidents]
    assert any(w.relevant for w in wanted) and any(not w.relevant for w in wanted)
    for chunk in range(0, len(incidents), signals.MAX_JUDGMENTS):
        part = range(chunk, min(chunk + signals.MAX_JUDGMENTS, len(incidents)))
        chunk_dir = f"{data_dir}-{chunk}"
        fresh = signals.Judgments(chunk_dir)
        assert [fresh.relevance(*signals.relevance_inputs(incidents[k])) for k in part] == [wanted[k] for k in part]
        fresh.save()
        kept = signals.Judgments(chunk_dir)  # read back from the file: every answer a hit, none recomputed
        assert len(kept.relevances) == len({json.dumps(signals.relevance_inputs(incidents[k])) for k in part})
        assert [kept.relevance(*signals.relevance_inputs(incidents[k])) for k in part] == [wanted[k] for k in part]
        assert not kept.changed
    fams = signals.Judgments(data_dir)
    assert [fams.family(m) for m in _MODEL_IDS] == [model_family(m) for m in _MODEL_IDS]
    fams.save()
    assert [signals.Judgments(data_dir).family(m) for m in _MODEL_IDS] == [model_family(m) for m in _MODEL_IDS]


def test_kept_judgments_from_another_version_or_of_another_shape_are_not_used(tmp_path: Path) -> None:
    from claimback.sources.incident_text import incident_relevance

    data_dir = str(tmp_path / "data")
    inputs = ("Elevated errors on Claude Code", "major", ["Claude Code"], [])
    forged = [[list(inputs[:2]) + [inputs[2], inputs[3]], [False, "none", [], "forged", False]]]
    path = Path(data_dir) / "guard" / signals.JUDGMENTS_NAME
    path.parent.mkdir(parents=True)
    stamp = signals.Judgments(data_dir).stamp
    other_install = {"stamp": ["another python", 1, 2], "relevance": forged, "families": {"claude-opus-4-6": "x"}}
    for data in ({"sets": [other_install]},
                 {"sets": [{"stamp": stamp, "relevance": [[forged[0][0], [0, "none", [], "bad shape", False]]],
                            "families": {"claude-opus-4-6": 7}}]},
                 {"sets": "no list"}, "not an object", "[" * 100_000):
        path.write_text(data if isinstance(data, str) and data.startswith("[") else json.dumps(data))
        kept = signals.Judgments(data_dir)
        assert kept.relevance(*inputs) == incident_relevance(*inputs) and kept.relevance(*inputs).relevant
        assert kept.family("claude-opus-4-6") == "opus-4.6"
    path.write_text(json.dumps({"sets": [other_install]}))
    kept = signals.Judgments(data_dir)
    kept.relevance(*inputs)
    kept.save()  # another install's set stays beside this one's: two installs do not wipe each other
    sets = json.loads(path.read_text())["sets"]
    assert [s["stamp"] for s in sets] == [stamp, other_install["stamp"]] and sets[1] == other_install
    path.write_text(json.dumps({"sets": [{"stamp": stamp, "relevance": forged}]}))  # this stamp: trusted
    assert signals.Judgments(data_dir).relevance(*inputs).reason == "forged"


def test_the_background_refresh_keeps_the_judgments_of_the_incidents_it_cached(isolated_home: Path) -> None:
    from claimback.prevent import refresh
    from test_guard_hook import incident

    write_cache(isolated_home, [incident("Elevated errors on Claude Opus 4.6", components=["Claude Code"]),
                                incident("Degraded quality of Claude.ai search", iid="x2")])
    assert refresh.prewarm() == 2
    data_dir = signals.fast_dirs()[1]
    kept = signals.Judgments(data_dir)
    assert [entry[0][0] for entry in kept.relevances] == ["Elevated errors on Claude Opus 4.6",
                                                          "Degraded quality of Claude.ai search"]
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "claimback", "hook", "PreToolUse"],
                          input=json.dumps(agent_payload()), capture_output=True, text=True, timeout=30)
    assert json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "re" not in {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}


# -- the launcher guard install writes: `<python> -P -c '<LAUNCH_CODE>'` -------------------------------

def test_the_installed_command_line_decides_and_speaks_as_python_m_claimback(isolated_home: Path, tmp_path: Path) -> None:
    from claimback.prevent import guard
    from test_guard_hook import incident, retry, write_transcript

    guard.install("user")
    settings_file = Path(os.environ["HOME"]) / ".claude" / "settings.json"
    command = json.loads(settings_file.read_text())["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert command.endswith(" -P -c 'from claimback.entry import main; main()' hook PreToolUse")
    now = datetime.now(timezone.utc)
    transcript = write_transcript(tmp_path / "p" / "s.jsonl", [retry(now - timedelta(seconds=s)) for s in (40, 30, 20)])
    project = tmp_path / "project"  # Claude Code runs hooks in the project: its files must not shadow ours
    (project / "claimback").mkdir(parents=True)
    (project / "claimback" / "__init__.py").write_text("raise SystemExit('the project shadowed claimback')\n")
    (project / "datetime.py").write_text("raise SystemExit('the project shadowed datetime')\n")
    for incidents in ([], [incident("Elevated errors on Claude Code", components=["Claude Code"])]):
        write_cache(isolated_home, incidents)
        for transcript_path in (None, transcript):
            payload = json.dumps({"hook_event_name": "PreToolUse", "session_id": "s1",
                                  **agent_payload(transcript_path)})
            installed = subprocess.run(command, shell=True, input=payload, capture_output=True, text=True,
                                       timeout=30, cwd=project)
            module = subprocess.run([sys.executable, "-m", "claimback", "hook", "PreToolUse"], input=payload,
                                    capture_output=True, text=True, timeout=30)
            assert installed.returncode == module.returncode == 0, installed.stderr
            assert installed.stdout == module.stdout and installed.stderr == ""
    rows = decisions(isolated_home)
    assert [r["decision"] for r in rows] == ["allow"] * 2 + ["deny"] * 6


def test_a_project_install_aligns_a_user_install_of_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user entry `<python> -P -c …` and `claimback` on PATH (the script beside that python) are one
    install, so a project install turns the user entry into the same line (Claude Code runs it once)."""
    from claimback.prevent import guard, guard_settings

    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "claimback").exists():
        pytest.skip("no console script next to this interpreter")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    guard.install("user")
    guard.install("project", project_dir=tmp_path / "repo")
    user = json.loads((Path(os.environ["HOME"]) / ".claude" / "settings.json").read_text())
    assert guard_settings.our_prefix(user) == "claimback"


def test_the_installed_command_loads_no_launcher_machinery(isolated_home: Path) -> None:
    """What the launcher saves (benchmarks/hook_latency.py): the console script's `re` (pip's template)
    and runpy's importlib.util / contextlib are not loaded by the command install writes."""
    from claimback.prevent.guard_settings import hook_command

    write_cache(isolated_home, [])
    proc = subprocess.run(hook_command("PreToolUse"), shell=True, input=json.dumps(agent_payload()),
                          capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, PYTHONPROFILEIMPORTTIME="1"))
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr[-500:]
    modules = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "claimback.prevent.hook" in modules
    for heavy in ("runpy", "importlib.util", "contextlib", "re", "enum", "json", "typing", "datetime"):
        assert heavy not in modules, heavy
