"""Run times come from the objects (and Helm's record), not from when the watch happened to see them."""

from __future__ import annotations

from typing import Any

from bot.core.events import EventType, Outcome
from bot.core.releases import Release
from bot.core.summary import ResourceTimeline
from bot.core.tracking import ReleaseTracker
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import (
    KINDS,
    hook_job,
    manifest_deployment,
    of_type,
    release,
    tracker,
    view,
)


def _rel(hooks: list[dict[str, Any]], status: str = "pending-upgrade") -> Release:
    return release(2, status, manifest=[manifest_deployment("shop-web", 2)], hooks=hooks)


def _lane(t: ReleaseTracker, subject: str) -> ResourceTimeline:
    return next(lane for lane in t.summary().timeline if lane.subject == subject)


def _job(name: str, *, start: float, end: float | None = None, failed: bool = False) -> dict[str, Any]:
    if end is None:
        return k.job(name, created=k.at(start), started=k.at(start))
    if failed:
        return k.job(
            name,
            active=0,
            failed=1,
            backoff_limit=0,
            created=k.at(start),
            started=k.at(start),
            conditions=k.job_failed_conditions(since=k.at(end)),
        )
    return k.job(
        name,
        active=0,
        succeeded=1,
        created=k.at(start),
        started=k.at(start),
        conditions=k.job_complete_conditions(k.at(end)),
    )


def test_a_short_job_seen_only_after_it_ended_keeps_its_own_duration() -> None:
    hooks = [hook_job("shop-backup", events=["pre-upgrade"])]
    t = tracker(2)
    t.observe(view(_rel(hooks)), k.at(0))
    ev = t.observe(view(_rel(hooks), _job("shop-backup", start=1, end=2)), k.at(5))
    [ready] = of_type(ev, EventType.RESOURCE_READY)
    assert ready.message == "Job/shop-backup succeeded in 1s"
    [job] = t.summary().jobs
    assert (job.started_at, job.finished_at, job.duration_seconds) == (k.at(1), k.at(2), 1.0)
    lane = _lane(t, "Job/shop-backup")
    assert (lane.first_seen, lane.done_at) == (k.at(1), k.at(2))
    assert [(p.at, p.state) for p in lane.points] == [(k.at(2), "succeeded")]


def test_a_job_that_ended_during_an_api_outage_keeps_its_own_end() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"])]
    t = tracker(2)
    t.observe(view(_rel(hooks), _job("shop-migrate", start=1)), k.at(2))
    # the Job watch is broken from 3s to 26s: the kind is left out of those views
    outage = tuple(kind for kind in KINDS if kind != "Job")
    for second in (3, 10, 20):
        assert t.observe(view(_rel(hooks), kinds=outage), k.at(second)) == []
    ev = t.observe(view(_rel(hooks), _job("shop-migrate", start=1, end=7)), k.at(27))
    [ready] = of_type(ev, EventType.RESOURCE_READY)
    assert ready.message == "Job/shop-migrate succeeded in 6s"
    lane = _lane(t, "Job/shop-migrate")
    assert lane.done_at == k.at(7)
    assert [(p.at, p.state) for p in lane.points] == [(k.at(2), "in_progress"), (k.at(7), "succeeded")]


def test_a_failed_job_ends_when_its_failed_condition_says() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"])]
    t = tracker(2)
    t.observe(view(_rel(hooks), _job("shop-migrate", start=1)), k.at(2))
    job = _job("shop-migrate", start=1, end=9, failed=True)
    pod = k.pod_for(job, "m1", containers=[k.terminated("shop-migrate", 1)], restart_policy="Never")
    t.observe(view(_rel(hooks), job, pod), k.at(30))
    [summary] = t.summary().jobs
    assert summary.state == "failed" and summary.finished_at == k.at(9)
    assert _lane(t, "Job/shop-migrate").failed_at == k.at(9)


def test_a_hook_pod_ends_when_its_containers_finished() -> None:
    hooks = [
        {**hook_job("shop-smoke", events=["pre-upgrade"]), "kind": "Pod"},
    ]
    hooks[0]["manifest"] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: shop-smoke\n"
    t = tracker(2)
    smoke = k.terminated("smoke", 0)
    smoke["state"]["terminated"].update(startedAt=k.ts(k.at(1)), finishedAt=k.ts(k.at(4)))
    pod = k.pod("shop-smoke", phase="Succeeded", containers=[smoke], created=k.at(1), restart_policy="Never")
    ev = t.observe(view(_rel(hooks), pod), k.at(20))
    assert [e.message for e in of_type(ev, EventType.RESOURCE_READY)] == ["Pod/shop-smoke succeeded in 3s"]


def test_a_deleted_hook_judged_from_helms_record_takes_the_record_times() -> None:
    done = [
        hook_job(
            "shop-migrate",
            events=["pre-upgrade"],
            delete_policies=["hook-succeeded"],
            phase="Succeeded",
            started_at=k.at(1),
            completed_at=k.at(11),
        )
    ]
    t = tracker(2)
    ev = t.observe(view(_rel(done, "deployed")), k.at(40))
    [ready] = [e for e in of_type(ev, EventType.RESOURCE_READY) if e.subject == "Job/shop-migrate"]
    assert ready.message == "Job/shop-migrate succeeded in 10s"
    [job] = t.summary().jobs
    assert (job.started_at, job.finished_at) == (k.at(1), k.at(11))
    assert ev[-1].outcome is not Outcome.FAILED
