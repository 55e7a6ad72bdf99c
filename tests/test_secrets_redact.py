"""The secret patterns (shared by the packet, doctor and others) and the packet's redaction rules."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from claimback.outputs.redact import Redactor, project_label, redact_tree
from claimback.core.secrets import SCRUB_LIMIT, contains_secret, scan_file, scrub
from claimback.core.untrusted import strip_controls

# Shaped like the real thing (lengths and alphabets), made up.
SECRETS = [
    "sk-ant-api03-" + "Ab3_" * 20 + "xyzAA",
    "sk-ant-oat01-" + "Zq9-" * 18 + "AA",
    "sk-ant-ort01-" + "Rf7x" * 18,
    "sk-proj-" + "a1B2c3D4" * 6,
    "sk-" + "a" * 48,
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAY34FZKBOKMUTVV7A",
    "ghp_" + "A1b2C3d4E5" * 4,
    "github_pat_11ABCDEFG0" + "x" * 60,
    "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "Authorization: Bearer abcdefghijklmnop1234567890",
    "https://deploy:hunter2hunter2@git.example.com/repo.git",
    "postgresql://app:s3cretpass@db.internal:5432/prod",
    "ANTHROPIC_API_KEY=anything-at-all-123",
    "export CLAUDE_CODE_OAUTH_TOKEN='tok_abcdef123456'",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "MY_SERVICE_API_KEY: 0123456789abcdef",
    "ya29.a0AfH6SMBx" + "k" * 40,
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    # Shapes users paste with error texts in public issues that the scrubber did not know (2026-12-01):
    "sk-ant-admin01-" + "Qw3rTy9_" * 10,
    "IQoJb3JpZ2luX2VjEJr" + "A1b2C3d4E5f6G7h8" * 20 + "==",  # an AWS session token, bare
    "Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef",  # Azure API Management
    "1ICfm7h6TcUzTTZ9hrJGn8hugqYLBzfAgLXHo5fFkLZnnKf3lXKZJQQJ99BHACHYHv6XJ3w3AAABACOGYH00",  # Azure AI key
    "abc8Q~" + "aB3dE6gH9.kL1mN2oP3qR4sT5uV6wX7y",  # an Entra ID client secret
    "xapp-1-A0123ABCDEF-1234567890123-0123456789abcdef0123456789abcdef",  # a Slack app token
    "cr_" + "0123456789abcdef" * 4,  # claude-relay-service's key
    "Cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "HTTPS_PROXY=http://bob:hunter22@10.0.0.1:3128",
]

# What a packet legitimately contains: none of it may trip the scanner.
BENIGN = [
    "req_011CWSPLIT2 req_011Ci361mwgD63HF3TPeLACu msg_01XFDUDYJgAACzvnptvVoYEL toolu_01A09q90qw90lq917835lq9",
    str(uuid.UUID(int=123456789)),
    "9f86d081884c7d659a2fea0a15d6b0b00a08a4d1b61f8b08ad2afbd43bb1e1c5  evidence.json",
    json.dumps({"measured_tokens": 548329, "estimated_tokens": 583207, "cache_creation_tokens": 12,
                "p90_week_tokens": 11796339, "request_ids": ["req_1"]}),
    "https://status.claude.com/incidents/8z7l5zcy0v3b",
    "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
    "claude-sonnet-4-6 risk-assessment task-runner-with-a-long-hyphenated-name-here desk-1234567890abcdefghij",
    "max_tokens: 4096, the 5-hour limit, ~$0.97 at API prices",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_shape_is_found_and_scrubbed(secret: str):
    text = f"before {secret} after"
    assert contains_secret(text)
    cleaned = scrub(text)
    assert not contains_secret(cleaned), cleaned
    assert cleaned.startswith("before ") and "[REDACTED]" in cleaned


def test_a_redacted_value_is_not_redacted_again_around_its_marker():
    # A JWT in a cookie is redacted by its own shape; scrubbing the result again (a signature, a print of
    # stored text) must not take the cookie's name for its value ("Cookie: [REDACTED]<secret>").
    once = scrub("Cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
    assert once == "Cookie: session=[REDACTED]"
    assert scrub(once) == once
    assert scrub("Cookie: session=<secret>") == "Cookie: session=<secret>"


@pytest.mark.parametrize("text", [
    "aws_session_token = IQoJb3JpZ2luX2VjEJr" + "A1b2C3d4E5f6G7h8" * 40,
    '{"aws_session_token":"FwoGZXIvYXdzEJr' + "A1b2C3d4E5f6G7h8" * 40 + '"}',
    "x-api-key: " + "Zq" * 400,
    '{"api_key": "sk-zz0123456789',  # cut before its closing quote (an error text cut at 300 characters)
])
def test_a_value_is_redacted_to_its_end_however_long(text: str):
    # The key=value rule's value is bounded (300 characters); a longer one (an AWS session token runs to
    # 1,000+) left its tail in the text, and a quoted one matched nothing at all.
    cleaned = scrub(text)
    assert "[REDACTED]" in cleaned and len(cleaned) < 40, cleaned
    assert not contains_secret(cleaned)


@pytest.mark.parametrize("text", BENIGN)
def test_packet_content_is_not_mistaken_for_a_secret(text: str):
    assert not contains_secret(text)
    assert scrub(text) == text


def test_scan_file_names_line_and_kind_never_the_secret(tmp_path: Path):
    path = tmp_path / "evidence.csv"
    path.write_bytes(b"ok line\nsecond\xff line with sk-ant-api03-" + b"k" * 40 + b"\n")
    findings = scan_file(path)
    assert [(f.path, f.line) for f in findings] == [("evidence.csv", 2)]
    assert "anthropic" in findings[0].kind and "kkkk" not in repr(findings)


@pytest.mark.parametrize("odd", ["", "İstanbul ", "\u2028", "\r"])
def test_a_file_scan_finds_what_each_line_holds(odd: str):
    # scan_text tests each rule's hints in the distinct lines joined (core/secrets.py _kinds_by_line):
    # every secret shape, among benign lines, repeated lines, a character whose lower case is longer
    # (positions shift) and other line breaks, is found on its own line under the kind the line gives.
    from claimback.core.secrets import find_secrets, scan_text

    lines = [odd + "header"]
    for i, secret in enumerate(SECRETS):
        lines += [BENIGN[i % len(BENIGN)], f"{odd}value {secret} end", BENIGN[i % len(BENIGN)]]
    lines += lines[:7] + ["x" * 40, "AC" + "0" * 32, "1234567890:" + "A" * 36]
    text = "\n".join(lines)
    expected = [(number, kind) for number, line in enumerate(text.splitlines(), start=1)
                for kind, _, _ in find_secrets(line)]
    memo: dict[str, list[str]] = {}
    assert [(f.line, f.kind) for f in scan_text(text, "x", memo)] == expected
    assert len({n for n, _ in expected}) == len(SECRETS) + 4  # each secret line, two repeats, Twilio, Telegram
    assert [(f.line, f.kind) for f in scan_text(text, "x", memo)] == expected  # from the memo


def test_redactor_replaces_home_user_host_and_hashes_paths():
    r = Redactor(home="/home/alice", user="alice", host="alice-laptop")
    text = r.text("open /home/alice/work/acme/app.py failed on alice-laptop for alice; see /srv/acme/logs/x.log "
                  "and https://api.anthropic.com/v1/messages and /usr/lib/node_modules/x.js")
    assert "alice" not in text and "acme" not in text
    assert "<host>" in text and "<user>" in text
    assert "https://api.anthropic.com/v1/messages" in text and "/usr/lib/node_modules/x.js" in text
    # Same project, same label, every time and in every packet.
    assert r.project("/home/alice/work/acme") == project_label("/home/alice/work/acme/") == \
        Redactor(home="/x", user="y", host="z").project("/home/alice/work/acme")
    assert r.project("/home/alice/work/acme") != r.project("/home/alice/work/other")


def test_redactor_opt_ins():
    plain = Redactor(home="/home/alice", user="alice", host="h0st")
    assert plain.task_text("Review /home/alice/acme") is None
    with_paths = Redactor(include_paths=True, home="/home/alice", user="alice", host="h0st")
    assert with_paths.project("/home/alice/acme") == "/home/alice/acme"
    assert with_paths.text("at /home/alice/acme key sk-ant-api03-" + "q" * 30) == "at /home/alice/acme key [REDACTED]"
    with_text = Redactor(include_text=True, home="/home/alice", user="alice", host="h0st")
    # Included text is the user's own words: paths still redacted, keys left for the final scan to stop.
    included = with_text.task_text("Review ~/acme and /home/alice/acme/src, key sk-ant-api03-" + "q" * 30)
    assert included.startswith("Review <path:") and "acme" not in included and "alice" not in included
    assert contains_secret(included)


# Pieces that make the line-bound shapes (AWS secret, Twilio, Telegram, Discord), key=value shapes and near
# misses of them: their boundaries ('=' after a run, '/' and '+' inside one, a run cut by a space) and the
# letters case-insensitive matching treats apart are where a scan of the joined lines (long runs, the
# key=value head in the lowered text) could differ from a scan of each line.
_PIECES = ["A", "b", "7", "/", "+", "=", "_", "-", ".", ":", " ", '"', "AC", "SK", "M", "0" * 8, "f" * 16,
           "Ab3" * 5, "1234567890", "x" * 20, "K" * 24, "N" + "a1" * 12, ".q1w2e3.", "c" * 27, "\u0130", "é",
           # the key=value shapes, in cases and with the letters (?i) folds apart from their lower case
           "token", "PassWord", "api_key", "Tokens", "'", "  ", "\u0131", "\u017f", "ſecret", "auth"]


_AWS_SHAPED = "Ab3" * 13 + "A"  # 40 characters of upper, lower and digits


@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join), min_size=1, max_size=12))
@example([_AWS_SHAPED + "=", "=" + _AWS_SHAPED, f"_{_AWS_SHAPED}_", _AWS_SHAPED + "/", f" {_AWS_SHAPED} "])
@example(["measured_tokens: 5", "ap\u0131_key: \"abcd1234\"", "x", "Password : 'hunter22'"])
def test_a_joined_scan_finds_exactly_what_each_line_scanned_alone_holds(lines: list[str]):
    from claimback.core.secrets import find_secrets, scan_text

    text = "\n".join(lines)
    expected = [(number, kind) for number, line in enumerate(text.splitlines(), start=1)
                for kind, _, _ in find_secrets(line)]
    assert [(f.line, f.kind) for f in scan_text(text, "x")] == expected


# scrub_many's cheap tests run over the texts joined: a text's own line breaks, a character whose lower case
# is longer (positions shift) or is an ASCII letter (Kelvin sign), controls, personal shapes, a private key
# block and a text over SCRUB_LIMIT are where it could part from scrub() of each text alone.
_MANY_PIECES = [*_PIECES, "\n", "\u212a", "KEY", "=", "bob@example.com", "arn:aws:iam::123456789012:user/x",
                "-----BEGIN RSA PRIVATE KEY-----", "\x1b[31m", "Bearer ", "sk-", "ghp_", "AKIA", "Q~",
                # an AWS key id's run and its neighbours, shared hint strings, white space outside ASCII
                # (the key=value head over the text's ASCII image), a character outside Latin-1
                "AKIA" + "Z" * 16, "ASIA", "Z9" * 8, "glpat-", "gl", "sk-ant-", "\u00a0", "\u2003", "\u2013",
                *SECRETS[:6]]


@given(st.lists(st.lists(st.sampled_from(_MANY_PIECES), max_size=30).map("".join), max_size=10),
       st.booleans())
@example(["x" * (SCRUB_LIMIT + 5), "plain", "x" * SCRUB_LIMIT + " token=abcd1234"], True)
@example(["token\n", "= hunter22", "\u212aey: abcdef12"], False)
@example(["mail bob@example.com", "arn:aws:iam::123456789012:user/x", "x"], True)
def test_scrub_many_is_scrub_of_each_text(texts: list[str], personal: bool):
    from claimback.core.secrets import scrub_many

    expected = [scrub(t, personal=personal) for t in texts]
    assert scrub_many(texts, personal=personal) == expected
    with _joined_always():
        assert scrub_many(texts, personal=personal) == expected


@contextmanager
def _joined_always() -> Iterator[None]:
    """scrub_many and redact_tree clean even a few short strings joined (they do from JOINED_FROM chars)."""
    import claimback.core.secrets
    import claimback.outputs.redact

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(claimback.core.secrets, "JOINED_FROM", 0)
        patch.setattr(claimback.outputs.redact, "JOINED_FROM", 0)
        yield


@pytest.mark.parametrize("secret", SECRETS)
def test_scrub_many_scrubs_every_shape_among_texts_it_leaves_alone(secret: str):
    from claimback.core.secrets import JOINED_FROM, scrub_many

    texts = [*BENIGN, f"before {secret} after", *BENIGN, f"before {secret} after"]
    texts += [f"{b} {n}" for n in range(JOINED_FROM // 100) for b in BENIGN[:2]]  # joined: over JOINED_FROM
    assert sum(map(len, texts)) >= JOINED_FROM
    cleaned = scrub_many(texts)
    assert cleaned == [scrub(t) for t in texts]
    assert cleaned[:len(BENIGN)] == BENIGN and "[REDACTED]" in cleaned[len(BENIGN)]
    assert not any(contains_secret(t) for t in cleaned)


def _redacted_one_by_one(value, personal: bool = True):
    """redact_tree's definition, each string on its own: the oracle for the joined cleaning."""
    if isinstance(value, str):
        return strip_controls(scrub(value, personal=personal))
    if isinstance(value, dict):
        return {_redacted_one_by_one(k, personal) if isinstance(k, str) else k: _redacted_one_by_one(v, personal)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted_one_by_one(v, personal) for v in value]
    return value


def test_redact_tree_scrubs_a_text_repeated_across_windows_in_every_copy():
    # A packet's evidence repeats the same strings across windows; each distinct one is cleaned once
    # (outputs/redact.py). A key in one repeated error text must be gone from every copy, keys included.
    key = SECRETS[0]
    text = f"API Error: 500 via relay (x-api-key: {key})"
    windows = [{"id": f"w{i}", "failures": [{"message": text, "ts": f"2026-05-15T0{i}:00:00.000Z", "status": 500,
                                             "charged": None, "class": "outage"}] * 3,
                "by_message": {text: i}, "spans": ("a", text), "note": "ESC\x1b[31m here\u202e"}
               for i in range(6)]
    tree = {"windows": windows, 7: text, "version": "2.1.332", "ratio": 0.5,
            # enough distinct text that the strings are cleaned joined (JOINED_FROM)
            "requests": [f"req_011CW{n:08d} 2026-05-15T01:{n % 60:02d}:00.000Z" for n in range(1200)]}
    before = json.dumps(tree, default=str)
    out = redact_tree(tree)
    assert out == _redacted_one_by_one(tree)
    assert json.dumps(tree, default=str) == before  # the input is left as it was
    dumped = json.dumps(out)
    assert key not in dumped and key[:20] not in dumped
    assert dumped.count("[REDACTED]") == 6 * (3 + 1 + 1) + 1  # failures, the key of by_message, spans, tree[7]
    assert all(w["note"] == "ESC[31m here" for w in out["windows"])
    assert redact_tree({"a": ["plain", ("b", 1)]}) == {"a": ["plain", ["b", 1]]}


@given(st.recursive(st.one_of(st.sampled_from(_MANY_PIECES), st.integers(), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.sampled_from(_MANY_PIECES), inner, max_size=4)),
                    max_leaves=30), st.booleans())
def test_redact_tree_equals_each_string_cleaned_alone(tree, personal: bool):
    expected = _redacted_one_by_one(tree, personal)
    assert redact_tree(tree, personal=personal) == expected
    with _joined_always():
        assert redact_tree(tree, personal=personal) == expected


@given(st.lists(st.lists(st.sampled_from(_MANY_PIECES), max_size=30).map("".join), min_size=1, max_size=10))
@example(["token\u00a0= abcd1234 \u2013", "x"])
@example(["x AKIA" + "Q" * 16 + " \u2013", "AKIA" + "Q" * 17, "glpat-" + "a" * 20])
def test_a_joined_scan_of_any_pieces_finds_exactly_what_each_line_holds(lines: list[str]):
    from claimback.core.secrets import find_secrets, scan_text

    text = "\n".join(lines)
    expected = [(number, kind) for number, line in enumerate(text.splitlines(), start=1)
                for kind, _, _ in find_secrets(line)]
    assert [(f.line, f.kind) for f in scan_text(text, "x")] == expected


def test_every_shape_of_the_corpus_is_found_joined_as_alone():
    # Every shape tests/test_secret_corpus.py plants (the vendor shapes, key=value forms, personal ones),
    # each on its own line among a packet's benign lines and inside one another's neighbourhood: the
    # joined scan reports per line what each line alone gives, and scrub_many (joined, over JOINED_FROM)
    # what scrub gives each text.
    from claimback.core.secrets import JOINED_FROM, find_secrets, scan_text, scrub_many
    from test_secret_corpus import SECRETS as CORPUS

    lines = []
    for i, secret in enumerate(CORPUS.values()):
        for piece in secret.splitlines():
            lines += [BENIGN[i % len(BENIGN)], f"\u2013 {piece} \u2026", f"{piece}={piece}"]
    text = "\n".join(lines)
    expected = [(number, kind) for number, line in enumerate(text.splitlines(), start=1)
                for kind, _, _ in find_secrets(line)]
    assert len({kind for _, kind in expected}) >= 25  # 27 kinds: several forms are the key=value rule's
    assert [(f.line, f.kind) for f in scan_text(text, "x")] == expected
    texts = [*lines, *CORPUS.values(), *(f"{b} {n}" for n in range(JOINED_FROM // 50) for b in BENIGN[:2])]
    assert scrub_many(texts) == [scrub(t) for t in texts]
    assert scrub_many(texts, personal=False) == [scrub(t, personal=False) for t in texts]
