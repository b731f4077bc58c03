"""Builders for Kubernetes objects shaped exactly like the API server returns them (defaulted fields,
conditions with lastTransitionTime, ownerReferences, controller labels), for status and tracker tests.

Conventions:
- Every builder returns a fresh plain dict; keyword arguments override the interesting fields and the rest
  is filled in the way the real controllers would (counters of a finished rollout, matching conditions).
- Times: `T0` is the reference instant; pass datetimes, or use `at(seconds)` for T0 + seconds.
- uids are deterministic (uuid5 of kind/namespace/name), so `owner_ref(obj)` and selectors line up.
- Controllers' pods: `pod_for(owner, ...)` builds a pod of a ReplicaSet, StatefulSet, DaemonSet or Job with
  the labels and ownerReferences that controller sets (pod-template-hash, controller-revision-hash,
  pod-template-generation, batch.kubernetes.io/job-name, controller-uid).
- Container states: `running()`, `waiting()`, `terminated()` build containerStatuses entries; a pod's
  conditions (PodScheduled, Initialized, ContainersReady, Ready) are derived from them unless overridden.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
NAMESPACE = "default"
IMAGE = "registry.example.com/shop/web:1.0.0"

Obj = dict[str, Any]


def at(seconds: float) -> datetime:
    """T0 + seconds."""
    return T0 + timedelta(seconds=seconds)


def ts(when: datetime) -> str:
    """RFC 3339 Time as the API writes it (second precision, Z)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_ts(when: datetime) -> str:
    """MicroTime (events.k8s.io eventTime)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def uid_for(kind: str, name: str, namespace: str | None = NAMESPACE) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8s://{kind}/{namespace or ''}/{name}"))


_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated hashes


def short_hash(*parts: object, length: int = 10) -> str:
    """A pod-template-hash / revision-hash looking string, deterministic in `parts`."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def object_meta(
    kind: str,
    name: str,
    namespace: str | None = NAMESPACE,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    generation: int | None = None,
    created: datetime = T0,
    owner: Mapping[str, Any] | None = None,
    deleted: datetime | None = None,
    uid: str | None = None,
) -> Obj:
    m: Obj = {
        "creationTimestamp": ts(created),
        "name": name,
        "resourceVersion": str(1000 + int(short_hash(kind, name, length=3).encode().hex(), 16) % 9000),
        "uid": uid or uid_for(kind, name, namespace),
    }
    if namespace is not None:
        m["namespace"] = namespace
    if generation is not None:
        m["generation"] = generation
    if labels:
        m["labels"] = dict(labels)
    if annotations:
        m["annotations"] = dict(annotations)
    if owner is not None:
        m["ownerReferences"] = [owner_ref(owner)]
    if deleted is not None:
        m["deletionTimestamp"] = ts(deleted)
        m["deletionGracePeriodSeconds"] = 30
    return m


def owner_ref(owner: Mapping[str, Any], *, controller: bool = True) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "blockOwnerDeletion": True,
        "controller": controller,
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }


def cond(
    ctype: str,
    status: str = "True",
    reason: str | None = None,
    message: str | None = None,
    *,
    since: datetime = T0,
    probe: bool = False,
    update: bool = False,
    observed_generation: int | None = None,
) -> Obj:
    """A status condition. `probe` adds lastProbeTime: null (pods, Jobs), `update` lastUpdateTime
    (Deployments), `observed_generation` the per-condition observedGeneration (Flux, cert-manager)."""
    c: Obj = {"lastTransitionTime": ts(since), "status": status, "type": ctype}
    if observed_generation is not None:
        c["observedGeneration"] = observed_generation
    if probe:
        c["lastProbeTime"] = None
    if update:
        c["lastUpdateTime"] = ts(since)
    if reason is not None:
        c["reason"] = reason
    if message is not None:
        c["message"] = message
    return c


# ---------------------------------------------------------------------------------------------------
# pod templates and containers


def container(name: str = "web", image: str = IMAGE, **extra: Any) -> Obj:
    c: Obj = {
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "name": name,
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    c.update(extra)
    return c


def pod_spec(
    containers: Sequence[Mapping[str, Any]] | None = None,
    init_containers: Sequence[Mapping[str, Any]] = (),
    restart_policy: str = "Always",
    **extra: Any,
) -> Obj:
    spec: Obj = {
        "containers": [dict(c) for c in (containers if containers is not None else [container()])],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": restart_policy,
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
    }
    if init_containers:
        spec["initContainers"] = [dict(c) for c in init_containers]
    spec.update(extra)
    return spec


def pod_template(labels: Mapping[str, str], spec: Mapping[str, Any] | None = None) -> Obj:
    return {"metadata": {"labels": dict(labels)}, "spec": dict(spec or pod_spec())}


def _image_id(image: str) -> str:
    return f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _container_id(name: str, restarts: int) -> str:
    return "containerd://" + hashlib.sha256(f"{name}/{restarts}".encode()).hexdigest()


def _last_terminated(name: str, restarts: int, exit_code: int | None, reason: str | None) -> Obj:
    if exit_code is None:
        return {}
    return {
        "terminated": {
            "containerID": _container_id(name, restarts - 1),
            "exitCode": exit_code,
            "finishedAt": ts(at(30)),
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": ts(at(25)),
        }
    }


def running(
    name: str = "web",
    *,
    ready: bool = True,
    started: bool | None = True,
    restarts: int = 0,
    since: datetime = T0,
    image: str = IMAGE,
    last_exit_code: int | None = None,
    last_reason: str | None = None,
) -> Obj:
    """containerStatuses entry of a running container."""
    cs: Obj = {
        "containerID": _container_id(name, restarts),
        "image": image,
        "imageID": _image_id(image),
        "lastState": _last_terminated(name, restarts, last_exit_code, last_reason),
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ts(since)}},
    }
    if started is not None:
        cs["started"] = started
    return cs


def waiting(
    name: str = "web",
    reason: str = "ContainerCreating",
    message: str | None = None,
    *,
    restarts: int = 0,
    image: str = IMAGE,
    last_exit_code: int | None = None,
    last_reason: str | None = None,
) -> Obj:
    """containerStatuses entry of a waiting container (CrashLoopBackOff: pass last_exit_code)."""
    if message is None and reason == "CrashLoopBackOff":
        message = f"back-off 40s restarting failed container={name} pod=POD_NAME"
    state: Obj = {"reason": reason}
    if message:
        state["message"] = message
    cs: Obj = {
        "image": image,
        "imageID": _image_id(image) if restarts else "",
        "lastState": _last_terminated(name, restarts, last_exit_code, last_reason),
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "started": False,
        "state": {"waiting": state},
    }
    if restarts:
        cs["containerID"] = _container_id(name, restarts - 1)
    return cs


def terminated(
    name: str = "web",
    exit_code: int = 0,
    reason: str | None = None,
    *,
    restarts: int = 0,
    image: str = IMAGE,
    message: str | None = None,
) -> Obj:
    """containerStatuses entry of a terminated container (reason defaults to Completed / Error)."""
    state: Obj = {
        "containerID": _container_id(name, restarts),
        "exitCode": exit_code,
        "finishedAt": ts(at(20)),
        "reason": reason or ("Completed" if exit_code == 0 else "Error"),
        "startedAt": ts(at(5)),
    }
    if message:
        state["message"] = message
    return {
        "containerID": _container_id(name, restarts),
        "image": image,
        "imageID": _image_id(image),
        "lastState": {},
        "name": name,
        "ready": False,
        "restartCount": restarts,
        "started": False,
        "state": {"terminated": state},
    }


CREATING = "__creating__"  # pod(containers=CREATING): statuses of a pod whose containers are being created


def pod(
    name: str = "web-7d9c5b8f6c-x2k4p",
    *,
    namespace: str = NAMESPACE,
    labels: Mapping[str, str] | None = None,
    owner: Mapping[str, Any] | None = None,
    phase: str | None = None,
    containers: Sequence[Mapping[str, Any]] | str | None = None,
    init_containers: Sequence[Mapping[str, Any]] | None = None,
    spec: Mapping[str, Any] | None = None,
    restart_policy: str | None = None,
    created: datetime = T0,
    unschedulable: str | None = None,
    unschedulable_since: datetime | None = None,
    scheduled: bool = True,
    conditions: Sequence[Mapping[str, Any]] | None = None,
    reason: str | None = None,
    message: str | None = None,
    deleted: datetime | None = None,
    node: str = "node-1",
) -> Obj:
    """A pod; `containers` / `init_containers` are containerStatuses entries (default: one running, ready
    container "web"). Phase and conditions follow from them unless given. `unschedulable="0/3 nodes..."`
    builds a Pending pod with PodScheduled=False/Unschedulable."""
    if unschedulable is not None:
        scheduled = False
    if containers == CREATING:
        containers = None
        statuses: list[Obj] = []
        creating = True
    else:
        statuses = [dict(c) for c in (containers if containers is not None else [running()])]
        creating = False
    init_statuses = [dict(c) for c in init_containers or ()]
    if spec is None:
        spec = pod_spec(
            [container(c["name"], c.get("image", IMAGE)) for c in statuses] or [container()],
            [container(c["name"], c.get("image", IMAGE)) for c in init_statuses],
            restart_policy or "Always",
        )
    else:
        spec = copy.deepcopy(dict(spec))
        if restart_policy:
            spec["restartPolicy"] = restart_policy
        known = {c["name"] for c in spec.get("initContainers") or ()}
        extra_init = [
            container(c["name"], c.get("image", IMAGE)) for c in init_statuses if c["name"] not in known
        ]
        if extra_init:  # statuses for init containers the given spec lacks: add them, as the API would have
            spec["initContainers"] = [*(spec.get("initContainers") or ()), *extra_init]
    if scheduled:
        spec = {**spec, "nodeName": node}
    if creating or not scheduled:
        statuses = []
    if creating:
        statuses = [waiting(c["name"], "ContainerCreating", image=c["image"]) for c in spec["containers"]]
        if spec.get("initContainers") and not init_statuses:
            statuses = [waiting(c["name"], "PodInitializing", image=c["image"]) for c in spec["containers"]]
            init_statuses = [
                waiting(c["name"], "PodInitializing", image=c["image"]) for c in spec["initContainers"]
            ]

    def all_(items: list[Obj], pred: Any) -> bool:
        return all(pred(c) for c in items)

    init_done = all_(init_statuses, lambda c: (c["state"].get("terminated") or {}).get("exitCode") == 0)
    ready = bool(statuses) and all_(statuses, lambda c: c.get("ready") is True)
    if phase is None:
        if not scheduled or not statuses:
            phase = "Pending"
        elif all_(statuses, lambda c: "terminated" in c["state"]):
            codes = [c["state"]["terminated"]["exitCode"] for c in statuses]
            never = spec.get("restartPolicy") == "Never"
            phase = "Succeeded" if all(code == 0 for code in codes) else ("Failed" if never else "Running")
        elif any("running" in c["state"] or "terminated" in c["state"] for c in statuses):
            phase = "Running"
        else:
            phase = "Pending"
    if conditions is None:
        unready = [c["name"] for c in statuses if not c.get("ready")] or [
            c["name"] for c in spec["containers"] if not statuses
        ]
        conds: list[Obj] = []
        if scheduled:
            conds.append(cond("PodReadyToStartContainers", "True" if statuses else "False", probe=True))
            if init_done:
                conds.append(cond("Initialized", probe=True))
            else:
                pending_init = [c["name"] for c in init_statuses if "terminated" not in c["state"]]
                conds.append(
                    cond(
                        "Initialized",
                        "False",
                        "ContainersNotInitialized",
                        f"containers with incomplete status: [{' '.join(pending_init)}]",
                        probe=True,
                    )
                )
            if ready:
                conds += [cond("Ready", probe=True), cond("ContainersReady", probe=True)]
            else:
                why = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
                msg = (
                    None
                    if why == "PodCompleted"
                    else f"containers with unready status: [{' '.join(unready)}]"
                )
                conds += [
                    cond("Ready", "False", why, msg, probe=True),
                    cond("ContainersReady", "False", why, msg, probe=True),
                ]
            conds.append(cond("PodScheduled", probe=True))
        else:
            conds.append(
                cond(
                    "PodScheduled",
                    "False",
                    "Unschedulable",
                    unschedulable or "0/3 nodes are available: 3 Insufficient cpu.",
                    since=unschedulable_since or created,
                    probe=True,
                )
            )
        conditions = conds
    status: Obj = {"conditions": [dict(c) for c in conditions], "phase": phase, "qosClass": "BestEffort"}
    if scheduled:
        status.update({"hostIP": "10.0.0.11", "podIP": "10.244.1.17", "startTime": ts(created)})
        status["containerStatuses"] = statuses
        if init_statuses:
            status["initContainerStatuses"] = init_statuses
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": object_meta(
            "Pod",
            name,
            namespace,
            labels=labels or {"app": "web"},
            owner=owner,
            created=created,
            deleted=deleted,
        ),
        "spec": spec,
        "status": status,
    }


def pod_for(owner: Mapping[str, Any], suffix: str | int = "x2k4p", **overrides: Any) -> Obj:
    """A pod as `owner`'s controller creates it (ReplicaSet, StatefulSet, DaemonSet, Job): its template's
    labels and spec, the controller's labels, an ownerReference. For a StatefulSet, `suffix` is the
    ordinal and `revision=` picks the controller-revision-hash (default: the update revision)."""
    kind = owner["kind"]
    owner_name = owner["metadata"]["name"]
    template = owner["spec"]["template"]
    labels = dict(template["metadata"].get("labels") or {})
    revision = overrides.pop("revision", None)
    if kind == "StatefulSet":
        name = f"{owner_name}-{suffix}"
        labels.update(
            {
                "apps.kubernetes.io/pod-index": str(suffix),
                "controller-revision-hash": revision or owner["status"].get("updateRevision", ""),
                "statefulset.kubernetes.io/pod-name": name,
            }
        )
    elif kind == "DaemonSet":
        name = f"{owner_name}-{suffix}"
        generation = (owner["metadata"].get("annotations") or {}).get(
            "deprecated.daemonset.template.generation", owner["metadata"].get("generation", 1)
        )
        labels.setdefault("controller-revision-hash", revision or short_hash(owner_name, generation))
        labels.setdefault("pod-template-generation", str(generation))
    else:
        name = f"{owner_name}-{suffix}"
    labels.update(overrides.pop("labels", None) or {})
    overrides.setdefault("spec", template["spec"])
    return pod(
        name, namespace=owner["metadata"].get("namespace", NAMESPACE), labels=labels, owner=owner, **overrides
    )


# ---------------------------------------------------------------------------------------------------
# Deployment and ReplicaSet


def _percent(value: int | str, replicas: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    pct = int(value.rstrip("%"))
    whole, rest = divmod(pct * replicas, 100)
    return whole + (1 if round_up and rest else 0)


def deployment(
    name: str = "web",
    *,
    namespace: str = NAMESPACE,
    replicas: int = 3,
    image: str = IMAGE,
    revision: int = 1,
    generation: int = 1,
    observed_generation: int | None = None,
    updated: int | None = None,
    ready: int | None = None,
    available: int | None = None,
    status_replicas: int | None = None,
    paused: bool = False,
    progress_deadline_seconds: int | None = 600,
    max_unavailable: int | str = "25%",
    max_surge: int | str = "25%",
    min_ready_seconds: int = 0,
    progressing: tuple[str, str] | None = None,
    replica_failure: tuple[str, str] | None = None,
    conditions: Sequence[Mapping[str, Any]] | None = None,
    labels: Mapping[str, str] | None = None,
    created: datetime = T0,
    deleted: datetime | None = None,
) -> Obj:
    """A Deployment; by default fully rolled out. Counters not given default to `replicas`; the
    Progressing and Available conditions follow from them (`progressing=(status, reason)` overrides,
    e.g. ("False", "ProgressDeadlineExceeded")); `replica_failure=(reason, message)` adds ReplicaFailure."""
    app_labels = dict(labels or {"app": name})
    observed = generation if observed_generation is None else observed_generation
    updated = replicas if updated is None else updated
    ready = replicas if ready is None else ready
    available = replicas if available is None else available
    status_replicas = replicas if status_replicas is None else status_replicas
    rs_name = f"{name}-{short_hash(name, image, revision)}"
    if conditions is None:
        done = updated == ready == available == status_replicas == replicas
        max_unavail = _percent(max_unavailable, replicas, round_up=False)
        conds = []
        if available >= replicas - max_unavail:
            conds.append(
                cond(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    update=True,
                )
            )
        else:
            conds.append(
                cond(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    update=True,
                )
            )
        if progress_deadline_seconds is not None:
            if progressing is not None:
                p_status, p_reason = progressing
            elif done:
                p_status, p_reason = "True", "NewReplicaSetAvailable"
            else:
                p_status, p_reason = "True", "ReplicaSetUpdated"
            p_message = {
                "NewReplicaSetAvailable": f'ReplicaSet "{rs_name}" has successfully progressed.',
                "ReplicaSetUpdated": f'ReplicaSet "{rs_name}" is progressing.',
                "ProgressDeadlineExceeded": f'ReplicaSet "{rs_name}" has timed out progressing.',
                "NewReplicaSetCreated": f'Created new replica set "{rs_name}"',
                "DeploymentPaused": "Deployment is paused",
            }.get(p_reason, p_reason)
            conds.append(cond("Progressing", p_status, p_reason, p_message, update=True))
        if replica_failure is not None:
            conds.append(cond("ReplicaFailure", "True", replica_failure[0], replica_failure[1], update=True))
        conditions = conds
    spec: Obj = {
        "progressDeadlineSeconds": progress_deadline_seconds,
        "replicas": replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": dict(app_labels)},
        "strategy": {
            "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
            "type": "RollingUpdate",
        },
        "template": pod_template(app_labels, pod_spec([container(name, image)])),
    }
    if progress_deadline_seconds is None:
        del spec["progressDeadlineSeconds"]
    if paused:
        spec["paused"] = True
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    status: Obj = {"conditions": [dict(c) for c in conditions], "observedGeneration": observed}
    for key, value in (
        ("availableReplicas", available),
        ("readyReplicas", ready),
        ("replicas", status_replicas),
        ("updatedReplicas", updated),
    ):
        if value:
            status[key] = value
    if status_replicas - available > 0:
        status["unavailableReplicas"] = status_replicas - available
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(
            "Deployment",
            name,
            namespace,
            labels={**app_labels, "app.kubernetes.io/managed-by": "Helm"},
            annotations={
                "deployment.kubernetes.io/revision": str(revision),
                "meta.helm.sh/release-name": "shop",
            },
            generation=generation,
            created=created,
            deleted=deleted,
        ),
        "spec": spec,
        "status": status,
    }


def replica_set_for(
    dep: Mapping[str, Any],
    *,
    revision: int | None = None,
    image: str | None = None,
    replicas: int | None = None,
    ready: int | None = None,
    available: int | None = None,
    created: datetime = T0,
    replica_failure: tuple[str, str] | None = None,
) -> Obj:
    """The ReplicaSet `dep`'s controller made for `revision` (default: the Deployment's current one, with its
    template). An older revision gets a different image (`image`), hence a different pod-template-hash."""
    dep_name = dep["metadata"]["name"]
    current_revision = int(dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    revision = current_revision if revision is None else revision
    template = copy.deepcopy(dep["spec"]["template"])
    dep_image = template["spec"]["containers"][0]["image"]
    if image is None:
        image = dep_image if revision == current_revision else f"{dep_image.rsplit(':', 1)[0]}:0.{revision}"
    template["spec"]["containers"][0]["image"] = image
    template_hash = short_hash(dep_name, image, revision)
    template["metadata"]["labels"]["pod-template-hash"] = template_hash
    desired = dep["spec"].get("replicas", 1)
    if replicas is None:
        replicas = desired if revision == current_revision else 0
    ready = replicas if ready is None else ready
    available = ready if available is None else available
    selector = copy.deepcopy(dep["spec"]["selector"])
    selector["matchLabels"]["pod-template-hash"] = template_hash
    status: Obj = {"fullyLabeledReplicas": replicas, "observedGeneration": 1, "replicas": replicas}
    if ready:
        status["readyReplicas"] = ready
    if available:
        status["availableReplicas"] = available
    if not replicas:
        del status["fullyLabeledReplicas"]
    if replica_failure is not None:
        status["conditions"] = [cond("ReplicaFailure", "True", replica_failure[0], replica_failure[1])]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": object_meta(
            "ReplicaSet",
            f"{dep_name}-{template_hash}",
            dep["metadata"].get("namespace", NAMESPACE),
            labels=template["metadata"]["labels"],
            annotations={
                "deployment.kubernetes.io/desired-replicas": str(desired),
                "deployment.kubernetes.io/max-replicas": str(desired + 1),
                "deployment.kubernetes.io/revision": str(revision),
            },
            generation=1,
            owner=dep,
            created=created,
        ),
        "spec": {"replicas": replicas, "selector": selector, "template": template},
        "status": status,
    }


# ---------------------------------------------------------------------------------------------------
# StatefulSet and DaemonSet


def stateful_set(
    name: str = "db",
    *,
    namespace: str = NAMESPACE,
    replicas: int = 3,
    image: str = "registry.example.com/shop/db:1.0.0",
    generation: int = 1,
    observed_generation: int | None = None,
    ready: int | None = None,
    available: int | None = None,
    current: int | None = None,
    updated: int | None = None,
    status_replicas: int | None = None,
    current_revision: str | None = None,
    update_revision: str | None = None,
    partition: int | None = 0,
    update_strategy: str = "RollingUpdate",
    min_ready_seconds: int = 0,
    pod_management_policy: str = "OrderedReady",
) -> Obj:
    """A StatefulSet, by default fully rolled out (currentRevision == updateRevision)."""
    labels = {"app": name}
    revision = update_revision or f"{name}-{short_hash(name, image)}"
    current_revision = current_revision or revision
    ready = replicas if ready is None else ready
    updated = replicas if updated is None else updated
    current = (
        (replicas if current_revision == revision else replicas - updated) if current is None else current
    )
    strategy: Obj = {"type": update_strategy}
    if update_strategy == "RollingUpdate" and partition is not None:
        strategy["rollingUpdate"] = {"partition": partition}
    spec: Obj = {
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "podManagementPolicy": pod_management_policy,
        "replicas": replicas,
        "revisionHistoryLimit": 10,
        "selector": {"matchLabels": dict(labels)},
        "serviceName": name,
        "template": pod_template(labels, pod_spec([container(name, image)])),
        "updateStrategy": strategy,
    }
    if min_ready_seconds:
        spec["minReadySeconds"] = min_ready_seconds
    status: Obj = {
        "availableReplicas": ready if available is None else available,
        "collisionCount": 0,
        "currentReplicas": current,
        "currentRevision": current_revision,
        "observedGeneration": generation if observed_generation is None else observed_generation,
        "readyReplicas": ready,
        "replicas": replicas if status_replicas is None else status_replicas,
        "updateRevision": revision,
        "updatedReplicas": updated,
    }
    for key in ("currentReplicas", "readyReplicas", "updatedReplicas"):
        if not status[key]:
            del status[key]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta("StatefulSet", name, namespace, labels=labels, generation=generation),
        "spec": spec,
        "status": status,
    }


def daemon_set(
    name: str = "agent",
    *,
    namespace: str = NAMESPACE,
    desired: int | None = 3,
    image: str = "registry.example.com/shop/agent:1.0.0",
    generation: int = 1,
    observed_generation: int | None = None,
    current: int | None = None,
    updated: int | None = None,
    ready: int | None = None,
    available: int | None = None,
    update_strategy: str = "RollingUpdate",
    template_generation_annotation: bool = True,
) -> Obj:
    """A DaemonSet, by default rolled out on `desired` nodes; `desired=None` leaves the status empty (the
    controller has not written it). `template_generation_annotation=False` leaves out the
    deprecated.daemonset.template.generation annotation (objects from a client that strips it)."""
    labels = {"app": name}
    strategy: Obj = {"type": update_strategy}
    if update_strategy == "RollingUpdate":
        strategy["rollingUpdate"] = {"maxSurge": 0, "maxUnavailable": 1}
    status: Obj = {}
    if desired is not None:
        ready = desired if ready is None else ready
        status = {
            "currentNumberScheduled": desired if current is None else current,
            "desiredNumberScheduled": desired,
            "numberAvailable": ready if available is None else available,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "observedGeneration": generation if observed_generation is None else observed_generation,
            "updatedNumberScheduled": desired if updated is None else updated,
        }
        if status["numberAvailable"] < desired:
            status["numberUnavailable"] = desired - status["numberAvailable"]
    annotations = {"deprecated.daemonset.template.generation": str(generation)}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": object_meta(
            "DaemonSet",
            name,
            namespace,
            labels=labels,
            annotations=annotations if template_generation_annotation else None,
            generation=generation,
        ),
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": dict(labels)},
            "template": pod_template(labels, pod_spec([container(name, image)])),
            "updateStrategy": strategy,
        },
        "status": status,
    }


def controller_revision(owner: Mapping[str, Any], revision: int, revision_hash: str | None = None) -> Obj:
    """A ControllerRevision of a StatefulSet or DaemonSet (`revision_hash` defaults to the one pod_for
    gives a DaemonSet's pods of template generation `revision`)."""
    owner_name = owner["metadata"]["name"]
    revision_hash = revision_hash or short_hash(owner_name, revision)
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": object_meta(
            "ControllerRevision",
            f"{owner_name}-{revision_hash}",
            owner["metadata"].get("namespace", NAMESPACE),
            labels={**owner["spec"]["selector"]["matchLabels"], "controller-revision-hash": revision_hash},
            owner=owner,
        ),
        "data": {"spec": {"template": {"$patch": "replace"}}},
        "revision": revision,
    }


# ---------------------------------------------------------------------------------------------------
# Job and CronJob


def job_complete_conditions(since: datetime = T0 + timedelta(seconds=30)) -> list[Obj]:
    """Kubernetes ≥ 1.31: SuccessCriteriaMet, then Complete."""
    msg = "Reached expected number of succeeded pods"
    return [
        cond("SuccessCriteriaMet", "True", "CompletionsReached", msg, since=since, probe=True),
        cond("Complete", "True", "CompletionsReached", msg, since=since, probe=True),
    ]


JOB_FAILURE_MESSAGES = {
    "BackoffLimitExceeded": "Job has reached the specified backoff limit",
    "DeadlineExceeded": "Job was active longer than specified deadline",
    "PodFailurePolicy": (
        "Container main for pod default/migrate-abcde failed with exit code 3"
        " matching FailJob rule at index 0"
    ),
    "MaxFailedIndexesExceeded": "Job has exceeded the specified maximal number of failed indexes",
}


def job_failed_conditions(
    reason: str = "BackoffLimitExceeded",
    since: datetime = T0 + timedelta(seconds=60),
    *,
    terminal: bool = True,
) -> list[Obj]:
    """FailureTarget (≥ 1.31, while pods terminate), then Failed once they have (`terminal`)."""
    msg = JOB_FAILURE_MESSAGES.get(reason, reason)
    conds = [cond("FailureTarget", "True", reason, msg, since=since, probe=True)]
    if terminal:
        conds.append(cond("Failed", "True", reason, msg, since=since, probe=True))
    return conds


def job(
    name: str = "migrate",
    *,
    namespace: str = NAMESPACE,
    image: str = "registry.example.com/shop/migrate:1.0.0",
    completions: int | None = 1,
    parallelism: int = 1,
    backoff_limit: int = 6,
    active: int = 1,
    ready: int = 0,
    succeeded: int = 0,
    failed: int = 0,
    conditions: Sequence[Mapping[str, Any]] = (),
    suspend: bool = False,
    suspended_confirmed: bool = True,
    started: datetime | None = T0,
    restart_policy: str = "Never",
    active_deadline_seconds: int | None = None,
    created: datetime = T0,
    deleted: datetime | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Obj:
    """A Job; by default running its first pod. Finished Jobs: pass `conditions=job_complete_conditions()`
    (and active=0, succeeded=1) or `job_failed_conditions("DeadlineExceeded")`. `suspend=True` adds the
    controller's Suspended=True condition unless `suspended_confirmed=False` (asked, not yet done)."""
    uid = uid_for("Job", name, namespace)
    pod_labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec: Obj = {
        "backoffLimit": backoff_limit,
        "completionMode": "NonIndexed",
        "manualSelector": False,
        "parallelism": parallelism,
        "podReplacementPolicy": "TerminatingOrFailed",
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
        "suspend": suspend,
        "template": pod_template(
            pod_labels, pod_spec([container(name, image)], restart_policy=restart_policy)
        ),
    }
    if completions is not None:
        spec["completions"] = completions
    if active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = active_deadline_seconds
    status: Obj = {"terminating": 0, "uncountedTerminatedPods": {}}
    if active:
        status["active"] = active
    status["ready"] = ready
    if succeeded:
        status["succeeded"] = succeeded
    if failed:
        status["failed"] = failed
    if started is not None and not suspend:
        status["startTime"] = ts(started)
    if suspend and suspended_confirmed and not conditions:
        conditions = [cond("Suspended", "True", "JobSuspended", "Job suspended", probe=True)]
    if conditions:
        status["conditions"] = [dict(c) for c in conditions]
        if any(c["type"] == "Complete" for c in conditions):
            status["completionTime"] = conditions[-1]["lastTransitionTime"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(
            "Job",
            name,
            namespace,
            labels={"app.kubernetes.io/managed-by": "Helm"},
            annotations=annotations,
            generation=1,
            created=created,
            deleted=deleted,
            uid=uid,
        ),
        "spec": spec,
        "status": status,
    }


def cron_job(
    name: str = "nightly", *, namespace: str = NAMESPACE, schedule: str = "0 3 * * *", suspend: bool = False
) -> Obj:
    job_template = job(name)["spec"]
    for key in ("selector", "manualSelector"):
        job_template.pop(key)
    job_template["template"]["metadata"] = {}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": object_meta("CronJob", name, namespace, generation=1),
        "spec": {
            "concurrencyPolicy": "Allow",
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {}, "spec": job_template},
            "schedule": schedule,
            "successfulJobsHistoryLimit": 3,
            "suspend": suspend,
        },
        "status": {},
    }


# ---------------------------------------------------------------------------------------------------
# other built-in kinds


def pvc(
    name: str = "data",
    *,
    namespace: str = NAMESPACE,
    phase: str = "Bound",
    storage_class: str | None = "standard",
    size: str = "1Gi",
) -> Obj:
    spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
        "volumeMode": "Filesystem",
    }
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    status: Obj = {"phase": phase}
    if phase == "Bound":
        spec["volumeName"] = f"pvc-{uid_for('PersistentVolumeClaim', name, namespace)}"
        status.update({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}})
    annotations = {"pv.kubernetes.io/bind-completed": "yes"} if phase == "Bound" else None
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": object_meta("PersistentVolumeClaim", name, namespace, annotations=annotations),
        "spec": spec,
        "status": status,
    }


def storage_class(
    name: str = "standard",
    *,
    binding_mode: str = "Immediate",
    default: bool = False,
    provisioner: str = "rancher.io/local-path",
) -> Obj:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else None
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": object_meta("StorageClass", name, None, annotations=annotations),
        "provisioner": provisioner,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": binding_mode,
    }


def service(
    name: str = "web",
    *,
    namespace: str = NAMESPACE,
    type: str = "ClusterIP",
    ingress: Sequence[Mapping[str, str]] = (),
    external_ips: Sequence[str] = (),
) -> Obj:
    """A Service; `type="LoadBalancer"` without `ingress` is one whose LB is not provisioned yet."""
    spec: Obj = {
        "clusterIP": "10.96.120.7",
        "clusterIPs": ["10.96.120.7"],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
        "selector": {"app": name},
        "sessionAffinity": "None",
        "type": type,
    }
    if type == "LoadBalancer":
        spec.update({"allocateLoadBalancerNodePorts": True, "externalTrafficPolicy": "Cluster"})
        spec["ports"][0]["nodePort"] = 31080
    if type == "ExternalName":
        spec = {"externalName": "db.example.com", "sessionAffinity": "None", "type": "ExternalName"}
    if external_ips:
        spec["externalIPs"] = list(external_ips)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta("Service", name, namespace),
        "spec": spec,
        "status": {"loadBalancer": {"ingress": [dict(i) for i in ingress]} if ingress else {}},
    }


def crd(
    plural_name: str = "widgets",
    group: str = "example.com",
    *,
    kind: str = "Widget",
    names_accepted: tuple[str, str] | None = ("True", "NoConflicts"),
    established: tuple[str, str] | None = ("True", "InitialNamesAccepted"),
) -> Obj:
    """A CustomResourceDefinition; `names_accepted` / `established` are (status, reason), None to omit."""
    name = f"{plural_name}.{group}"
    names = {"kind": kind, "listKind": f"{kind}List", "plural": plural_name, "singular": kind.lower()}
    messages = {
        "NoConflicts": "no conflicts found",
        "InitialNamesAccepted": "the initial names have been accepted",
        "Installing": "the initial names have not been accepted",
        "NotAccepted": "not all names are accepted",
        "NameConflict": f'"{plural_name}" is already in use',
        "ListKindConflict": f'"{kind}List" is already in use',
    }
    conds = []
    for ctype, value in (("NamesAccepted", names_accepted), ("Established", established)):
        if value is not None:
            conds.append(cond(ctype, value[0], value[1], messages.get(value[1], value[1])))
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": object_meta("CustomResourceDefinition", name, None, generation=1),
        "spec": {
            "conversion": {"strategy": "None"},
            "group": group,
            "names": names,
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                }
            ],
        },
        "status": {
            "acceptedNames": names if names_accepted == ("True", "NoConflicts") else {},
            "conditions": conds,
            "storedVersions": ["v1"],
        },
    }


def pdb(name: str = "web", *, namespace: str = NAMESPACE, min_available: int = 1, healthy: int = 3) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": object_meta("PodDisruptionBudget", name, namespace, generation=1),
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": name}}},
        "status": {
            "conditions": [cond("DisruptionAllowed", "True", "SufficientPods")],
            "currentHealthy": healthy,
            "desiredHealthy": min_available,
            "disruptionsAllowed": max(0, healthy - min_available),
            "expectedPods": healthy,
            "observedGeneration": 1,
        },
    }


def config_map(
    name: str = "web-config", *, namespace: str = NAMESPACE, data: Mapping[str, str] | None = None
) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta("ConfigMap", name, namespace),
        "data": dict(data or {"LOG_LEVEL": "info"}),
    }


def secret(name: str = "web-secret", *, namespace: str = NAMESPACE) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta("Secret", name, namespace),
        "data": {"password": "czNjcjN0"},
        "type": "Opaque",
    }


def custom_resource(
    kind: str = "Widget",
    name: str = "main",
    *,
    api_version: str = "example.com/v1",
    namespace: str = NAMESPACE,
    generation: int = 1,
    status: Mapping[str, Any] | None = None,
    conditions: Sequence[Mapping[str, Any]] | None = None,
    observed_generation: int | None = None,
) -> Obj:
    """Any custom resource; `status` is taken as given, `conditions` and `observed_generation` go into it."""
    st: Obj = copy.deepcopy(dict(status or {}))
    if conditions is not None:
        st["conditions"] = [dict(c) for c in conditions]
    if observed_generation is not None:
        st["observedGeneration"] = observed_generation
    obj: Obj = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": object_meta(kind, name, namespace, generation=generation),
        "spec": {"size": 1},
    }
    if st:
        obj["status"] = st
    return obj


# ---------------------------------------------------------------------------------------------------
# Events


def _reference(obj: Mapping[str, Any], field_path: str | None) -> Obj:
    ref: Obj = {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "resourceVersion": obj["metadata"].get("resourceVersion", "1"),
        "uid": obj["metadata"]["uid"],
    }
    if obj["metadata"].get("namespace"):
        ref["namespace"] = obj["metadata"]["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def event(
    about: Mapping[str, Any],
    reason: str,
    message: str,
    *,
    type: str = "Warning",
    first: datetime = T0,
    last: datetime | None = None,
    count: int = 1,
    field_path: str | None = None,
    component: str = "kubelet",
    host: str | None = "node-1",
    new_style: bool = False,
) -> Obj:
    """A core/v1 Event about `about`, as kubelet and most controllers still write them.

    `new_style`: one an events.k8s.io/v1 client wrote, read back through core/v1 (a 1.35 scheduler's):
    eventTime set, firstTimestamp/lastTimestamp null, no count, repeats in `series` (from `count` > 1)."""
    namespace = about["metadata"].get("namespace", NAMESPACE)
    source: Obj = {"component": component}
    if host and component == "kubelet":
        source["host"] = host
    ev: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": object_meta(
            "Event",
            f"{about['metadata']['name']}.{short_hash(reason, message, first, length=16)}",
            namespace,
            created=first,
        ),
        "involvedObject": _reference(about, field_path),
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": ts(first),
        "lastTimestamp": ts(last or first),
        "count": count,
        "type": type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    if new_style:
        del ev["count"]
        ev.update(
            firstTimestamp=None, lastTimestamp=None, eventTime=micro_ts(first), action=reason, source={}
        )
        if count > 1 or last is not None:
            ev["series"] = {"count": max(count, 2), "lastObservedTime": micro_ts(last or first)}
    return ev


def event_v1(
    about: Mapping[str, Any],
    reason: str,
    note: str,
    *,
    type: str = "Warning",
    when: datetime = T0,
    action: str = "Scheduling",
    controller: str = "default-scheduler",
    series_count: int | None = None,
    last: datetime | None = None,
) -> Obj:
    """An events.k8s.io/v1 Event (the scheduler and newer controllers write these: eventTime, regarding,
    note, series)."""
    namespace = about["metadata"].get("namespace", NAMESPACE)
    ev: Obj = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": object_meta(
            "Event",
            f"{about['metadata']['name']}.{short_hash(reason, note, when, length=16)}",
            namespace,
            created=when,
        ),
        "eventTime": micro_ts(when),
        "reportingController": controller,
        "reportingInstance": f"{controller}-control-plane",
        "action": action,
        "reason": reason,
        "regarding": _reference(about, None),
        "note": note,
        "type": type,
    }
    if series_count is not None:
        ev["series"] = {"count": series_count, "lastObservedTime": micro_ts(last or when)}
    return ev
