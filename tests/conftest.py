"""Shared fixtures: every test runs with its own CLAIMBACK_HOME and no real Claude Code config."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "claimback-home"
    monkeypatch.setenv("CLAIMBACK_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CLAIMBACK_DB", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", "http://127.0.0.1:9")  # never the real network
    return home
