"""The forms values take when they are stored or rendered: JSON-safe data and aware UTC times.

Two time parsers for two sources: `parse_time` reads our own ISO text (a stored state, an event) and fails
loudly; `api_time` reads a Kubernetes object's RFC 3339 field, where an absent or malformed value is
simply unknown (None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any


def json_safe(value: Any) -> Any:
    """Plain JSON types only (tuples become lists, enums their value, datetimes ISO text).

    Fails loudly on anything else so a stray object never reaches a store or a Slack payload.
    """
    if isinstance(value, Enum):
        return json_safe(value.value)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not JSON-safe: non-finite float {value!r}")
        return value
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"not JSON-safe: mapping key {key!r} is not a string")
            out[key] = json_safe(item)
        return out
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    raise TypeError(f"not JSON-safe: {type(value).__name__}")


def to_utc(at: datetime) -> datetime:
    """Aware UTC; naive datetimes are rejected because their meaning depends on the machine."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: pass an aware (UTC) datetime")
    return at.astimezone(UTC)


def parse_time(text: str) -> datetime:
    """Our own ISO text (stored state, events) -> aware UTC; ValueError on anything else."""
    return to_utc(datetime.fromisoformat(text))


def api_time(value: Any) -> datetime | None:
    """A Kubernetes RFC 3339 Time or MicroTime -> aware datetime; None for absent or malformed values."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
