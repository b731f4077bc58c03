"""Failure isolation for the controllers: one object whose sync raises must not stop the others.

A real controller-manager requeues a failing key with a rate limit and keeps working on every other key.
`Guard` does the same for one controller: the failing object is logged once per distinct error, skipped
with a doubling back-off, and retried at once when the object changes (a new resourceVersion, like an
informer's update event re-queueing the key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import backoff

log = logging.getLogger("bot.sim.controllers")


@dataclass(frozen=True)
class Failing:
    """An object whose sync keeps failing: the last error, how often in a row, when it is tried again."""

    error: str
    resource_version: str
    attempts: int
    retry_at: datetime


class Guard:
    def __init__(self, controller: str, clock: Clock, *, base: float = 0.5, cap: float = 10.0) -> None:
        self.controller, self.clock = controller, clock
        self.base, self.cap = base, cap
        self._failing: dict[str, Failing] = {}

    @property
    def failing(self) -> dict[str, Failing]:
        """uid -> every object currently backed off (for tests and diagnostics)."""
        return dict(self._failing)

    def each(self, objs: Iterable[dict], sync: Callable[[dict], None]) -> None:
        """sync(obj) for every object, each isolated; forgets objects that are gone."""
        seen: set[str] = set()
        for obj in objs:
            seen.add(_uid(obj))
            self.run(obj, sync)
        for uid in set(self._failing) - seen:
            del self._failing[uid]

    def run(self, obj: dict, sync: Callable[[dict], None]) -> None:
        uid, rv = _uid(obj), str(obj["metadata"].get("resourceVersion", ""))
        now = self.clock.now()
        failing = self._failing.get(uid)
        if failing is not None and failing.resource_version == rv and now < failing.retry_at:
            return
        try:
            sync(obj)
        except Exception as exc:  # any bug or bad value in one object is contained here
            self._failed(obj, uid, rv, exc, failing, now)
        else:
            if failing is not None:
                del self._failing[uid]
                log.info(
                    "%s: %s synced again after %d failures", self.controller, _name(obj), failing.attempts
                )

    def _failed(
        self, obj: dict, uid: str, rv: str, exc: Exception, failing: Failing | None, now: datetime
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"
        attempts = 1 if failing is None or failing.resource_version != rv else failing.attempts + 1
        delay = backoff(self.base, self.cap, attempts)
        if failing is None or failing.error != error:
            log.warning(
                "%s: sync of %s (uid %s) failed, retrying with back-off: %s",
                self.controller,
                _name(obj),
                uid,
                error,
                exc_info=exc,
            )
        self._failing[uid] = Failing(error, rv, attempts, now + timedelta(seconds=delay))


def _uid(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")


def _name(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', 'object')} {ns + '/' if ns else ''}{meta.get('name')}"
