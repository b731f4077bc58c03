"""Helm release storage as seen through the API: Secrets (Helm's default driver) and ConfigMaps
(`HELM_DRIVER=configmap`) labelled owner=helm,name=RELEASE.

Decoding (base64, gzip, JSON) lives in bot.core.releases; here we only fetch, pick and cache, so a tracker
polled every second does not re-decode an unchanged Secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.core.releases import (
    Release,
    ReleaseDecodeError,
    decode_release_secret,
    latest_revision,
    secret_revision,
)
from bot.kube.client import KubeClient
from bot.kube.errors import Forbidden, KubeError, NotFound
from bot.kube.retry import retrying

log = logging.getLogger("helmbot.kube")  # state changes and swallowed errors; never object contents

HELM_OWNER_SELECTOR = "owner=helm"
UNREACHABLE_FOR = 10.0  # seconds an API server that cannot be reached at all is retried on the first read


def release_selector(name: str) -> str:
    return f"owner=helm,name={name}"


class ReleaseNotFound(KubeError):
    """No Helm release (or not the requested revision) is stored in the namespace."""


class ReleaseUnreadable(KubeError):
    """The tracked revision's Secret is stored but cannot be decoded; the message names the Secret and what
    was wrong with it, never its contents. Helm writes a Secret whole, so waiting would not help."""


def release_secrets(secrets: Iterable[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    """The release's Secrets out of a namespace-wide owner=helm list (labels, no decoding)."""
    out = []
    for secret in secrets:
        labels = (secret.get("metadata") or {}).get("labels") or {}
        if labels.get("owner") == "helm" and labels.get("name") == name:
            out.append(secret)
    return out


def list_release_records(client: KubeClient, namespace: str, name: str) -> list[dict[str, Any]]:
    """The release's records in both of Helm's storage drivers: Secrets, then ConfigMaps (optional: not
    being allowed to read ConfigMaps leaves the Secrets)."""
    selector = release_selector(name)
    records = list(client.list("Secret", namespace, label_selector=selector).get("items") or [])
    try:
        records += client.list("ConfigMap", namespace, label_selector=selector).get("items") or []
    except (Forbidden, NotFound) as exc:
        log.debug("ConfigMap release storage in %s not readable: %s", namespace, exc)
    return records


def find_latest_revision(client: KubeClient, namespace: str, name: str, *, wait: float = 0.0,
                         interval: float = 0.5, stop: threading.Event | None = None,
                         patience: float = 30.0, on_wait: Callable[[], None] | None = None) -> int:
    """The newest stored revision (one labelled list per driver per try). Waits up to `wait` seconds for a
    first one (helm may be starting right now; `on_wait` is called once when it has to) and retries
    transient API errors for up to `patience` seconds (an API server that cannot be reached at all: for
    UNREACHABLE_FOR); raises ReleaseNotFound when helm never stored this release here."""
    deadline = time.monotonic() + wait
    patient_until = time.monotonic() + max(wait, patience)
    told = False
    while True:
        records = retrying(lambda: list_release_records(client, namespace, name), deadline=patient_until,
                           what=f"reading release {name} in {namespace}", stop=stop,
                           unreachable_for=UNREACHABLE_FOR)
        revision = latest_revision(records, name)
        if revision is not None:
            return revision
        if on_wait is not None and not told and wait > 0:
            told = True
            on_wait()
        if not _pause(deadline, interval, stop):
            raise ReleaseNotFound(f'release "{name}" not found in namespace "{namespace}"')


def _pause(deadline: float, interval: float, stop: threading.Event | None) -> bool:
    """Sleep until the next try; False when the deadline passed or we were stopped."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or (stop is not None and stop.is_set()):
        return False
    (stop or threading.Event()).wait(min(interval, remaining))
    return True


class ReleaseReader:
    """Decodes the tracked revision out of Secret snapshots, re-decoding only when the Secret changed."""

    def __init__(self, name: str, revision: int) -> None:
        self.name = name
        self.revision = revision
        self._lock = threading.Lock()
        self._cached_rv: str | None = None
        self._cached: Release | None = None

    def read(self, secrets: Iterable[Mapping[str, Any]]) -> Release | None:
        """The tracked revision as currently stored, or None if it is not (yet / any more) there.

        Raises ReleaseUnreadable when its Secret cannot be decoded."""
        for secret in release_secrets(secrets, self.name):
            if secret_revision(secret) != self.revision:
                continue
            rv = (secret.get("metadata") or {}).get("resourceVersion")
            with self._lock:
                if self._cached is not None and rv is not None and rv == self._cached_rv:
                    return self._cached
            try:
                release = decode_release_secret(secret)
            except ReleaseDecodeError as exc:
                log.error("release %s revision %s: %s", self.name, self.revision, exc)
                raise ReleaseUnreadable(f"cannot read the stored release: {exc}") from None
            with self._lock:
                self._cached, self._cached_rv = release, rv
            return release
        return None

    def newest_revision(self, secrets: Iterable[Mapping[str, Any]]) -> int | None:
        return latest_revision(release_secrets(secrets, self.name), self.name)


def wait_for_revision(client: KubeClient, namespace: str, name: str, revision: int, *, timeout: float,
                      interval: float = 1.0, stop: threading.Event | None = None) -> Release:
    """Poll (one labelled list per driver per try) until `revision` is stored, e.g. when `helm upgrade`
    just began; transient API errors are retried within `timeout`."""
    deadline = time.monotonic() + timeout
    reader = ReleaseReader(name, revision)
    while True:
        records = retrying(lambda: list_release_records(client, namespace, name), deadline=deadline,
                           what=f"reading release {name} in {namespace}", stop=stop)
        release = reader.read(records)
        if release is not None:
            return release
        if not _pause(deadline, interval, stop):
            raise ReleaseNotFound(f'revision {revision} of release "{name}" did not appear in namespace '
                                  f'"{namespace}" within {timeout:g}s')
