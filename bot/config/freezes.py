"""Deploy freezes in time: is one active now, and when are the next windows. Pure: `now` is a parameter.

A date-range freeze is the window [start, end). A cron freeze opens every time its schedule fires (UTC) and
stays open for its duration; windows may cross midnight, weekends and each other (a later window that starts
inside an earlier one extends the freeze).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.config.model import Freeze

__all__ = ["freeze_active", "next_windows"]


def freeze_active(
    freezes: Iterable[Freeze], release: str, environment: str | None, now: datetime
) -> Freeze | None:
    """The first freeze (in file order) that applies to the release and is open at `now`."""
    for freeze in freezes:
        if freeze.applies_to(release, environment) and freeze.window_at(now) is not None:
            return freeze
    return None


def next_windows(freeze: Freeze, after: datetime, count: int = 3) -> list[tuple[datetime, datetime]]:
    """Up to `count` windows that are still open after `after` (the current one first), in time order."""
    _require_aware(after)
    if freeze.start is not None and freeze.end is not None:
        return [(freeze.start, freeze.end)] if freeze.end > after and count > 0 else []
    if freeze.cron is None or freeze.duration is None:
        return []
    windows: list[tuple[datetime, datetime]] = []
    current = freeze.window_at(after)
    if current is not None:
        windows.append(current)
    moment = current[0] if current else after
    while len(windows) < count:
        fired = freeze.cron.next_fire(moment)
        if fired is None:
            break
        windows.append((fired, fired + freeze.duration))
        moment = fired
    return windows


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("a naive datetime: pass an aware one (UTC)")
