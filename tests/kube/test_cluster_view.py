"""Which kinds a tracked release watches, and what happens when one cannot be watched (stand-in + faults)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.kube.client import KubeClient
from bot.kube.cluster_view import TRACKED_KINDS, NamespaceInformers, Unwatchable, assemble_view
from bot.kube.discovery import Discovery
from bot.kube.errors import Forbidden
from bot.kube.informer import Backoff, InformerKey, InformerRegistry
from bot.kube.releases import ReleaseReader
from tests.polling import poll

CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


@pytest.fixture
def registry(client: KubeClient) -> Iterator[InformerRegistry]:
    reg = InformerRegistry(client, backoff_factory=lambda: Backoff(initial=0.05, maximum=0.3))
    yield reg
    reg.close()


@pytest.fixture
def opened(registry: InformerRegistry) -> Iterator[list[NamespaceInformers]]:
    made: list[NamespaceInformers] = []
    yield made
    for informers in made:
        informers.close()


def open_informers(registry: InformerRegistry, namespace: str,
                   opened: list[NamespaceInformers]) -> NamespaceInformers:
    informers = NamespaceInformers(registry, namespace)
    opened.append(informers)
    return informers


def on_hold(informers: NamespaceInformers, kind: str) -> bool:
    informers.check(fatal_grace=30, sync_timeout=30)
    return informers.ready() and informers.watches[kind].blocked


def decided(informers: NamespaceInformers) -> list[Unwatchable]:
    informers.check(fatal_grace=30, sync_timeout=30)
    return informers.take_unwatchable()


def test_discovery_resolves_kinds_once_per_group_version(client: KubeClient) -> None:
    discovery = Discovery(client)
    assert discovery.resolve("apps/v1", "Deployment") is not None
    assert client.counter.total == 0, "built-in kinds need no request"
    crd = discovery.resolve(*CRD)
    assert crd is not None and not crd.namespaced and crd.plural == "customresourcedefinitions"
    assert crd.display == "CustomResourceDefinition.apiextensions.k8s.io"
    assert discovery.resolve("v1", "ReplicationController") is None    # not served by the stand-in
    assert discovery.resolve("example.com/v1", "Widget") is None       # no such group: 404, remembered
    assert discovery.resolve("example.com/v1", "Gadget") is None
    assert discovery.resolve(*CRD) is crd
    assert client.counter.snapshot() == {"discover apiextensions.k8s.io/v1": 1, "discover example.com/v1": 1,
                                         "discover v1": 1}


def test_forbidden_optional_kind_is_dropped_and_announced_once(
        sim: Any, namespace: str, registry: InformerRegistry, opened: list[NamespaceInformers]) -> None:
    sim.faults.add(f"error:403;namespace={namespace};resources=events")
    informers = open_informers(registry, namespace, opened)
    notes = poll(lambda: decided(informers), what="events given up")
    assert notes == [Unwatchable("Event", "Event", "forbidden (403)", in_plan=False, detail=notes[0].detail)]
    assert notes[0].message == "cannot watch Event: forbidden (403); carrying on without it"
    assert 'cannot list resource "events"' in notes[0].detail
    state = poll(lambda: assemble_view(informers, ReleaseReader("shop", 1), {}), what="a view without events")
    assert state.complete and set(state.view.objects) == set(TRACKED_KINDS) - {"Event"}
    assert decided(informers) == [], "announced once"
    assert not any(key.kind == "Event" for key in registry.active()), "its informer is released"


def test_forbidden_essential_kind_aborts(sim: Any, namespace: str, registry: InformerRegistry,
                                         opened: list[NamespaceInformers]) -> None:
    sim.faults.add(f"error:403;namespace={namespace};resources=jobs")
    informers = open_informers(registry, namespace, opened)
    with pytest.raises(Forbidden):
        poll(lambda: decided(informers) and False, what="a 403 on jobs")


def test_forbidden_workload_kind_matters_only_when_the_plan_waits_on_it(
        sim: Any, namespace: str, registry: InformerRegistry, opened: list[NamespaceInformers]) -> None:
    sim.faults.add(f"error:403;namespace={namespace};resources=daemonsets")
    informers = open_informers(registry, namespace, opened)
    # Before the release is read nobody knows: the daemonsets neither abort nor hold up the view.
    poll(lambda: on_hold(informers, "DaemonSet"), what="daemonsets on hold")
    assert decided(informers) == []
    informers.watch_plan([("apps/v1", "Deployment")])
    assert [n.message for n in decided(informers)] == [
        "cannot watch DaemonSet: forbidden (403); carrying on without it"]

    other = open_informers(registry, namespace, opened)
    poll(lambda: on_hold(other, "DaemonSet"), what="daemonsets on hold")
    other.watch_plan([("apps/v1", "DaemonSet")])
    with pytest.raises(Forbidden):
        decided(other)


def test_plan_kinds_are_watched_through_discovery_and_shared(
        sim: Any, namespace: str, registry: InformerRegistry, opened: list[NamespaceInformers]) -> None:
    first = open_informers(registry, namespace, opened)
    second = open_informers(registry, "default", opened)
    for informers in (first, second):
        informers.watch_plan([CRD, ("example.com/v1", "Widget"), ("apps/v1", "Deployment")])
    crd_keys = [key for key in registry.active() if key.kind == "CustomResourceDefinition"]
    assert len(crd_keys) == 1 and crd_keys[0].namespace is None, "cluster-scoped: one informer for all"
    assert registry.active()[crd_keys[0]] == 2
    notes = first.take_unwatchable()
    assert [n.message for n in notes] == [
        "cannot watch Widget.example.com: unknown to the API server's discovery (example.com/v1); not judged"]
    state = poll(lambda: assemble_view(first, ReleaseReader("shop", 1), {}), what="a view with CRDs")
    assert "CustomResourceDefinition" in state.view.objects and "Widget" not in state.view.objects
    first.close()
    assert registry.active()[crd_keys[0]] == 1
    assert InformerKey(namespace, "Pod") not in registry.active()
