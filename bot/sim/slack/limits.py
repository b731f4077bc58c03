"""Injected faults and Slack's rate limits for the Web API side of the stand-in.

Faults are rules matched per method (or `*`): an HTTP status (429 with Retry-After, 5xx), an API error
(`ok: false` with HTTP 200), a connection reset, or a delay; `times` bounds how often a rule fires and
`every` makes a storm (every Nth matching call). Rate limits, when switched on, follow Slack's published
shape: chat.postMessage about one message per second per channel with a small burst, and the tiers per
method (Tier 2 20/min, Tier 3 50/min, Tier 4 100/min), chat.update counted per channel.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RESET = "reset"

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "apps.connections.open": 1,
    "usergroups.users.list": 2,
    "chat.update": 3,
    "chat.delete": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.info": 3,
    "conversations.join": 3,
    "chat.postEphemeral": 4,
    "users.info": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
PER_CHANNEL = {"chat.update"}  # counted per channel rather than per workspace


@dataclass
class FaultRule:
    """One injected fault. `status` is an HTTP status, or "reset" to cut the connection."""

    method: str = "*"
    status: int | str = 429
    times: int | None = 1  # None: until cleared
    retry_after: int = 1
    error: str | None = None
    every: int | None = None
    delay: float = 0.0
    seen: int = 0
    fired: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("method", "status", "times", "retry_after", "error", "every", "delay", "seen", "fired")
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        known = {"method", "status", "times", "retry_after", "error", "every", "delay"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if "status" not in data and (data.get("error") or data.get("delay")):
            data = {**data, "status": 200}
        rule = cls(**data)
        rule.check()
        return rule

    def check(self) -> None:
        if not (self.status == RESET or (isinstance(self.status, int) and 200 <= self.status <= 599)):
            raise ValueError(f"fault status must be an HTTP status or {RESET!r}, not {self.status!r}")
        if self.times is not None and self.times < 1:
            raise ValueError("fault times must be at least 1 (or None for until cleared)")
        if self.every is not None and self.every < 1:
            raise ValueError("fault every must be at least 1")
        if self.status == 200 and not self.error and not self.delay:
            raise ValueError("a status-200 fault needs an error or a delay")


@dataclass(frozen=True)
class Refusal:
    """What the server answers instead of running the method (status 0 with reset: cut the connection)."""

    status: int | str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        rule.check()
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def list(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.to_dict() for r in self.rules]

    def match(self, method: str) -> FaultRule | None:
        """The rule that fires for this call, if any (counted; spent rules are dropped)."""
        with self.lock:
            for rule in self.rules:
                if rule.method not in ("*", method):
                    continue
                rule.seen += 1
                if rule.every and rule.seen % rule.every:
                    continue
                rule.fired += 1
                if rule.times is not None and rule.fired >= rule.times:
                    self.rules.remove(rule)
                return rule
            return None


def refusal_for(rule: FaultRule) -> Refusal | None:
    """The answer a fired rule gives; None for a pure delay (the call then runs)."""
    if rule.status == RESET:
        return Refusal(RESET, {})
    if rule.status == 429:
        return ratelimited(rule.retry_after)
    if rule.status == 200:
        return Refusal(200, {"ok": False, "error": rule.error}) if rule.error else None
    assert isinstance(rule.status, int)
    return Refusal(rule.status, {"ok": False, "error": rule.error or _server_error(rule.status)})


def _server_error(status: int) -> str:
    return {
        500: "internal_error",
        502: "bad_gateway",
        503: "service_unavailable",
        504: "request_timeout",
    }.get(status, "fatal_error")


def ratelimited(retry_after: float) -> Refusal:
    seconds = max(0, math.ceil(retry_after))
    return Refusal(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(seconds)})


class RateLimiter:
    """Slack's limits, counted on the stand-in's clock; `check` returns a 429 refusal or None."""

    def __init__(self, clock: Callable[[], float], *, post_rate: float = 1.0, post_burst: int = 3) -> None:
        self.clock = clock
        self.post_rate, self.post_burst = post_rate, post_burst
        self.lock = threading.Lock()
        self.buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        self.windows: dict[tuple[str, str], collections.deque[float]] = {}

    def check(self, method: str, channel: str | None) -> Refusal | None:
        now = self.clock()
        with self.lock:
            if method == "chat.postMessage":
                return self._bucket(channel or "", now)
            tier = METHOD_TIERS.get(method)
            if tier is None:
                return None
            key = (method, channel or "" if method in PER_CHANNEL else "")
            return self._window(key, TIER_PER_MINUTE[tier], now)

    def _bucket(self, channel: str, now: float) -> Refusal | None:
        tokens, at = self.buckets.get(channel, (float(self.post_burst), now))
        tokens = min(float(self.post_burst), tokens + (now - at) * self.post_rate)
        if tokens < 1.0:
            self.buckets[channel] = (tokens, now)
            return ratelimited((1.0 - tokens) / self.post_rate)
        self.buckets[channel] = (tokens - 1.0, now)
        return None

    def _window(self, key: tuple[str, str], per_minute: int, now: float) -> Refusal | None:
        calls = self.windows.setdefault(key, collections.deque())
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        if len(calls) >= per_minute:
            return ratelimited(calls[0] + 60.0 - now)
        calls.append(now)
        return None
