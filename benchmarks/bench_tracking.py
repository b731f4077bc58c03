"""Benchmark the tracking path against the Kubernetes stand-in (a script, not a test).

    .venv/bin/python benchmarks/bench_tracking.py [--json out.json] [--releases 200]

For each `shop` scenario it starts the real helm, tracks the release through `bot.kube.runner.run_tracker`
(shared informers over HTTP, as `helmbot watch` does) and reports:
- visible→verdict: from the moment the deciding state was written to the stand-in's store (a store listener
  records it: the failing pod status / Job condition, or for successes the last of "release Secret deployed"
  and "workload fully available") to the tracker's VERDICT event;
- Kubernetes requests per tracked release (total, and per minute over the tracking time), from the request
  counter in bot/kube/client.py; and a steady-state rate from a release that stays in progress;
- memory for many tracked releases: N trackers fed the view sequence recorded in the success scenario
  (namespaces rewritten), measured with tracemalloc, plus the mean observe() time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.events import EventType, TrackEvent
from bot.core.status import Policy
from bot.core.tracking import ClusterView, ReleaseTracker
from bot.kube.client import RequestCounter, new_client
from bot.kube.informer import InformerRegistry
from bot.kube.runner import RunnerSettings, run_tracker
from bot.sim.binaries import ensure_binaries
from bot.sim.cluster import Cluster

SHOP = str(Path(__file__).resolve().parents[1] / "bot" / "sim" / "charts" / "shop")
POLICY = Policy(config_error_grace=timedelta(seconds=2))


class RecordingTracker(ReleaseTracker):
    """Keeps every view it was given, to replay them into many trackers for the memory measurement."""

    views: list[tuple[ClusterView, datetime]]

    def observe(self, view: ClusterView, now: datetime) -> list[TrackEvent]:
        self.views.append((view, now))
        return super().observe(view, now)


@dataclasses.dataclass
class Scenario:
    name: str
    setup: list[list[str]]             # helm commands run to completion first
    action: list[str]                  # the helm command being tracked (runs in the background)
    revision: int
    expect: str                        # outcome
    visible: Callable[[str, str, dict], bool]   # (event type, store key, object) -> the deciding write


def _waiting(obj: dict, reasons: tuple[str, ...]) -> bool:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    return any(((cs.get("state") or {}).get("waiting") or {}).get("reason") in reasons for cs in statuses)


def _job_failed(key: str, obj: dict) -> bool:
    return key == "batch/jobs" and any(c.get("type") == "Failed" and c.get("status") == "True"
                                       for c in (obj.get("status") or {}).get("conditions") or [])


class SuccessWatch:
    """For success scenarios: the later of 'release Secret deployed' and 'Deployment fully available'."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.deployed = self.available = False

    def __call__(self, etype: str, key: str, obj: dict) -> bool:
        md = obj.get("metadata") or {}
        labels = md.get("labels") or {}
        ours = labels.get("owner") == "helm" and labels.get("version") == str(self.revision)
        if key == "/secrets" and ours:
            self.deployed = labels.get("status") == "deployed"
        if key == "apps/deployments":
            st, want = obj.get("status") or {}, (obj.get("spec") or {}).get("replicas", 1)
            gen_ok = st.get("observedGeneration") == md.get("generation")
            self.available = bool(gen_ok and st.get("updatedReplicas") == want
                                  and st.get("availableReplicas") == want and st.get("replicas") == want)
        return self.deployed and self.available


def scenarios() -> list[Scenario]:
    base = ["install", "shop", SHOP, "--set", "web.replicas=2", "--wait", "--timeout", "60s"]
    up = ["upgrade", "shop", SHOP, "--reuse-values"]
    return [
        Scenario("success (install)", [], ["install", "shop", SHOP, "--set", "web.replicas=2"], 1,
                 "succeeded", SuccessWatch(1)),
        Scenario("crash loop (upgrade)", [base], [*up, "--set", "web.crash=true"], 2, "failed",
                 lambda e, k, o: k == "/pods" and _waiting(o, ("CrashLoopBackOff",))),
        Scenario("bad image (upgrade)", [base], [*up, "--set", "web.image=registry.invalid/shop/web:2"], 2,
                 "failed", lambda e, k, o: k == "/pods" and _waiting(o, ("ErrImagePull", "ImagePullBackOff"))
                 ),
        Scenario("failing migration hook", [base], [*up, "--set", "migration.fail=true"], 2, "failed",
                 lambda e, k, o: _job_failed(k, o)),
        Scenario("rollback (pre-rollback hook)", [base, [*up, "--set", "web.readySeconds=0.2"]],
                 ["rollback", "shop", "1"], 3, "succeeded", SuccessWatch(3)),
    ]


class Bench:
    def __init__(self) -> None:
        self.binaries = ensure_binaries()
        self.home = Path(tempfile.mkdtemp(prefix="helmbot-bench-"))
        self.cluster = Cluster(port=0, pod_grace_seconds=0.5).start()
        self.kubeconfig = self.cluster.write_kubeconfig(self.home / "kubeconfig")
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
                    "KUBECONFIG": str(self.kubeconfig), "HELM_CACHE_HOME": str(self.home / "hc"),
                    "HELM_CONFIG_HOME": str(self.home / "hcfg"), "HELM_DATA_HOME": str(self.home / "hd")}
        self.recorded: RecordingTracker | None = None

    def helm(self, args: list[str], namespace: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(self.binaries.helm), *args, "-n", namespace], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)

    def run(self, sc: Scenario, index: int) -> dict[str, Any]:
        ns = f"bench-{index}"
        self.cluster.store.create("/namespaces", {"metadata": {"name": ns}})
        for args in sc.setup:
            if self.helm(args, ns).wait(120) != 0:
                raise RuntimeError(f"setup failed: helm {' '.join(args)}")
        visible: dict[str, float] = {}

        def listener(etype: str, key: str, obj: dict) -> None:
            if "at" not in visible and (obj.get("metadata") or {}).get("namespace") == ns \
                    and sc.visible(etype, key, obj):
                visible["at"] = time.monotonic()
                visible["rv"] = float((obj.get("metadata") or {}).get("resourceVersion") or 0)

        self.cluster.store.add_listener(listener)
        counter = RequestCounter()
        client = new_client(str(self.kubeconfig), counter=counter)
        registry = InformerRegistry(client)
        tracker = RecordingTracker(namespace=ns, release_name="shop", revision=sc.revision,
                                   started_at=datetime.now(UTC), timeout=timedelta(seconds=90),
                                   policy=POLICY)
        tracker.views = []
        verdict: dict[str, Any] = {}

        def on_event(event: TrackEvent) -> None:
            if event.type is EventType.VERDICT:
                verdict["at"] = time.monotonic()

        started = time.monotonic()
        helm: subprocess.Popen[str] | None = None
        try:
            thread = threading.Thread(target=lambda: verdict.setdefault("event", run_tracker(
                registry, namespace=ns, release="shop", revision=sc.revision, on_event=on_event,
                on_summary=lambda s: None, stop=threading.Event(), tracker=tracker,
                settings=RunnerSettings())))
            thread.start()
            # Start helm once the informers hold their first lists, as a pipeline's watch would.
            while counter.total < 20 and time.monotonic() - started < 10:
                time.sleep(0.01)
            helm = self.helm(sc.action, ns)
            thread.join(120)
        finally:
            if helm is not None:
                helm.wait(120)
            self.cluster.store.remove_listener(listener)
            registry.close()
            client.close()
        event: TrackEvent | None = verdict.get("event")
        tracked = (verdict.get("at", time.monotonic()) - started)
        outcome = event.outcome.value if event and event.outcome else "none"
        if sc.name.startswith("success"):
            self.recorded = tracker
        latency = verdict["at"] - visible["at"] if "at" in verdict and "at" in visible else None
        return {
            "scenario": sc.name, "outcome": outcome, "expected": sc.expect,
            "visible_to_verdict_ms": round(latency * 1000) if latency is not None else None,
            "tracking_seconds": round(tracked, 2),
            "requests": counter.total,
            "requests_per_minute": round(counter.total / (tracked / 60), 1) if tracked else None,
            "requests_by_verb": counter.snapshot(),
            "observes": len(tracker.views),
        }

    def steady_state(self, seconds: float) -> dict[str, Any]:
        """A release that stays in progress: what following it costs once the informers are running."""
        ns = "bench-steady"
        self.cluster.store.create("/namespaces", {"metadata": {"name": ns}})
        self.helm(["install", "shop", SHOP, "--set", "web.replicas=1", "--set", "web.neverReady=true"],
                  ns).wait(120)
        counter = RequestCounter()
        client = new_client(str(self.kubeconfig), counter=counter)
        registry = InformerRegistry(client)
        stop = threading.Event()
        thread = threading.Thread(target=run_tracker, args=(registry,), kwargs=dict(
            namespace=ns, release="shop", revision=1, on_event=lambda e: None, on_summary=lambda s: None,
            stop=stop, policy=POLICY))
        thread.start()
        time.sleep(3)  # initial lists and watches
        after_sync = counter.total
        time.sleep(seconds)
        steady = counter.total - after_sync
        stop.set()
        thread.join(30)
        registry.close()
        client.close()
        return {"initial_requests": after_sync, "steady_seconds": seconds, "steady_requests": steady,
                "steady_requests_per_minute": round(steady / (seconds / 60), 1),
                "by_verb": counter.snapshot()}

    def close(self) -> None:
        self.cluster.stop()


def _rename(obj: Mapping[str, Any], ns: str) -> dict[str, Any]:
    md = dict(obj.get("metadata") or {})
    md["namespace"] = ns
    return {**obj, "metadata": md}


def memory(recorded: RecordingTracker, count: int) -> dict[str, Any]:
    """N trackers, each fed the recorded view sequence rewritten to its own namespace."""
    views = recorded.views
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    base_size = sum(s.size for s in base.statistics("filename"))
    trackers: list[ReleaseTracker] = []
    observe_time = 0.0
    observes = 0
    for i in range(count):
        ns = f"mem-{i}"
        tracker = ReleaseTracker(namespace=ns, release_name="shop", revision=1,
                                 started_at=views[0][1], timeout=timedelta(minutes=10), policy=POLICY)
        for view, now in views:
            release = dataclasses.replace(view.release, namespace=ns) if view.release else None
            local = ClusterView(release=release,
                                objects={k: [_rename(o, ns) for o in v] for k, v in view.objects.items()},
                                logs=view.logs)
            t0 = time.perf_counter()
            tracker.observe(local, now)
            observe_time += time.perf_counter() - t0
            observes += 1
        trackers.append(tracker)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    done = sum(1 for t in trackers if t.done)
    state_bytes = sum(len(json.dumps(t.to_state())) for t in trackers)
    return {
        "trackers": count, "views_per_tracker": len(views), "finished": done,
        "traced_current_mib": round((current - base_size) / 2**20, 2),
        "traced_peak_mib": round(peak / 2**20, 2),
        "per_tracker_kib": round((current - base_size) / count / 1024, 1),
        "state_json_kib_per_tracker": round(state_bytes / count / 1024, 1),
        "observe_mean_ms": round(observe_time / observes * 1000, 3),
        "rss_max_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--releases", type=int, default=200, help="trackers for the memory measurement")
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)

    bench = Bench()
    try:
        results = [bench.run(sc, i) for i, sc in enumerate(scenarios())]
        steady = bench.steady_state(args.steady_seconds)
    finally:
        bench.close()
    mem = memory(bench.recorded, args.releases) if bench.recorded and bench.recorded.views else {}

    print(f"{'scenario':32} {'outcome':10} {'visible→verdict':>16} {'tracked':>8} {'requests':>9} "
          f"{'req/min':>8}")
    for r in results:
        lat = f"{r['visible_to_verdict_ms']} ms" if r["visible_to_verdict_ms"] is not None else "n/a"
        flag = "" if r["outcome"] == r["expected"] else f" (expected {r['expected']})"
        print(f"{r['scenario']:32} {r['outcome'] + flag:10} {lat:>16} {r['tracking_seconds']:>7}s "
              f"{r['requests']:>9} {r['requests_per_minute']:>8}")
    print(f"\nsteady state (one release in progress, {steady['steady_seconds']:g}s after sync): "
          f"{steady['initial_requests']} initial requests (list+watch per kind), then "
          f"{steady['steady_requests']} requests = {steady['steady_requests_per_minute']}/min")
    if mem:
        print(f"\nmemory: {mem['trackers']} trackers x {mem['views_per_tracker']} views "
              f"({mem['finished']} reached a verdict): {mem['traced_current_mib']} MiB retained "
              f"({mem['per_tracker_kib']} KiB/tracker; state JSON {mem['state_json_kib_per_tracker']} KiB), "
              f"peak {mem['traced_peak_mib']} MiB, observe() mean {mem['observe_mean_ms']} ms, "
              f"process max RSS {mem['rss_max_mib']} MiB")
    if args.json:
        args.json.write_text(json.dumps({"scenarios": results, "steady_state": steady, "memory": mem},
                                        indent=2))
    return 0 if all(r["outcome"] == r["expected"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
