"""Background refresh of the status cache for the guard hook (`python -m claimback.prevent.refresh`).

The hook starts this detached when the cache is older than a minute and never waits for it. The
fetch itself is `claimback.sources.status_client.fetch_all` (short deadline, ETag/Last-Modified, cache
written per the status-cache contract); a failed fetch leaves the old cache and its true age.
"""

from __future__ import annotations

import sys

REFRESH_NAMES = ("unresolved",)


def refresh(timeout: float = 3.0) -> bool:
    """Fetch unresolved incidents into the cache; True when the cache now holds a fresh copy."""
    from claimback.sources.status_client import fetch_all

    outcomes = fetch_all(REFRESH_NAMES, timeout=timeout)
    return all(o.ok for o in outcomes.values())


def prewarm() -> int:
    """Judge the cached incidents into the hook's kept judgments (prevent/signals.Judgments), so the next
    hook calls find the answers and compile no pattern. Returns how many incidents were judged."""
    from claimback.prevent import signals

    _config_dir, data_dir, cache_dir = signals.fast_dirs()
    incidents, _fetched, _problem = signals.read_status_cache(cache_dir)
    judgments = signals.Judgments(data_dir)
    for incident in incidents or []:
        judgments.relevance(*signals.relevance_inputs(incident))
    judgments.save()
    return len(incidents or [])


def main() -> None:
    try:
        refresh()
    except Exception:  # noqa: BLE001 - detached: nobody to tell; the cache age says it all
        pass
    try:
        prewarm()
    except Exception:  # noqa: BLE001 - the hook judges afresh what is not kept
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
