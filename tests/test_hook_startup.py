"""The guard hook's start-up (issue 17): its quiet path loads neither json nor re (nor enum, which re
loads), and core/jsonlite, which stands in for json there, gives json's own results and errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimback.core import jsonlite
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
