"""Secret patterns in one place: what must never leave the machine in a packet, a report or a log.

Used to scrub text before it is written (`scrub`) and to scan finished files as a last gate (`scan_file`).
Findings name the file, line and kind of secret, never the secret itself. The patterns are deliberately
broad (a false alarm costs the user one redacted word; a leaked key costs them the key).

Three layers: vendor token shapes (prefix, alphabet, length: the shapes detect-secrets' plugins and the
public gitleaks rules know; tests/test_secret_corpus.py checks ours against detect-secrets' plugins), the
generic key=value / HTTP-header heuristic (any key naming a password, secret, token, API key, credential
or authorization, in env, YAML, JSON, header or query form), and personal identifiers that are not keys
but must not leave either (e-mail addresses, AWS account ids in ARNs). detect-secrets itself is not used
at run time: importing it costs ~0.3 s and loading its plugins ~0.9 s per process, and several of its
patterns backtrack; the scrubber runs on every failure at ingest and in the hook.

Every pattern is linear: each starts behind a lookbehind that lets it begin only at the start of a run
(so a 1 MB run of letters is tried once, not a million times), and repetitions are bounded. Each is
compiled on first use (core/lazyre.py): most processes that import this never match one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from claimback.core.lazyre import LazyPattern, lazy_compile

REPLACEMENT = "[REDACTED]"

_B = r"(?<![A-Za-z0-9])"  # a token starts here (after a dash or underscore too: slugs join words so)
# What the hint-less shapes (AWS secret, Twilio, Telegram, Discord) are made of; an AWS access key id of
# upper-case letters and digits only (20 in a run, which a packet's text almost never holds: its 11
# prefixes were 11 passes over the packet).
_RUN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+_.:-"
_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: LazyPattern
    scan: bool = True  # False: scrubbed wherever text is written, but not a reason to stop a packet
    check: Callable[[str], bool] | None = None  # a further test of the match (or of its `v` group)
    personal: bool = False  # True: left alone by scrub(personal=False) (the user's own terminal)
    # A cheap test first: the rule runs only on texts holding one of these (lower-case) substrings and at
    # least min_len characters. Most strings (timestamps, ids, words) then cost no regex at all.
    hints: tuple[str, ...] = ()
    min_len: int = 8
    # Characters every match holds (case as written): a text with none of them is not tried, and the
    # pattern not even compiled (a --json print's keys name tokens but hold no ':' or '=').
    needs: tuple[str, ...] = ()
    # Characters (all ASCII) every match is made of, when it never holds a line break: a joined scan finds
    # the rule's candidates by its pattern over the long runs of these characters (`_candidates`), not by
    # its hints (each a pass over the whole text). For a hint-less rule, one with many hints, and one whose
    # shortest match is longer than the runs a packet is full of (ids and times: 36 characters at most;
    # a 5 GB packet's text holds 628 runs of 37 or more, and 5.7 k of 34 or more).
    run_chars: str = ""

    def may_match(self, text: str, lowered: str) -> bool:
        return (len(text) >= self.min_len and (not self.hints or any(h in lowered for h in self.hints))
                and (not self.needs or any(n in text for n in self.needs)))


def _has_classes(value: str) -> bool:
    """A bare 40-character AWS secret mixes upper, lower and digits; a git SHA-1 (hex) does not."""
    return (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and any(c.isdigit() for c in value))


# Key names whose value is a credential: env (ANTHROPIC_API_KEY=), YAML/INI (password: x), JSON
# ("password":"x"), HTTP headers (x-api-key: v, Authorization: Basic v), query strings (?token=v).
# "tokens" (max_tokens, input_tokens) and "key" alone are not here: they name counts and ids.
_KEYWORD_NAMES = (r"pass(?:word|wd|phrase)?", "pwd", "secret", "token", r"api[_\-]?key", "apikey", r"access[_\-]?key",
                  r"private[_\-]?key", r"subscription[_\-]?key", "credentials?", "authorization", "auth", "cookie")
_KEYWORDS = "|".join(_KEYWORD_NAMES)
_ASSIGNMENT = lazy_compile(
    # The key's own prefix (MY_SERVICE_, x-, aws_secret_) is not matched: only the value is redacted, and
    # a pattern starting at the keyword is tried once per keyword, not once per character of an identifier.
    r"(?i)(?:" + _KEYWORDS + r")[\"']?\s{0,4}[:=]\s{0,4}"
    r"(?:(?:basic|bearer|token|digest|negotiate)\s{1,4})?"
    # No closing quote is required: an error text cut at 300 characters may have lost it. A value longer than
    # the bound (an AWS session token runs to 1,000+ characters) is redacted to its end (`_CONTINUE`).
    r"(?:\"(?P<v>[^\"\n\\]{4,300})|'(?P<w>[^'\n\\]{4,300})|(?P<x>[^\s\"'<>,;&)}\]]{4,300}))")
# Where each value group of the key=value rule goes on past its bound: the rest of the value is redacted too.
_CONTINUE = {"v": lazy_compile(r'[^"\n\\]*'), "w": lazy_compile(r"[^'\n\\]*"),
             "x": lazy_compile(r"[^\s\"'<>,;&)}\]]*")}

_RULES: tuple[_Rule, ...] = (
    # -- a header value Claude Code could not send, printed whole ------------------------------------------
    # Claude Code on Bun refuses a header value holding a character it cannot send (a placeholder left in
    # ANTHROPIC_AUTH_TOKEN, a key pasted with a stray character) and prints it: "API Error: Header '14'
    # has invalid value: 'Bearer …'" (a published 2.1.50 tree). The value is the credential whatever its
    # shape, and the vendor shapes below stop at the character that made it invalid: first, so it goes whole.
    _Rule("header value Claude Code could not send", hints=("has invalid value",), pattern=lazy_compile(
        r"(?i)\bheader '[^'\n]{0,64}' has invalid value: '(?P<v>[^'\n]{1,4096})"),
        check=lambda v: "[REDACTED" not in v and "<secret" not in v),
    # -- vendor token shapes ------------------------------------------------------------------------------
    # Glued to the word before it ("Invalid tokensk-ant-oat01-…", a relay's 401 in a published 2.1.7x tree)
    # only with a type Anthropic issues, so a slug like "task-ant-colony-…" stays.
    _Rule("anthropic key or OAuth token", hints=("sk-ant-",), pattern=lazy_compile(
        _B + r"sk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_\-]{8,}|sk-ant-(?:api|oat|ort|admin|sid)[0-9]{2}-[A-Za-z0-9_\-]{16,}")),
    _Rule("API key (sk-...)", hints=("sk-",), pattern=lazy_compile(_B + r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}")),
    _Rule("AWS access key id", hints=("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa", "abia", "acca", "a3t"), min_len=20, run_chars=_UPPER_DIGITS, pattern=lazy_compile(
        r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])")),
    _Rule("AWS secret access key", min_len=40, run_chars=_RUN_CHARS, pattern=lazy_compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
          check=_has_classes),
    _Rule("GitHub token", hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), pattern=lazy_compile(_B + r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})")),
    _Rule("Slack token", hints=("xox", "xapp-"), pattern=lazy_compile(_B + r"(?:xox[abposre]|xapp)-[A-Za-z0-9\-]{10,}")),
    _Rule("Slack or Discord webhook", hints=("hooks.slack.com", "discord"), pattern=lazy_compile(
        r"(?i)https://(?:hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{8,}|"
        r"(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/[0-9]{5,}/[A-Za-z0-9_\-]{8,})")),
    _Rule("Google API key / OAuth token", hints=("aiza", "ya29.", "gocspx-"), pattern=lazy_compile(
        _B + r"(?:AIza[0-9A-Za-z_\-]{35}|ya29\.[A-Za-z0-9_\-]{20,}|GOCSPX-[A-Za-z0-9_\-]{20,})")),
    _Rule("JSON web token", hints=("eyj",), pattern=lazy_compile(_B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
    # A relay that answers a refused key with the key glued to its words: "Invalid token<KEY>  tid:…".
    _Rule("token in an invalid-token error", hints=("invalid token",), pattern=lazy_compile(
        r"(?i)invalid token(?P<v>[A-Za-z0-9._~+/=\-]{16,})"), check=lambda v: not v.startswith("[REDACTED")),
    _Rule("bearer or basic credential", hints=("bearer", "basic"), pattern=lazy_compile(
        r"(?i)(?<![A-Za-z0-9])(?:bearer|basic)\s{1,4}[A-Za-z0-9._~+/=\-]{16,}")),
    _Rule("password in URL", hints=("://",), pattern=lazy_compile(
        r"(?i)(?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]{0,30}://(?P<v>[^/\s:@\"'<>]{1,256}:[^/\s\"'<>]{1,256})@")),
    _Rule("private key", hints=("private key", "putty-user-key"), pattern=lazy_compile(
        r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-[0-9]")),
    _Rule("Stripe key", hints=("_live_", "_test_"), pattern=lazy_compile(_B + r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}")),
    _Rule("npm token", hints=("npm_",), min_len=40, run_chars=_RUN_CHARS, pattern=lazy_compile(_B + r"npm_[A-Za-z0-9]{36}")),
    _Rule("PyPI token", hints=("pypi-",), min_len=58, run_chars=_RUN_CHARS, pattern=lazy_compile(_B + r"pypi-AgE[A-Za-z0-9_\-]{50,}")),
    _Rule("GitLab token", hints=("glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-", "gr1348941"), pattern=lazy_compile(_B + r"(?:gl(?:pat|dt|rt|ptt|ft|soat|cbt)-[A-Za-z0-9_\-]{20,}|"
                                          r"GR1348941[A-Za-z0-9_\-]{20,})")),
    _Rule("Hugging Face token", hints=("hf_",), pattern=lazy_compile(_B + r"hf_[A-Za-z0-9]{30,}")),
    _Rule("SendGrid key", hints=("sg.",), pattern=lazy_compile(_B + r"SG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}")),
    _Rule("Twilio key", min_len=34, needs=("SK", "AC"), run_chars=_RUN_CHARS, pattern=lazy_compile(_B + r"(?:SK|AC)[0-9a-f]{32}(?![A-Za-z0-9])")),
    _Rule("Mailchimp key", hints=("-us",), pattern=lazy_compile(_B + r"[0-9a-f]{32}-us[0-9]{1,2}(?![A-Za-z0-9])")),
    _Rule("Square token", hints=("sq0",), pattern=lazy_compile(_B + r"sq0(?:csp|atp)-[0-9A-Za-z_\-]{22,}")),
    _Rule("Shopify token", hints=("shp",), min_len=38, run_chars=_RUN_CHARS, pattern=lazy_compile(_B + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}")),
    _Rule("DigitalOcean token", hints=("_v1_",), min_len=71, run_chars=_RUN_CHARS, pattern=lazy_compile(_B + r"do[opr]_v1_[a-f0-9]{64}")),
    _Rule("Databricks token", hints=("dapi",), pattern=lazy_compile(_B + r"dapi[a-f0-9]{32}(?:-[0-9])?")),
    _Rule("Telegram bot token", min_len=44, needs=(":",), run_chars=_RUN_CHARS, pattern=lazy_compile(r"(?<![0-9])[0-9]{8,10}:[0-9A-Za-z_\-]{35,40}(?![0-9A-Za-z_\-])")),
    _Rule("Discord bot token", min_len=59, needs=(".",), run_chars=_RUN_CHARS, pattern=lazy_compile(
        _B + r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}")),
    _Rule("Azure storage key", hints=("accountkey=",), pattern=lazy_compile(r"(?i)AccountKey=[A-Za-z0-9+/=]{40,100}")),
    _Rule("Artifactory token", hints=("akc",), min_len=63, run_chars=_RUN_CHARS, pattern=lazy_compile(_B + r"AKC[A-Za-z0-9]{60,}")),
    # An AWS STS session token (AWS_SESSION_TOKEN, X-Amz-Security-Token) pasted bare: its base64 opens the
    # same way for every token of a generation ("IQoJb3JpZ2lu…", older "FwoGZXIvYXdz…").
    _Rule("AWS session token", hints=("iqojb3jpz2lu", "fwogzxivyxdz"), pattern=lazy_compile(
        _B + r"(?:IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9/+=]{40,}")),
    # Azure AI services keys (84 characters, "JQQJ99" at the same place in every one) and Entra ID client
    # secrets (a digit, then "Q~", in the fourth and fifth places).
    _Rule("Azure key", hints=("jqqj99", "q~"), pattern=lazy_compile(
        _B + r"(?:[A-Za-z0-9]{40,60}JQQJ99[A-Za-z0-9]{20,30}(?![A-Za-z0-9])|"
        r"[A-Za-z0-9_.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-]))")),
    # A relay's key users paste with their errors: claude-relay-service's `cr_` + 64 hex (new-api's and
    # one-api's `sk-…` are the API-key shape above).
    _Rule("relay API key (cr_...)", hints=("cr_",), min_len=67, run_chars=_RUN_CHARS, pattern=lazy_compile(_B + r"cr_[0-9a-f]{64}(?![A-Za-z0-9])")),
    # -- generic: key=value and header forms ---------------------------------------------------------------
    _Rule("secret in assignment or header", hints=("pass", "pwd", "secret", "token", "key", "credential", "auth", "cookie"), needs=(":", "="), pattern=_ASSIGNMENT, check=lambda v: v.strip(".") != REPLACEMENT.strip(".")
          and not v.startswith(("[REDACTED", "<secret", "${", "$(")) and "[REDACTED" not in v and "<secret" not in v),
    # -- personal identifiers: scrubbed, never a reason to stop a packet -----------------------------------
    _Rule("e-mail address", hints=("@",), pattern=lazy_compile(
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])"),
        scan=False, personal=True),
    _Rule("AWS account in ARN", hints=("arn:aws",), pattern=lazy_compile(
        r"(?<![A-Za-z0-9])arn:aws[a-z\-]{0,12}:[a-z0-9\-]{1,40}:[a-z0-9\-]{0,20}:(?P<v>[0-9]{12}):"
        r"(?P<w>(?:user|role|assumed-role|federated-user|group)/[A-Za-z0-9+=,.@_/\-]{1,200})?"), scan=False),
)

# Public for other modules (doctor, tests): (kind, pattern) of every shape a finished file is scanned for.
SECRET_PATTERNS: tuple[tuple[str, LazyPattern], ...] = tuple((r.kind, r.pattern) for r in _RULES if r.scan)

# A whole PEM/PGP private key: the header alone is what `scan_text` finds line by line, but scrubbing
# must take the body too (an error text cut at 300 characters may have lost the END line).
_PRIVATE_KEY_BLOCK = lazy_compile(
    r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)", re.DOTALL)
_VALUE_GROUPS = ("v", "w", "x")
_PLACEHOLDERS = ("[REDACTED", "<secret")


@dataclass(frozen=True)
class SecretFinding:
    path: str
    line: int
    kind: str


def _spans(rule: _Rule, text: str) -> list[tuple[int, int]]:
    """Spans to redact for one rule: the value group when the rule has one (the key name stays readable),
    else the whole match; matches the rule's `check` refuses are skipped."""
    spans = []
    reach = 0  # the end of the last value redacted to its end: a match inside it is already covered
    for match in rule.pattern.finditer(text):
        if match.start() < reach:
            continue
        groups = [g for g in _VALUE_GROUPS if g in rule.pattern.groupindex and match.group(g) is not None]
        parts = [(match.start(g), match.end(g)) for g in groups] or [(match.start(), match.end())]
        for group, (start, end) in zip(groups or [None], parts):
            if rule.check is None or rule.check(text[start:end]):
                if rule.pattern is _ASSIGNMENT and group is not None:
                    if text.startswith(_PLACEHOLDERS, end):
                        continue  # `session=` before a value already redacted: the key's own name
                    end = reach = _CONTINUE[group].match(text, end).end()
                spans.append((start, end))
    return spans


def _hits(text: str, rules: tuple[_Rule, ...]) -> list[tuple[str, int, int]]:
    hits: list[tuple[str, int, int]] = []
    if _nothing_to_find(text):
        return hits
    lowered = text.lower()
    for rule in rules:
        if not rule.may_match(text, lowered):
            continue
        for start, end in _spans(rule, text):
            if not any(start < e and s < end for _, s, e in hits):
                hits.append((rule.kind, start, end))
    return sorted(hits, key=lambda h: h[1])


_SCANNED = tuple(r for r in _RULES if r.scan)
# The shortest match of the rules made of each `run_chars`: the runs of those characters worth a look.
_RUN_MIN = {chars: min(r.min_len for r in _RULES if r.run_chars == chars) for chars in {r.run_chars for r in _RULES} if chars}
# One search for any rule's hint: a text with none of them, and shorter than every hint-less rule's
# minimum, holds no secret (timestamps, ids, numbers, most words: ~1 us instead of ~30 rule checks).
# (Substring tests: a case-insensitive regex alternation of the hints took ~100x longer.)
_ALL_HINTS = tuple(sorted({h for r in _RULES for h in r.hints}))
_HINTLESS_MIN = min(r.min_len for r in _RULES if not r.hints)


def _nothing_to_find(text: str) -> bool:
    if len(text) >= _HINTLESS_MIN:
        return False
    lowered = text.lower()
    for hint in _ALL_HINTS:
        if hint in lowered:
            return False
    return True
_IMPERSONAL = tuple(r for r in _RULES if not r.personal)


def find_secrets(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every secret-looking span in `text`; overlapping matches of broader patterns
    (an Anthropic key is also an `sk-...` key) are reported once, under the first, most specific kind."""
    return _hits(text, _SCANNED)


def contains_secret(text: str) -> bool:
    return bool(find_secrets(text))


# Longer texts are cut before scrubbing: ~30 linear patterns still cost ~4 us a character, and nothing
# claimback writes keeps more than a few KB of one text (error messages are stored cut to 300).
SCRUB_LIMIT = 16 * 1024


def scrub(text: str, *, personal: bool = True) -> str:
    """`text` with every secret-looking span, AWS account in an ARN and (unless `personal` is False)
    e-mail address replaced by [REDACTED]; a text over SCRUB_LIMIT characters is cut there first (and
    says so). `personal=False` is for the user's own terminal, where an address names nobody new."""
    if len(text) <= 512:
        return _scrub_short(text, personal)
    if len(text) > SCRUB_LIMIT:
        text = f"{text[:SCRUB_LIMIT]} [{len(text) - SCRUB_LIMIT} characters cut]"
    return _scrub(text, personal)


@lru_cache(maxsize=4096)
def _scrub_short(text: str, personal: bool) -> str:
    # Evidence repeats the same short strings (models, versions, error types) thousands of times.
    return _scrub(text, personal)


def _scrub(text: str, personal: bool) -> str:
    if len(text) < 8 or _nothing_to_find(text):
        return text  # no shape here is shorter, or none of their hints is here
    if "PRIVATE KEY" in text:
        text = _PRIVATE_KEY_BLOCK.sub(REPLACEMENT, text)
    lowered = text.lower()
    for rule in _RULES if personal else _IMPERSONAL:
        if not rule.may_match(text, lowered):
            continue
        # One rule at a time: an earlier redaction is never half-matched by a later rule.
        spans = _spans(rule, text)
        if not spans:
            continue
        out, last = [], 0
        for start, end in sorted(spans):
            if start < last:
                continue
            out.append(text[last:start])
            out.append(REPLACEMENT)
            last = end
        out.append(text[last:])
        text = "".join(out)
    return text


JOINED_FROM = 32 * 1024


def scrub_many(texts: list[str], *, personal: bool = True) -> list[str]:
    """`[scrub(t, personal=personal) for t in texts]`, the same strings, with each rule's cheap test run
    over the texts joined (`_candidates`) instead of ~30 tests per text: only a text some rule may match
    (or one over SCRUB_LIMIT, which scrub cuts) is scrubbed, every other one is returned as it is, which
    is what scrub returns for it. A packet's evidence holds ~10 k distinct strings at 5 GB, ~1.9 k of them
    long enough for every rule's test, and none with a secret. Texts of fewer than JOINED_FROM characters
    in all are scrubbed one by one: there the joined tests cost more than they save, and they would compile
    patterns (the key=value head) that a small print (`usage daily --json`) never needs."""
    if sum(map(len, texts)) < JOINED_FROM:
        return [scrub(text, personal=personal) for text in texts]
    rules = _RULES if personal else _IMPERSONAL
    chosen = _candidates(texts, rules)
    out = list(texts)
    for i in range(len(out)) if chosen is None else chosen:
        out[i] = scrub(out[i], personal=personal)
    if chosen is not None:
        for i, text in enumerate(texts):
            if len(text) > SCRUB_LIMIT and i not in chosen:
                out[i] = scrub(text, personal=personal)
    return out


def scan_text(text: str, label: str, memo: dict[str, list[str]] | None = None) -> list[SecretFinding]:
    """Findings line by line. `memo` (line -> kinds found) may be shared by the files of one packet:
    they repeat most of their lines (JSON keys, table rows, chart markup), each scanned once."""
    findings = []
    memo = {} if memo is None else memo
    lines = text.splitlines()
    distinct = dict.fromkeys(lines)
    fresh = [line for line in distinct if line not in memo]
    memo.update(dict.fromkeys(fresh, _NO_KINDS))
    for i, kinds in _kinds_by_line(fresh, _SCANNED).items():
        memo[fresh[i]] = kinds
    if not any(map(memo.__getitem__, distinct)):
        return findings  # a clean file: its lines need no numbers
    for number, line in enumerate(lines, start=1):
        kinds = memo[line]
        if kinds:
            findings += [SecretFinding(label, number, kind) for kind in kinds]
    # Multi-line secrets (private keys) are matched line by line above; nothing spans lines otherwise.
    return findings


_NO_KINDS: list[str] = []  # shared by every clean line of a memo: never appended to

# The key=value rule's hints ("token", "key", ...) are in most lines of a packet ("measured_tokens"), so
# its candidates are found by the head of its own pattern, the key name and the ":" or "=" after it, over
# the lowered text (a case-insensitive pattern is ~10x slower than a plain one). The head
# matches the lowered text wherever the (?i) pattern matches the text, but for the two characters whose
# lower case is not the letter (?i) matches them to (dotless i, long s): a text with one takes the hints.
_ASSIGNMENT_RULE = next(r for r in _SCANNED if r.pattern is _ASSIGNMENT)
# One head pattern per key name: each starts with a literal, which re finds by its fast literal search
# (one pattern with all of them tried the alternation at every p, s, t, a and c: 2x slower). No name's
# text holds its own beginning again further on, so no match of a head hides another one of it.
_ASSIGNMENT_HEADS = tuple(lazy_compile(name + r"[\"']?\s{0,4}[:=]") for name in _KEYWORD_NAMES)
_FOLDED_APART = ("\u0131", "\u017f")

# The runs of a rule's `run_chars`: each of its matches lies inside one maximal run of them (its pattern
# holds no \s or `.`, and its lookarounds treat "\n" as a boundary), so its matches in texts joined by "\n"
# are its matches in each text, and it runs only over the runs at least as long as its shortest match (a
# session id's 36 characters are a run). The runs are found without a regex: the text as ASCII bytes (any
# other character, never a run character, as "?": positions stay the same) mapped by one bytes.translate to
# 1 for a run character and 0 for any other, then bytes.find of the shortest run's ones (~7x faster than a
# pattern).
_RUN_FLAGS: dict[str, bytes] = {}


def _long_runs(ascii_text: bytes, chars: str, min_len: int) -> list[tuple[int, int]]:
    """(start, end) of every maximal run of `chars` in `ascii_text` at least `min_len` long, in order."""
    table = _RUN_FLAGS.get(chars)
    if table is None:
        table = _RUN_FLAGS[chars] = bytes(1 if chr(b) in chars else 0 for b in range(256))
    flags = ascii_text.translate(table)
    ones = b"\x01" * min_len
    runs = []
    at = flags.find(ones)
    while at != -1:
        # Searched from the end of a run (or the start): the first `min_len` ones begin a maximal run.
        end = flags.find(b"\x00", at + min_len)
        if end == -1:
            end = len(flags)
        runs.append((at, end))
        at = flags.find(ones, end)
    return runs


# Hints searched as one shorter string they share: a text holding "sk-ant-" holds "sk-", one holding any
# of GitLab's seven prefixes holds "gl" (rare in a packet). Each rule's own hints are tested again, per
# text, for the texts the shared string chose.
_SHARED_NEEDLES = ("sk-", "gl")
# Non-ASCII characters whose lower case holds an ASCII letter (Kelvin sign: "k"; dotted capital I: "i" and a
# combining dot): hints in a text holding one are searched in its own lower case, not its ASCII image.
_LOWER_TO_ASCII = ("\u0130", "\u212a")
_ASSIGNMENT_HEADS_ASCII = tuple(lazy_compile(name + r"[\"']?[\s?]{0,4}[:=]") for name in _KEYWORD_NAMES)


def _candidates(texts: list[str], rules: tuple[_Rule, ...]) -> dict[int, list[int]] | None:
    """text index -> the indexes into `rules` that may match that text, in order: every (text, rule) for
    which `_spans(rule, text)` can find something when `rule.may_match(text)` holds is in it (a candidate
    test can cost time, never a finding). Each rule's cheap test runs over the texts joined, not per text:
    a hint is found with str.find in the joined text (a packet's 40 k distinct lines x ~30 rules of
    per-line hint tests cost ~1 s at 5 GB), a rule with `run_chars` runs its own pattern over the long runs.
    None when positions in the lowered text would not be the text's (a character whose lower case is
    longer).

    The hints are searched in the text's lower-cased ASCII image (every other character as "?", which no
    hint holds: the same positions, the same hint occurrences, ~10x cheaper to lower than a text with one
    character outside Latin-1), unless it holds a character whose lower case is ASCII; the key=value head
    there allows a "?" where the text may have had Unicode white space."""
    if not texts:
        return {}
    joined = "\n".join(texts)
    ascii_text = joined.encode("ascii", "replace")
    heads = _ASSIGNMENT_HEADS
    if joined.isascii():
        lowered = joined.lower()
    elif any(c in joined for c in _LOWER_TO_ASCII):
        lowered = joined.lower()
        if len(lowered) != len(joined):
            return None
    else:
        lowered = ascii_text.lower().decode("ascii")
        heads = _ASSIGNMENT_HEADS_ASCII
    from bisect import bisect_right

    starts, at = [], 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    last = len(starts) - 1
    by_needle: dict[str, set[int]] = {}

    def holding(needle: str) -> set[int]:
        found = by_needle.get(needle)
        if found is None:
            found = by_needle[needle] = set()
            at = lowered.find(needle)
            while at != -1:
                i = bisect_right(starts, at) - 1
                found.add(i)
                # the next text: one occurrence is enough for a text
                at = lowered.find(needle, starts[i + 1]) if i < last else -1
        return found

    candidates: dict[int, list[int]] = {}
    runs: dict[str, list[tuple[int, int]]] = {}
    for number, rule in enumerate(rules):
        found: set[int] = set()
        if rule is _ASSIGNMENT_RULE and not any(c in joined for c in _FOLDED_APART):
            found = {bisect_right(starts, m.start()) - 1 for head in heads for m in head.finditer(lowered)}
        elif rule.run_chars:
            if rule.run_chars not in runs:
                runs[rule.run_chars] = _long_runs(ascii_text, rule.run_chars, _RUN_MIN[rule.run_chars])
            # endpos one past the run: the rule's lookahead sees the character that ended it, and its
            # lookbehind sees the text before the run either way (a pattern's pos does not cut the string).
            # `needs` are characters of the match itself: a run without one is not tried.
            found = {bisect_right(starts, m.start()) - 1 for start, end in runs[rule.run_chars]
                     if end - start >= rule.min_len
                     and (not rule.needs or any(joined.find(n, start, end) != -1 for n in rule.needs))
                     for m in rule.pattern.finditer(joined, start, end + 1)}
        elif rule.hints:
            for hint in rule.hints:
                found |= holding(next((n for n in _SHARED_NEEDLES if n in hint), hint))
        else:
            found = set(range(len(texts)))
        for i in found:
            candidates.setdefault(i, []).append(number)
    return candidates


def _kinds_by_line(lines: list[str], rules: tuple[_Rule, ...]) -> dict[int, list[str]]:
    """line index -> `_hits(line, rules)`'s kinds, for each line that has some (none holds a line
    break); each line runs only the rules `_candidates` chose for it."""
    chosen_by_line = _candidates(lines, rules)
    if chosen_by_line is None:
        return {i: kinds for i, line in enumerate(lines) if (kinds := [kind for kind, _, _ in _hits(line, rules)])}
    out: dict[int, list[str]] = {}
    for i, chosen in chosen_by_line.items():
        line = lines[i]
        if _nothing_to_find(line):
            continue
        # `_hits(line, rules)` over the rules chosen for this line.
        hits: list[tuple[str, int, int]] = []
        lowered = line.lower()
        for n in sorted(chosen):
            rule = rules[n]
            if not rule.may_match(line, lowered):
                continue
            for start, end in _spans(rule, line):
                if not any(start < e and s < end for _, s, e in hits):
                    hits.append((rule.kind, start, end))
        if hits:
            out[i] = [kind for kind, _, _ in sorted(hits, key=lambda h: h[1])]
    return out


def scan_file(path: Path, label: str | None = None, memo: dict[str, list[str]] | None = None) -> list[SecretFinding]:
    """Findings in one file, read as text whatever its encoding (binary bytes cannot hide a key)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return scan_text(text, label or path.name, memo)
