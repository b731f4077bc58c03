"""Noise must not produce a verdict; a restarted bot resumes from its stored state without repeats."""

from __future__ import annotations

import json
from typing import Any

from bot.core.events import EventType, Outcome
from bot.core.releases import Release
from bot.core.tracking import ClusterView, ReleaseTracker
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import (
    hook_job,
    manifest_deployment,
    of_type,
    release,
    tracker,
    view,
)


def _rel(status: str = "deployed") -> Release:
    hooks = [hook_job("shop-migrate", events=["post-upgrade"], delete_policies=["hook-succeeded"])]
    return release(2, status, manifest=[manifest_deployment("shop-web")], hooks=hooks)


def _web(ready: int) -> list[dict[str, Any]]:
    if ready == 3:
        dep = k.deployment("shop-web", replicas=3, revision=2, generation=2)
    else:
        dep = k.deployment(
            "shop-web",
            replicas=3,
            revision=2,
            generation=2,
            updated=3,
            ready=ready,
            available=ready,
            status_replicas=3,
        )
    rs = k.replica_set_for(dep, ready=ready)
    return [
        dep,
        rs,
        *(k.pod_for(rs, f"p{i}", containers=[k.running("shop-web", ready=i < ready)]) for i in range(3)),
    ]


def _migrate(done: bool = False) -> list[dict[str, Any]]:
    if done:
        job = k.job(
            "shop-migrate", active=0, succeeded=1, created=k.at(1), conditions=k.job_complete_conditions()
        )
        return [job, k.pod_for(job, "m1", containers=[k.terminated("migrate")], restart_policy="Never")]
    job = k.job("shop-migrate", created=k.at(1))
    return [job, k.pod_for(job, "m1", containers=[k.running("migrate")], restart_policy="Never")]


def _script() -> list[tuple[ClusterView, float]]:
    """A post-upgrade hook and a rollout, with a lost watch in the middle."""
    logs1 = {("shop-migrate-m1", "migrate"): ["step 1"]}
    logs2 = {("shop-migrate-m1", "migrate"): ["step 1", "step 2"]}
    return [
        (view(_rel("pending-upgrade")), 0),
        (view(_rel("pending-upgrade"), *_web(1), *_migrate(), logs=logs1), 10),
        (view(_rel("pending-upgrade"), *_web(1), *_migrate(), logs=logs1), 12),
        (view(_rel("pending-upgrade"), *_web(2), *_migrate(), logs=logs2), 20),
        (view(_rel("deployed"), *_web(3), *_migrate(True), logs=logs2), 30),
    ]


def test_empty_or_partial_views_flip_nothing() -> None:
    t = tracker(2)
    t.observe(view(_rel("pending-upgrade")), k.at(0))
    t.observe(view(_rel("deployed"), *_web(2), *_migrate()), k.at(10))
    before = t.summary()
    # the adapter lost its watches: no release, no kinds at all
    assert t.observe(ClusterView(release=None, objects={}), k.at(11)) == []
    # relisted but empty, release present and deployed: nothing is current in this view
    ev = t.observe(view(_rel("deployed")), k.at(12))
    assert EventType.VERDICT not in [e.type for e in ev] and EventType.FAILURE not in [e.type for e in ev]
    assert t.summary().workloads == before.workloads
    # everything complete, but the release record is missing from this view: not yet a success
    ev = t.observe(view(None, *_web(3), *_migrate(True)), k.at(13))
    assert EventType.VERDICT not in [e.type for e in ev]
    ev = t.observe(view(_rel("deployed"), *_web(3), *_migrate(True)), k.at(14))
    assert ev[-1].outcome is Outcome.SUCCEEDED


def test_no_repeated_progress_when_nothing_changes() -> None:
    t = tracker(2)
    t.observe(view(_rel("pending-upgrade")), k.at(0))
    first = t.observe(view(_rel("pending-upgrade"), *_web(1), *_migrate()), k.at(5))
    assert len(of_type(first, EventType.RESOURCE_PROGRESS)) == 2
    for second in range(6, 60, 5):
        assert t.observe(view(_rel("pending-upgrade"), *_web(1), *_migrate()), k.at(second)) == []


def test_state_round_trip_mid_rollout_resumes_without_duplicate_events() -> None:
    script = _script()
    straight = tracker(2)
    expected = [[e.to_dict() for e in straight.observe(v, k.at(s))] for v, s in script]
    assert expected[-1][-1]["data"]["outcome"] == "succeeded"

    resumed = tracker(2)
    got = []
    for i, (v, s) in enumerate(script):
        if i in (2, 4):  # the bot restarts here: persisted, reloaded from JSON
            state = json.loads(json.dumps(resumed.to_state()))
            resumed = ReleaseTracker.from_state(state)
            assert resumed.to_state() == state
        got.append([e.to_dict() for e in resumed.observe(v, k.at(s))])
    assert got == expected
    assert got[2] == []  # the same view again after the restart: silent
    lines = [e["data"]["lines"] for batch in got for e in batch if e["type"] == "log_lines"]
    assert lines == [["step 1"], ["step 2"]]
    assert resumed.summary() == straight.summary()


def test_summary_and_timeline_are_json_safe_mid_rollout() -> None:
    t = tracker(2)
    for v, s in _script()[:4]:
        t.observe(v, k.at(s))
    summary = t.summary()
    raw = json.loads(json.dumps(summary.to_dict()))
    assert raw["verdict"] is None and raw["operation"] == "upgrade"
    assert [(j["name"], j["state"], j["last_log_line"]) for j in raw["jobs"]] == [
        ("shop-migrate", "in_progress", "step 2")
    ]
    assert raw["jobs"][0]["duration_seconds"] == 20.0
    web = next(tl for tl in raw["timeline"] if tl["subject"] == "Deployment/shop-web")
    assert [(p["ready"], p["desired"]) for p in web["points"]] == [(1, 3), (2, 3)]
