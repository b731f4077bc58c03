"""Deployment and ReplicaSet: current when the new ReplicaSet's pods are all updated, ready and available;
failed on ProgressDeadlineExceeded, a lasting ReplicaFailure, or a stuck pod of the new ReplicaSet.

The new ReplicaSet is the one the Deployment owns whose deployment.kubernetes.io/revision equals its own,
else the one whose pod template equals its template ignoring pod-template-hash (oldest wins); new pods are
owned by it (or carry its pod-template-hash). Without ReplicaSets in `related`, no pod is judged (an old pod
must never fail a rollout).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.core.model.failures import Failure
from bot.core.model.policy import Policy
from bot.core.model.states import State
from bot.core.status.assessment import Assessment
from bot.core.status.objects import (
    as_int,
    condition,
    has_controller,
    labels_of,
    meta,
    name_of,
    owned_by,
    selector_matches,
    spec_of,
    status_of,
)
from bot.core.status.pods import Finding
from bot.core.status.rollout import (
    REVISION,
    TEMPLATE_HASH,
    Counters,
    PodView,
    failed_result,
    pod_entry,
    pods_of,
    progress_text,
    replica_failure_finding,
    tolerate_crashes,
)
from bot.text import plural


def new_replica_set(dep: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The Deployment's new ReplicaSet: same revision annotation, else same template (oldest wins)."""
    candidates = [r for r in related if r.get("kind") == "ReplicaSet" and owned_by(r, dep)]
    if not candidates:
        selector = spec_of(dep).get("selector")
        candidates = [
            r
            for r in related
            if r.get("kind") == "ReplicaSet"
            and not has_controller(r)
            and selector_matches(selector, labels_of(r))
        ]
    revision = (meta(dep).get("annotations") or {}).get(REVISION)
    by_revision = [
        r for r in candidates if revision and (meta(r).get("annotations") or {}).get(REVISION) == revision
    ]
    matches = by_revision or [r for r in candidates if _same_template(r, dep)]
    if not matches:
        return None
    return min(matches, key=lambda r: str(meta(r).get("creationTimestamp") or ""))


def _same_template(rs: Mapping[str, Any], dep: Mapping[str, Any]) -> bool:
    def strip(template: Any) -> Any:
        t = copy.deepcopy(template) if isinstance(template, Mapping) else {}
        labels = (t.get("metadata") or {}).get("labels")
        if isinstance(labels, dict):
            labels.pop(TEMPLATE_HASH, None)
        return t

    return bool(strip(spec_of(rs).get("template")) == strip(spec_of(dep).get("template")))


def _new_pods_of_rs(
    rs: Mapping[str, Any], dep: Mapping[str, Any], related: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    template_hash = labels_of(rs).get(TEMPLATE_HASH)
    selector = spec_of(dep).get("selector")
    return [
        p
        for p in related
        if p.get("kind") == "Pod"
        and (
            owned_by(p, rs)
            or (
                not has_controller(p)
                and template_hash is not None
                and labels_of(p).get(TEMPLATE_HASH) == template_hash
                and selector_matches(selector, labels_of(p))
            )
        )
    ]


def assess_deployment(
    dep: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Assessment:
    spec, status = spec_of(dep), status_of(dep)
    desired = as_int(spec.get("replicas"), 1)
    new_rs = new_replica_set(dep, related)
    view = PodView(_new_pods_of_rs(new_rs, dep, related) if new_rs else [], related, now, policy)
    waiting = view.waiting()

    notes: list[str] = []
    failures = view.stuck()
    progressing = condition(dep, "Progressing")
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        message = str(progressing.get("message") or "")
        deadline = spec.get("progressDeadlineSeconds")
        text = "ProgressDeadlineExceeded" + (f": no progress for {deadline}s" if deadline else "")
        failures.append(
            Finding(Failure("Deployment", name_of(dep), "ProgressDeadlineExceeded", message), text)
        )
        failures += view.unready_failures()
    for source in (dep, new_rs):
        replica_failure = replica_failure_finding(source, now, policy, notes) if source else None
        if replica_failure is not None:
            failures.append(replica_failure)
            break
    failures = tolerate_crashes(dep, failures, desired, notes)

    updated = as_int(status.get("updatedReplicas"))
    ready = as_int(status.get("readyReplicas"))
    available = as_int(status.get("availableReplicas"))
    total = as_int(status.get("replicas"))
    if view.found:
        new_ready = view.ready_count()
    elif new_rs is not None:
        new_ready = as_int(status_of(new_rs).get("readyReplicas"))
    else:
        new_ready = min(updated, ready)
    new_ready = min(new_ready, desired)
    counters = Counters(new_ready, desired, waiting)
    if spec.get("paused") is True:
        # Never rolled out while paused: Helm skips it (v4 drops it from the wait set; v3 counts it
        # ready), so it must not hold a release until a timeout. Done, with a warning that says so.
        problems = f"; {failed_result(failures, counters).reason}" if failures else ""
        return counters.result(
            State.CURRENT,
            f"paused ({new_ready}/{desired} new pods ready)",
            warnings=(f"paused: not rolled out until the Deployment is resumed{problems}",),
        )
    if failures:
        return failed_result(failures, counters)

    progress = f"{new_ready}/{desired} new pods ready"
    old = max(0, total - updated)
    if updated < desired or ready < desired or new_ready < desired:
        if old and updated >= desired:
            progress += f", waiting for {plural(old, 'old pod')} to terminate"
        entries = [pod_entry(pf) for pf in view.not_ready()]
        return counters.result(State.IN_PROGRESS, progress_text(progress, notes, entries))
    if total > desired or old:
        extra = max(old, total - desired)
        text = f"waiting for {plural(extra, 'old pod')} to terminate ({progress})"
        return counters.result(State.IN_PROGRESS, text)
    if available < updated or available < desired:
        min_ready = spec.get("minReadySeconds")
        text = f"{progress}, {available}/{desired} available" + (
            f" (minReadySeconds {min_ready})" if min_ready else ""
        )
        return counters.result(State.IN_PROGRESS, text)
    if spec.get("progressDeadlineSeconds") is not None and (
        progressing is None or progressing.get("reason") != "NewReplicaSetAvailable"
    ):
        return counters.result(
            State.IN_PROGRESS, f"{progress}, waiting for the rollout to be marked complete"
        )
    available_cond = condition(dep, "Available")
    if available_cond is None or available_cond.get("status") != "True":
        detail = str((available_cond or {}).get("reason") or "no Available condition yet")
        return counters.result(State.IN_PROGRESS, f"{progress}, Available is not True ({detail})")
    return counters.result(State.CURRENT, progress)


# ----------------------------------------------------------------------------------------------------
# ReplicaSet


def assess_replica_set(
    rs: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Assessment:
    desired = as_int(spec_of(rs).get("replicas"), 1)
    status = status_of(rs)
    view = PodView(pods_of(rs, related), related, now, policy)
    notes: list[str] = []
    failures = view.stuck()
    replica_failure = replica_failure_finding(rs, now, policy, notes)
    if replica_failure is not None:
        failures.append(replica_failure)
    failures = tolerate_crashes(rs, failures, desired, notes)
    ready = min(as_int(status.get("readyReplicas")), desired)
    counters = Counters(ready, desired, view.waiting())
    if failures:
        return failed_result(failures, counters)
    progress = f"{ready}/{desired} pods ready"
    if any(
        as_int(status.get(k)) < desired
        for k in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas")
    ):
        entries = [pod_entry(pf) for pf in view.not_ready()]
        return counters.result(State.IN_PROGRESS, progress_text(progress, notes, entries))
    extra = as_int(status.get("replicas")) - desired
    if extra > 0:
        return counters.result(State.IN_PROGRESS, f"waiting for {plural(extra, 'extra pod')} to terminate")
    return counters.result(State.CURRENT, progress)
