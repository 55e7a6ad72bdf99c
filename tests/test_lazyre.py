"""core/lazyre.py: a pattern compiled on first use answers as re.compile's does, before and after."""

from __future__ import annotations

import re

import pytest

from claimback.core.lazyre import lazy_compile

TEXT = "API Error: 529 at 12:30 sk-ant-api03-AAAA, user=me@example.com; req_abc retry 3/10"
CASES = [(r"(?P<v>\d+)", 0), (r"(?i)api error:\s*(\d{3})", 0), (r"sk-(?P<k>[a-z]+)", re.IGNORECASE), (r"\s+", 0)]


@pytest.mark.parametrize(("source", "flags"), CASES)
@pytest.mark.parametrize("first", ["search", "finditer", "sub", "groupindex", "split"])
def test_lazy_pattern_answers_as_compiled(source: str, flags: int, first: str) -> None:
    lazy, real = lazy_compile(source, flags), re.compile(source, flags)
    assert lazy._compiled is None  # nothing compiled at definition
    calls = {
        "search": lambda p: (m := p.search(TEXT)) and (m.span(), m.groups()),
        "finditer": lambda p: [(m.span(), m.groupdict()) for m in p.finditer(TEXT)],
        "sub": lambda p: p.sub("<x>", TEXT),
        "groupindex": lambda p: dict(p.groupindex),
        "split": lambda p: p.split(TEXT),
    }
    order = [first] + [name for name in calls if name != first]
    for name in order + order:  # the first call compiles; the second round uses the bound methods
        assert calls[name](lazy) == calls[name](real), name
    assert lazy._compiled is not None and lazy.pattern == source
    got, want = lazy.match(TEXT), real.match(TEXT)
    assert (got and got.span()) == (want and want.span())
    assert lazy.findall(TEXT) == real.findall(TEXT) and lazy.subn("", TEXT) == real.subn("", TEXT)
    assert (lazy.fullmatch(TEXT) is None) == (real.fullmatch(TEXT) is None)


def test_importing_lazyre_and_the_hooks_patterns_loads_neither_re_nor_typing() -> None:
    """The guard hook's incident_text defines its patterns with lazy_compile: defining them loads no `re`."""
    import subprocess
    import sys

    code = ("import sys; import claimback.sources.incident_text as t; "
            "print(sorted(m for m in ('re', 'typing') if m in sys.modules)); "
            "print(t.model_family('claude-opus-4-6-20260101'), 're' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "opus-4.6 True"
