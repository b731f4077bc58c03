"""Jobs: done only when Complete; Failed/FailureTarget with attempts; stuck pods fail a Job early."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.status import Assessment, Failure, Policy, State, assess
from tests.core.k8s_objects import (
    CREATING,
    at,
    event,
    job,
    job_complete_conditions,
    job_failed_conditions,
    pod,
    pod_for,
    running,
    terminated,
    waiting,
)

POLICY = Policy(config_error_grace=timedelta(seconds=45), unschedulable_grace=timedelta(seconds=60))


def check(obj: dict[str, Any], related: tuple | list = (), *, now_s: float = 10) -> Assessment:
    return assess(obj, related=tuple(related), now=at(now_s), policy=POLICY)


def test_running_job_is_in_progress_not_current() -> None:
    j = job(active=1, ready=1)
    result = check(j, [pod_for(j, "abcde", containers=[running("migrate")], restart_policy="Never")])
    assert result.state is State.IN_PROGRESS
    assert result.reason == "running"
    assert (result.ready, result.desired) == (0, 1)


@pytest.mark.parametrize(
    "conditions",
    [
        pytest.param(job_complete_conditions(), id="complete"),
        pytest.param(job_complete_conditions()[:1], id="success-criteria-met-only"),
    ],
)
def test_completed_job_is_current(conditions: list[dict[str, Any]]) -> None:
    result = check(job(active=0, succeeded=1, conditions=conditions))
    assert (result.state, result.reason, result.ready, result.desired) == (
        State.CURRENT,
        "completed: 1/1 succeeded",
        1,
        1,
    )


def test_backoff_limit_exceeded_names_attempts_and_the_last_pod() -> None:
    j = job(backoff_limit=2, active=0, failed=3, conditions=job_failed_conditions("BackoffLimitExceeded"))
    pods = [
        pod_for(j, f"try{i}", containers=[terminated("migrate", 1)], created=at(i * 10)) for i in range(3)
    ]
    result = check(j, pods, now_s=100)
    assert result.state is State.FAILED
    assert result.reason == (
        "BackoffLimitExceeded: failed 3 of 3 attempts;"
        " last pod migrate-try2: Error: container migrate exited 1"
    )
    assert result.failures == (
        Failure("Job", "migrate", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        Failure("Pod", "migrate-try2", "Error", "Error", "migrate", False, 1, 0),
    )


def test_failure_target_fails_before_the_failed_condition_arrives() -> None:
    j = job(backoff_limit=0, active=0, failed=1, conditions=job_failed_conditions(terminal=False))
    result = check(j)
    assert result.state is State.FAILED
    assert result.reason == "BackoffLimitExceeded: failed 1 of 1 attempts"


def test_deadline_exceeded() -> None:
    j = job(active=0, active_deadline_seconds=300, conditions=job_failed_conditions("DeadlineExceeded"))
    result = check(j)
    assert result.state is State.FAILED
    assert result.reason == "DeadlineExceeded: active longer than 300s"
    assert result.failures[0].reason == "DeadlineExceeded"


def test_pod_failure_policy_reason_is_reported() -> None:
    result = check(job(active=0, conditions=job_failed_conditions("PodFailurePolicy")))
    assert result.reason.startswith("PodFailurePolicy: Container main for pod")


def test_retry_in_progress_is_attempt_k_of_n() -> None:
    j = job(backoff_limit=2, active=1, failed=1)
    first = pod_for(j, "try0", containers=[terminated("migrate", 1)], created=at(0))
    second = pod_for(j, "try1", containers=[running("migrate")], created=at(20))
    result = check(j, [first, second], now_s=30)
    assert result.state is State.IN_PROGRESS
    assert result.reason == (
        "retrying: attempt 2 of 3, 1 pod failed, last: pod migrate-try0: Error: container migrate exited 1"
    )
    assert result.failures == ()


@pytest.mark.parametrize(
    ("container_status", "reason"),
    [
        pytest.param(
            waiting("migrate", "ImagePullBackOff", 'Back-off pulling image "x"'),
            "ImagePullBackOff",
            id="image-pull",
        ),
        pytest.param(waiting("migrate", "InvalidImageName"), "InvalidImageName", id="invalid-image"),
        pytest.param(
            waiting("migrate", "CreateContainerConfigError", 'secret "db-creds" not found'),
            "CreateContainerConfigError",
            id="config-error-after-grace",
        ),
    ],
)
def test_job_whose_pod_is_stuck_fails_early(container_status: dict[str, Any], reason: str) -> None:
    j = job()
    p = pod_for(j, "abcde", containers=[container_status])
    result = check(j, [p], now_s=120)
    assert result.state is State.FAILED
    assert result.reason.startswith(f"pod migrate-abcde: {reason}: container migrate")
    assert result.reason.endswith("(attempt 1 of 7)")
    assert result.failures[0].name == "migrate-abcde" and result.failures[0].container == "migrate"


def test_job_pod_config_error_before_grace_is_in_progress() -> None:
    j = job()
    p = pod_for(
        j, "abcde", containers=[waiting("migrate", "CreateContainerConfigError", 'secret "db" not found')]
    )
    result = check(j, [p], now_s=20)
    assert result.state is State.IN_PROGRESS
    assert "CreateContainerConfigError" in result.reason


def test_job_pod_unschedulable_after_grace_fails() -> None:
    j = job()
    p = pod_for(j, "abcde", unschedulable="0/2 nodes are available: 2 node(s) had untolerated taint.")
    assert check(j, [p], now_s=30).state is State.IN_PROGRESS
    assert check(j, [p], now_s=90).state is State.FAILED


def test_job_pod_missing_configmap_mount_fails_after_grace() -> None:
    j = job()
    p = pod_for(j, "abcde", containers=CREATING)
    ev = event(
        p,
        "FailedMount",
        'MountVolume.SetUp failed for volume "cfg" : configmap "migrate-cfg" not found',
        first=at(1),
    )
    result = check(j, [p, ev], now_s=50)
    assert result.state is State.FAILED
    assert result.failures[0].reason == "FailedMount"


def test_job_crash_loop_under_on_failure_is_left_to_the_backoff_limit() -> None:
    j = job(restart_policy="OnFailure")
    p = pod_for(j, "abcde", containers=[waiting("migrate", "CrashLoopBackOff", restarts=2, last_exit_code=1)])
    result = check(j, [p], now_s=60)
    assert result.state is State.IN_PROGRESS
    assert "CrashLoopBackOff: container migrate restarted 2 times, last exit 1" in result.reason


def test_suspended_job_is_current_with_a_warning() -> None:
    result = check(job(suspend=True, active=0))
    assert result.state is State.CURRENT
    assert result.warnings == ("suspended: the Job runs no pods",)


def test_pods_of_a_previous_job_with_the_same_name_are_ignored() -> None:
    previous = job(active=0)
    previous["metadata"]["uid"] = "00000000-0000-0000-0000-000000000001"
    old_pod = pod_for(previous, "old", containers=[waiting("migrate", "ImagePullBackOff")])
    j = job()
    assert check(j, [old_pod], now_s=120).state is State.IN_PROGRESS


def test_pods_matched_by_job_name_label_without_owner() -> None:
    j = job()
    orphan = pod(
        "migrate-abcde",
        labels={"job-name": "migrate", "controller-uid": j["metadata"]["uid"]},
        containers=[waiting("migrate", "ErrImageNeverPull")],
    )
    assert check(j, [orphan]).state is State.FAILED


def test_parallel_job_progress_counts_succeeded() -> None:
    result = check(job(completions=5, parallelism=2, active=2, succeeded=3))
    assert (result.reason, result.ready, result.desired) == ("running: 3/5 succeeded", 3, 5)


def test_job_not_started_yet() -> None:
    result = check(job(active=0, started=None))
    assert (result.state, result.reason) == (State.IN_PROGRESS, "waiting for the Job to start")


def test_failed_create_on_a_job_without_pods_fails_after_grace() -> None:
    j = job(active=0, started=None)
    ev = event(
        j,
        "FailedCreate",
        'Error creating: pods "migrate-x" is forbidden: exceeded quota: compute',
        component="job-controller",
        first=at(1),
    )
    assert check(j, [ev], now_s=20).state is State.IN_PROGRESS
    result = check(j, [ev], now_s=60)
    assert result.state is State.FAILED
    assert result.failures[0].kind == "Job"


def test_hook_flag_does_not_change_job_semantics() -> None:
    j = job()
    assert assess(j, now=at(10), hook=True).state is State.IN_PROGRESS
    done = job(active=0, succeeded=1, conditions=job_complete_conditions())
    assert assess(done, now=at(10), hook=True).state is State.CURRENT
