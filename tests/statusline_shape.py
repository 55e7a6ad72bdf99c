"""The shape of the JSON Claude Code pipes to a status line command: key names and JSON types, no values.

`tests/fixtures/statusline-input-2.1.332.json` holds the shapes the real client 2.1.332 sent in
`tests/test_realclient_tty.py`'s session (before its first answer, and after one that carried
`anthropic-ratelimit-unified-*` headers); the unit tests build payloads of those shapes with values of
their own, and the real-client test compares each new capture with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parent / "fixtures" / "statusline-input-2.1.332.json"


def shape(value: Any) -> Any:
    """`value` with every leaf replaced by its JSON type name; a list by the shape of its first item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


def fill(shape_: Any, values: dict[str, Any] | None = None, _path: str = "") -> Any:
    """A payload of `shape_`: `values` by dotted path ("rate_limits.five_hour.used_percentage"), else a
    placeholder of the leaf's type. Raises KeyError for a path the shape does not have."""
    values = dict(values or {})
    out = _fill(shape_, values, _path)
    if values:
        raise KeyError(f"not in the shape: {sorted(values)}")
    return out


def _fill(shape_: Any, values: dict[str, Any], path: str) -> Any:
    if path in values:
        return values.pop(path)
    if isinstance(shape_, dict):
        return {key: _fill(item, values, f"{path}.{key}" if path else key) for key, item in shape_.items()}
    if isinstance(shape_, list):
        return [_fill(shape_[0], values, f"{path}.0")] if shape_ else []
    return {"null": None, "boolean": False, "number": 0, "string": "x"}[shape_]


def load() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))
