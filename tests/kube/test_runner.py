"""The runner and log fetcher against the stand-in: verdicts survive API trouble; logs are throttled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bot.sim
from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.tracking import LogRequest
from bot.kube.client import KubeClient
from bot.kube.cluster_view import TRACKED_KINDS, NamespaceInformers, assemble_view
from bot.kube.informer import Backoff, InformerRegistry
from bot.kube.logs import LogFetcher
from bot.kube.releases import ReleaseReader
from bot.kube.runner import RunnerSettings, run_tracker, shorten
from tests.polling import poll

SHOP = str(Path(bot.sim.__file__).parent / "charts" / "shop")


@pytest.fixture
def registry(client: KubeClient) -> Iterator[InformerRegistry]:
    reg = InformerRegistry(client, backoff_factory=lambda: Backoff(initial=0.05, maximum=0.3))
    yield reg
    reg.close()


def track(registry: InformerRegistry, namespace: str, revision: int = 1,
          events: list[TrackEvent] | None = None) -> TrackEvent | None:
    sink = events if events is not None else []
    return run_tracker(registry, namespace=namespace, release="shop", revision=revision,
                       on_event=sink.append, on_summary=lambda s: None, stop=threading.Event(),
                       settings=RunnerSettings(stale_warning_after=0.0))


@pytest.mark.e2e
def test_verdict_survives_dropped_watches_410_and_500s(sim: Any, namespace: str,
                                                        registry: InformerRegistry) -> None:
    for fault in (f"gone;after=2;namespace={namespace};resources=pods;times=2",
                  f"drop-watch;after=1;namespace={namespace};resources=deployments,replicasets;times=3",
                  f"error:500;verbs=watch;namespace={namespace};resources=jobs;times=3",
                  f"error:429;retry_after=1;verbs=list;namespace={namespace};resources=events;times=1"):
        sim.faults.add(fault)
    helm = sim.popen("helm", "install", "shop", SHOP, "-n", namespace, "--set", "web.replicas=2")
    events: list[TrackEvent] = []
    try:
        verdict = track(registry, namespace, events=events)
    finally:
        assert helm.wait(60) == 0
    assert verdict is not None and verdict.outcome is Outcome.SUCCEEDED, verdict
    pods = registry.client.counter.snapshot()
    assert pods["list Pod"] >= 2, "410 Gone must have made the pod informer relist"
    assert not any(e.type is EventType.FAILURE for e in events)


@pytest.mark.e2e
def test_stale_kinds_are_left_out_of_the_view(sim: Any, namespace: str, registry: InformerRegistry) -> None:
    sim.helm("install", "shop", SHOP, "-n", namespace, "--set", "web.replicas=1", "--wait")
    informers = NamespaceInformers(registry, namespace)
    try:
        reader = ReleaseReader("shop", 1)
        state = poll(lambda: assemble_view(informers, reader, {}), what="first complete view")
        assert state.complete and set(state.view.objects) == set(TRACKED_KINDS)
        assert state.view.release is not None and state.view.release.revision == 1
        # Every re-watch of pods fails from now on; cut the running one.
        sim.faults.add(f"error:500;verbs=watch;namespace={namespace};resources=pods")
        sim.cluster.restart()
        # The restart cuts every watch; the other kinds come back, pods stay out of the view.
        # (Until the pod informer's next attempt, its error may still be the restart's connection error.)
        state = poll(lambda: (s := assemble_view(informers, reader, {})) and len(s.stale) == 1
                     and "500" in s.stale[0] and s, what="only pods stale, with the injected 500")
        assert set(state.view.objects) == set(TRACKED_KINDS) - {"Pod"}
        assert state.view.release is not None
        assert "Pod" in state.stale[0]
        sim.faults.clear()
        poll(lambda: (s := assemble_view(informers, reader, {})) and s.complete, what="recovered")
    finally:
        informers.close()
    assert registry.active() == {}


def test_log_fetcher_throttles_per_container(sim: Any, namespace: str, client: KubeClient) -> None:
    sim.store.create("/pods", {"metadata": {"name": "p", "namespace": namespace},
                               "spec": {"containers": [{"name": "c", "image": "x"}]}})
    sim.store.logs.append(namespace, "p", "c", "one")
    clock = [100.0]
    fetcher = LogFetcher(client, namespace, min_interval=5.0, clock=lambda: clock[0])
    req = LogRequest(pod="p", container="c", tail_lines=100)
    fetcher.fetch([req], pod_versions={"p": "1"})
    assert fetcher.logs() == {("p", "c"): ("one",)}
    sim.store.logs.append(namespace, "p", "c", "two")
    fetcher.fetch([req], pod_versions={"p": "1"})
    fetcher.fetch([req], pod_versions={"p": "1"})
    assert fetcher.fetches == 1 and fetcher.logs()[("p", "c")] == ("one",)
    clock[0] += 5.0
    fetcher.fetch([req], pod_versions={"p": "1"})
    assert fetcher.fetches == 2 and fetcher.logs()[("p", "c")] == ("one", "two")
    # The pod changed (a container terminated): its tail is fetched at once, tail-limited.
    sim.store.logs.append(namespace, "p", "c", "three")
    fetcher.fetch([LogRequest(pod="p", container="c", tail_lines=2)], pod_versions={"p": "2"})
    assert fetcher.fetches == 3 and fetcher.logs()[("p", "c")] == ("two", "three")
    assert client.counter.snapshot() == {"log Pod": 3}
    # A vanished pod keeps the lines we had.
    sim.store.delete("/pods", namespace, "p", grace_seconds=0)
    sim.store.logs.drop_pod(namespace, "p")
    clock[0] += 10
    fetcher.fetch([req])
    assert fetcher.logs()[("p", "c")] == ("two", "three")


def test_long_warnings_are_cut_between_words() -> None:
    stale = "; ".join(f"Pod@ns-{i}: 500 InternalError: injected fault" for i in range(12))
    cut = shorten(stale, 300)
    assert len(cut) <= 300 and cut.endswith("…")
    assert stale.startswith(cut[:-1]) and stale[len(cut) - 1] in ";, "
    assert shorten("short\nenough", 300) == "short / enough"
