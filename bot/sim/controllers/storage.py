"""Volume provisioning: every pending PVC is bound at once to a fresh volume (like a default StorageClass
with Immediate binding). Also Endpoints for Services with a selector, so `kubectl describe svc` looks real."""

from __future__ import annotations

import contextlib

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import event, is_active, pod_ready
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.selectors import match_label_selector
from bot.sim.store import ApiError, Store

PROVISIONER = "rancher.io/local-path"
MANAGED = "endpoints.kubernetes.io/last-change-trigger-time"


class VolumeController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store = store
        self.guard = Guard(
            "persistentvolume-binder", clock, base=options.error_backoff, cap=options.error_backoff_max
        )

    def tick(self) -> None:
        self.guard.each(self.store.list("/persistentvolumeclaims"), self.sync)

    def sync(self, pvc: dict) -> None:
        meta = pvc["metadata"]
        if meta.get("deletionTimestamp") or (pvc.get("status") or {}).get("phase") == "Bound":
            return
        volume = (pvc.get("spec") or {}).get("volumeName") or f"pvc-{meta['uid']}"
        request = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get(
            "storage", "1Gi"
        )

        def bind(o: dict, volume: str = volume) -> None:
            o.setdefault("spec", {})["volumeName"] = volume
            ann = o["metadata"].setdefault("annotations", {})
            ann.update(
                {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.kubernetes.io/storage-provisioner": PROVISIONER,
                }
            )

        def bound(o: dict, request: str = request) -> None:
            o["status"] = {
                "phase": "Bound",
                "accessModes": (o.get("spec") or {}).get("accessModes") or ["ReadWriteOnce"],
                "capacity": {"storage": request},
            }

        ns = meta.get("namespace")
        self.store.mutate("/persistentvolumeclaims", ns, meta["name"], bind)
        self.store.mutate("/persistentvolumeclaims", ns, meta["name"], bound, subresource="status")
        event(
            self.store,
            pvc,
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {volume}",
            component=PROVISIONER,
        )


class EndpointsController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store = store
        self.guard = Guard(
            "endpoint-controller", clock, base=options.error_backoff, cap=options.error_backoff_max
        )

    def tick(self) -> None:
        services = self.store.list("/services")
        names = {(s["metadata"].get("namespace"), s["metadata"]["name"]) for s in services}
        for ep in self.store.list("/endpoints"):
            meta = ep["metadata"]
            if (
                MANAGED in (meta.get("annotations") or {})
                and (meta.get("namespace"), meta["name"]) not in names
            ):
                self.store.delete("/endpoints", meta.get("namespace"), meta["name"])
        self.guard.each(services, self.sync)

    def sync(self, svc: dict) -> None:
        meta, spec = svc["metadata"], svc.get("spec") or {}
        if not spec.get("selector") or meta.get("deletionTimestamp"):
            return
        ns = meta.get("namespace")
        pods = [
            p
            for p in self.store.list("/pods", ns)
            if is_active(p)
            and (p.get("status") or {}).get("podIP")
            and match_label_selector({"matchLabels": spec["selector"]}, p["metadata"].get("labels"))
        ]
        addrs = [
            {
                "ip": p["status"]["podIP"],
                "nodeName": (p.get("spec") or {}).get("nodeName", ""),
                "targetRef": {
                    "kind": "Pod",
                    "name": p["metadata"]["name"],
                    "namespace": ns,
                    "uid": p["metadata"]["uid"],
                },
            }
            for p in pods
        ]
        ready = [a for a, p in zip(addrs, pods, strict=True) if pod_ready(p)]
        not_ready = [a for a, p in zip(addrs, pods, strict=True) if not pod_ready(p)]
        ports = [ep for ep in (_endpoint_port(port, pods) for port in spec.get("ports") or []) if ep]
        subset: dict = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if subset and ports:
            subset["ports"] = ports
        body = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": meta["name"],
                "namespace": ns,
                "labels": dict(meta.get("labels") or {}),
                "annotations": {MANAGED: meta.get("creationTimestamp", "")},
            },
            "subsets": [subset] if subset else [],
        }
        current = self.store.get("/endpoints", ns, meta["name"])
        if current is None:
            with contextlib.suppress(ApiError):
                self.store.create("/endpoints", body)
        elif current.get("subsets") != body["subsets"]:

            def fn(o: dict, subsets: object = body["subsets"]) -> None:
                o["subsets"] = subsets

            self.store.mutate("/endpoints", ns, meta["name"], fn)


def _endpoint_port(port: dict, pods: list[dict]) -> dict | None:
    """A Service port as an Endpoints port: a named targetPort is looked up in the pods' container ports."""
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, str) and not target.isdigit():
        named = [
            cp.get("containerPort")
            for p in pods
            for c in (p.get("spec") or {}).get("containers") or []
            for cp in c.get("ports") or []
            if cp.get("name") == target
        ]
        if not named:
            return None
        target = named[0]
    if target is None:
        return None
    out = {"port": int(target), "protocol": port.get("protocol", "TCP")}
    if port.get("name"):
        out["name"] = port["name"]
    return out
