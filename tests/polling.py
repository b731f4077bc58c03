"""Deadline polling for tests, never fixed sleeps: the first truthy result, or a failure naming it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(fn: Callable[[], T], *, timeout: float = 30, what: str = "condition", interval: float = 0.02) -> T:
    """fn()'s first truthy result, or AssertionError naming `what` once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
