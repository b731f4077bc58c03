"""A rollout that cannot finish says which pod holds it: a StatefulSet blocked by a broken pod of the old
revision (kubernetes#67250), a Deployment past its progress deadline, DaemonSet pods of unknown revision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.core.status import Failure, Policy, State, assess
from tests.core.k8s_objects import (
    CREATING,
    at,
    controller_revision,
    daemon_set,
    deployment,
    event,
    pod_for,
    replica_set_for,
    running,
    stateful_set,
    waiting,
)

POLICY = Policy(config_error_grace=timedelta(seconds=45), unschedulable_grace=timedelta(seconds=60))
PROBE_503 = "Readiness probe failed: HTTP probe failed with statuscode: 503"
OLD, NEW = "st-db-5d8f7c9b6", "st-db-7f6b9d4c8"
CRASH = waiting("db", "CrashLoopBackOff", restarts=10, last_exit_code=1)
CONFIG = waiting("db", "CreateContainerError", 'failed to create containerd task: "/bin/dbx": not found')
IMAGE = waiting("db", "ImagePullBackOff", 'Back-off pulling image "registry.example.com/db:2.0"')
DELETE_IT = "a StatefulSet does not replace a broken pod: delete it"


def check(obj: dict[str, Any], related: tuple | list = (), *, now_s: float = 10) -> Any:
    return assess(obj, related=tuple(related), now=at(now_s), policy=POLICY)


# ------------------------------------------------------------------------------------------- StatefulSet


def st_db(broken: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """st-db rolling from OLD to NEW: db-0 and db-1 still old and ready, db-2 old and `broken`; the
    controller waits on db-2 and updates nothing (0 updated)."""
    kw.setdefault("current_revision", OLD)
    kw.setdefault("update_revision", NEW)
    sts = stateful_set("st-db", updated=0, ready=2, **kw)
    pods = [pod_for(sts, i, revision=OLD, containers=[running("db")]) for i in (0, 1)]
    pods.append(pod_for(sts, 2, revision=OLD, containers=[broken]))
    return sts, pods


@pytest.mark.parametrize(
    ("broken", "now_s", "state", "text"),
    [
        pytest.param(
            CRASH,
            10,
            State.FAILED,
            f"rollout blocked by pod st-db-2 (revision {OLD}, old): CrashLoopBackOff: container db restarted"
            f" 10 times, last exit 1; {DELETE_IT}",
            id="crash-loop-fails-at-once",
        ),
        pytest.param(
            IMAGE,
            10,
            State.FAILED,
            f"rollout blocked by pod st-db-2 (revision {OLD}, old): ImagePullBackOff: container db",
            id="image-error-fails-at-once",
        ),
        pytest.param(
            CONFIG,
            20,
            State.IN_PROGRESS,
            "0/3 updated pods ready; waiting for st-db-2: CreateContainerError (old revision)",
            id="config-error-within-grace-names-the-pod",
        ),
        pytest.param(
            CONFIG,
            50,
            State.FAILED,
            f"rollout blocked by pod st-db-2 (revision {OLD}, old): CreateContainerError: container db",
            id="config-error-after-grace-fails",
        ),
        pytest.param(
            running("db", ready=False),
            300,
            State.IN_PROGRESS,
            "0/3 updated pods ready; st-db-2 not ready (old revision)",
            id="not-ready-but-not-broken-waits",
        ),
    ],
)
def test_stateful_set_blocked_by_a_broken_old_pod(
    broken: dict[str, Any], now_s: float, state: State, text: str
) -> None:
    sts, pods = st_db(broken)
    result = check(sts, pods, now_s=now_s)
    assert result.state is state, result.reason
    assert result.reason.startswith(text), result.reason
    if state is State.FAILED:
        assert result.reason.endswith(DELETE_IT)
        (failure,) = result.failures
        assert (failure.kind, failure.name, failure.container) == ("Pod", "st-db-2", "db")


def test_blocked_failure_carries_what_the_tracker_needs_for_logs() -> None:
    sts, pods = st_db(CRASH)
    (failure,) = check(sts, pods).failures
    assert failure == Failure("Pod", "st-db-2", "CrashLoopBackOff", "Error", "db", False, 1, 10)


@pytest.mark.parametrize(
    ("kw", "state"),
    [
        pytest.param(
            {"pod_management_policy": "Parallel"}, State.IN_PROGRESS, id="parallel-replaces-it-itself"
        ),
        pytest.param(
            {"current_revision": NEW, "update_revision": NEW}, State.IN_PROGRESS, id="no-rollout-under-way"
        ),
    ],
)
def test_broken_old_pod_does_not_fail_when_nothing_is_blocked(kw: dict[str, Any], state: State) -> None:
    sts, pods = st_db(CRASH, **kw)
    if kw.get("update_revision") == NEW and kw.get("current_revision") == NEW:
        sts["status"]["updatedReplicas"] = 3
        pods = [pod_for(sts, i, containers=[running("db")]) for i in (0, 1)] + [
            pod_for(sts, 2, containers=[CRASH])
        ]
        state = State.FAILED  # then st-db-2 is a new pod: its crash fails as always
    result = check(sts, pods)
    assert result.state is state
    if state is State.IN_PROGRESS:
        assert result.reason == "0/3 updated pods ready; waiting for st-db-2: CrashLoopBackOff (old revision)"


@pytest.mark.parametrize(
    ("pods_ready", "state"),
    [
        pytest.param(False, State.IN_PROGRESS, id="broken-pod"),
        pytest.param(True, State.CURRENT, id="all-ready"),
    ],
)
def test_on_delete_names_the_pods_to_delete_by_hand(pods_ready: bool, state: State) -> None:
    sts, pods = st_db(running("db") if pods_ready else CRASH, update_strategy="OnDelete")
    sts["status"]["readyReplicas"] = 3 if pods_ready else 2
    result = check(sts, pods)
    assert result.state is state
    if pods_ready:
        assert result.warnings == ("updateStrategy OnDelete: 3 pods keep the old revision until deleted",)
    else:
        assert result.reason == (
            "2/3 pods ready; waiting for st-db-2: CrashLoopBackOff "
            "(old revision: delete it by hand, OnDelete does not replace it)"
        )


def test_on_delete_with_every_counter_ready_but_a_pod_seen_broken_is_not_current() -> None:
    sts, pods = st_db(CRASH, update_strategy="OnDelete")
    sts["status"]["readyReplicas"] = 3  # the counters lag behind the pod
    assert check(sts, pods).state is State.IN_PROGRESS


def test_rolling_update_progress_names_new_and_old_pods_by_ordinal() -> None:
    sts = stateful_set("st-db", current_revision=OLD, update_revision=NEW, updated=1, ready=1)
    pods = [
        pod_for(sts, 0, revision=OLD, containers=[running("db")]),
        pod_for(sts, 1, revision=OLD, containers=[running("db", ready=False)]),
        pod_for(sts, 2, containers=CREATING),
    ]
    result = check(sts, pods)
    assert result.state is State.IN_PROGRESS
    assert result.reason == (
        "0/3 updated pods ready; st-db-1 not ready (old revision); waiting for st-db-2: ContainerCreating"
    )


# ------------------------------------------------------------------------------------------- Deployment


def shop_web(new_pods: list[Any], **kw: Any) -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    dep = deployment("shop-web", revision=2, **kw)
    rs = replica_set_for(dep, ready=sum(1 for c in new_pods if c != CREATING and c[0]["ready"]))
    pods = [pod_for(rs, f"p{i}", containers=c) for i, c in enumerate(new_pods)]
    return dep, (rs, *pods)


def unhealthy(p: dict[str, Any], *, new_style: bool = False) -> dict[str, Any]:
    return event(
        p, "Unhealthy", PROBE_503, first=at(5), last=at(600), count=120,
        field_path="spec.containers{shop-web}", new_style=new_style,
    )  # fmt: skip


@pytest.mark.parametrize("new_style", [pytest.param(False, id="core-v1"), pytest.param(True, id="series")])
def test_progress_deadline_names_the_pods_that_never_became_ready(new_style: bool) -> None:
    dep, related = shop_web(
        [[running("shop-web")], [running("shop-web", ready=False, restarts=2)], CREATING],
        updated=3,
        ready=1,
        available=1,
        progressing=("False", "ProgressDeadlineExceeded"),
    )
    unready, creating = related[2], related[3]
    result = check(dep, (*related, unhealthy(unready, new_style=new_style)), now_s=700)
    assert result.state is State.FAILED
    deadline, *pods = result.failures
    assert deadline.reason == "ProgressDeadlineExceeded"
    assert pods == [
        Failure("Pod", unready["metadata"]["name"], "NotReady", PROBE_503, "shop-web", False, None, 2),
        Failure("Pod", creating["metadata"]["name"], "ContainerCreating", "", "shop-web", False, None, 0),
    ]
    assert result.reason == (
        "ProgressDeadlineExceeded: no progress for 600s; "
        f"pod {unready['metadata']['name']}: container shop-web not ready: {PROBE_503} (and 1 more)"
    )


def test_progress_deadline_does_not_repeat_a_pod_that_already_failed() -> None:
    crash = waiting("shop-web", "CrashLoopBackOff", restarts=4, last_exit_code=1)
    dep, related = shop_web(
        [[crash]],
        replicas=1,
        updated=1,
        ready=0,
        available=0,
        progressing=("False", "ProgressDeadlineExceeded"),
    )
    result = check(dep, related, now_s=700)
    assert [f.reason for f in result.failures] == ["CrashLoopBackOff", "ProgressDeadlineExceeded"]


def test_in_progress_deployment_quotes_the_readiness_probe() -> None:
    dep, related = shop_web(
        [[running("shop-web")], [running("shop-web")], [running("shop-web", ready=False)]],
        updated=3,
        ready=2,
        available=2,
    )
    bad = related[3]
    result = check(dep, (*related, unhealthy(bad)), now_s=60)
    assert result.state is State.IN_PROGRESS
    assert result.reason == f"2/3 new pods ready; {bad['metadata']['name']} not ready: {PROBE_503}"


def test_many_pods_not_ready_are_counted_not_listed() -> None:
    dep, related = shop_web([CREATING] * 4, replicas=4, updated=4, ready=0, available=0)
    result = check(dep, related)
    assert result.reason.endswith("ContainerCreating (and 2 more pods not ready)")
    assert result.reason.count("waiting for") == 2


# ------------------------------------------------------------------------------------------- DaemonSet


def agent_pods(ds: dict[str, Any]) -> list[dict[str, Any]]:
    """node-1: a new pod (template generation 2) ready; node-2: an old pod (generation 1) crash-looping."""
    crash = waiting("agent", "CrashLoopBackOff", restarts=7, last_exit_code=2)
    new = pod_for(ds, "n1", containers=[running("agent")], labels={"pod-template-generation": "2"})
    new["metadata"]["labels"]["controller-revision-hash"] = "agent-rev2"
    old = pod_for(ds, "n2", containers=[crash], labels={"pod-template-generation": "1"})
    old["metadata"]["labels"]["controller-revision-hash"] = "agent-rev1"
    return [new, old]


@pytest.mark.parametrize(
    ("how", "state", "text"),
    [
        pytest.param(
            "controller-revisions",
            State.IN_PROGRESS,
            "1/2 updated pods ready",
            id="newest-controller-revision",
        ),
        pytest.param(
            "annotation", State.IN_PROGRESS, "1/2 updated pods ready", id="template-generation-annotation"
        ),
        pytest.param("spec", State.IN_PROGRESS, "1/2 updated pods ready", id="spec-template-generation"),
        pytest.param(
            "generation",
            State.IN_PROGRESS,
            "1/2 updated pods ready; 2 pods of unknown revision not judged",
            id="only-metadata-generation",
        ),
    ],
)
def test_daemon_set_old_pods_are_never_judged_as_new(how: str, state: State, text: str) -> None:
    ds = daemon_set(desired=2, generation=3, updated=1, ready=1, template_generation_annotation=False)
    related: list[dict[str, Any]] = agent_pods(ds)
    if how == "controller-revisions":
        related += [
            controller_revision(ds, 1, "agent-rev1"),
            controller_revision(ds, 2, "agent-rev2"),
        ]
        ds["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": "1"}  # CRs win
    elif how == "annotation":
        ds["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": "2"}
    elif how == "spec":
        ds["spec"]["templateGeneration"] = 2
    result = check(ds, related)
    assert result.state is state, result.reason
    assert result.reason.startswith(text), result.reason
    assert result.failures == ()


def test_daemon_set_new_pod_by_metadata_generation_is_judged() -> None:
    ds = daemon_set(desired=2, generation=2, updated=1, ready=1, template_generation_annotation=False)
    new, old = agent_pods(ds)
    new["spec"]["containers"][0]["image"] = "registry.example.com/shop/agent:2.0.0"
    new["status"]["containerStatuses"] = [waiting("agent", "ImagePullBackOff", "Back-off pulling image")]
    result = check(ds, [new, old])
    assert result.state is State.FAILED
    assert [f.name for f in result.failures] == [new["metadata"]["name"]]


def test_a_pod_held_in_init_is_named_by_its_init_container() -> None:
    dep, related = shop_web([], replicas=1, updated=1, ready=0, available=0)
    gated = pod_for(
        related[0],
        "g",
        init_containers=[running("wait-for-db", ready=False)],
        containers=[waiting("shop-web", "PodInitializing")],
    )
    result = check(dep, (*related, gated))
    assert result.reason == f"0/1 new pods ready; waiting for {gated['metadata']['name']}: Init:Running"
    assert result.waiting == (gated["metadata"]["name"],)
