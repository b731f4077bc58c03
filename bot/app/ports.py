"""What the application layer needs from the outside world, as protocols.

The use cases (deploy, rollback, follow, detect) are written against these, so the same code runs in
`helmbot run` (real helm, kubernetes client, Slack, SQLite/PostgreSQL, APScheduler), in the demo and in
tests (stand-ins). Adapters implement them: bot.helm (HelmPort), bot.kube (ClusterPort), bot.store (the
Store protocol in bot.store.base), bot.slack (MessageSink), bot.scheduler (TickScheduler).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.core.events import TrackEvent
from bot.core.gitops import GitOpsOwner
from bot.core.releases import Release
from bot.core.summary import TrackSummary
from bot.core.tracking import LogRequest, ReleaseTracker
from bot.store.records import DeployRecord, OutboxMessage


@dataclass(frozen=True)
class Target:
    """One release in one cluster: the unit of locks, deploy records and tracking."""

    cluster: str
    namespace: str
    release: str

    def __str__(self) -> str:
        return f"{self.release} in {self.namespace}" + (
            f" ({self.cluster})" if self.cluster != "default" else ""
        )


class ChartInfoLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def app_version(self) -> str: ...


class HelmPort(Protocol):
    """helm, run against one target's cluster. Raises bot.helm.HelmError (one-line, redacted message)."""

    def upgrade(
        self,
        target: Target,
        *,
        chart: str,
        version: str | None,
        values: Mapping[str, str],
        values_files: Sequence[str],
        timeout: timedelta,
        description: str,
        create_namespace: bool,
        wait: bool,
        string_values: Mapping[str, str] | None = None,
    ) -> None: ...

    def rollback(self, target: Target, *, revision: int | None, timeout: timedelta, wait: bool) -> None: ...

    def render(
        self,
        target: Target,
        *,
        chart: str,
        version: str | None,
        values: Mapping[str, str],
        values_files: Sequence[str],
        is_upgrade: bool,
        string_values: Mapping[str, str] | None = None,
    ) -> str: ...

    def get_values(self, target: Target, *, revision: int | None = None) -> dict[str, Any]: ...

    def chart_info(self, target: Target, *, chart: str, version: str | None) -> ChartInfoLike: ...


class TrackerDriver(Protocol):
    """Feeds one tracker from a cluster: a `step()` assembles the current view (shared informers, the
    release record, the logs the tracker asked for) and observes it."""

    def step(self, now: datetime, *, only_if_changed: bool = False) -> list[TrackEvent]: ...

    def close(self) -> None: ...


class RevisionHeadLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def status(self) -> str: ...


class ClusterPort(Protocol):
    """One Kubernetes cluster as the application sees it (bot.kube.cluster.KubeCluster)."""

    name: str

    def revisions(self, namespace: str, release: str | None = None) -> Sequence[RevisionHeadLike]:
        """Helm's stored revisions in the namespace (of one release), oldest first, from labels only."""
        ...

    def release(self, namespace: str, name: str, revision: int) -> Release | None:
        """One revision's decoded record; None when it is not stored."""
        ...

    def releases_synced(self, namespace: str) -> bool: ...

    def wait_releases_fresh(self, namespace: str, timeout: float) -> bool:
        """Block until the view of Helm's storage is complete and current; False after `timeout`."""
        ...

    def drive(
        self,
        tracker: ReleaseTracker,
        *,
        namespace: str,
        release: str,
        revision: int,
        on_change: Callable[[], None],
    ) -> TrackerDriver:
        """A driver for `tracker`; `on_change` is called (from any thread) when its informers changed."""
        ...

    def watch_releases(self, namespace: str, on_change: Callable[[], None]) -> Callable[[], None]:
        """Call `on_change` whenever Helm's release storage in `namespace` changes; returns an unsubscribe."""
        ...

    def check(self) -> None:
        """Raise a HelmbotError when the API server cannot be reached or refuses us."""
        ...

    def gitops_owner(self, namespace: str, release: str) -> GitOpsOwner | None:
        """The Flux HelmRelease or Argo CD Application that reconciles the release, if any (a few reads)."""
        ...


class MessageSink(Protocol):
    """Where a deploy's story goes (Slack: the parent message, its thread, the channel).

    The sink only renders: what it returns is stored in the outbox with the tracker's state, in one
    transaction, and a delivery worker sends it. `wake()` tells that worker there is new work."""

    def thread_messages(
        self, record: DeployRecord, summary: TrackSummary, events: Sequence[TrackEvent]
    ) -> list[OutboxMessage]: ...

    def wake(self) -> None: ...


class TickScheduler(Protocol):
    """Runs a function now and then, at most one at a time per key; `wake` runs it soon."""

    def every(self, key: str, interval: timedelta, fn: Callable[[], None]) -> None: ...

    def wake(self, key: str) -> None: ...

    def cancel(self, key: str) -> None: ...


Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Actor:
    """Who asks: a Slack user in a workspace, with the user groups they belong to (resolved lazily)."""

    user_id: str
    team_id: str | None = None
    channel_id: str | None = None
    groups: frozenset[str] = frozenset()


__all__ = [
    "Actor",
    "Clock",
    "ClusterPort",
    "HelmPort",
    "LogRequest",
    "MessageSink",
    "Target",
    "TickScheduler",
    "TrackerDriver",
]
