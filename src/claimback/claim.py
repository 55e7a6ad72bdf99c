"""`claimback claim` and the last step of `audit`: outage windows → loss → claim packet.

One library function (`run_claim`) the CLI calls; `write_claim_packet` is the part audit reuses once it
has its loss report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from claimback.analysis.loss import LossReport
from claimback.outputs.packet import PacketResult, write_packet
from claimback.workspace import Workspace


@dataclass
class ClaimResult:
    packet: PacketResult
    headlines: list[str]
    windows_considered: int
    notes: list[str] = field(default_factory=list)


def outage_windows(ws: Workspace, since: date | None, until: date | None,
                   offline: bool) -> tuple[list[Any], dict[str, Any], list[str]]:
    """(the outage windows, id → window, months no incident data covers) for the loss attribution and
    the packet."""
    from claimback.analysis.report import find_outages

    found = find_outages(ws, since, until, offline)
    return found.windows, {w.id: w for w in found.windows}, found.coverage_missing


def default_out_dir(ws: Workspace, base: Path | None = None) -> Path:
    """`./claimback-packet-<date>` (`-demo-<outage day>` for the demo); `-2`, `-3`… when taken."""
    base = base or Path.cwd()
    if ws.demo:
        from claimback.demo import OUTAGE_DAY

        stem = f"claimback-packet-demo-{OUTAGE_DAY}"
    else:
        stem = f"claimback-packet-{datetime.now(timezone.utc):%Y-%m-%d}"
    candidate, n = base / stem, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = base / f"{stem}-{n}"
    return candidate


def write_claim_packet(ws: Workspace, report: LossReport, originals: dict[str, Any], *, out_dir: str | Path | None,
                       force: bool = False, zip: bool = False, include_paths: bool = False,
                       include_text: bool = False, since: date | None = None, until: date | None = None,
                       selected: str | None = None) -> PacketResult:
    out = Path(out_dir) if out_dir else default_out_dir(ws)
    # The demo's transcripts record a made-up home directory; redact it like the user's own.
    extra_homes = ("/home/demo",) if ws.demo else ()
    return write_packet(ws.ledger, report, out, force=force, zip=zip, include_paths=include_paths,
                        include_text=include_text, since=since.isoformat() if since else None,
                        until=until.isoformat() if until else None, originals=originals, selected=selected,
                        demo=ws.demo, extra_homes=extra_homes)


def run_claim(ws: Workspace, *, since: date | None = None, until: date | None = None, window_id: str | None = None,
              out_dir: str | Path | None = None, force: bool = False, zip: bool = False,
              include_paths: bool = False, include_text: bool = False, plan: str | None = None,
              pricing_file: str | None = None, offline: bool = False) -> ClaimResult:
    from claimback.analysis.report import loss_for_workspace

    windows, originals, coverage = outage_windows(ws, since, until, offline)
    if window_id is not None:
        from claimback.analysis.outages import get_window

        chosen = get_window(list(originals.values()), window_id)  # by window id or by incident id
        if chosen is not None:
            window_id = chosen.window_id
    report = loss_for_workspace(ws, since=since, until=until, window_id=window_id, plan=plan,
                                pricing_file=pricing_file, offline=offline or ws.demo, windows=windows,
                                coverage=coverage)
    packet = write_claim_packet(ws, report, originals, out_dir=out_dir, force=force, zip=zip,
                                include_paths=include_paths, include_text=include_text, since=since, until=until,
                                selected=window_id)
    headlines = [w.headline for w in report.windows if w.id in packet.windows]
    return ClaimResult(packet, headlines, len(report.windows), list(report.notes))
