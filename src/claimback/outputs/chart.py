"""The packet's timeline chart, drawn by matplotlib's SVG backend from the evidence dict.

Tokens per 10 minutes as bars, failures per 10 minutes overlaid on a second axis, outage windows as
shaded bands labelled with their incidents, and — when statusline snapshots exist — the weekly quota
line in a panel below. matplotlib is imported here only, so no other command pays for it.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

from claimback.core.times import parse_utc

TOKEN_COLOR = "#4c72b0"
FAILURE_COLOR = "#c0392b"
BAND_COLOR = "#f5b041"
QUOTA_COLOR = "#6c3483"


def _matplotlib() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)  # never a GUI, never a display
    import matplotlib.pyplot as plt

    return plt


def timeline_svg(timeline: dict[str, Any], title: str) -> str:
    """An SVG document (as text) for one window's timeline, ready to inline in HTML."""
    import matplotlib.dates as mdates

    plt = _matplotlib()
    bins = timeline["bins"]
    starts = [parse_utc(b["start"]) for b in bins]
    width = timeline["bin_minutes"] / (24 * 60)  # bar width in days, matplotlib's date unit
    quota = [q for q in timeline["quota"] if q["seven_day_pct"] is not None]
    rc = {"svg.fonttype": "none", "svg.hashsalt": "claimback", "font.size": 9,
          "font.family": ["DejaVu Sans", "sans-serif"], "axes.spines.top": False}
    with plt.rc_context(rc):
        if quota:
            fig, (ax, qax) = plt.subplots(2, 1, figsize=(9.5, 4.6), sharex=True,
                                          gridspec_kw={"height_ratios": [3, 1.2], "hspace": 0.12})
        else:
            fig, ax = plt.subplots(figsize=(9.5, 3.6))
            qax = None
        try:
            ax.bar(starts, [b["tokens"] for b in bins], width=width * 0.9, align="edge", color=TOKEN_COLOR,
                   label="tokens / 10 min", zorder=2)
            ax.set_ylabel("tokens per 10 min")
            ax.yaxis.set_major_formatter(_thousands())
            fax = ax.twinx()
            fax.spines["top"].set_visible(False)
            half = timedelta(minutes=timeline["bin_minutes"] / 2)
            centers = [s + half for s in starts]
            failures = [b["failures"] for b in bins]
            # Markers only where something failed, so quiet hours read as a flat line, not a dotted one.
            fax.plot(centers, failures, color=FAILURE_COLOR, marker="o", markersize=3.5, linewidth=1.4,
                     markevery=[i for i, n in enumerate(failures) if n] or None, label="failed requests / 10 min",
                     zorder=3)
            fax.set_ylabel("failed requests per 10 min", color=FAILURE_COLOR)
            fax.tick_params(axis="y", colors=FAILURE_COLOR)
            fax.set_ylim(0, max(4, max(failures, default=0) * 1.25))
            axes = [ax] + ([qax] if qax is not None else [])
            for band in timeline["bands"]:
                lo, hi = parse_utc(band["start"]), parse_utc(band["end"])
                for target in axes:
                    target.axvspan(lo, hi, color=BAND_COLOR, alpha=0.25, zorder=1, linewidth=0)
                label = band["label"] if len(band["label"]) <= 60 else band["label"][:57] + "…"
                ax.annotate(f"outage: {label}", xy=(max(lo, starts[0]), 1.0), xycoords=("data", "axes fraction"),
                            xytext=(0, 3), textcoords="offset points", va="bottom", ha="left", fontsize=8,
                            color="#7e5109")
            if qax is not None:
                qax.plot([parse_utc(q["ts"]) for q in quota], [q["seven_day_pct"] for q in quota],
                         color=QUOTA_COLOR, marker="s", markersize=3.5, linewidth=1.4, drawstyle="steps-post",
                         label="weekly quota used (%)")
                qax.set_ylabel("weekly quota %")
                qax.set_ylim(0, 100)
                qax.grid(axis="y", alpha=0.3)
            bottom = qax if qax is not None else ax
            bottom.set_xlim(starts[0], parse_utc(timeline["end"]))
            bottom.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=None))
            bottom.set_xlabel(f"UTC, {starts[0]:%Y-%m-%d} onward")
            ax.grid(axis="y", alpha=0.3, zorder=0)
            handles = ax.get_legend_handles_labels()[0] + fax.get_legend_handles_labels()[0]
            ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=True, framealpha=0.9)
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", bbox_inches="tight",
                        metadata={"Date": None, "Creator": "claimback", "Title": title})
        finally:
            plt.close(fig)
    return _inline(buffer.getvalue())


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: f"{value / 1000:,.0f}k" if value >= 1000 else f"{value:,.0f}")


def _inline(svg: str) -> str:
    """Drop the XML prologue (invalid inside HTML) and let the drawing scale to the page width."""
    svg = svg[svg.index("<svg"):]
    head_end = svg.index(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", svg[:head_end])
    return head + ' role="img" class="chart-svg"' + svg[head_end:]
