"""Failures are reported as soon as they are visible, with the container, exit code and log tail."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.core.events import EventType, Outcome
from bot.core.releases import Release
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import (
    FAST,
    failed_migration,
    hook_job,
    manifest_deployment,
    of_type,
    release,
    tracker,
    types,
    view,
)


def _upgrade(
    status: str = "pending-upgrade",
    *,
    hooks: list[dict[str, Any]] | None = None,
    description: str | None = None,
) -> Release:
    return release(
        2, status, manifest=[manifest_deployment("shop-web")], hooks=hooks or [], description=description
    )


def _rollout(
    new_pods: list[dict[str, Any]],
    *,
    ready: int,
    old_pods: int = 0,
    old_pod_state: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A Deployment at revision 2 mid-rollout: new ReplicaSet pods as given, old ReplicaSet pods running."""
    dep = k.deployment(
        "shop-web",
        replicas=3,
        revision=2,
        generation=2,
        updated=len(new_pods),
        ready=ready + old_pods,
        available=ready + old_pods,
        status_replicas=len(new_pods) + old_pods,
    )
    new_rs = k.replica_set_for(dep, ready=ready, replicas=len(new_pods))
    old_rs = k.replica_set_for(dep, revision=1, replicas=old_pods)
    objs: list[dict[str, Any]] = [dep, new_rs, old_rs]
    for i, containers in enumerate(new_pods):
        objs.append(k.pod_for(new_rs, f"n{i}", containers=containers["containers"], created=k.at(5)))
    for i in range(old_pods):
        objs.append(k.pod_for(old_rs, f"o{i}", containers=[old_pod_state or k.running("shop-web")]))
    return objs


CRASH = {"containers": [k.waiting("shop-web", "CrashLoopBackOff", restarts=3, last_exit_code=1)]}


def test_crash_looping_upgrade_fails_with_container_exit_code_restarts_and_log_tail() -> None:
    t = tracker(2)
    t.observe(view(_upgrade()), k.at(0))
    objs = _rollout([CRASH], ready=0, old_pods=3)
    ev = t.observe(view(_upgrade(), *objs), k.at(30))
    assert EventType.VERDICT not in [e.type for e in ev]  # waits one observe for the log tail
    assert EventType.FAILURE not in [e.type for e in ev]
    pod = objs[3]["metadata"]["name"]
    [request] = [r for r in t.log_requests() if r.pod == pod]
    assert (request.container, request.previous) == ("shop-web", True)

    logs = {(pod, "shop-web"): ["starting shop-web 2.0", "panic: missing DATABASE_URL"]}
    ev = t.observe(view(_upgrade(), *objs, logs=logs), k.at(32))
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.subject == "Deployment/shop-web" and failure.phase == "resources"
    data = failure.data
    assert (data["kind"], data["name"], data["pod"], data["container"]) == ("Pod", pod, pod, "shop-web")
    assert data["reason"] == "CrashLoopBackOff" and data["exit_code"] == 1 and data["restarts"] == 3
    assert data["log_tail"] == ["starting shop-web 2.0", "panic: missing DATABASE_URL"]
    assert "exit code 1" in failure.message and "3 restarts" in failure.message
    verdict = ev[-1]
    assert verdict.outcome is Outcome.FAILED and verdict.data["failures"] == [data]
    assert t.done and t.summary().verdict is not None


def test_log_tail_is_not_waited_for_longer_than_one_observe() -> None:
    t = tracker(2)
    t.observe(view(_upgrade()), k.at(0))
    objs = _rollout([CRASH], ready=0)
    assert t.observe(view(_upgrade(), *objs), k.at(30)) == [] or not t.done
    ev = t.observe(view(_upgrade(), *objs), k.at(32))  # logs never delivered
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["log_tail"] == []
    assert ev[-1].outcome is Outcome.FAILED


def test_image_that_cannot_be_pulled_fails_at_once() -> None:
    t = tracker(2)
    t.observe(view(_upgrade()), k.at(0))
    pull = {
        "containers": [
            k.waiting(
                "shop-web", "ImagePullBackOff", 'Back-off pulling image "registry.example.com/shop/web:2.0"'
            )
        ]
    }
    ev = t.observe(view(_upgrade(), *_rollout([pull], ready=0, old_pods=3)), k.at(20))
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["reason"] == "ImagePullBackOff" and failure.data["container"] == "shop-web"
    assert t.log_requests() == []
    assert ev[-1].outcome is Outcome.FAILED


def test_old_replica_set_pods_crash_looping_do_not_fail_the_rollout() -> None:
    t = tracker(2)
    t.observe(view(_upgrade()), k.at(0))
    old_crash = k.waiting(
        "shop-web", "CrashLoopBackOff", restarts=9, last_exit_code=137, last_reason="OOMKilled"
    )
    healthy = {"containers": [k.running("shop-web")]}
    ev = t.observe(
        view(_upgrade("deployed"), *_rollout([healthy], ready=1, old_pods=2, old_pod_state=old_crash)),
        k.at(30),
    )
    assert EventType.FAILURE not in [e.type for e in ev] and not t.done
    dep = k.deployment("shop-web", replicas=3, revision=2, generation=2)
    rs = k.replica_set_for(dep)
    pods = [k.pod_for(rs, f"n{i}", containers=[k.running("shop-web")]) for i in range(3)]
    ev = t.observe(view(_upgrade("deployed"), dep, rs, *pods), k.at(60))
    assert ev[-1].outcome is Outcome.SUCCEEDED


def test_failing_migration_hook_reports_its_log_line_and_deletion_afterwards_does_not_matter() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"], delete_policies=["before-hook-creation"])]
    t = tracker(2)
    t.observe(view(_upgrade(hooks=hooks)), k.at(0))
    job = k.job("shop-migrate", backoff_limit=0, created=k.at(1))
    pod = k.pod_for(job, "m1", containers=[k.running("migrate")], restart_policy="Never")
    logs = {("shop-migrate-m1", "migrate"): ["applying 0042_add_index"]}
    ev = t.observe(view(_upgrade(hooks=hooks), job, pod, logs=logs), k.at(5))
    assert [e.data["lines"] for e in of_type(ev, EventType.LOG_LINES)] == [["applying 0042_add_index"]]

    failed, pod = failed_migration()
    logs = {
        ("shop-migrate-m1", "migrate"): ["applying 0042_add_index", 'ERROR: relation "orders" does not exist']
    }
    ev = t.observe(view(_upgrade(hooks=hooks), failed, pod, logs=logs), k.at(10))
    failures = of_type(ev, EventType.FAILURE)
    assert failures, types(ev)
    job_failure = next(f for f in failures if f.data["kind"] == "Job")
    assert job_failure.data["name"] == "shop-migrate" and job_failure.data["reason"] == "BackoffLimitExceeded"
    assert job_failure.data["container"] == "migrate" and job_failure.data["exit_code"] == 1
    assert job_failure.data["log_tail"][-1] == 'ERROR: relation "orders" does not exist'
    assert of_type(ev, EventType.PHASE_FINISHED)[0].data["state"] == "failed"
    assert ev[-1].outcome is Outcome.FAILED
    assert t.observe(view(_upgrade("failed", hooks=hooks)), k.at(12)) == []  # deleted later: verdict stands


def test_release_marked_failed_by_helm_quotes_its_description() -> None:
    t = tracker(2)
    t.observe(view(_upgrade()), k.at(0))
    objs = _rollout([{"containers": [k.running("shop-web", ready=False)]}], ready=0, old_pods=3)
    assert not t.observe(view(_upgrade(), *objs), k.at(10)) or not t.done
    desc = 'Upgrade "shop" failed: context deadline exceeded'
    ev = t.observe(view(_upgrade("failed", description=desc), *objs), k.at(300))
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["reason"] == "ReleaseFailed" and f'"{desc}"' in failure.message
    assert ev[-1].outcome is Outcome.FAILED and desc in ev[-1].data["reason"]


def test_failed_mount_of_a_missing_config_map_fails_after_its_grace() -> None:
    t = tracker(2)  # FAST policy: 20 s grace for config errors
    t.observe(view(_upgrade()), k.at(0))
    creating = {"containers": [k.waiting("shop-web", "ContainerCreating")]}
    objs = _rollout([creating], ready=0, old_pods=3)
    pod = objs[3]
    mount = k.event(
        pod,
        "FailedMount",
        'MountVolume.SetUp failed for volume "config" : configmap "shop-config" not found',
        first=k.at(6),
        last=k.at(10),
        count=3,
    )
    ev = t.observe(view(_upgrade(), *objs, mount), k.at(10))
    assert EventType.FAILURE not in [e.type for e in ev]  # an operator may still create it
    ev = t.observe(view(_upgrade(), *objs, mount), k.at(30))
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["reason"] == "FailedMount" and 'configmap "shop-config" not found' in failure.message
    assert ev[-1].outcome is Outcome.FAILED


def test_events_from_before_tracking_started_are_ignored() -> None:
    t = tracker(2, policy=replace(FAST, config_error_grace=timedelta(seconds=1)))
    t.observe(view(_upgrade()), k.at(0))
    objs = _rollout([{"containers": [k.waiting("shop-web", "ContainerCreating")]}], ready=0, old_pods=3)
    objs[3]["metadata"]["creationTimestamp"] = k.ts(k.at(-600))
    old = k.event(objs[3], "FailedMount", 'configmap "shop-config" not found', first=k.at(-500))
    ev = t.observe(view(_upgrade(), *objs, old), k.at(60))
    assert EventType.FAILURE not in [e.type for e in ev] and not t.done


def test_paused_deployment_is_a_warning_once() -> None:
    t = tracker(2)
    t.observe(view(_upgrade()), k.at(0))
    dep = k.deployment(
        "shop-web",
        replicas=3,
        revision=2,
        generation=2,
        paused=True,
        updated=0,
        ready=3,
        available=3,
        status_replicas=3,
    )
    rs = k.replica_set_for(dep, revision=1, replicas=3)
    ev = t.observe(view(_upgrade("deployed"), dep, rs), k.at(5))
    warnings = of_type(ev, EventType.WARNING)
    assert len(warnings) == 1 and "paused" in warnings[0].message
    assert t.observe(view(_upgrade("deployed"), dep, rs), k.at(6)) == []
    assert t.summary().warnings == (f"Deployment/shop-web: {warnings[0].data['warning']}",)


def test_deadline_failure_naming_a_pod_that_never_started_asks_for_no_log() -> None:
    """A progress deadline lists the new pods not ready; one still ContainerCreating has no log to fetch."""
    t = tracker(2)
    t.observe(view(_upgrade()), k.at(0))
    creating = {"containers": [k.waiting("shop-web", "ContainerCreating")]}
    objs = _rollout([creating], ready=0, old_pods=3)
    objs[0]["status"]["conditions"] = [
        c for c in objs[0]["status"]["conditions"] if c["type"] != "Progressing"
    ] + [k.cond("Progressing", "False", reason="ProgressDeadlineExceeded",
                message='ReplicaSet "shop-web-2" has timed out progressing.')]
    ev = t.observe(view(_upgrade("deployed"), *objs), k.at(700))
    assert ev[-1].outcome is Outcome.FAILED, [e.message for e in ev]
    assert "ProgressDeadlineExceeded" in ev[-1].message
    assert t.log_requests() == []
