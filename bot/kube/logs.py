"""Container logs on demand: only what the tracker asks for, tail-limited, and at most once per interval
per container, so a crash-looping pod does not turn into a request storm.

A failed fetch (a 503, a dropped connection) is retried on a short back-off (0.5 s doubling up to the
interval) rather than after the full interval, because the failure verdict waits for exactly that log; until
it succeeds, `errors()` says why, so the verdict can say "logs unavailable: ..." instead of an empty tail."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.kube.client import KubeClient
from bot.kube.errors import KubeError
from bot.text import clip, join_lines

log = logging.getLogger("helmbot.kube")  # state changes and swallowed errors; never object contents


class LogRequestLike(Protocol):
    """What `ReleaseTracker.log_requests()` yields (bot.core.tracking.LogRequest)."""

    @property
    def pod(self) -> str: ...
    @property
    def container(self) -> str: ...
    @property
    def previous(self) -> bool: ...
    @property
    def tail_lines(self) -> int: ...


@dataclass
class _Entry:
    lines: tuple[str, ...] = ()
    fetched_at: float | None = None
    tail: int | None = None            # the tail asked for last time
    pod_version: str | None = None     # the pod's resourceVersion at the last fetch
    unavailable: str | None = None     # why the last fetch failed (pod gone, container not started, ...)
    retry_at: float | None = None      # after a failure: when to try again
    failures: int = 0                  # consecutive failed fetches (the back-off's exponent)


class LogFetcher:
    """Fetches and caches log tails for one namespace; lines outlive their pod (a deleted hook keeps its
    log)."""

    def __init__(self, client: KubeClient, namespace: str, *, min_interval: float = 5.0,
                 retry_initial: float = 0.5, max_entries: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.namespace = namespace
        self.min_interval = min_interval
        self.retry_initial = retry_initial
        self.max_entries = max_entries
        self.clock = clock
        self.fetches = 0
        self._cache: OrderedDict[tuple[str, str, bool], _Entry] = OrderedDict()
        self._requested: set[tuple[str, str, bool]] = set()   # the last fetch()'s keys

    def fetch(self, requests: Iterable[LogRequestLike], *, pod_versions: Mapping[str, str] | None = None,
              force: bool = False) -> None:
        """Refresh the requested tails that are due; failures keep the last lines we had.

        Due: never fetched, the interval passed, a different tail is asked for (the tracker switches from
        streaming to a failure tail), or the pod changed since (a container just terminated, so its last
        lines are the diagnosis). Pod status changes are few, so this stays bounded.
        """
        now = self.clock()
        self._requested = set()
        for req in requests:
            key = (req.pod, req.container, bool(req.previous))
            self._requested.add(key)
            tail = max(1, int(req.tail_lines))
            pod_version = (pod_versions or {}).get(req.pod)
            entry = self._cache.get(key)
            if entry is None:
                entry = self._cache[key] = _Entry()
            self._cache.move_to_end(key)
            changed = entry.tail != tail or (pod_version is not None and pod_version != entry.pod_version)
            if entry.retry_at is not None:
                due = force or changed or now >= entry.retry_at
            else:
                due = (force or changed or entry.fetched_at is None
                       or now - entry.fetched_at >= self.min_interval)
            if not due:
                continue
            entry.fetched_at, entry.tail, entry.pod_version = now, tail, pod_version
            self.fetches += 1
            try:
                lines = self.client.read_log(self.namespace, req.pod, req.container,
                                             previous=bool(req.previous), tail_lines=tail)
            except KubeError as exc:
                # 404 pod gone, 400 container not started yet, 403 no pods/log permission, 5xx: logs are a
                # bonus, but the one a failure verdict waits for is worth a quick retry.
                entry.unavailable = clip(join_lines(exc), 200)
                log.log(logging.INFO if entry.failures == 0 else logging.DEBUG,
                        "log of %s/%s unavailable: %s", req.pod, req.container, entry.unavailable)
                entry.retry_at = now + min(self.min_interval, self.retry_initial * 2 ** entry.failures)
                entry.failures += 1
                continue
            entry.unavailable, entry.retry_at, entry.failures = None, None, 0
            if lines or not entry.lines:
                entry.lines = tuple(lines[-tail:])
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)

    def errors(self) -> Mapping[tuple[str, str], str]:
        """(pod, container) -> why its log could not be read, among those asked for last time; a container
        with any tail read fine (say, the previous run's while the current one has not started) has none."""
        failed: dict[tuple[str, str], str] = {}
        fine: set[tuple[str, str]] = set()
        for key in self._requested:
            entry = self._cache.get(key)
            if entry is None or entry.fetched_at is None:
                continue
            if entry.unavailable is None:
                fine.add(key[:2])
            else:
                failed.setdefault(key[:2], entry.unavailable)
        return {pc: reason for pc, reason in failed.items() if pc not in fine}

    def next_retry_in(self, default: float) -> float:
        """Seconds until the earliest failed fetch may be retried (at most `default`), so the caller's loop
        wakes up for it."""
        now = self.clock()
        waits = [entry.retry_at - now for key, entry in self._cache.items()
                 if entry.retry_at is not None and entry.retry_at > now and key in self._requested]
        return min([default, *waits])

    def logs(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """(pod, container) -> latest lines; a previous-container tail wins over an empty current one."""
        out: dict[tuple[str, str], tuple[str, ...]] = {}
        for (pod, container, previous), entry in self._cache.items():
            if not entry.lines:
                continue
            if previous or (pod, container) not in out:
                out[(pod, container)] = entry.lines
        return out
