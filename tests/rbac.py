"""A Kubernetes RBAC authorizer for tests: do these Roles and bindings allow this request?

Faithful to kube-apiserver's RBAC authorizer (plugin/pkg/auth/authorizer/rbac, rbac/v1 helpers):
- a rule allows a resource request when its verbs, apiGroups, resources and resourceNames all match:
  `*` matches any verb, group or resource; a subresource request (pods/log) matches only the rule resource
  `pods/log` or `*/log` (never `pods`); a rule with resourceNames matches only requests that name one of them
  (a create, or a list/watch without `fieldSelector=metadata.name=X`, names none);
- a non-resource request (/api, /version, ...) matches nonResourceURLs exactly or by a trailing `*` prefix;
- a RoleBinding grants its Role's (or ClusterRole's) rules for requests in the binding's namespace only, so
  never for cluster-scoped resources, cluster-wide lists or non-resource URLs; a ClusterRoleBinding grants
  its ClusterRole everywhere;
- subjects: User by name, Group by name, ServiceAccount by name and namespace; a ServiceAccount's user
  `system:serviceaccount:NS:NAME` is in the groups system:serviceaccounts, system:serviceaccounts:NS and
  system:authenticated;
- every cluster also has the bootstrap policy (BOOTSTRAP below: discovery, health, self reviews for every
  authenticated user), which a chart cannot remove.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.sim.requestlog import ApiRequest

# Kubernetes' bootstrap ClusterRoles bound to system:authenticated (system:discovery, system:basic-user,
# system:public-info-viewer), as `kubectl get clusterrole -o yaml` shows them on 1.35.
BOOTSTRAP: tuple[dict[str, Any], ...] = (
    {"kind": "ClusterRole", "metadata": {"name": "system:discovery"}, "rules": [
        {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                             "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]},
    {"kind": "ClusterRole", "metadata": {"name": "system:public-info-viewer"}, "rules": [
        {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]},
    {"kind": "ClusterRole", "metadata": {"name": "system:basic-user"}, "rules": [
        {"apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]},
    *({"kind": "ClusterRoleBinding", "metadata": {"name": name},
       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
       "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                     "name": "system:authenticated"}]}
      for name in ("system:discovery", "system:public-info-viewer", "system:basic-user")),
)


def _has(values: Sequence[str] | None, wanted: str) -> bool:
    values = values or ()
    return "*" in values or wanted in values


def resource_matches(rule_resources: Sequence[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in rule_resources:
        if r in ("*", combined):
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def url_matches(rule_urls: Sequence[str], path: str) -> bool:
    return any(u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])) for u in rule_urls)


def rule_allows(rule: Mapping[str, Any], request: ApiRequest) -> bool:
    if not _has(rule.get("verbs"), request.verb):
        return False
    if not request.resource:
        return url_matches(rule.get("nonResourceURLs") or (), request.path)
    if rule.get("nonResourceURLs") and not rule.get("resources"):
        return False
    names = rule.get("resourceNames") or ()
    return (_has(rule.get("apiGroups"), request.group)
            and resource_matches(rule.get("resources") or (), request.resource, request.subresource)
            and (not names or request.name in names))


def groups_of(user: str) -> frozenset[str]:
    groups = {"system:authenticated"}
    if user.startswith("system:serviceaccount:"):
        namespace = user.split(":")[2]
        groups |= {"system:serviceaccounts", f"system:serviceaccounts:{namespace}"}
    return frozenset(groups)


def subject_matches(subject: Mapping[str, Any], user: str, groups: frozenset[str]) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        return user == f"system:serviceaccount:{subject.get('namespace')}:{name}"
    return False


@dataclass(frozen=True)
class Grant:
    """The rules one binding gives a user: everywhere (namespace None) or in one namespace."""

    binding: str
    namespace: str | None
    rules: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Authorizer:
    objects: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, objects: Iterable[Mapping[str, Any]], *, bootstrap: bool = True) -> Authorizer:
        kinds = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
        found = tuple(o for o in objects if o.get("kind") in kinds)
        return cls(found + (BOOTSTRAP if bootstrap else ()))

    def _role(self, kind: str, name: str, namespace: str | None) -> Mapping[str, Any] | None:
        for o in self.objects:
            if o["kind"] == kind and o["metadata"]["name"] == name and (
                    kind == "ClusterRole" or o["metadata"].get("namespace") == namespace):
                return o
        return None

    def grants(self, user: str) -> list[Grant]:
        groups = groups_of(user)
        out = []
        for b in self.objects:
            if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
                continue
            if not any(subject_matches(s, user, groups) for s in b.get("subjects") or ()):
                continue
            namespace = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
            ref = b["roleRef"]
            if b["kind"] == "ClusterRoleBinding" and ref["kind"] != "ClusterRole":
                continue   # not valid in Kubernetes: a ClusterRoleBinding refers to a ClusterRole
            role = self._role(ref["kind"], ref["name"], namespace)
            if role is not None:
                out.append(Grant(b["metadata"]["name"], namespace, tuple(role.get("rules") or ())))
        return out

    def allows(self, user: str, request: ApiRequest) -> bool:
        for grant in self.grants(user):
            if grant.namespace is not None and (not request.resource or grant.namespace != request.namespace):
                continue
            if any(rule_allows(rule, request) for rule in grant.rules):
                return True
        return False
