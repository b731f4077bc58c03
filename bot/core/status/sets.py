"""StatefulSet and DaemonSet: new pods by controller-revision-hash (StatefulSet: status.updateRevision;
DaemonSet: its newest ControllerRevision, else the pod-template-generation the API server sets), with
partitions, OnDelete and OrderedReady blocking handled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.core.model.policy import Policy
from bot.core.model.states import State
from bot.core.status.assessment import Assessment
from bot.core.status.objects import as_int, labels_of, meta, owned_by, spec_of, status_of
from bot.core.status.pods import Finding
from bot.core.status.rollout import (
    REVISION_HASH,
    Counters,
    PodView,
    failed_create_finding,
    failed_result,
    live_pods,
    name_key,
    pod_entry,
    pods_of,
    progress_text,
    tolerate_crashes,
)
from bot.text import plural


def assess_stateful_set(
    sts: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Assessment:
    spec, status = spec_of(sts), status_of(sts)
    desired = as_int(spec.get("replicas"), 1)
    update_revision = status.get("updateRevision")
    current_revision = status.get("currentRevision")
    pods = pods_of(sts, related)
    if update_revision:
        new_pods = [p for p in pods if labels_of(p).get(REVISION_HASH) == update_revision]
        old_pods = [p for p in pods if labels_of(p).get(REVISION_HASH) != update_revision]
    else:
        new_pods, old_pods = pods, []
    view = PodView(new_pods, related, now, policy)
    old_view = PodView(old_pods, related, now, policy)
    replicas = as_int(status.get("replicas"))
    ready = as_int(status.get("readyReplicas"))
    updated = as_int(status.get("updatedReplicas"))
    if not update_revision and not current_revision and "updatedReplicas" not in status:
        # An older API server writes no revisions: the replica counters decide (kstatus, Helm's legacy
        # checker), as if every pod were of the current revision.
        updated = replicas
    strategy = spec.get("updateStrategy") or {}
    on_delete = strategy.get("type") == "OnDelete"
    partition = 0 if on_delete else as_int((strategy.get("rollingUpdate") or {}).get("partition"), 0)
    target = max(0, desired - partition)
    notes: list[str] = []
    failures = view.stuck()
    rolling_out = updated < target or (partition <= 0 and current_revision != update_revision)
    ordered = (spec.get("podManagementPolicy") or "OrderedReady") == "OrderedReady"
    if not on_delete and rolling_out and ordered:
        failures += _blocking_old_pods(old_view)
    if replicas < desired:
        failed_create = failed_create_finding(sts, related, now, policy, notes)
        if failed_create is not None:
            failures.append(failed_create)
    failures = tolerate_crashes(sts, failures, desired, notes)
    if view.found:
        new_ready = view.ready_count()
    else:
        new_ready = ready if current_revision == update_revision else min(updated, ready)
    new_ready = min(new_ready, desired)
    counters = Counters(new_ready, desired, tuple(sorted(view.waiting() + old_view.waiting())))
    if failures:
        return failed_result(failures, counters)

    old_suffix = (
        " (old revision: delete it by hand, OnDelete does not replace it)" if on_delete else " (old revision)"
    )
    pending = [(pf, "") for pf in view.not_ready()] + [(pf, old_suffix) for pf in old_view.not_ready()]
    pending.sort(key=lambda item: name_key(item[0].name))
    entries = [pod_entry(pf, suffix) for pf, suffix in pending]
    if on_delete:
        # Pods are replaced only when someone deletes them: wait for readiness, not for the new revision.
        if replicas < desired or ready < desired or entries:
            text = progress_text(f"{ready}/{desired} pods ready", notes, entries)
            return counters.result(State.IN_PROGRESS, text)
        stale = current_revision != update_revision and updated < desired
        warning = (
            f"updateStrategy OnDelete: {plural(desired - updated, 'pod')} keep the old revision until deleted"
            if stale
            else "updateStrategy OnDelete: pods are updated only when deleted"
        )
        return counters.result(State.CURRENT, f"{ready}/{desired} pods ready", warnings=(warning,))

    progress = f"{new_ready}/{desired} updated pods ready"
    if replicas > desired:
        text = f"waiting for {plural(replicas - desired, 'extra pod')} to terminate ({progress})"
        return counters.result(State.IN_PROGRESS, text)
    if partition > 0:
        if updated < target or ready < desired or replicas < desired:
            text = f"{min(updated, target)}/{target} pods updated (partition {partition})"
            text += f", {ready}/{desired} ready"
            return counters.result(State.IN_PROGRESS, progress_text(text, notes, entries))
        warning = f"partition {partition}: pods with an ordinal below {partition} keep the old revision"
        text = f"partitioned rollout done: {updated}/{desired} pods updated, {ready}/{desired} ready"
        return counters.result(State.CURRENT, text, warnings=(warning,), ready=min(updated, desired))
    if replicas < desired or ready < desired or updated < desired or new_ready < desired:
        return counters.result(State.IN_PROGRESS, progress_text(progress, notes, entries))
    if current_revision != update_revision:
        return counters.result(State.IN_PROGRESS, f"{progress}, waiting for the revision switch")
    if as_int(spec.get("minReadySeconds")) > 0 and as_int(status.get("availableReplicas")) < desired:
        text = f"{progress}, {as_int(status.get('availableReplicas'))}/{desired} available"
        return counters.result(State.IN_PROGRESS, text)
    return counters.result(State.CURRENT, progress)


def _blocking_old_pods(old_view: PodView) -> list[Finding]:
    """Old-revision pods that are broken: with OrderedReady the controller waits for every pod to be Running
    and Ready before it updates any, and never replaces a broken one itself (kubernetes#67250)."""
    found = []
    for pf in old_view.not_ready():
        if not pf.stuck:
            continue  # still starting, or waiting out a grace: the progress text names it
        cause = pf.stuck[0]
        revision = labels_of(old_view.pods[pf.name]).get(REVISION_HASH) or "unknown"
        text = (
            f"rollout blocked by pod {pf.name} (revision {revision}, old): {cause.text}; "
            "a StatefulSet does not replace a broken pod: delete it"
        )
        found.append(Finding(cause.failure, text))
    return found


# ----------------------------------------------------------------------------------------------------
# DaemonSet


def _new_daemon_pods(
    ds: Mapping[str, Any], related: Sequence[Mapping[str, Any]]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(new pods, pods whose revision cannot be told). New: controller-revision-hash of the newest
    ControllerRevision the DaemonSet owns; else pod-template-generation == the template generation (the
    annotation the API server sets, spec.templateGeneration); else == metadata.generation, which is at
    least the template generation: a pod labelled with it is new, any other may be old and is not judged."""
    pods = pods_of(ds, related)
    revisions = [r for r in related if r.get("kind") == "ControllerRevision" and owned_by(r, ds)]
    if revisions:
        newest = max(revisions, key=lambda r: as_int(r.get("revision")))
        revision_hash = labels_of(newest).get(REVISION_HASH)
        if revision_hash:
            return [p for p in pods if labels_of(p).get(REVISION_HASH) == revision_hash], []
    template_generation = (meta(ds).get("annotations") or {}).get(
        "deprecated.daemonset.template.generation"
    ) or spec_of(ds).get("templateGeneration")
    if template_generation is not None:
        wanted = str(template_generation)
        return [p for p in pods if labels_of(p).get("pod-template-generation") == wanted], []
    generation = meta(ds).get("generation")
    new = [
        p
        for p in pods
        if generation is not None and labels_of(p).get("pod-template-generation") == str(generation)
    ]
    return new, [p for p in pods if p not in new]


def assess_daemon_set(
    ds: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Assessment:
    status = status_of(ds)
    if status.get("desiredNumberScheduled") is None:
        return Assessment(State.IN_PROGRESS, "waiting for the controller to count the nodes")
    desired = as_int(status.get("desiredNumberScheduled"))
    new_pods, unknown = _new_daemon_pods(ds, related)
    unknown = live_pods(unknown)
    view = PodView(new_pods, related, now, policy)
    scheduled = as_int(status.get("currentNumberScheduled"))
    updated = as_int(status.get("updatedNumberScheduled"))
    ready = as_int(status.get("numberReady"))
    available = as_int(status.get("numberAvailable"))
    notes: list[str] = []
    failures = view.stuck()
    if scheduled < desired:
        failed_create = failed_create_finding(ds, related, now, policy, notes)
        if failed_create is not None:
            failures.append(failed_create)
    failures = tolerate_crashes(ds, failures, desired, notes)
    # With pods of unknown revision, the pods seen cannot be counted: the controller's counters decide.
    counted = view.ready_count() if view.found and not unknown else min(updated, ready)
    new_ready = min(counted, desired)
    counters = Counters(new_ready, desired, view.waiting())
    if failures:
        return failed_result(failures, counters)
    entries = [pod_entry(pf) for pf in view.not_ready()]
    if unknown:
        notes.append(
            f"{plural(len(unknown), 'pod')} of unknown revision not judged (no ControllerRevision or "
            "template generation tells new pods from old)"
        )
    if desired == 0:
        return Assessment(
            State.CURRENT, "0 nodes to run on", warnings=("no node matches the DaemonSet's scheduling rules",)
        )
    if (spec_of(ds).get("updateStrategy") or {}).get("type") == "OnDelete":
        if scheduled < desired or ready < desired:
            return counters.result(
                State.IN_PROGRESS, progress_text(f"{ready}/{desired} pods ready", notes, entries)
            )
        warning = "updateStrategy OnDelete: pods are updated only when deleted"
        return counters.result(State.CURRENT, f"{ready}/{desired} pods ready", warnings=(warning,))
    progress = f"{new_ready}/{desired} updated pods ready"
    if min(scheduled, updated, ready, available) < desired or new_ready < desired:
        if updated >= desired and available < desired <= ready:
            progress += f", {available}/{desired} available"
        return counters.result(State.IN_PROGRESS, progress_text(progress, notes, entries))
    return counters.result(State.CURRENT, progress)
