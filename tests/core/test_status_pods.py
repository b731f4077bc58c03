"""Pods: container waiting reasons (regular and init), grace periods, events, hook semantics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.status import Failure, Policy, State, assess
from tests.core.k8s_objects import (
    CREATING,
    T0,
    at,
    container,
    event,
    event_v1,
    pod,
    pod_spec,
    running,
    terminated,
    waiting,
)

POLICY = Policy(config_error_grace=timedelta(seconds=45), unschedulable_grace=timedelta(seconds=60))
NOT_FOUND = (
    'failed to pull and unpack image "registry.example.com/shop/web:9.9": failed to resolve reference '
    '"registry.example.com/shop/web:9.9": registry.example.com/shop/web:9.9: not found'
)
TIMEOUT = (
    'failed to pull and unpack image "registry.example.com/shop/web:1.0.0": failed to copy: '
    "httpReadSeeker: failed open: dial tcp 10.0.0.5:443: i/o timeout"
)


def check(obj: dict[str, Any], *, now_s: float = 10, hook: bool = False, related: tuple = ()) -> Any:
    return assess(obj, related=related, now=at(now_s), hook=hook, policy=POLICY)


# ------------------------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize(
    ("obj", "state", "reason"),
    [
        pytest.param(pod(), State.CURRENT, "Ready", id="running-ready"),
        pytest.param(
            pod(containers=CREATING), State.IN_PROGRESS, "ContainerCreating", id="container-creating"
        ),
        pytest.param(
            pod(containers=[running(ready=False)]),
            State.IN_PROGRESS,
            "Running: container web not ready",
            id="readiness-failing-while-running",
        ),
        pytest.param(
            pod(containers=[running(ready=False, started=False)]),
            State.IN_PROGRESS,
            "container web starting",
            id="startup-probe-pending",
        ),
        pytest.param(
            pod(containers=[waiting("web", "CrashLoopBackOff", restarts=3, last_exit_code=1)]),
            State.FAILED,
            "CrashLoopBackOff: container web restarted 3 times, last exit 1",
            id="crashloop-exit-1",
        ),
        pytest.param(
            pod(
                containers=[
                    waiting(
                        "web", "CrashLoopBackOff", restarts=1, last_exit_code=137, last_reason="OOMKilled"
                    )
                ]
            ),
            State.FAILED,
            "CrashLoopBackOff: container web restarted 1 time, last exit 137 (OOMKilled)",
            id="crashloop-oomkilled",
        ),
        pytest.param(
            pod(containers=[waiting("web", "ImagePullBackOff", 'Back-off pulling image "x"')]),
            State.FAILED,
            'ImagePullBackOff: container web cannot pull image "registry.example.com/shop/web:1.0.0"',
            id="image-pull-backoff",
        ),
        pytest.param(
            pod(containers=[waiting("web", "ErrImagePull", NOT_FOUND)]),
            State.FAILED,
            "ErrImagePull: container web image",
            id="err-image-pull-permanent-not-found",
        ),
        pytest.param(
            pod(containers=[waiting("web", "ErrImagePull", "pull access denied, repository does not exist")]),
            State.FAILED,
            "pull access denied",
            id="err-image-pull-permanent-denied",
        ),
        pytest.param(
            pod(containers=[waiting("web", "ErrImagePull", TIMEOUT)]),
            State.IN_PROGRESS,
            "ErrImagePull (retrying)",
            id="err-image-pull-transient-timeout",
        ),
        pytest.param(
            pod(containers=[waiting("web", "ErrImageNeverPull", 'Container image "x" is not present')]),
            State.FAILED,
            "ErrImageNeverPull: container web image",
            id="err-image-never-pull",
        ),
        pytest.param(
            pod(containers=[waiting("web", "InvalidImageName", 'Failed to apply default image tag "Web:1"')]),
            State.FAILED,
            "InvalidImageName: container web has an invalid image name",
            id="invalid-image-name",
        ),
    ],
)
def test_regular_pod_verdicts(obj: dict[str, Any], state: State, reason: str) -> None:
    result = check(obj)
    assert result.state is state, result
    assert reason in result.reason


def test_running_phase_with_crashloop_fails_and_names_the_cause() -> None:
    p = pod(
        "web-1",
        containers=[running("sidecar"), waiting("web", "CrashLoopBackOff", restarts=4, last_exit_code=2)],
    )
    assert p["status"]["phase"] == "Running"
    result = check(p)
    assert result.state is State.FAILED
    assert result.failures == (Failure("Pod", "web-1", "CrashLoopBackOff", "Error", "web", False, 2, 4),)


def test_init_container_crashloop_fails_and_the_pod_is_gated() -> None:
    p = pod(
        "web-1",
        init_containers=[waiting("wait-db", "CrashLoopBackOff", restarts=2, last_exit_code=1)],
        containers=[waiting("web", "PodInitializing")],
    )
    result = check(p)
    assert result.state is State.FAILED
    assert result.reason == "Init:CrashLoopBackOff: init container wait-db restarted 2 times, last exit 1"
    (failure,) = result.failures
    assert (failure.container, failure.init_container, failure.exit_code) == ("wait-db", True, 1)
    assert result.waiting == ("web-1",)


def test_pod_held_in_init_is_listed_as_waiting() -> None:
    p = pod(
        "web-1",
        init_containers=[terminated("migrate-check"), running("wait-db", ready=False)],
        containers=[waiting("web", "PodInitializing")],
    )
    result = check(p)
    assert result.state is State.IN_PROGRESS
    assert "init container wait-db running" in result.reason
    assert result.waiting == ("web-1",)
    assert check(pod("web-2")).waiting == ()


def test_init_container_failure_with_restart_policy_never_fails() -> None:
    p = pod(
        "setup",
        restart_policy="Never",
        init_containers=[terminated("schema", 3)],
        containers=[waiting("main", "PodInitializing")],
        phase="Failed",
    )
    result = check(p)
    assert result.state is State.FAILED
    assert result.reason == "Init:Error: init container schema exited 3"
    assert result.failures[0].init_container and result.failures[0].exit_code == 3


def test_init_container_failure_with_restart_always_is_retried() -> None:
    p = pod(
        "web-1",
        init_containers=[terminated("schema", 3, restarts=1)],
        containers=[waiting("web", "PodInitializing")],
    )
    result = check(p)
    assert result.state is State.IN_PROGRESS
    assert "init container schema exited 3, restarting" in result.reason


def test_terminated_nonzero_with_restart_never_fails() -> None:
    p = pod("once", restart_policy="Never", containers=[terminated("main", 2, message="boom")])
    assert p["status"]["phase"] == "Failed"
    result = check(p)
    assert result.state is State.FAILED
    assert result.reason == "Error: container main exited 2"
    assert result.failures == (Failure("Pod", "once", "Error", "boom", "main", False, 2, 0),)


def test_evicted_pod_is_failed_with_its_reason() -> None:
    p = pod(
        "web-1",
        phase="Failed",
        reason="Evicted",
        message="The node was low on resource: memory.",
        containers=[terminated("web", 137, "ContainerStatusUnknown")],
        restart_policy="Always",
    )
    result = check(p)
    assert result.state is State.FAILED
    assert result.reason == "Evicted: The node was low on resource: memory."


def test_succeeded_pod_is_current() -> None:
    assert (
        check(pod("once", restart_policy="Never", containers=[terminated("main", 0)])).state is State.CURRENT
    )


# ------------------------------------------------------------------------------------------- hooks


@pytest.mark.parametrize(
    ("obj", "state"),
    [
        pytest.param(
            pod("hook", restart_policy="Never"), State.IN_PROGRESS, id="running-and-ready-is-not-done"
        ),
        pytest.param(
            pod("hook", restart_policy="Never", containers=CREATING), State.IN_PROGRESS, id="creating"
        ),
        pytest.param(
            pod("hook", restart_policy="Never", containers=[terminated("main")]),
            State.CURRENT,
            id="succeeded",
        ),
        pytest.param(
            pod("hook", restart_policy="Never", containers=[terminated("main", 1)]), State.FAILED, id="failed"
        ),
        pytest.param(
            pod("hook", restart_policy="Never", containers=[waiting("main", "ImagePullBackOff")]),
            State.FAILED,
            id="image-pull-backoff",
        ),
    ],
)
def test_hook_pod(obj: dict[str, Any], state: State) -> None:
    assert check(obj, hook=True).state is state


def test_hook_pod_running_says_why() -> None:
    assert (
        check(pod("hook", restart_policy="Never"), hook=True).reason == "Running: hook pod has not finished"
    )


# ------------------------------------------------------------------------------------------- grace periods


def config_error_pod(**kw: Any) -> dict[str, Any]:
    return pod(
        "web-1",
        containers=[waiting("web", "CreateContainerConfigError", 'configmap "hazard-config" not found')],
        **kw,
    )


@pytest.mark.parametrize(
    ("now_s", "state"),
    [
        pytest.param(10, State.IN_PROGRESS, id="10s-before-grace"),
        pytest.param(44, State.IN_PROGRESS, id="44s-just-before-grace"),
        pytest.param(45, State.FAILED, id="45s-at-grace"),
        pytest.param(300, State.FAILED, id="5m-after-grace"),
    ],
)
def test_create_container_config_error_grace_from_the_pod(now_s: float, state: State) -> None:
    result = check(config_error_pod(), now_s=now_s)
    assert result.state is state
    assert 'CreateContainerConfigError: container web: configmap "hazard-config" not found' in result.reason
    if state is State.IN_PROGRESS:
        assert f"(for {int(now_s)}s)" in result.reason
    else:
        assert result.failures[0].reason == "CreateContainerConfigError"
        assert result.failures[0].message == 'configmap "hazard-config" not found'


def test_config_error_grace_starts_at_the_first_kubelet_event() -> None:
    p = config_error_pod()
    ev = event(
        p,
        "Failed",
        'Error: configmap "hazard-config" not found',
        first=at(30),
        last=at(70),
        count=5,
        field_path="spec.containers{web}",
    )
    assert check(p, now_s=60, related=(ev,)).state is State.IN_PROGRESS  # 30s after the first report
    assert check(p, now_s=76, related=(ev,)).state is State.FAILED


def test_create_container_error_also_waits_for_the_grace() -> None:
    p = pod("web-1", containers=[waiting("web", "CreateContainerError", "context deadline exceeded")])
    assert check(p, now_s=5).state is State.IN_PROGRESS
    assert check(p, now_s=50).state is State.FAILED


@pytest.mark.parametrize(
    ("now_s", "state"),
    [
        pytest.param(30, State.IN_PROGRESS, id="30s-before-grace"),
        pytest.param(61, State.FAILED, id="61s-after-grace"),
    ],
)
def test_unschedulable_grace_from_the_condition(now_s: float, state: State) -> None:
    p = pod("web-1", unschedulable="0/3 nodes are available: 3 Insufficient cpu.", unschedulable_since=at(0))
    result = check(p, now_s=now_s)
    assert result.state is state
    assert "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu." in result.reason
    if state is State.FAILED:
        assert result.failures == (
            Failure("Pod", "web-1", "Unschedulable", "0/3 nodes are available: 3 Insufficient cpu."),
        )


def test_unschedulable_waits_while_the_autoscaler_adds_a_node() -> None:
    p = pod("web-1", unschedulable="0/3 nodes are available: 3 Insufficient cpu.")
    scale_up = event(
        p,
        "TriggeredScaleUp",
        "pod triggered scale-up: [{pool-1 3->4 (max: 10)}]",
        type="Normal",
        component="cluster-autoscaler",
        first=at(5),
    )
    result = check(p, now_s=300, related=(scale_up,))
    assert result.state is State.IN_PROGRESS
    assert "cluster-autoscaler" in result.reason


# ------------------------------------------------------------------------------------------- events


def failed_mount(p: dict[str, Any], first: float, **kw: Any) -> dict[str, Any]:
    return event(
        p,
        "FailedMount",
        'MountVolume.SetUp failed for volume "config" : configmap "hazard-config" not found',
        first=at(first),
        **kw,
    )


@pytest.mark.parametrize(
    ("now_s", "state"),
    [
        pytest.param(20, State.IN_PROGRESS, id="before-grace"),
        pytest.param(50, State.FAILED, id="after-grace"),
    ],
)
def test_failed_mount_missing_configmap(now_s: float, state: State) -> None:
    p = pod("web-1", containers=CREATING)
    result = check(p, now_s=now_s, related=(failed_mount(p, 2, last=at(now_s), count=4),))
    assert result.state is state
    assert 'FailedMount: configmap "hazard-config" not found' in result.reason
    if state is State.FAILED:
        assert result.failures == (
            Failure("Pod", "web-1", "FailedMount", 'configmap "hazard-config" not found'),
        )


def test_failed_mount_missing_secret_as_events_v1() -> None:
    p = pod("web-1", containers=CREATING)
    ev = event_v1(
        p,
        "FailedMount",
        'MountVolume.SetUp failed for volume "db" : secret "db-creds" not found',
        when=at(1),
        action="",
        controller="kubelet",
    )
    result = check(p, now_s=60, related=(ev,))
    assert result.state is State.FAILED
    assert result.failures[0].message == 'secret "db-creds" not found'


def test_failed_mount_is_ignored_once_the_pod_runs() -> None:
    p = pod("web-1")
    assert check(p, now_s=300, related=(failed_mount(p, 2),)).state is State.CURRENT


def test_events_older_than_the_object_are_ignored() -> None:
    p = pod("db-0", containers=CREATING, created=at(100))
    stale = failed_mount(p, 10)  # about the previous pod with the same name
    result = check(p, now_s=400, related=(stale,))
    assert result.state is State.IN_PROGRESS


def test_events_before_tracking_started_are_ignored() -> None:
    p = pod("web-1", containers=CREATING)
    ev = failed_mount(p, 10)
    policy = Policy(tracking_started=at(20))
    assert assess(p, related=(ev,), now=at(400), policy=policy).state is State.IN_PROGRESS
    assert assess(p, related=(ev,), now=at(400), policy=Policy()).state is State.FAILED


def test_a_recurring_event_that_began_before_tracking_started_counts() -> None:
    """kubelet retries the mount and bumps the aggregated event: it is about now, not the past."""
    p = pod("web-1", containers=CREATING)
    ev = failed_mount(p, 10, last=at(30), count=5)
    policy = Policy(tracking_started=at(20))
    assert assess(p, related=(ev,), now=at(400), policy=policy).state is State.FAILED


def test_events_about_another_pod_or_namespace_are_ignored() -> None:
    p = pod("web-1", containers=CREATING)
    other = pod("web-2", containers=CREATING)
    elsewhere = pod("web-1", namespace="staging", containers=CREATING)
    related = (failed_mount(other, 1), failed_mount(elsewhere, 1))
    assert check(p, now_s=400, related=related).state is State.IN_PROGRESS


def test_normal_events_do_not_fail() -> None:
    p = pod("web-1", containers=CREATING)
    pulled = event(p, "Pulling", 'Pulling image "x"', type="Normal", first=at(1))
    assert check(p, now_s=400, related=(pulled,)).state is State.IN_PROGRESS


# ------------------------------------------------------------------------------------------- sidecars


def test_native_sidecar_running_does_not_gate_the_pod() -> None:
    spec = pod_spec(
        [container("web")],
        [container("proxy", restartPolicy="Always")],
    )
    p = pod("web-1", spec=spec, init_containers=[running("proxy")], containers=[running("web")])
    result = check(p)
    assert result.state is State.CURRENT
    assert result.waiting == ()


def test_terminating_pod_is_in_progress() -> None:
    result = check(pod("web-1", deleted=T0))
    assert result.state is State.IN_PROGRESS
    assert "terminating" in result.reason


def test_pod_in_phase_unknown_is_in_progress() -> None:
    result = check(pod("web-1", phase="Unknown", containers=[running(ready=False)]))
    assert result.state is State.IN_PROGRESS
    assert "phase Unknown" in result.reason


def test_container_restarting_after_an_error_is_in_progress_until_crash_loop() -> None:
    result = check(pod("web-1", containers=[terminated("web", 1, restarts=1)]))
    assert result.state is State.IN_PROGRESS
    assert "Error: container web exited 1, restarting" in result.reason
