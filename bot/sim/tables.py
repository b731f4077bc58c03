"""meta.k8s.io/v1 Table responses (what `kubectl get`, `get -w` and `helm status` print)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.sim.selectors import selector_string

Row = Callable[[dict, datetime], list[Any]]


def age(ts: str | None, now: datetime) -> str:
    """kubectl's HumanDuration."""
    if not ts:
        return "<unknown>"
    then = datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    s = max(0, int((now - then).total_seconds()))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d"


def pod_status(pod: dict) -> str:
    """The STATUS column kubectl shows for a pod."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    init_specs = (pod.get("spec") or {}).get("initContainers") or []
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or f"ExitCode:{term.get('exitCode')}")
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        break
    else:
        running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                reason = f"ExitCode:{state['terminated'].get('exitCode')}"
            elif state.get("running") and cs.get("ready"):
                running = True
        if reason == "Completed" and running:
            reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _restarts(statuses: list[dict], now: datetime) -> str:
    """kubectl's RESTARTS: the count, and how long ago the last one ended (`3 (5s ago)`)."""
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    finished = [
        ((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt") for c in statuses
    ]
    last = max((f for f in finished if f), default=None)
    if restarts and last:
        return f"{restarts} ({age(last, now)} ago)"
    return str(restarts)


def _readiness_gates(p: dict) -> str:
    gates = (p.get("spec") or {}).get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = (p.get("status") or {}).get("conditions") or []
    true = {c.get("type") for c in conditions if c.get("status") == "True"}
    return f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"


def _pod(p: dict, now: datetime) -> list[Any]:
    statuses = (p.get("status") or {}).get("containerStatuses") or []
    total = len((p.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    status = p.get("status") or {}
    return [
        p["metadata"]["name"],
        f"{ready}/{total}",
        pod_status(p),
        _restarts(statuses, now),
        age(p["metadata"].get("creationTimestamp"), now),
        status.get("podIP") or "<none>",
        (p.get("spec") or {}).get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        _readiness_gates(p),
    ]


def _images(obj: dict) -> tuple[str, str]:
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _deploy(d: dict, now: datetime) -> list[Any]:
    st, spec = d.get("status") or {}, d.get("spec") or {}
    names, images = _images(d)
    return [
        d["metadata"]["name"],
        f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        age(d["metadata"].get("creationTimestamp"), now),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _rs(r: dict, now: datetime) -> list[Any]:
    st = r.get("status") or {}
    names, images = _images(r)
    return [
        r["metadata"]["name"],
        (r.get("spec") or {}).get("replicas", 0),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        age(r["metadata"].get("creationTimestamp"), now),
        names,
        images,
        selector_string((r.get("spec") or {}).get("selector")),
    ]


def _sts(s: dict, now: datetime) -> list[Any]:
    st = s.get("status") or {}
    names, images = _images(s)
    return [
        s["metadata"]["name"],
        f"{st.get('readyReplicas', 0)}/{(s.get('spec') or {}).get('replicas', 1)}",
        age(s["metadata"].get("creationTimestamp"), now),
        names,
        images,
    ]


def _ds(d: dict, now: datetime) -> list[Any]:
    st, spec = d.get("status") or {}, d.get("spec") or {}
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    names, images = _images(d)
    return [
        d["metadata"]["name"],
        st.get("desiredNumberScheduled", 0),
        st.get("currentNumberScheduled", 0),
        st.get("numberReady", 0),
        st.get("updatedNumberScheduled", 0),
        st.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>",
        age(d["metadata"].get("creationTimestamp"), now),
        names,
        images,
        selector_string(spec.get("selector")),
    ]


def _job(j: dict, now: datetime) -> list[Any]:
    st, spec = j.get("status") or {}, j.get("spec") or {}
    conds = {c.get("type") for c in st.get("conditions") or [] if c.get("status") == "True"}
    state = (
        "Complete"
        if "Complete" in conds
        else "Failed"
        if "Failed" in conds
        else "Suspended"
        if spec.get("suspend")
        else "Running"
    )
    duration = ""
    if st.get("startTime"):
        end = st.get("completionTime")
        start = datetime.strptime(st["startTime"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        duration = (
            age(
                st["startTime"],
                datetime.strptime(end[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC) if end else now,
            )
            if start
            else ""
        )
    return [
        j["metadata"]["name"],
        state,
        f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}",
        duration,
        age(j["metadata"].get("creationTimestamp"), now),
    ]


def _cronjob(c: dict, now: datetime) -> list[Any]:
    spec, st = c.get("spec") or {}, c.get("status") or {}
    return [
        c["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        str(bool(spec.get("suspend"))),
        len(st.get("active") or []),
        age(st.get("lastScheduleTime"), now) if st.get("lastScheduleTime") else "<none>",
        age(c["metadata"].get("creationTimestamp"), now),
    ]


def _svc(s: dict, now: datetime) -> list[Any]:
    spec = s.get("spec") or {}
    ingress = ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
        "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    )
    ports = (
        ",".join(
            f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
            f"{p.get('protocol', 'TCP')}"
            for p in spec.get("ports") or []
        )
        or "<none>"
    )
    return [
        s["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        external,
        ports,
        age(s["metadata"].get("creationTimestamp"), now),
    ]


def _event(e: dict, now: datetime) -> list[Any]:
    inv = e.get("involvedObject") or e.get("regarding") or {}
    last = (
        e.get("lastTimestamp") or e.get("deprecatedLastTimestamp") or e["metadata"].get("creationTimestamp")
    )
    return [
        age(last, now),
        e.get("type", ""),
        e.get("reason", ""),
        f"{(inv.get('kind') or '').lower()}/{inv.get('name', '')}",
        e.get("message") or e.get("note") or "",
    ]


def _pvc(p: dict, now: datetime) -> list[Any]:
    spec, st = p.get("spec") or {}, p.get("status") or {}
    return [
        p["metadata"]["name"],
        st.get("phase", "Pending"),
        spec.get("volumeName", ""),
        (st.get("capacity") or {}).get("storage", ""),
        ",".join(st.get("accessModes") or []),
        spec.get("storageClassName") or "<unset>",
        age(p["metadata"].get("creationTimestamp"), now),
    ]


def _s(name: str, typ: str = "string", priority: int = 0, fmt: str = "") -> dict:
    return {"name": name, "type": typ, "format": fmt, "description": name, "priority": priority}


_NAME = _s("Name", fmt="name")
_AGE = _s("Age")
COLUMNS: dict[str, tuple[list[dict], Row]] = {
    "/pods": (
        [
            _NAME,
            _s("Ready"),
            _s("Status"),
            _s("Restarts"),
            _AGE,
            _s("IP", priority=1),
            _s("Node", priority=1),
            _s("Nominated Node", priority=1),
            _s("Readiness Gates", priority=1),
        ],
        _pod,
    ),
    "apps/deployments": (
        [
            _NAME,
            _s("Ready"),
            _s("Up-to-date", "integer"),
            _s("Available", "integer"),
            _AGE,
            _s("Containers", priority=1),
            _s("Images", priority=1),
            _s("Selector", priority=1),
        ],
        _deploy,
    ),
    "apps/replicasets": (
        [
            _NAME,
            _s("Desired", "integer"),
            _s("Current", "integer"),
            _s("Ready", "integer"),
            _AGE,
            _s("Containers", priority=1),
            _s("Images", priority=1),
            _s("Selector", priority=1),
        ],
        _rs,
    ),
    "apps/statefulsets": (
        [_NAME, _s("Ready"), _AGE, _s("Containers", priority=1), _s("Images", priority=1)],
        _sts,
    ),
    "apps/daemonsets": (
        [
            _NAME,
            _s("Desired", "integer"),
            _s("Current", "integer"),
            _s("Ready", "integer"),
            _s("Up-to-date", "integer"),
            _s("Available", "integer"),
            _s("Node Selector"),
            _AGE,
            _s("Containers", priority=1),
            _s("Images", priority=1),
            _s("Selector", priority=1),
        ],
        _ds,
    ),
    "batch/jobs": ([_NAME, _s("Status"), _s("Completions"), _s("Duration"), _AGE], _job),
    "batch/cronjobs": (
        [
            _NAME,
            _s("Schedule"),
            _s("Timezone"),
            _s("Suspend"),
            _s("Active", "integer"),
            _s("Last Schedule"),
            _AGE,
        ],
        _cronjob,
    ),
    "/services": ([_NAME, _s("Type"), _s("Cluster-IP"), _s("External-IP"), _s("Port(s)"), _AGE], _svc),
    "/events": ([_s("Last Seen"), _s("Type"), _s("Reason"), _s("Object"), _s("Message")], _event),
    "events.k8s.io/events": (
        [_s("Last Seen"), _s("Type"), _s("Reason"), _s("Object"), _s("Message")],
        _event,
    ),
    "/persistentvolumeclaims": (
        [_NAME, _s("Status"), _s("Volume"), _s("Capacity"), _s("Access Modes"), _s("StorageClass"), _AGE],
        _pvc,
    ),
    "/configmaps": (
        [_NAME, _s("Data", "integer"), _AGE],
        lambda o, now: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(o["metadata"].get("creationTimestamp"), now),
        ],
    ),
    "/secrets": (
        [_NAME, _s("Type"), _s("Data", "integer"), _AGE],
        lambda o, now: [
            o["metadata"]["name"],
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            age(o["metadata"].get("creationTimestamp"), now),
        ],
    ),
    "/namespaces": (
        [_NAME, _s("Status"), _AGE],
        lambda o, now: [
            o["metadata"]["name"],
            (o.get("status") or {}).get("phase", "Active"),
            age(o["metadata"].get("creationTimestamp"), now),
        ],
    ),
}
_DEFAULT: tuple[list[dict], Row] = (
    [_NAME, _AGE],
    lambda o, now: [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"), now)],
)


def _row_object(obj: dict, include: str) -> dict | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(
    key: str, objs: list[dict], *, now: datetime, resource_version: str = "", include_object: str = "Metadata"
) -> dict:
    columns, row = COLUMNS.get(key, _DEFAULT)
    rows = []
    for obj in objs:
        entry: dict[str, Any] = {"cells": row(obj, now)}
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            entry["object"] = embedded
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
