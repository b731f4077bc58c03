"""Benchmark the bot's background tracking at scale (a script, not a test).

    .venv/bin/python benchmarks/bench_service.py [--namespaces 5] [--per-namespace 20 100] [--json out.json]

For each size it runs the Kubernetes stand-in as its own process (`helmbot sim kube`), creates N Helm releases
(a release Secret + the Deployment its manifest names, one replica whose pod becomes Ready after
`--ready-after` seconds), and follows all of them at once with the bot's own pieces (KubeCluster's shared
informers, TrackingService on APScheduler ticks, the SQLite store, the Slack sink and delivery worker against
the Slack stand-in). It reports, per size:
- Kubernetes requests per minute while every release is in progress (steady state), in total and per
  namespace: flat in the number of releases per namespace is the point (one list+watch per kind per
  namespace, shared by every tracker there);
- CPU seconds and resident memory of the bot's process (the stand-ins' CPU is apart: the Kubernetes one
  runs in its own process);
- time until every release has its verdict once the pods turn Ready;
- Slack calls by method (one parent per release, coalesced updates, thread replies).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app.operations import new_deploy_id  # noqa: E402
from bot.app.tracking import TrackingService, TrackSettings  # noqa: E402
from bot.core.status import Policy  # noqa: E402
from bot.kube.client import new_client  # noqa: E402
from bot.kube.cluster import KubeCluster  # noqa: E402
from bot.scheduler import ApsTickScheduler  # noqa: E402
from bot.sim.binaries import ensure_binaries  # noqa: E402
from bot.sim.slack import SlackStandIn  # noqa: E402
from bot.slack.delivery import DeliveryWorker  # noqa: E402
from bot.slack.render import DeployCard  # noqa: E402
from bot.slack.sink import SlackSink  # noqa: E402
from bot.store import open_store  # noqa: E402
from bot.store.records import DeployRecord, OutboxMessage  # noqa: E402
from tests.core.release_fixtures import release_secret  # noqa: E402

CHANNELS_PER = 10  # releases per channel: Slack paces posts per channel (about one a second)


def deployment(name: str, namespace: str, ready_after: float) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}
    script = json.dumps({"readySeconds": ready_after})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": f"example/{name}:1",
                            "env": [{"name": "HELMBOT_SIM_SCRIPT", "value": script}],
                        }
                    ]
                },
            },
        },
    }


def start_standin(work: Path) -> tuple[subprocess.Popen[bytes], Path]:
    kubeconfig = work / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sim", "kube", "--kubeconfig-out", str(kubeconfig)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not kubeconfig.exists() or not kubeconfig.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the Kubernetes stand-in did not start")
        time.sleep(0.1)
    return proc, kubeconfig


def create_releases(
    kubeconfig: Path, work: Path, namespaces: list[str], per_namespace: int, ready_after: float
) -> list[tuple[str, str]]:
    kubectl = str(ensure_binaries().kubectl)
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces
    ]
    releases = []
    for ns in namespaces:
        for i in range(per_namespace):
            name = f"app-{i:03d}"
            dep = deployment(name, ns, ready_after)
            secret = release_secret(
                name,
                1,
                "deployed",
                manifest_objects=[dep],
                namespace=ns,
                chart_name="app",
                description="Install complete",
                last_deployed=datetime.now(UTC),
            )
            for key in ("resourceVersion", "creationTimestamp"):
                secret["metadata"].pop(key, None)
            docs += [dep, secret]
            releases.append((ns, name))
    path = work / "objects.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), "create", "-f", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return releases


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def ready_to_verdict(client: Any, store: Any, releases: list[tuple[str, str]]) -> list[float]:
    """Per release: from its Deployment turning Available in the API (the condition's transition time,
    whole seconds) to helmbot's verdict."""
    became: dict[tuple[str, str], datetime] = {}
    for ns in sorted({ns for ns, _ in releases}):
        for dep in client.list("Deployment", ns).get("items") or []:
            for cond in (dep.get("status") or {}).get("conditions") or []:
                if cond.get("type") == "Available" and cond.get("status") == "True":
                    when = datetime.fromisoformat(str(cond["lastTransitionTime"]).replace("Z", "+00:00"))
                    became[(ns, dep["metadata"]["name"])] = when
    out = []
    for ns, name in releases:
        record = next(iter(store.recent_deploys("default", ns, name, limit=1)), None)
        if record is not None and record.finished_at is not None and (ns, name) in became:
            out.append(max(0.0, (record.finished_at - became[(ns, name)]).total_seconds()))
    return sorted(out)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))], 2)


def run(namespaces: int, per_namespace: int, ready_after: float, steady: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="helmbot-bench-") as tmp:
        work = Path(tmp)
        sim, kubeconfig = start_standin(work)
        slack = SlackStandIn()
        slack.start()
        channels = [f"C0BENCH{i:03d}" for i in range(namespaces * per_namespace // CHANNELS_PER + 1)]
        for channel in channels:
            slack.add_channel(channel, channel.lower())
        try:
            names = [f"bench-{i}" for i in range(namespaces)]
            releases = create_releases(kubeconfig, work, names, per_namespace, ready_after)
            created = time.monotonic()
            client = new_client(str(kubeconfig))
            cluster = KubeCluster("default", client)
            store = open_store(f"sqlite:///{work / 'state.db'}")
            scheduler = ApsTickScheduler(workers=8)
            clock = lambda: datetime.now(UTC)  # noqa: E731

            def card(record: DeployRecord) -> DeployCard:
                return DeployCard(
                    deploy_id=record.id,
                    release_label=record.release,
                    namespace=record.namespace,
                    operation=record.operation,
                    origin=record.origin,
                    requested_by=record.requested_by or "bench",
                    started_at=record.created_at,
                    revision=record.revision,
                )

            from slack_sdk import WebClient

            web = WebClient(token=slack.bot_token, base_url=slack.api_url)
            sink = SlackSink(card_for=card, clock=clock)
            delivery = DeliveryWorker(web, store, sink.render_parent, clock=clock)
            sink._wake = delivery.wake
            settings = TrackSettings(
                poll_interval=timedelta(seconds=2), track_timeout=timedelta(minutes=10), policy=Policy()
            )
            tracking = TrackingService(
                store=store,
                clusters={"default": cluster},
                sink=sink,
                scheduler=scheduler,
                clock=clock,
                settings_for=lambda r: settings,
            )
            scheduler.start()
            delivery.start()
            cpu0 = cpu_seconds()
            for index, (ns, name) in enumerate(releases):
                channel = channels[index // CHANNELS_PER]
                now = clock()
                record = DeployRecord(
                    id=new_deploy_id(),
                    cluster="default",
                    namespace=ns,
                    release=name,
                    revision=1,
                    operation="install",
                    origin="passive",
                    requested_by="bench",
                    channel=channel,
                    status="running",
                    created_at=now,
                )
                record, _ = store.claim_revision(
                    record,
                    messages=[
                        OutboxMessage(
                            key=f"parent:{record.id}",
                            channel=channel,
                            kind="post",
                            deploy_id=record.id,
                            created_at=now,
                        )
                    ],
                )
                tracking.follow(record)
            followed = time.monotonic()
            time.sleep(min(5.0, max(0.0, ready_after - steady - 1)))  # every informer synced and watching
            requests0, cpu1, t1 = client.counter.total, cpu_seconds(), time.monotonic()
            time.sleep(steady)
            requests1, cpu2, t2 = client.counter.total, cpu_seconds(), time.monotonic()
            while store.active_deploy_refs() and time.monotonic() - created < ready_after + 180:
                time.sleep(0.5)
            all_done = time.monotonic()
            left = len(store.active_deploy_refs())
            latencies = ready_to_verdict(client, store, releases)
            delivery.stop(drain=300)
            drained = time.monotonic()
            scheduler.shutdown()
            tracking.stop_all()
            calls = Counter(c.method if c.ok else f"{c.method} {c.error or c.status}" for c in slack.calls)
            per_minute = (requests1 - requests0) / ((t2 - t1) / 60)
            result = {
                "releases": len(releases),
                "namespaces": namespaces,
                "per_namespace": per_namespace,
                "follow_all_seconds": round(followed - created, 2),
                "steady_requests_per_minute": round(per_minute, 1),
                "steady_requests_per_minute_per_namespace": round(per_minute / namespaces, 1),
                "steady_cpu_percent": round(100 * (cpu2 - cpu1) / (t2 - t1), 1),
                "cpu_seconds_total": round(cpu_seconds() - cpu0, 1),
                "rss_mib": round(rss_mib(), 1),
                "requests_total": client.counter.total,
                "verdicts_after_ready_seconds": round(all_done - created - ready_after, 1),
                "not_finished": left,
                "ready_to_verdict_p50_seconds": _percentile(latencies, 0.5),
                "ready_to_verdict_p95_seconds": _percentile(latencies, 0.95),
                "ready_to_verdict_max_seconds": _percentile(latencies, 1.0),
                "slack_drained_after_verdicts_seconds": round(drained - all_done, 1),
                "slack_calls_per_release": round(sum(calls.values()) / len(releases), 2),
                "slack_calls": dict(sorted(calls.items())),
            }
            cluster.close()
            store.close()
            return result
        finally:
            slack.stop()
            sim.terminate()
            sim.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=5)
    parser.add_argument("--per-namespace", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--ready-after", type=float, default=40.0)
    parser.add_argument("--steady", type=float, default=20.0, help="seconds of steady state measured")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running": by design
    results = []
    for per_ns in args.per_namespace:
        print(f"... {args.namespaces} namespaces x {per_ns} releases", flush=True)
        results.append(run(args.namespaces, per_ns, args.ready_after, args.steady))
    header = (f"{'releases':>8} {'ns':>3} {'req/min':>8} {'req/min/ns':>10} {'cpu%':>5} {'rss MiB':>8} "
              f"{'ready→verdict p50/p95':>22} {'posts':>6} {'updates':>8} {'calls/release':>13}")
    print(header)
    for r in results:
        calls = r["slack_calls"]
        latency = f"{r['ready_to_verdict_p50_seconds']}s/{r['ready_to_verdict_p95_seconds']}s"
        print(f"{r['releases']:>8} {r['namespaces']:>3} {r['steady_requests_per_minute']:>8} "
              f"{r['steady_requests_per_minute_per_namespace']:>10} {r['steady_cpu_percent']:>5} "
              f"{r['rss_mib']:>8} {latency:>22} {calls.get('chat.postMessage', 0):>6} "
              f"{calls.get('chat.update', 0):>8} {r['slack_calls_per_release']:>13}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
