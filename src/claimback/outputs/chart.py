"""The packet's timeline chart: an SVG document written directly from the evidence dict.

Tokens per 10 minutes as bars, failures per 10 minutes as a line on a second axis, outage windows as
shaded bands labelled with their incidents, and — when statusline snapshots exist — the weekly quota
line in a panel below. Plain SVG elements only (rect, polyline, circle, line, text), so the drawing is
byte-stable, needs no font files, and costs no dependency: matplotlib and its stack (numpy, pillow,
fonttools, ...) were ~41 MB to download and ~170 MB installed for this one figure (docs/benchmarks.md).
Every text that comes from outside (incident names, the title) is XML-escaped here.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from html import escape
from typing import Any

from claimback.core.times import parse_utc

TOKEN_COLOR = "#4c72b0"
FAILURE_COLOR = "#c0392b"
BAND_COLOR = "#f5b041"
BAND_TEXT = "#7e5109"
QUOTA_COLOR = "#6c3483"
AXIS_COLOR = "#444444"
GRID_COLOR = "#dddddd"

WIDTH = 760
LEFT, RIGHT, TOP = 64, 60, 26  # plot margins: token axis, failure axis, band labels
MAIN_HEIGHT = 200
QUOTA_HEIGHT = 70
PANEL_GAP = 14
BOTTOM = 40  # time ticks and the axis label
FONT = 'font-family="DejaVu Sans, Verdana, sans-serif"'
_TICK_STEPS_MIN = (10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)


def _text(value: str) -> str:
    return escape(value, quote=True)


def _num(value: float) -> str:
    """Short coordinates (2 decimals, no trailing zeros) keep the file small and byte-stable."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _nice_step(value: float, ticks: int = 5) -> float:
    """A tick step of 1, 2, 2.5 or 5 times a power of ten giving at most `ticks` steps up to `value`."""
    raw = max(value, 1.0) / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _tokens_label(value: float) -> str:
    return f"{value / 1000:,.0f}k" if value >= 1000 else f"{value:,.0f}"


def _time_ticks(lo: datetime, hi: datetime) -> list[datetime]:
    span_min = (hi - lo).total_seconds() / 60
    step = next((s for s in _TICK_STEPS_MIN if span_min / s <= 9), _TICK_STEPS_MIN[-1])
    midnight = lo.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = math.ceil((lo - midnight).total_seconds() / 60 / step) * step
    ticks, moment = [], midnight + timedelta(minutes=offset)
    while moment <= hi:
        ticks.append(moment)
        moment += timedelta(minutes=step)
    return ticks


def timeline_svg(timeline: dict[str, Any], title: str) -> str:
    """An SVG document (as text) for one window's timeline, ready to inline in HTML."""
    bins = timeline["bins"]
    starts = [parse_utc(b["start"]) for b in bins]
    lo = starts[0] if starts else parse_utc(timeline["start"])
    hi = parse_utc(timeline["end"])
    span = max((hi - lo).total_seconds(), 1.0)
    plot_w = WIDTH - LEFT - RIGHT
    quota = [q for q in timeline["quota"] if q["seven_day_pct"] is not None]
    height = TOP + MAIN_HEIGHT + (PANEL_GAP + QUOTA_HEIGHT if quota else 0) + BOTTOM
    main_bottom = TOP + MAIN_HEIGHT
    panel_bottom = main_bottom + PANEL_GAP + QUOTA_HEIGHT if quota else main_bottom

    def x(moment: datetime) -> float:
        return LEFT + (moment - lo).total_seconds() / span * plot_w

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" class="chart-svg" '
        f'{FONT} font-size="9">',
        f"<title>{_text(title)}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    # outage bands first, behind everything, across both panels
    for band in timeline["bands"]:
        b_lo, b_hi = max(parse_utc(band["start"]), lo), min(parse_utc(band["end"]), hi)
        if b_hi <= b_lo:
            continue
        out.append(f'<rect class="band" x="{_num(x(b_lo))}" y="{TOP}" width="{_num(x(b_hi) - x(b_lo))}" '
                   f'height="{panel_bottom - TOP}" fill="{BAND_COLOR}" fill-opacity="0.25"/>')
        label = band["label"] if len(band["label"]) <= 60 else band["label"][:57] + "…"
        out.append(f'<text x="{_num(x(b_lo) + 2)}" y="{TOP - 5}" font-size="8" fill="{BAND_TEXT}">'
                   f"outage: {_text(label)}</text>")

    # tokens: left axis, grid, bars
    token_step = _nice_step(max((b["tokens"] for b in bins), default=0))
    token_ticks = max(1, math.ceil(max((b["tokens"] for b in bins), default=0) / token_step))
    top_tokens = token_step * token_ticks
    for i in range(token_ticks + 1):
        value = token_step * i
        y = main_bottom - MAIN_HEIGHT * value / top_tokens
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID_COLOR}" '
                   f'stroke-width="0.6"/>')
        out.append(f'<text x="{LEFT - 5}" y="{_num(y + 3)}" text-anchor="end" fill="{AXIS_COLOR}">'
                   f"{_tokens_label(value)}</text>")
    out.append(f'<text transform="translate(14 {_num(TOP + MAIN_HEIGHT / 2)}) rotate(-90)" text-anchor="middle" '
               f'fill="{AXIS_COLOR}">tokens per 10 min</text>')
    bin_w = timeline["bin_minutes"] * 60 / span * plot_w
    for start, b in zip(starts, bins, strict=True):
        if b["tokens"] <= 0:
            continue
        h = b["tokens"] / top_tokens * MAIN_HEIGHT
        out.append(f'<rect class="bar" x="{_num(x(start))}" y="{_num(main_bottom - h)}" width="{_num(bin_w * 0.9)}" '
                   f'height="{_num(h)}" fill="{TOKEN_COLOR}"/>')

    # failures: right axis, line, markers where something failed
    failures = [b["failures"] for b in bins]
    top_failures = float(max(4, math.ceil(max(failures, default=0) * 1.25)))
    failure_step = max(1, math.ceil(top_failures / 5))  # whole requests only
    for value in range(0, int(top_failures) + 1, failure_step):
        y = main_bottom - MAIN_HEIGHT * value / top_failures
        out.append(f'<text x="{LEFT + plot_w + 5}" y="{_num(y + 3)}" fill="{FAILURE_COLOR}">{value:,.0f}</text>')
    out.append(f'<text transform="translate({WIDTH - 18} {_num(TOP + MAIN_HEIGHT / 2)}) rotate(90)" '
               f'text-anchor="middle" fill="{FAILURE_COLOR}">failed requests per 10 min</text>')
    half = timedelta(minutes=timeline["bin_minutes"] / 2)
    points = [(x(s + half), main_bottom - n / top_failures * MAIN_HEIGHT) for s, n in zip(starts, failures, strict=True)]
    if points:
        out.append(f'<polyline class="failures" points="{" ".join(f"{_num(px)},{_num(py)}" for px, py in points)}" '
                   f'fill="none" stroke="{FAILURE_COLOR}" stroke-width="1.4"/>')
    for (px, py), n in zip(points, failures, strict=True):
        if n:
            out.append(f'<circle cx="{_num(px)}" cy="{_num(py)}" r="2.2" fill="{FAILURE_COLOR}"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{main_bottom}" y2="{main_bottom}" stroke="{AXIS_COLOR}"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{main_bottom}" stroke="{AXIS_COLOR}"/>')
    out.append(f'<line x1="{LEFT + plot_w}" x2="{LEFT + plot_w}" y1="{TOP}" y2="{main_bottom}" '
               f'stroke="{FAILURE_COLOR}"/>')

    # weekly quota panel (step line: a snapshot holds until the next one)
    if quota:
        q_top = main_bottom + PANEL_GAP
        for pct in (0, 50, 100):
            y = panel_bottom - QUOTA_HEIGHT * pct / 100
            out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID_COLOR}" '
                       f'stroke-width="0.6"/>')
            out.append(f'<text x="{LEFT - 5}" y="{_num(y + 3)}" text-anchor="end" fill="{AXIS_COLOR}">{pct}</text>')
        out.append(f'<text transform="translate(14 {_num(q_top + QUOTA_HEIGHT / 2)}) rotate(-90)" '
                   f'text-anchor="middle" fill="{AXIS_COLOR}">weekly quota %</text>')
        steps: list[str] = []
        marks: list[str] = []
        for i, q in enumerate(quota):
            qx = min(max(x(parse_utc(q["ts"])), LEFT), LEFT + plot_w)
            qy = panel_bottom - QUOTA_HEIGHT * min(max(float(q["seven_day_pct"]), 0.0), 100.0) / 100
            if i:
                steps.append(f"{_num(qx)},{steps[-1].split(',')[1]}")
            steps.append(f"{_num(qx)},{_num(qy)}")
            marks.append(f'<rect x="{_num(qx - 2)}" y="{_num(qy - 2)}" width="4" height="4" fill="{QUOTA_COLOR}"/>')
        out.append(f'<polyline class="quota" points="{" ".join(steps)}" fill="none" stroke="{QUOTA_COLOR}" '
                   f'stroke-width="1.4"/>')
        out.extend(marks)
        out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{q_top}" y2="{panel_bottom}" stroke="{AXIS_COLOR}"/>')
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{panel_bottom}" y2="{panel_bottom}" '
                   f'stroke="{AXIS_COLOR}"/>')

    # time axis, under the bottom panel
    for tick in _time_ticks(lo, hi):
        tx = x(tick)
        out.append(f'<line x1="{_num(tx)}" x2="{_num(tx)}" y1="{panel_bottom}" y2="{panel_bottom + 4}" '
                   f'stroke="{AXIS_COLOR}"/>')
        out.append(f'<text x="{_num(tx)}" y="{panel_bottom + 14}" text-anchor="middle" fill="{AXIS_COLOR}">'
                   f"{tick:%H:%M}</text>")
    out.append(f'<text x="{_num(LEFT + plot_w / 2)}" y="{panel_bottom + 30}" text-anchor="middle" '
               f'fill="{AXIS_COLOR}">UTC, {lo:%Y-%m-%d} onward</text>')

    # legend, top left inside the plot
    lx, ly = LEFT + 6, TOP + 6
    out.append(f'<rect x="{lx}" y="{ly}" width="150" height="32" fill="#ffffff" fill-opacity="0.9" '
               f'stroke="{GRID_COLOR}"/>')
    out.append(f'<rect x="{lx + 6}" y="{ly + 6}" width="12" height="7" fill="{TOKEN_COLOR}"/>')
    out.append(f'<text x="{lx + 24}" y="{ly + 13}" font-size="8">tokens / 10 min</text>')
    out.append(f'<line x1="{lx + 6}" x2="{lx + 18}" y1="{ly + 23}" y2="{ly + 23}" stroke="{FAILURE_COLOR}" '
               f'stroke-width="1.4"/>')
    out.append(f'<circle cx="{lx + 12}" cy="{ly + 23}" r="2.2" fill="{FAILURE_COLOR}"/>')
    out.append(f'<text x="{lx + 24}" y="{ly + 26}" font-size="8">failed requests / 10 min</text>')
    out.append("</svg>")
    return "\n".join(out)
