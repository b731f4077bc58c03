"""Resource kinds the stand-in serves, and the discovery / OpenAPI documents clients fetch about them.

Store keys are ``"<group>/<plural>"`` (``""`` for the core group), e.g. ``"/pods"``, ``"apps/deployments"``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

GIT_VERSION = "v1.35.0"
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    versions: tuple[str, ...]  # first = preferred
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "log"
    verbs: tuple[str, ...] = ALL_VERBS
    singular: str = field(default="")
    generation: bool = True  # metadata.generation: only kinds with spec/status semantics have one

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"

    @property
    def version(self) -> str:
        return self.versions[0]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


def _r(group: str, plural: str, kind: str, **kw: object) -> Resource:
    versions = kw.pop("versions", ("v1",))
    return Resource(group, versions, plural, kind, **kw)  # type: ignore[arg-type]


_ALL = ("all",)
RESOURCES: tuple[Resource, ...] = (
    _r("", "namespaces", "Namespace", generation=False, namespaced=False, short_names=("ns",),
       subresources=("status",)),
    _r("", "pods", "Pod", short_names=("po",), categories=_ALL, subresources=("status", "log")),
    _r("", "services", "Service", short_names=("svc",), categories=_ALL, subresources=("status",)),
    _r("", "configmaps", "ConfigMap", generation=False, short_names=("cm",)),
    _r("", "secrets", "Secret", generation=False),
    _r("", "serviceaccounts", "ServiceAccount", generation=False, short_names=("sa",)),
    _r("", "events", "Event", short_names=("ev",), generation=False),
    _r("", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",), subresources=("status",)),
    _r("", "persistentvolumes", "PersistentVolume", namespaced=False, short_names=("pv",),
       subresources=("status",)),
    _r("", "endpoints", "Endpoints", generation=False, short_names=("ep",), singular="endpoints"),
    _r("", "nodes", "Node", generation=False, namespaced=False, short_names=("no",),
       subresources=("status",)),
    _r("apps", "deployments", "Deployment", short_names=("deploy",), categories=_ALL,
       subresources=("status", "scale")),
    _r("apps", "replicasets", "ReplicaSet", short_names=("rs",), categories=_ALL,
       subresources=("status", "scale")),
    _r("apps", "statefulsets", "StatefulSet", short_names=("sts",), categories=_ALL,
       subresources=("status", "scale")),
    _r("apps", "daemonsets", "DaemonSet", short_names=("ds",), categories=_ALL, subresources=("status",)),
    _r("apps", "controllerrevisions", "ControllerRevision", generation=False),
    _r("batch", "jobs", "Job", categories=_ALL, subresources=("status",)),
    _r("batch", "cronjobs", "CronJob", short_names=("cj",), categories=_ALL, subresources=("status",)),
    _r("autoscaling", "horizontalpodautoscalers", "HorizontalPodAutoscaler", versions=("v2", "v1"),
       short_names=("hpa",), categories=_ALL, subresources=("status",)),
    _r("policy", "poddisruptionbudgets", "PodDisruptionBudget", short_names=("pdb",),
       subresources=("status",)),
    _r("apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False,
       short_names=("crd", "crds"), subresources=("status",)),
    _r("coordination.k8s.io", "leases", "Lease", generation=False),
    _r("events.k8s.io", "events", "Event", short_names=("ev",), generation=False),
    _r("rbac.authorization.k8s.io", "roles", "Role", generation=False),
    _r("rbac.authorization.k8s.io", "rolebindings", "RoleBinding", generation=False),
    _r("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", generation=False, namespaced=False),
    _r("rbac.authorization.k8s.io", "clusterrolebindings", "ClusterRoleBinding", generation=False,
       namespaced=False),
    _r("networking.k8s.io", "ingresses", "Ingress", short_names=("ing",), subresources=("status",)),
    _r("networking.k8s.io", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
)

BY_KEY: dict[str, Resource] = {r.key: r for r in RESOURCES}
# events.k8s.io/v1 Events are a view of the core/v1 Event storage.
STORAGE_ALIASES: dict[str, str] = {"events.k8s.io/events": "/events"}


CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions"


def resource_from_crd(crd: dict) -> Resource | None:
    """The kind a CustomResourceDefinition declares, as the API server serves it once established."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    served = [v for v in spec.get("versions") or () if isinstance(v, dict) and v.get("served", True)]
    storage_first = sorted(served, key=lambda v: not v.get("storage", False))
    versions = tuple(str(v.get("name")) for v in storage_first if v.get("name"))
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")
    if not (group and plural and kind and versions):
        return None
    status = any((v.get("subresources") or {}).get("status") is not None for v in served)
    return Resource(str(group), versions, str(plural), str(kind),
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    short_names=tuple(names.get("shortNames") or ()),
                    categories=tuple(names.get("categories") or ()),
                    subresources=("status",) if status else (), singular=str(names.get("singular") or ""))


def serve_crd(event_type: str, crd: dict) -> None:
    """Keep the served kinds in step with the CRDs in the store (a store listener)."""
    global RESOURCES
    res = resource_from_crd(crd)
    if res is None or (res.key in BY_KEY and res.key not in _CRD_KEYS):
        return  # never shadow a built-in kind
    RESOURCES = tuple(r for r in RESOURCES if r.key != res.key)
    if event_type == "DELETED":
        BY_KEY.pop(res.key, None)
        _CRD_KEYS.discard(res.key)
        return
    RESOURCES = (*RESOURCES, res)
    BY_KEY[res.key] = res
    _CRD_KEYS.add(res.key)


_CRD_KEYS: set[str] = set()


def resource(key: str) -> Resource:
    """The kind for a store key; KeyError for an unknown one."""
    return BY_KEY[key]


def find(group: str, version: str, plural: str) -> Resource | None:
    res = BY_KEY.get(f"{group}/{plural}")
    return res if res is not None and version in res.versions else None


def by_kind(api_version: str, kind: str) -> Resource | None:
    group = api_version.rpartition("/")[0]
    for res in RESOURCES:
        if res.group == group and res.kind == kind:
            return res
    return None


def groups() -> dict[str, tuple[str, ...]]:
    """Non-core groups in first-seen order, with their versions (preferred first)."""
    out: dict[str, tuple[str, ...]] = {}
    for res in RESOURCES:
        if res.group and res.group not in out:
            out[res.group] = res.versions
    return out


# ---- discovery -------------------------------------------------------------------------------------------

def version_info() -> dict:
    return {"major": "1", "minor": "35", "gitVersion": GIT_VERSION, "gitCommit": "0" * 40,
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0",
            "compiler": "gc", "platform": "linux/amd64"}


def api_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def api_group_list() -> dict:
    items = []
    for group, versions in groups().items():
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        items.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def resource_list(group: str, version: str) -> dict | None:
    """APIResourceList for one group/version, or None if it is not served."""
    gv = f"{group}/{version}" if group else version
    entries: list[dict] = []
    for res in RESOURCES:
        if res.group != group or version not in res.versions:
            continue
        entry: dict = {"name": res.plural, "singularName": res.singular_name, "namespaced": res.namespaced,
                       "kind": res.kind, "verbs": list(res.verbs)}
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        entries.append(entry)
        for sub in res.subresources:
            sub_entry = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                         "kind": res.kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                sub_entry.update(kind="Scale", group="autoscaling", version="v1")
            elif sub == "log":
                sub_entry.update(kind="Pod", verbs=["get"])
            entries.append(sub_entry)
    if not entries:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


# ---- OpenAPI v3 ------------------------------------------------------------------------------------------
# Clients only need, per group/version, that PATCH on `/{name}` names its GVK and accepts `fieldValidation`;
# they then delegate validation to the server. No schemas are served.

def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_gv_doc(group: str, version: str) -> dict | None:
    paths: dict[str, dict] = {}
    for res in RESOURCES:
        if res.group != group or version not in res.versions:
            continue
        base = "/" + _gv_path(group, version)
        coll = f"{base}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{base}/{res.plural}"
        gvk = {"group": group, "version": version, "kind": res.kind}
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                  {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                  {"name": "force", "in": "query", "schema": {"type": "boolean"}}]
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {"200": {}}}
        paths[coll] = {"post": {"x-kubernetes-group-version-kind": gvk, "parameters": params[:3],
                                "responses": {"201": {}}}}
        paths[f"{coll}/{{name}}"] = {"patch": op, "put": {**op, "parameters": params[:3]}}
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": paths,
            "components": {"schemas": {}}}


def openapi_index() -> dict:
    paths: dict[str, dict] = {}
    gvs = [("", "v1")] + [(g, v) for g, vs in groups().items() for v in vs]
    for group, version in gvs:
        doc = openapi_gv_doc(group, version)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        rel = _gv_path(group, version)
        paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={digest}"}
    return {"paths": paths}
