"""Background refresh of the status cache for the guard hook (`python -m claimback.prevent.refresh`).

The hook starts this detached when the cache is older than a minute and never waits for it. It
writes `cache_dir()/status/unresolved.json` (Statuspage's raw body) and `unresolved.meta.json`
(`url`, `fetched_at`, `etag`, `last_modified`, `status`) per the status-cache contract, with a short
timeout and a conditional request. Standard library only: it must also run where httpx is missing.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from claimback.prevent import signals

DEFAULT_STATUS_URL = "https://status.claude.com"
UNRESOLVED_PATH = "/api/v2/incidents/unresolved.json"
TIMEOUT_S = 3.0


def status_base_url() -> str:
    url = os.environ.get("CLAIMBACK_STATUS_URL")
    if not url:
        try:
            from claimback.config import load_config

            url = load_config().status_url
        except Exception:  # noqa: BLE001 - a broken config falls back to the default page
            url = None
    return (url or DEFAULT_STATUS_URL).rstrip("/")


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def refresh_unresolved(cache_dir: str | None = None, base_url: str | None = None,
                       timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Fetch unresolved incidents into the cache. Returns the meta written (or an error note).

    Never raises for network or server trouble: the old cache stays and its `fetched_at` is kept, so
    readers see its true age.
    """
    cache_dir = cache_dir or signals.fast_dirs()[2]
    body_path, meta_path = signals.status_cache_paths(cache_dir)
    os.makedirs(os.path.dirname(body_path), exist_ok=True)
    url = (base_url or status_base_url()).rstrip("/") + UNRESOLVED_PATH
    old_meta: dict[str, Any] = {}
    try:
        with open(meta_path, "rb") as fh:
            old_meta = json.loads(fh.read())
    except (OSError, ValueError):
        old_meta = {}
    have_body = os.path.exists(body_path)
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "claimback-guard"})
    if have_body and isinstance(old_meta, dict):
        if old_meta.get("etag"):
            request.add_header("If-None-Match", str(old_meta["etag"]))
        if old_meta.get("last_modified"):
            request.add_header("If-Modified-Since", str(old_meta["last_modified"]))
    now = signals.iso(time.time())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - https/http only
            body = resp.read(8 * 1024 * 1024)
            status = resp.status
            etag, last_modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
    except urllib.error.HTTPError as exc:
        if exc.code == 304 and have_body:
            meta = {**old_meta, "url": url, "fetched_at": now, "status": 304}
            _write_atomic(meta_path, json.dumps(meta).encode())
            return meta
        return {"url": url, "error": f"HTTP {exc.code}"}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return {"url": url, "error": type(exc).__name__}
    try:
        parsed = json.loads(body)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("incidents"), list):
            raise ValueError("not a Statuspage incidents payload")
    except ValueError:
        return {"url": url, "error": "invalid payload"}
    _write_atomic(body_path, body)
    meta = {"url": url, "fetched_at": now, "etag": etag, "last_modified": last_modified, "status": status}
    _write_atomic(meta_path, json.dumps(meta).encode())
    return meta


def main() -> None:
    try:
        refresh_unresolved()
    except Exception:  # noqa: BLE001 - detached: nobody to tell; the cache age says it all
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
