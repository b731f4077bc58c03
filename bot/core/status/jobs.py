"""Job: current only when Complete (a running Job is in progress, unlike kstatus); failed on its Failed or
FailureTarget condition, or on a stuck pod that retrying will not fix. Its pods are those owned by the Job's
uid, or with its job-name label and controller-uid (a re-created hook Job has the same name but a new uid,
so the previous run's pods are not mixed in)."""

from __future__ import annotations

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
    condition_is,
    has_controller,
    labels_of,
    meta,
    name_of,
    owned_by,
    spec_of,
    status_of,
)
from bot.core.status.pods import Finding, analyze_pod
from bot.core.status.rollout import Counters, PodView, failed_create_finding, failed_result, with_note
from bot.text import plural


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
    view = PodView(running, related, now, policy)
    counters = Counters(succeeded, desired, view.waiting())

    for ctype in ("Complete", "SuccessCriteriaMet"):
        done = condition(job, ctype)
        if done is not None and done.get("status") == "True":
            total = f"/{desired}" if desired is not None else ""
            return counters.result(State.CURRENT, f"completed: {succeeded}{total} succeeded")
    for ctype in ("Failed", "FailureTarget"):
        failed_cond = condition(job, ctype)
        if failed_cond is not None and failed_cond.get("status") == "True":
            return _job_failed(job, failed_cond, pods, related, now, policy, failed, attempts, counters)
    by_counters = _by_counters(job, succeeded, failed, active, desired, attempts, counters)
    if by_counters is not None:
        return by_counters
    if spec.get("suspend") is True:
        if condition_is(job, "Suspended"):
            return counters.result(State.CURRENT, "suspended", warnings=("suspended: the Job runs no pods",))
        # Asked, not yet done: the controller has still to stop its pods and confirm Suspended=True.
        return counters.result(State.IN_PROGRESS, "suspend requested; waiting for the controller to confirm")

    stuck = view.stuck(skip=_JOB_RETRIED_BY_ITSELF)
    notes: list[str] = []
    if not pods and not active:
        failed_create = failed_create_finding(job, related, now, policy, notes)
        if failed_create is not None:
            stuck.append(failed_create)
    attempt = f"attempt {failed + 1} of {attempts}"
    if stuck:
        failure = failed_result(stuck, counters)
        return counters.result(State.FAILED, f"{failure.reason} ({attempt})", failures=failure.failures)
    if not status.get("startTime") and not active and not pods:
        return Assessment(
            State.IN_PROGRESS, with_note("waiting for the Job to start", notes[0] if notes else "")
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
    return counters.result(State.IN_PROGRESS, with_note(text, note))


def _by_counters(
    job: Mapping[str, Any],
    succeeded: int,
    failed: int,
    active: int,
    desired: int | None,
    attempts: int,
    counters: Counters,
) -> Assessment | None:
    """A status written by counters only (older API servers; Helm's legacy checker decides this way,
    pkg/kube/ready.go jobReady): completed once `succeeded` reaches `completions` (with `completions: null`,
    a work queue: one success and nothing left running); failed once `failed` exceeds `backoffLimit`."""
    if desired is not None and desired > 0 and succeeded >= desired:
        return counters.result(State.CURRENT, f"completed: {succeeded}/{desired} succeeded (status counters)")
    if desired is None and succeeded > 0 and not active:
        return counters.result(State.CURRENT, f"completed: {succeeded} succeeded (status counters)")
    if failed >= attempts:
        message = f"{failed} pods failed, more than backoffLimit {attempts - 1} allows"
        failure = Failure("Job", name_of(job), "BackoffLimitExceeded", message)
        text = f"BackoffLimitExceeded: failed {failed} of {attempts} attempts (status counters)"
        return counters.result(State.FAILED, text, failures=(failure,))
    return None


def _job_failed(
    job: Mapping[str, Any],
    cond: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    related: Sequence[Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    failed: int,
    attempts: int,
    counters: Counters,
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
