"""Runs every controller in one thread: a tick every `tick` seconds, woken early by store changes."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from bot.sim.controllers.clock import Clock, RealClock
from bot.sim.controllers.daemonsets import DaemonSetController
from bot.sim.controllers.deployments import DeploymentController
from bot.sim.controllers.jobs import JobController
from bot.sim.controllers.kubelet import Kubelet
from bot.sim.controllers.options import SimOptions
from bot.sim.controllers.replicasets import ReplicaSetController
from bot.sim.controllers.statefulsets import StatefulSetController
from bot.sim.controllers.storage import EndpointsController, VolumeController
from bot.sim.controllers.ttl import TTLController
from bot.sim.store import Store

log = logging.getLogger(__name__)


class _Controller(Protocol):
    def tick(self) -> None: ...


class Controllers:
    """All controllers; `tick()` is one deterministic pass (unit tests call it with a FakeClock)."""

    def __init__(self, store: Store, clock: Clock | None = None, options: SimOptions | None = None) -> None:
        self.store, self.clock = store, clock or RealClock()
        self.options = options or SimOptions()
        args = (self.store, self.clock, self.options)
        self.kubelet = Kubelet(*args)
        self.jobs = JobController(*args)
        self.deployments = DeploymentController(*args)
        self.replicasets = ReplicaSetController(*args)
        self.statefulsets = StatefulSetController(*args)
        self.daemonsets = DaemonSetController(*args)
        self.all: list[_Controller] = [
            self.deployments,
            self.replicasets,
            self.statefulsets,
            self.daemonsets,
            self.jobs,
            TTLController(*args),
            VolumeController(*args),
            self.kubelet,
            EndpointsController(*args),
        ]
        self._errors: dict[int, str] = {}  # controller index -> last error logged

    def tick(self) -> None:
        """Every controller runs even if another one fails (objects are isolated inside each controller)."""
        for index, controller in enumerate(self.all):
            try:
                controller.tick()
            except (
                Exception
            ) as exc:  # e.g. a failing list: log once per distinct error, keep the others going
                error = f"{type(exc).__name__}: {exc}"
                if self._errors.get(index) != error:
                    log.warning("%s tick failed: %s", type(controller).__name__, error, exc_info=exc)
                    self._errors[index] = error
            else:
                self._errors.pop(index, None)


class ControllerHandle:
    def __init__(self, controllers: Controllers, tick: float) -> None:
        self.controllers = controllers
        self._tick = tick
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._listener = lambda etype, key, obj: None if key == "/events" else self._wake.set()
        controllers.store.add_listener(self._listener)
        self._thread = threading.Thread(target=self._run, name="sim-controllers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.controllers.tick()  # never raises: failures are isolated per controller and per object
            self._wake.wait(self._tick)
            self._stop.wait(min(self._tick, 0.02))  # coalesce bursts of store events

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        self.controllers.store.remove_listener(self._listener)
        self._thread.join(timeout=5)


def start_controllers(
    store: Store, clock: Clock | None = None, *, tick: float = 0.1, options: SimOptions | None = None
) -> ControllerHandle:
    return ControllerHandle(Controllers(store, clock, options), tick)
