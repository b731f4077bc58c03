"""StatefulSet controller: ordinal pods, OrderedReady/Parallel, rolling updates with partition, OnDelete."""

from __future__ import annotations

import copy
from datetime import datetime

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import (
    event,
    is_terminal,
    is_terminating,
    owned,
    pod_available,
    pod_ready,
)
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.controllers.replicasets import new_pod
from bot.sim.controllers.revisions import sync_revision
from bot.sim.store import ApiError, Store

COMPONENT = "statefulset-controller"
REV = "controller-revision-hash"


def _ordinal(pod: dict, set_name: str) -> int:
    suffix = pod["metadata"]["name"][len(set_name) + 1 :]
    return int(suffix) if suffix.isdigit() else -1


class StatefulSetController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store, self.clock = store, clock
        self.guard = Guard(COMPONENT, clock, base=options.error_backoff, cap=options.error_backoff_max)

    def tick(self) -> None:
        now = self.clock.now()
        live = [s for s in self.store.list("apps/statefulsets") if not s["metadata"].get("deletionTimestamp")]
        self.guard.each(live, lambda sts: self.sync(sts, now))

    def sync(self, sts: dict, now: datetime) -> None:
        meta, spec = sts["metadata"], sts.get("spec") or {}
        name = meta["name"]
        update_rev, _ = sync_revision(self.store, sts, name_prefix=True)
        current_rev = (sts.get("status") or {}).get("currentRevision") or update_rev
        replicas = int(spec.get("replicas", 1))
        ordered = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        strategy = spec.get("updateStrategy") or {}
        pods = {_ordinal(p, name): p for p in owned(self.store, "/pods", sts)}
        healthy = lambda p: pod_ready(p) and not is_terminating(p)  # noqa: E731
        # failed pods are replaced (a real StatefulSet deletes and recreates them)
        for pod in list(pods.values()):
            if is_terminal(pod) and not is_terminating(pod):
                self._delete(sts, pod)
        # create missing ordinals in order
        for ordinal in range(replicas):
            existing = pods.get(ordinal)
            if existing is None:
                pods[ordinal] = self._create(sts, ordinal, update_rev)
                if ordered:
                    break
            elif ordered and not healthy(existing):
                break
        else:
            # scale down from the highest ordinal
            extra = sorted((o for o in pods if o >= replicas), reverse=True)
            for ordinal in extra:
                pod = pods[ordinal]
                if not is_terminating(pod):
                    self._delete(sts, pod)
                if ordered:
                    break
            if not extra and strategy.get("type", "RollingUpdate") == "RollingUpdate":
                self._roll(
                    sts,
                    pods,
                    replicas,
                    update_rev,
                    int((strategy.get("rollingUpdate") or {}).get("partition") or 0),
                    ordered,
                )
        self._status(sts, update_rev, current_rev, now)

    def _roll(
        self, sts: dict, pods: dict[int, dict], replicas: int, update_rev: str, partition: int, ordered: bool
    ) -> None:
        if ordered and not all(
            o in pods and pod_ready(pods[o]) and not is_terminating(pods[o]) for o in range(replicas)
        ):
            return
        for ordinal in range(replicas - 1, partition - 1, -1):
            pod = pods.get(ordinal)
            if pod is None or is_terminating(pod):
                return
            if (pod["metadata"].get("labels") or {}).get(REV) != update_rev:
                self._delete(sts, pod)
                return

    def _create(self, sts: dict, ordinal: int, rev: str) -> dict:
        meta, spec = sts["metadata"], sts.get("spec") or {}
        pod_name = f"{meta['name']}-{ordinal}"
        template = copy.deepcopy(spec.get("template") or {})
        pod_spec = template.setdefault("spec", {})
        for claim in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{claim['metadata']['name']}-{pod_name}"
            self._ensure_claim(sts, claim, claim_name, pod_name)
            vols = pod_spec.setdefault("volumes", [])
            if not any(v.get("name") == claim["metadata"]["name"] for v in vols):
                vols.append(
                    {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
                )
        pod = new_pod(
            sts,
            template,
            pod_name,
            extra_labels={
                REV: rev,
                "statefulset.kubernetes.io/pod-name": pod_name,
                "apps.kubernetes.io/pod-index": str(ordinal),
            },
        )
        pod["spec"]["hostname"] = pod_name
        if spec.get("serviceName"):
            pod["spec"]["subdomain"] = spec["serviceName"]
        try:
            created = self.store.create("/pods", pod)
        except ApiError as exc:
            event(
                self.store,
                sts,
                "FailedCreate",
                f"create Pod {pod_name} in StatefulSet {meta['name']} failed error: {exc.message}",
                warning=True,
                component=COMPONENT,
            )
            return pod
        event(
            self.store,
            sts,
            "SuccessfulCreate",
            f"create Pod {pod_name} in StatefulSet {meta['name']} successful",
            component=COMPONENT,
        )
        return created

    def _ensure_claim(self, sts: dict, claim: dict, claim_name: str, pod_name: str) -> None:
        ns = sts["metadata"].get("namespace")
        if self.store.get("/persistentvolumeclaims", ns, claim_name) is not None:
            return
        labels = dict(((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {})
        body = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim_name, "namespace": ns, "labels": labels},
            "spec": copy.deepcopy(claim.get("spec") or {}),
        }
        try:
            self.store.create("/persistentvolumeclaims", body)
        except ApiError:
            return
        event(
            self.store,
            sts,
            "SuccessfulCreate",
            f"create Claim {claim_name} Pod {pod_name} in StatefulSet {sts['metadata']['name']} success",
            component=COMPONENT,
        )

    def _delete(self, sts: dict, pod: dict) -> None:
        self.store.delete("/pods", pod["metadata"].get("namespace"), pod["metadata"]["name"])
        event(
            self.store,
            sts,
            "SuccessfulDelete",
            f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful",
            component=COMPONENT,
        )

    def _status(self, sts: dict, update_rev: str, current_rev: str, now: datetime) -> None:
        meta, spec = sts["metadata"], sts.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        min_ready = int(spec.get("minReadySeconds") or 0)
        pods = [p for p in owned(self.store, "/pods", sts) if not is_terminating(p)]
        rev_of = lambda p: (p["metadata"].get("labels") or {}).get(REV)  # noqa: E731
        updated = sum(rev_of(p) == update_rev for p in pods)
        ready = sum(pod_ready(p) for p in pods)
        if updated == replicas and ready == replicas and len(pods) == replicas:
            current_rev = update_rev
        current = sum(rev_of(p) == current_rev for p in pods)

        def write(obj: dict) -> None:
            status = {k: v for k, v in (obj.get("status") or {}).items() if k == "conditions"}
            status.update(
                observedGeneration=meta.get("generation", 1),  # the synced generation, not the fresh one
                replicas=len(pods),
                availableReplicas=sum(pod_available(p, min_ready, now) for p in pods),
                currentRevision=current_rev,
                updateRevision=update_rev,
                collisionCount=0,
            )
            for key, value in (
                ("readyReplicas", ready),
                ("currentReplicas", current),
                ("updatedReplicas", updated),
            ):
                if value:
                    status[key] = value
            obj["status"] = status

        self.store.mutate(
            "apps/statefulsets", meta.get("namespace"), meta["name"], write, subresource="status"
        )
