"""Escaping for the packet's text mediums: Markdown (report.md), CSV (evidence.csv) and JSON (evidence.json,
every --json print).

HTML is escaped by Jinja's autoescape; links in every medium are checked by core/untrusted.safe_link.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from claimback.core.untrusted import safe_link, strip_controls

# The characters that can start markup inside a line: emphasis, code, link and image brackets (with
# `[` and `]` escaped no link or image can form, so parentheses stay readable), raw HTML (`<script>`,
# `<img onerror>`), table cells, strikethrough.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")


def md_text(value: Any) -> Any:
    """A value interpolated into Markdown, shown literally (numbers and None pass through)."""
    if not isinstance(value, str):
        return value
    return _md_escaped(value)


@lru_cache(maxsize=16384)
def _md_escaped(value: str) -> str:
    # A report repeats its values (session ids, models, labels, times): ~28 k of them at 5 GB, ~60 % repeats.
    return _MD_SPECIAL.sub(r"\\\1", " ".join(strip_controls(value).splitlines()))


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @, tab or CR gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and value != "-" \
            and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


_LINK_KEYS = ("url", "shortlink", "link")


def safe_links(value: Any) -> Any:
    """A copy of the evidence with every url/shortlink/link field kept only when `safe_link` allows it;
    a refused incident link becomes the incident's page on the status site (or empty without an id)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _LINK_KEYS and v is not None:
                out[k] = safe_link(v) or _incident_page(value.get("id"))
            else:
                out[k] = safe_links(v)
        return out
    if isinstance(value, list):
        return [safe_links(v) for v in value]
    return value


_INCIDENT_ID = re.compile(r"[a-z0-9]{6,32}")


def _incident_page(incident_id: Any) -> str:
    if isinstance(incident_id, str) and _INCIDENT_ID.fullmatch(incident_id):
        return f"https://status.claude.com/incidents/{incident_id}"
    return ""


def json_text(value: Any) -> str:
    """`json.dumps(value, indent=2, ensure_ascii=False)`, the same text, ~10x faster on a large tree.

    json's C encoder does not indent (with `indent` every node goes through its pure-Python encoder:
    0.14 s for a 5 GB packet's evidence); msgspec's encoder and formatter write the same bytes for
    plain trees (string keys, strings, ints, bools, None, and floats whose repr has no exponent:
    msgspec writes `1e16`, json `1e+16`; NaN is null there). Any other large tree (a `loss --json`
    holds unrounded USD floats: 5e-06) is written by json's C encoder without indent and indented by
    msgspec's formatter, which keeps every number and string token as json wrote it (0.40 -> 0.04 s
    for `loss --json` at 5 GB). What msgspec cannot take (NaN, a lone surrogate) is json's indenting
    encoder; so is a small tree when msgspec is not imported yet (its import costs more than json saves
    there: `usage daily --json` never loads it)."""
    import sys

    nodes = _plain_nodes(value)
    if nodes >= 0 and ("msgspec" in sys.modules or nodes > 20_000):
        import msgspec

        try:
            return msgspec.json.format(msgspec.json.encode(value), indent=2).decode("utf-8")
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
            pass
    import json

    if nodes < 0:
        flat = json.dumps(value, ensure_ascii=False)
        # msgspec.json's import (~45 ms) costs what json's indenting of ~110 k characters does
        if "msgspec" in sys.modules or len(flat) > 150_000:
            import msgspec

            try:
                return msgspec.json.format(flat.encode("utf-8"), indent=2).decode("utf-8")
            except (UnicodeEncodeError, msgspec.DecodeError):
                pass  # NaN or Infinity (not JSON), a lone surrogate (not UTF-8)
    return json.dumps(value, indent=2, ensure_ascii=False)


def _plain_nodes(value: Any) -> int:
    """How many values the tree holds, or -1 when one of them is not plain (see json_text)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return 1
    if kind is float:
        return 1 if math.isfinite(value) and "e" not in repr(value) else -1
    if kind is dict:
        total = 1
        for key, item in value.items():
            n = _plain_nodes(item)
            if n < 0 or type(key) is not str:
                return -1
            total += n
        return total
    if kind is list or kind is tuple:
        total = 1
        for item in value:
            n = _plain_nodes(item)
            if n < 0:
                return -1
            total += n
        return total
    return -1

