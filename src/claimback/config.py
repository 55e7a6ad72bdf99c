"""Where claimback keeps its files, and the user's config file.

`CLAIMBACK_HOME` puts config, data and cache under one directory (tests and sandboxes use it); otherwise
the platform's user directories are used.
"""

from __future__ import annotations

import os
from pathlib import Path
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the status line path would import typing (~3 ms)
if TYPE_CHECKING:
    from typing import Any

from claimback.errors import BadInput

# tomllib, platformdirs and uuid are imported where used: the status line and the guard hook import this
# module on every Claude Code refresh, and each costs milliseconds there (docs/benchmarks.md).

APP = "claimback"


def home_override() -> Path | None:
    value = os.environ.get("CLAIMBACK_HOME")
    return Path(value).expanduser() if value else None


def _app_dir(kind: str) -> Path:
    """claimback's `kind` (config | data | cache) dir: under CLAIMBACK_HOME when set, else the OS's."""
    home = home_override()
    if home:
        return home / kind
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP))


def config_dir() -> Path:
    return _app_dir("config")


def data_dir() -> Path:
    return _app_dir("data")


def cache_dir() -> Path:
    return _app_dir("cache")


def config_path() -> Path:
    return config_dir() / "config.toml"


def default_ledger_path() -> Path:
    return data_dir() / "ledger.sqlite3"


class Config:
    """Settings from `config.toml`; every key is optional.

    A plain class rather than a dataclass: importing dataclasses costs the status line ~10 ms.
    """

    def __init__(self, raw: dict[str, Any] | None = None) -> None:
        raw = raw or {}
        self.raw: dict[str, Any] = raw
        self.plan: str | None = raw.get("plan")
        self.weekly_reset: str | None = raw.get("weekly_reset")
        self.status_url: str | None = raw.get("status_url")
        self.user_label: str | None = raw.get("user_label")
        self.pricing_file: str | None = raw.get("pricing_file")
        self.guard: dict[str, Any] = raw.get("guard") or {}
        self.statusline: dict[str, Any] = raw.get("statusline") or {}

    def __repr__(self) -> str:
        return f"Config({self.raw!r})"


def load_config(path: Path | None = None) -> Config:
    path = path or config_path()
    from claimback.core.files import read_regular_bytes

    try:
        # Regular file only, non-blocking, capped: a FIFO or /dev/zero as config.toml hung every command.
        text = read_regular_bytes(path, 1024 * 1024).decode("utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read config file {path}: {exc}") from None
    import tomllib

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"cannot read config file {path}: {exc}") from None
    return Config(raw)


def machine_id() -> str:
    """A random id for this machine, made once and kept in the data dir (no hardware fingerprinting)."""
    from claimback.core.files import read_regular_bytes

    path = data_dir() / "machine-id"
    try:
        value = read_regular_bytes(path, 4096).decode("ascii").strip()
        if value:
            return value
    except (OSError, UnicodeDecodeError):
        pass
    value = os.urandom(8).hex()
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
            existing = read_regular_bytes(path, 4096).decode("ascii").strip()
            value = existing or value
        except OSError:  # no hard links here (some network file systems): best effort, as before
            if not path.exists():
                os.replace(aside, path)
        finally:
            aside.unlink(missing_ok=True)
    except (OSError, UnicodeDecodeError):
        pass
    return value
