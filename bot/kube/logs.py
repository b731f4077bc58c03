"""Container logs on demand: only what the tracker asks for, tail-limited, and at most once per interval
per container, so a crash-looping pod does not turn into a request storm."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.kube.client import KubeClient
from bot.kube.errors import ApiConnectionError, ApiError, KubeError


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


class LogFetcher:
    """Fetches and caches log tails for one namespace; lines outlive their pod (a deleted hook keeps its
    log)."""

    def __init__(self, client: KubeClient, namespace: str, *, min_interval: float = 5.0,
                 max_entries: int = 256, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.namespace = namespace
        self.min_interval = min_interval
        self.max_entries = max_entries
        self.clock = clock
        self.fetches = 0
        self._cache: OrderedDict[tuple[str, str, bool], _Entry] = OrderedDict()

    def fetch(self, requests: Iterable[LogRequestLike], *, pod_versions: Mapping[str, str] | None = None,
              force: bool = False) -> None:
        """Refresh the requested tails that are due; failures keep the last lines we had.

        Due: never fetched, the interval passed, a different tail is asked for (the tracker switches from
        streaming to a failure tail), or the pod changed since (a container just terminated, so its last
        lines are the diagnosis). Pod status changes are few, so this stays bounded.
        """
        now = self.clock()
        for req in requests:
            key = (req.pod, req.container, bool(req.previous))
            tail = max(1, int(req.tail_lines))
            pod_version = (pod_versions or {}).get(req.pod)
            entry = self._cache.get(key)
            if entry is None:
                entry = self._cache[key] = _Entry()
            self._cache.move_to_end(key)
            due = (force or entry.fetched_at is None or now - entry.fetched_at >= self.min_interval
                   or entry.tail != tail or (pod_version is not None and pod_version != entry.pod_version))
            if not due:
                continue
            entry.fetched_at, entry.tail, entry.pod_version = now, tail, pod_version
            self.fetches += 1
            try:
                lines = self.client.read_log(self.namespace, req.pod, req.container,
                                             previous=bool(req.previous), tail_lines=tail)
            except (ApiError, ApiConnectionError) as exc:
                # 404 pod gone, 400 container not started yet, 403 no pods/log permission: logs are a bonus.
                entry.unavailable = str(exc)
                continue
            except KubeError as exc:
                entry.unavailable = str(exc)
                continue
            entry.unavailable = None
            if lines or not entry.lines:
                entry.lines = tuple(lines[-tail:])
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)

    def logs(self) -> Mapping[tuple[str, str], tuple[str, ...]]:
        """(pod, container) -> latest lines; a previous-container tail wins over an empty current one."""
        out: dict[tuple[str, str], tuple[str, ...]] = {}
        for (pod, container, previous), entry in self._cache.items():
            if not entry.lines:
                continue
            if previous or (pod, container) not in out:
                out[(pod, container)] = entry.lines
        return out
