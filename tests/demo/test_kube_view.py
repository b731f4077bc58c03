"""The cluster panel's summaries: kubectl's pod STATUS, Helm releases from Secret labels, snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from bot.demo.kube_view import cluster_snapshot, helm_releases, pod_status


def pod(
    *,
    init: list[dict[str, Any]] | None = None,
    containers: list[dict[str, Any]] | None = None,
    phase: str = "Running",
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {
            "initContainers": [{"name": f"i{i}"} for i in range(len(init or []))],
            "containers": [{"name": f"c{i}"} for i in range(len(containers or []))],
        },
        "status": {
            "phase": phase,
            "initContainerStatuses": init or [],
            "containerStatuses": containers or [],
        },
    }


RUNNING = {"state": {"running": {}}, "ready": True, "restartCount": 0}
WAITING_INIT = {"state": {"waiting": {"reason": "PodInitializing"}}}
DONE = {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (pod(containers=[RUNNING]), "Running"),
        (pod(init=[{"state": {"running": {}}}], containers=[WAITING_INIT], phase="Pending"), "Init:0/1"),
        (
            pod(init=[DONE, {"state": {"running": {}}}], containers=[WAITING_INIT], phase="Pending"),
            "Init:1/2",
        ),
        (
            pod(init=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}], phase="Pending"),
            "Init:CrashLoopBackOff",
        ),
        (pod(init=[{"state": {"terminated": {"exitCode": 2}}}], phase="Pending"), "Init:ExitCode:2"),
        (
            pod(containers=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 3}]),
            "CrashLoopBackOff",
        ),
        (
            pod(containers=[{"state": {"waiting": {"reason": "ImagePullBackOff"}}}], phase="Pending"),
            "ImagePullBackOff",
        ),
        (pod(containers=[DONE], phase="Succeeded"), "Completed"),
        (pod(containers=[{"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]), "OOMKilled"),
        (pod(containers=[{"state": {"terminated": {"exitCode": 1}}}], phase="Failed"), "ExitCode:1"),
        (pod(containers=[RUNNING], deleting=True), "Terminating"),
        (pod(phase="Pending"), "Pending"),
    ],
)
def test_pod_status_reads_like_kubectl(obj: dict[str, Any], expected: str) -> None:
    assert pod_status(obj) == expected


def secret(name: str, revision: int, status: str, namespace: str = "default", owner: str = "helm") -> dict:
    return {
        "metadata": {
            "name": f"sh.helm.release.v1.{name}.v{revision}",
            "namespace": namespace,
            "labels": {"owner": owner, "name": name, "version": str(revision), "status": status},
        }
    }


def test_helm_releases_show_each_release_newest_revision_from_labels() -> None:
    found = helm_releases(
        [
            secret("shop", 1, "superseded"),
            secret("shop", 3, "failed"),
            secret("shop", 2, "superseded"),
            secret("db", 1, "deployed", namespace="data"),
            secret("other", 9, "deployed", owner="someone"),
        ]
    )

    assert found == {
        "data": [{"name": "db", "revision": 1, "status": "deployed", "revisions": 1}],
        "default": [{"name": "shop", "revision": 3, "status": "failed", "revisions": 3}],
    }


def test_snapshot_groups_by_namespace_and_counts_progress() -> None:
    deployment = {
        "metadata": {"name": "web", "namespace": "shop", "generation": 2},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "web:1.1"}]}}},
        "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1, "observedGeneration": 2},
    }
    job = {
        "metadata": {"name": "migrate", "namespace": "shop", "annotations": {"helm.sh/hook": "pre-upgrade"}},
        "spec": {"backoffLimit": 0},
        "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]},
    }
    rs = {
        "metadata": {
            "name": "web-abc",
            "namespace": "shop",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
            "ownerReferences": [{"kind": "Deployment", "name": "web"}],
        },
        "spec": {"replicas": 3},
        "status": {"readyReplicas": 1},
    }

    snap = cluster_snapshot(
        {"deployments": [deployment], "jobs": [job], "replicasets": [rs], "pods": []},
        [secret("shop", 2, "pending-upgrade", "shop")],
    )

    (ns,) = snap
    assert ns["name"] == "shop"
    assert ns["deployments"] == [
        {
            "name": "web",
            "ready": 1,
            "desired": 3,
            "updated": 2,
            "available": 1,
            "observed": True,
            "stalled": False,
            "images": ["web:1.1"],
        }
    ]
    assert ns["jobs"][0] == {
        "name": "migrate",
        "active": 0,
        "succeeded": 0,
        "failed": 1,
        "completions": 1,
        "state": "Failed",
        "hook": "pre-upgrade",
    }
    assert ns["replicasets"] == [
        {"name": "web-abc", "ready": 1, "desired": 3, "revision": "2", "owner": "Deployment/web"}
    ]
    assert ns["releases"] == [{"name": "shop", "revision": 2, "status": "pending-upgrade", "revisions": 1}]
