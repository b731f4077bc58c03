"""Shared list+watch caches: one per (namespace, kind, label selector), reference counted.

Each informer lists once, then watches from the list's resourceVersion, resuming from the last seen
resourceVersion (bookmarks included) when a watch ends, relisting on 410 Gone, and backing off with jitter on
429 (honouring Retry-After), 5xx and connection errors. Its cache is replaced atomically on relist, so a
reader sees either the last good picture or the new complete one, never a half-filled list; `fresh` tells
the reader whether the picture may be missing recent changes.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.kube.client import RESOURCES, KindOrType, KubeClient, ResourceType, WatchStream
from bot.kube.discovery import Discovery
from bot.kube.errors import (
    ApiConnectionError,
    ApiError,
    Forbidden,
    Gone,
    KubeError,
    NotFound,
    Unauthorized,
    error_from_status,
)
from bot.kube.retry import Backoff

FATAL_ERRORS = (Unauthorized, Forbidden, NotFound)
log = logging.getLogger("helmbot.kube")  # state changes and swallowed errors; never object contents


@dataclass(frozen=True)
class InformerKey:
    namespace: str | None
    kind: str
    label_selector: str | None = None
    resource: ResourceType | None = None   # set for kinds resolved through discovery

    @property
    def target(self) -> KindOrType:
        return self.resource or self.kind

    def __str__(self) -> str:
        sel = f"[{self.label_selector}]" if self.label_selector else ""
        name = self.resource.display if self.resource else self.kind
        return f"{name}{sel}@{self.namespace or '*'}"


@dataclass(frozen=True)
class Snapshot:
    key: InformerKey
    items: tuple[dict[str, Any], ...]
    resource_version: str | None
    synced: bool                  # a complete list has been loaded at least once
    fresh: bool                   # watching with no known gap since the last complete list
    error: KubeError | None = None
    version: int = 0              # bumps on every change, for cheap "anything new?" checks


@dataclass
class InformerStats:
    lists: int = 0
    watches: int = 0
    relists_410: int = 0
    errors: int = 0
    events: int = 0
    last_error: str | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)


class Informer:
    """One cache kept in sync by a background thread. Objects are stored as received and never mutated."""

    def __init__(self, client: KubeClient, key: InformerKey, *, watch_timeout: int = 300,
                 backoff: Backoff | None = None, sleep: Callable[[float], bool] | None = None) -> None:
        self.client = client
        self.key = key
        self.watch_timeout = watch_timeout
        self.backoff = backoff or Backoff()
        self.stats = InformerStats()
        self._items: dict[str, dict[str, Any]] = {}
        self._rv: str | None = None
        self._synced = False
        self._fresh = False
        self._error: KubeError | None = None
        self._version = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._kick = threading.Event()  # cut a back-off short (the API server is known to answer again)
        self._synced_event = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._stream: WatchStream | None = None
        self._thread: threading.Thread | None = None
        self._sleep = sleep or self._pause

    # -- public -----------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"informer {self.key}", daemon=True)
            self._thread.start()

    def stop(self, join_timeout: float = 5.0) -> None:
        self._stop.set()
        self._kick.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(join_timeout)

    def retry_now(self) -> None:
        """End a back-off wait at once (after an outage the wait may have grown to its maximum)."""
        self._kick.set()

    def _pause(self, delay: float) -> bool:
        """Back off for `delay` unless kicked; True when stopped."""
        self._kick.wait(delay)
        self._kick.clear()
        return self._stop.is_set()

    def add_listener(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self.key, tuple(self._items.values()), self._rv, self._synced, self._fresh,
                            self._error, self._version)

    def status(self) -> Snapshot:
        """The snapshot's flags and version without its items: cheap enough to ask on every tick."""
        with self._lock:
            return Snapshot(self.key, (), self._rv, self._synced, self._fresh, self._error, self._version)

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced_event.wait(timeout)

    @property
    def error(self) -> KubeError | None:
        with self._lock:
            return self._error

    # -- the loop ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                started = time.monotonic()
                events = self._watch_once()
                if events == 0 and time.monotonic() - started < 1.0:
                    # A server that closes watches at once must not make us spin: pace the reconnects.
                    if self._sleep(self.backoff.next()):
                        break
                else:
                    self.backoff.reset()
            except Gone:
                # Our resourceVersion is compacted away: the cache may have missed changes. Keep serving the
                # last complete picture (marked stale) and relist at once.
                log.info("informer %s: resourceVersion expired (410), relisting", self.key)
                self.stats.relists_410 += 1
                self._set_state(fresh=False)
                need_list = True
            except KubeError as exc:
                if self._stop.is_set():
                    break
                self._record_error(exc)
                delay = self.backoff.next()
                if isinstance(exc, ApiError) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                if self._sleep(delay):
                    break
            except Exception as exc:  # a bug here must not kill the cache silently
                # Named by type and place only: its text may quote a cached object (the Helm Secrets).
                log.error("informer %s: unexpected %s%s (a helmbot bug); retrying", self.key,
                          type(exc).__name__, _origin(exc))
                self._record_error(KubeError(f"{type(exc).__name__}: {exc}"), logged=True)
                if self._sleep(self.backoff.next()):
                    break
        self._set_state(fresh=False)

    def _list(self) -> None:
        self.stats.lists += 1
        data = self.client.list(self.key.target, self.key.namespace, label_selector=self.key.label_selector)
        items = {_key(obj): obj for obj in data.get("items") or []}
        rv = (data.get("metadata") or {}).get("resourceVersion")
        log.debug("informer %s: listed %d objects at resourceVersion %s", self.key, len(items), rv)
        with self._lock:
            recovered = self._error is not None
            self._items = items
            self._rv = rv
            self._synced = True
            self._fresh = True
            self._error = None
            self._version += 1
        if recovered:
            log.info("informer %s: listed again after an error", self.key)
        self._synced_event.set()
        self._notify()

    def _watch_once(self) -> int:
        """One watch until the server ends it; returns how many events it carried."""
        self.stats.watches += 1
        count = 0
        # Jitter the server-side timeout so many informers do not reconnect in lockstep.
        timeout = max(1, int(self.watch_timeout * random.uniform(0.8, 1.0)))
        stream = self.client.watch(self.key.target, self.key.namespace, resource_version=self._rv,
                                   label_selector=self.key.label_selector, timeout_seconds=timeout)
        self._stream = stream
        try:
            if self._stop.is_set():
                return count
            self._set_state(fresh=True, clear_error=True)
            for event in stream:
                count += 1
                self._apply(event)
                if self._stop.is_set():
                    break
            return count
        finally:
            self._stream = None
            stream.close()

    def _apply(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        obj = event.get("object") or {}
        if etype == "ERROR":
            code = int(obj.get("code") or 500)
            raise error_from_status(code, obj)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if etype == "BOOKMARK":
            with self._lock:
                self._rv = rv or self._rv
            return
        if etype not in ("ADDED", "MODIFIED", "DELETED"):
            raise ApiConnectionError(f"unexpected watch event type {etype!r}")
        self.stats.events += 1
        with self._lock:
            if etype == "DELETED":
                self._items.pop(_key(obj), None)
            else:
                self._items[_key(obj)] = obj
            self._rv = rv or self._rv
            self._version += 1
        self._notify()

    def _set_state(self, *, fresh: bool, clear_error: bool = False) -> None:
        with self._lock:
            changed = self._fresh != fresh or (clear_error and self._error is not None)
            self._fresh = fresh
            if clear_error:
                self._error = None
            if changed:
                self._version += 1
        if changed:
            self._notify()

    def _record_error(self, exc: KubeError, *, logged: bool = False) -> None:
        if not logged:
            # The first failure of a streak is worth a warning; its repeats (while backing off) are not.
            level = logging.WARNING if self._error is None else logging.DEBUG
            log.log(level, "informer %s: %s: %s", self.key, type(exc).__name__, exc)
        self.stats.errors += 1
        self.stats.last_error = str(exc)
        name = type(exc).__name__
        self.stats.error_kinds[name] = self.stats.error_kinds.get(name, 0) + 1
        with self._lock:
            self._error = exc
            self._fresh = False
            self._version += 1
        self._notify()

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            fn()


def _origin(exc: BaseException) -> str:
    """" at informer.py:123": where an unexpected error was raised, without its message."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""


def _key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


class InformerRegistry:
    """Hands out shared informers; the last `release()` of a key stops its informer."""

    def __init__(self, client: KubeClient, *, watch_timeout: int = 300,
                 backoff_factory: Callable[[], Backoff] = Backoff) -> None:
        self.client = client
        self.watch_timeout = watch_timeout
        self.backoff_factory = backoff_factory
        self._lock = threading.Lock()
        self._informers: dict[InformerKey, Informer] = {}
        self._refs: dict[InformerKey, int] = {}
        self.discovery = Discovery(client)   # shared: one discovery request per group/version

    def acquire(self, namespace: str | None, kind: str, label_selector: str | None = None, *,
                resource: ResourceType | None = None) -> Informer:
        """`resource` (from discovery) for kinds outside the client's built-in table; a cluster-scoped
        resource is watched cluster-wide, whatever `namespace` says."""
        if resource is not None and not resource.namespaced:
            namespace = None
        if resource is not None and RESOURCES.get(kind) == resource:
            resource = None  # the same built-in informer, however it was asked for
        key = InformerKey(namespace, kind, label_selector, resource)
        with self._lock:
            informer = self._informers.get(key)
            if informer is None:
                log.debug("starting informer %s", key)
                informer = Informer(self.client, key, watch_timeout=self.watch_timeout,
                                    backoff=self.backoff_factory())
                self._informers[key] = informer
                self._refs[key] = 0
                informer.start()
            self._refs[key] += 1
            return informer

    def release(self, informer: Informer) -> None:
        key = informer.key
        with self._lock:
            if key not in self._refs:
                return
            self._refs[key] -= 1
            if self._refs[key] > 0:
                return
            del self._refs[key]
            stopped = self._informers.pop(key)
        log.debug("stopping informer %s (no users left)", key)
        stopped.stop()

    def retry_now(self) -> None:
        """Every informer backing off retries at once."""
        with self._lock:
            informers = list(self._informers.values())
        for informer in informers:
            informer.retry_now()

    def active(self) -> dict[InformerKey, int]:
        with self._lock:
            return dict(self._refs)

    def close(self) -> None:
        with self._lock:
            informers = list(self._informers.values())
            self._informers.clear()
            self._refs.clear()
        for informer in informers:
            informer.stop()


def wait_all_synced(informers: list[Informer], deadline: float, *, stop: threading.Event | None = None,
                    abort_on: tuple[type[KubeError], ...] = FATAL_ERRORS) -> None:
    """Block until every informer has a complete list; raise a fatal error (403...) instead of waiting."""
    while True:
        pending = [i for i in informers if not i.snapshot().synced]
        if not pending:
            return
        for informer in pending:
            err = informer.error
            if err is not None and isinstance(err, abort_on):
                raise err
        if stop is not None and stop.is_set():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            err = next((i.error for i in pending if i.error is not None), None)
            if err is not None:
                raise err
            raise ApiConnectionError(f"timed out listing {', '.join(str(i.key) for i in pending)}")
        pending[0].wait_synced(min(0.1, remaining))
