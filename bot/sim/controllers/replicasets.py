"""ReplicaSet controller: keep `spec.replicas` active pods, report ready/available counts."""

from __future__ import annotations

import copy
import random
from datetime import datetime

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import (
    by_creation,
    event,
    is_active,
    owned,
    owner_ref,
    pod_available,
    pod_ready,
    random_suffix,
    remove_condition,
    set_condition,
)
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.selectors import match_label_selector
from bot.sim.store import ApiError, Store

COMPONENT = "replicaset-controller"


def new_pod(owner: dict, template: dict, name: str, *, extra_labels: dict | None = None) -> dict:
    """A pod from a template, controlled by `owner`."""
    tmeta = copy.deepcopy(template.get("metadata") or {})
    labels = {**(tmeta.get("labels") or {}), **(extra_labels or {})}
    meta: dict = {
        "name": name,
        "namespace": owner["metadata"].get("namespace"),
        "labels": labels,
        "ownerReferences": [owner_ref(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = tmeta["annotations"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def delete_rank(pod: dict) -> tuple:
    """Pods deleted first: unscheduled, pending, not ready, newest (like the real controller's ranking)."""
    status = pod.get("status") or {}
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        status.get("phase") == "Running",
        pod_ready(pod),
        -restarts,
        "".join(chr(0x10FFFF - ord(ch)) for ch in pod["metadata"].get("creationTimestamp", "")),
    )


class ReplicaSetController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store, self.clock, self.rng = store, clock, random.Random(options.seed)
        self.guard = Guard(COMPONENT, clock, base=options.error_backoff, cap=options.error_backoff_max)

    def tick(self) -> None:
        now = self.clock.now()
        live = [
            rs for rs in self.store.list("apps/replicasets") if not rs["metadata"].get("deletionTimestamp")
        ]
        self.guard.each(live, lambda rs: self.sync(rs, now))

    def sync(self, rs: dict, now: datetime) -> None:
        meta, spec = rs["metadata"], rs.get("spec") or {}
        pods = [p for p in owned(self.store, "/pods", rs)]
        active = by_creation(p for p in pods if is_active(p))
        want = int(spec.get("replicas", 1))
        failure: str | None = None
        if len(active) < want:
            for _ in range(want - len(active)):
                name = f"{meta['name']}-{random_suffix(self.rng)}"
                try:
                    created = self.store.create("/pods", new_pod(rs, spec.get("template") or {}, name))
                except ApiError as exc:
                    failure = exc.message
                    event(
                        self.store,
                        rs,
                        "FailedCreate",
                        f"Error creating: {exc.message}",
                        warning=True,
                        component=COMPONENT,
                    )
                    break
                active.append(created)
                event(self.store, rs, "SuccessfulCreate", f"Created pod: {name}", component=COMPONENT)
        elif len(active) > want:
            for pod in sorted(active, key=delete_rank)[: len(active) - want]:
                self.store.delete("/pods", meta.get("namespace"), pod["metadata"]["name"])
                event(
                    self.store,
                    rs,
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component=COMPONENT,
                )
                active = [p for p in active if p["metadata"]["uid"] != pod["metadata"]["uid"]]
        min_ready = int(spec.get("minReadySeconds") or 0)
        tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}

        def write(obj: dict) -> None:
            status = obj.setdefault("status", {})
            status["replicas"] = len(active)
            for key, value in (
                (
                    "fullyLabeledReplicas",
                    sum(
                        match_label_selector({"matchLabels": tlabels}, p["metadata"].get("labels"))
                        for p in active
                    ),
                ),
                ("readyReplicas", sum(pod_ready(p) for p in active)),
                ("availableReplicas", sum(pod_available(p, min_ready, now) for p in active)),
            ):
                if value:
                    status[key] = value
                else:
                    status.pop(key, None)
            status["observedGeneration"] = meta.get("generation", 1)  # the synced one, not the fresh one
            if failure:
                set_condition(status, "ReplicaFailure", "True", "FailedCreate", failure, now)
            else:
                remove_condition(status, "ReplicaFailure")

        self.store.mutate(
            "apps/replicasets", meta.get("namespace"), meta["name"], write, subresource="status"
        )
