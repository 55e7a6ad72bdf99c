"""Analysis: usage, failure classes, outage windows, loss, quota and pricing."""
