#!/usr/bin/env python3
"""A copy of a corpus in 2.1.33x shape: every session's runs end with a `cost-state` record.

    python benchmarks/add_cost_states.py --src CORPUS --out DIR [--runs-per 200] [--compact-every 5]

`../shared/tools/gen_corpus.py` writes 2.0.x records, so its ledgers hold no cost-state and the
measured-unattributed figure (analysis/unattributed.py) costs nothing there. Claude Code 2.1.33x ends
every run with one (tests/test_cost_state.py has its shape): the session's cumulative usage per model.
This copies each `projects/*/*.jsonl` of `--src` and, every `--runs-per` lines (and at the end), writes
such a record holding what the session's answers used so far (a streamed response counted once: its
largest line); every `--compact-every`-th run's record also holds a request no line shows (a
`/compact` summary's 5,000 input, 800 output and 12,000 cache-read tokens), so the figure is not zero.
Deterministic: same input and arguments, same bytes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import BAD_USAGE, fail  # noqa: E402

KINDS = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens")


def _usage_of(line: bytes) -> tuple[str, str, dict[str, int]] | None:
    if b'"usage"' not in line or b'"type":"assistant"' not in line:
        return None
    rec = msgspec.json.decode(line)
    msg = rec.get("message") or {}
    usage = msg.get("usage") or {}
    if not usage or msg.get("model") == "<synthetic>":
        return None
    key = f"{msg.get('id')}:{rec.get('requestId')}"
    return key, msg.get("model") or "", {
        "inputTokens": int(usage.get("input_tokens") or 0), "outputTokens": int(usage.get("output_tokens") or 0),
        "cacheReadInputTokens": int(usage.get("cache_read_input_tokens") or 0),
        "cacheCreationInputTokens": int(usage.get("cache_creation_input_tokens") or 0)}


def _record(session: str, start: int, totals: dict[str, dict[str, int]], duration: int) -> bytes:
    model_usage = {model: {"inputTokens": v["inputTokens"], "outputTokens": v["outputTokens"], "thinkingTokens": 0,
                           "cacheReadInputTokens": v["cacheReadInputTokens"],
                           "cacheCreationInputTokens": v["cacheCreationInputTokens"],
                           "cacheCreationEphemeral5mInputTokens": v["cacheCreationInputTokens"],
                           "cacheCreationEphemeral1hInputTokens": 0, "webSearchRequests": 0, "costUSD": 0.0}
                   for model, v in totals.items()}
    rec = {"type": "cost-state", "sessionId": session, "totalCostUSD": 0.0, "totalAPIDuration": duration,
           "totalAPIDurationWithoutRetries": duration, "totalToolDuration": 0, "totalLinesAdded": 0,
           "totalLinesRemoved": 0, "totalDuration": duration * 2, "startTime": start, "modelUsage": model_usage,
           "hasUnknownModelCost": False}
    return json.dumps(rec, separators=(",", ":")).encode() + b"\n"


def copy_file(src: Path, dst: Path, runs_per: int, compact_every: int, start: int) -> int:
    """Returns the number of cost-state records written."""
    session = src.stem
    seen: dict[str, tuple[str, dict[str, int]]] = {}
    extra = {"inputTokens": 0, "outputTokens": 0, "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0}
    written = runs = 0
    out = bytearray()
    last_model = ""

    def close_run() -> None:
        nonlocal runs, written
        runs += 1
        if compact_every and runs % compact_every == 0:
            extra["inputTokens"] += 5000
            extra["outputTokens"] += 800
            extra["cacheReadInputTokens"] += 12000
        totals: dict[str, dict[str, int]] = {}
        for model, counts in seen.values():
            into = totals.setdefault(model, dict.fromkeys(KINDS, 0))
            for k in KINDS:
                into[k] += counts[k]
        if last_model:
            into = totals.setdefault(last_model, dict.fromkeys(KINDS, 0))
            for k in KINDS:
                into[k] += extra[k]
        if totals:
            out.extend(_record(session, start, totals, 1000 * runs))
            written += 1

    with open(src, "rb") as handle:
        for n, line in enumerate(handle, 1):
            out.extend(line.replace(b'"version":"2.0.31"', b'"version":"2.1.332"'))
            found = _usage_of(line)
            if found is not None:
                key, model, counts = found
                last_model = model or last_model
                kept = seen.get(key)
                if kept is None or sum(counts.values()) > sum(kept[1].values()):
                    seen[key] = (model, counts)
            if n % runs_per == 0:
                close_run()
    close_run()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(out))
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--runs-per", type=int, default=200, help="lines per run (a cost-state after each)")
    ap.add_argument("--compact-every", type=int, default=5, help="every Nth run holds a /compact request (0: none)")
    args = ap.parse_args()
    files = sorted((args.src / "projects").glob("*/*.jsonl"))
    if not files:
        fail(f"--src {args.src}: no transcripts (projects/*/*.jsonl)", BAD_USAGE)
    if args.runs_per < 1 or args.compact_every < 0:
        fail("--runs-per must be at least 1 and --compact-every at least 0", BAD_USAGE)
    records = 0
    for i, src in enumerate(files):
        records += copy_file(src, args.out / src.relative_to(args.src), args.runs_per, args.compact_every,
                             1_790_000_000_000 + i * 1000)
    print(f"{len(files)} files, {records} cost-state records -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
