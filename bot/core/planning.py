"""What a Helm operation will do, in Helm's order, and which parts a tracker has to wait on.

Helm runs the operation's pre-hooks one at a time (weight, then name, then kind in install order), applies
the chart's resources, optionally waits for them, then runs the post-hooks. Only Job and Pod hooks are
waited on; every other hook kind is done once created. ``hook-succeeded`` deletions happen after all
hooks of that event succeeded, so a tracker must capture a hook Job's outcome before it vanishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.core.model.kinds import group_of, is_builtin_group
from bot.core.model.states import PhaseKind
from bot.core.releases import Hook, Release, ReleaseStatus

__all__ = [
    "INSTALL_ORDER",
    "Operation",
    "Phase",
    "PhaseKind",
    "Plan",
    "Step",
    "detect_operation",
    "hook_events",
    "kind_rank",
    "plan_operation",
    "resource_needs_wait",
    "sort_hooks",
]


class Operation(StrEnum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    ROLLBACK = "rollback"


# Helm's InstallOrder (pkg/release/v1/util/kind_sorter.go): kinds not listed come last, alphabetically.
INSTALL_ORDER: tuple[str, ...] = (
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
    "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
    "PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
    "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)
_RANK = {kind: i for i, kind in enumerate(INSTALL_ORDER)}

_EVENTS: dict[Operation, tuple[str, str]] = {
    Operation.INSTALL: ("pre-install", "post-install"),
    Operation.UPGRADE: ("pre-upgrade", "post-upgrade"),
    Operation.ROLLBACK: ("pre-rollback", "post-rollback"),
}

_WAITED_HOOK_KINDS = frozenset({"Job", "Pod"})
_WAITED_KINDS = frozenset({
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "Pod",
    "PersistentVolumeClaim", "CustomResourceDefinition",
})
def hook_events(operation: Operation) -> tuple[str, str]:
    """(pre event, post event) Helm fires for the operation."""
    return _EVENTS[Operation(operation)]


def detect_operation(release: Release) -> Operation:
    """Which operation produced this revision: pending status first, then Helm's description, then revision.

    ``helm upgrade --install`` on a release that does not exist yet is an install (revision 1,
    "Install complete") and runs install hooks.
    """
    by_status = {
        ReleaseStatus.PENDING_INSTALL: Operation.INSTALL,
        ReleaseStatus.PENDING_UPGRADE: Operation.UPGRADE,
        ReleaseStatus.PENDING_ROLLBACK: Operation.ROLLBACK,
    }
    if release.status in by_status:
        return by_status[release.status]
    desc = release.description.strip().lower()
    # Helm's descriptions: "Install complete", "Upgrade complete", "Rollback to 3", "Initial install
    # underway", "Preparing upgrade", failures: 'Release "x" failed: ...', 'Upgrade "x" failed: ...',
    # 'Rollback "x" failed: ...', and hook failures naming their event ("failed pre-install: ...").
    if desc.startswith("rollback"):
        return Operation.ROLLBACK
    if desc.startswith(("upgrade", "preparing upgrade")):
        return Operation.UPGRADE
    if desc.startswith(("install complete", "initial install", "release ")):
        return Operation.INSTALL
    if not desc.startswith(("uninstall", "deletion")):
        for needle, op in (("rollback", Operation.ROLLBACK), ("upgrade", Operation.UPGRADE),
                           ("install", Operation.INSTALL)):
            if needle in desc:
                return op
    return Operation.INSTALL if release.revision == 1 else Operation.UPGRADE


@dataclass(frozen=True)
class Step:
    kind: str
    name: str
    namespace: str = ""
    api_version: str = ""
    weight: int = 0
    wait: bool = False
    hook: Hook | None = None
    delete_policies: tuple[str, ...] = ()
    source: str = ""               # chart path ("# Source:" / hook path)
    annotations: tuple[tuple[str, str], ...] = ()   # the manifest's (werf.io/* tracking annotations, ...)

    @property
    def subject(self) -> str:
        """"Job/shop-migrate": the name events and messages use."""
        return f"{self.kind}/{self.name}"

    @property
    def deleted_on_success(self) -> bool:
        """Helm deletes it after the event's hooks all succeeded (never a CRD)."""
        return "hook-succeeded" in self.delete_policies and self.kind != "CustomResourceDefinition"

    @property
    def deleted_on_failure(self) -> bool:
        return "hook-failed" in self.delete_policies and self.kind != "CustomResourceDefinition"


@dataclass(frozen=True)
class Phase:
    kind: PhaseKind
    name: str                      # "pre-upgrade hooks", "resources", "post-upgrade hooks"
    steps: tuple[Step, ...]
    event: str | None = None       # the hook event for hook phases

    @property
    def waited(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.wait)


@dataclass(frozen=True)
class Plan:
    release: str
    namespace: str
    revision: int
    operation: Operation
    phases: tuple[Phase, ...]
    no_hooks: bool = False

    def phase(self, kind: PhaseKind) -> Phase | None:
        return next((p for p in self.phases if p.kind == kind), None)

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(s for p in self.phases for s in p.steps)


def kind_rank(kind: str) -> tuple[int, str]:
    """Sort key for Helm's install order: listed kinds by position, unknown kinds last, alphabetically."""
    rank = _RANK.get(kind)
    return (rank, "") if rank is not None else (len(INSTALL_ORDER), kind)


def sort_hooks(hooks: Iterable[Hook]) -> list[Hook]:
    """The order Helm runs one event's hooks: weight, then name; the kind (install order) only breaks ties
    between hooks of the same name (pkg/action/hooks.go `hookByWeight`, a stable sort over the list
    pkg/release/v1/util/kind_sorter.go sorted by kind)."""
    return sorted(hooks, key=lambda h: (h.weight, h.name, kind_rank(h.kind)))


def resource_needs_wait(obj: Mapping[str, Any]) -> bool:
    """Does a chart resource have a rollout/readiness worth waiting on (vs done once applied)?"""
    kind = str(obj.get("kind") or "")
    if not is_builtin_group(group_of(str(obj.get("apiVersion") or ""))):
        # Custom resources: their controllers may report conditions (kstatus treats none as Current).
        # A custom kind named like a built-in one (Knative's Service) is one too.
        return not kind.endswith("List")
    if kind in _WAITED_KINDS:
        return True
    if kind == "Service":
        spec = obj.get("spec") or {}
        return isinstance(spec, Mapping) and spec.get("type") == "LoadBalancer"
    return False


def _annotations(manifest: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    found = (manifest.get("metadata") or {}).get("annotations") if isinstance(manifest, Mapping) else None
    if not isinstance(found, Mapping):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in found.items()))


def _hook_step(hook: Hook) -> Step:
    return Step(kind=hook.kind, name=hook.name, namespace=hook.namespace, api_version=hook.api_version,
                weight=hook.weight, wait=hook.kind in _WAITED_HOOK_KINDS, hook=hook,
                delete_policies=hook.delete_policies, source=hook.path,
                annotations=_annotations(hook.manifest))


def _resource_steps(release: Release) -> tuple[Step, ...]:
    sources = release.resource_sources or ("",) * len(release.resources)
    pairs = list(zip(release.resources, sources, strict=False))
    pairs.sort(key=lambda p: kind_rank(str(p[0].get("kind") or "")))   # stable, like Helm's sort
    steps = []
    for obj, src in pairs:
        md = obj.get("metadata") or {}
        steps.append(Step(kind=str(obj.get("kind") or ""), name=str(md.get("name") or ""),
                          namespace=str(md.get("namespace") or ""),
                          api_version=str(obj.get("apiVersion") or ""),
                          wait=resource_needs_wait(obj), source=src, annotations=_annotations(obj)))
    return tuple(steps)


def plan_operation(release: Release, operation: Operation | None = None, *, no_hooks: bool = False) -> Plan:
    """Phases for the operation that produced ``release`` (detected when not given).

    Hook phases with no hooks for the event (or with ``no_hooks``) are left out; the resources phase is
    always present.
    """
    op = Operation(operation) if operation is not None else detect_operation(release)
    pre, post = hook_events(op)
    phases: list[Phase] = []
    if not no_hooks and (pre_hooks := sort_hooks(release.hooks_for(pre))):
        phases.append(Phase(PhaseKind.PRE_HOOKS, f"{pre} hooks", tuple(map(_hook_step, pre_hooks)), pre))
    phases.append(Phase(PhaseKind.RESOURCES, "resources", _resource_steps(release)))
    if not no_hooks and (post_hooks := sort_hooks(release.hooks_for(post))):
        phases.append(Phase(PhaseKind.POST_HOOKS, f"{post} hooks", tuple(map(_hook_step, post_hooks)), post))
    return Plan(release=release.name, namespace=release.namespace, revision=release.revision, operation=op,
                phases=tuple(phases), no_hooks=no_hooks)
