"""The release-level side of issue 11: Helm's hook rules, werf/nelm tracking annotations, custom kinds keyed
by group, Helm's immutable-Job failure explained, each log shown once, a timeout without any view.

Sources: Helm pkg/action/hooks.go (only Job and Pod hooks are waited on); werf deploy annotations
(werf/werf docs/documentation/pages_en/reference/deploy_annotations.md; nelm
pkg/resource annotation handling); kubedog multitrack (fail modes, NonBlocking).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from bot.core.events import EventType, Outcome
from bot.core.model.states import StepState
from bot.core.releases import Release
from bot.core.tracking import ReleaseTracker
from tests.core import k8s_objects as k
from tests.core import release_fixtures as rf
from tests.core.test_tracking_support import (
    KINDS,
    hook_job,
    manifest_deployment,
    of_type,
    release,
    tracker,
    types,
    view,
)

Obj = dict[str, Any]


def with_annotations(manifest: Mapping[str, Any], **annotations: str) -> Obj:
    out: Obj = {**manifest, "metadata": {**manifest["metadata"]}}
    out["metadata"]["annotations"] = {**(manifest["metadata"].get("annotations") or {}), **annotations}
    return out


def web(name: str = "shop-web", *, ready: int = 2, replicas: int = 2, crash: bool = False,
        created: float = 0) -> list[Obj]:
    """A Deployment at revision 1 with `ready` of `replicas` new pods ready (the rest crash-loop or start)."""
    dep = k.deployment(name, replicas=replicas, updated=replicas, ready=ready, available=ready,
                       status_replicas=replicas, created=k.at(created))
    rs = k.replica_set_for(dep, ready=ready)
    pods = []
    for i in range(replicas):
        if i < ready:
            state = k.running(name)
        elif crash:
            state = k.waiting(name, "CrashLoopBackOff", restarts=3, last_exit_code=1)
        else:
            state = k.running(name, ready=False)
        pods.append(k.pod_for(rs, f"p{i}", containers=[state]))
    return [dep, rs, *pods]


def plain_job_manifest(name: str, **annotations: str) -> Obj:
    return rf.job(name, annotations=annotations or None)


def running_job(name: str, *, started: float = 1) -> list[Obj]:
    job = k.job(name, created=k.at(started), started=k.at(started))
    return [job, k.pod_for(job, "j1", containers=[k.running("migrate")], restart_policy="Never")]


def failed_job(name: str) -> list[Obj]:
    job = k.job(name, backoff_limit=0, active=0, failed=1, created=k.at(1),
                conditions=k.job_failed_conditions(since=k.at(9)))
    return [job, k.pod_for(job, "j1", containers=[k.terminated("migrate", 1)], restart_policy="Never")]


def installed(*manifest: Obj, hooks: list[Obj] | None = None, status: str = "deployed") -> Release:
    return release(1, status, manifest=list(manifest), hooks=hooks or [])


def step_of(t: ReleaseTracker, subject: str) -> Any:
    return next(st for st in t._s.steps if st.subject == subject)


# ------------------------------------------------------------------------------------ Helm's hook rules

def test_hooks_of_kinds_helm_does_not_wait_for_are_done_once_created_and_never_fail() -> None:
    warmup = with_annotations(rf.deployment("shop-warmup"), **{"helm.sh/hook": "pre-install"})
    hooks = [
        rf.hook("shop-settings", kind="ConfigMap", events=["pre-install"], weight=-5),
        rf.hook("shop-warmup", kind="Deployment", events=["pre-install"], manifest=warmup),
        hook_job("shop-migrate", events=["pre-install"]),
    ]
    t = tracker()
    rel = installed(manifest_deployment("shop-web", 2), hooks=hooks, status="pending-install")
    started = t.observe(view(rel), k.at(0))
    plan = started[0].data["plan"][0]["steps"]
    assert [(s["kind"], s["wait"]) for s in plan] == [
        ("ConfigMap", False), ("Job", True), ("Deployment", False)]

    done_job = k.job("shop-migrate", active=0, succeeded=1, created=k.at(1),
                     conditions=k.job_complete_conditions(since=k.at(4)))
    crashing_hook = web("shop-warmup", ready=0, crash=True, created=2)
    objects = [k.config_map("shop-settings"), *crashing_hook, done_job, *web()]
    ev = t.observe(view(installed(manifest_deployment("shop-web", 2), hooks=hooks), *objects,
                        kinds=(*KINDS, "ConfigMap")), k.at(10))
    assert EventType.FAILURE not in [e.type for e in ev], types(ev)
    assert ev[-1].outcome is Outcome.SUCCEEDED
    assert step_of(t, "Deployment/shop-warmup").reason.startswith("created (Helm waits only for Job and Pod")


# --------------------------------------------------------------------------- werf/nelm fail modes

def test_fail_mode_ignore_makes_a_failed_job_a_warning() -> None:
    reindex = plain_job_manifest("shop-reindex", **{"werf.io/fail-mode": "IgnoreAndContinueDeployProcess"})
    rel = installed(manifest_deployment("shop-web", 2), reindex)
    t = tracker()
    ev = t.observe(view(rel, *web(), *failed_job("shop-reindex")), k.at(10))
    assert EventType.FAILURE not in [e.type for e in ev]
    [warning] = [e for e in of_type(ev, EventType.WARNING) if "ignored" in e.message]
    assert warning.message.startswith("Job/shop-reindex: failed, ignored (werf.io/fail-mode: "
                                      "IgnoreAndContinueDeployProcess): BackoffLimitExceeded")
    assert ev[-1].outcome is Outcome.SUCCEEDED
    assert step_of(t, "Job/shop-reindex").state == StepState.IGNORED


def test_fail_mode_ignore_keeps_waiting_for_a_workload_unless_it_is_non_blocking() -> None:
    worker = with_annotations(manifest_deployment("worker", 2),
                              **{"werf.io/fail-mode": "IgnoreAndContinueDeployProcess"})
    t = tracker(timeout=timedelta(minutes=1))
    ev = t.observe(view(installed(manifest_deployment("shop-web", 2), worker), *web(),
                        *web("worker", ready=0, crash=True)), k.at(10))
    assert not t.done and EventType.FAILURE not in [e.type for e in ev]
    assert step_of(t, "Deployment/worker").reason.startswith("failing, ignored: pod worker-")

    background = with_annotations(worker, **{"werf.io/track-termination-mode": "NonBlocking"})
    t = tracker()
    ev = t.observe(view(installed(manifest_deployment("shop-web", 2), background), *web(),
                        *web("worker", ready=0, crash=True)), k.at(10))
    assert ev[-1].outcome is Outcome.SUCCEEDED


def test_fail_mode_hope_counts_a_failure_once_the_rest_is_done() -> None:
    worker = with_annotations(manifest_deployment("worker", 2),
                              **{"werf.io/fail-mode": "HopeUntilEndOfDeployProcess"})
    rel = installed(manifest_deployment("shop-web", 2), worker)
    t = tracker()
    ev = t.observe(view(rel, *web(ready=1), *web("worker", ready=0, crash=True)), k.at(10))
    assert not t.done and EventType.FAILURE not in [e.type for e in ev]
    assert "counts once the rest is done" in step_of(t, "Deployment/worker").reason
    # worker recovers before the rest is done: nothing to report
    ev = t.observe(view(rel, *web(ready=1), *web("worker", ready=1, crash=True)), k.at(20))
    assert not t.done
    ev = t.observe(view(rel, *web(ready=2), *web("worker", ready=1, crash=True)), k.at(30))
    ev += t.observe(view(rel, *web(ready=2), *web("worker", ready=1, crash=True)), k.at(36))  # its log
    assert ev[-1].outcome is Outcome.FAILED
    assert ev[-1].data["failures"][0]["subject"] == "Deployment/worker"


def test_non_blocking_does_not_hold_the_release_but_its_failure_counts_while_judged() -> None:
    worker = with_annotations(manifest_deployment("worker", 2),
                              **{"werf.io/track-termination-mode": "NonBlocking"})
    rel = installed(manifest_deployment("shop-web", 2), worker)
    t = tracker()
    assert t.observe(view(rel, *web(), *web("worker", ready=0)), k.at(10))[-1].outcome is Outcome.SUCCEEDED
    t = tracker()
    t.observe(view(rel, *web(ready=1), *web("worker", ready=0, crash=True)), k.at(10))
    ev = t.observe(view(rel, *web(ready=1), *web("worker", ready=0, crash=True)), k.at(16))  # its log
    assert ev[-1].outcome is Outcome.FAILED


# -------------------------------------------------------------------------- werf/nelm other annotations

def test_no_activity_timeout_fails_a_step_that_stops_changing() -> None:
    reindex = plain_job_manifest("shop-reindex", **{"werf.io/no-activity-timeout": "1m"})
    rel = installed(manifest_deployment("shop-web", 2), reindex)
    t = tracker()
    t.observe(view(rel, *web(), *running_job("shop-reindex")), k.at(5))
    logs = {("shop-reindex-j1", "migrate"): ["reindexing orders"]}
    t.observe(view(rel, *web(), *running_job("shop-reindex"), logs=logs), k.at(40))  # a log line: activity
    assert not t.observe(view(rel, *web(), *running_job("shop-reindex"), logs=logs), k.at(95))
    ev = t.observe(view(rel, *web(), *running_job("shop-reindex"), logs=logs), k.at(101))
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["reason"] == "NoActivityTimeout"
    assert failure.data["message"].startswith("nothing changed for 1m1s (werf.io/no-activity-timeout: 1m)")


def test_skip_logs_and_log_regex() -> None:
    quiet = hook_job("shop-secrets", events=["pre-install"], weight=-1)
    quiet["manifest"] = rf._dump(rf.job("shop-secrets", annotations={
        "helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-1", "werf.io/skip-logs": "true"}))
    errors_only = hook_job("shop-migrate", events=["pre-install"])
    errors_only["manifest"] = rf._dump(rf.job("shop-migrate", annotations={
        "helm.sh/hook": "pre-install", "werf.io/log-regex": "^(ERROR|WARN)"}))
    rel = installed(manifest_deployment("shop-web", 2), hooks=[quiet, errors_only], status="pending-install")
    t = tracker()
    t.observe(view(rel), k.at(0))
    secrets = running_job("shop-secrets")
    t.observe(view(rel, *secrets), k.at(2))
    assert t.log_requests() == []  # werf.io/skip-logs: not even fetched
    done = k.job("shop-secrets", active=0, succeeded=1, created=k.at(1),
                 conditions=k.job_complete_conditions(since=k.at(3)))
    migrate = running_job("shop-migrate", started=4)
    t.observe(view(rel, done, *migrate), k.at(5))
    assert [r.pod for r in t.log_requests()] == ["shop-migrate-j1"]
    logs = {("shop-migrate-j1", "migrate"): ["step 1", "WARN slow index", "step 2", "ERROR disk full"]}
    ev = t.observe(view(rel, done, *migrate, logs=logs), k.at(6))
    [lines] = of_type(ev, EventType.LOG_LINES)
    assert lines.data["lines"] == ["WARN slow index", "ERROR disk full"]


def test_unreadable_tracking_annotations_are_warned_about_once_and_ignored() -> None:
    odd = with_annotations(manifest_deployment("shop-web", 2), **{
        "werf.io/fail-mode": "Sometimes", "werf.io/no-activity-timeout": "soon", "werf.io/log-regex": "(("})
    t = tracker()
    ev = t.observe(view(installed(odd), *web()), k.at(5))
    warnings = [e.message for e in of_type(ev, EventType.WARNING)]
    assert warnings == [
        "Deployment/shop-web: werf.io/fail-mode: 'Sometimes' is not one of "
        "FailWholeDeployProcessImmediately, IgnoreAndContinueDeployProcess, HopeUntilEndOfDeployProcess; "
        "ignored",
        "Deployment/shop-web: werf.io/no-activity-timeout: invalid duration 'soon': expected e.g. 90s, 5m, "
        "1h30m, 1.5h or a number of seconds; ignored",
        "Deployment/shop-web: werf.io/log-regex: not a regular expression (missing ), "
        "unterminated subpattern at position 1); ignored",
    ]
    assert ev[-1].outcome is Outcome.SUCCEEDED


# ------------------------------------------------------------------------------------ the rest

def test_a_custom_kind_named_like_a_built_in_is_tracked_apart() -> None:
    knative = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "shop"},
               "spec": {"template": {"spec": {"containers": [{"image": "shop:2"}]}}}}
    core = rf.service("shop")
    rel = installed(core, knative)
    live_core = k.service("shop")
    live_knative = k.custom_resource("Service", "shop", api_version="serving.knative.dev/v1",
                                     conditions=[k.cond("Ready", "Unknown", "RevisionMissing")])
    kinds = (*KINDS, "Service.serving.knative.dev")
    t = tracker(timeout=timedelta(seconds=30))
    ev = t.observe(view(rel, live_core, live_knative, kinds=kinds), k.at(5))
    assert not t.done, types(ev)
    assert step_of(t, "Service/shop").state == StepState.CURRENT
    knative_step = next(st for st in t._s.steps if st.group == "serving.knative.dev")
    assert knative_step.key == "Service.serving.knative.dev" and knative_step.state == StepState.IN_PROGRESS
    ready = k.custom_resource("Service", "shop", api_version="serving.knative.dev/v1",
                              conditions=[k.cond("Ready", "True")])
    assert t.observe(view(rel, live_core, ready, kinds=kinds), k.at(8))[-1].outcome is Outcome.SUCCEEDED


def test_helms_immutable_job_failure_is_explained_with_the_fix() -> None:
    description = ('Upgrade "shop" failed: cannot patch "shop-migrate" with kind Job: Job.batch '
                   '"shop-migrate" is invalid: spec.template: Invalid value: {"labels":{…}: '
                   "field is immutable")
    rel = release(3, "failed", manifest=[plain_job_manifest("shop-migrate")], description=description)
    t = tracker(3)
    ev = t.observe(view(rel), k.at(1))
    assert ev[-1].outcome is Outcome.FAILED
    assert ev[-1].data["reason"].endswith(
        "; Job shop-migrate: Jobs are immutable: make it a hook with before-hook-creation, or put the "
        "revision in its name")


def test_a_failed_hook_jobs_log_is_in_the_diagnosis_once() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-install"])]
    rel = installed(manifest_deployment("shop-web", 2), hooks=hooks, status="pending-install")
    t = tracker()
    t.observe(view(rel), k.at(0))
    job = k.job("shop-migrate", backoff_limit=0, active=0, failed=1, created=k.at(1),
                conditions=k.job_failed_conditions(since=k.at(9)))
    pod = k.pod_for(job, "m1", containers=[k.terminated("migrate", 1)], restart_policy="Never")
    logs = {("shop-migrate-m1", "migrate"): ['ERROR: relation "orders" does not exist']}
    ev = t.observe(view(rel, job, pod, logs=logs), k.at(10))
    verdict = ev[-1]
    assert verdict.outcome is Outcome.FAILED
    [failure] = verdict.data["failures"]
    assert (failure["kind"], failure["pod"], failure["container"], failure["exit_code"]) == (
        "Job", "shop-migrate-m1", "migrate", 1)
    assert failure["log_tail"] == ['ERROR: relation "orders" does not exist']


@pytest.mark.parametrize("started", [False, True], ids=["before-the-release-was-read", "mid-rollout"])
def test_no_view_at_all_still_times_out_naming_what_was_unavailable(started: bool) -> None:
    t = tracker(timeout=timedelta(minutes=1))
    if started:
        t.observe(view(installed(manifest_deployment("shop-web", 2), status="pending-install"),
                       *web(ready=0)), k.at(1))
    assert t.observe_nothing(k.at(30), ["Pod: 500 InternalError"]) == []
    ev = t.observe_nothing(k.at(61), ["Pod: 500 InternalError"])
    assert [e.outcome for e in ev] == [Outcome.TIMED_OUT]
    assert ev[0].data["in_progress"][-1] == "unavailable: Pod: 500 InternalError"
    assert t.observe_nothing(k.at(62), ["Pod: 500 InternalError"]) == []


def test_a_state_with_the_new_fields_round_trips_and_a_step_without_group_is_a_built_in_kind() -> None:
    worker = with_annotations(manifest_deployment("worker", 2), **{
        "werf.io/fail-mode": "HopeUntilEndOfDeployProcess", "werf.io/no-activity-timeout": "2m"})
    cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "tls"}}
    t = tracker()
    t.observe(view(installed(worker, cert, status="pending-install"), *web("worker", ready=1)), k.at(3))
    state = t.to_state()
    assert ReleaseTracker.from_state(state).to_state() == state
    steps = state["tracker"]["steps"]
    assert {s["name"]: s.get("group") for s in steps} == {"worker": "apps", "tls": "cert-manager.io"}
    del steps[0]["group"]  # as stored before groups were kept
    assert ReleaseTracker.from_state(state)._s.steps[0].key == "Deployment"
    assert steps[0]["fail_mode"] == "HopeUntilEndOfDeployProcess" and steps[0]["no_activity_seconds"] == 120


def test_a_kind_the_adapter_watches_but_left_out_for_now_is_not_called_unwatched() -> None:
    """The first view may come while a watch is being re-established: the kind is named in `watched`,
    so its steps wait instead of counting as "not watched" (which a success would not vouch for)."""
    from dataclasses import replace as with_

    rel = installed(manifest_deployment("shop-web", 2))
    partial = with_(view(rel, kinds=[kind for kind in KINDS if kind != "Deployment"]),
                    watched=frozenset(KINDS))
    t = tracker()
    ev = t.observe(partial, k.at(1))
    assert not t.done, types(ev)
    assert step_of(t, "Deployment/shop-web").state == StepState.PENDING
    assert t.observe(view(rel, *web()), k.at(2))[-1].outcome is Outcome.SUCCEEDED
