"""Hooks whose evidence disappears (delete policies, TTL), watching after the fact, rollbacks, time limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.events import EventType, Outcome
from bot.core.releases import Release
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


def _web_done(revision: int = 2) -> list[dict[str, Any]]:
    dep = k.deployment("shop-web", replicas=2, revision=revision, generation=revision)
    rs = k.replica_set_for(dep)
    return [dep, rs, *(k.pod_for(rs, f"p{i}", containers=[k.running("shop-web")]) for i in range(2))]


def _web_progress(ready: int, revision: int = 2) -> list[dict[str, Any]]:
    dep = k.deployment(
        "shop-web",
        replicas=2,
        revision=revision,
        generation=revision,
        updated=2,
        ready=ready,
        available=ready,
        status_replicas=2,
    )
    rs = k.replica_set_for(dep, ready=ready)
    pods = [k.pod_for(rs, f"p{i}", containers=[k.running("shop-web", ready=i < ready)]) for i in range(2)]
    return [dep, rs, *pods]


def _rel(
    status: str, hooks: list[dict[str, Any]], *, revision: int = 2, description: str | None = None
) -> Release:
    return release(
        revision, status, manifest=[manifest_deployment("shop-web", 2)], hooks=hooks, description=description
    )


def _complete(name: str, *, at: float = 20) -> dict[str, Any]:
    return k.job(name, active=0, succeeded=1, created=k.at(1), conditions=k.job_complete_conditions(k.at(at)))


def test_hook_deleted_after_complete_was_seen_counts_as_succeeded() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"], delete_policies=["hook-succeeded"])]
    t = tracker(2)
    t.observe(view(_rel("pending-upgrade", hooks)), k.at(0))
    ev = t.observe(view(_rel("pending-upgrade", hooks), _complete("shop-migrate")), k.at(21))
    assert [e.subject for e in of_type(ev, EventType.RESOURCE_READY)] == ["Job/shop-migrate"]
    # helm deletes it; its record is not written yet (last_run still empty)
    ev = t.observe(view(_rel("pending-upgrade", hooks), *_web_progress(0)), k.at(23))
    assert EventType.RESOURCE_READY not in [e.type for e in ev]
    assert t.summary().jobs[0].state == "succeeded"
    ev = t.observe(view(_rel("deployed", hooks), *_web_done()), k.at(40))
    assert ev[-1].outcome is Outcome.SUCCEEDED


def test_hook_that_vanished_unseen_is_unknown_not_success() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"], delete_policies=["hook-succeeded"])]
    t = tracker(2, timeout=timedelta(minutes=2))
    t.observe(view(_rel("pending-upgrade", hooks)), k.at(0))
    t.observe(view(_rel("pending-upgrade", hooks), k.job("shop-migrate", created=k.at(1))), k.at(5))
    # gone without a terminal condition, and (oddly) the release says deployed without a hook record
    ev = t.observe(view(_rel("deployed", hooks), *_web_done()), k.at(30))
    assert "verdict" not in types(ev)
    assert t.summary().jobs[0].state == "unknown"
    ev = t.observe(view(_rel("deployed", hooks), *_web_done()), k.at(121))
    assert ev[-1].outcome is Outcome.TIMED_OUT and "Job/shop-migrate" in ev[-1].data["reason"]


def test_watch_started_after_the_fact_judges_deleted_hooks_from_last_run() -> None:
    hooks = [
        hook_job(
            "shop-migrate",
            events=["pre-upgrade"],
            delete_policies=["hook-succeeded"],
            phase="Succeeded",
            started_at=k.at(-120),
            completed_at=k.at(-90),
        ),
        hook_job(
            "shop-notify",
            events=["post-upgrade"],
            delete_policies=["hook-succeeded"],
            phase="Succeeded",
            started_at=k.at(-30),
            completed_at=k.at(-25),
        ),
    ]
    t = tracker(2, started_at=k.at(0))
    rel = release(
        2, "deployed", manifest=[manifest_deployment("shop-web", 2)], hooks=hooks, last_deployed=k.at(-150)
    )
    ev = t.observe(view(rel, *_web_done()), k.at(1))
    # each phase finishes before the next one starts, even within one observe
    assert [(e.type.value, e.phase) for e in ev[:-1]] == [
        ("tracking_started", None),
        ("phase_started", "pre-upgrade hooks"),
        ("resource_ready", "pre-upgrade hooks"),
        ("phase_finished", "pre-upgrade hooks"),
        ("phase_started", "resources"),
        ("resource_ready", "resources"),
        ("phase_finished", "resources"),
        ("phase_started", "post-upgrade hooks"),
        ("resource_ready", "post-upgrade hooks"),
        ("phase_finished", "post-upgrade hooks"),
    ]
    assert ev[-1].outcome is Outcome.SUCCEEDED
    assert [j.state for j in t.summary().jobs] == ["succeeded", "succeeded"]


def test_watch_after_the_fact_with_a_failed_hook_record() -> None:
    hooks = [
        hook_job(
            "shop-migrate",
            events=["pre-upgrade"],
            delete_policies=["hook-failed"],
            phase="Failed",
            started_at=k.at(-60),
            completed_at=k.at(-50),
        )
    ]
    desc = (
        'Upgrade "shop" failed: pre-upgrade hooks failed: 1 error occurred:\n\t* job shop-migrate failed: '
        "BackoffLimitExceeded"
    )
    t = tracker(2, started_at=k.at(0))
    rel = release(
        2,
        "failed",
        manifest=[manifest_deployment("shop-web", 2)],
        hooks=hooks,
        description=desc,
        last_deployed=k.at(-70),
    )
    ev = t.observe(view(rel), k.at(1))
    reasons = [f.data["reason"] for f in of_type(ev, EventType.FAILURE)]
    assert reasons == ["HookFailed", "ReleaseFailed"]
    assert ev[-1].outcome is Outcome.FAILED


def test_stale_hook_job_from_the_previous_run_is_ignored() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"])]
    t = tracker(2)
    old_failed = k.job(
        "shop-migrate",
        active=0,
        failed=1,
        backoff_limit=0,
        created=k.at(-3600),
        conditions=k.job_failed_conditions(since=k.at(-3500)),
    )
    old_failed["metadata"]["uid"] = "old-run"
    ev = t.observe(view(_rel("pending-upgrade", hooks), old_failed), k.at(0))
    assert EventType.FAILURE not in [e.type for e in ev]
    ev = t.observe(view(_rel("pending-upgrade", hooks), k.job("shop-migrate", created=k.at(2))), k.at(3))
    assert [e.message for e in of_type(ev, EventType.RESOURCE_PROGRESS)] == [
        "shop-migrate: running (attempt 1 of 7)"
    ]


def test_rollback_runs_the_pre_rollback_restore_hook_then_rolls_out() -> None:
    hooks = [hook_job("shop-restore", events=["pre-rollback"])]
    t = tracker(3)
    pending = _rel("pending-rollback", hooks, revision=3)
    ev = t.observe(view(pending), k.at(0))
    assert ev[0].data["operation"] == "rollback"
    assert [p["name"] for p in ev[0].data["plan"]] == ["pre-rollback hooks", "resources"]
    restore = k.job("shop-restore", created=k.at(1))
    restore_pod = k.pod_for(restore, "r1", containers=[k.running("restore")], restart_policy="Never")
    ev = t.observe(
        view(pending, restore, restore_pod, logs={("shop-restore-r1", "restore"): ["restoring"]}), k.at(5)
    )
    assert types(ev) == ["resource_progress", "log_lines"]
    ev = t.observe(view(pending, _complete("shop-restore"), *_web_progress(1, revision=3)), k.at(25))
    assert [e.phase for e in of_type(ev, EventType.PHASE_STARTED)] == ["resources"]
    assert [e.phase for e in of_type(ev, EventType.PHASE_FINISHED)] == ["pre-rollback hooks"]
    done = _rel("deployed", hooks, revision=3, description="Rollback to 1")
    ev = t.observe(view(done, _complete("shop-restore"), *_web_done(revision=3)), k.at(40))
    assert ev[-1].outcome is Outcome.SUCCEEDED and "rollback of shop revision 3" in ev[-1].message


def test_hook_nearing_helms_timeout_is_warned_once() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"])]
    t = tracker(2, helm_timeout=timedelta(minutes=5))
    pending = _rel("pending-upgrade", hooks)
    t.observe(view(pending), k.at(0))
    job = k.job("shop-migrate", created=k.at(1), started=k.at(1))
    assert EventType.HOOK_NEARING_TIMEOUT not in [e.type for e in t.observe(view(pending, job), k.at(200))]
    ev = t.observe(view(pending, job), k.at(245))
    [near] = of_type(ev, EventType.HOOK_NEARING_TIMEOUT)
    assert near.subject == "Job/shop-migrate" and near.message == (
        "hook shop-migrate has been running 4m4s of helm's 5m timeout"
    )
    assert t.observe(view(pending, job), k.at(290)) == []


def test_timeout_verdict_names_what_is_still_in_progress() -> None:
    t = tracker(2, timeout=timedelta(minutes=3))
    rel = _rel("deployed", [])
    t.observe(view(rel), k.at(0))
    assert "verdict" not in types(t.observe(view(rel, *_web_progress(1)), k.at(60)))
    ev = t.observe(view(rel, *_web_progress(1)), k.at(180))
    assert types(ev) == ["verdict"]
    assert ev[0].outcome is Outcome.TIMED_OUT
    assert ev[0].data["in_progress"] == ["Deployment/shop-web (" + t.summary().workloads[0].reason + ")"]
    assert ev[0].message.startswith("timed out after 3m; still in progress: Deployment/shop-web")
