"""The data behind `claimback usage blocks --live`: the active block (analysis), what the guard sees of
Anthropic's status (prevent/signals: the status cache, never the network) and the newest quota snapshot.
Here, above both analysis and the guard's signals, so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from claimback.analysis.pricing import PricingTable
from claimback.analysis.quota import load_snapshots
from claimback.analysis.usage import Block, block_usage
from claimback.core.times import format_iso
from claimback.ledger.store import Ledger
from claimback.prevent import signals

@dataclass
class LiveState:
    """One frame of `usage blocks --live`: the active block, the guard's view of Anthropic's status,
    and the newest quota snapshot the status line recorded."""

    now: str
    block: Block | None
    last_block: Block | None
    incident_level: str | None  # block | monitoring | None (the guard's levels)
    incident_text: str
    incident_problem: str | None
    quota: dict[str, Any] | None
    demo: bool = False


def live_state(ledger: Ledger, *, tz_name: str | None = None, mode: str = "auto",
               pricing: PricingTable | None = None, token_limit: str | int | None = None,
               now: datetime | None = None) -> LiveState:
    """Read from the ledger and the status cache only (never the network): cheap enough to refresh."""
    now = now or datetime.now(timezone.utc)
    report = block_usage(ledger, tz_name=tz_name, mode=mode, pricing=pricing, now=now, recent=True,
                         token_limit=token_limit)
    real = [b for b in report.blocks if not b.isGap]
    active = next((b for b in real if b.isActive), None)
    config_dir, data_dir, cache_dir = signals.fast_dirs()
    policy, _note = signals.load_policy(config_dir, data_dir)
    assessment = signals.assess(policy=policy, cache_dir=cache_dir, data_dir=data_dir, now=now.timestamp())
    snapshots, _notes = load_snapshots(ledger)
    quota = None
    if snapshots:
        last = snapshots[-1]
        quota = {"ts": last["ts"], "five_hour_pct": last["five_hour_pct"],
                 "five_hour_resets_at": last["five_hour_resets_at"], "seven_day_pct": last["seven_day_pct"],
                 "seven_day_resets_at": last["seven_day_resets_at"]}
    return LiveState(now=format_iso(now), block=active, last_block=real[-1] if real else None,
                     incident_level=assessment["level"], incident_text=signals.describe(assessment, now.timestamp()),
                     incident_problem=assessment["cache_problem"], quota=quota)
