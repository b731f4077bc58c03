"""Workload rules: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job.

A workload is current only when its own status says the *new* spec is fully rolled out (kstatus counters,
never `replicas - maxUnavailable`: Available=True means only "minimum availability"). It fails on its own
signals (ProgressDeadlineExceeded, ReplicaFailure / FailedCreate that persists, a Job's Failed or
FailureTarget condition) or, much earlier, on a stuck pod of the new revision (bot.core.pods). Pods of the
old revision are ignored both ways: they neither count as progress nor fail the rollout.

Which pods are new:
- Deployment: the new ReplicaSet is the one it owns whose deployment.kubernetes.io/revision equals its own,
  else the one whose pod template equals its template ignoring pod-template-hash (oldest wins); new pods are
  owned by that ReplicaSet (or carry its pod-template-hash). Without ReplicaSets in `related`, no pod is
  judged (an old pod must never fail a rollout).
- StatefulSet: controller-revision-hash == status.updateRevision.
- DaemonSet: pod-template-generation == the deprecated.daemonset.template.generation annotation (set on every
  DaemonSet by the API server), else controller-revision-hash of its newest ControllerRevision, else all.
- Job: pods owned by the Job's uid, or with its job-name label and controller-uid (a re-created hook Job has
  the same name but a new uid, so the previous run's pods are not mixed in).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.pods import Finding, PodFindings, analyze_pod
from bot.core.status import (
    Assessment,
    Failure,
    Policy,
    State,
    as_int,
    condition,
    event_first_seen,
    event_message,
    events_for,
    format_age,
    has_controller,
    labels_of,
    meta,
    name_of,
    owned_by,
    parse_time,
    plural,
    selector_matches,
    spec_of,
    status_of,
)

Rule = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]], datetime, Policy], Assessment]
REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
REVISION_HASH = "controller-revision-hash"


# ----------------------------------------------------------------------------------------------------
# shared pieces


def _pods_of(owner: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Pods the owner controls (ownerReference), or orphans its selector matches."""
    selector = spec_of(owner).get("selector")
    return [
        p
        for p in related
        if p.get("kind") == "Pod"
        and (owned_by(p, owner) or (not has_controller(p) and selector_matches(selector, labels_of(p))))
    ]


def _live(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in pods if not meta(p).get("deletionTimestamp")]


class _PodView:
    """The findings of a workload's pods (of one revision), and the texts naming them."""

    def __init__(
        self,
        pods: Sequence[Mapping[str, Any]],
        related: Sequence[Mapping[str, Any]],
        now: datetime,
        policy: Policy,
    ) -> None:
        live = sorted(_live(pods), key=lambda p: _name_key(name_of(p)))
        self.pods: dict[str, Mapping[str, Any]] = {name_of(p): p for p in live}
        self.found: list[PodFindings] = [analyze_pod(p, related, now, policy) for p in live]

    def stuck(self, *, skip: frozenset[str] = frozenset()) -> list[Finding]:
        return [
            Finding(f.failure, f"pod {pf.name}: {f.text}")
            for pf in self.found
            for f in pf.stuck
            if f.failure.reason not in skip
        ]

    def not_ready(self) -> list[PodFindings]:
        return [pf for pf in self.found if not pf.ready and not pf.succeeded]

    def unready_failures(self) -> list[Finding]:
        """Each not-ready pod's containers that hold it back (pods already failed on their own excluded),
        so a deadline names them and the tracker fetches their logs."""
        found = []
        for pf in self.not_ready()[:_MAX_NAMED_FAILURES]:
            if pf.stuck:
                continue
            found += [Finding(f.failure, f"pod {pf.name}: {f.text}") for f in pf.unready]
        return found

    def ready_count(self) -> int:
        return sum(1 for pf in self.found if pf.ready)

    def waiting(self) -> tuple[str, ...]:
        return tuple(sorted(pf.name for pf in self.found if pf.gated_in_init))

    def first_note(self, *, extra: Sequence[Finding] = ()) -> str:
        """Why the first pod that is not ready is not, for the progress text."""
        for f in extra:
            return f.text
        for pf in sorted(self.found, key=lambda x: x.name):
            if not pf.ready and not pf.succeeded and pf.notes:
                return f"pod {pf.name}: {pf.notes[0]}"
        return ""


_MAX_NAMED_FAILURES = 5  # not-ready pods attached to a deadline's failure
_MAX_NAMED_PODS = 2  # not-ready pods named in a progress text


def _name_key(name: str) -> tuple[str, int, str]:
    """Sort by name with a trailing ordinal numerically (db-2 before db-10)."""
    stem, _, tail = name.rpartition("-")
    return (stem, int(tail), "") if tail.isdigit() else (name, -1, name)


def _pod_entry(pf: PodFindings, suffix: str = "") -> str:
    """'web-x not ready: Readiness probe failed: ...', or 'waiting for db-2: CrashLoopBackOff'."""
    brief = pf.brief or "not ready"
    if brief.startswith("not ready"):
        return f"{pf.name} {brief}{suffix}"
    return f"waiting for {pf.name}: {brief}{suffix}"


def _pending_text(entries: Sequence[str]) -> str:
    shown = "; ".join(entries[:_MAX_NAMED_PODS])
    more = len(entries) - _MAX_NAMED_PODS
    return shown + (f" (and {plural(more, 'more pod')} not ready)" if more > 0 else "")


def _progress(progress: str, notes: Sequence[str], entries: Sequence[str]) -> str:
    """The progress counters, then the first note (a grace running out), then the pods not ready."""
    parts = [progress, *notes[:1]]
    if entries:
        parts.append(_pending_text(entries))
    return "; ".join(parts)


@dataclass(frozen=True)
class _Counters:
    """Progress counters and gated pods, shared by every verdict of one workload."""

    ready: int | None
    desired: int | None
    waiting: tuple[str, ...] = ()

    def result(
        self,
        state: State,
        reason: str,
        *,
        failures: tuple[Failure, ...] = (),
        warnings: tuple[str, ...] = (),
        ready: int | None = None,
    ) -> Assessment:
        ready = self.ready if ready is None else ready
        return Assessment(state, reason, failures, ready, self.desired, warnings, self.waiting)


def _failed(findings: Sequence[Finding], counters: _Counters) -> Assessment:
    texts = [f.text for f in findings]
    text = "; ".join(texts[:2]) + (f" (and {len(texts) - 2} more)" if len(texts) > 2 else "")
    return counters.result(State.FAILED, text, failures=tuple(f.failure for f in findings))


def _with_note(text: str, note: str) -> str:
    return f"{text} ({note})" if note else text


def _replica_failure(
    obj: Mapping[str, Any], now: datetime, policy: Policy, notes: list[str]
) -> Finding | None:
    """ReplicaFailure=True (FailedCreate: quota, admission webhook) that has lasted the config grace."""
    rf = condition(obj, "ReplicaFailure")
    if rf is None or rf.get("status") != "True":
        return None
    reason = str(rf.get("reason") or "ReplicaFailure")
    message = str(rf.get("message") or "")
    text = f"ReplicaFailure: {reason}" + (f": {message}" if message else "")
    return _after_grace(
        obj, reason, message, text, parse_time(rf.get("lastTransitionTime")), now, policy, notes
    )


def _failed_create(
    obj: Mapping[str, Any],
    related: Sequence[Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    notes: list[str],
) -> Finding | None:
    """FailedCreate Warning events on a controller that cannot create its pods (call only while it lacks
    pods): failed once the first one is older than the config grace."""
    events = [
        e
        for e in events_for(obj, related, policy)
        if e.get("type") == "Warning" and e.get("reason") == "FailedCreate"
    ]
    if not events:
        return None
    message = event_message(events[-1])
    return _after_grace(
        obj,
        "FailedCreate",
        message,
        f"FailedCreate: {message}",
        event_first_seen(events[0]),
        now,
        policy,
        notes,
    )


def _after_grace(
    obj: Mapping[str, Any],
    reason: str,
    message: str,
    text: str,
    since: datetime | None,
    now: datetime,
    policy: Policy,
    notes: list[str],
) -> Finding | None:
    age = now - since if since else timedelta(0)
    if since is None or age >= policy.config_error_grace:
        return Finding(Failure(str(obj["kind"]), name_of(obj), reason, message), text)
    notes.append(f"{text} (for {format_age(age)})")
    return None


# ----------------------------------------------------------------------------------------------------
# Deployment


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
    view = _PodView(_new_pods_of_rs(new_rs, dep, related) if new_rs else [], related, now, policy)
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
        replica_failure = _replica_failure(source, now, policy, notes) if source else None
        if replica_failure is not None:
            failures.append(replica_failure)
            break

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
    counters = _Counters(new_ready, desired, waiting)
    if failures:
        return _failed(failures, counters)
    if spec.get("paused") is True:
        return counters.result(
            State.CURRENT,
            f"paused ({new_ready}/{desired} new pods ready)",
            warnings=("paused: the rollout does not progress until the Deployment is resumed",),
        )

    progress = f"{new_ready}/{desired} new pods ready"
    old = max(0, total - updated)
    if updated < desired or ready < desired or new_ready < desired:
        if old and updated >= desired:
            progress += f", waiting for {plural(old, 'old pod')} to terminate"
        entries = [_pod_entry(pf) for pf in view.not_ready()]
        return counters.result(State.IN_PROGRESS, _progress(progress, notes, entries))
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
    view = _PodView(_pods_of(rs, related), related, now, policy)
    notes: list[str] = []
    failures = view.stuck()
    replica_failure = _replica_failure(rs, now, policy, notes)
    if replica_failure is not None:
        failures.append(replica_failure)
    ready = min(as_int(status.get("readyReplicas")), desired)
    counters = _Counters(ready, desired, view.waiting())
    if failures:
        return _failed(failures, counters)
    progress = f"{ready}/{desired} pods ready"
    if any(
        as_int(status.get(k)) < desired
        for k in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas")
    ):
        entries = [_pod_entry(pf) for pf in view.not_ready()]
        return counters.result(State.IN_PROGRESS, _progress(progress, notes, entries))
    extra = as_int(status.get("replicas")) - desired
    if extra > 0:
        return counters.result(State.IN_PROGRESS, f"waiting for {plural(extra, 'extra pod')} to terminate")
    return counters.result(State.CURRENT, progress)


# ----------------------------------------------------------------------------------------------------
# StatefulSet


def assess_stateful_set(
    sts: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Assessment:
    spec, status = spec_of(sts), status_of(sts)
    desired = as_int(spec.get("replicas"), 1)
    update_revision = status.get("updateRevision")
    current_revision = status.get("currentRevision")
    pods = _pods_of(sts, related)
    if update_revision:
        new_pods = [p for p in pods if labels_of(p).get(REVISION_HASH) == update_revision]
        old_pods = [p for p in pods if labels_of(p).get(REVISION_HASH) != update_revision]
    else:
        new_pods, old_pods = pods, []
    view = _PodView(new_pods, related, now, policy)
    old_view = _PodView(old_pods, related, now, policy)
    replicas = as_int(status.get("replicas"))
    ready = as_int(status.get("readyReplicas"))
    updated = as_int(status.get("updatedReplicas"))
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
        failed_create = _failed_create(sts, related, now, policy, notes)
        if failed_create is not None:
            failures.append(failed_create)
    if view.found:
        new_ready = view.ready_count()
    else:
        new_ready = ready if current_revision == update_revision else min(updated, ready)
    new_ready = min(new_ready, desired)
    counters = _Counters(new_ready, desired, tuple(sorted(view.waiting() + old_view.waiting())))
    if failures:
        return _failed(failures, counters)

    old_suffix = (
        " (old revision: delete it by hand, OnDelete does not replace it)" if on_delete else " (old revision)"
    )
    pending = [(pf, "") for pf in view.not_ready()] + [(pf, old_suffix) for pf in old_view.not_ready()]
    pending.sort(key=lambda item: _name_key(item[0].name))
    entries = [_pod_entry(pf, suffix) for pf, suffix in pending]
    if on_delete:
        # Pods are replaced only when someone deletes them: wait for readiness, not for the new revision.
        if replicas < desired or ready < desired or entries:
            text = _progress(f"{ready}/{desired} pods ready", notes, entries)
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
            return counters.result(State.IN_PROGRESS, _progress(text, notes, entries))
        warning = f"partition {partition}: pods with an ordinal below {partition} keep the old revision"
        text = f"partitioned rollout done: {updated}/{desired} pods updated, {ready}/{desired} ready"
        return counters.result(State.CURRENT, text, warnings=(warning,), ready=min(updated, desired))
    if replicas < desired or ready < desired or updated < desired or new_ready < desired:
        return counters.result(State.IN_PROGRESS, _progress(progress, notes, entries))
    if current_revision != update_revision:
        return counters.result(State.IN_PROGRESS, f"{progress}, waiting for the revision switch")
    if as_int(spec.get("minReadySeconds")) > 0 and as_int(status.get("availableReplicas")) < desired:
        text = f"{progress}, {as_int(status.get('availableReplicas'))}/{desired} available"
        return counters.result(State.IN_PROGRESS, text)
    return counters.result(State.CURRENT, progress)


def _blocking_old_pods(old_view: _PodView) -> list[Finding]:
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
    pods = _pods_of(ds, related)
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
    unknown = _live(unknown)
    view = _PodView(new_pods, related, now, policy)
    scheduled = as_int(status.get("currentNumberScheduled"))
    updated = as_int(status.get("updatedNumberScheduled"))
    ready = as_int(status.get("numberReady"))
    available = as_int(status.get("numberAvailable"))
    notes: list[str] = []
    failures = view.stuck()
    if scheduled < desired:
        failed_create = _failed_create(ds, related, now, policy, notes)
        if failed_create is not None:
            failures.append(failed_create)
    # With pods of unknown revision, the pods seen cannot be counted: the controller's counters decide.
    counted = view.ready_count() if view.found and not unknown else min(updated, ready)
    new_ready = min(counted, desired)
    counters = _Counters(new_ready, desired, view.waiting())
    if failures:
        return _failed(failures, counters)
    entries = [_pod_entry(pf) for pf in view.not_ready()]
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
                State.IN_PROGRESS, _progress(f"{ready}/{desired} pods ready", notes, entries)
            )
        warning = "updateStrategy OnDelete: pods are updated only when deleted"
        return counters.result(State.CURRENT, f"{ready}/{desired} pods ready", warnings=(warning,))
    progress = f"{new_ready}/{desired} updated pods ready"
    if min(scheduled, updated, ready, available) < desired or new_ready < desired:
        if updated >= desired and available < desired <= ready:
            progress += f", {available}/{desired} available"
        return counters.result(State.IN_PROGRESS, _progress(progress, notes, entries))
    return counters.result(State.CURRENT, progress)


# ----------------------------------------------------------------------------------------------------
# Job


def _job_pods(job: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    name, uid = name_of(job), meta(job).get("uid")
    pods = []
    for p in related:
        if p.get("kind") != "Pod":
            continue
        labels = labels_of(p)
        if has_controller(p):
            if owned_by(p, job):
                pods.append(p)
            continue
        named = name in (labels.get("batch.kubernetes.io/job-name"), labels.get("job-name"))
        pod_uid = labels.get("batch.kubernetes.io/controller-uid") or labels.get("controller-uid")
        if named and (not uid or not pod_uid or pod_uid == uid):
            pods.append(p)
    return pods


_JOB_RETRIED_BY_ITSELF = frozenset({"CrashLoopBackOff"})  # restarts count against backoffLimit


def assess_job(
    job: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Assessment:
    """Current only when Complete: a running Job is in progress (kstatus would say Current)."""
    spec, status = spec_of(job), status_of(job)
    completions = spec.get("completions")
    desired = as_int(completions, 1) if completions is not None else None
    succeeded = as_int(status.get("succeeded"))
    failed = as_int(status.get("failed"))
    active = as_int(status.get("active"))
    attempts = as_int(spec.get("backoffLimit"), 6) + 1
    pods = _job_pods(job, related)
    running = [p for p in pods if status_of(p).get("phase") not in ("Succeeded", "Failed")]
    view = _PodView(running, related, now, policy)
    counters = _Counters(succeeded, desired, view.waiting())

    for ctype in ("Complete", "SuccessCriteriaMet"):
        done = condition(job, ctype)
        if done is not None and done.get("status") == "True":
            total = f"/{desired}" if desired is not None else ""
            return counters.result(State.CURRENT, f"completed: {succeeded}{total} succeeded")
    for ctype in ("Failed", "FailureTarget"):
        failed_cond = condition(job, ctype)
        if failed_cond is not None and failed_cond.get("status") == "True":
            return _job_failed(job, failed_cond, pods, related, now, policy, failed, attempts, counters)
    if spec.get("suspend") is True:
        return counters.result(State.CURRENT, "suspended", warnings=("suspended: the Job runs no pods",))

    stuck = view.stuck(skip=_JOB_RETRIED_BY_ITSELF)
    notes: list[str] = []
    if not pods and not active:
        failed_create = _failed_create(job, related, now, policy, notes)
        if failed_create is not None:
            stuck.append(failed_create)
    attempt = f"attempt {failed + 1} of {attempts}"
    if stuck:
        failure = _failed(stuck, counters)
        return counters.result(State.FAILED, f"{failure.reason} ({attempt})", failures=failure.failures)
    if not status.get("startTime") and not active and not pods:
        return Assessment(
            State.IN_PROGRESS, _with_note("waiting for the Job to start", notes[0] if notes else "")
        )
    if failed:
        text = f"retrying: {attempt}, {plural(failed, 'pod')} failed"
        last = _last_failed_pod(pods, related, now, policy)
        if last is not None:
            text += f", last: {last.text}"
    else:
        text = "running" if active or running else "waiting for a pod"
        if desired is not None and desired > 1:
            text += f": {succeeded}/{desired} succeeded"
    note = notes[0] if notes else view.first_note(extra=view.stuck() if not failed else ())
    return counters.result(State.IN_PROGRESS, _with_note(text, note))


def _job_failed(
    job: Mapping[str, Any],
    cond: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    related: Sequence[Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    failed: int,
    attempts: int,
    counters: _Counters,
) -> Assessment:
    reason = str(cond.get("reason") or "Failed")
    message = str(cond.get("message") or "")
    if reason == "BackoffLimitExceeded":
        text = f"BackoffLimitExceeded: failed {failed} of {attempts} attempts"
    elif reason == "DeadlineExceeded":
        deadline = spec_of(job).get("activeDeadlineSeconds")
        text = "DeadlineExceeded: " + (f"active longer than {deadline}s" if deadline else message)
    else:
        text = f"{reason}: {message}" if message else reason
    failures = [Failure("Job", name_of(job), reason, message)]
    last = _last_failed_pod(pods, related, now, policy)
    if last is not None:
        text += f"; last {last.text}"
        failures.append(last.failure)
    return counters.result(State.FAILED, text, failures=tuple(failures))


def _last_failed_pod(
    pods: Sequence[Mapping[str, Any]], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Finding | None:
    """The most recent pod that ended unsuccessfully (whose log explains the failure)."""
    ended = []
    for p in pods:
        found = analyze_pod(p, related, now, policy)
        if found.terminal is not None:
            ended.append((str(meta(p).get("creationTimestamp") or ""), found.name, found.terminal))
        elif found.stuck:
            ended.append((str(meta(p).get("creationTimestamp") or ""), found.name, found.stuck[0]))
    if not ended:
        return None
    _, pod_name, finding = max(ended, key=lambda item: (item[0], item[1]))
    return Finding(finding.failure, f"pod {pod_name}: {finding.text}")


RULES: dict[str, Rule] = {
    "Deployment": assess_deployment,
    "ReplicaSet": assess_replica_set,
    "StatefulSet": assess_stateful_set,
    "DaemonSet": assess_daemon_set,
    "Job": assess_job,
}
