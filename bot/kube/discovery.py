"""apiVersion + kind → the resource to list and watch, from the API server's discovery documents.

A chart may wait on any kind (custom resources, CRDs, ReplicationControllers): the adapter learns their
plural and scope from discovery instead of a fixed table. One request per group/version, cached for the
life of the client (shared by every tracked release); a group/version the server does not serve is cached
as absent too, so an unknown kind costs one request, not one per observe.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from bot.kube.client import RESOURCES, KubeClient, ResourceType
from bot.kube.errors import NotFound


class Discovery:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._by_gv: dict[str, dict[str, ResourceType]] = {}   # api_version -> kind -> type

    def resolve(self, api_version: str, kind: str) -> ResourceType | None:
        """The resource for (apiVersion, kind); None when discovery does not know it (CRD not installed).

        Raises KubeError (Forbidden, ApiConnectionError, ...) when discovery itself cannot be read."""
        known = RESOURCES.get(kind)
        if known is not None and known.api_version == api_version:
            return known  # built-ins need no request
        api_version = api_version or "v1"
        with self._lock:
            kinds = self._by_gv.get(api_version)
        if kinds is None:
            try:
                kinds = resource_types(api_version, self.client.discover(api_version))
            except NotFound:
                kinds = {}
            with self._lock:
                self._by_gv[api_version] = kinds
        return kinds.get(kind)

    def forget(self, api_version: str) -> None:
        """Drop a cached group/version (e.g. after a CRD was installed)."""
        with self._lock:
            self._by_gv.pop(api_version, None)


def resource_types(api_version: str, doc: Mapping[str, Any]) -> dict[str, ResourceType]:
    """Kind -> ResourceType out of one APIResourceList; subresources ("pods/log") are skipped, and so are
    kinds that cannot be listed and watched."""
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    out: dict[str, ResourceType] = {}
    for entry in doc.get("resources") or []:
        if not isinstance(entry, Mapping):
            continue
        name, kind = str(entry.get("name") or ""), str(entry.get("kind") or "")
        verbs = entry.get("verbs") or []
        if not name or not kind or "/" in name or not {"list", "watch"} <= set(verbs):
            continue
        out.setdefault(kind, ResourceType(kind, prefix, name, namespaced=bool(entry.get("namespaced"))))
    return out
