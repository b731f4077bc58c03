"""A deterministic harness for driving the controllers with a fake clock (unit tests, examples)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.sim.controllers.clock import FakeClock
from bot.sim.controllers.options import SimOptions
from bot.sim.controllers.runtime import Controllers
from bot.sim.store import Store

T = TypeVar("T")


class Harness:
    """Store + controllers sharing one FakeClock; `run_until` steps time until a predicate holds."""

    def __init__(self, options: SimOptions | None = None, *, step: float = 0.1) -> None:
        self.clock = FakeClock()
        self.store = Store(
            clock=self.clock, pod_grace_seconds=30
        )  # pods are removed by the kubelet, not a timer
        self.controllers = Controllers(self.store, self.clock, options or SimOptions(seed=1))
        self.step = step

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.controllers.tick()
            self.clock.advance(self.step)

    def run_for(self, seconds: float) -> None:
        self.tick(max(1, round(seconds / self.step)))

    def run_until(self, predicate: Callable[[], T], *, seconds: float = 30.0, what: str = "condition") -> T:
        for _ in range(max(1, round(seconds / self.step))):
            self.controllers.tick()
            result = predicate()
            if result:
                return result
            self.clock.advance(self.step)
        raise AssertionError(f"{what} not reached within {seconds} simulated seconds")

    # ---- conveniences ------------------------------------------------------------------------------------

    def get(self, key: str, name: str, namespace: str = "default") -> dict:
        obj = self.store.get(key, namespace, name)
        assert obj is not None, f"{key} {name} not found"
        return obj

    def pods(self, namespace: str = "default", **labels: str) -> list[dict]:
        return self.store.list("/pods", namespace, labels=labels or None)

    def events(
        self, name: str | None = None, reason: str | None = None, namespace: str = "default"
    ) -> list[dict]:
        found = [
            e
            for e in self.store.list("/events", namespace)
            if (name is None or e["involvedObject"]["name"] == name)
            and (reason is None or e["reason"] == reason)
        ]
        return sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))  # creation order

    def reasons(self, name: str, namespace: str = "default") -> list[str]:
        return [e["reason"] for e in self.events(name, namespace=namespace)]
