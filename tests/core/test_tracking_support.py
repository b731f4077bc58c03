"""Shared scaffolding for the tracker tests: releases decoded from real-shaped Secrets, views by kind.

No tests here; the scenario files import it. Timeline: T0 (k8s_objects) is when `helm` started.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.core.events import EventType, TrackEvent
from bot.core.model.kinds import object_kind_key
from bot.core.releases import Release, decode_release_secret
from bot.core.status import Policy
from bot.core.tracking import ClusterView, ReleaseTracker
from tests.core import k8s_objects as k
from tests.core import release_fixtures as rf

NS = k.NAMESPACE
RELEASE = "shop"
KINDS = (
    "Job",
    "Pod",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "PersistentVolumeClaim",
    "Service",
    "Event",
)
FAST = Policy(config_error_grace=timedelta(seconds=20), unschedulable_grace=timedelta(seconds=30))


def release(
    revision: int = 1,
    status: str = "pending-install",
    *,
    manifest: Iterable[Mapping[str, Any]] = (),
    hooks: Iterable[Mapping[str, Any]] = (),
    description: str | None = None,
    last_deployed: datetime = k.T0,
) -> Release:
    if description is None:
        description = {
            "pending-install": "Initial install underway",
            "pending-upgrade": "Preparing upgrade",
            "pending-rollback": "Preparing rollback",
            "deployed": "Upgrade complete",
        }.get(status, "")
        if status == "deployed" and revision == 1:
            description = "Install complete"
    secret = rf.release_secret(
        RELEASE,
        revision,
        status,
        manifest_objects=list(manifest),
        hooks=list(hooks),
        description=description,
        namespace=NS,
        chart_name="shop",
        chart_version="1.2.0",
        first_deployed=k.T0 - timedelta(days=1) if revision > 1 else last_deployed,
        last_deployed=last_deployed,
    )
    return decode_release_secret(secret)


def view(
    rel: Release | None,
    *objects: Mapping[str, Any],
    logs: Mapping[tuple[str, str], Sequence[str]] | None = None,
    kinds: Sequence[str] = KINDS,
) -> ClusterView:
    by_kind: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in kinds}
    for obj in objects:
        by_kind.setdefault(object_kind_key(obj), []).append(obj)
    return ClusterView(release=rel, objects=by_kind, logs=dict(logs or {}))


def tracker(
    revision: int = 1,
    *,
    timeout: timedelta | None = None,
    started_at: datetime = k.T0,
    helm_timeout: timedelta = timedelta(minutes=5),
    policy: Policy = FAST,
) -> ReleaseTracker:
    return ReleaseTracker(
        namespace=NS,
        release_name=RELEASE,
        revision=revision,
        started_at=started_at,
        timeout=timeout,
        helm_timeout=helm_timeout,
        policy=policy,
    )


def types(events: Iterable[TrackEvent]) -> list[str]:
    return [e.type.value for e in events]


def of_type(events: Iterable[TrackEvent], etype: EventType) -> list[TrackEvent]:
    return [e for e in events if e.type is etype]


def hook_job(
    name: str,
    *,
    events: Sequence[str] = ("pre-install",),
    weight: int = 0,
    delete_policies: Sequence[str] | None = None,
    phase: str = "",
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
) -> dict[str, Any]:
    """A Job hook as helm stores it in the release (its manifest carries the hook annotations)."""
    return rf.hook(
        name,
        kind="Job",
        events=events,
        weight=weight,
        delete_policies=delete_policies,
        phase=phase,
        started_at=started_at,
        completed_at=completed_at,
    )


def manifest_deployment(name: str = "web", replicas: int = 3) -> dict[str, Any]:
    dep = k.deployment(name, replicas=replicas)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": dep["spec"]}


def failed_migration(name: str = "shop-migrate", *, failed_at: float = 9) -> list[dict[str, Any]]:
    """A hook Job (backoffLimit 0) whose only pod, "<name>-m1" container "migrate", exited 1."""
    job = k.job(
        name,
        backoff_limit=0,
        active=0,
        failed=1,
        created=k.at(1),
        conditions=k.job_failed_conditions(since=k.at(failed_at)),
    )
    return [job, k.pod_for(job, "m1", containers=[k.terminated("migrate", 1)], restart_policy="Never")]
