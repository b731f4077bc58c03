"""A fresh install followed view by view: pre-install hook, migration Job with pods gated on it, rollout."""

from __future__ import annotations

import json
from typing import Any

from bot.core.events import EventType, Outcome
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import (
    hook_job,
    manifest_deployment,
    of_type,
    release,
    tracker,
    types,
    view,
)

WAIT_FOR = k.container(
    "wait-for-migrate", image="ghcr.io/groundnuty/k8s-wait-for:v2.0", args=["job", "shop-migrate"]
)


def _web(ready: int, *, updated: int = 3) -> dict[str, Any]:
    dep = k.deployment(
        "shop-web", replicas=3, updated=updated, ready=ready, available=ready, status_replicas=3
    )
    dep["spec"]["template"]["spec"]["initContainers"] = [dict(WAIT_FOR)]
    return dep


def _web_pods(dep: dict[str, Any], *, gated: int, ready: int) -> list[dict[str, Any]]:
    rs = k.replica_set_for(dep, ready=ready)
    pods = [rs]
    for i in range(3):
        if i < gated:
            pods.append(
                k.pod_for(
                    rs,
                    f"g{i}",
                    containers=[k.waiting("shop-web", "PodInitializing")],
                    init_containers=[k.running("wait-for-migrate", ready=False)],
                )
            )
        else:
            pods.append(
                k.pod_for(
                    rs,
                    f"r{i}",
                    containers=[k.running("shop-web", ready=i < gated + ready)],
                    init_containers=[k.terminated("wait-for-migrate")],
                )
            )
    return pods


def _migrate(done: bool) -> list[dict[str, Any]]:
    if done:
        job = k.job("shop-migrate", active=0, succeeded=1, conditions=k.job_complete_conditions(k.at(40)))
        pod = k.pod_for(job, "m1", containers=[k.terminated("migrate")], restart_policy="Never")
    else:
        job = k.job("shop-migrate")
        pod = k.pod_for(job, "m1", containers=[k.running("migrate")], restart_policy="Never")
    return [job, pod]


def _manifest() -> list[dict[str, Any]]:
    dep = manifest_deployment("shop-web")
    migrate = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "shop-migrate"},
        "spec": k.job("shop-migrate")["spec"],
    }
    return [dep, migrate]


def _release(status: str) -> Any:
    hooks = [
        hook_job(
            "shop-db-create",
            delete_policies=["hook-succeeded"],
            phase="Succeeded" if status == "deployed" else "",
        )
    ]
    return release(1, status, manifest=_manifest(), hooks=hooks)


def test_successful_install_follows_hook_migration_gated_pods_and_rollout() -> None:
    t = tracker()
    pending = _release("pending-install")

    # helm created the release record and started the pre-install hook
    ev = t.observe(view(pending), k.at(0))
    assert types(ev) == ["tracking_started", "phase_started"]
    started = ev[0]
    assert started.data["operation"] == "install"
    assert started.data["chart"] == "shop-1.2.0"
    assert [p["name"] for p in started.data["plan"]] == ["pre-install hooks", "resources"]
    assert ev[1].phase == "pre-install hooks"

    hook = k.job("shop-db-create", created=k.at(1))
    hook_pod = k.pod_for(hook, "h1", containers=[k.running("create")], restart_policy="Never")
    ev = t.observe(
        view(pending, hook, hook_pod, logs={("shop-db-create-h1", "create"): ["CREATE DATABASE"]}), k.at(3)
    )
    assert types(ev) == ["resource_progress", "log_lines"]
    assert ev[1].data["lines"] == ["CREATE DATABASE"] and ev[1].subject == "Job/shop-db-create"
    assert [(r.pod, r.container, r.previous) for r in t.log_requests()] == [
        ("shop-db-create-h1", "create", False)
    ]

    # the hook succeeded and helm deleted it at once (hook-succeeded): Complete was never seen,
    # the release record does not say yet either -> unknown, not success
    ev = t.observe(view(pending), k.at(6))
    assert EventType.RESOURCE_READY not in [e.type for e in ev]
    assert t.summary().jobs[0].state == "unknown"

    # resources applied: migration Job runs, web pods wait in Init on it; helm says deployed (no --wait)
    deployed = _release("deployed")
    dep = _web(ready=0)
    logs = {("shop-migrate-m1", "migrate"): ["migrating 1/2", "migrating 2/2"]}
    ev = t.observe(
        view(deployed, dep, *_web_pods(dep, gated=3, ready=0), *_migrate(False), logs=logs), k.at(10)
    )
    assert "verdict" not in types(ev)
    hook_ready = of_type(ev, EventType.RESOURCE_READY)
    assert [e.subject for e in hook_ready] == ["Job/shop-db-create"]  # judged from Helm's record now
    assert [e.phase for e in of_type(ev, EventType.PHASE_FINISHED)] == ["pre-install hooks"]
    gated = of_type(ev, EventType.PODS_GATED)
    assert len(gated) == 1 and gated[0].data["job"] == "shop-migrate" and gated[0].data["count"] == 3
    assert gated[0].message.startswith("3 pods of shop-web waiting on shop-migrate, running")
    assert of_type(ev, EventType.LOG_LINES)[0].data["lines"] == ["migrating 1/2", "migrating 2/2"]
    progress = [e.message for e in of_type(ev, EventType.RESOURCE_PROGRESS)]
    assert "shop-web: 0/3 new pods ready" in progress

    # same picture again: nothing new (no spam), logs do not repeat
    again = t.observe(
        view(deployed, dep, *_web_pods(dep, gated=3, ready=0), *_migrate(False), logs=logs), k.at(12)
    )
    assert again == []

    # migration done, pods start
    dep = _web(ready=1)
    ev = t.observe(view(deployed, dep, *_web_pods(dep, gated=0, ready=1), *_migrate(True)), k.at(45))
    assert [e.subject for e in of_type(ev, EventType.RESOURCE_READY)] == ["Job/shop-migrate"]
    assert [e.message for e in of_type(ev, EventType.RESOURCE_PROGRESS)] == ["shop-web: 1/3 new pods ready"]
    assert "verdict" not in types(ev)

    dep = k.deployment("shop-web", replicas=3)
    dep["spec"]["template"]["spec"]["initContainers"] = [dict(WAIT_FOR)]
    ev = t.observe(view(deployed, dep, *_web_pods(dep, gated=0, ready=3), *_migrate(True)), k.at(60))
    assert types(ev)[-3:] == ["resource_ready", "phase_finished", "verdict"]
    verdict = ev[-1]
    assert verdict.data["outcome"] == "succeeded" and t.done and t.verdict == verdict
    assert verdict.outcome is Outcome.SUCCEEDED
    assert t.observe(view(deployed), k.at(61)) == []
    assert t.log_requests() == []

    summary = t.summary()
    assert [(p.name, p.state) for p in summary.phases] == [
        ("pre-install hooks", "succeeded"),
        ("resources", "succeeded"),
    ]
    assert [(w.name, w.ready, w.desired, w.state) for w in summary.workloads] == [
        ("shop-web", 3, 3, "current")
    ]
    jobs = {j.name: j for j in summary.jobs}
    assert jobs["shop-migrate"].state == "succeeded" and jobs["shop-migrate"].last_log_line == "migrating 2/2"
    assert jobs["shop-db-create"].state == "succeeded"
    web = next(tl for tl in summary.timeline if tl.subject == "Deployment/shop-web")
    assert [(p.ready, p.desired) for p in web.points] == [(0, 3), (1, 3), (3, 3)]
    assert web.first_seen == k.at(10) and web.done_at == k.at(60)
    assert json.loads(json.dumps(summary.to_dict()))["verdict"]["outcome"] == "succeeded"


def test_deployed_while_pods_in_init_is_still_in_progress() -> None:
    t = tracker()
    deployed = _release("deployed")
    dep = _web(ready=0)
    for minute in range(1, 4):
        ev = t.observe(
            view(deployed, dep, *_web_pods(dep, gated=3, ready=0), *_migrate(False)), k.at(60 * minute)
        )
        assert "verdict" not in types(ev)
    assert not t.done
    assert t.summary().gated[0].job == "shop-migrate"


def test_pods_still_gated_after_the_job_finished_do_not_claim_it_runs() -> None:
    """k8s-wait-for polls: for a moment the Job is Complete while pods still sit in Init."""
    t = tracker()
    deployed = _release("deployed")
    dep = _web(ready=0)
    t.observe(view(deployed, dep, *_web_pods(dep, gated=3, ready=0), *_migrate(False)), k.at(10))
    dep = _web(ready=1)
    ev = t.observe(view(deployed, dep, *_web_pods(dep, gated=2, ready=1), *_migrate(True)), k.at(45))
    [gated] = of_type(ev, EventType.PODS_GATED)
    assert gated.message.startswith("2 pods of shop-web waiting on shop-migrate (it has finished")
    assert "running" not in gated.message and gated.data["job_running_seconds"] is None


def test_gated_pods_are_reported_again_every_minute_while_the_job_runs() -> None:
    t = tracker()
    deployed = _release("deployed")
    dep = _web(ready=0)
    pods = _web_pods(dep, gated=3, ready=0)

    def gated_at(second: float) -> list[str]:
        ev = t.observe(view(deployed, dep, *pods, *_migrate(False)), k.at(second))
        return [e.message for e in of_type(ev, EventType.PODS_GATED)]

    assert gated_at(12) == ["3 pods of shop-web waiting on shop-migrate, running 12s"]
    assert gated_at(30) == [] and gated_at(71) == []  # same pods: no repeat within a minute
    [again] = gated_at(72)
    assert again == "3 pods of shop-web waiting on shop-migrate, running 1m12s"
    assert gated_at(100) == [] and len(gated_at(132)) == 1
    # resumed from a store, the heartbeat keeps its pace
    t = type(t).from_state(t.to_state())
    assert gated_at(150) == [] and gated_at(192) == [
        "3 pods of shop-web waiting on shop-migrate, running 3m12s"
    ]
