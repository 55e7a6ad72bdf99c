"""Outputs: terminal tables, JSON, and the claim packet."""
