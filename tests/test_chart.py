"""The packet's timeline chart (outputs/chart.py): a well-formed SVG whose marks are the timeline's data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from claimback.outputs.chart import timeline_svg

NS = {"s": "http://www.w3.org/2000/svg"}


def _timeline(quota: bool) -> dict[str, Any]:
    tokens = [0, 120_000, 0, 0, 45_000, 310_000, 0, 8_000]
    failures = [0, 0, 3, 5, 0, 0, 1, 0]
    bins = [{"start": f"2026-05-15T01:{10 * i:02d}:00.000Z" if i < 6 else f"2026-05-15T02:{10 * (i - 6):02d}:00.000Z",
             "tokens": t, "requests": 1, "failures": f, "outage_failures": f} for i, (t, f) in enumerate(zip(tokens, failures, strict=True))]
    return {"bin_minutes": 10, "start": bins[0]["start"], "end": "2026-05-15T02:20:00.000Z", "bins": bins,
            "quota": [{"ts": "2026-05-15T01:05:00.000Z", "seven_day_pct": 40.0, "five_hour_pct": 10.0},
                      {"ts": "2026-05-15T01:55:00.000Z", "seven_day_pct": 52.5, "five_hour_pct": 30.0}] if quota else [],
            "bands": [{"window_id": "w", "start": "2026-05-15T01:20:00.000Z", "end": "2026-05-15T01:40:00.000Z",
                       "label": 'inc1 Errors <b>"on"</b> Opus & Sonnet'}]}


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img" and root.get("class") == "chart-svg"
    assert root.get("width") is None and root.get("height") is None  # scales to the page through viewBox
    return root


def test_marks_are_the_data() -> None:
    root = _parse(timeline_svg(_timeline(quota=False), "Window w: tokens & failures"))
    bars = root.findall("s:rect[@class='bar']", NS)
    assert len(bars) == 4  # one per bin with tokens
    heights = [float(b.get("height")) for b in bars]
    assert heights.index(max(heights)) == 2 and abs(heights[0] / heights[2] - 120_000 / 310_000) < 1e-3
    line = root.find("s:polyline[@class='failures']", NS)
    ys = [float(p.split(",")[1]) for p in line.get("points").split()]
    assert len(ys) == 8 and ys[3] == min(ys)  # the worst bin is the highest point
    assert len(root.findall("s:circle", NS)) == 3 + 1  # markers where something failed, plus the legend's
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert 'outage: inc1 Errors <b>"on"</b> Opus & Sonnet' in texts  # escaped in the file, exact when read
    assert root.find("s:title", NS).text == "Window w: tokens & failures"
    assert "01:20" in texts and "UTC, 2026-05-15 onward" in texts
    assert root.find("s:polyline[@class='quota']", NS) is None


def test_quota_panel_only_with_snapshots_and_stable_output() -> None:
    with_quota = timeline_svg(_timeline(quota=True), "t")
    root = _parse(with_quota)
    steps = root.find("s:polyline[@class='quota']", NS).get("points").split()
    assert len(steps) == 3  # two snapshots, one step between them
    assert "weekly quota %" in with_quota
    assert timeline_svg(_timeline(quota=True), "t") == with_quota  # byte-stable (the packet is checksummed)
    tall = float(root.get("viewBox").split()[3])
    short = float(_parse(timeline_svg(_timeline(quota=False), "t")).get("viewBox").split()[3])
    assert tall > short


def test_empty_and_long_labels() -> None:
    t = _timeline(quota=False)
    for b in t["bins"]:
        b["tokens"] = b["failures"] = 0
    t["bands"][0]["label"] = "x" * 200
    root = _parse(timeline_svg(t, "t"))
    assert root.findall("s:rect[@class='bar']", NS) == []
    label = next("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text")
                 if "".join(e.itertext()).startswith("outage:"))
    assert label.endswith("…") and len(label) == len("outage: ") + 58
