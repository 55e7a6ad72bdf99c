"""The ledger: one durable store of requests, failures, tasks, incidents and quota snapshots."""

from claimback.ledger.store import Ledger, open_ledger

__all__ = ["Ledger", "open_ledger"]
