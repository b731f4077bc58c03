"""Follows every active deploy in the background: one tracker each, driven on ticks, persisted every step.

Why it is shaped this way:
- a tick is short and never waits on Slack: the events it yields become outbox messages stored in the same
  transaction as the tracker's new state, and a delivery worker sends them later. A crash (kill -9) between
  two ticks therefore loses nothing and repeats nothing: the restarted bot resumes from the stored state, and
  either a step's messages were stored with it or the step is done again;
- the parent message is not an outbox entry per change: the record's `parent_version` goes up and the
  delivery worker renders the newest picture (coalescing for free, the latest content wins);
- ticks come from a scheduler (at most one at a time per deploy) and sooner when the deploy's informers
  changed, so a failure is judged within moments of becoming visible without polling faster.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bot.app.ports import Clock, ClusterPort, MessageSink, TickScheduler, TrackerDriver
from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.status import DEFAULT_POLICY, Policy
from bot.core.summary import TrackSummary
from bot.core.tracking import ReleaseTracker
from bot.errors import HelmbotError, describe_error
from bot.store import Store
from bot.store.records import DeployRecord

log = logging.getLogger("helmbot.app")

LAST_EVENTS = 50  # events kept on the record for /helmbot status and restarts
FULL_LOOK = timedelta(seconds=5)  # the time rules need a look at least this often


@dataclass(frozen=True)
class TrackSettings:
    poll_interval: timedelta = timedelta(seconds=2)
    track_timeout: timedelta = timedelta(minutes=30)
    helm_timeout: timedelta = timedelta(minutes=5)
    policy: Policy = DEFAULT_POLICY


@dataclass
class _Track:
    record: DeployRecord
    tracker: ReleaseTracker
    driver: TrackerDriver
    lock: Any = field(default_factory=threading.RLock)  # re-entrant: a tick may stop its own track
    looked_at: float = -1e9
    errors: int = 0


def _picture(summary: TrackSummary) -> TrackSummary:
    return replace(summary, updated_at=None)


STATUS_OF = {Outcome.SUCCEEDED: "succeeded", Outcome.FAILED: "failed", Outcome.TIMED_OUT: "timed_out"}


class TrackingService:
    def __init__(
        self,
        *,
        store: Store,
        clusters: Mapping[str, ClusterPort],
        sink: MessageSink,
        scheduler: TickScheduler,
        clock: Clock,
        settings_for: Callable[[DeployRecord], TrackSettings],
        on_verdict: Callable[[DeployRecord], None] = lambda record: None,
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.sink = sink
        self.scheduler = scheduler
        self.clock = clock
        self.settings_for = settings_for
        self.on_verdict = on_verdict
        self._tracks: dict[str, _Track] = {}
        self._lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------------------

    def following(self) -> list[str]:
        with self._lock:
            return list(self._tracks)

    def following_by_cluster(self) -> dict[str, int]:
        """How many deploys are followed per cluster (a metric label: bounded by the configuration)."""
        counts: dict[str, int] = {}
        with self._lock:
            for track in self._tracks.values():
                counts[track.record.cluster] = counts.get(track.record.cluster, 0) + 1
        return counts

    def resume(self, cluster: str | None = None) -> int:
        """Follow every active deploy the store knows of (of one cluster), at start, on becoming its
        leader, and periodically to pick up deploys started by other replicas. Returns how many were newly
        followed."""
        started = 0
        followed = set(self.following())
        for deploy_id, revision in self.store.active_deploy_refs(cluster):
            if revision is None or deploy_id in followed:
                continue
            record = self.store.get_deploy(deploy_id)
            if record is not None and record.active and self.follow(record):
                started += 1
        return started

    def follow(self, record: DeployRecord) -> bool:
        """Start following a deploy whose revision is known; idempotent. False if already followed or its
        cluster is unknown."""
        if record.revision is None:
            raise ValueError(f"deploy {record.id} has no revision yet")
        with self._lock:
            if record.id in self._tracks:
                return False
        cluster = self.clusters.get(record.cluster)
        if cluster is None:
            log.error("deploy %s names unknown cluster %r; not followed", record.id, record.cluster)
            return False
        settings = self.settings_for(record)
        tracker = self._tracker(record, settings)
        key = self._key(record.id)
        driver = cluster.drive(
            tracker,
            namespace=record.namespace,
            release=record.release,
            revision=record.revision,
            on_change=lambda: self.scheduler.wake(key),
        )
        with self._lock:
            if record.id in self._tracks:  # another thread won the race
                driver.close()
                return False
            self._tracks[record.id] = _Track(record, tracker, driver)
        log.info(
            "following %s revision %s (deploy %s, %s)",
            record.release,
            record.revision,
            record.id,
            "resumed" if record.tracker_state else "new",
        )
        self.scheduler.every(key, settings.poll_interval, lambda: self.tick(record.id))
        return True

    def _tracker(self, record: DeployRecord, settings: TrackSettings) -> ReleaseTracker:
        if record.tracker_state:
            try:
                return ReleaseTracker.from_state(record.tracker_state)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning(
                    "deploy %s: stored tracker state unreadable (%s); starting afresh",
                    record.id,
                    type(exc).__name__,
                )
        assert record.revision is not None
        return ReleaseTracker(
            namespace=record.namespace,
            release_name=record.release,
            revision=record.revision,
            started_at=record.created_at,
            timeout=settings.track_timeout,
            helm_timeout=settings.helm_timeout,
            policy=settings.policy,
        )

    def stop(self, deploy_id: str) -> None:
        with self._lock:
            track = self._tracks.pop(deploy_id, None)
        self.scheduler.cancel(self._key(deploy_id))
        if track is not None:
            with track.lock:
                track.driver.close()

    def stop_cluster(self, cluster: str) -> None:
        """Another replica leads this cluster now: its deploys are no longer followed here."""
        with self._lock:
            ids = [deploy_id for deploy_id, track in self._tracks.items() if track.record.cluster == cluster]
        for deploy_id in ids:
            self.stop(deploy_id)

    def stop_all(self) -> None:
        """Clean shutdown: no new ticks, and every tracker's latest state is already stored (each tick
        stores it), so only the drivers need closing."""
        for deploy_id in self.following():
            self.stop(deploy_id)

    # -- the tick -----------------------------------------------------------------------------------------

    def tick(self, deploy_id: str) -> None:
        with self._lock:
            track = self._tracks.get(deploy_id)
        if track is None:
            return
        with track.lock:
            try:
                self._step(track)
            except HelmbotError as exc:
                # API trouble the driver could not ride out (401, an essential kind forbidden, an unreadable
                # release record): say it once in the thread, keep trying; the tracker's own timeout ends it.
                track.errors += 1
                if track.errors == 1:
                    log.warning("deploy %s: %s", deploy_id, describe_error(exc))
                    self._store_step(track, [self._error_event(track, exc)], changed=True)
            except Exception:
                log.exception("deploy %s: tracking step failed", deploy_id)

    def _step(self, track: _Track) -> None:
        before = _picture(track.tracker.summary())
        mono = time.monotonic()
        # A woken or periodic step looks only when something moved; the time rules (graces, timeouts,
        # the hook nearing helm's timeout) still get a look every FULL_LOOK.
        quick = mono - track.looked_at < FULL_LOOK.total_seconds()
        events = track.driver.step(self.clock(), only_if_changed=quick)
        if getattr(track.driver, "observed", True):
            track.looked_at = mono
        track.errors = 0
        # Only what people see counts as a change (not the time of the last look): a step that learned
        # nothing new costs no write and no Slack update.
        changed = bool(events) or _picture(track.tracker.summary()) != before
        if changed:
            self._store_step(track, events, changed=True)
        if track.tracker.done:
            self._finish(track)

    def _store_step(self, track: _Track, events: list[TrackEvent], *, changed: bool) -> None:
        summary = track.tracker.summary()
        record = track.record
        status = record.status if record.status in ("pending", "running") else "running"
        finished_at = None
        verdict = track.tracker.verdict
        if verdict is not None and verdict.outcome is not None:
            status = STATUS_OF[verdict.outcome]
            finished_at = verdict.at
        elif status == "pending":
            status = "running"
        messages = self.sink.thread_messages(record, summary, events) if events else []
        last = [*(record.last_events or []), *(e.to_dict() for e in events)][-LAST_EVENTS:]
        track.record = self.store.record_progress(
            record.id,
            tracker_state=track.tracker.to_state(),
            status=status,
            last_events=last,
            messages=messages,
            parent_changed=changed,
            finished_at=finished_at,
        )
        self.sink.wake()

    def _finish(self, track: _Track) -> None:
        record = track.record
        log.info("deploy %s: %s revision %s %s", record.id, record.release, record.revision, record.status)
        self.store.release_lock(record.cluster, record.namespace, record.release, deploy_id=record.id)
        self.stop(record.id)
        try:
            self.on_verdict(record)
        except Exception:
            log.exception("deploy %s: verdict hook failed", record.id)

    def _error_event(self, track: _Track, exc: BaseException) -> TrackEvent:
        record = track.record
        assert record.revision is not None
        return TrackEvent(
            type=EventType.WARNING,
            at=self.clock(),
            release=record.release,
            namespace=record.namespace,
            revision=record.revision,
            message=f"cannot follow the release right now: {describe_error(exc)}; retrying",
            data={"source": "adapter", "error": True},
        )

    @staticmethod
    def _key(deploy_id: str) -> str:
        return f"track:{deploy_id}"
