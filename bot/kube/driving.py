"""One step at a time: feed a tracker the namespace's current view, for callers that own the schedule.

`helmbot watch` loops over `step()` on its own thread (bot.kube.runner); the bot's scheduler calls it on
ticks and whenever the informers changed (`on_change`), with many drivers sharing the informers of a
namespace. A step observes once every kind has been listed (the view names the kinds watched, stale ones
included, so the tracker knows what is watched even when a kind is left out for now), fetches the logs the
tracker asks for, announces kinds that cannot be watched once, and says so when the picture has been stale
for a while. While no picture can be built at all
(the API keeps failing), the tracker's own timeout still runs (`ReleaseTracker.observe_nothing`). API
trouble that cannot be ridden out (401; an essential kind forbidden; an undecodable release record)
raises KubeError.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.events import EventType, TrackEvent
from bot.core.tracking import ReleaseTracker
from bot.kube.cluster_view import NamespaceInformers, assemble_view
from bot.kube.informer import InformerRegistry
from bot.kube.logs import LogFetcher
from bot.kube.releases import ReleaseReader
from bot.text import clip, join_lines

log = logging.getLogger("helmbot.kube")  # state changes and swallowed errors; never object contents


@dataclass(frozen=True)
class DriverSettings:
    log_interval: float = 5.0  # at most one log fetch per container per interval
    sync_timeout: float = 30.0  # a kind's first list must complete within this (else: abort or drop it)
    fatal_grace: float = 30.0  # a 401/403 persisting this long once listed aborts (or drops the kind)
    stale_warning_after: float = 2.0  # say so when the picture has been stale this long
    log_retry: float = 0.5  # a failed log fetch is retried after this, doubling up to log_interval


class KubeTrackerDriver:
    def __init__(
        self,
        registry: InformerRegistry,
        tracker: ReleaseTracker,
        *,
        namespace: str,
        release: str,
        revision: int,
        on_change: Callable[[], None] | None = None,
        settings: DriverSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self.settings = settings or DriverSettings()
        self.monotonic = monotonic
        self.informers = NamespaceInformers(registry, namespace)
        self.reader = ReleaseReader(release, revision)
        self.logs = LogFetcher(
            registry.client,
            namespace,
            min_interval=self.settings.log_interval,
            retry_initial=self.settings.log_retry,
        )
        self.on_change = on_change
        if on_change is not None:
            self.informers.add_listener(on_change)
        self.stale_since: float | None = None
        self.stale_reported = False
        self.versions: object = None  # what the last observed view was made of
        self.observed = False  # the last step showed the tracker something (a view, or its timeout)
        self.seen_once = False
        self._quick: tuple[object, ...] | None = None

    @property
    def namespace(self) -> str:
        return self.informers.namespace

    def close(self) -> None:
        self.informers.close()

    def next_log_retry(self, default: float) -> float:
        return self.logs.next_retry_in(default)

    def step(self, now: datetime, *, only_if_changed: bool = False) -> list[TrackEvent]:
        """Observe the current picture if it can be trusted; return the new events (adapter warnings
        first). `only_if_changed`: skip observing a picture made of exactly what the last one was."""
        out: list[TrackEvent] = []
        self.observed = False
        self.informers.check(fatal_grace=self.settings.fatal_grace, sync_timeout=self.settings.sync_timeout)
        # Bring the tails the tracker follows up to date with the pod statuses about to be shown: when a
        # container just terminated, its last lines belong in the same view as its exit code.
        self.fetch_logs()
        quick = self._quick_key()
        if only_if_changed and quick == self._quick and self.seen_once:
            return out + self._unwatchable(now)   # nothing in the namespace moved: nothing to look at
        self._quick = quick
        state = assemble_view(self.informers, self.reader, self.logs.logs(), self.logs.errors())
        out += self._unwatchable(now)
        if state is None:
            timed_out = self.tracker.observe_nothing(now, self.informers.unavailable())
            self.observed = bool(timed_out)
            return out + timed_out
        if state.complete:
            if self.stale_reported:
                log.info("watch of %s recovered", self.namespace)
            self.stale_since, self.stale_reported = None, False
        else:
            out += self._stale(state.stale, now)
        versions = (
            state.versions,
            tuple(sorted((k, len(v)) for k, v in state.view.logs.items())),
            tuple(sorted(state.view.log_errors.items())),
        )
        if only_if_changed and versions == self.versions:
            return out
        self.versions = versions
        out += self.tracker.observe(state.view, now)
        self.observed = self.seen_once = True
        if self.tracker.done:
            verdict = self.tracker.verdict
            log.info("%s revision %s in %s: %s", self.reader.name, self.reader.revision, self.namespace,
                     verdict.outcome if verdict else "done")
        elif self.fetch_logs() and self.on_change is not None:
            self.on_change()  # new lines: let the tracker see them right away
        return out

    def _quick_key(self) -> tuple[object, ...]:
        """What the next view would be made of, without building it: every informer's change counter and
        the logs' state. Equal keys make equal views."""
        versions = tuple(informer.status().version for informer in self.informers.all())
        return (versions, tuple(sorted((k, len(v)) for k, v in self.logs.logs().items())),
                tuple(sorted(self.logs.errors().items())))

    def fetch_logs(self) -> bool:
        """Fetch the due tails of what the tracker asks for; True when any lines (or errors) changed."""
        requests = self.tracker.log_requests()
        before = (self.logs.logs(), self.logs.errors())
        pods_informer = self.informers.by_kind.get("Pod")
        pods = pods_informer.snapshot().items if pods_informer is not None and requests else ()
        wanted = {r.pod for r in requests}
        versions = {
            name: str(md.get("resourceVersion"))
            for p in pods
            if (name := (md := p.get("metadata") or {}).get("name")) in wanted
        }
        self.logs.fetch(requests, pod_versions=versions)
        return (self.logs.logs(), self.logs.errors()) != before

    def _warning(
        self, now: datetime, message: str, data: dict[str, object], subject: str | None = None
    ) -> TrackEvent:
        return TrackEvent(
            type=EventType.WARNING,
            at=now,
            release=self.reader.name,
            namespace=self.namespace,
            revision=self.reader.revision,
            message=message,
            subject=subject,
            data={"source": "adapter", **data},
        )

    def _unwatchable(self, now: datetime) -> list[TrackEvent]:
        return [
            self._warning(
                now,
                note.message,
                {
                    "kind": note.kind,
                    "resource": note.what,
                    "reason": note.reason,
                    "detail": note.detail,
                    "judged": not note.in_plan,
                    "unwatched": True,
                },
            )
            for note in self.informers.take_unwatchable()
        ]

    def _stale(self, stale: tuple[str, ...], now: datetime) -> list[TrackEvent]:
        mono = self.monotonic()
        if self.stale_since is None:
            self.stale_since = mono
        if self.stale_reported or mono - self.stale_since < self.settings.stale_warning_after:
            return []
        self.stale_reported = True
        log.warning("watch of %s interrupted: %s", self.namespace, "; ".join(stale))
        return [
            self._warning(
                now,
                f"Kubernetes API watch interrupted ({shorten('; '.join(stale), 300)}); judging nothing from "
                "those kinds until it recovers",
                {"stale": list(stale)},
            )
        ]


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a separator (never mid-word), with "…" when cut."""
    return clip(join_lines(text), limit, breaks=("; ", ", ", " "), keep=limit // 3)
