"""Anthropic's status page over HTTP, and the on-disk cache of its last good answers (DESIGN §3.2).

The live feed is `https://status.claude.com` (then `status.anthropic.com`), or the base URL in
`CLAIMBACK_STATUS_URL` / config key `status_url` (mirrors, proxies, tests). Endpoints
`/api/v2/summary.json`, `/api/v2/incidents.json`, `/api/v2/incidents/unresolved.json` and
`/history.atom` are fetched in parallel under ONE deadline (3 s by default: a status check must never
stall the user), with ETag / Last-Modified revalidation.

The cache holds the raw bodies of the last good fetch, `cache_dir()/status/<name>.json` plus
`<name>.meta.json` = {url, fetched_at, etag, last_modified, status}. Other modules (guard, preflight,
doctor) read these files through `read_cache`; a missing or corrupt file means "no data". Faults (DNS,
refused connection, timeout, HTTP errors, HTML instead of JSON, invalid or oversized JSON) never raise:
the caller gets a `FetchOutcome` with the fault.
"""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from claimback import __version__
from claimback.config import cache_dir, load_config
from claimback.core.files import atomic_write, read_regular_bytes
from claimback.core.times import parse_iso, utc_now, utc_now_iso
from claimback.errors import ClaimbackError

DEFAULT_BASE_URLS = ("https://status.claude.com", "https://status.anthropic.com")
DEFAULT_TIMEOUT = 3.0
CACHE_FRESH_SECONDS = 300  # a cache younger than this is used without asking the network
MAX_BODY_BYTES = 8 * 1024 * 1024  # the real incidents.json is ~200 KB; anything huge is not it
ENDPOINTS: dict[str, str] = {
    "summary": "/api/v2/summary.json",
    "incidents": "/api/v2/incidents.json",
    "unresolved": "/api/v2/incidents/unresolved.json",
    "history": "/history.atom",
}
JSON_NAMES = ("summary", "incidents", "unresolved")
ATOM_NS = "{http://www.w3.org/2005/Atom}"


# -- age of a fetch --------------------------------------------------------------------------------
def age_seconds(iso: str | None, now: datetime | None = None) -> float | None:
    dt = parse_iso(iso)
    if dt is None:
        return None
    return max(0.0, ((now or utc_now()) - dt).total_seconds())


def describe_age(seconds: float | None) -> str:
    if seconds is None:
        return "of unknown age"
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.0f} days ago"


# -- configuration ---------------------------------------------------------------------------------
def base_urls() -> list[str]:
    """`CLAIMBACK_STATUS_URL`, else config `status_url`, else status.claude.com then status.anthropic.com."""
    override = os.environ.get("CLAIMBACK_STATUS_URL", "").strip()
    if not override:
        try:
            override = (load_config().status_url or "").strip()
        except ClaimbackError:
            override = ""  # a broken config file must not stop a status check
    if override:
        return [override.rstrip("/")]
    return list(DEFAULT_BASE_URLS)


# -- cache -----------------------------------------------------------------------------------------
def status_cache_dir() -> Path:
    return cache_dir() / "status"


def _cache_paths(name: str) -> tuple[Path, Path]:
    ext = "atom" if name == "history" else "json"
    folder = status_cache_dir()
    return folder / f"{name}.{ext}", folder / f"{name}.meta.json"


@dataclass
class CachedPayload:
    name: str
    body: bytes
    meta: dict[str, Any]
    data: Any  # decoded JSON (dict) for JSON names; the raw text for history

    @property
    def fetched_at(self) -> str | None:
        return self.meta.get("fetched_at")

    @property
    def age_seconds(self) -> float | None:
        return age_seconds(self.fetched_at)


def read_cache(name: str) -> CachedPayload | None:
    """The cached payload `name` (summary | incidents | unresolved | history), or None when missing,
    unreadable or corrupt — callers treat all of those as "no data"."""
    body_path, meta_path = _cache_paths(name)
    try:
        # Regular files only, capped: a FIFO or /dev/zero in the cache must not hang a status check.
        body = read_regular_bytes(body_path, MAX_BODY_BYTES)
        meta = json.loads(read_regular_bytes(meta_path, 64 * 1024))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("fetched_at"), str):
        return None
    if name == "history":
        try:
            return CachedPayload(name, body, meta, body.decode("utf-8"))
        except UnicodeDecodeError:
            return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if _shape_problem(name, data):
        return None
    return CachedPayload(name, body, meta, data)


def write_cache(name: str, body: bytes, meta: dict[str, Any]) -> None:
    body_path, meta_path = _cache_paths(name)
    try:
        atomic_write(body_path, body, durable=False)
        atomic_write(meta_path, json.dumps(meta, indent=1).encode("utf-8"), durable=False)
    except OSError:
        pass  # a read-only cache dir costs freshness next time, nothing else


def _touch_cache(name: str, meta: dict[str, Any]) -> None:
    _, meta_path = _cache_paths(name)
    try:
        atomic_write(meta_path, json.dumps(meta, indent=1).encode("utf-8"), durable=False)
    except OSError:
        pass


# -- fetching --------------------------------------------------------------------------------------
@dataclass
class FetchOutcome:
    name: str
    ok: bool
    url: str | None = None
    data: Any = None
    body: bytes | None = None
    status: int | None = None
    not_modified: bool = False
    fault: str | None = None
    seconds: float = 0.0


def _shape_problem(name: str, data: Any) -> str | None:
    if not isinstance(data, dict):
        return "JSON is not an object"
    if name in ("incidents", "unresolved"):
        if not isinstance(data.get("incidents"), list):
            return "JSON has no 'incidents' list"
    elif name == "summary":
        if not any(k in data for k in ("status", "components", "incidents")):
            return "JSON is not a Statuspage summary"
        for key in ("components", "incidents"):
            if key in data and not isinstance(data[key], list):
                return f"summary '{key}' is not a list"
    return None


def _decode(name: str, body: bytes) -> tuple[Any, str | None]:
    if name == "history":
        try:
            text = body.decode("utf-8")
            root = ET.fromstring(text)
        except (UnicodeDecodeError, ET.ParseError):
            return None, "history feed is not valid XML"
        if root.tag not in (f"{ATOM_NS}feed", "rss"):
            return None, "history feed is not Atom or RSS (an HTML page?)"
        return text, None
    head = body.lstrip()[:1]
    if head == b"<":
        return None, "got HTML instead of JSON (a captive portal or error page?)"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, "invalid JSON"
    problem = _shape_problem(name, data)
    return (None, problem) if problem else (data, None)


def _fetch_one(name: str, bases: Sequence[str], deadline: float) -> FetchOutcome:
    import httpx

    started = time.monotonic()
    cached = read_cache(name)
    faults: list[str] = []
    for base in bases:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            faults.append("no time left")
            break
        url = base + ENDPOINTS[name]
        shown = public_url(url)  # what is stored and printed: never the credentials a URL may carry
        # One content-encoding layer at most, decoded here with a bounded inflate (httpx decodes every
        # layer a server lists, unbounded per chunk: a double-gzip body reached 1.8 GB RSS).
        headers = {"User-Agent": f"claimback/{__version__}", "Accept-Encoding": "gzip",
                   "Accept": "application/atom+xml" if name == "history" else "application/json"}
        if cached and cached.meta.get("url") in (url, shown):
            if cached.meta.get("etag"):
                headers["If-None-Match"] = cached.meta["etag"]
            if cached.meta.get("last_modified"):
                headers["If-Modified-Since"] = cached.meta["last_modified"]
        host = httpx.URL(url).host
        try:
            with httpx.Client(timeout=httpx.Timeout(remaining), follow_redirects=True, max_redirects=5,
                              trust_env=True, event_hooks={"response": [_same_host_redirects]}) as client:
                with client.stream("GET", url, headers=headers) as resp:
                    # A 304 answers a conditional request only: with no validator sent (the cache is
                    # another URL's), it cannot mean "the cached body is current".
                    revalidated = "If-None-Match" in headers or "If-Modified-Since" in headers
                    if resp.status_code == 304 and cached is not None and revalidated:
                        meta = dict(cached.meta, fetched_at=utc_now_iso(), status=304)
                        _touch_cache(name, meta)
                        return FetchOutcome(name, True, shown, cached.data, cached.body, 304, True,
                                            seconds=time.monotonic() - started)
                    if resp.status_code >= 300:
                        faults.append(f"{host}: HTTP {resp.status_code}")
                        continue
                    inflater, problem = _inflater(resp.headers.get("content-encoding", ""))
                    if problem:
                        faults.append(f"{host}: {problem}")
                        continue
                    chunks: list[bytes] = []
                    total = 0
                    too_big = late = False
                    for raw in resp.iter_raw():
                        for chunk in _inflate(inflater, raw, MAX_BODY_BYTES + 1 - total):
                            total += len(chunk)
                            chunks.append(chunk)
                        if total > MAX_BODY_BYTES:
                            too_big = True
                            break
                        if time.monotonic() > deadline:
                            late = True
                            break
                    if too_big:
                        faults.append(f"{host}: response larger than {MAX_BODY_BYTES // 1_048_576} MiB")
                        continue
                    if late:
                        faults.append(f"{host}: timed out while reading")
                        continue
                    etag, last_modified = resp.headers.get("etag"), resp.headers.get("last-modified")
                    status = resp.status_code
        except httpx.TimeoutException:
            faults.append(f"{host}: timed out")
            continue
        except httpx.ConnectError as exc:
            faults.append(f"{host}: cannot connect ({_short(exc)})")
            continue
        except _OtherHostRedirect as exc:
            faults.append(f"{host}: {exc}")
            continue
        except (httpx.HTTPError, OSError, ValueError, zlib.error) as exc:
            faults.append(f"{host}: {_short(exc)}")
            continue
        body = b"".join(chunks)
        data, problem = _decode(name, body)
        if problem:
            faults.append(f"{host}: {problem}")
            continue
        write_cache(name, body, {"url": shown, "fetched_at": utc_now_iso(), "etag": etag,
                                 "last_modified": last_modified, "status": status})
        return FetchOutcome(name, True, shown, data, body, status, seconds=time.monotonic() - started)
    return FetchOutcome(name, False, fault="; ".join(faults) or "no status URL",
                        seconds=time.monotonic() - started)


def _short(exc: BaseException) -> str:
    from claimback.core.secrets import scrub

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return scrub(text)[:120]  # an error may quote the URL, credentials and all


def public_url(url: str) -> str:
    """`url` without user:password@ and without its query (either may carry a credential)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparsable status URL>"


class _OtherHostRedirect(Exception):
    pass


def _same_host_redirects(response: Any) -> None:
    """Follow a redirect only to the same host (http -> https allowed): a status server, or whoever sits
    in front of it, must not send us (and any credentials in the URL) somewhere else."""
    if not response.is_redirect:
        return
    location = response.headers.get("location", "")
    target = response.request.url.join(location)
    here = response.request.url
    if target.host != here.host or target.scheme not in ("http", "https") or (
            here.scheme == "https" and target.scheme != "https"):
        raise _OtherHostRedirect(f"refused a redirect to another host ({public_url(str(target))})")


def _inflater(encoding: str) -> tuple[Any, str | None]:
    layers = [e.strip().lower() for e in encoding.split(",") if e.strip() and e.strip().lower() != "identity"]
    if not layers:
        return None, None
    if len(layers) > 1:
        return None, f"refused {len(layers)} content-encoding layers (one at most)"
    if layers[0] in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS), None
    if layers[0] == "deflate":
        return zlib.decompressobj(), None
    return None, f"unsupported content-encoding {layers[0][:20]!r}"


def _inflate(inflater: Any, data: bytes, room: int) -> Iterator[bytes]:
    """Decoded pieces of `data`, at most `room` bytes in all (past it the caller stops: too big)."""
    if inflater is None:
        yield data[:max(room, 0)]
        return
    while data and room > 0:
        piece = inflater.decompress(data, room)
        room -= len(piece)
        yield piece
        data = inflater.unconsumed_tail


def fetch_all(names: Sequence[str] = tuple(ENDPOINTS), timeout: float = DEFAULT_TIMEOUT) -> dict[str, FetchOutcome]:
    """Fetch the endpoints in parallel; returns within `timeout` seconds (plus a few ms).

    Each fetch runs in a daemon thread joined with the shared deadline, because a DNS lookup
    (getaddrinfo) is not covered by httpx's timeouts: a thread stuck there is abandoned, never waited on.
    """
    import threading

    bases = base_urls()
    deadline = time.monotonic() + timeout
    results: dict[str, FetchOutcome] = {}

    def run(name: str) -> None:
        try:
            results[name] = _fetch_one(name, bases, deadline)
        except Exception as exc:  # noqa: BLE001 - a status check must never crash its caller
            results[name] = FetchOutcome(name, False, fault=f"unexpected error: {_short(exc)}")

    threads = [threading.Thread(target=run, args=(name,), name=f"claimback-status-{name}", daemon=True)
               for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 0.2)
    return {name: results.get(name) or FetchOutcome(name, False, fault="timed out (no answer, DNS?)",
                                                    seconds=timeout) for name in names}

