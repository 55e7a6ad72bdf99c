"""Secret patterns in one place: what must never leave the machine in a packet, a report or a log.

Used to scrub text before it is written (`scrub`) and to scan finished files as a last gate (`scan_file`).
Findings name the file, line and kind of secret, never the secret itself. The patterns are deliberately
broad (a false alarm costs the user one rerun; a leaked key costs them the key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# (kind, pattern). Case-sensitive unless the pattern says otherwise: upper-case env names and key prefixes
# are what real secrets look like, and lower-case JSON keys such as "measured_tokens" must not match.
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("anthropic key or OAuth token", re.compile(r"sk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_\-]{8,}")),
    ("API key (sk-...)", re.compile(r"(?<![A-Za-z0-9])sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}")),
    ("AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("GitHub token", re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    ("Slack token", re.compile(r"(?<![A-Za-z0-9])xox[abposre]-[A-Za-z0-9\-]{10,}")),
    ("Google API key / OAuth token", re.compile(r"(?<![A-Za-z0-9])(?:AIza[0-9A-Za-z_\-]{35}|ya29\.[A-Za-z0-9_\-]{20,})")),
    ("JSON web token", re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    ("bearer token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{16,}")),
    ("password in URL", re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^/\s:@\"'<>]+:[^/\s@\"'<>]+@")),
    ("private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("Stripe key", re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("npm token", re.compile(r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}")),
    ("GitLab token", re.compile(r"(?<![A-Za-z0-9])gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_\-]{20,}")),
    ("Hugging Face token", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}")),
    ("SendGrid key", re.compile(r"(?<![A-Za-z0-9])SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}")),
    ("secret in environment assignment", re.compile(
        r"\b(?:ANTHROPIC_API_KEY|ANTHROPIC_AUTH_TOKEN|CLAUDE_CODE_OAUTH_TOKEN|OPENAI_API_KEY|AWS_SECRET_ACCESS_KEY|"
        r"AWS_SESSION_TOKEN|GITHUB_TOKEN|GH_TOKEN|PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|"
        r"[A-Z][A-Z0-9_]*(?:_SECRET|_TOKEN|_PASSWORD|_PASSWD|_API_KEY|_APIKEY))"
        r"\s*[=:]\s*[\"']?[^\s\"'<>]{6,}")),
)

REPLACEMENT = "[REDACTED]"
# A whole PEM private key: the header alone is what `scan_text` finds line by line, but scrubbing must
# take the body too (an error text cut at 300 characters may have lost the END line).
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL)


@dataclass(frozen=True)
class SecretFinding:
    path: str
    line: int
    kind: str


def find_secrets(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every secret-looking span in `text`; overlapping matches of broader patterns
    (an Anthropic key is also an `sk-...` key) are reported once, under the first, most specific kind."""
    hits = []
    for kind, pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            if not any(match.start() < end and start < match.end() for _, start, end in hits):
                hits.append((kind, match.start(), match.end()))
    return sorted(hits, key=lambda h: h[1])


def contains_secret(text: str) -> bool:
    return any(pattern.search(text) for _, pattern in SECRET_PATTERNS)


def scrub(text: str) -> str:
    """`text` with every secret-looking span replaced by [REDACTED]."""
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY_BLOCK.sub(REPLACEMENT, text)
    for _, pattern in SECRET_PATTERNS:
        text = pattern.sub(REPLACEMENT, text)
    return text


def scan_text(text: str, label: str) -> list[SecretFinding]:
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, _, _ in find_secrets(line):
            findings.append(SecretFinding(label, number, kind))
    # Multi-line secrets (private keys) are matched line by line above; nothing spans lines otherwise.
    return findings


def scan_file(path: Path, label: str | None = None) -> list[SecretFinding]:
    """Findings in one file, read as text whatever its encoding (binary bytes cannot hide a key)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return scan_text(text, label or path.name)
