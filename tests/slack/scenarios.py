"""Deploys followed by a real ReleaseTracker over real-shaped views (tests/core builders), recorded for the
Slack renderers: every event, and the summary after every observe, as the adapter would hand them over.

No tests here; the test files import the scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.events import EventType, TrackEvent
from bot.core.summary import TrackSummary
from bot.core.tracking import ClusterView, ReleaseTracker
from bot.slack.render import DeployCard
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import (
    failed_migration,
    hook_job,
    manifest_deployment,
    release,
    tracker,
    view,
)

CARD = DeployCard(
    deploy_id="d-20250101-shop-7",
    release_label="shop",
    namespace=k.NAMESPACE,
    operation="upgrade",
    origin="slack",
    requested_by="U024BE7LH",
    started_at=k.T0,
    revision=2,
    previous_revision=1,
    chart_from="shop-1.1.0",
    chart_to="shop-1.2.0",
    app_from="1.4.2",
    app_to="1.5.0",
    description="Upgrade complete",
    rollback_target=1,
    logs_available=True,
)


@dataclass
class Recorded:
    """What the bot saw of one deploy: events in order, and (time, summary) after each observe."""

    name: str
    card: DeployCard
    tracker: ReleaseTracker
    events: list[TrackEvent] = field(default_factory=list)
    summaries: list[tuple[datetime, TrackSummary]] = field(default_factory=list)

    def observe(self, v: ClusterView, now: datetime) -> list[TrackEvent]:
        new = self.tracker.observe(v, now)
        self.events.extend(new)
        self.summaries.append((now, self.tracker.summary()))
        return new

    @property
    def final(self) -> TrackSummary:
        return self.tracker.summary()

    @property
    def now(self) -> datetime:
        return self.summaries[-1][0]

    def of_type(self, etype: EventType) -> list[TrackEvent]:
        return [e for e in self.events if e.type is etype]

    def summary_at(self, when: datetime) -> TrackSummary:
        return next(s for at, s in self.summaries if at == when)


# --- a healthy upgrade: a pre-upgrade backup hook, then the chart's migration Job with web pods gated on it

WAIT_FOR = k.container("wait-for-migrate", image="ghcr.io/groundnuty/k8s-wait-for:v2.0",
                       args=["job", "shop-migrate"])


def _web(ready: int, *, revision: int = 2) -> dict[str, Any]:
    dep = k.deployment("shop-web", replicas=3, revision=revision, generation=revision, updated=3, ready=ready,
                       available=ready, status_replicas=3)
    dep["spec"]["template"]["spec"]["initContainers"] = [dict(WAIT_FOR)]
    return dep


def _web_pods(dep: dict[str, Any], *, gated: int, ready: int) -> list[dict[str, Any]]:
    rs = k.replica_set_for(dep, ready=ready)
    pods: list[dict[str, Any]] = [rs]
    for i in range(3):
        if i < gated:
            pods.append(k.pod_for(rs, f"g{i}", containers=[k.waiting("shop-web", "PodInitializing")],
                                  init_containers=[k.running("wait-for-migrate", ready=False)]))
        else:
            pods.append(k.pod_for(rs, f"r{i}", containers=[k.running("shop-web", ready=i < gated + ready)],
                                  init_containers=[k.terminated("wait-for-migrate")]))
    return pods


def _migrate(done: bool, *, at: float = 150) -> list[dict[str, Any]]:
    if done:
        job = k.job("shop-migrate", active=0, succeeded=1, created=k.at(12),
                    conditions=k.job_complete_conditions(k.at(at)))
        pod = k.pod_for(job, "m1", containers=[k.terminated("migrate")], restart_policy="Never")
    else:
        job = k.job("shop-migrate", created=k.at(12), started=k.at(12))
        pod = k.pod_for(job, "m1", containers=[k.running("migrate")], restart_policy="Never")
    return [job, pod]


def _healthy_release(status: str) -> Any:
    migrate = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "shop-migrate"},
               "spec": k.job("shop-migrate")["spec"]}
    dep = manifest_deployment("shop-web")
    dep["spec"]["template"]["spec"]["initContainers"] = [dict(WAIT_FOR)]
    hooks = [hook_job("shop-db-backup", events=["pre-upgrade"], delete_policies=["before-hook-creation"],
                      phase="Succeeded" if status == "deployed" else "",
                      started_at=k.at(1) if status == "deployed" else None,
                      completed_at=k.at(9) if status == "deployed" else None)]
    return release(2, status, manifest=[dep, migrate], hooks=hooks)


def _backup(done: bool) -> list[dict[str, Any]]:
    if done:
        job = k.job("shop-db-backup", active=0, succeeded=1, created=k.at(1),
                    conditions=k.job_complete_conditions(k.at(9)))
        return [job, k.pod_for(job, "b1", containers=[k.terminated("backup")], restart_policy="Never")]
    job = k.job("shop-db-backup", created=k.at(1), started=k.at(1))
    return [job, k.pod_for(job, "b1", containers=[k.running("backup")], restart_policy="Never")]


def healthy_upgrade() -> Recorded:
    rec = Recorded("healthy-upgrade", CARD, tracker(2))
    pending = _healthy_release("pending-upgrade")
    rec.observe(view(pending), k.at(0))
    rec.observe(view(pending, *_backup(False), logs={("shop-db-backup-b1", "backup"): ["pg_dump shop"]}),
                k.at(4))
    deployed = _healthy_release("deployed")
    logs = {("shop-migrate-m1", "migrate"): ["applying 0041_orders", "applying 0042_add_index <!channel>"]}
    dep = _web(ready=0)
    for second in (14, 80, 135):  # the migration runs; the web pods wait on it (heartbeats every minute)
        rec.observe(view(deployed, *_backup(True), dep, *_web_pods(dep, gated=3, ready=0), *_migrate(False),
                         logs=logs), k.at(second))
    dep = _web(ready=1)
    rec.observe(view(deployed, *_backup(True), dep, *_web_pods(dep, gated=0, ready=1), *_migrate(True)),
                k.at(155))
    dep = _web(ready=3)
    rec.observe(view(deployed, *_backup(True), dep, *_web_pods(dep, gated=0, ready=3), *_migrate(True)),
                k.at(170))
    return rec


# --- a failing migration hook with its log --------------------------------------------------------------

MIGRATION_LOG = [
    "applying 0041_orders",
    "applying 0042_add_index",
    'ERROR: duplicate key value violates unique constraint "orders_pkey" <!channel> <@U123>',
]


def failing_migration_hook() -> Recorded:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"])]
    rel = release(2, "pending-upgrade", manifest=[manifest_deployment("shop-web")], hooks=hooks)
    rec = Recorded("failing-migration-hook", replace(CARD, description='Upgrade "shop" failed: pre-upgrade '
                                                     "hooks failed: 1 error occurred"), tracker(2))
    rec.observe(view(rel), k.at(0))
    job = k.job("shop-migrate", backoff_limit=0, created=k.at(1))
    running = k.pod_for(job, "m1", containers=[k.running("migrate")], restart_policy="Never")
    rec.observe(view(rel, job, running, logs={("shop-migrate-m1", "migrate"): MIGRATION_LOG[:1]}), k.at(5))
    final = {("shop-migrate-m1", "migrate"): MIGRATION_LOG}
    rec.observe(view(rel, *failed_migration(), logs=final), k.at(10))
    return rec


# --- a crash loop ---------------------------------------------------------------------------------------

PANIC = "panic: missing DATABASE_URL"


def crash_loop() -> Recorded:
    rel = release(2, "pending-upgrade", manifest=[manifest_deployment("shop-web")])
    rec = Recorded("crash-loop", CARD, tracker(2))
    rec.observe(view(rel), k.at(0))
    dep = k.deployment("shop-web", replicas=3, revision=2, generation=2, updated=1, ready=0, available=0,
                       status_replicas=1)
    rs = k.replica_set_for(dep, ready=0, replicas=1)
    crash = k.waiting("shop-web", "CrashLoopBackOff", restarts=2, last_exit_code=1)
    pod = k.pod_for(rs, "n0", containers=[crash], created=k.at(5))
    name = pod["metadata"]["name"]
    rec.observe(view(rel, dep, rs, pod, logs={(name, "shop-web"): ["starting shop-web 2.0"]}), k.at(30))
    crashed = {(name, "shop-web"): ["starting shop-web 2.0", PANIC]}
    rec.observe(view(rel, dep, rs, pod, logs=crashed), k.at(32))
    return rec


# --- a rollback with a restore hook ---------------------------------------------------------------------


def _web_rollout(ready: int, revision: int) -> list[dict[str, Any]]:
    dep = k.deployment("shop-web", replicas=2, revision=revision, generation=revision, updated=2, ready=ready,
                       available=ready, status_replicas=2)
    rs = k.replica_set_for(dep, ready=ready)
    return [dep, rs, *(k.pod_for(rs, f"p{i}", containers=[k.running("shop-web", ready=i < ready)])
                       for i in range(2))]


def rollback_with_restore_hook() -> Recorded:
    hooks = [hook_job("shop-restore", events=["pre-rollback"])]
    card = replace(CARD, operation="rollback", revision=3, previous_revision=2, chart_from="shop-1.2.0",
                   chart_to="shop-1.1.0", app_from="1.5.0", app_to="1.4.2", description="Rollback to 1",
                   requested_by="U0ONCALL1", rollback_target=2)
    rec = Recorded("rollback-restore-hook", card, tracker(3))

    def rel(status: str) -> Any:
        return release(3, status, manifest=[manifest_deployment("shop-web", 2)], hooks=hooks,
                       description="Rollback to 1" if status == "deployed" else None)

    rec.observe(view(rel("pending-rollback")), k.at(0))
    restore = k.job("shop-restore", created=k.at(1))
    pod = k.pod_for(restore, "r1", containers=[k.running("restore")], restart_policy="Never")
    rec.observe(view(rel("pending-rollback"), restore, pod,
                     logs={("shop-restore-r1", "restore"): ["restoring snapshot 2025-01-01"]}), k.at(5))
    done = k.job("shop-restore", active=0, succeeded=1, created=k.at(1),
                 conditions=k.job_complete_conditions(k.at(20)))
    rec.observe(view(rel("pending-rollback"), done, *_web_rollout(1, 3)), k.at(25))
    rec.observe(view(rel("deployed"), done, *_web_rollout(2, 3)), k.at(40))
    return rec


# --- a timeout ------------------------------------------------------------------------------------------


def timeout() -> Recorded:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"])]
    limited = tracker(2, timeout=timedelta(minutes=6), helm_timeout=timedelta(minutes=5))
    rec = Recorded("timeout", CARD, limited)
    pending = release(2, "pending-upgrade", manifest=[manifest_deployment("shop-web", 2)], hooks=hooks)
    rec.observe(view(pending), k.at(0))
    job = k.job("shop-migrate", created=k.at(1), started=k.at(1))
    pod = k.pod_for(job, "m1", containers=[k.running("migrate")], restart_policy="Never")
    logs = {("shop-migrate-m1", "migrate"): ["waiting for lock on table orders"]}
    for second in (60, 245, 360):
        rec.observe(view(pending, job, pod, logs=logs), k.at(second))
    return rec


ALL = (healthy_upgrade, failing_migration_hook, crash_loop, rollback_with_restore_hook, timeout)
