"""Text and links from outside (transcripts, telemetry, status pages) as data, never as instructions.

Mediums have their own escaping (terminal: outputs/terminal.py, Markdown/CSV: outputs/escape.py, HTML:
Jinja autoescape); what every medium shares lives here: control characters dropped, a short quoted form
for text handed to the model (the hook's deny reason), and the one rule for which links may be shown.
"""

from __future__ import annotations

import os

from claimback.core.lazyre import lazy_compile

# C0/C1 controls, DEL, and the Unicode bidi overrides that can reorder what a reader sees.
CONTROLS = lazy_compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same set's ASCII part, for str.translate: ASCII text (an incident title in the hook's deny reason)
# is cleaned without `re` (its import and this pattern's compile cost the hook ~4 ms); translate is 8x
# slower than the pattern on non-ASCII text, so that keeps the pattern.
_ASCII_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0b, 0x20), 0x7f])
# The hosts a status page link may point to: Anthropic's status page and Atlassian Statuspage's shortener.
STATUS_HOSTS = frozenset({"status.claude.com", "status.anthropic.com", "stspg.io", "www.stspg.io"})


def strip_controls(text: str) -> str:
    if text.isascii():
        return text.translate(_ASCII_CONTROLS)
    return CONTROLS.sub("", text)


def quote_data(text: object, limit: int = 80) -> str:
    """`text` as a short, quoted datum: controls and line breaks gone, quotes neutralised, cut to `limit`."""
    clean = " ".join(strip_controls(str(text)).split())
    clean = clean.replace('"', "'").replace("`", "'")
    if len(clean) > limit:
        clean = clean[:limit - 1].rstrip() + "…"
    return f'"{clean}"'


def _configured_status() -> tuple[str, str] | None:
    url = os.environ.get("CLAIMBACK_STATUS_URL")
    if not url:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:
        return None


def safe_link(url: object) -> str | None:
    """`url` when it is an https:// link to the status page's own hosts (or to the status server the user
    configured in CLAIMBACK_STATUS_URL), else None: a status page must not be able to put a javascript:,
    data: or phishing link into a report."""
    if not isinstance(url, str) or len(url) > 2048 or strip_controls(url) != url or any(c.isspace() for c in url):
        return None
    if url[:8].lower() == "https://":
        # The usual link (https, a status host, no port or user): accepted as urlsplit below accepts it,
        # without importing urllib.parse (~3 ms of the hook's deny path). Anything else is parsed.
        rest = url[8:]
        ends = [i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0]
        netloc = rest[:min(ends)] if ends else rest
        if netloc.isascii() and netloc.lower() in STATUS_HOSTS:
            return url
    return _parsed_link(url)


def _parsed_link(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        scheme = parts.scheme.lower()
        if parts.username or parts.password:
            return None
    except ValueError:
        return None
    if scheme == "https" and host in STATUS_HOSTS:
        return url
    configured = _configured_status()
    if configured and configured[1] and (scheme, host) == configured and scheme in ("http", "https"):
        return url
    return None
