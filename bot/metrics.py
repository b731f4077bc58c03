"""The bot's Prometheus metrics, defined once and updated by the layer that knows.

One registry per process (`REGISTRY`), exposed on /metrics. Label values are bounded sets (outcomes, methods,
clusters, kinds): never a release name with a revision, never anything a user typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

DEPLOYS = Counter("helmbot_deploys_total", "Deploys followed to a verdict, by operation, origin and outcome",
                  ["cluster", "operation", "origin", "outcome"], registry=REGISTRY)
ACTIVE_TRACKS = Gauge("helmbot_active_tracks", "Releases being followed right now", ["cluster"],
                      registry=REGISTRY)
TIME_TO_VERDICT = Histogram("helmbot_time_to_verdict_seconds", "From the start of tracking to the verdict",
                            ["outcome"], registry=REGISTRY,
                            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200))
SLACK_CALLS = Counter("helmbot_slack_calls_total", "Slack Web API calls, by method and result",
                      ["method", "result"], registry=REGISTRY)
SLACK_RATE_LIMITED = Counter("helmbot_slack_rate_limited_total", "Slack 429 answers, by method", ["method"],
                             registry=REGISTRY)
KUBE_ERRORS = Counter("helmbot_kube_errors_total", "Kubernetes API errors, by cluster and kind of error",
                      ["cluster", "error"], registry=REGISTRY)
CLUSTER_REACHABLE = Gauge("helmbot_cluster_reachable",
                          "1 while the cluster's API server answers helmbot's probes, 0 while it does not",
                          ["cluster"], registry=REGISTRY)
LEADER = Gauge("helmbot_leader", "1 when this replica is the leader (tracks and posts)", registry=REGISTRY)
OUTBOX_DEPTH = Gauge("helmbot_outbox_depth", "Slack messages stored but not yet delivered", registry=REGISTRY)
COMMANDS = Counter("helmbot_commands_total", "Slash commands and clicks, by name and outcome",
                   ["name", "outcome"], registry=REGISTRY)


class _KubeRequests(Collector):
    """helmbot_kube_requests_total, read at scrape time from each cluster client's own request counter
    (keys "verb Kind"), so the hot path counts once, in one place."""

    def __init__(self) -> None:
        self.sources: dict[str, Callable[[], Mapping[str, int]]] = {}

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily("helmbot_kube_requests",
                                     "Kubernetes API requests, by cluster, verb and kind",
                                     labels=["cluster", "verb", "kind"])
        for cluster, snapshot in sorted(self.sources.items()):
            for key, count in sorted(snapshot().items()):
                verb, _, kind = key.partition(" ")
                family.add_metric([cluster, verb, kind], count)
        yield family


KUBE_REQUESTS = _KubeRequests()
REGISTRY.register(KUBE_REQUESTS)


def count_kube_requests(cluster: str, snapshot: Callable[[], Mapping[str, int]]) -> None:
    KUBE_REQUESTS.sources[cluster] = snapshot


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
