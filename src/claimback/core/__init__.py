"""Definitions every pipeline stage shares: failure classes, secret shapes, (later) providers and time."""
