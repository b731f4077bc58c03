"""Benchmark one bot serving a fleet: Kubernetes requests per minute per cluster as clusters are added.

    .venv/bin/python benchmarks/bench_fleet.py [--clusters 1 2 4] [--namespaces 2] [--per-namespace 10]

For each fleet size it starts that many Kubernetes stand-ins (each its own process, `helmbot sim kube`),
creates the same releases in each (bench_service's Helm release Secret + Deployment whose pod turns Ready
after `--ready-after` seconds) and runs the bot's per-cluster background work against all of them at once,
with the bot's own pieces: a KubeCluster per cluster (shared informers), the TrackingService following every
release, the release detector scanning each namespace on its informer's changes and every 10 s, and the
fleet's health probe of each cluster every 5 s. It reports, per size, the requests per minute each cluster
receives in steady state (every release in progress): the point is that this number stays flat as clusters
are added (nothing is shared or repeated across clusters), while the bot's CPU grows with the releases it
follows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_service import cpu_seconds, create_releases, rss_mib, start_standin

from bot.app.detection import ReleaseDetector, Route
from bot.app.fleet import Fleet
from bot.app.operations import Operations, new_deploy_id
from bot.app.tracking import TrackingService, TrackSettings
from bot.config import parse_config
from bot.core.status import Policy
from bot.kube.client import new_client
from bot.kube.cluster import KubeCluster
from bot.scheduler import ApsTickScheduler
from bot.store import open_store
from bot.store.records import DeployRecord

DETECT_INTERVAL = timedelta(seconds=10)
HEALTH_INTERVAL = timedelta(seconds=5)


class _NoSink:
    """Slack is not what is measured here (bench_service measures it): the story goes nowhere."""

    def thread_messages(self, record: DeployRecord, summary: Any, events: Any) -> list[Any]:
        return []

    def wake(self) -> None:
        return None


def _fleet_config(names: list[str]) -> str:
    clusters = "\n".join(f"  {name}: {{}}" for name in names)
    return f"clusters:\n{clusters}\nnotices:\n  default_channel: C0BENCH\n"


def _probe(fleet: Fleet, name: str) -> Callable[[], None]:
    def probe() -> None:
        fleet.check(name, announce=False)

    return probe


def _waker(scheduler: ApsTickScheduler, key: str) -> Callable[[], None]:
    return lambda: scheduler.wake(key)


def _scanner(detector: ReleaseDetector, cluster: str, namespace: str) -> Callable[[], None]:
    def scan() -> None:
        detector.scan(cluster, namespace)

    return scan


def run(
    clusters: int, namespaces: int, per_namespace: int, ready_after: float, steady: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="helmbot-fleet-") as tmp:
        work = Path(tmp)
        standins = []
        try:
            kube: dict[str, KubeCluster] = {}
            ns_names = [f"bench-{i}" for i in range(namespaces)]
            for index in range(clusters):
                sub = work / f"c{index}"
                sub.mkdir()
                proc, kubeconfig = start_standin(sub)
                standins.append(proc)
                create_releases(kubeconfig, sub, ns_names, per_namespace, ready_after)
                kube[f"c{index}"] = KubeCluster(f"c{index}", new_client(str(kubeconfig)))
            created = time.monotonic()
            store = open_store(f"sqlite:///{work / 'state.db'}")
            scheduler = ApsTickScheduler(workers=8)
            clock = lambda: datetime.now(UTC)  # noqa: E731
            settings = TrackSettings(
                poll_interval=timedelta(seconds=2), track_timeout=timedelta(minutes=10), policy=Policy()
            )
            tracking = TrackingService(
                store=store, clusters=kube, sink=_NoSink(), scheduler=scheduler, clock=clock,
                settings_for=lambda r: settings,
            )  # fmt: skip
            operations = Operations(
                store=store, clusters=kube, helm_for=lambda name: None,  # type: ignore[arg-type,return-value]
                executor=None,  # type: ignore[arg-type]
                clock=clock, on_revision=lambda r: None, wake_delivery=lambda: None,
            )  # fmt: skip
            detector = ReleaseDetector(
                store=store, clusters=kube, operations=operations, router=lambda t, r: Route(None, "mute"),
                clock=clock, follow=lambda r: None, wake_delivery=lambda: None,
            )  # fmt: skip
            config = parse_config(_fleet_config(list(kube)))
            fleet = Fleet(config=config, store=store, clusters=kube, clock=clock)
            scheduler.start()
            cpu0 = cpu_seconds()
            unwatch = []
            for name, cluster in kube.items():
                scheduler.every(f"health:{name}", HEALTH_INTERVAL, _probe(fleet, name))
                for ns in ns_names:
                    key = f"detect:{name}:{ns}"
                    unwatch.append(cluster.watch_releases(ns, _waker(scheduler, key)))
                    scheduler.every(key, DETECT_INTERVAL, _scanner(detector, name, ns))
                for ns in ns_names:
                    for i in range(per_namespace):
                        now = clock()
                        record = DeployRecord(
                            id=new_deploy_id(), cluster=name, namespace=ns, release=f"app-{i:03d}",
                            revision=1, operation="install", origin="passive", requested_by="bench",
                            status="running", created_at=now,
                        )  # fmt: skip
                        record, _ = store.claim_revision(record, messages=[])
                        tracking.follow(record)
            followed = time.monotonic()
            time.sleep(min(5.0, max(0.0, ready_after - steady - 1)))  # every informer listed and watching
            before = {name: c.client.counter.total for name, c in kube.items()}
            cpu1, t1 = cpu_seconds(), time.monotonic()
            time.sleep(steady)
            after = {name: c.client.counter.total for name, c in kube.items()}
            cpu2, t2 = cpu_seconds(), time.monotonic()
            while store.active_deploys() and time.monotonic() - created < ready_after + 180:
                time.sleep(0.5)
            all_done = time.monotonic()
            per_cluster = {name: round((after[name] - before[name]) / ((t2 - t1) / 60), 1) for name in kube}
            result = {
                "clusters": clusters,
                "releases_per_cluster": namespaces * per_namespace,
                "follow_all_seconds": round(followed - created, 2),
                "requests_per_minute_per_cluster": per_cluster,
                "mean_requests_per_minute_per_cluster": round(sum(per_cluster.values()) / clusters, 1),
                "max_requests_per_minute_per_cluster": max(per_cluster.values()),
                "steady_cpu_percent": round(100 * (cpu2 - cpu1) / (t2 - t1), 1),
                "cpu_seconds_total": round(cpu_seconds() - cpu0, 1),
                "rss_mib": round(rss_mib(), 1),
                "verdicts_after_ready_seconds": round(all_done - created - ready_after, 1),
                "not_finished": len(store.active_deploys()),
                "all_reachable": all(fleet.health(name).reachable for name in kube),
            }
            for stop in unwatch:
                stop()
            scheduler.shutdown()
            tracking.stop_all()
            for cluster in kube.values():
                cluster.close()
            store.close()
            return result
        finally:
            for proc in standins:
                proc.terminate()
                proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--namespaces", type=int, default=2)
    parser.add_argument("--per-namespace", type=int, default=10)
    parser.add_argument("--ready-after", type=float, default=35.0)
    parser.add_argument("--steady", type=float, default=20.0, help="seconds of steady state measured")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running": by design
    results = []
    for count in args.clusters:
        print(f"... {count} cluster(s) x {args.namespaces * args.per_namespace} releases", flush=True)
        results.append(run(count, args.namespaces, args.per_namespace, args.ready_after, args.steady))
    print(f"{'clusters':>8} {'rel/cl':>6} {'req/min/cluster mean':>21} {'max':>6} {'cpu%':>5} {'rss MiB':>8} "
          f"{'verdicts+':>9}")  # fmt: skip
    for r in results:
        mean, top = r["mean_requests_per_minute_per_cluster"], r["max_requests_per_minute_per_cluster"]
        print(
            f"{r['clusters']:>8} {r['releases_per_cluster']:>6} {mean:>21} {top:>6} "
            f"{r['steady_cpu_percent']:>5} {r['rss_mib']:>8} {r['verdicts_after_ready_seconds']:>8}s"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
