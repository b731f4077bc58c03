"""Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it.

Only the leader tracks releases and posts to Slack; every replica serves Slack requests. The Lease is
updated with optimistic concurrency (its resourceVersion), so two replicas can never both believe they
renewed it. A leader that cannot renew within `renew_deadline` steps down *before* the lease can expire for
the others (renew_deadline < lease_duration), so there is never a moment with two leaders posting. Times in
the Lease are the holder's own clock; like client-go, a candidate measures expiry on its own monotonic clock
from when it last saw the record change, so clock skew between nodes does not matter.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.kube.client import KubeClient
from bot.kube.errors import Conflict, KubeError, NotFound

log = logging.getLogger("helmbot.kube")


@dataclass(frozen=True)
class ElectionSettings:
    namespace: str = "default"
    lease_name: str = "helmbot-leader"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


def default_identity() -> str:
    """$POD_NAME in a pod (the chart sets it from the downward API), else host name and process id."""
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


def _micro_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        settings: ElectionSettings,
        *,
        identity: str | None = None,
        on_started: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not settings.retry_period < settings.renew_deadline < settings.lease_duration:
            raise ValueError("leader election needs retry_period < renew_deadline < lease_duration")
        self.client = client
        self.settings = settings
        self.identity = identity or default_identity()
        self.on_started = on_started
        self.on_stopped = on_stopped
        self.monotonic = monotonic
        self.clock = clock
        self._leading = False
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        self._renewed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    @property
    def is_leader(self) -> bool:
        return self._leading

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="helmbot-leader", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop campaigning; a leader steps down and (with `release`) hands the Lease over at once by
        clearing its holder, so a successor need not wait out the lease duration."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.settings.retry_period + 5)
        if self._leading:
            self._step_down()
            if release:
                try:
                    self._release()
                except KubeError as exc:
                    log.warning("could not release the leader lease: %s", exc)

    # -- the loop -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                acquired = self.try_acquire_or_renew()
                self.last_error = None
            except KubeError as exc:
                acquired = False
                self.last_error = str(exc)
                log.warning("leader election: %s", exc)
            now = self.monotonic()
            if acquired:
                self._renewed_at = now
                if not self._leading:
                    self._leading = True
                    log.info("became the leader (%s)", self.identity)
                    self._callback(self.on_started)
            elif self._leading and now - self._renewed_at >= self.settings.renew_deadline:
                self._step_down()
            self._stop.wait(self.settings.retry_period)

    def _step_down(self) -> None:
        if self._leading:
            self._leading = False
            log.warning("no longer the leader (%s)", self.identity)
            self._callback(self.on_stopped)

    @staticmethod
    def _callback(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("leader election callback failed")

    def try_acquire_or_renew(self) -> bool:
        s = self.settings
        now = self.clock()
        try:
            lease = self.client.get("Lease", s.namespace, s.lease_name)
        except NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": s.lease_name, "namespace": s.namespace},
                "spec": self._spec(now, acquire_time=now, transitions=0),
            }
            try:
                self.client.create("Lease", s.namespace, body)
            except Conflict:
                return False
            return True
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        record = (holder, str(spec.get("renewTime") or ""))
        mono = self.monotonic()
        if record != self._observed:
            self._observed, self._observed_at = record, mono
        duration = float(spec.get("leaseDurationSeconds") or s.lease_duration)
        if holder and holder != self.identity and mono - self._observed_at < duration:
            return False  # someone else holds a lease that has not expired (by our own clock)
        transitions = int(spec.get("leaseTransitions") or 0)
        acquire_time = spec.get("acquireTime") if holder == self.identity else None
        if holder != self.identity:
            transitions += 1
        lease["spec"] = self._spec(now, acquire_time=acquire_time or now, transitions=transitions)
        try:
            self.client.replace("Lease", s.namespace, lease)
        except Conflict:
            return False
        self._observed, self._observed_at = (self.identity, lease["spec"]["renewTime"]), mono
        return True

    def _spec(self, now: datetime, *, acquire_time: datetime | str, transitions: int) -> dict[str, object]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.settings.lease_duration),
            "acquireTime": acquire_time if isinstance(acquire_time, str) else _micro_time(acquire_time),
            "renewTime": _micro_time(now),
            "leaseTransitions": transitions,
        }

    def _release(self) -> None:
        s = self.settings
        lease = self.client.get("Lease", s.namespace, s.lease_name)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return
        spec["holderIdentity"] = ""
        spec["leaseDurationSeconds"] = 1
        lease["spec"] = spec
        self.client.replace("Lease", s.namespace, lease)
