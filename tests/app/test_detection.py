"""Noticing revisions made outside helmbot: one record and one parent message per revision, catch-up after
a restart announced once, a pending helmbot deploy claiming its revision, routing, uninstalls."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app.detection import ReleaseDetector, Route, actor_of
from bot.app.operations import Operations
from bot.app.ports import Target
from bot.core.releases import Release
from bot.store import SqlStore, open_store
from bot.store.records import DeployRecord
from tests.app.fakes import FakeCluster

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NS = "shop"


class NoExecutor(Executor):
    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise AssertionError("detection never runs helm")


@pytest.fixture
def store() -> Iterator[SqlStore]:
    s = open_store("sqlite:///:memory:")
    yield s
    s.close()


class World:
    def __init__(self, store: SqlStore, route: Route | None = None) -> None:
        self.store = store
        self.cluster = FakeCluster()
        self.followed: list[DeployRecord] = []
        self.route = route or Route("C0DEPLOYS", "all")
        ops = Operations(store=store, clusters={"default": self.cluster},
                         helm_for=lambda c: None,  # type: ignore[arg-type,return-value]
                         executor=NoExecutor(), clock=lambda: NOW, on_revision=self.followed.append,
                         wake_delivery=lambda: None)
        self.detector = ReleaseDetector(store=store, clusters={"default": self.cluster}, operations=ops,
                                        router=self._route, clock=lambda: NOW, follow=self.followed.append,
                                        wake_delivery=lambda: None)

    def _route(self, target: Target, release: Release | None) -> Route:
        return self.route

    def parents(self) -> list[str]:
        return [m.key for m in self.store.pending_messages() if m.key.startswith(("parent:", "notice:"))]


def test_first_sight_at_start_up_announces_nothing(store: SqlStore) -> None:
    w = World(store)
    for rev in (1, 2, 3):
        w.cluster.add(NS, "shop", rev)
    assert w.detector.scan("default", NS, startup=True) == 0
    assert w.parents() == [] and store.last_seen_revision("default", NS, "shop") == 3


def test_revision_made_elsewhere_once_however_often_it_is_seen(store: SqlStore) -> None:
    w = World(store)
    w.cluster.add(NS, "shop", 1)
    w.detector.scan("default", NS, startup=True)
    w.cluster.add(NS, "shop", 2, managers=("helm",))
    assert w.detector.scan("default", NS) == 1
    for _ in range(3):
        assert w.detector.scan("default", NS) == 0    # watch replays, periodic scans
    record = store.find_deploy("default", NS, "shop", 2)
    assert record is not None and record.origin == "passive" and record.requested_by == "helm CLI"
    assert w.parents() == [f"parent:{record.id}"] and [r.id for r in w.followed] == [record.id]


def test_caught_up_after_a_restart(store: SqlStore) -> None:
    w = World(store)
    w.cluster.add(NS, "shop", 1)
    w.detector.scan("default", NS, startup=True)
    w.cluster.add(NS, "shop", 2)
    w.cluster.add(NS, "shop", 3, "pending-upgrade")
    assert w.detector.scan("default", NS, startup=True) == 2    # both, once each, marked caught up
    origins = {store.find_deploy("default", NS, "shop", r).origin for r in (2, 3)}  # type: ignore[union-attr]
    assert origins == {"catchup"}


def test_a_pending_helmbot_deploy_claims_its_revision(store: SqlStore) -> None:
    w = World(store)
    w.cluster.add(NS, "shop", 1)
    w.detector.scan("default", NS, startup=True)
    mine = store.create_deploy(DeployRecord(cluster="default", namespace=NS, release="shop",
                                            operation="upgrade", origin="slack", requested_by="U0ALICE",
                                            channel="C0DEPLOYS", previous_revision=1, created_at=NOW))
    w.cluster.add(NS, "shop", 2)
    assert w.detector.scan("default", NS) == 1
    assert store.get_deploy(mine.id).revision == 2               # type: ignore[union-attr]
    assert w.parents() == []                                     # its parent was posted with the request


def test_routes_mute_and_failures_only(store: SqlStore) -> None:
    muted = World(store, Route(None, "mute"))
    muted.cluster.add(NS, "shop", 1)
    muted.detector.scan("default", NS)
    assert store.find_deploy("default", NS, "shop", 1) is None and muted.followed == []
    quiet = World(store, Route("C0QUIET", "failures"))
    quiet.cluster.add("other", "api", 1)
    quiet.detector.scan("default", "other")
    record = store.find_deploy("default", "other", "api", 1)
    assert record is not None and record.notify == "failures" and quiet.parents() == []
    assert quiet.followed == [record]                            # followed, but posted only if it fails


def test_uninstalls_are_announced_once(store: SqlStore) -> None:
    w = World(store)
    w.cluster.add(NS, "shop", 1)
    w.cluster.add(NS, "web", 1)
    w.detector.scan("default", NS, startup=True)
    w.cluster.remove(NS, "shop")                                 # helm uninstall
    w.cluster.set_status(NS, "web", 1, "uninstalled")            # helm uninstall --keep-history
    assert w.detector.scan("default", NS) == 2
    assert w.detector.scan("default", NS) == 0
    notices = [m for m in store.pending_messages() if m.key.startswith("notice:uninstall")]
    assert len(notices) == 2 and all("uninstalled outside helmbot" in m.payload["text"] for m in notices)


def test_a_partial_view_is_not_an_uninstall(store: SqlStore) -> None:
    w = World(store)
    w.cluster.add(NS, "shop", 1)
    w.detector.scan("default", NS, startup=True)
    w.cluster.synced = False
    w.cluster.remove(NS, "shop")
    assert w.detector.scan("default", NS) == 0
    assert store.last_seen_revision("default", NS, "shop") == 1


@pytest.mark.parametrize(("labels", "managers", "actor"), [
    pytest.param({}, ("helm",), "helm CLI", id="helm-cli"),
    pytest.param({"helm.toolkit.fluxcd.io/name": "shop"}, ("helm-controller",), "Flux helm-controller",
                 id="flux-labels"),
    pytest.param({}, ("helm-controller",), "Flux helm-controller", id="flux-manager"),
    pytest.param({}, ("terraform-provider-helm",), "Terraform (helm provider)", id="terraform"),
    pytest.param({}, ("ci-deployer",), "ci-deployer", id="unknown-manager"),
    pytest.param({}, (), "someone outside helmbot", id="nothing-known"),
])
def test_who_made_a_revision(labels: dict[str, str], managers: tuple[str, ...], actor: str) -> None:
    cluster = FakeCluster()
    cluster.add(NS, "shop", 1, labels=labels)
    assert actor_of(cluster.release(NS, "shop", 1), managers) == actor


