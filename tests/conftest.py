"""Shared fixtures: every test runs with its own CLAIMBACK_HOME and no real Claude Code config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every suite run, so a CI result says something about the
# commit rather than about the draw; a deep run (CLAIMBACK_FUZZ_EXAMPLES set, docs/reliability.md)
# explores new ones. Each test's own @settings still sets its example count.
settings.register_profile("claimback-suite", derandomize=True)
settings.register_profile("claimback-deep", derandomize=False)
settings.load_profile("claimback-deep" if os.environ.get("CLAIMBACK_FUZZ_EXAMPLES") else "claimback-suite")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "claimback-home"
    monkeypatch.setenv("CLAIMBACK_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("CLAIMBACK_CLAUDE_MANAGED_DIR", str(tmp_path / "managed-settings"))  # never /etc
    monkeypatch.delenv("CLAIMBACK_DB", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("CLAIMBACK_STATUS_URL", "http://127.0.0.1:9")  # never the real network
    monkeypatch.chdir(tmp_path)  # commands that write into the current directory (claim packets) stay in tmp
    return home


# -- ledger backends: every ledger test runs on SQLite and on a throwaway PostgreSQL --------------------
@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server for this test session (CLAIMBACK_TEST_PG_URL, else initdb + pg_ctl)."""
    import os

    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'claimback[postgres]')")
    import _pg

    if os.environ.get("CLAIMBACK_TEST_PG_URL"):
        yield os.environ["CLAIMBACK_TEST_PG_URL"]
        return
    bindir = _pg.find_pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql, or set "
                    "CLAIMBACK_TEST_PG_URL)")
    try:
        cluster = _pg.start_cluster(bindir)
    except RuntimeError as exc:
        pytest.skip(str(exc))
    try:
        yield cluster.url()
    finally:
        _pg.remove_cluster(cluster)


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped after it: removing a whole suite's
    databases at the end took ~40 s (one rmtree of several GB), dropping each ~25 ms."""
    import _pg

    url = _pg.create_database(pg_server_url)
    yield url
    _pg.drop_database(pg_server_url, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger target for one test: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite3")
    return request.getfixturevalue("pg_url")
