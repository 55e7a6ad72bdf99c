"""A huge error text through ingest and through the OTLP receiver: seconds per error, by shape and size.

    python benchmarks/hostile_text.py [--sizes 20000,1000000] [--rounds 3] [--src PATH] [--timeout 60]
                                      [--paths ingest,otlp]

A proxy or a broken gateway can return any body as the "error message" (an HTML page, a minified bundle,
a long hex dump); Claude Code records it verbatim. Before issue 15 the signature normalizer's e-mail and
hex patterns backtracked over such runs (10 s for a 20 KB error; a 1 MB one froze `otel serve` for 15+
minutes). Each case, in interleaved rounds (benchmarks/_harness.py), times:
- `ingest`: `python -m claimback ingest` of one transcript holding one final error of that text (the
  time the command reports for its ingest, without interpreter start-up);
- `otlp`: one `claude_code.api_error` event carrying that text, POSTed to a running `otel serve`,
  request to response (the receiver decodes, classifies, normalizes and stores before answering).
`--src` runs another checkout's sources (e.g. main before the fix: `--src /work/main/src`); a run that
exceeds `--timeout` is reported as `>timeout`; `--paths` times one path only. Target: well under a second for 1 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import BAD_USAGE, fail  # noqa: E402

SESSION = "5e551011-0000-4000-8000-0000000b1e55"

SHAPES = {
    # a run of word characters with no '@' (a minified bundle, a base64 blob): the e-mail pattern's worst case
    "word run": lambda n: "API Error: 502 " + ("abcdefghij" * (n // 10 + 1))[:n],
    # a long hex dump: the hex pattern's worst case
    "hex run": lambda n: "API Error: 500 " + ("0123456789" * (n // 10 + 1))[:n] + "abcdef",
    # an HTML error page from a proxy, as seen in the wild (tags, words, numbers, a few addresses)
    "html page": lambda n: "API Error: 503 " + (
        "<div class=\"err\">upstream connect error 0x7f3a9c at node-12.example.net ops@example.net</div>"
        * (n // 90 + 1))[:n],
    # a relay's error body repeated (escaped JSON, foreign request ids, key=value pairs, a page title): the
    # provider judge's and the secret scrubber's shapes (docs/reliability.md, "Public error texts")
    "relay body": lambda n: "API Error: 429 " + (
        '{\\"error\\":{\\"message\\":\\"当前分组上游负载已饱和\\",\\"request_id\\":\\"2025042302014273\\"},'
        'token=IQoJb3JpZ2luX2Vj <title>relay.example | 524' * (n // 120 + 1))[:n],
    # the shapes of the texts nobody had seen (tests/test_classify_unseen_texts.py): a terminal's line breaks,
    # JSON \\u escapes, one-api request ids, error objects of foreign types, a body quoted twice
    "unseen shapes": lambda n: "API Error: 503 " + (
        '{"error":{"type":"","message":"bad response \\u4f59\\u989d (request id: 2026031109254418820374)"},'
        '"type":"error"}\n     {\\\"error\\\":{\\\"type\\\":\\\"stream_read_error\\\"}} 令牌sk-x ' * (n // 160 + 1))[:n],
}


def transcript(folder: Path, text: str) -> None:
    project = folder / "projects" / "-tmp-bench"
    project.mkdir(parents=True, exist_ok=True)
    record = {"type": "assistant", "timestamp": "2026-05-15T01:00:00.000Z", "sessionId": SESSION,
              "uuid": "e-1", "isSidechain": False, "isApiErrorMessage": True, "error": "server_error",
              "apiErrorStatus": 502,
              "message": {"id": "synthetic-1", "model": "<synthetic>", "role": "assistant", "type": "message",
                          "content": [{"type": "text", "text": text}],
                          "usage": {"input_tokens": 0, "output_tokens": 0}}}
    (project / f"{SESSION}.jsonl").write_text(json.dumps(record) + "\n")


def otlp_body(text: str) -> bytes:
    attrs = {"event.name": "api_error", "session.id": SESSION, "event.timestamp": "2026-05-15T01:00:00.000Z",
             "model": "claude-opus-4-6", "error": text, "status_code": "502", "attempt": "1"}
    record = {"timeUnixNano": "1778806800000000000", "body": {"stringValue": "claude_code.api_error"},
              "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]}
    return json.dumps({"resourceLogs": [{"resource": {"attributes": []},
                                         "scopeLogs": [{"logRecords": [record]}]}]}).encode()


def env_for(src: str | None, home: Path) -> dict[str, str]:
    env = {**os.environ, "CLAIMBACK_HOME": str(home), "HOME": str(home)}
    if src:
        env["PYTHONPATH"] = src
    return env


def time_ingest(text: str, src: str | None, timeout: float) -> float | None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        transcript(folder, text)
        cmd = [sys.executable, "-m", "claimback", "ingest", "--db", str(folder / "l.sqlite3"),
               "--source", str(folder / "projects")]
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, env=env_for(src, folder), capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            fail(f"`claimback ingest` failed (exit {done.returncode}): {said[-1] if said else ''}")
        # The command's own figure ("... in 0.26s"): the ingest work without interpreter start-up.
        found = re.search(rb" in ([0-9.]+)s", done.stdout + done.stderr)
        return float(found.group(1)) if found else time.perf_counter() - start


def time_otlp(text: str, src: str | None, timeout: float) -> float | None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc = subprocess.Popen([sys.executable, "-m", "claimback", "otel", "serve", "--port", "0",
                                 "--db", str(folder / "l.sqlite3")], env=env_for(src, folder),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stderr.readline()
            if "listening on " not in line:
                proc.kill()
                rest = (line + proc.communicate()[1]).strip().splitlines()
                fail(f"`claimback otel serve` did not start: {rest[-1] if rest else f'exit {proc.wait()}'}")
            url = line.split("listening on ")[1].split(" ")[0]
            body = otlp_body(text)
            request = urllib.request.Request(f"{url}/v1/logs", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=timeout) as reply:
                    reply.read()
            except TimeoutError:
                return None
            return time.perf_counter() - start
        finally:
            proc.kill()  # a receiver stuck in a regex ignores SIGTERM; this run is over either way
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--src", default=None, help="sources to run (PYTHONPATH), default: the installed ones")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--paths", default="ingest,otlp", help="which paths to time: ingest, otlp or both")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        fail(f"--sizes {args.sizes}: expected sizes in characters, comma-separated", BAD_USAGE)
    shapes = args.shapes.split(",")
    paths = args.paths.split(",")
    unknown = [x for x in shapes if x not in SHAPES] + [x for x in paths if x not in ("ingest", "otlp")]
    if unknown:
        fail(f"unknown shape or path: {', '.join(unknown)} (shapes: {', '.join(SHAPES)}; paths: ingest, otlp)",
             BAD_USAGE)
    cases = [(path, shape, size) for size in sizes for shape in shapes for path in paths]
    samples: dict[tuple, list[float | None]] = {case: [] for case in cases}
    skip: set[tuple] = set()  # a case that timed out once is not run again (it would only time out again)
    for _ in range(args.rounds):
        for case in cases:
            if case in skip:
                continue
            path, shape, size = case
            text = SHAPES[shape](size)
            run = time_ingest if path == "ingest" else time_otlp
            seconds = run(text, args.src, args.timeout)
            samples[case].append(seconds)
            if seconds is None:
                skip.add(case)
    print(f"load average {os.getloadavg()[0]:.2f}; src {args.src or 'installed'}; rounds {args.rounds}")
    print(f"{'path':7} {'shape':10} {'size':>9}  median s")
    for case in cases:
        values = samples[case]
        shown = (f">{args.timeout:.0f}" if None in values else f"{statistics.median(values):.3f}")
        print(f"{case[0]:7} {case[1]:10} {case[2]:>9}  {shown}")


if __name__ == "__main__":
    main()
