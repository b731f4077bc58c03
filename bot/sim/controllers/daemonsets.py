"""DaemonSet controller: one pod per simulated node, rolling updates bounded by maxUnavailable, OnDelete."""

from __future__ import annotations

import random
from datetime import datetime

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import (
    event,
    int_or_percent,
    is_terminal,
    is_terminating,
    owned,
    pod_available,
    pod_ready,
    random_suffix,
)
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.controllers.replicasets import new_pod
from bot.sim.controllers.revisions import sync_revision
from bot.sim.store import ApiError, Store

COMPONENT = "daemonset-controller"
REV = "controller-revision-hash"


class DaemonSetController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store, self.clock, self.nodes = store, clock, options.nodes
        self.rng = random.Random(options.seed)
        self.guard = Guard(COMPONENT, clock, base=options.error_backoff, cap=options.error_backoff_max)

    def tick(self) -> None:
        now = self.clock.now()
        live = [d for d in self.store.list("apps/daemonsets") if not d["metadata"].get("deletionTimestamp")]
        self.guard.each(live, lambda ds: self.sync(ds, now))

    def sync(self, ds: dict, now: datetime) -> None:
        spec = ds.get("spec") or {}
        rev, _ = sync_revision(self.store, ds, name_prefix=False)
        min_ready = int(spec.get("minReadySeconds") or 0)
        by_node: dict[str, list[dict]] = {n: [] for n in self.nodes}
        for pod in owned(self.store, "/pods", ds):
            node = (pod.get("spec") or {}).get("nodeName", "")
            if node in by_node:
                by_node[node].append(pod)
            elif not is_terminating(pod):
                self._delete(ds, pod)
        for node, pods in by_node.items():
            for pod in pods:
                if is_terminal(pod) and not is_terminating(pod):
                    self._delete(ds, pod)
            live = [p for p in pods if not is_terminating(p) and not is_terminal(p)]
            if not live and not any(is_terminating(p) for p in pods):
                self._create(ds, node, rev)
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            max_unavailable = max(
                1,
                int_or_percent(
                    (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1),
                    len(self.nodes),
                    round_up=True,
                ),
            )
            unavailable = sum(
                1
                for pods in by_node.values()
                if not any(pod_available(p, min_ready, now) and not is_terminating(p) for p in pods)
            )
            for pods in by_node.values():
                for pod in pods:
                    if is_terminating(pod) or (pod["metadata"].get("labels") or {}).get(REV) == rev:
                        continue
                    if not pod_available(pod, min_ready, now):
                        self._delete(ds, pod)
                    elif unavailable < max_unavailable:
                        self._delete(ds, pod)
                        unavailable += 1
        self._status(ds, rev, now)

    def _create(self, ds: dict, node: str, rev: str) -> None:
        meta = ds["metadata"]
        name = f"{meta['name']}-{random_suffix(self.rng)}"
        pod = new_pod(
            ds,
            (ds.get("spec") or {}).get("template") or {},
            name,
            extra_labels={REV: rev, "pod-template-generation": str(meta.get("generation", 1))},
        )
        pod["spec"]["nodeName"] = node
        try:
            self.store.create("/pods", pod)
        except ApiError as exc:
            event(
                self.store,
                ds,
                "FailedCreate",
                f"Error creating: {exc.message}",
                warning=True,
                component=COMPONENT,
            )
            return
        event(self.store, ds, "SuccessfulCreate", f"Created pod: {name}", component=COMPONENT)

    def _delete(self, ds: dict, pod: dict) -> None:
        self.store.delete("/pods", pod["metadata"].get("namespace"), pod["metadata"]["name"])
        event(
            self.store, ds, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", component=COMPONENT
        )

    def _status(self, ds: dict, rev: str, now: datetime) -> None:
        meta, spec = ds["metadata"], ds.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        pods = [p for p in owned(self.store, "/pods", ds) if not is_terminating(p) and not is_terminal(p)]
        desired = len(self.nodes)
        available = sum(pod_available(p, min_ready, now) for p in pods)

        def write(obj: dict) -> None:
            status = {k: v for k, v in (obj.get("status") or {}).items() if k == "conditions"}
            status.update(
                currentNumberScheduled=len(pods),
                desiredNumberScheduled=desired,
                numberMisscheduled=0,
                numberReady=sum(pod_ready(p) for p in pods),
                observedGeneration=meta.get("generation", 1),  # the synced generation, not the fresh one
            )
            for key, value in (
                ("numberAvailable", available),
                ("numberUnavailable", max(0, desired - available)),
                (
                    "updatedNumberScheduled",
                    sum((p["metadata"].get("labels") or {}).get(REV) == rev for p in pods),
                ),
            ):
                if value:
                    status[key] = value
            obj["status"] = status

        self.store.mutate("apps/daemonsets", meta.get("namespace"), meta["name"], write, subresource="status")
