"""Assemble the tracker's `ClusterView` from the shared informers of one namespace plus fetched logs.

Kinds are keyed as the tracker keys them (bot.core.model.kinds.kind_key): "Service" for the built-in one,
"Service.serving.knative.dev" for a custom kind of the same name. Helm's release records are read from both
of its storage drivers: Secrets (the default) and ConfigMaps (`HELM_DRIVER=configmap`); the ConfigMaps are
optional (without permission to read them, only Secrets are).

Every release gets the base kinds (`TRACKED_KINDS`, plus the Helm Secrets); once its release record is read,
every other kind its plan waits on (custom resources, CRDs, ...) is resolved through discovery and watched
too, before the tracker sees that release. A view is built only once every informer holds a complete list;
after that, kinds whose cache may be behind are left out (the tracker's "unknown right now"), and
`complete` says whether any were.

A kind that cannot be watched (403, unknown to discovery, never listed) is not silently treated as done:
it stays out of the view for good (the tracker reports never-watched kinds) and is announced once as an
`Unwatchable`. Only the essentials abort the run instead: the Helm Secrets, Pods, Jobs, and the workload
kinds the plan waits on (ReplicaSets with Deployments), and only for errors waiting will not fix (401, 403,
404). Transient errors (429, 5xx, connection trouble) never end a run, for any kind: the informers and
discovery retry them, and until every needed kind is listed there is no view (the runner then lets the
tracker's own timeout end the run, `ReleaseTracker.observe_nothing`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.core.model.kinds import group_of, kind_key
from bot.core.planning import plan_operation
from bot.core.releases import Release
from bot.core.tracking import ClusterView
from bot.kube.client import RESOURCES, ResourceType
from bot.kube.errors import ApiConnectionError, ApiError, Forbidden, KubeError, NotFound, Unauthorized
from bot.kube.informer import Informer, InformerRegistry, Snapshot
from bot.kube.releases import HELM_OWNER_SELECTOR, ReleaseReader
from bot.text import clip

log = logging.getLogger("helmbot.kube")  # state changes and swallowed errors; never object contents

TRACKED_KINDS = ("Job", "Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet",
                 "PersistentVolumeClaim", "Service", "Event")
ESSENTIAL_KINDS = frozenset({"Secret", "Pod", "Job"})
WORKLOAD_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})
# Everything else (Events, PVCs, Services, kinds from the plan) is optional: without it the run goes on.


@dataclass(frozen=True)
class Unwatchable:
    kind: str
    what: str          # "Certificate.cert-manager.io"
    reason: str        # "forbidden (403)", "unknown to the API server's discovery", ...
    in_plan: bool      # the release waits on objects of this kind: they are not judged
    detail: str = ""   # the API server's own words, when it said more (RBAC: which user, which verb)

    @property
    def message(self) -> str:
        tail = "not judged" if self.in_plan else "carrying on without it"
        return f"cannot watch {self.what}: {self.reason}; {tail}"


@dataclass
class _Watch:
    informer: Informer
    what: str
    since: float                       # monotonic time of the acquire (for the sync timeout)
    failing_since: float | None = None
    blocked: bool = False              # failing, but whether it matters waits for the plan


_FINAL = (Unauthorized, Forbidden, NotFound)   # waiting does not fix these


def waited_kinds(release: Release) -> list[tuple[str, str]]:
    """(apiVersion, kind) of every step the release's plan waits on."""
    plan = plan_operation(release)
    return [(step.api_version, step.kind) for phase in plan.phases for step in phase.waited]


def plan_key(api_version: str, kind: str) -> str:
    return kind_key(kind, group_of(api_version))


class NamespaceInformers:
    """The informers a tracked release needs, borrowed from the shared registry (released by `close()`)."""

    def __init__(self, registry: InformerRegistry, namespace: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.namespace = namespace
        self.clock = clock
        self.watches: dict[str, _Watch] = {}            # by kind key
        self.secrets_watch: _Watch | None = None
        self.configmaps_watch: _Watch | None = None     # Helm's ConfigMap storage; None once given up
        self.plan_kinds: frozenset[str] | None = None   # kind keys; None until the release record was read
        self.pending_discovery: dict[str, tuple[str, str]] = {}   # key -> (apiVersion, kind), to retry
        self.dropped: dict[str, Unwatchable] = {}
        self._announce: list[Unwatchable] = []
        self._listeners: list[Callable[[], None]] = []
        try:
            for kind in TRACKED_KINDS:
                self._add(kind, kind, None)
            self.secrets_watch = self._storage("Secret")
            self.configmaps_watch = self._storage("ConfigMap")
        except BaseException:
            self.close()
            raise

    def _storage(self, kind: str) -> _Watch:
        return _Watch(self.registry.acquire(self.namespace, kind, HELM_OWNER_SELECTOR), kind, self.clock())

    @property
    def secrets_informer(self) -> Informer | None:
        return self.secrets_watch.informer if self.secrets_watch is not None else None

    @property
    def secrets(self) -> Informer:
        assert self.secrets_watch is not None, "closed"
        return self.secrets_watch.informer

    @property
    def storage(self) -> list[Informer]:
        """The informers of Helm's release records: Secrets, and ConfigMaps unless given up."""
        return [w.informer for w in (self.secrets_watch, self.configmaps_watch) if w is not None]

    @property
    def by_kind(self) -> dict[str, Informer]:
        return {kind: w.informer for kind, w in self.watches.items()}

    def all(self) -> list[Informer]:
        return [*self.by_kind.values(), *self.storage]

    def add_listener(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)
        for informer in self.all():
            informer.add_listener(fn)

    def close(self) -> None:
        for informer in self.all():
            self._let_go(informer)
        self.watches = {}
        self.secrets_watch = self.configmaps_watch = None

    # -- what to watch ---------------------------------------------------------------------------------

    def watch_plan(self, kinds: Iterable[tuple[str, str]]) -> None:
        """Watch every kind the release's plan waits on (once: a tracker follows one revision)."""
        if self.plan_kinds is not None:
            return
        wanted: dict[str, tuple[str, str]] = {}
        for api_version, kind in kinds:
            wanted.setdefault(plan_key(api_version, kind), (api_version, kind))
        self.plan_kinds = frozenset(wanted)
        self.pending_discovery = {
            key: pair for key, pair in wanted.items()
            if key not in self.watches and key not in self.dropped and key != "Secret"
        }
        self._discover()

    def _discover(self) -> None:
        """Resolve the plan kinds still pending; a transient error leaves a kind pending for the next try."""
        for key, (api_version, kind) in list(self.pending_discovery.items()):
            what = _display(api_version, kind)
            try:
                found = self.registry.discovery.resolve(api_version, kind)
            except Unauthorized:
                raise
            except _FINAL as exc:
                del self.pending_discovery[key]
                self._drop(key, what, f"discovery failed: {short_reason(exc)}", detail=describe(exc))
                continue
            except KubeError as exc:
                log.debug("discovery of %s in %s failed (%s); retrying", what, self.namespace,
                          short_reason(exc))
                continue
            del self.pending_discovery[key]
            if found is None:
                self._drop(key, what, f"unknown to the API server's discovery ({api_version or 'v1'})")
                continue
            self._add(key, kind, found)

    def essential(self, kind: str) -> bool | None:
        """Must this kind (key) be watched for the run to go on? None: it depends on the plan (not known
        yet)."""
        if kind in ESSENTIAL_KINDS:
            return True
        if kind in WORKLOAD_KINDS:
            if self.plan_kinds is None:
                return None
            return kind in self.plan_kinds or (kind == "ReplicaSet" and "Deployment" in self.plan_kinds)
        return False

    def check(self, *, fatal_grace: float, sync_timeout: float) -> None:
        """Decide about failing informers: raise for the essentials, drop (and announce) the others.

        Final errors (401, 403, 404) decide at once before the first complete list (RBAC does not heal by
        waiting) and after `fatal_grace` once listed; 401 is always fatal: the credentials are wrong for
        everything. Transient errors (429, 5xx, connection trouble) never abort: an essential kind or one the
        plan waits on is waited for (the tracker's timeout ends the run); any other kind not listed within
        `sync_timeout` is dropped. Plan kinds whose discovery failed transiently are resolved again.
        """
        if self.pending_discovery:
            self._discover()
        now = self.clock()
        candidates = list(self.watches.items())
        if self.secrets_watch is not None:
            candidates.append(("Secret", self.secrets_watch))
        for kind, watch in candidates:
            error = self._persistent_error(watch, now, fatal_grace, sync_timeout)
            watch.blocked = False
            if error is None:
                continue
            essential = True if isinstance(error, Unauthorized) else self.essential(kind)
            if not isinstance(error, _FINAL) and (essential or self._in_plan(kind)):
                continue   # transient: keep waiting for it
            if essential:
                log.error("cannot watch %s in %s, which the tracker needs: %s", watch.what, self.namespace,
                          short_reason(error))
                raise error
            if essential is None:
                watch.blocked = True   # decided once the plan is known
                continue
            self._drop(kind, watch.what, short_reason(error), detail=describe(error))
        self._check_configmap_storage(now, fatal_grace, sync_timeout)

    def _in_plan(self, kind: str) -> bool:
        return self.plan_kinds is not None and kind in self.plan_kinds

    def _check_configmap_storage(self, now: float, fatal_grace: float, sync_timeout: float) -> None:
        """Helm's ConfigMap storage is optional: without it only the Secrets are read (logged, no event)."""
        watch = self.configmaps_watch
        if watch is None:
            return
        error = self._persistent_error(watch, now, fatal_grace, sync_timeout)
        if error is None or (not isinstance(error, _FINAL) and watch.informer.status().synced):
            return
        if isinstance(error, Unauthorized):
            raise error
        log.info("not reading Helm's ConfigMap release storage in %s: %s", self.namespace,
                 short_reason(error))
        self.configmaps_watch = None
        self._let_go(watch.informer)

    @staticmethod
    def _persistent_error(watch: _Watch, now: float, fatal_grace: float, sync_timeout: float
                          ) -> KubeError | None:
        snapshot = watch.informer.status()
        error = snapshot.error
        if error is None or snapshot.fresh:
            watch.failing_since = None
            if not snapshot.synced and now - watch.since >= sync_timeout:
                return error or ApiConnectionError(f"timed out listing {watch.informer.key}")
            return None
        if watch.failing_since is None:
            watch.failing_since = now
        if isinstance(error, _FINAL):
            return error if not snapshot.synced or now - watch.failing_since >= fatal_grace else None
        if not snapshot.synced and now - watch.since >= sync_timeout:
            return error
        return None

    def take_unwatchable(self) -> list[Unwatchable]:
        """Kinds given up since the last call (each announced once)."""
        out, self._announce = self._announce, []
        return out

    def ready(self) -> bool:
        """Every informer that counts has a complete list, and every plan kind has been resolved."""
        if self.pending_discovery or not all(i.status().synced for i in self.storage) or not self.storage:
            return False
        return all(w.blocked or w.informer.status().synced for w in self.watches.values())

    def unavailable(self) -> list[str]:
        """What keeps a view from being built: kinds not listed yet (and why), kinds being discovered."""
        out = []
        watches = [*self.watches.values(), *(w for w in (self.secrets_watch, self.configmaps_watch) if w)]
        for watch in watches:
            snapshot = watch.informer.status()
            if not snapshot.synced and not watch.blocked:
                why = short_reason(snapshot.error) if snapshot.error else "not listed yet"
                out.append(f"{watch.what}: {why}")
        out += [f"{_display(*pair)}: discovery not answered yet" for pair in self.pending_discovery.values()]
        return out

    # -- bookkeeping -----------------------------------------------------------------------------------

    def _add(self, key: str, kind: str, resource: ResourceType | None) -> None:
        informer = self.registry.acquire(self.namespace, kind, resource=resource)
        for fn in self._listeners:
            informer.add_listener(fn)
        what = resource.display if resource is not None else kind
        self.watches[key] = _Watch(informer, what, self.clock())

    def _drop(self, kind: str, what: str, reason: str, *, detail: str = "") -> None:
        watch = self.watches.pop(kind, None)
        if watch is not None:
            self._let_go(watch.informer)
        in_plan = self.plan_kinds is not None and kind in self.plan_kinds
        note = Unwatchable(kind, what, reason, in_plan=in_plan, detail=detail)
        log.warning("not watching %s in %s: %s%s", what, self.namespace, reason,
                    "" if in_plan else " (optional)")
        self.dropped[kind] = note
        self._announce.append(note)

    def _let_go(self, informer: Informer) -> None:
        for fn in self._listeners:
            informer.remove_listener(fn)
        self.registry.release(informer)


def describe(error: KubeError) -> str:
    """One short line about an API error, for warnings and errors (never a response body beyond the
    server's own message, which names objects, not values)."""
    if isinstance(error, Forbidden):
        return "forbidden (403)" + (f": {error.message}" if error.message else "")
    if isinstance(error, Unauthorized):
        return "unauthorized (401)"
    if isinstance(error, NotFound):
        return "not found (404)" + (f": {error.message}" if error.message else "")
    if isinstance(error, ApiError):
        return str(error)
    return str(error) or type(error).__name__


def short_reason(error: KubeError) -> str:
    """"forbidden (403)", "not found (404)", "500 InternalError", "cannot reach the API server ..."."""
    if isinstance(error, ApiError):
        label = {401: "unauthorized", 403: "forbidden", 404: "not found"}.get(error.status)
        return f"{label} ({error.status})" if label else f"{error.status} {error.reason}"
    return clip(str(error) or type(error).__name__, 120)


def _display(api_version: str, kind: str) -> str:
    group = api_version.rpartition("/")[0]
    known = RESOURCES.get(kind)
    if not group and known is not None:
        return kind
    return f"{kind}.{group}" if group else kind


@dataclass(frozen=True)
class ViewState:
    view: ClusterView
    complete: bool                 # every informer is watching with no known gap
    stale: tuple[str, ...] = ()    # which informers may be behind, and why (for a warning line)
    versions: tuple[int, ...] = () # informer versions, to skip re-observing an unchanged picture


def assemble_view(informers: NamespaceInformers, reader: ReleaseReader,
                  logs: Mapping[tuple[str, str], Sequence[str]],
                  log_errors: Mapping[tuple[str, str], str] | None = None) -> ViewState | None:
    """None until every informer that counts has listed once: a first view missing a kind must never reach
    the tracker. The release record is read first, so the kinds its plan waits on are watched (and listed)
    before any view carries that release.

    Afterwards a kind whose informer may be missing changes (watch broken, relisting after 410, API errors)
    is left out of `objects` (and a stale storage cache gives `release=None` with `secrets_fresh=False`):
    the tracker reads a missing kind as "unknown right now", so an old picture cannot run out a grace period
    into a false verdict. A fresh storage list without the release (`secrets_fresh=True`) means it was
    deleted. Raises ReleaseUnreadable when the tracked revision's record cannot be decoded.
    """
    storage = [i.snapshot() for i in informers.storage]
    if not storage or not all(s.synced for s in storage):
        return None
    fresh = all(s.fresh for s in storage)
    release = reader.read([item for s in storage for item in s.items]) if fresh else None
    if release is not None and informers.plan_kinds is None:
        informers.watch_plan(waited_kinds(release))
    if not informers.ready():
        return None
    snapshots: dict[str, Snapshot] = {kind: w.informer.snapshot() for kind, w in informers.watches.items()
                                      if not w.blocked}
    everything = [*snapshots.values(), *storage]
    if not all(s.synced for s in everything):
        return None
    stale = tuple(f"{s.key}: {s.error}" if s.error else str(s.key) for s in everything if not s.fresh)
    view = ClusterView(
        release=release,
        objects={kind: s.items for kind, s in snapshots.items() if s.fresh},
        logs=dict(logs),
        log_errors=dict(log_errors or {}),
        secrets_fresh=fresh,
        watched=frozenset(snapshots),
    )
    return ViewState(view, complete=not stale, stale=stale, versions=tuple(s.version for s in everything))
