"""Log reads that fail are retried on a short back-off and say why, against the stand-in's log endpoint."""

from __future__ import annotations

from typing import Any

from bot.core.tracking import LogRequest
from bot.kube.client import KubeClient
from bot.kube.logs import LogFetcher


def pod_with_log(sim: Any, namespace: str, *lines: str) -> None:
    sim.store.create("/pods", {"metadata": {"name": "p", "namespace": namespace},
                               "spec": {"containers": [{"name": "c", "image": "x"}]}})
    for line in lines:
        sim.store.logs.append(namespace, "p", "c", line)


def test_a_failed_read_is_retried_soon_with_a_doubling_back_off(sim: Any, namespace: str,
                                                                client: KubeClient) -> None:
    pod_with_log(sim, namespace, "panic: cannot reach the orders db")
    sim.faults.add(f"error:503;verbs=get;namespace={namespace};resources=pods;times=2")
    clock = [100.0]
    fetcher = LogFetcher(client, namespace, min_interval=5.0, retry_initial=0.5, clock=lambda: clock[0])
    req = [LogRequest(pod="p", container="c")]

    fetcher.fetch(req)
    assert fetcher.logs() == {}
    assert fetcher.errors()[("p", "c")].startswith("503 ServiceUnavailable")
    assert fetcher.next_retry_in(1.0) == 0.5
    clock[0] += 0.4
    fetcher.fetch(req)
    assert fetcher.fetches == 1, "not before the back-off"
    clock[0] += 0.1
    fetcher.fetch(req)                                  # second failure: the next wait doubles
    assert fetcher.fetches == 2 and fetcher.next_retry_in(5.0) == 1.0
    clock[0] += 1.0
    fetcher.fetch(req)
    assert fetcher.fetches == 3
    assert fetcher.logs() == {("p", "c"): ("panic: cannot reach the orders db",)}
    assert fetcher.errors() == {}, "a good read clears the error"
    assert fetcher.next_retry_in(1.0) == 1.0
    clock[0] += 1.0
    fetcher.fetch(req)
    assert fetcher.fetches == 3, "back to the normal interval once it works"


def test_the_back_off_is_capped_at_the_interval_and_errors_cover_only_what_was_asked(
        sim: Any, namespace: str, client: KubeClient) -> None:
    pod_with_log(sim, namespace, "one")
    sim.faults.add(f"error:500;verbs=get;namespace={namespace};resources=pods")
    clock = [0.0]
    fetcher = LogFetcher(client, namespace, min_interval=2.0, retry_initial=0.5, clock=lambda: clock[0])
    req = [LogRequest(pod="p", container="c")]
    waits = []
    for _ in range(5):
        fetcher.fetch(req)
        waits.append(fetcher.next_retry_in(10.0))
        clock[0] += waits[-1]
    assert waits == [0.5, 1.0, 2.0, 2.0, 2.0]
    assert "500" in fetcher.errors()[("p", "c")]
    fetcher.fetch([])                                   # no longer asked for: no error, no wake-ups
    assert fetcher.errors() == {} and fetcher.next_retry_in(10.0) == 10.0


def test_a_readable_previous_log_means_the_container_has_its_lines(sim: Any, namespace: str,
                                                                   client: KubeClient) -> None:
    """Crash loop: the restarted container has no log yet (the API says 400), its previous run has."""
    pod_with_log(sim, namespace, "panic: boom")
    sim.store.logs.restart(namespace, "p", "c")
    fetcher = LogFetcher(client, namespace)
    fetcher.fetch([LogRequest(pod="p", container="c", previous=True),
                   LogRequest(pod="p", container="nope")])
    assert fetcher.logs() == {("p", "c"): ("panic: boom",)}
    assert set(fetcher.errors()) == {("p", "nope")}
