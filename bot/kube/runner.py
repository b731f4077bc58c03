"""The loop that feeds a `ReleaseTracker` from shared informers and hands its output to sinks.

Sink-agnostic: `helmbot watch` passes renderers, the Slack app will pass message updaters. The loop wakes on
any informer change (or every `tick` for the time-based rules), observes only complete pictures, fetches the
logs the tracker asks for (throttled per container, failures retried soon), and returns the verdict. Kinds
whose watch is broken are left out of the view (see cluster_view), so API trouble delays a verdict but never
fakes one; kinds that cannot be watched at all are announced as WARNING events and left out for good.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.events import EventType, TrackEvent
from bot.core.status import DEFAULT_POLICY, Policy
from bot.core.tracking import ClusterView, ReleaseTracker, TrackSummary
from bot.kube.cluster_view import NamespaceInformers, assemble_view
from bot.kube.informer import InformerRegistry
from bot.kube.logs import LogFetcher
from bot.kube.releases import ReleaseReader
from bot.text import clip, join_lines

log = logging.getLogger("helmbot.kube")  # state changes and swallowed errors; never object contents


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunnerSettings:
    tick: float = 1.0             # re-observe at least this often, for the tracker's time rules
    debounce: float = 0.05        # coalesce bursts of watch events into one observe
    log_interval: float = 5.0     # at most one log fetch per container per interval
    sync_timeout: float = 30.0    # a kind's first list must complete within this (else: abort or drop it)
    fatal_grace: float = 30.0     # a 401/403 persisting this long once listed aborts (or drops the kind)
    stale_warning_after: float = 2.0   # say so when the picture has been stale this long
    log_retry: float = 0.5        # a failed log fetch is retried after this, doubling up to log_interval


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
    (unauthorized; forbidden or unreachable for an essential kind; an undecodable release Secret:
    ReleaseUnreadable). Kinds that cannot be watched otherwise are announced once as WARNING events."""
    settings = settings or RunnerSettings()
    informers = NamespaceInformers(registry, namespace)
    wake = threading.Event()
    informers.add_listener(wake.set)
    try:
        if tracker is None:
            tracker = ReleaseTracker(namespace=namespace, release_name=release, revision=revision,
                                     started_at=started_at or clock(), timeout=timeout,
                                     helm_timeout=helm_timeout, policy=policy)
        loop = _Loop(tracker, informers, ReleaseReader(release, revision),
                     LogFetcher(registry.client, namespace, min_interval=settings.log_interval,
                                retry_initial=settings.log_retry),
                     settings, clock, on_event, on_summary)
        return loop.run(wake, stop)
    finally:
        informers.close()


class _Loop:
    def __init__(self, tracker: ReleaseTracker, informers: NamespaceInformers, reader: ReleaseReader,
                 logs: LogFetcher, settings: RunnerSettings, clock: Callable[[], datetime],
                 on_event: Callable[[TrackEvent], None], on_summary: Callable[[TrackSummary], None]) -> None:
        self.tracker, self.informers, self.reader, self.logs = tracker, informers, reader, logs
        self.settings, self.clock = settings, clock
        self.on_event, self.on_summary = on_event, on_summary
        self.stale_since: float | None = None
        self.stale_reported = False

    def run(self, wake: threading.Event, stop: threading.Event) -> TrackEvent | None:
        last_key: tuple[object, ...] | None = None
        last_observe = 0.0
        seen_complete = False
        while not stop.is_set():
            wake.clear()
            self.informers.check(fatal_grace=self.settings.fatal_grace,
                                 sync_timeout=self.settings.sync_timeout)
            # Bring the tails the tracker follows up to date with the pod statuses about to be shown: when a
            # container just terminated, its last lines belong in the same view as its exit code.
            self._fetch_logs()
            state = assemble_view(self.informers, self.reader, self.logs.logs(), self.logs.errors())
            self._announce_unwatchable()
            now_mono = time.monotonic()
            # The first view must be complete: the tracker learns from it which kinds are watched at all.
            if state is not None and (seen_complete or state.complete):
                seen_complete = True
                key = (state.versions, tuple(sorted((k, len(v)) for k, v in state.view.logs.items())),
                       tuple(sorted(state.view.log_errors.items())))
                if key != last_key or now_mono - last_observe >= self.settings.tick:
                    last_key, last_observe = key, now_mono
                    self._observe(state.view, state.complete, state.stale)
                    if self.tracker.done:
                        verdict = self.tracker.verdict
                        log.info("%s revision %s in %s: %s", self.reader.name, self.reader.revision,
                                 self.informers.namespace, verdict.outcome if verdict else "done")
                        return verdict
                    if self._fetch_logs():
                        wake.set()  # new lines: let the tracker see them right away
            if wake.wait(self.logs.next_retry_in(self.settings.tick)) and self.settings.debounce:
                stop.wait(self.settings.debounce)
        return self.tracker.verdict if self.tracker.done else None

    def _observe(self, view: ClusterView, complete: bool, stale: tuple[str, ...]) -> None:
        now = self.clock()
        if complete:
            if self.stale_reported:
                log.info("watch of %s recovered", self.informers.namespace)
            self.stale_since, self.stale_reported = None, False
        else:
            self._report_stale(stale, now)
        for event in self.tracker.observe(view, now):
            self.on_event(event)
        self.on_summary(self.tracker.summary())

    def _warning(self, message: str, data: dict[str, object], subject: str | None = None) -> None:
        self.on_event(TrackEvent(
            type=EventType.WARNING, at=self.clock(), release=self.reader.name,
            namespace=self.informers.namespace, revision=self.reader.revision, message=message,
            subject=subject, data={"source": "adapter", **data},
        ))

    def _announce_unwatchable(self) -> None:
        for note in self.informers.take_unwatchable():
            self._warning(note.message, {"kind": note.kind, "resource": note.what, "reason": note.reason,
                                         "detail": note.detail, "judged": not note.in_plan,
                                         "unwatched": True})

    def _report_stale(self, stale: tuple[str, ...], now: datetime) -> None:
        mono = time.monotonic()
        if self.stale_since is None:
            self.stale_since = mono
        if self.stale_reported or mono - self.stale_since < self.settings.stale_warning_after:
            return
        self.stale_reported = True
        log.warning("watch of %s interrupted: %s", self.informers.namespace, "; ".join(stale))
        self._warning(f"Kubernetes API watch interrupted ({shorten('; '.join(stale), 300)}); "
                      "judging nothing from those kinds until it recovers", {"stale": list(stale)})

    def _fetch_logs(self) -> bool:
        """Fetch the due tails of what the tracker asks for; True when any lines (or errors) changed."""
        requests = self.tracker.log_requests()
        before = (self.logs.logs(), self.logs.errors())
        pods_informer = self.informers.by_kind.get("Pod")
        pods = pods_informer.snapshot().items if pods_informer is not None and requests else ()
        wanted = {r.pod for r in requests}
        versions = {name: str(md.get("resourceVersion")) for p in pods
                    if (name := (md := p.get("metadata") or {}).get("name")) in wanted}
        self.logs.fetch(requests, pod_versions=versions)
        return (self.logs.logs(), self.logs.errors()) != before


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a separator (never mid-word), with "…" when cut."""
    return clip(join_lines(text), limit, breaks=("; ", ", ", " "), keep=limit // 3)
