"""A failure's verdict waits, briefly, for the log lines that cover the failure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.core.events import EventType, Outcome
from bot.core.releases import Release
from bot.core.tracking import ClusterView
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import (
    failed_migration,
    hook_job,
    manifest_deployment,
    of_type,
    release,
    tracker,
    view,
)

PANIC = "panic: missing DATABASE_URL"


def _rel(hooks: list[dict[str, Any]] | None = None) -> Release:
    return release(2, "pending-upgrade", manifest=[manifest_deployment("shop-web")], hooks=hooks or [])


def _crashing() -> tuple[list[dict[str, Any]], str]:
    dep = k.deployment(
        "shop-web", replicas=3, revision=2, generation=2, updated=1, ready=0, available=0, status_replicas=1
    )
    rs = k.replica_set_for(dep, ready=0, replicas=1)
    crash = k.waiting("shop-web", "CrashLoopBackOff", restarts=2, last_exit_code=1)
    pod = k.pod_for(rs, "n0", containers=[crash], created=k.at(5))
    return [dep, rs, pod], pod["metadata"]["name"]


def test_crash_verdict_waits_for_the_previous_instance_log_and_names_the_failing_line() -> None:
    t = tracker(2)
    t.observe(view(_rel()), k.at(0))
    objs, pod = _crashing()
    # the adapter already holds lines of the running instance (not the one that crashed)
    current = {(pod, "shop-web"): ["starting shop-web 2.0"]}
    ev = t.observe(view(_rel(), *objs, logs=current), k.at(30))
    assert EventType.FAILURE not in [e.type for e in ev] and not t.done
    assert [(r.pod, r.container, r.previous) for r in t.log_requests()] == [(pod, "shop-web", True)]
    # the next view still has only those lines (the fetch of the previous instance has not come back)
    ev = t.observe(view(_rel(), *objs, logs=current), k.at(31))
    assert EventType.FAILURE not in [e.type for e in ev] and not t.done
    previous = {(pod, "shop-web"): ["starting shop-web 2.0", PANIC]}
    ev = t.observe(view(_rel(), *objs, logs=previous), k.at(32))
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["log_tail"][-1] == PANIC and failure.data["exit_code"] == 1
    assert ev[-1].outcome is Outcome.FAILED and ev[-1].data["failures"][0]["log_tail"][-1] == PANIC


def test_the_wait_for_a_crash_log_is_bounded() -> None:
    t = tracker(2)
    t.observe(view(_rel()), k.at(0))
    objs, pod = _crashing()
    stale = {(pod, "shop-web"): ["starting shop-web 2.0"]}
    for second in (30, 31, 33, 34.9):
        ev = t.observe(view(_rel(), *objs, logs=stale), k.at(second))
        assert EventType.FAILURE not in [e.type for e in ev] and not t.done
    ev = t.observe(view(_rel(), *objs, logs=stale), k.at(35))  # FAILURE_LOG_WAIT after it was seen
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["log_tail"] == ["starting shop-web 2.0"]
    assert ev[-1].outcome is Outcome.FAILED


def test_failed_hook_with_lines_captured_before_waits_one_observe_for_the_final_ones() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"])]
    t = tracker(2)
    t.observe(view(_rel(hooks)), k.at(0))
    job = k.job("shop-migrate", backoff_limit=0, created=k.at(1))
    running = k.pod_for(job, "m1", containers=[k.running("migrate")], restart_policy="Never")
    streamed = {("shop-migrate-m1", "migrate"): ["applying 0042_add_index"]}
    t.observe(view(_rel(hooks), job, running, logs=streamed), k.at(5))
    failed, pod = failed_migration()
    # the Job failed, but the lines in this view are only those streamed before: ask again
    ev = t.observe(view(_rel(hooks), failed, pod, logs=streamed), k.at(10))
    assert EventType.FAILURE not in [e.type for e in ev] and not t.done
    assert ("shop-migrate-m1", "migrate", False, 20) in [
        (r.pod, r.container, r.previous, r.tail_lines) for r in t.log_requests()
    ]
    final = {("shop-migrate-m1", "migrate"): ["applying 0042_add_index", "ERROR: duplicate key"]}
    ev = t.observe(view(_rel(hooks), failed, pod, logs=final), k.at(11))
    job_failure = next(f for f in of_type(ev, EventType.FAILURE) if f.data["kind"] == "Job")
    assert job_failure.data["log_tail"][-1] == "ERROR: duplicate key"
    assert ev[-1].outcome is Outcome.FAILED


MIGRATE = [hook_job("shop-migrate", events=["pre-upgrade"])]


def _unreadable() -> ClusterView:
    """The migration failed and the adapter could not read its pod's log."""
    errors = {("shop-migrate-m1", "migrate"): "503 Service Unavailable"}
    return replace(view(_rel(MIGRATE), *failed_migration()), log_errors=errors)


def test_a_log_that_could_not_be_read_is_waited_for_then_reported_unavailable() -> None:
    t = tracker(2)
    t.observe(view(_rel(MIGRATE)), k.at(0))
    for second in (10, 11, 14.9):  # an unreadable log is not "no log": wait within the bound
        ev = t.observe(_unreadable(), k.at(second))
        assert EventType.FAILURE not in [e.type for e in ev] and not t.done
    ev = t.observe(_unreadable(), k.at(15))
    failure = next(f for f in of_type(ev, EventType.FAILURE) if f.data["kind"] == "Job")
    assert failure.data["log_unavailable"] == "503 Service Unavailable" and failure.data["log_tail"] == []
    assert failure.message.endswith("; logs unavailable: 503 Service Unavailable")
    assert ev[-1].outcome is Outcome.FAILED
    assert ev[-1].data["failures"][0]["log_unavailable"] == "503 Service Unavailable"
    assert t.summary().failures[0].endswith("logs unavailable: 503 Service Unavailable")


def test_a_log_read_that_recovers_within_the_bound_is_used() -> None:
    t = tracker(2)
    t.observe(view(_rel(MIGRATE)), k.at(0))
    t.observe(_unreadable(), k.at(10))
    t.observe(_unreadable(), k.at(12))
    read = {("shop-migrate-m1", "migrate"): ["ERROR: duplicate key"]}
    ev = t.observe(view(_rel(MIGRATE), *failed_migration(), logs=read), k.at(13))
    failure = next(f for f in of_type(ev, EventType.FAILURE) if f.data["kind"] == "Job")
    assert failure.data["log_tail"] == ["ERROR: duplicate key"] and failure.data["log_unavailable"] is None
    assert "logs unavailable" not in failure.message


def test_no_log_and_no_error_is_still_reported_at_once() -> None:
    t = tracker(2)
    t.observe(view(_rel(MIGRATE)), k.at(0))
    t.observe(view(_rel(MIGRATE), *failed_migration()), k.at(10))
    ev = t.observe(view(_rel(MIGRATE), *failed_migration()), k.at(11))
    assert of_type(ev, EventType.FAILURE)[0].data["log_unavailable"] is None
    assert ev[-1].outcome is Outcome.FAILED
