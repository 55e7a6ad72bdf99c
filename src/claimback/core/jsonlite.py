"""`json.loads` / `json.dumps` for the guard hook's start-up path, without importing `json`.

`import json` loads `re`, which loads `enum`: ~10 ms of CPU in a hook whose own work is ~2 ms, paid on
every subagent launch (benchmarks/hook_latency.py). The work itself is done by the same C
accelerators `json` uses (`_json.make_scanner`, `_json.make_encoder`), set up exactly as `json`'s
defaults set them up; anything irregular (an error to raise, a BOM, bytes that are not plain UTF-8, a
value the encoder refuses, no `_json` at all) is handed to the real `json`, so results and exceptions
are always `json`'s own.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing imports re: not on the hook path
if TYPE_CHECKING:
    from typing import Any

try:
    import _json
except ImportError:  # another interpreter: the real module does everything
    _json = None  # type: ignore[assignment]

_WS = " \t\n\r"  # JSON's whitespace (str.strip() would take more)
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Context:
    """What `_json.make_scanner` reads from a `json.JSONDecoder()` with default arguments."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Context()) if _json is not None else None


def loads(text: str | bytes) -> Any:
    if _scan is not None:
        if isinstance(text, (bytes, bytearray)):
            if not text[:4].isascii() or b"\x00" in text[:4]:  # a BOM or UTF-16/32: json detects those
                return _slow().loads(text)
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                return _slow().loads(text)
        if isinstance(text, str):
            start = len(text) - len(text.lstrip(_WS))
            try:
                value, end = _scan(text, start)
            except Exception:
                # Any error: json raises its own. (Without json.decoder loaded, the C scanner cannot
                # build its JSONDecodeError and raises SystemError instead; StopIteration: no value.)
                return _slow().loads(text)
            if not text[end:].strip(_WS):
                return value
    return _slow().loads(text)


def dumps(obj: Any, *, ensure_ascii: bool = True, separators: tuple[str, str] | None = None) -> str:
    if _json is not None and hasattr(_json, "make_encoder"):
        item, key = separators or (", ", ": ")
        quote = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
        try:
            if isinstance(obj, str):
                return quote(obj)
            encode = _json.make_encoder({}, _refuse, quote, None, key, item, False, False, True)
            return "".join(encode(obj, 0))
        except (TypeError, ValueError, RecursionError):
            pass  # json raises the same, with its own message
    kwargs: dict[str, Any] = {"ensure_ascii": ensure_ascii}
    if separators is not None:
        kwargs["separators"] = separators
    return _slow().dumps(obj, **kwargs)


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _slow() -> Any:
    import json

    return json


def __getattr__(name: str) -> Any:
    if name == "JSONDecodeError":  # only an error path asks for it
        return _slow().JSONDecodeError
    raise AttributeError(name)
