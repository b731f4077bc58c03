"""The cluster as the demo's side panel shows it: per namespace, Helm releases, Deployments, ReplicaSets,
Pods and Jobs, summarized from the API's list answers (pure; no I/O).

Pod status follows kubectl's STATUS column (Init:0/1, CrashLoopBackOff, Completed, Terminating, ...), so what
people see beside the channel reads like `kubectl get pods`. Nothing of a Secret but its Helm labels is kept.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
KINDS = ("deployments", "replicasets", "pods", "jobs")


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _owner(obj: Obj) -> str:
    refs = _meta(obj).get("ownerReferences") or []
    return f"{refs[0].get('kind', '')}/{refs[0].get('name', '')}" if refs else ""


def _terminated_reason(state: Obj, prefix: str = "") -> str:
    term = state.get("terminated") or {}
    if term.get("reason"):
        return prefix + str(term["reason"])
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def pod_status(pod: Obj) -> str:
    """kubectl's STATUS for a pod (its printer's rules, simplified: no sidecars, no node-lost)."""
    status = _status(pod)
    spec = pod.get("spec") or {}
    reason = str(status.get("reason") or status.get("phase") or "Pending")
    init_specs = spec.get("initContainers") or []
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term is not None and term.get("exitCode") == 0:
            continue
        initializing = True
        if term is not None:
            reason = _terminated_reason(state, "Init:")
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + str(state["waiting"]["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        break
    if not initializing:
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            waiting, term = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif term is not None:
                reason = _terminated_reason(state)
            elif "running" in state and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if _meta(pod).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod(pod: Obj) -> Obj:
    statuses = _status(pod).get("containerStatuses") or []
    containers = (pod.get("spec") or {}).get("containers") or []
    return {
        "name": _meta(pod).get("name", ""),
        "status": pod_status(pod),
        "phase": _status(pod).get("phase", "Pending"),
        "ready": f"{sum(1 for c in statuses if c.get('ready'))}/{len(containers) or len(statuses)}",
        "restarts": sum(int(c.get("restartCount") or 0) for c in statuses),
        "owner": _owner(pod),
        "created": _meta(pod).get("creationTimestamp"),
    }


def _deployment(dep: Obj) -> Obj:
    spec, status = dep.get("spec") or {}, _status(dep)
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    progressing = conditions.get("Progressing") or {}
    return {
        "name": _meta(dep).get("name", ""),
        "ready": int(status.get("readyReplicas") or 0),
        "desired": desired,
        "updated": int(status.get("updatedReplicas") or 0),
        "available": int(status.get("availableReplicas") or 0),
        "observed": status.get("observedGeneration") == _meta(dep).get("generation"),
        "stalled": progressing.get("reason") == "ProgressDeadlineExceeded",
        "images": [
            c.get("image", "") for c in (spec.get("template") or {}).get("spec", {}).get("containers", [])
        ],
    }


def _replicaset(rs: Obj) -> Obj:
    annotations = _meta(rs).get("annotations") or {}
    return {
        "name": _meta(rs).get("name", ""),
        "ready": int(_status(rs).get("readyReplicas") or 0),
        "desired": int((rs.get("spec") or {}).get("replicas") or 0),
        "revision": annotations.get("deployment.kubernetes.io/revision", ""),
        "owner": _owner(rs),
    }


def _job(job: Obj) -> Obj:
    status = _status(job)
    done = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    state = "Failed" if "Failed" in done else "Complete" if "Complete" in done else "Running"
    if state == "Running" and (job.get("spec") or {}).get("suspend"):
        state = "Suspended"
    hook = (_meta(job).get("annotations") or {}).get("helm.sh/hook", "")
    return {
        "name": _meta(job).get("name", ""),
        "active": int(status.get("active") or 0),
        "succeeded": int(status.get("succeeded") or 0),
        "failed": int(status.get("failed") or 0),
        "completions": int((job.get("spec") or {}).get("completions") or 1),
        "state": state,
        "hook": hook,
    }


def helm_releases(secrets: list[Obj]) -> dict[str, list[Obj]]:
    """Per namespace, each release's newest revision (name, revision, status, revisions kept), from the
    `owner=helm` Secrets' labels alone (the release payload is never read)."""
    newest: dict[tuple[str, str], Obj] = {}
    counts: dict[tuple[str, str], int] = {}
    for secret in secrets:
        meta = _meta(secret)
        labels = meta.get("labels") or {}
        if labels.get("owner") != "helm" or not labels.get("name"):
            continue
        try:
            revision = int(labels.get("version", "0"))
        except ValueError:
            continue
        key = (str(meta.get("namespace", "")), str(labels["name"]))
        counts[key] = counts.get(key, 0) + 1
        if key not in newest or revision > newest[key]["revision"]:
            newest[key] = {"name": key[1], "revision": revision, "status": labels.get("status", "unknown")}
    out: dict[str, list[Obj]] = {}
    for key in sorted(newest):
        out.setdefault(key[0], []).append({**newest[key], "revisions": counts[key]})
    return out


_SUMMARIZERS = {"deployments": _deployment, "replicasets": _replicaset, "pods": _pod, "jobs": _job}


def cluster_snapshot(lists: dict[str, list[Obj]], secrets: list[Obj]) -> list[Obj]:
    """Namespaces (sorted, only those with something to show), each with releases and the four kinds sorted
    by name."""
    spaces: dict[str, Obj] = {}

    def space(name: str) -> Obj:
        return spaces.setdefault(name, {"name": name, "releases": [], **{kind: [] for kind in KINDS}})

    for namespace, releases in helm_releases(secrets).items():
        space(namespace)["releases"] = releases
    for kind in KINDS:
        for obj in lists.get(kind, []):
            space(str(_meta(obj).get("namespace", "")))[kind].append(_SUMMARIZERS[kind](obj))
    for ns in spaces.values():
        for kind in KINDS:
            ns[kind].sort(key=lambda o: o["name"])
    return [spaces[name] for name in sorted(spaces)]
