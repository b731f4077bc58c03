"""The loop that feeds a `ReleaseTracker` from shared informers and hands its output to sinks.

Sink-agnostic: `helmbot watch` passes renderers. The loop wakes on any informer change (or every `tick` for
the time-based rules) and takes one `KubeTrackerDriver.step()` each time (the same step the bot's scheduler
takes), handing the events and the summary on, until the verdict. The driver observes only complete
pictures, fetches the logs the tracker asks for, and announces kinds that cannot be watched; kinds whose
watch is broken are left out of the view (see cluster_view), so API trouble delays a verdict but never
fakes one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.events import TrackEvent
from bot.core.status import DEFAULT_POLICY, Policy
from bot.core.tracking import ReleaseTracker, TrackSummary
from bot.kube.driving import DriverSettings, KubeTrackerDriver, shorten
from bot.kube.informer import InformerRegistry

__all__ = ["RunnerSettings", "run_tracker", "shorten", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunnerSettings(DriverSettings):
    tick: float = 1.0             # re-observe at least this often, for the tracker's time rules
    debounce: float = 0.05        # coalesce bursts of watch events into one observe


def run_tracker(
    registry: InformerRegistry,
    *,
    namespace: str,
    release: str,
    revision: int,
    on_event: Callable[[TrackEvent], None],
    on_summary: Callable[[TrackSummary], None],
    stop: threading.Event,
    timeout: timedelta | None = None,
    helm_timeout: timedelta = timedelta(minutes=5),
    policy: Policy = DEFAULT_POLICY,
    started_at: datetime | None = None,
    tracker: ReleaseTracker | None = None,
    settings: RunnerSettings | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> TrackEvent | None:
    """Track until a verdict (returned) or `stop` (returns None). Raises KubeError for fatal API problems
    (unauthorized; forbidden for an essential kind; an undecodable release record: ReleaseUnreadable).
    Kinds that cannot be watched otherwise are announced once as WARNING events; transient API errors are
    waited out (within the tracker's timeout)."""
    settings = settings or RunnerSettings()
    if tracker is None:
        tracker = ReleaseTracker(namespace=namespace, release_name=release, revision=revision,
                                 started_at=started_at or clock(), timeout=timeout,
                                 helm_timeout=helm_timeout, policy=policy)
    wake = threading.Event()
    driver = KubeTrackerDriver(registry, tracker, namespace=namespace, release=release, revision=revision,
                               on_change=wake.set, settings=settings)
    try:
        last_observe = float("-inf")
        while not stop.is_set():
            wake.clear()
            due = time.monotonic() - last_observe >= settings.tick
            for event in driver.step(clock(), only_if_changed=not due):
                on_event(event)
            if driver.observed:
                last_observe = time.monotonic()
                on_summary(tracker.summary())
            if tracker.done:
                return tracker.verdict
            if wake.wait(driver.next_log_retry(settings.tick)) and settings.debounce:
                stop.wait(settings.debounce)
        return tracker.verdict if tracker.done else None
    finally:
        driver.close()
