"""One Kubernetes cluster for the bot: shared informers, Helm's release records, tracker drivers.

Everything reads from the shared informers (one list+watch per kind per namespace, whatever the number of
releases followed there), so the bot's request rate stays flat as releases are added. Helm's release
Secrets are read label-first: detecting a new revision needs no decoding; a record is decoded only when
someone asks for it, and cached by resourceVersion.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.gitops import GitOpsOwner, owner_from_helmreleases, owner_from_labels, owner_from_objects
from bot.core.releases import Release, ReleaseDecodeError, decode_release_secret, secret_revision
from bot.core.tracking import ReleaseTracker
from bot.kube.client import KubeClient
from bot.kube.driving import DriverSettings, KubeTrackerDriver
from bot.kube.errors import ApiConnectionError, Forbidden, KubeError, NotFound
from bot.kube.informer import Informer, InformerRegistry
from bot.kube.releases import HELM_OWNER_SELECTOR, ReleaseUnreadable

log = logging.getLogger("helmbot.kube")

SYNC_WAIT = 10.0
CHECK_TIMEOUT = 5.0  # a health probe answers within this, or the cluster counts as unreachable
LIVE_OBJECTS = 3  # live objects of a release read for GitOps marks (workloads first)
HELMRELEASE_VERSIONS = ("helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io/v2beta2",
                        "helm.toolkit.fluxcd.io/v2beta1")
_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job")


@dataclass(frozen=True)
class RevisionHead:
    """A stored revision as its Secret's labels describe it (no decoding)."""

    name: str
    revision: int
    status: str
    secret: str
    modified_at: datetime | None = None
    managers: tuple[str, ...] = ()  # field managers of the storage record: who wrote it (helm, Flux, ...)


def _label_time(labels: Mapping[str, str], key: str) -> datetime | None:
    raw = labels.get(key)
    if raw and str(raw).isdigit():
        return datetime.fromtimestamp(int(raw), UTC)
    return None


def revision_head(secret: Mapping[str, Any]) -> RevisionHead | None:
    md = secret.get("metadata") or {}
    labels = md.get("labels") or {}
    revision = secret_revision(secret)
    if labels.get("owner") != "helm" or not labels.get("name") or revision is None:
        return None
    return RevisionHead(
        name=str(labels["name"]),
        revision=revision,
        status=str(labels.get("status") or ""),
        secret=str(md.get("name") or ""),
        modified_at=_label_time(labels, "modifiedAt") or _label_time(labels, "createdAt"),
        managers=tuple(
            str(m.get("manager"))
            for m in md.get("managedFields") or ()
            if isinstance(m, Mapping) and m.get("manager")
        ),
    )


class KubeCluster:
    def __init__(
        self,
        name: str,
        client: KubeClient,
        *,
        registry: InformerRegistry | None = None,
        driver_settings: DriverSettings | None = None,
        sync_wait: float = SYNC_WAIT,
    ) -> None:
        self.name = name
        self.client = client
        self.registry = registry or InformerRegistry(client)
        self.driver_settings = driver_settings or DriverSettings()
        self.sync_wait = sync_wait
        self._lock = threading.Lock()
        self._secrets: dict[str, Informer] = {}
        self._decoded: dict[tuple[str, str], tuple[str | None, Release]] = {}

    # -- Helm's release storage ----------------------------------------------------------------------------

    def _secret_informer(self, namespace: str) -> Informer:
        with self._lock:
            informer = self._secrets.get(namespace)
            if informer is None:
                informer = self.registry.acquire(namespace, "Secret", HELM_OWNER_SELECTOR)
                self._secrets[namespace] = informer
        return informer

    def _secret_items(self, namespace: str) -> list[dict[str, Any]]:
        informer = self._secret_informer(namespace)
        if not informer.wait_synced(self.sync_wait):
            error = informer.error
            raise (
                error
                if error is not None
                else ApiConnectionError(
                    f"Helm's release records in {namespace} could not be listed within {self.sync_wait:g}s"
                )
            )
        return list(informer.snapshot().items)

    def wait_releases_synced(self, namespace: str, timeout: float) -> bool:
        return self._secret_informer(namespace).wait_synced(timeout)

    def releases_synced(self, namespace: str) -> bool:
        status = self._secret_informer(namespace).status()
        return status.synced and status.fresh

    def wait_releases_fresh(self, namespace: str, timeout: float) -> bool:
        """Wait until the view of Helm's storage is complete and current (a watch reconnecting after an
        outage may still miss what helm just wrote); False when it is not within `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.releases_synced(namespace):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def retry_now(self) -> None:
        """The API server answers again: informers backing off reconnect now, not after their back-off."""
        self.registry.retry_now()

    def revisions(self, namespace: str, release: str | None = None) -> list[RevisionHead]:
        """Every stored revision in the namespace (of one release), oldest first."""
        heads = [
            h
            for s in self._secret_items(namespace)
            if (h := revision_head(s)) is not None and (release is None or h.name == release)
        ]
        return sorted(heads, key=lambda h: (h.name, h.revision))

    def release(self, namespace: str, name: str, revision: int) -> Release | None:
        """The decoded record of one revision (None when not stored). Raises ReleaseUnreadable."""
        for secret in self._secret_items(namespace):
            head = revision_head(secret)
            if head is None or head.name != name or head.revision != revision:
                continue
            rv = (secret.get("metadata") or {}).get("resourceVersion")
            key = (namespace, head.secret)
            with self._lock:
                cached = self._decoded.get(key)
            if cached is not None and rv is not None and cached[0] == rv:
                return cached[1]
            try:
                decoded = decode_release_secret(secret)
            except ReleaseDecodeError as exc:
                raise ReleaseUnreadable(f"cannot read the stored release: {exc}") from None
            with self._lock:
                self._decoded[key] = (rv, decoded)
            return decoded
        return None

    def watch_releases(self, namespace: str, on_change: Callable[[], None]) -> Callable[[], None]:
        informer = self._secret_informer(namespace)
        informer.add_listener(on_change)
        return lambda: informer.remove_listener(on_change)

    # -- tracking ------------------------------------------------------------------------------------------

    def drive(
        self,
        tracker: ReleaseTracker,
        *,
        namespace: str,
        release: str,
        revision: int,
        on_change: Callable[[], None],
    ) -> KubeTrackerDriver:
        return KubeTrackerDriver(
            self.registry,
            tracker,
            namespace=namespace,
            release=release,
            revision=revision,
            on_change=on_change,
            settings=self.driver_settings,
        )

    # -- GitOps ownership -----------------------------------------------------------------------------

    def gitops_owner(self, namespace: str, release: str) -> GitOpsOwner | None:
        """The Flux HelmRelease or Argo CD Application reconciling the release, or None.

        Reads the newest release record (its labels and manifest: post-rendered objects carry Flux's
        labels), the HelmReleases that may name it, and a few live objects (Argo CD marks what it syncs
        there). A few requests, asked only when someone is about to change the release by hand."""
        heads = self.revisions(namespace, release)
        record = self.release(namespace, release, heads[-1].revision) if heads else None
        found = None
        if record is not None:
            found = owner_from_labels(record.labels, where="the Helm release record") or owner_from_objects(
                record.resources)
        named = owner_from_helmreleases(self._helmreleases(namespace), release, namespace)
        if named is not None:
            return named  # it knows the interval and whether it is suspended
        if found is not None or record is None:
            return found
        return owner_from_objects(self._live_objects(namespace, record.resources))

    def _helmreleases(self, namespace: str) -> list[dict[str, Any]]:
        """Flux HelmReleases cluster-wide (they often live in flux-system), else in the release's own
        namespace; none when Flux is not installed or we may not read them."""
        for api_version in HELMRELEASE_VERSIONS:
            try:
                rt = self.registry.discovery.resolve(api_version, "HelmRelease")
            except KubeError as exc:
                log.debug("discovery of %s: %s", api_version, type(exc).__name__)
                return []
            if rt is None:
                continue
            for scope in (None, namespace):
                try:
                    return list(self.client.list(rt, scope).get("items") or [])
                except (Forbidden, NotFound):
                    continue
                except KubeError as exc:
                    log.debug("listing HelmReleases: %s", type(exc).__name__)
                    return []
            return []
        return []

    def _live_objects(self, namespace: str, resources: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
        """The metadata of a few of the release's objects as they are in the cluster now."""
        ordered = sorted(resources, key=lambda r: (str(r.get("kind")) not in _WORKLOADS, str(r.get("kind"))))
        out: list[dict[str, Any]] = []
        for obj in ordered[:LIVE_OBJECTS]:
            md = obj.get("metadata") or {}
            name, kind = md.get("name"), str(obj.get("kind") or "")
            if not name or not kind:
                continue
            try:
                rt = self.registry.discovery.resolve(str(obj.get("apiVersion") or "v1"), kind)
                if rt is not None:
                    out.append(self.client.get(rt, md.get("namespace") or namespace, str(name)))
            except KubeError as exc:  # gone, forbidden: that object tells nothing
                log.debug("reading %s %s for GitOps marks: %s", kind, name, type(exc).__name__)
        return out

    # -- health ----------------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise KubeError when the API server cannot be reached (within CHECK_TIMEOUT) or refuses our
        credentials."""
        self.client.discover("v1", timeout=CHECK_TIMEOUT)

    def close(self) -> None:
        with self._lock:
            informers, self._secrets = list(self._secrets.values()), {}
        for informer in informers:
            self.registry.release(informer)
        self.registry.close()
        self.client.close()


__all__ = ["KubeCluster", "ReleaseUnreadable", "RevisionHead", "revision_head"]
