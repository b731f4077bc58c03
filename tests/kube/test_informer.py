"""Informers against the real stand-in over HTTP: list+watch, resume, 410 relist, retries, sharing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.kube.client import KubeClient, new_client
from bot.kube.errors import (
    ApiConnectionError,
    Forbidden,
    NotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
)
from bot.kube.informer import Backoff, Informer, InformerKey, InformerRegistry, wait_all_synced
from tests.polling import poll


def fast_backoff() -> Backoff:
    return Backoff(initial=0.05, maximum=0.2)


@pytest.fixture
def informers() -> Iterator[list[Informer]]:
    started: list[Informer] = []
    yield started
    for informer in started:
        informer.stop()


def start(client: KubeClient, informers: list[Informer], namespace: str, kind: str = "ConfigMap",
          selector: str | None = None, **kw: Any) -> Informer:
    informer = Informer(client, InformerKey(namespace, kind, selector), backoff=fast_backoff(), **kw)
    informers.append(informer)
    informer.start()
    assert informer.wait_synced(10), informer.error
    return informer


def configmap(sim: Any, namespace: str, name: str, value: str = "1", labels: dict | None = None) -> dict:
    return sim.store.create("/configmaps", {"metadata": {"name": name, "namespace": namespace,
                                                          "labels": labels or {}}, "data": {"v": value}})


def names(informer: Informer) -> set[str]:
    return {o["metadata"]["name"] for o in informer.snapshot().items}


def value_of(informer: Informer, name: str) -> str | None:
    for obj in informer.snapshot().items:
        if obj["metadata"]["name"] == name:
            return str(obj["data"]["v"])
    return None


def test_list_then_watch_follows_adds_updates_deletes(sim: Any, namespace: str, client: KubeClient,
                                                      informers: list[Informer]) -> None:
    configmap(sim, namespace, "before")
    inf = start(client, informers, namespace)
    snap = inf.snapshot()
    assert snap.synced and snap.fresh and {o["metadata"]["name"] for o in snap.items} >= {"before"}
    configmap(sim, namespace, "after")
    poll(lambda: "after" in names(inf), what="ADDED")
    sim.store.mutate("/configmaps", namespace, "after", lambda o: o["data"].update(v="2"))
    poll(lambda: value_of(inf, "after") == "2", what="MODIFIED")
    sim.store.delete("/configmaps", namespace, "before")
    poll(lambda: "before" not in names(inf), what="DELETED")
    assert inf.stats.lists == 1 and inf.stats.relists_410 == 0
    # Objects are plain dicts exactly as the API sent them (no pydantic models).
    assert isinstance(inf.snapshot().items[0], dict)


def test_label_selector_filters_server_side(sim: Any, namespace: str, client: KubeClient,
                                            informers: list[Informer]) -> None:
    configmap(sim, namespace, "helm-owned", labels={"owner": "helm"})
    configmap(sim, namespace, "other")
    inf = start(client, informers, namespace, selector="owner=helm")
    assert names(inf) == {"helm-owned"}
    configmap(sim, namespace, "helm-owned-2", labels={"owner": "helm"})
    configmap(sim, namespace, "other-2")
    poll(lambda: "helm-owned-2" in names(inf), what="labelled add")
    assert "other-2" not in names(inf)


def test_dropped_watch_resumes_from_last_resource_version_without_relisting(
        sim: Any, namespace: str, client: KubeClient, informers: list[Informer]) -> None:
    # Faults apply to watches opened after they are added: add it first, so the first two watches drop.
    sim.faults.add(f"drop-watch;after=1;namespace={namespace};resources=configmaps;times=2")
    inf = start(client, informers, namespace)
    for i in range(4):
        configmap(sim, namespace, f"cm{i}")
    poll(lambda: names(inf) >= {f"cm{i}" for i in range(4)}, what="all four after two dropped watches")
    poll(lambda: inf.snapshot().fresh, what="watching again")
    assert inf.stats.lists == 1, "a dropped watch must resume, not relist"
    assert inf.stats.watches >= 3
    assert inf.stats.relists_410 == 0


def test_410_gone_relists_and_keeps_serving_the_last_picture(
        sim: Any, namespace: str, client: KubeClient, informers: list[Informer]) -> None:
    configmap(sim, namespace, "kept")
    # The first watch answers its first event with ERROR 410 Expired, as an API server does after compaction.
    sim.faults.add(f"gone;after=0;namespace={namespace};resources=configmaps;times=1")
    inf = start(client, informers, namespace)
    configmap(sim, namespace, "new")
    poll(lambda: "new" in names(inf), what="change seen after relist")
    assert inf.stats.relists_410 == 1
    assert inf.stats.lists == 2
    assert "kept" in names(inf)
    assert inf.snapshot().fresh


def test_410_on_resume_from_a_compacted_resource_version(sim: Any, namespace: str, client: KubeClient,
                                                         informers: list[Informer]) -> None:
    """A real expiry: the watch's resourceVersion fell out of the stand-in's bounded history."""
    from bot.sim.cluster import Cluster

    with Cluster(port=0, controllers=False, history=5) as small:
        small.write_kubeconfig(sim.home / "small-kubeconfig")
        kube = new_client(str(sim.home / "small-kubeconfig"))
        try:
            small.store.create("/namespaces", {"metadata": {"name": "t"}})
            inf = Informer(kube, InformerKey("t", "ConfigMap"), backoff=fast_backoff())
            informers.append(inf)
            inf.start()
            assert inf.wait_synced(10)
            # While the server is down, more changes happen than its history holds: the resume must 410.
            restart = threading.Thread(target=small.restart, kwargs={"downtime": 1.0})
            restart.start()
            poll(lambda: not inf.snapshot().fresh, what="watch cut")
            for i in range(20):
                small.store.create("/configmaps", {"metadata": {"name": f"c{i}", "namespace": "t"}})
            restart.join()
            poll(lambda: len(names(inf)) == 20 and inf.snapshot().fresh, what="relisted picture")
            assert inf.stats.relists_410 == 1
            assert inf.stats.lists == 2
        finally:
            inf.stop()
            kube.close()


@pytest.mark.parametrize("fault", ["error:500", "error:429;retry_after=1"])
def test_transient_errors_are_retried_with_backoff(sim: Any, namespace: str, client: KubeClient,
                                                   informers: list[Informer], fault: str) -> None:
    sim.faults.add(f"{fault};verbs=list;namespace={namespace};resources=configmaps;times=2")
    configmap(sim, namespace, "a")
    began = time.monotonic()
    inf = Informer(client, InformerKey(namespace, "ConfigMap"), backoff=fast_backoff())
    informers.append(inf)
    inf.start()
    assert inf.wait_synced(10), inf.error
    elapsed = time.monotonic() - began
    assert names(inf) == {"a"}
    assert inf.stats.errors == 2 and inf.stats.lists == 3
    expected = TooManyRequests if "429" in fault else ServerError
    assert inf.stats.error_kinds == {expected.__name__: 2}
    if "429" in fault:
        assert elapsed >= 2.0, "Retry-After: 1 must be honoured on each of the two retries"
    assert inf.snapshot().fresh and inf.error is None


def test_watch_errors_mark_the_picture_stale_until_recovered(sim: Any, namespace: str, client: KubeClient,
                                                             informers: list[Informer]) -> None:
    inf = start(client, informers, namespace)
    sim.faults.add(f"error:500;verbs=watch;namespace={namespace};resources=configmaps")
    sim.cluster.restart()  # cut the running watch; every re-watch now gets a 500
    configmap(sim, namespace, "x")
    poll(lambda: not inf.snapshot().fresh, what="stale while the watch fails")
    poll(lambda: isinstance(inf.snapshot().error, ServerError), what="the 500 recorded")
    assert "x" not in names(inf)  # the held picture is the last good one, not a partial new one
    sim.faults.clear()
    poll(lambda: inf.snapshot().fresh and "x" in names(inf), what="recovered")
    assert inf.snapshot().error is None
    assert inf.stats.lists == 1, "after a 500 the watch resumes from its resourceVersion"


def test_connection_refused_is_retried_until_the_server_is_back(sim: Any, client: KubeClient,
                                                                informers: list[Informer]) -> None:
    from bot.sim.cluster import Cluster

    with Cluster(port=0, controllers=False) as other:
        path = other.write_kubeconfig(sim.home / "other-kubeconfig")
        kube = new_client(str(path))
        inf = Informer(kube, InformerKey("default", "ConfigMap"), backoff=fast_backoff())
        informers.append(inf)
        try:
            inf.start()
            assert inf.wait_synced(10)
            other.restart(downtime=0.5)  # cuts the watch; connections are refused for 0.5 s
            other.store.create("/configmaps", {"metadata": {"name": "late", "namespace": "default"}})
            poll(lambda: "late" in names(inf) and inf.snapshot().fresh, what="back after restart")
        finally:
            inf.stop()
            kube.close()


@pytest.mark.parametrize(("code", "cls"), [(403, Forbidden), (401, Unauthorized)])
def test_fatal_errors_surface_before_sync(sim: Any, namespace: str, client: KubeClient,
                                          informers: list[Informer], code: int, cls: type) -> None:
    sim.faults.add(f"error:{code};namespace={namespace};resources=configmaps")
    inf = Informer(client, InformerKey(namespace, "ConfigMap"), backoff=fast_backoff())
    informers.append(inf)
    inf.start()
    with pytest.raises(cls):
        wait_all_synced([inf], time.monotonic() + 5)


def test_unreachable_api_times_out_with_a_connection_error(client: KubeClient,
                                                           informers: list[Informer]) -> None:
    from kubernetes.client import ApiClient, Configuration

    from bot.kube.client import KubeClient as Client

    config = Configuration(host="http://127.0.0.1:9")
    config.retries = False
    dead = Client(ApiClient(config))
    inf = Informer(dead, InformerKey("default", "ConfigMap"), backoff=fast_backoff())
    informers.append(inf)
    inf.start()
    with pytest.raises(ApiConnectionError, match="connection refused"):
        wait_all_synced([inf], time.monotonic() + 1)


def test_client_maps_http_errors(sim: Any, namespace: str, client: KubeClient) -> None:
    with pytest.raises(NotFound):
        client.get("ConfigMap", namespace, "absent")
    sim.faults.add(f"error:429;retry_after=7;namespace={namespace};times=1")
    with pytest.raises(TooManyRequests) as info:
        client.list("Pod", namespace)
    assert info.value.retry_after == 7.0
    assert client.counter.snapshot() == {"get ConfigMap": 1, "list Pod": 1}


def test_registry_shares_one_informer_per_key_and_counts_references(sim: Any, namespace: str,
                                                                    client: KubeClient) -> None:
    registry = InformerRegistry(client, backoff_factory=fast_backoff)
    try:
        a = registry.acquire(namespace, "Pod")
        b = registry.acquire(namespace, "Pod")
        c = registry.acquire(namespace, "Secret", "owner=helm")
        assert a is b and a is not c
        assert a.wait_synced(10) and c.wait_synced(10)
        assert client.counter.snapshot().get("list Pod") == 1
        registry.release(a)
        assert registry.active() == {InformerKey(namespace, "Pod"): 1, InformerKey(namespace, "Secret",
                                                                                 "owner=helm"): 1}
        registry.release(b)
        assert InformerKey(namespace, "Pod") not in registry.active()
        poll(lambda: a._thread is not None and not a._thread.is_alive(), what="informer thread stopped")
        again = registry.acquire(namespace, "Pod")
        assert again is not a
    finally:
        registry.close()


def test_an_informer_bug_is_logged_by_type_and_place_never_by_its_text(
        client: KubeClient, sim: Any, namespace: str, informers: list[Informer],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    informer = start(client, informers, namespace)
    calls: list[dict[str, Any]] = []

    def broken(event: dict[str, Any]) -> None:   # stands in for a bug while applying a watch event
        calls.append(event)
        raise ValueError("password=hunter2 in a cached object")

    monkeypatch.setattr(informer, "_apply", broken)
    with caplog.at_level("WARNING", logger="helmbot.kube"):
        configmap(sim, namespace, "poke")
        poll(lambda: informer.error is not None, what="the bug recorded as the informer's error")
    bug_logs = [r for r in caplog.records if r.name == "helmbot.kube" and "helmbot bug" in r.getMessage()]
    assert bug_logs, [r.getMessage() for r in caplog.records]
    message = bug_logs[0].getMessage()
    assert "ValueError at test_informer.py:" in message and str(informer.key) in message
    assert all("hunter2" not in r.getMessage() and r.exc_info is None for r in caplog.records)
