"""A chart as `helm template` renders it, split the way Helm splits it: release resources and hooks.

Helm decides what is a hook in pkg/release/v1/util/manifest_sorter.go: a document with a ``helm.sh/hook``
annotation is a hook; its events are the comma-separated values, trimmed and lower-cased; one unknown event
drops the whole document (neither hook nor resource: `helm template` does not print it either); the weight
is ``strconv.Atoi`` of the ``helm.sh/hook-weight`` annotation, 0 when that fails; the delete policies are
the trimmed, lower-cased values, and only when the annotation is absent does pkg/action/hooks.go apply the
default ``before-hook-creation`` (an empty annotation leaves a single empty policy: no default).

Also here: which ConfigMaps, Secrets, PVCs and ServiceAccounts a pod template needs, for naming the
workloads a disappearing object breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.core.releases import Hook, HookRun, Release, parse_manifest

__all__ = [
    "HOOK_ANNOTATION",
    "KEEP_ANNOTATION",
    "WEIGHT_ANNOTATION",
    "ObjectKey",
    "Reference",
    "RenderedChart",
    "annotations_of",
    "go_atoi",
    "object_key",
    "pod_references",
    "pod_spec",
    "subject",
]

HOOK_ANNOTATION = "helm.sh/hook"
WEIGHT_ANNOTATION = "helm.sh/hook-weight"
DELETE_ANNOTATION = "helm.sh/hook-delete-policy"
OUTPUT_LOG_ANNOTATION = "helm.sh/hook-output-log-policy"
KEEP_ANNOTATION = "helm.sh/resource-policy"
DEFAULT_DELETE_POLICIES = ("before-hook-creation",)

# pkg/release/v1/util/manifest_sorter.go `events` (test-success is Helm 2's name for test)
_EVENTS = {
    "pre-install": "pre-install", "post-install": "post-install", "pre-delete": "pre-delete",
    "post-delete": "post-delete", "pre-upgrade": "pre-upgrade", "post-upgrade": "post-upgrade",
    "pre-rollback": "pre-rollback", "post-rollback": "post-rollback", "test": "test",
    "test-success": "test",
}
_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_CHART_LABEL = re.compile(r"^(?P<name>.+)-(?P<version>v?[0-9]+\.[0-9]+\.[0-9]+\S*)$")

# (API group, kind, namespace, name): Helm matches release objects by group and kind, not version
ObjectKey = tuple[str, str, str, str]


def go_atoi(text: str) -> int | None:
    """Go's strconv.Atoi: an optional sign and ASCII digits, nothing else (no spaces); None when it fails."""
    if not _GO_INT.match(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    md = obj.get("metadata") or {}
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    return (group, str(obj.get("kind") or ""), str(md.get("namespace") or ""), str(md.get("name") or ""))


def subject(obj: Mapping[str, Any]) -> str:
    """"Deployment/shop-web": how plans and hazards name an object."""
    return f"{obj.get('kind') or '?'}/{(obj.get('metadata') or {}).get('name') or '?'}"


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata") or {}
    found = md.get("annotations") if isinstance(md, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _split(value: Any) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in str(value).split(","))


@dataclass(frozen=True)
class RenderedChart:
    """Every document `helm template` printed, as Helm would sort it into release resources and hooks."""

    resources: tuple[dict[str, Any], ...] = field(repr=False)
    resource_sources: tuple[str, ...] = field(repr=False)
    hooks: tuple[Hook, ...]
    chart_name: str = ""
    chart_version: str = ""
    # documents PyYAML could not read, and hooks Helm would drop (unknown event); no values quoted
    problems: tuple[str, ...] = ()

    @classmethod
    def from_template(cls, text: str, *, namespace: str = "", chart_name: str = "",
                      chart_version: str = "") -> RenderedChart:
        """Parse `helm template` output; objects without a namespace get ``namespace``."""
        problems: list[str] = []
        resources: list[dict[str, Any]] = []
        sources: list[str] = []
        hooks: list[Hook] = []
        for source, obj in parse_manifest(text, namespace, problems):
            notes = annotations_of(obj)
            if HOOK_ANNOTATION not in notes:
                resources.append(obj)
                sources.append(source)
                continue
            hook = _hook(source, obj, notes, namespace)
            if hook is None:
                problems.append(f"{source or 'manifest'}: {subject(obj)} names an unknown hook event; "
                                "Helm drops it")
            else:
                hooks.append(hook)
        name, version = _chart_identity([*resources, *(h.manifest for h in hooks)], sources)
        return cls(resources=tuple(resources), resource_sources=tuple(sources), hooks=tuple(hooks),
                   chart_name=chart_name or name, chart_version=chart_version or version,
                   problems=tuple(problems))

    @classmethod
    def from_release(cls, release: Release) -> RenderedChart:
        """What a stored revision renders to (a rollback re-applies it, hooks and all)."""
        return cls(resources=release.resources,
                   resource_sources=release.resource_sources or ("",) * len(release.resources),
                   hooks=release.hooks, chart_name=release.chart_name, chart_version=release.chart_version,
                   problems=release.manifest_problems)


def _hook(source: str, obj: dict[str, Any], notes: Mapping[str, Any], namespace: str) -> Hook | None:
    events: list[str] = []
    for event in _split(notes[HOOK_ANNOTATION]):
        if event not in _EVENTS:
            return None
        events.append(_EVENTS[event])
    weight = go_atoi(str(notes.get(WEIGHT_ANNOTATION, "")))
    md = obj.get("metadata") or {}
    return Hook(
        name=str(md.get("name") or ""), kind=str(obj.get("kind") or ""),
        api_version=str(obj.get("apiVersion") or ""), path=source, events=tuple(events),
        weight=weight or 0,
        delete_policies=(_split(notes[DELETE_ANNOTATION]) if DELETE_ANNOTATION in notes
                         else DEFAULT_DELETE_POLICIES),
        output_log_policies=_split(notes[OUTPUT_LOG_ANNOTATION]) if OUTPUT_LOG_ANNOTATION in notes else (),
        last_run=HookRun(), manifest=obj, namespace=str(md.get("namespace") or namespace),
    )


def _chart_identity(objects: Iterable[Mapping[str, Any]], sources: Iterable[str]) -> tuple[str, str]:
    """The chart from the "# Source: CHART/templates/..." paths and a helm.sh/chart=NAME-VERSION label."""
    name = next((s.split("/", 1)[0] for s in sources if "/" in s), "")
    for obj in objects:
        labels = (obj.get("metadata") or {}).get("labels")
        label = labels.get("helm.sh/chart") if isinstance(labels, Mapping) else None
        m = _CHART_LABEL.match(str(label or ""))
        if m and (not name or m.group("name") == name):
            return m.group("name"), m.group("version")
    return name, ""


# ---------------------------------------------------------------------------------------------------------
# what a pod needs


@dataclass(frozen=True)
class Reference:
    kind: str            # ConfigMap, Secret, PersistentVolumeClaim, ServiceAccount
    name: str
    via: str             # 'volume "config"', 'envFrom in container "web"', 'env DATABASE_PASSWORD'
    optional: bool = False


_POD_OWNERS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                         "Job"})


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec a workload (or a Pod, or a CronJob) runs, if it has one."""
    kind = obj.get("kind")
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else None
    if spec is None:
        return None
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = _dig(spec, "jobTemplate", "spec")
    elif kind not in _POD_OWNERS:
        return None
    found = _dig(spec, "template", "spec")
    return found or None


def _dig(value: Any, *path: str) -> Mapping[str, Any]:
    for step in path:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def pod_references(spec: Mapping[str, Any]) -> list[Reference]:
    """Objects the pod cannot start without (or, when optional, starts without silently)."""
    refs: list[Reference] = []
    for vol in _items(spec.get("volumes")):
        where = f'volume "{vol.get("name")}"'
        if cm := _dig(vol, "configMap"):
            refs.append(Reference("ConfigMap", str(cm.get("name") or ""), where, bool(cm.get("optional"))))
        if sec := _dig(vol, "secret"):
            refs.append(Reference("Secret", str(sec.get("secretName") or ""), where,
                                  bool(sec.get("optional"))))
        if pvc := _dig(vol, "persistentVolumeClaim"):
            refs.append(Reference("PersistentVolumeClaim", str(pvc.get("claimName") or ""), where))
        for src in _items(_dig(vol, "projected").get("sources")):
            for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                if ref := _dig(src, key):
                    refs.append(Reference(kind, str(ref.get("name") or ""), where, bool(ref.get("optional"))))
    for group in ("initContainers", "containers"):
        for ctr in _items(spec.get(group)):
            cname = ctr.get("name")
            for src in _items(ctr.get("envFrom")):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if ref := _dig(src, key):
                        refs.append(Reference(kind, str(ref.get("name") or ""),
                                              f'envFrom in container "{cname}"', bool(ref.get("optional"))))
            for env in _items(ctr.get("env")):
                for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if ref := _dig(env, "valueFrom", key):
                        refs.append(Reference(kind, str(ref.get("name") or ""), f"env {env.get('name')}",
                                              bool(ref.get("optional"))))
    if account := spec.get("serviceAccountName") or spec.get("serviceAccount"):
        refs.append(Reference("ServiceAccount", str(account), "serviceAccountName"))
    for secret in _items(spec.get("imagePullSecrets")):
        refs.append(Reference("Secret", str(secret.get("name") or ""), "imagePullSecrets"))
    return [r for r in refs if r.name]
