"""The change feed behind the page's server-sent events: Slack stand-in events and cluster snapshots, each
numbered, kept in a bounded history so a reconnecting page (Last-Event-ID) misses nothing."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

FeedItem = tuple[int, str, dict[str, Any]]  # (id, SSE event name, data)


class ChangeFeed:
    def __init__(self, history: int = 2000) -> None:
        self._items: deque[FeedItem] = deque(maxlen=history)
        self._last = 0
        self._changed = threading.Condition()
        self._closed = False
        self.listeners = 0

    @property
    def last_id(self) -> int:
        with self._changed:
            return self._last

    def publish(self, event: str, data: dict[str, Any]) -> int:
        with self._changed:
            self._last += 1
            self._items.append((self._last, event, data))
            self._changed.notify_all()
            return self._last

    def after(self, last_id: int, wait: float = 0.0) -> list[FeedItem] | None:
        """Items numbered above `last_id` (waiting up to `wait` seconds for one); None when some of them
        are no longer kept (the reader must start afresh)."""
        with self._changed:
            if last_id > self._last:
                return None  # from before a restart
            if wait > 0 and self._last == last_id and not self._closed:
                self._changed.wait(timeout=wait)
            if self._items and last_id < self._items[0][0] - 1:
                return None  # fallen out of the history
            return [item for item in self._items if item[0] > last_id]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def listening(self, delta: int) -> None:
        with self._changed:
            self.listeners += delta
