"""Assemble the tracker's `ClusterView` from the shared informers of one namespace plus fetched logs.

A view is built only once every informer holds a complete list; after that, kinds whose cache may be
behind are left out (the tracker's "unknown right now"), and `complete` says whether any were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.core.tracking import ClusterView
from bot.kube.informer import Informer, InformerRegistry, Snapshot
from bot.kube.releases import HELM_OWNER_SELECTOR, ReleaseReader

TRACKED_KINDS = ("Job", "Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet",
                 "PersistentVolumeClaim", "Service", "Event")


class NamespaceInformers:
    """The informers a tracked release needs, borrowed from the shared registry (released by `close()`)."""

    def __init__(self, registry: InformerRegistry, namespace: str) -> None:
        self.registry = registry
        self.namespace = namespace
        self.by_kind: dict[str, Informer] = {}
        self.secrets_informer: Informer | None = None
        self._listeners: list[Callable[[], None]] = []
        try:
            for kind in TRACKED_KINDS:
                self.by_kind[kind] = registry.acquire(namespace, kind)
            self.secrets_informer = registry.acquire(namespace, "Secret", HELM_OWNER_SELECTOR)
        except BaseException:
            self.close()
            raise

    @property
    def secrets(self) -> Informer:
        assert self.secrets_informer is not None, "closed"
        return self.secrets_informer

    def all(self) -> list[Informer]:
        extra = [self.secrets_informer] if self.secrets_informer is not None else []
        return [*self.by_kind.values(), *extra]

    def add_listener(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)
        for informer in self.all():
            informer.add_listener(fn)

    def close(self) -> None:
        for informer in self.all():
            for fn in self._listeners:
                informer.remove_listener(fn)
            self.registry.release(informer)
        self.by_kind = {}
        self.secrets_informer = None


@dataclass(frozen=True)
class ViewState:
    view: ClusterView
    complete: bool                 # every informer is watching with no known gap
    stale: tuple[str, ...] = ()    # which informers may be behind, and why (for a warning line)
    versions: tuple[int, ...] = () # informer versions, to skip re-observing an unchanged picture


def assemble_view(informers: NamespaceInformers, reader: ReleaseReader,
                  logs: Mapping[tuple[str, str], Sequence[str]]) -> ViewState | None:
    """None until every informer has listed once: a first view missing a kind must never reach the tracker.

    Afterwards a kind whose informer may be missing changes (watch broken, relisting after 410, API errors)
    is left out of `objects` (and a stale Secret cache gives `release=None`): the tracker reads a missing kind
    as "unknown right now", so an old picture cannot run out a grace period into a false verdict.
    """
    snapshots: dict[str, Snapshot] = {kind: inf.snapshot() for kind, inf in informers.by_kind.items()}
    secrets = informers.secrets.snapshot()
    everything = [*snapshots.values(), secrets]
    if not all(s.synced for s in everything):
        return None
    stale = tuple(f"{s.key}: {s.error}" if s.error else str(s.key) for s in everything if not s.fresh)
    view = ClusterView(
        release=reader.read(secrets.items) if secrets.fresh else None,
        objects={kind: s.items for kind, s in snapshots.items() if s.fresh},
        logs=dict(logs),
    )
    return ViewState(view, complete=not stale, stale=stale, versions=tuple(s.version for s in everything))
