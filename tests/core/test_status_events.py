"""Events in both shapes a 1.35 cluster returns through core/v1: the kubelet's (firstTimestamp, lastTimestamp,
count, involvedObject.fieldPath naming the container) and events.k8s.io-written ones (eventTime, series,
null firstTimestamp). Container events are pinned to their container by fieldPath."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.status import Policy, State, assess
from tests.core.k8s_objects import (
    CREATING,
    at,
    deployment,
    event,
    pod,
    pod_for,
    replica_set_for,
    running,
    stateful_set,
    waiting,
)

POLICY = Policy(config_error_grace=timedelta(seconds=45), unschedulable_grace=timedelta(seconds=60))
SHAPES = [pytest.param(False, id="core-v1-counted"), pytest.param(True, id="events-k8s-io-series")]
MISSING = 'configmap "hazard-config" not found'
PROBE_503 = "Readiness probe failed: HTTP probe failed with statuscode: 503"


def check(obj: dict[str, Any], related: tuple = (), *, now_s: float, policy: Policy = POLICY) -> Any:
    return assess(obj, related=related, now=at(now_s), policy=policy)


def two_container_pod(**kw: Any) -> dict[str, Any]:
    """web cannot start (its ConfigMap is missing); the sidecar runs."""
    return pod(
        "web-1",
        containers=[waiting("web", "CreateContainerConfigError", MISSING), running("sidecar", ready=False)],
        **kw,
    )


def test_the_new_style_builder_looks_like_a_1_35_scheduler_event() -> None:
    p = pod("web-1")
    ev = event(p, "FailedScheduling", "0/3 nodes", first=at(1), last=at(9), count=3, new_style=True)
    assert (ev["firstTimestamp"], ev["lastTimestamp"], "count" in ev) == (None, None, False)
    assert ev["eventTime"].startswith("2025-01-01T12:00:01.") and ev["series"]["count"] == 3


# ------------------------------------------------------------------------------------------- fieldPath


@pytest.mark.parametrize("new_style", SHAPES)
@pytest.mark.parametrize(
    ("other_path", "now_s", "state"),
    [
        pytest.param(
            "spec.containers{sidecar}", 60, State.IN_PROGRESS, id="other-container-not-pinned-on-web"
        ),
        pytest.param("spec.containers{web}", 60, State.FAILED, id="own-container-starts-the-grace"),
        pytest.param("spec.containers{sidecar}", 90, State.FAILED, id="own-event-grace-runs-out"),
    ],
)
def test_config_error_grace_uses_only_the_containers_own_failed_event(
    new_style: bool, other_path: str, now_s: float, state: State
) -> None:
    """The early event (at 0s) is the sidecar's (or web's); web's own first report is at 40s."""
    p = two_container_pod()
    early = event(p, "Failed", f"Error: {MISSING}", first=at(0), field_path=other_path, new_style=new_style)
    own = event(
        p, "Failed", f"Error: {MISSING}", first=at(40), last=at(55), count=3,
        field_path="spec.containers{web}", new_style=new_style,
    )  # fmt: skip
    # the pod's own Ready condition says T0 too: only the events decide here
    p["status"]["conditions"] = [c for c in p["status"]["conditions"] if c["type"] != "Ready"]
    result = check(p, (early, own), now_s=now_s)
    assert result.state is state, result.reason
    assert "CreateContainerConfigError: container web" in result.reason


@pytest.mark.parametrize("new_style", SHAPES)
def test_an_event_without_field_path_is_pinned_only_on_a_single_container_pod(new_style: bool) -> None:
    single = pod("web-1", containers=[waiting("web", "CreateContainerConfigError", MISSING)])
    multi = two_container_pod()
    for p in (single, multi):
        p["status"]["conditions"] = [c for c in p["status"]["conditions"] if c["type"] != "Ready"]
    ev_single = event(single, "Failed", f"Error: {MISSING}", first=at(40), new_style=new_style)
    ev_multi = event(multi, "Failed", f"Error: {MISSING}", first=at(40), new_style=new_style)
    assert check(single, (ev_single,), now_s=60).state is State.IN_PROGRESS  # grace from 40s
    assert check(multi, (ev_multi,), now_s=60).state is State.FAILED  # could be either: from the pod (0s)


@pytest.mark.parametrize("new_style", SHAPES)
def test_a_probe_failure_is_quoted_for_its_own_container_only(new_style: bool) -> None:
    p = pod("web-1", containers=[running("web", ready=False), running("sidecar", ready=False)])
    ev = event(
        p, "Unhealthy", PROBE_503, first=at(5), last=at(30), count=6,
        field_path="spec.containers{sidecar}", new_style=new_style,
    )  # fmt: skip
    result = check(p, (ev,), now_s=40)
    assert result.state is State.IN_PROGRESS
    assert result.reason == f"Running: container web not ready; container sidecar not ready: {PROBE_503}"


@pytest.mark.parametrize("new_style", SHAPES)
def test_the_latest_probe_failure_is_quoted(new_style: bool) -> None:
    p = pod("web-1", containers=[running("web", ready=False)])
    older = event(
        p, "Unhealthy", "Readiness probe failed: connection refused", first=at(2), new_style=new_style
    )
    newer = event(
        p, "Unhealthy", PROBE_503, first=at(10), last=at(30), count=4,
        field_path="spec.containers{web}", new_style=new_style,
    )  # fmt: skip
    liveness_ok = event(p, "Pulled", "Container image already present", type="Normal", first=at(31))
    result = check(p, (newer, older, liveness_ok), now_s=40)
    assert result.reason == f"Running: container web not ready: {PROBE_503}"


# ------------------------------------------------------------------------------------------- timestamps


def failed_mount(p: dict[str, Any], first: float, *, new_style: bool, **kw: Any) -> dict[str, Any]:
    message = f'MountVolume.SetUp failed for volume "config" : {MISSING}'
    return event(p, "FailedMount", message, first=at(first), new_style=new_style, **kw)


@pytest.mark.parametrize("new_style", SHAPES)
@pytest.mark.parametrize(
    ("now_s", "state"),
    [
        pytest.param(40, State.IN_PROGRESS, id="30s-after-first"),
        pytest.param(56, State.FAILED, id="46s-after"),
    ],
)
def test_failed_mount_grace_from_the_first_occurrence(new_style: bool, now_s: float, state: State) -> None:
    p = pod("web-1", containers=CREATING)
    ev = failed_mount(p, 10, last=at(now_s - 2), count=4, new_style=new_style)
    assert check(p, (ev,), now_s=now_s).state is state


@pytest.mark.parametrize("new_style", SHAPES)
@pytest.mark.parametrize(
    ("last", "count", "state"),
    [
        pytest.param(None, 1, State.IN_PROGRESS, id="single-before-tracking-ignored"),
        pytest.param(30, 5, State.FAILED, id="recurring-into-tracking-counts"),
    ],
)
def test_tracking_started_filter(new_style: bool, last: float | None, count: int, state: State) -> None:
    p = pod("web-1", containers=CREATING)
    ev = failed_mount(p, 5, last=at(last) if last is not None else None, count=count, new_style=new_style)
    policy = Policy(tracking_started=at(20))
    assert check(p, (ev,), now_s=400, policy=policy).state is state


@pytest.mark.parametrize("new_style", SHAPES)
def test_events_from_before_the_object_are_ignored(new_style: bool) -> None:
    p = pod("db-0", containers=CREATING, created=at(100))
    stale = failed_mount(p, 10, last=at(20), count=2, new_style=new_style)
    assert check(p, (stale,), now_s=400).state is State.IN_PROGRESS


@pytest.mark.parametrize("new_style", SHAPES)
def test_scale_up_event_keeps_an_unschedulable_pod_waiting(new_style: bool) -> None:
    p = pod("web-1", unschedulable="0/3 nodes are available: 3 Insufficient cpu.")
    scale_up = event(
        p, "TriggeredScaleUp", "pod triggered scale-up: [{pool-1 3->4 (max: 10)}]", type="Normal",
        component="cluster-autoscaler", first=at(5), new_style=new_style,
    )  # fmt: skip
    assert check(p, (scale_up,), now_s=300).state is State.IN_PROGRESS
    assert check(p, (), now_s=300).state is State.FAILED


@pytest.mark.parametrize("new_style", SHAPES)
@pytest.mark.parametrize(
    ("now_s", "state"),
    [pytest.param(30, State.IN_PROGRESS, id="in-grace"), pytest.param(50, State.FAILED, id="after")],
)
def test_failed_create_grace_on_a_controller(new_style: bool, now_s: float, state: State) -> None:
    sts = stateful_set(ready=0, status_replicas=0)
    ev = event(
        sts, "FailedCreate", "create Pod db-0 in StatefulSet db failed error: quota", first=at(2),
        last=at(now_s), count=6, component="statefulset-controller", new_style=new_style,
    )  # fmt: skip
    assert check(sts, (ev,), now_s=now_s).state is state


@pytest.mark.parametrize("new_style", SHAPES)
def test_deployment_progress_quotes_the_probe_of_a_new_pod(new_style: bool) -> None:
    dep = deployment("shop-web", revision=2, updated=3, ready=2, available=2)
    rs = replica_set_for(dep, ready=2)
    ok = [pod_for(rs, f"ok{i}") for i in range(2)]
    bad = pod_for(rs, "x", containers=[running("shop-web", ready=False)])
    probe = event(
        bad, "Unhealthy", PROBE_503, first=at(3), last=at(20), count=5,
        field_path="spec.containers{shop-web}", new_style=new_style,
    )  # fmt: skip
    result = check(dep, (rs, *ok, bad, probe), now_s=30)
    assert result.state is State.IN_PROGRESS
    assert result.reason == f"2/3 new pods ready; {bad['metadata']['name']} not ready: {PROBE_503}"
