"""Huge or pathological error texts never hang classification, signatures or scrubbing (issue 15 item 2).

A proxy can return any body as the error message. Each shape below made one of the patterns backtrack
(quadratically or worse) before the texts were bounded and the patterns anchored; the 1 MB cases ran for
hours. These run in a child process with a generous deadline: a hang detector, not a speed assertion
(benchmarks/hostile_text.py measures the speed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from claimback.core.classify import TEXT_LIMIT, classify, normalize_signature

MB = 1_000_000
SHAPES = {
    "word run": "API Error: 502 " + "abcdefghij" * (MB // 10),
    "hex run": "API Error: 500 " + "0123456789" * (MB // 10) + "abcdef",
    "upper run": "API Error: 503 " + "ABCDEFGHIJ" * (MB // 10),
    "dotted run": "API Error: 503 " + "a." * (MB // 2),
    "model repeats": "API Error: 400 " + "model " * (MB // 6),
    "html page": "API Error: 503 " + "<div>upstream connect error at node-12.example.net ops@example.net</div>"
                 * (MB // 70),
}


def test_a_megabyte_of_each_hostile_shape_is_classified_signed_and_scrubbed_without_hanging():
    program = textwrap.dedent("""
        import json, sys
        from claimback.core.classify import classify, normalize_signature
        from claimback.core.secrets import scrub
        from claimback.outputs.redact import Redactor
        shapes = json.loads(sys.stdin.read())
        out = {}
        redactor = Redactor(home="/home/dana", user="dana", host="dana-laptop")
        for name, text in shapes.items():
            out[name] = [classify(None, None, None, text), normalize_signature(text, 502),
                         len(scrub(text)), len(redactor.text(text) or "")]
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", program], input=json.dumps(SHAPES), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    for name, (cls, signature, scrubbed, redacted) in results.items():
        assert cls in ("outage", "model_provider"), (name, cls)
        assert signature.startswith("502 | API Error: "), (name, signature)
        assert len(signature) <= 170
        assert scrubbed > 0 and redacted > 0


def test_only_the_bounded_head_of_a_text_decides():
    head = "API Error: 529 Overloaded"
    tail_a = " " + "x" * (TEXT_LIMIT + 10) + " sk-ant-api03-" + "A" * 40
    tail_b = " " + "y" * (TEXT_LIMIT + 10) + " invalid model"
    assert normalize_signature(head + tail_a) == normalize_signature(head + " " + "x" * TEXT_LIMIT)
    assert classify(None, None, None, head + tail_b) == "outage"
    # ... and what is inside the bound still counts
    assert classify(None, None, None, "x " * 100 + "invalid model") == "model_provider"


def test_hex_and_email_normalizing_keeps_its_meaning():
    sig = normalize_signature("trace 0123456789abcdef and 0123456789012345 and abcdefabcdefab and "
                              "dana.b+x@mail.example.com failed")
    assert sig == "trace <hex> and <n> and abcdefabcdefab and <secret> failed"  # an address is scrubbed
