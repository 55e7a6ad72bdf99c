"""Where claimback keeps its files, and the user's config file.

`CLAIMBACK_HOME` puts config, data and cache under one directory (tests and sandboxes use it); otherwise
the platform's user directories are used.
"""

from __future__ import annotations

import os
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from claimback.errors import BadInput

APP = "claimback"


def home_override() -> Path | None:
    value = os.environ.get("CLAIMBACK_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    home = home_override()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    home = home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    home = home_override()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP))


def config_path() -> Path:
    return config_dir() / "config.toml"


def default_ledger_path() -> Path:
    return data_dir() / "ledger.sqlite3"


@dataclass
class Config:
    """Settings from `config.toml`; every key is optional."""

    plan: str | None = None
    weekly_reset: str | None = None
    status_url: str | None = None
    user_label: str | None = None
    pricing_file: str | None = None
    guard: dict[str, Any] = field(default_factory=dict)
    statusline: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def load_config(path: Path | None = None) -> Config:
    path = path or config_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"cannot read config file {path}: {exc}") from None
    return Config(
        plan=raw.get("plan"),
        weekly_reset=raw.get("weekly_reset"),
        status_url=raw.get("status_url"),
        user_label=raw.get("user_label"),
        pricing_file=raw.get("pricing_file"),
        guard=raw.get("guard") or {},
        statusline=raw.get("statusline") or {},
        raw=raw,
    )


def machine_id() -> str:
    """A random id for this machine, made once and kept in the data dir (no hardware fingerprinting)."""
    path = data_dir() / "machine-id"
    try:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
    except (OSError, UnicodeDecodeError):
        pass
    value = uuid.uuid4().hex[:16]
    # Two first runs at once (two sessions' hooks, cron and a shell) must agree on one id, or the
    # ledger gets two machines and every file twice: the file appears whole (written aside, then
    # hard-linked into place, which fails if it exists) and the loser reads the winner's id.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".machine-id.{os.getpid()}.{value}")
        aside.write_text(value + "\n", encoding="ascii")
        try:
            os.link(aside, path)
        except FileExistsError:
            existing = path.read_text(encoding="ascii").strip()
            value = existing or value
        except OSError:  # no hard links here (some network file systems): best effort, as before
            if not path.exists():
                os.replace(aside, path)
        finally:
            aside.unlink(missing_ok=True)
    except (OSError, UnicodeDecodeError):
        pass
    return value
