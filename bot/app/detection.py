"""Noticing releases made elsewhere (CI, a laptop, Flux) from Helm's release storage.

Each watched namespace's owner=helm Secrets are compared with the last revision the store has seen per
release. What is new is one of: the revision a pending helmbot deploy is waiting for (attached to it, never
announced twice), or a revision made outside helmbot (a passive notice, followed by the same tracker), or —
at start-up — a revision made while the bot was down (announced once, marked as caught up). The store's
`claim_revision` makes "one parent message per release revision" hold across replicas, restarts and watch
replays. A release seen for the first time at start-up is only remembered: announcing history would flood
the channel the way users of other notifiers complain about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.app.operations import Operations, new_deploy_id, parent_message
from bot.app.ports import Clock, ClusterPort, RevisionHeadLike, Target
from bot.core.gitops import FLUX, owner_from_labels, owner_from_objects
from bot.core.planning import detect_operation
from bot.core.releases import Release
from bot.store import Store
from bot.store.records import DeployRecord, OutboxMessage

log = logging.getLogger("helmbot.app")


@dataclass(frozen=True)
class Route:
    """Where a release's passive notices go, and which: "all", "failures" (post only a failed or timed-out
    verdict) or "mute" (follow nothing)."""

    channel: str | None
    mode: str = "all"
    environment: str | None = None


Router = Callable[[Target, Release | None], Route]


class ReleaseDetector:
    def __init__(
        self,
        *,
        store: Store,
        clusters: Mapping[str, ClusterPort],
        operations: Operations,
        router: Router,
        clock: Clock,
        follow: Callable[[DeployRecord], None],
        wake_delivery: Callable[[], None],
    ) -> None:
        self.store = store
        self.clusters = clusters
        self.operations = operations
        self.router = router
        self.clock = clock
        self.follow = follow
        self.wake_delivery = wake_delivery

    def scan(self, cluster_name: str, namespace: str, *, startup: bool = False) -> int:
        """Look at the namespace's release storage once; returns how many revisions were handled. Does
        nothing while the storage view is not complete (a partial list must not look like an uninstall)."""
        cluster = self.clusters[cluster_name]
        if not cluster.releases_synced(namespace):
            return 0
        by_release: dict[str, list[RevisionHeadLike]] = {}
        for head in cluster.revisions(namespace):
            by_release.setdefault(head.name, []).append(head)
        handled = 0
        for name, heads in sorted(by_release.items()):
            target = Target(cluster_name, namespace, name)
            ordered = sorted(heads, key=lambda h: h.revision)
            handled += self._scan_release(target, ordered, startup=startup)
            if ordered[-1].status == "uninstalled":   # helm uninstall --keep-history
                handled += self._uninstalled(target, ordered[-1].revision, kept=True)
        for name in sorted(set(self.store.seen_releases(cluster_name, namespace)) - set(by_release)):
            handled += self._uninstalled(Target(cluster_name, namespace, name), None, kept=False)
        return handled

    def _uninstalled(self, target: Target, revision: int | None, *, kept: bool) -> int:
        """Announce once that a release was uninstalled outside helmbot (its records deleted, or marked
        uninstalled with --keep-history)."""
        store = self.store
        last = store.last_seen_revision(target.cluster, target.namespace, target.release)
        if kept:
            key = f"uninstalled:{target.cluster}/{target.namespace}/{target.release}/{revision}"
            if not store.remember_once(key, now=self.clock(), ttl=timedelta(days=3650)):
                return 0
        elif not store.forget_release(target.cluster, target.namespace, target.release):
            return 0   # another replica announced it
        route = self.router(target, None)
        if not route.channel or route.mode != "all":
            return 1
        where = f"{target.release} in {target.namespace}" + (
            f" ({target.cluster})" if target.cluster != "default" else "")
        rev = revision if revision is not None else last
        text = (f":wastebasket: {where} was uninstalled outside helmbot"
                + (f" (last revision {rev})" if rev is not None else "")
                + ("; Helm keeps its history" if kept else ""))
        now = self.clock()
        store.enqueue(OutboxMessage(key=f"notice:uninstall:{target.cluster}/{target.namespace}/"
                                        f"{target.release}/{rev}", channel=route.channel, kind="post",
                                    payload={"text": text}, created_at=now))
        log.info("%s uninstalled outside helmbot", target)
        self.wake_delivery()
        return 1

    def _scan_release(self, target: Target, heads: list[RevisionHeadLike], *, startup: bool) -> int:
        store = self.store
        newest = heads[-1]
        last = store.last_seen_revision(target.cluster, target.namespace, target.release)
        if last is not None and newest.revision <= last:
            return 0
        if last is None and startup:
            # First sight at start-up: remember, announce nothing, but follow what is still in progress.
            candidates = [newest] if newest.status.startswith("pending") else []
            origin = "catchup"
        else:
            candidates = [h for h in heads if last is None or h.revision > last]
            origin = "catchup" if startup else "passive"
        handled = sum(1 for head in candidates if self._handle(target, head, origin=origin))
        store.set_last_seen_revision(target.cluster, target.namespace, target.release, newest.revision)
        return handled

    def _handle(self, target: Target, head: RevisionHeadLike, *, origin: str) -> bool:
        store = self.store
        revision = head.revision
        if store.find_deploy(target.cluster, target.namespace, target.release, revision) is not None:
            return False
        for pending in store.pending_deploys(target.cluster, target.namespace, target.release):
            newer = pending.previous_revision is None or revision > pending.previous_revision
            if newer and self.operations.attach_new_revision(pending, revision) is not None:
                return True
        cluster = self.clusters[target.cluster]
        release = cluster.release(target.namespace, target.release, revision)
        route = self.router(target, release)
        if route.mode == "mute":
            return False
        now = self.clock()
        record = DeployRecord(
            id=new_deploy_id(),
            cluster=target.cluster,
            namespace=target.namespace,
            release=target.release,
            environment=route.environment,
            revision=revision,
            operation=detect_operation(release).value if release is not None else "upgrade",
            origin=origin,
            requested_by=actor_of(release, tuple(getattr(head, "managers", ()))),
            request_id=None,
            channel=route.channel,
            parent_ts=None,
            status="running",
            tracker_state=None,
            last_events=[],
            chart=f"{release.chart_name}-{release.chart_version}" if release is not None else None,
            chart_version=release.chart_version if release is not None else None,
            app_version=release.app_version if release is not None else None,
            previous_revision=revision - 1 if revision > 1 else None,
            description=release.description if release is not None else None,
            created_at=now,
            updated_at=now,
            finished_at=None,
            notify=route.mode,
        )
        messages = [parent_message(record, now)] if route.channel and route.mode == "all" else []
        record, created = store.claim_revision(record, messages=messages)
        if not created:
            return False
        log.info(
            "%s revision %s made outside helmbot (%s): %s", target, revision, origin, record.requested_by
        )
        self.wake_delivery()
        self.follow(record)
        return True


KNOWN_MANAGERS = {
    "helm": "helm CLI",
    "helm-controller": "Flux helm-controller",
    "argocd-controller": "Argo CD",
    "argocd-application-controller": "Argo CD",
    "helmbot": "helmbot",
    "terraform-provider-helm": "Terraform (helm provider)",
}


def actor_of(release: Release | None, managers: tuple[str, ...] = ()) -> str:
    """Who made a revision, as far as Helm's record tells: the GitOps controller whose marks its objects
    carry (Flux's post-renderer labels every object it renders, naming its HelmRelease; a person's `helm
    upgrade` of the same release renders none), else its storage record's field manager (the helm CLI, a
    controller)."""
    if release is not None:
        owner = owner_from_labels(release.labels) or owner_from_objects(release.resources)
        if owner is not None and (owner.controller == FLUX or "helm" not in managers):
            return owner.actor
        if any(k.startswith("helm.toolkit.fluxcd.io/") for k in release.labels or {}):
            return "Flux helm-controller"
    for manager in managers:
        if manager in KNOWN_MANAGERS:
            return KNOWN_MANAGERS[manager]
    if managers:
        return str(managers[0])
    return "someone outside helmbot"
