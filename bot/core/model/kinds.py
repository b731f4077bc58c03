"""Which API group a kind comes from, and the key a kind is known by in a view: the bare kind for the
groups Kubernetes itself serves ("Service", "Job"), `Kind.group` for custom resources
("Service.serving.knative.dev"), so a custom kind named like a built-in one never collides with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# API groups served by Kubernetes itself; anything else is a custom resource.
BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "policy", "autoscaling", "rbac.authorization.k8s.io", "networking.k8s.io",
    "storage.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io", "events.k8s.io",
    "apiregistration.k8s.io", "flowcontrol.apiserver.k8s.io", "resource.k8s.io", "authentication.k8s.io",
    "authorization.k8s.io", "internal.apiserver.k8s.io", "storagemigration.k8s.io", "metrics.k8s.io",
    "extensions",
})  # fmt: skip


def group_of(api_version: str) -> str:
    """ "apps/v1" -> "apps", "v1" -> "" (the core group)."""
    return str(api_version or "").rpartition("/")[0]


def is_builtin_group(group: str) -> bool:
    return group in BUILTIN_GROUPS


def kind_key(kind: str, group: str = "") -> str:
    """ "Service" for a built-in group, "Service.serving.knative.dev" for a custom resource."""
    return kind if is_builtin_group(group) else f"{kind}.{group}"


def object_kind_key(obj: Mapping[str, Any]) -> str:
    """The kind key of an object as the API returns it (apiVersion + kind)."""
    return kind_key(str(obj.get("kind") or ""), group_of(str(obj.get("apiVersion") or "")))
