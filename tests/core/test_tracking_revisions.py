"""Upgrades: the previous revision's objects are not this revision's progress.

Timeline as helm v4 runs an upgrade (checked on the stand-in): T0 is `last_deployed`; helm deletes the old
hook Job, records `last_run: Running` in the release, creates the new Job, waits for it, then applies the
resources (the Deployment's template changes) and marks the release deployed.
"""

from __future__ import annotations

from typing import Any

from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.releases import Release
from bot.core.tracking.manifest_match import matches_manifest
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import hook_job, of_type, release, tracker, types, view

OLD, NEW = "registry.example.com/shop/web:1.0.0", "registry.example.com/shop/web:2.0.0"


def _manifest(image: str = NEW, cpu: Any = "250m") -> dict[str, Any]:
    spec = k.deployment("shop-web", replicas=2, image=image)["spec"]
    spec["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": cpu, "memory": "64Mi"}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shop-web"}, "spec": spec}


def _rel(
    status: str = "pending-upgrade", *, hook_phase: str = "", started: float | None = None, image: str = NEW
) -> Release:
    hooks = [
        hook_job(
            "shop-migrate",
            events=["pre-upgrade"],
            phase=hook_phase,
            started_at=k.at(started) if started is not None else None,
        )
    ]
    return release(2, status, manifest=[_manifest(image)], hooks=hooks)


def _web(image: str, *, revision: int, ready: int = 2, lagging: bool = False) -> list[dict[str, Any]]:
    """The Deployment as the API shows it; `lagging`: helm just changed it, the controller has not seen it."""
    dep = k.deployment(
        "shop-web",
        replicas=2,
        image=image,
        revision=revision,
        generation=revision,
        observed_generation=revision - 1 if lagging else None,
        updated=ready,
        ready=ready,
        available=ready,
    )
    dep["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "250m", "memory": "64Mi"}
    }
    rs = k.replica_set_for(dep, ready=ready)
    pods = [k.pod_for(rs, f"p{i}", containers=[k.running("shop-web", ready=i < ready)]) for i in range(2)]
    return [dep, rs, *pods]


def _job(*, uid: str | None = None, created: float, done_at: float | None = None) -> list[dict[str, Any]]:
    if done_at is None:
        job = k.job("shop-migrate", created=k.at(created), started=k.at(created))
    else:
        job = k.job(
            "shop-migrate",
            active=0,
            succeeded=1,
            created=k.at(created),
            started=k.at(created),
            conditions=k.job_complete_conditions(k.at(done_at)),
        )
    if uid:
        job["metadata"]["uid"] = uid
    state = k.terminated("migrate") if done_at is not None else k.running("migrate")
    pod = k.pod_for(
        job, f"{uid or 'now'}1", containers=[state], restart_policy="Never", created=k.at(created)
    )
    return [job, pod]


def _about(events: list[TrackEvent], subject: str) -> list[str]:
    return [e.type.value for e in events if e.subject == subject]


def test_previous_revisions_objects_are_not_progress_while_the_pre_upgrade_hook_runs() -> None:
    t = tracker(2)
    previous_run = _job(uid="previous-run", created=-10, done_at=-6)
    # helm created revision 2 (pending) and has not reached the hook: last run's Job and Deployment are there
    ev = t.observe(view(_rel(), *previous_run, *_web(OLD, revision=1)), k.at(0.5))
    assert types(ev) == ["tracking_started", "phase_started"] and ev[1].phase == "pre-upgrade hooks"
    assert t.log_requests() == []  # the previous run's pod is not followed
    # helm recorded the hook's start; the informer still shows the old Job (deleted, event not seen yet)
    ev = t.observe(
        view(_rel(hook_phase="Running", started=1.5), *previous_run, *_web(OLD, revision=1)), k.at(2)
    )
    assert ev == []
    # the new Job runs
    running = _rel(hook_phase="Running", started=1.5)
    ev = t.observe(view(running, *_job(created=2), *_web(OLD, revision=1)), k.at(3))
    assert [e.message for e in ev] == ["shop-migrate: running (attempt 1 of 7)"]
    assert [(j.name, j.state) for j in t.summary().jobs] == [("shop-migrate", "in_progress")]
    assert [p.state for p in t.summary().phases] == ["running", "pending"]
    # it completes; the resources phase starts, but helm has not applied the Deployment yet
    ev = t.observe(view(running, *_job(created=2, done_at=5), *_web(OLD, revision=1)), k.at(6))
    assert _about(ev, "Job/shop-migrate") == ["resource_ready"]
    assert _about(ev, "Deployment/shop-web") == []
    assert [e.phase for e in of_type(ev, EventType.PHASE_STARTED)] == ["resources"]
    [web] = t.summary().workloads
    assert web.state == "pending" and "not applied yet" in web.reason
    # helm applied revision 2's template: now its rollout is progress
    ev = t.observe(
        view(running, *_job(created=2, done_at=5), *_web(NEW, revision=2, ready=0, lagging=True)), k.at(7)
    )
    assert _about(ev, "Deployment/shop-web") == ["resource_progress"]
    ev = t.observe(
        view(_rel("deployed", hook_phase="Succeeded", started=1.5), *_web(NEW, revision=2)), k.at(12)
    )
    assert _about(ev, "Deployment/shop-web") == ["resource_ready"]
    assert ev[-1].outcome is Outcome.SUCCEEDED


def test_without_any_hook_record_yet_an_old_job_created_moments_before_is_not_this_run() -> None:
    """The reported case: the previous operation ended seconds ago (within helm's clock skew)."""
    t = tracker(2)
    ev = t.observe(
        view(_rel(), *_job(uid="previous-run", created=-3, done_at=-2), *_web(OLD, revision=1)), k.at(0.5)
    )
    assert EventType.RESOURCE_READY not in [e.type for e in ev]
    assert EventType.PHASE_FINISHED not in [e.type for e in ev]


def test_a_hook_object_replaced_by_another_uid_never_counts_again() -> None:
    t = tracker(2)
    t.observe(view(_rel()), k.at(0))
    ev = t.observe(view(_rel(), *_job(uid="run-a", created=1)), k.at(2))
    assert _about(ev, "Job/shop-migrate") == ["resource_progress"]
    # helm's before-hook-creation replaced it: run-a was another run's
    ev = t.observe(view(_rel(), *_job(uid="run-b", created=3)), k.at(4))
    assert _about(ev, "Job/shop-migrate") == ["resource_progress"]
    # a lagging informer shows run-a again, complete: still not this run
    ev = t.observe(view(_rel(), *_job(uid="run-a", created=1, done_at=3)), k.at(5))
    assert _about(ev, "Job/shop-migrate") == []
    assert t.summary().jobs[0].state != "succeeded"
    ev = t.observe(view(_rel(), *_job(uid="run-b", created=3, done_at=6)), k.at(7))
    assert _about(ev, "Job/shop-migrate") == ["resource_ready"]


def test_later_hooks_wait_for_earlier_ones_in_helms_order() -> None:
    hooks = [
        hook_job("shop-backup", events=["pre-upgrade"], weight=1),
        hook_job("shop-migrate", events=["pre-upgrade"], weight=5),
    ]
    rel = release(2, "pending-upgrade", manifest=[_manifest()], hooks=hooks)
    backup = k.job("shop-backup", created=k.at(1))
    # the previous run's migrate Job is still there (before-hook-creation deletes it when its turn comes)
    old_migrate = _job(uid="previous-run", created=0.5, done_at=0.8)
    t = tracker(2)
    ev = t.observe(view(rel, backup, *old_migrate), k.at(2))
    assert _about(ev, "Job/shop-migrate") == [] and _about(ev, "Job/shop-backup") == ["resource_progress"]
    done = k.job(
        "shop-backup", active=0, succeeded=1, created=k.at(1), conditions=k.job_complete_conditions(k.at(3))
    )
    # backup done; the old migrate Job was created before it (API server clock): a previous run's
    ev = t.observe(view(rel, done, *old_migrate), k.at(4))
    assert _about(ev, "Job/shop-migrate") == [] and _about(ev, "Job/shop-backup") == ["resource_ready"]
    assert [j.state for j in t.summary().jobs] == ["succeeded", "pending"]


def _resources_only(status: str = "pending-upgrade", image: str = NEW, cpu: Any = "250m") -> Release:
    return release(2, status, manifest=[_manifest(image, cpu)])


def test_deployment_not_applied_yet_then_applied() -> None:
    t = tracker(2)
    ev = t.observe(view(_resources_only(), *_web(OLD, revision=1)), k.at(1))
    assert types(ev) == ["tracking_started", "phase_started"]  # ready 2/2, but revision 1's
    assert t.summary().workloads[0].state == "pending"
    ev = t.observe(view(_resources_only(), *_web(NEW, revision=2, ready=1)), k.at(3))
    assert [e.message for e in of_type(ev, EventType.RESOURCE_PROGRESS)] == ["shop-web: 1/2 new pods ready"]
    # still revision 2's even if something changes it afterwards (an autoscaler): applied is for good
    scaled = _web(NEW, revision=2)
    scaled[0]["spec"]["replicas"] = 4
    t.observe(view(_resources_only(), *scaled), k.at(5))
    assert t.summary().workloads[0].state != "pending"


def test_unchanged_manifest_is_applied_at_once_but_success_still_needs_deployed() -> None:
    t = tracker(2)
    ev = t.observe(view(_resources_only(image=OLD, cpu=0.25), *_web(OLD, revision=1)), k.at(1))
    assert [e.message for e in of_type(ev, EventType.RESOURCE_READY)] == [
        "Deployment/shop-web is ready (2/2)"
    ]
    assert EventType.VERDICT not in [e.type for e in ev]
    ev = t.observe(view(_resources_only("deployed", image=OLD), *_web(OLD, revision=1)), k.at(2))
    assert ev[-1].outcome is Outcome.SUCCEEDED


def test_deployed_release_vouches_for_its_objects() -> None:
    """Once Helm says deployed it has applied everything, whatever changed the live object since."""
    t = tracker(2)
    drifted = _web(NEW, revision=2)
    drifted[0]["spec"]["revisionHistoryLimit"] = 3  # edited by someone after the upgrade
    assert not matches_manifest(drifted[0], _manifest())
    ev = t.observe(view(_resources_only("deployed"), *drifted), k.at(1))
    assert ev[-1].outcome is Outcome.SUCCEEDED


DIGEST = "registry.example.com/shop/web@sha256:" + "ab" * 32


def _rewritten(*, generation: int, managed: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Revision 2's Deployment after a mutating webhook pinned the image to a digest; its new pod crashes."""
    dep = k.deployment(
        "shop-web",
        replicas=2,
        image=DIGEST,
        revision=2,
        generation=generation,
        updated=1,
        ready=0,
        available=0,
        status_replicas=1,
    )
    if managed is not None:
        dep["metadata"]["managedFields"] = managed
    rs = k.replica_set_for(dep, ready=0, replicas=1)
    crash = k.waiting("shop-web", "CrashLoopBackOff", restarts=2, last_exit_code=1)
    return [dep, rs, k.pod_for(rs, "n0", containers=[crash], created=k.at(5))]


def _managed(manager: str, at: float, subresource: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Apply" if manager == "helm" else "Update",
        "apiVersion": "apps/v1",
        "time": k.ts(k.at(at)),
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def test_a_rewritten_object_whose_generation_grew_counts_as_applied() -> None:
    """A webhook changed the image to a digest: no subset match, but Helm did change the object."""
    t = tracker(2)
    t.observe(view(_resources_only(), *_web(OLD, revision=1)), k.at(1))
    rewritten = _rewritten(generation=2)
    assert not matches_manifest(rewritten[0], _manifest())
    t.observe(view(_resources_only(), *rewritten), k.at(30))
    assert t.summary().workloads[0].state == "failed"  # judged before Helm's --wait runs out
    ev = t.observe(view(_resources_only(), *rewritten), k.at(36))
    assert ev[-1].outcome is Outcome.FAILED and "CrashLoopBackOff" in ev[-1].message


def test_helms_managed_fields_entry_from_this_operation_counts_as_applied() -> None:
    """Seen for the first time already changed (no generation step to see): Helm's entry is newer."""
    t = tracker(2)
    managed = [_managed("kube-controller-manager", -3000, "status"), _managed("helm", 2)]
    t.observe(view(_resources_only(), *_rewritten(generation=2, managed=managed)), k.at(30))
    assert t.summary().workloads[0].state == "failed"


def test_an_autoscaler_bumping_the_generation_is_not_helms_apply() -> None:
    t = tracker(2)
    before = _web(OLD, revision=1)
    before[0]["metadata"]["managedFields"] = [_managed("helm", -3600)]
    t.observe(view(_resources_only(), *before), k.at(1))
    scaled = _web(OLD, revision=1)
    scaled[0]["spec"]["replicas"] = 4
    scaled[0]["metadata"]["generation"] = 2
    scaled[0]["metadata"]["managedFields"] = [_managed("helm", -3600), _managed("hpa", 3, "scale")]
    t.observe(view(_resources_only(), *scaled), k.at(5))
    assert t.summary().workloads[0].state == "pending"


def test_an_upgrade_right_after_another_does_not_take_the_previous_apply_for_its_own() -> None:
    """Revision 1 was applied in the same second revision 2 started (managedFields time has whole seconds):
    not this operation's at first sight; a change of Helm's entry while we watch is."""
    rel = release(2, "pending-upgrade", manifest=[_manifest()], last_deployed=k.at(0.6))
    old = _rewritten(generation=1, managed=[_managed("helm", 0.2)])
    t = tracker(2)
    t.observe(view(rel, *old), k.at(1))
    assert t.summary().workloads[0].state == "pending"
    t.observe(view(rel, *_rewritten(generation=2, managed=[_managed("helm", 1.4)])), k.at(30))
    assert t.summary().workloads[0].state == "failed"
