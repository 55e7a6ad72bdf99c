"""The one time module: parse, format and read the clock, in the ledger's canonical form.

Every stored or exported instant is `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds, `Z`): it sorts as text,
SQLite and PostgreSQL compare it correctly, and it is what docs/design.md promises. Readers accept any
ISO-8601 instant (`Z` or an offset; a naive time is taken as UTC). Standard library only: the hook
imports this.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def utc_now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return datetime.now(timezone.utc)


def format_iso(moment: datetime) -> str:
    """A datetime → `YYYY-MM-DDTHH:MM:SS.mmmZ` (a naive one is taken as UTC; milliseconds truncated)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def to_iso(value: Any) -> str | None:
    """Any ISO-8601 instant (Z or offset) → the ledger's `YYYY-MM-DDTHH:MM:SS.mmmZ`; junk → None."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return format_iso(dt)


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)

