"""The guard hook's start-up (issue 17): its quiet path loads neither json nor re (nor enum, which re
loads), and core/jsonlite, which stands in for json there, gives json's own results and errors."""

from __future__ import annotations

import json
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
