"""Durations as people type them in Slack and as Helm's --timeout takes them (Go syntax).

Accepted: "90s", "5m", "1h30m", "1.5h", "250ms", "2d", and a bare number meaning seconds ("300").
Formatting gives the compact form "1m12s", which Go's time.ParseDuration (hence helm) also accepts.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["DurationTooLong", "format_age", "format_duration", "parse_duration"]


class DurationTooLong(ValueError):
    """A number too large for any duration ("99999999999999999999h"): Python would raise OverflowError."""

_UNITS = {
    "ns": timedelta(microseconds=0.001),
    "us": timedelta(microseconds=1),
    "µs": timedelta(microseconds=1),
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([a-zµ]*)")
_HINT = "expected e.g. 90s, 5m, 1h30m, 1.5h or a number of seconds"


def parse_duration(text: str | int | float) -> timedelta:
    """Parse a non-negative duration; ValueError names the text and what was wrong (also for a number too
    large for a duration, which Python would raise as OverflowError)."""
    try:
        return _parse(text)
    except OverflowError:
        shown = text.strip()[:40] if isinstance(text, str) else text
        raise DurationTooLong(f"invalid duration {shown!r}: too long (at most {_MAX_DAYS} days)") from None


_MAX_DAYS = timedelta.max.days


def _parse(text: str | int | float) -> timedelta:
    if isinstance(text, bool):
        raise ValueError(f"invalid duration {text!r}: {_HINT}")
    if isinstance(text, int | float):
        if text != text:  # NaN
            raise ValueError(f"invalid duration {text!r}: {_HINT}")
        if text < 0:
            raise ValueError(f"invalid duration {text!r}: must not be negative")
        return timedelta(seconds=text)
    if not isinstance(text, str):
        raise ValueError(f"invalid duration of type {type(text).__name__}: {_HINT}")
    s = text.strip().lower()
    shown = text.strip()[:40]
    if not s:
        raise ValueError(f"invalid duration '': empty; {_HINT}")
    if s.startswith("-"):
        raise ValueError(f"invalid duration {shown!r}: must not be negative")
    s = s.removeprefix("+")
    if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", s):
        return timedelta(seconds=float(s))
    total = timedelta()
    pos = 0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        number, unit = m.groups()
        if not unit:
            raise ValueError(f"invalid duration {shown!r}: missing unit after {number!r} ({_HINT})")
        if unit not in _UNITS:
            raise ValueError(f"invalid duration {shown!r}: unknown unit {unit!r} (use ms, s, m, h or d)")
        total += _UNITS[unit] * float(number)
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"invalid duration {shown!r}: {_HINT}")
    return total


def format_duration(value: timedelta) -> str:
    """Compact "1h2m3s" (whole seconds; "450ms" below one second; "0s" for zero)."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros < 1_000_000:
        if micros == 0:
            return "0s"
        return f"{sign}{micros // 1000}ms" if micros >= 1000 else f"{sign}{micros}us"
    seconds = micros // 1_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return sign + "".join(parts)


def format_age(value: timedelta) -> str:
    """How long something has lasted, coarse for messages: whole seconds, whole minutes past an hour,
    never negative ("45s", "2m30s", "1h5m")."""
    seconds = max(0, int(value.total_seconds()))
    if seconds >= 3600:
        seconds -= seconds % 60
    return format_duration(timedelta(seconds=seconds))
