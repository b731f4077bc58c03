"""Running helm for a deploy or a rollback: the lock, the record, the helm process, the revision it wrote.

A Slack request never waits for helm: the lock and the deploy record are taken in the request (so a second
`/deploy` is refused at once, naming who holds the release), helm runs on a worker thread, and the revision
helm writes is attached to the record as soon as its release Secret appears (by the detector, or here when
helm returns), which starts the tracking while the pre-upgrade hooks still run. Exactly one record per
revision: attaching is an atomic store operation, and the detector never announces a revision that a
pending helmbot deploy claims.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.app.ports import Actor, Clock, ClusterPort, HelmPort, Target
from bot.errors import HelmbotError, describe_error
from bot.store import Store
from bot.store.records import DeployRecord, OutboxMessage

log = logging.getLogger("helmbot.app")

LOCK_SLACK = timedelta(minutes=10)  # a lock outlives helm's own bound by this much (then it expires)
FRESH_WAIT = 15.0  # after helm returns, how long a stale view of Helm's storage may take to catch up


@dataclass(frozen=True)
class HelmJob:
    """What helm is asked to do, without the values in any log line."""

    operation: str  # "upgrade" | "rollback"
    chart: str | None = None
    version: str | None = None
    values: tuple[tuple[str, str], ...] = ()  # --set (typed by helm: "3" is a number, "true" a boolean)
    string_values: tuple[tuple[str, str], ...] = ()  # --set-string (promotions carry strings as strings)
    values_files: tuple[str, ...] = ()
    revision: int | None = None  # rollback target (None: the previous one)
    helm_timeout: timedelta = timedelta(minutes=5)
    create_namespace: bool = False
    wait: bool = False


def new_deploy_id() -> str:
    return uuid.uuid4().hex[:12]


def parent_message(record: DeployRecord, now: datetime) -> OutboxMessage:
    """The outbox entry that posts a deploy's parent message; its content is rendered when it is sent."""
    return OutboxMessage(
        key=f"parent:{record.id}",
        channel=record.channel or "",
        kind="post",
        deploy_id=record.id,
        payload={},
        created_at=now,
    )


def pending_helm_state(cluster: ClusterPort, target: Target) -> tuple[int, str] | None:
    """(revision, status) when the newest stored revision is stuck in pending-*: helm refuses to start another
    operation then ("another operation is in progress")."""
    heads = list(cluster.revisions(target.namespace, target.release))
    if heads and heads[-1].status.startswith("pending"):
        return heads[-1].revision, heads[-1].status
    return None


def newest_revision(cluster: ClusterPort, target: Target) -> int | None:
    heads = list(cluster.revisions(target.namespace, target.release))
    return heads[-1].revision if heads else None


def last_deployed_revision(cluster: ClusterPort, target: Target) -> int | None:
    """The newest revision Helm marked deployed or superseded (a good one to recover to)."""
    good = [
        h.revision
        for h in cluster.revisions(target.namespace, target.release)
        if h.status in ("deployed", "superseded")
    ]
    return max(good) if good else None


class Operations:
    def __init__(
        self,
        *,
        store: Store,
        clusters: Mapping[str, ClusterPort],
        helm_for: Callable[[str], HelmPort],
        executor: Executor,
        clock: Clock,
        on_revision: Callable[[DeployRecord], None],
        wake_delivery: Callable[[], None],
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.helm_for = helm_for
        self.executor = executor
        self.clock = clock
        self.on_revision = on_revision
        self.wake_delivery = wake_delivery

    def start(
        self,
        *,
        target: Target,
        actor: Actor,
        job: HelmJob,
        channel: str,
        environment: str | None,
        request_id: str,
        track_timeout: timedelta,
        chart_label: str | None = None,
    ) -> DeployRecord:
        """Take the lock, store the record, queue its parent message and start helm. Raises LockHeld or
        PendingRelease (nothing ran)."""
        store = self.store
        cluster = self.clusters[target.cluster]
        now = self.clock()
        deploy_id = new_deploy_id()
        lock = store.acquire_lock(
            target.cluster,
            target.namespace,
            target.release,
            holder=actor.user_id,
            deploy_id=deploy_id,
            ttl=job.helm_timeout * 4 + track_timeout + LOCK_SLACK,
            now=now,
        )
        if lock is None:
            held = store.get_lock(target.cluster, target.namespace, target.release)
            raise LockHeld(target, held)
        try:
            pending = pending_helm_state(cluster, target)
            # a rollback is how a release stuck in pending-* is recovered, so only other operations wait
            if pending is not None and job.operation != "rollback":
                raise PendingRelease(target, *pending, last_deployed_revision(cluster, target))
            record = DeployRecord(
                id=deploy_id,
                cluster=target.cluster,
                namespace=target.namespace,
                release=target.release,
                environment=environment,
                revision=None,
                operation=job.operation,
                origin="slack",
                requested_by=actor.user_id,
                request_id=request_id,
                channel=channel,
                parent_ts=None,
                status="pending",
                tracker_state=None,
                last_events=[],
                chart=chart_label,
                chart_version=job.version,
                app_version=None,
                previous_revision=newest_revision(cluster, target),
                description=None,
                created_at=now,
                updated_at=now,
                finished_at=None,
            )
            record = store.create_deploy(record, messages=[parent_message(record, now)])
        except BaseException:
            store.release_lock(target.cluster, target.namespace, target.release, deploy_id=deploy_id)
            raise
        self.wake_delivery()
        log.info("deploy %s: %s of %s requested by %s", record.id, job.operation, target, actor.user_id)
        self.executor.submit(self._run, record, target, job)
        return record

    def _run(self, record: DeployRecord, target: Target, job: HelmJob) -> None:
        helm = self.helm_for(target.cluster)
        description = f"helmbot {job.operation} {record.id} by {record.requested_by} in {record.channel}"
        error: BaseException | None = None
        try:
            if job.operation == "rollback":
                helm.rollback(target, revision=job.revision, timeout=job.helm_timeout, wait=job.wait)
            else:
                assert job.chart is not None
                helm.upgrade(
                    target,
                    chart=job.chart,
                    version=job.version,
                    values=dict(job.values),
                    values_files=list(job.values_files),
                    timeout=job.helm_timeout,
                    description=description,
                    create_namespace=job.create_namespace,
                    wait=job.wait,
                    string_values=dict(job.string_values),
                )
        except Exception as exc:  # the story of a failed helm run is told in Slack, not lost in a thread
            error = exc
            log.warning("deploy %s: helm %s failed: %s", record.id, job.operation, describe_error(exc))
        try:
            self.after_helm(record.id, error)
        except Exception:
            log.exception("deploy %s: could not record helm's outcome", record.id)

    def after_helm(self, deploy_id: str, error: BaseException | None) -> None:
        """helm returned: make sure the revision it wrote is attached; if it wrote none, the deploy failed
        with helm's own words."""
        store = self.store
        record = store.get_deploy(deploy_id)
        if record is None:
            return
        if record.revision is None:
            record = self.attach_new_revision(record) or record
        if record.revision is None:
            # Our view of Helm's storage may be stale (a watch reconnecting after an outage): the revision
            # helm wrote may just not be in it yet. Never fail a deploy on a view that cannot be trusted.
            cluster = self.clusters[record.cluster]
            if not cluster.wait_releases_fresh(record.namespace, FRESH_WAIT):
                log.warning("deploy %s: helm returned but Helm's storage cannot be read yet; the revision is "
                            "attached once it can (or the deploy ends as abandoned)", record.id)  # fmt: skip
                return
            record = self.attach_new_revision(record) or record
        if record.revision is not None:
            if error is not None:
                store.update_deploy(deploy_id, helm_error=describe_error(error))
            return
        message = describe_error(error) if error is not None else "helm wrote no new revision"
        now = self.clock()
        store.record_progress(
            deploy_id,
            tracker_state=None,
            status="failed",
            last_events=record.last_events,
            parent_changed=True,
            finished_at=now,
            helm_error=message,
        )
        store.release_lock(record.cluster, record.namespace, record.release, deploy_id=deploy_id)
        self.wake_delivery()

    def fail_abandoned(self, now: datetime, helm_bound: Callable[[DeployRecord], timedelta]) -> int:
        """Pending deploys whose helm can no longer be running (its process bound has passed: the replica
        that ran it stopped) and that never got a revision end as failed, so their lock is released and
        the channel learns why. Returns how many."""
        ended = 0
        for record in self.store.active_deploys():
            if record.revision is not None or record.status != "pending":
                continue
            if now - record.created_at <= helm_bound(record):
                continue
            if self.attach_new_revision(record) is not None:
                continue
            self.store.record_progress(record.id, status="failed", tracker_state=None,
                                       last_events=record.last_events, finished_at=now,
                                       helm_error="helm never wrote a revision: the process running it "
                                                  "stopped (a restart?) before it got that far")
            ended += 1
        if ended:
            self.wake_delivery()
        return ended

    def attach_new_revision(self, record: DeployRecord, revision: int | None = None) -> DeployRecord | None:
        """Attach the first revision written after the request (or the given one) to a pending record;
        None when there is none yet, or another record holds it."""
        cluster = self.clusters[record.cluster]
        if revision is None:
            newer = [
                h.revision
                for h in cluster.revisions(record.namespace, record.release)
                if record.previous_revision is None or h.revision > record.previous_revision
            ]
            if not newer:
                return None
            revision = min(newer)
        attached = self.store.attach_revision(record.id, revision)
        if attached is not None:
            log.info("deploy %s: %s revision %s", record.id, record.release, revision)
            self.on_revision(attached)
        return attached


class LockHeld(HelmbotError):
    def __init__(self, target: Target, lock: object) -> None:
        self.target = target
        self.lock = lock
        holder = getattr(lock, "holder", None)
        since = getattr(lock, "since", None)
        who = f" by <@{holder}>" if holder else ""
        when = f" since {since:%H:%M:%S} UTC" if isinstance(since, datetime) else ""
        super().__init__(f"another operation on {target.release} is in progress{who}{when}")


class PendingRelease(HelmbotError):
    def __init__(self, target: Target, revision: int, status: str, recover_to: int | None) -> None:
        self.target, self.revision, self.status, self.recover_to = target, revision, status, recover_to
        hint = (
            f"; recover with /rollback {target.release} {recover_to}"
            if recover_to is not None
            else "; no earlier deployed revision to roll back to"
        )
        super().__init__(
            f"{target.release} revision {revision} is stuck in Helm's {status} state (an "
            f"interrupted helm run){hint}"
        )


def with_values_hidden(job: HelmJob) -> HelmJob:
    """For audit records: the keys stay, the values do not."""
    return replace(job, values=tuple((k, "***") for k, _ in job.values),
                   string_values=tuple((k, "***") for k, _ in job.string_values))


def job_summary(job: HelmJob) -> Mapping[str, object]:
    return {
        "operation": job.operation,
        "chart": job.chart,
        "version": job.version,
        "value_keys": [k for k, _ in (*job.values, *job.string_values)],
        "revision": job.revision,
        "helm_timeout": int(job.helm_timeout.total_seconds()),
    }


def values_mapping(values: Sequence[tuple[str, str]]) -> dict[str, str]:
    return dict(values)
