"""Escaping for the packet's text mediums: Markdown (report.md) and CSV (evidence.csv).

HTML is escaped by Jinja's autoescape; links in every medium are checked by core/untrusted.safe_link.
"""

from __future__ import annotations

import re
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
