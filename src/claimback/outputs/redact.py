"""Redaction for anything that leaves the machine (the claim packet first of all).

By default: secrets scrubbed, the home directory, user name and host name replaced, and project paths and
names replaced by stable short hashes (the same project gets the same label in every packet, so a support
agent can still tell two projects apart). `include_paths` keeps paths and names as they are; secrets are
scrubbed whatever the options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimback.core.digest import sha256
from claimback.core.lazyre import lazy_compile
from claimback.core.secrets import JOINED_FROM, scrub, scrub_many
from claimback.core.untrusted import strip_controls

# An absolute POSIX path of two or more parts, or a Windows drive path: how a project path shows up in an
# API error message or a cwd.
_POSIX_PATH = lazy_compile(r"(?<![\w:/.~])(?:~/[\w.@+\-]+(?:/[\w.@+\-]*)*|/(?:[\w.@+\-]+/)+[\w.@+\-]*)")
_WINDOWS_PATH = lazy_compile(r"\b[A-Za-z]:\\(?:[^\\\s\"'<>|]+\\)*[^\\\s\"'<>|]*")
# System locations that identify nobody and help read an error ("/usr/lib/node_modules/...").
_NEUTRAL_PREFIXES = ("/usr/", "/lib/", "/bin/", "/etc/", "/opt/homebrew/", "/v1/", "/api/")


def short_hash(value: str) -> str:
    return sha256(value.encode("utf-8")).hexdigest()[:8]


def project_label(value: str | None) -> str | None:
    """A stable stand-in for a project path or name."""
    if not value:
        return value
    return f"project-{short_hash(value.rstrip('/'))}"


@dataclass
class Redactor:
    include_paths: bool = False
    include_text: bool = False
    home: str = field(default_factory=lambda: str(Path.home()))
    user: str = field(default_factory=lambda: _safe(_user_name))
    host: str = field(default_factory=lambda: _safe(_host_name))
    extra_homes: tuple[str, ...] = ()  # e.g. the home directory recorded in someone else's transcripts
    # Each distinct text cleaned once: a packet's error texts repeat across its failures and windows (1,187
    # messages, 4 distinct, at 5 GB). The options above are fixed for a Redactor's life.
    _texts: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def project(self, value: str | None) -> str | None:
        """A project path (cwd) or Claude Code project slug."""
        if value is None or self.include_paths:
            return value
        return project_label(value)

    def text(self, value: str | None) -> str | None:
        """Free text we keep (API error messages): secrets scrubbed, paths, user and host replaced."""
        if value is None:
            return None
        clean = self._texts.get(value)
        if clean is None:
            clean = self._texts[value] = self._places(scrub(value))
        return clean

    def _places(self, value: str) -> str:
        """Home directory, paths, user name and host name replaced (unless the user opted in to paths)."""
        if self.include_paths:
            return value
        for home in sorted({h for h in (self.home, *self.extra_homes) if h and h != "/"}, key=len,
                           reverse=True):
            value = re.sub(re.escape(home.rstrip("/")) + r"(?![\w.\-])", "~", value)
        value = _POSIX_PATH.sub(self._path, value)
        value = _WINDOWS_PATH.sub(lambda m: project_label(m.group(0)) or "", value)
        for name, label in ((self.user, "<user>"), (self.host, "<host>")):
            if name and len(name) >= 3 and name != "root":  # "root" names nobody and is an English word
                value = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", label, value)
        return value

    def _path(self, match: re.Match[str]) -> str:
        path = match.group(0)
        if path.startswith(_NEUTRAL_PREFIXES):
            return path
        return f"<path:{short_hash(path.rstrip('/'))}>"

    def task_text(self, value: str | None) -> str | None:
        """Task descriptions: user-written text, left out unless the user opted in. Not secret-scrubbed on
        purpose: what the user chose to include is written as it is, and a key in it makes the final scan
        abort the packet rather than silently alter their words."""
        if not self.include_text or value is None:
            return None
        return self._places(value)


def printable_json(data: Any) -> str:
    """The text every `--json` print writes: dataclasses and dates as json prints them (`str`), every
    string scrubbed of key-shaped values (fields from transcripts, telemetry and status pages reach
    here; json escapes control characters itself)."""
    import json

    from claimback.outputs.escape import json_text

    plain = json.loads(json.dumps(data, ensure_ascii=False, default=str))
    return json_text(redact_tree(plain, personal=False))


def redact_tree(value: Any, *, personal: bool = True) -> Any:
    """A copy of `value` (dicts, lists, strings, numbers) with every string, keys included, scrubbed.

    The packet's last step before rendering, and every --json print: whatever field a builder forgot (a
    model that is a Bedrock ARN, a request id, an error type, a version), a key-shaped value is redacted
    in place, so the packet's final scan never has to abort it over one field. Control characters (ESC
    sequences) are dropped too. `personal` as in `scrub`.

    Each distinct string is cleaned once, and all of them together (`scrub_many`): a packet's evidence
    repeats its keys, timestamps, models and ids tens of thousands of times (190 k strings at 5 GB, 10 k
    distinct). The copy is made in one walk; a second walk replaces what cleaning changed, when anything
    did (a tree with nothing to redact, the usual packet, is walked once).
    """
    seen: dict[str, None] = {}
    copy = _copied(value, seen)
    texts = list(seen)
    scrubbed = scrub_many(texts, personal=personal)
    changed: dict[str, str] = {}
    # A small tree (a --json print) is cleaned string by string, as scrub_many scrubs it.
    with_controls = _with_controls(texts) if sum(map(len, texts)) >= JOINED_FROM else range(len(texts))
    for i, (text, clean) in enumerate(zip(texts, scrubbed)):
        if clean is not text or i in with_controls:
            clean = strip_controls(clean)
            if clean != text:
                changed[text] = clean
    return _replaced(copy, changed) if changed else copy


def _copied(value: Any, seen: dict[str, None]) -> Any:
    """The tree's containers copied (a tuple becomes a list, as json has it), every string noted in `seen`."""
    if isinstance(value, str):
        seen[value] = None
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str):
                seen[k] = None
            out[k] = _copied(v, seen)
        return out
    if isinstance(value, (list, tuple)):
        return [_copied(v, seen) for v in value]
    return value


def _replaced(value: Any, changed: dict[str, str]) -> Any:
    if isinstance(value, str):
        return changed.get(value, value)
    if isinstance(value, dict):
        return {changed.get(k, k) if isinstance(k, str) else k: _replaced(v, changed) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, changed) for v in value]
    return value


def _with_controls(texts: list[str]) -> set[int]:
    """Indexes of the texts holding a character strip_controls drops (one search over them all)."""
    from bisect import bisect_right

    from claimback.core.untrusted import CONTROLS

    if not texts:
        return set()
    joined = "\n".join(texts)  # a line break is not a control strip_controls drops
    found = CONTROLS.search(joined)
    if found is None:
        return set()
    starts, at = [], 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    return {bisect_right(starts, m.start()) - 1 for m in CONTROLS.finditer(joined, found.start())}


def _user_name() -> str:
    import getpass  # here, not at import: every --json print imports this module for redact_tree

    return getpass.getuser()


def _host_name() -> str:
    import socket

    return socket.gethostname()


def _safe(getter: object) -> str:
    try:
        return str(getter())  # type: ignore[operator]
    except Exception:  # noqa: BLE001 - no user name or host name is a fine answer here
        return ""
