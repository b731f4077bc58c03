"""Defaulting like a real apiserver, so clients (and kubernetes-python's strict models) see complete objects.

Spec defaults are applied on every write (idempotent ``setdefault``s), status stubs only on create.
"""

from __future__ import annotations

import base64
from collections.abc import Callable


def _container(c: dict) -> None:
    image = str(c.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_spec(spec: dict, *, restart_policy: str | None = "Always") -> None:
    if restart_policy:
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        _container(c)


def _template(spec: dict, *, restart_policy: str | None = "Always") -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template.get("spec"), dict):
            pod_spec(template["spec"], restart_policy=restart_policy)


def _deployment(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy.setdefault("type", "RollingUpdate")
        ru = strategy.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(spec)


def _statefulset(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"partition": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    _template(spec)


def _daemonset(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    spec.setdefault("revisionHistoryLimit", 10)
    _template(spec)


def _replicaset(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _template(spec)


def _job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _template(spec, restart_policy=None)
    uid, name = obj["metadata"].get("uid"), obj["metadata"].get("name")
    if uid and not spec.get("manualSelector"):
        labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                  "controller-uid": uid, "job-name": name}
        template = spec.setdefault("template", {})
        template_meta = template.setdefault("metadata", {})
        template_meta["labels"] = {**labels, **(template_meta.get("labels") or {})}
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})


def _cronjob(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    job_spec.setdefault("backoffLimit", 6)
    _template(job_spec, restart_policy=None)


def _service(obj: dict, allocate_ip: Callable[[], str], allocate_node_port: Callable[[], int]) -> None:
    spec = obj.setdefault("spec", {})
    stype = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if stype != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = allocate_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if stype in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            port["nodePort"] = allocate_node_port()
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")


def _secret(obj: dict) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {}) or {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data


def _namespace(obj: dict) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    labels = obj["metadata"].setdefault("labels", {})
    labels.setdefault("kubernetes.io/metadata.name", obj["metadata"]["name"])


def _crd_status(obj: dict) -> dict:
    spec = obj.get("spec", {})
    conditions = [{"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": ""}
                  for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                  ("Established", "InitialNamesAccepted", "the initial names are accepted"))]
    stored = [v.get("name") for v in spec.get("versions", []) if v.get("storage")]
    return {"acceptedNames": spec.get("names", {}), "conditions": conditions, "storedVersions": stored}


_SPEC: dict[str, Callable[[dict], None]] = {
    "apps/deployments": _deployment,
    "apps/statefulsets": _statefulset,
    "apps/daemonsets": _daemonset,
    "apps/replicasets": _replicaset,
    "batch/jobs": _job,
    "batch/cronjobs": _cronjob,
    "/secrets": _secret,
    "/namespaces": _namespace,
    "/pods": lambda o: pod_spec(o.setdefault("spec", {})),
    "/persistentvolumeclaims": lambda o: o.setdefault("spec", {}).setdefault("volumeMode", "Filesystem"),
}

_STATUS: dict[str, Callable[[dict], dict]] = {
    "/pods": lambda o: {"phase": "Pending", "qosClass": "BestEffort"},
    "/namespaces": lambda o: {"phase": "Active"},
    "/services": lambda o: {"loadBalancer": {}},
    "/persistentvolumeclaims": lambda o: {"phase": "Pending"},
    "apps/deployments": lambda o: {},
    "apps/replicasets": lambda o: {"replicas": 0},
    "apps/statefulsets": lambda o: {"replicas": 0, "availableReplicas": 0},
    "apps/daemonsets": lambda o: {"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                                  "numberMisscheduled": 0, "numberReady": 0},
    "batch/jobs": lambda o: {},
    "batch/cronjobs": lambda o: {},
    "policy/poddisruptionbudgets": lambda o: {"currentHealthy": 0, "desiredHealthy": 0,
                                              "disruptionsAllowed": 0, "expectedPods": 0},
    "autoscaling/horizontalpodautoscalers": lambda o: {"currentReplicas": 0, "desiredReplicas": 0},
    "networking.k8s.io/ingresses": lambda o: {"loadBalancer": {}},
    "apiextensions.k8s.io/customresourcedefinitions": _crd_status,
}


_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def _same_ips(a: dict, b: dict) -> bool:
    return list(a.get("clusterIPs") or []) == list(b.get("clusterIPs") or [])


def _drop_same_node_ports(spec: dict, old_spec: dict) -> None:
    """Leaving NodePort/LoadBalancer releases the node ports, unless the write set new ones."""
    def node_ports(s: dict) -> list:
        return [p.get("nodePort") for p in s.get("ports") or []]

    if node_ports(spec) == node_ports(old_spec) or not any(node_ports(spec)):
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)


def keep_allocated(key: str, new: dict, old: dict) -> None:
    """What the apiserver's service REST does on update before validating (`patchAllocatedValues`,
    `normalizeClusterIPs`, `dropTypeDependentFields`): a write that leaves out the allocated clusterIP(s) or
    nodePorts keeps them, one that only sets `clusterIP` moves `clusterIPs` along, and a switch to
    ExternalName drops the unchanged ones."""
    if key != "/services":
        return
    spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
    needs, old_needs = spec.get("type", "ClusterIP") != "ExternalName", old_spec.get("type") != "ExternalName"
    if needs and old_needs:
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs") \
                and spec.get("clusterIP") == old_spec.get("clusterIP"):
            spec["clusterIPs"] = list(old_spec["clusterIPs"])
        if spec.get("clusterIP") != old_spec.get("clusterIP") and _same_ips(spec, old_spec):
            spec["clusterIPs"] = [spec["clusterIP"]]
        if old_spec.get("type") in _NODE_PORT_TYPES and spec.get("type") not in _NODE_PORT_TYPES:
            _drop_same_node_ports(spec, old_spec)
        if spec.get("type") not in _NODE_PORT_TYPES or old_spec.get("type") not in _NODE_PORT_TYPES:
            return
        old_ports = old_spec.get("ports") or []
        node_ports = {p.get("name"): p.get("nodePort") for p in old_ports if p.get("nodePort")}
        used = {p.get("nodePort") for p in spec.get("ports") or []}
        for port in spec.get("ports") or []:
            if not port.get("nodePort") and node_ports.get(port.get("name")) not in used:
                port["nodePort"] = node_ports.get(port.get("name"))
                if port["nodePort"] is None:
                    del port["nodePort"]
    elif old_needs and not needs:
        unchanged_ip = spec.get("clusterIP", old_spec.get("clusterIP")) == old_spec.get("clusterIP")
        if unchanged_ip and (_same_ips(spec, old_spec) or "clusterIPs" not in spec):
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
                spec.pop(field, None)


def apply_defaults(key: str, obj: dict, *, creating: bool, allocate_ip: Callable[[], str],
                   allocate_node_port: Callable[[], int], now: str) -> None:
    """Default `obj` (a deep copy owned by the store) in place."""
    if key == "/services":
        _service(obj, allocate_ip, allocate_node_port)
    elif key in _SPEC:
        _SPEC[key](obj)
    if creating and key in _STATUS and not obj.get("status"):
        status = _STATUS[key](obj)
        for cond in status.get("conditions", []):
            cond["lastTransitionTime"] = now
        obj["status"] = status
