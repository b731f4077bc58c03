"""Deployment, ReplicaSet, StatefulSet, DaemonSet: counters of the new spec, pods of the new revision only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.status import Assessment, Policy, State, assess
from tests.core.k8s_objects import (
    CREATING,
    at,
    daemon_set,
    deployment,
    event,
    pod_for,
    replica_set_for,
    running,
    stateful_set,
    terminated,
    waiting,
)

POLICY = Policy(config_error_grace=timedelta(seconds=45), unschedulable_grace=timedelta(seconds=60))
CRASH = waiting("web", "CrashLoopBackOff", restarts=5, last_exit_code=1)
QUOTA = 'pods "web-abc-" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8'


def check(obj: dict[str, Any], related: tuple = (), *, now_s: float = 10) -> Assessment:
    return assess(obj, related=tuple(related), now=at(now_s), policy=POLICY)


# ------------------------------------------------------------------------------------------- Deployment


def rollout(
    *,
    new_pods: list[dict[str, Any]] | None = None,
    old_pods: list[dict[str, Any]] | None = None,
    **dep_kw: Any,
) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """A Deployment at revision 2 with its new and old ReplicaSets and pods (container statuses given)."""
    dep_kw.setdefault("revision", 2)
    dep = deployment(**dep_kw)
    new_rs = replica_set_for(dep, created=at(1))
    old_rs = replica_set_for(dep, revision=1, replicas=len(old_pods or ()), created=at(-3600))
    pods = [pod_for(new_rs, f"n{i}", containers=c) for i, c in enumerate(new_pods or [])]
    pods += [pod_for(old_rs, f"o{i}", containers=c, created=at(-3600)) for i, c in enumerate(old_pods or [])]
    return dep, (new_rs, old_rs, *pods)


def test_rolled_out_deployment_is_current() -> None:
    dep, related = rollout(new_pods=[[running()]] * 3)
    result = check(dep, related)
    assert (result.state, result.reason, result.ready, result.desired) == (
        State.CURRENT,
        "3/3 new pods ready",
        3,
        3,
    )


def test_generation_lag_with_stale_all_available_counters_is_in_progress() -> None:
    dep, related = rollout(generation=2, observed_generation=1, new_pods=[[running()]] * 3)
    assert dep["status"]["availableReplicas"] == 3  # the stale counters say "done"
    result = check(dep, related)
    assert result.state is State.IN_PROGRESS
    assert result.reason == "controller has not observed generation 2 yet"


def test_missing_observed_generation_is_not_observed() -> None:
    dep = deployment()
    del dep["status"]["observedGeneration"]
    assert check(dep).state is State.IN_PROGRESS


def test_max_unavailable_one_with_no_new_pod_ready_is_not_current() -> None:
    dep, related = rollout(
        replicas=1,
        max_unavailable=1,
        max_surge=0,
        updated=1,
        ready=0,
        available=0,
        new_pods=[CREATING],
    )
    available = next(c for c in dep["status"]["conditions"] if c["type"] == "Available")
    assert available["status"] == "True"  # "minimum availability" = 1 - maxUnavailable = 0 pods
    result = check(dep, related)
    assert result.state is State.IN_PROGRESS
    assert result.reason.startswith("0/1 new pods ready")
    assert (result.ready, result.desired) == (0, 1)


def test_old_replica_set_pods_crash_looping_do_not_fail_the_rollout() -> None:
    dep, related = rollout(
        updated=3,
        ready=4,
        available=4,
        status_replicas=5,
        new_pods=[[running()], [running(ready=False)], [running(ready=False)]],
        old_pods=[[CRASH], [running()]],
    )
    result = check(dep, related)
    assert result.state is State.IN_PROGRESS
    assert result.failures == ()
    assert result.reason.startswith("1/3 new pods ready")  # old pods' readiness is not progress
    assert result.ready == 1


def test_new_replica_set_pod_crash_looping_fails_the_rollout() -> None:
    dep, related = rollout(
        updated=2, ready=1, available=1, new_pods=[[running()], [CRASH]], old_pods=[[running()]]
    )
    result = check(dep, related)
    assert result.state is State.FAILED
    crashing = next(p for p in related if p["kind"] == "Pod" and p["metadata"]["name"].endswith("-n1"))
    name = crashing["metadata"]["name"]
    assert result.reason == f"pod {name}: CrashLoopBackOff: container web restarted 5 times, last exit 1"
    (failure,) = result.failures
    assert (failure.kind, failure.name, failure.container, failure.restarts) == ("Pod", name, "web", 5)


def test_new_replica_set_found_by_template_when_the_revision_annotation_is_missing() -> None:
    dep, related = rollout(updated=1, ready=0, available=0, new_pods=[[waiting("web", "ImagePullBackOff")]])
    new_rs = related[0]
    del new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    assert check(dep, related).state is State.FAILED


def test_without_replica_sets_no_pod_is_judged() -> None:
    dep, related = rollout(updated=1, ready=0, available=0, new_pods=[[CRASH]])
    pods_only = tuple(o for o in related if o["kind"] == "Pod")
    result = check(dep, pods_only)
    assert result.state is State.IN_PROGRESS


@pytest.mark.parametrize(
    ("dep_kw", "state", "reason"),
    [
        pytest.param(
            {"progressing": ("False", "ProgressDeadlineExceeded"), "updated": 3, "ready": 2, "available": 2},
            State.FAILED,
            "ProgressDeadlineExceeded: no progress for 600s",
            id="progress-deadline-exceeded",
        ),
        pytest.param(
            {"paused": True, "updated": 1, "ready": 3, "available": 3, "status_replicas": 3},
            State.CURRENT,
            "paused",
            id="paused-is-current-with-warning",
        ),
        pytest.param(
            {"status_replicas": 4},
            State.IN_PROGRESS,
            "waiting for 1 old pod to terminate",
            id="old-pod-still-terminating",
        ),
        pytest.param(
            {"available": 2, "min_ready_seconds": 30},
            State.IN_PROGRESS,
            "2/3 available (minReadySeconds 30)",
            id="min-ready-seconds-not-elapsed",
        ),
        pytest.param(
            {"progressing": ("True", "ReplicaSetUpdated")},
            State.IN_PROGRESS,
            "waiting for the rollout to be marked complete",
            id="counters-done-but-not-marked-complete",
        ),
        pytest.param(
            {"progress_deadline_seconds": None},
            State.CURRENT,
            "3/3 new pods ready",
            id="no-progress-deadline-needs-no-progressing-condition",
        ),
        pytest.param(
            {"replicas": 0, "updated": 0, "ready": 0, "available": 0, "status_replicas": 0},
            State.CURRENT,
            "0/0 new pods ready",
            id="scaled-to-zero",
        ),
    ],
)
def test_deployment_conditions_and_counters(dep_kw: dict[str, Any], state: State, reason: str) -> None:
    result = check(deployment(**dep_kw))
    assert result.state is state, result
    assert reason in result.reason
    if dep_kw.get("paused"):
        assert result.warnings and "paused" in result.warnings[0]


def test_replica_failure_fails_after_the_grace() -> None:
    dep = deployment(updated=2, ready=2, available=2, replica_failure=("FailedCreate", QUOTA))
    before = check(dep, now_s=10)
    assert before.state is State.IN_PROGRESS
    assert "FailedCreate" in before.reason
    after = check(dep, now_s=60)
    assert after.state is State.FAILED
    assert after.failures[0].reason == "FailedCreate"
    assert "exceeded quota" in after.failures[0].message


def test_progress_text_names_the_first_waiting_new_pod() -> None:
    dep, related = rollout(updated=2, ready=1, available=1, new_pods=[[running()], CREATING])
    result = check(dep, related)
    assert result.state is State.IN_PROGRESS
    creating = related[3]["metadata"]["name"]
    assert result.reason == f"1/3 new pods ready; waiting for {creating}: ContainerCreating"


def test_new_pods_gated_in_init_are_listed() -> None:
    dep, related = rollout(updated=1, ready=0, available=0)
    new_rs = related[0]
    gated = pod_for(
        new_rs,
        "n0",
        init_containers=[running("wait-for-migration", ready=False)],
        containers=[waiting("web", "PodInitializing")],
    )
    result = check(dep, (*related, gated))
    assert result.waiting == (gated["metadata"]["name"],)


def test_terminating_deployment_is_in_progress() -> None:
    assert check(deployment(deleted=at(5))).reason == "Deployment web is terminating"


# ------------------------------------------------------------------------------------------- ReplicaSet


def test_replica_set_current_and_failed() -> None:
    dep = deployment()
    rs = replica_set_for(dep)
    assert check(rs, [pod_for(rs, f"p{i}") for i in range(3)]).state is State.CURRENT
    broken = replica_set_for(dep, ready=2)
    result = check(
        broken, [pod_for(broken, "p0"), pod_for(broken, "p1"), pod_for(broken, "p2", containers=[CRASH])]
    )
    assert result.state is State.FAILED
    assert result.reason.startswith("pod web-")


def test_replica_set_with_extra_pods_is_in_progress() -> None:
    rs = replica_set_for(deployment())
    rs["status"]["replicas"] = 4
    assert "waiting for 1 extra pod" in check(rs).reason


# ------------------------------------------------------------------------------------------- StatefulSet


def test_stateful_set_rolled_out_is_current() -> None:
    sts = stateful_set()
    result = check(sts, [pod_for(sts, i, containers=[running("db")]) for i in range(3)])
    assert (result.state, result.reason) == (State.CURRENT, "3/3 updated pods ready")


def test_stateful_set_rolling_update_in_progress() -> None:
    sts = stateful_set(current_revision="db-old", update_revision="db-new", updated=1)
    result = check(sts)
    assert result.state is State.IN_PROGRESS
    assert result.reason.startswith("1/3 updated pods ready")


def test_stateful_set_counts_done_but_revision_not_switched() -> None:
    sts = stateful_set(current_revision="db-old", update_revision="db-new", updated=3, current=0)
    assert "waiting for the revision switch" in check(sts).reason


def test_stateful_set_updated_pod_crash_fails_old_pod_crash_does_not() -> None:
    """With Parallel pod management the controller replaces the broken old pod itself (no block)."""
    sts = stateful_set(
        current_revision="db-old",
        update_revision="db-new",
        updated=1,
        ready=2,
        pod_management_policy="Parallel",
    )
    new = pod_for(sts, 2, containers=[waiting("db", "CrashLoopBackOff", restarts=3, last_exit_code=1)])
    old_crash = pod_for(sts, 1, revision="db-old", containers=[waiting("db", "CrashLoopBackOff", restarts=9)])
    old_ok = pod_for(sts, 0, revision="db-old", containers=[running("db")])
    waiting_only = check(sts, [old_crash, old_ok])
    assert waiting_only.state is State.IN_PROGRESS
    assert waiting_only.reason == "1/3 updated pods ready; waiting for db-1: CrashLoopBackOff (old revision)"
    result = check(sts, [new, old_crash, old_ok])
    assert result.state is State.FAILED
    assert result.reason.startswith("pod db-2: CrashLoopBackOff: container db restarted 3 times")


def test_stateful_set_partition() -> None:
    waiting_for_one = stateful_set(
        current_revision="db-old", update_revision="db-new", updated=0, partition=2
    )
    assert check(waiting_for_one).state is State.IN_PROGRESS
    done = stateful_set(current_revision="db-old", update_revision="db-new", updated=1, partition=2)
    result = check(done)
    assert result.state is State.CURRENT
    assert result.warnings == ("partition 2: pods with an ordinal below 2 keep the old revision",)


def test_stateful_set_on_delete_is_current_with_a_warning() -> None:
    sts = stateful_set(
        update_strategy="OnDelete", current_revision="db-old", update_revision="db-new", updated=0
    )
    result = check(sts)
    assert result.state is State.CURRENT
    assert "OnDelete" in result.warnings[0] and "3 pods keep the old revision" in result.warnings[0]
    assert check(stateful_set(update_strategy="OnDelete", ready=1)).state is State.IN_PROGRESS


def test_stateful_set_failed_create_event_fails_after_grace() -> None:
    sts = stateful_set(ready=0, status_replicas=0)
    ev = event(
        sts,
        "FailedCreate",
        f"create Pod db-0 in StatefulSet db failed error: {QUOTA}",
        component="statefulset-controller",
        first=at(1),
        count=7,
    )
    assert check(sts, [ev], now_s=20).state is State.IN_PROGRESS
    result = check(sts, [ev], now_s=60)
    assert result.state is State.FAILED
    assert result.failures[0].kind == "StatefulSet" and result.failures[0].reason == "FailedCreate"


def test_stateful_set_generation_lag() -> None:
    assert check(stateful_set(generation=3, observed_generation=2)).state is State.IN_PROGRESS


# ------------------------------------------------------------------------------------------- DaemonSet


def test_daemon_set_rolled_out_is_current() -> None:
    ds = daemon_set()
    assert (
        check(ds, [pod_for(ds, f"n{i}", containers=[running("agent")]) for i in range(3)]).state
        is State.CURRENT
    )


def test_daemon_set_updating_is_in_progress() -> None:
    result = check(daemon_set(generation=2, updated=1, ready=2, available=2))
    assert result.state is State.IN_PROGRESS
    assert result.reason.startswith("1/3 updated pods ready")


def test_daemon_set_new_pod_failure_fails_old_pod_failure_does_not() -> None:
    ds = daemon_set(generation=2, updated=1, ready=2, available=2)
    old = pod_for(
        ds,
        "old",
        labels={"pod-template-generation": "1", "controller-revision-hash": "old"},
        containers=[waiting("agent", "CrashLoopBackOff", restarts=4)],
    )
    new = pod_for(ds, "new", containers=[waiting("agent", "ImagePullBackOff", 'Back-off pulling image "x"')])
    assert check(ds, [old]).state is State.IN_PROGRESS
    result = check(ds, [old, new])
    assert result.state is State.FAILED
    assert result.reason.startswith("pod agent-new: ImagePullBackOff: container agent")


@pytest.mark.parametrize(
    ("ds", "state", "warned"),
    [
        pytest.param(daemon_set(update_strategy="OnDelete", updated=0), State.CURRENT, True, id="on-delete"),
        pytest.param(daemon_set(desired=0), State.CURRENT, True, id="no-matching-node"),
        pytest.param(daemon_set(desired=None), State.IN_PROGRESS, False, id="status-not-written"),
        pytest.param(
            daemon_set(generation=2, observed_generation=1), State.IN_PROGRESS, False, id="generation-lag"
        ),
    ],
)
def test_daemon_set_special_cases(ds: dict[str, Any], state: State, warned: bool) -> None:
    result = check(ds)
    assert result.state is state
    assert bool(result.warnings) is warned


def test_visible_new_pods_that_are_not_ready_outweigh_complete_counters() -> None:
    ds = daemon_set()
    exited = pod_for(ds, "x", containers=[terminated("agent", 0)])
    result = check(ds, [exited])
    assert result.state is State.IN_PROGRESS  # the pods seen say 0 ready; the counters lag behind them
