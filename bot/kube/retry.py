"""Riding out a troubled API server: which errors are transient, and a call retried until a deadline.

Transient: 429 (honouring Retry-After), 500, 502, 503, 504, and connection trouble (refused, reset,
timeouts). Final: everything else, notably 401, 403 and 404: waiting does not fix them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from bot.kube.errors import ApiConnectionError, ApiError, KubeError

log = logging.getLogger("helmbot.kube")
T = TypeVar("T")
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class Backoff:
    """Exponential back-off with jitter; `reset()` after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        base = min(self.maximum, self.initial * self.factor ** self._attempt)
        self._attempt += 1
        return self._rng.uniform(base / 2, base)  # "equal jitter": never zero, never synchronised

    def reset(self) -> None:
        self._attempt = 0


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiConnectionError):
        return True
    return isinstance(exc, ApiError) and exc.status in TRANSIENT_STATUS


def retrying(call: Callable[[], T], *, deadline: float, what: str, stop: threading.Event | None = None,
             backoff: Backoff | None = None, unreachable_for: float | None = None) -> T:
    """`call()`, retried on transient errors until `deadline` (time.monotonic); then (or for a final
    error, or when stopped) the error is raised. `unreachable_for`: an API server that could not be reached
    at all (a wrong address, nothing listening) is given only this long, so a bad kubeconfig fails fast;
    one that answers, even with 5xx, is given until `deadline`."""
    backoff = backoff or Backoff(initial=0.25, maximum=5.0)
    waiter = stop or threading.Event()
    started = time.monotonic()
    answered = False
    failures = 0
    while True:
        try:
            result = call()
        except KubeError as exc:
            if not is_transient(exc):
                raise
            answered = answered or isinstance(exc, ApiError)
            delay = backoff.next()
            if isinstance(exc, ApiError) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            failures += 1
            give_up = deadline
            if not answered and unreachable_for is not None:
                give_up = min(deadline, started + unreachable_for)
            if time.monotonic() + delay > give_up or waiter.is_set():
                raise
            log.log(logging.WARNING if failures == 1 else logging.DEBUG, "%s: %s; retrying", what, exc)
            if waiter.wait(delay):
                raise
            continue
        if failures:
            log.info("%s: succeeded after %d transient error(s)", what, failures)
        return result
