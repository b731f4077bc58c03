"""The test RBAC authorizer (tests/rbac.py) decides as kube-apiserver's RBAC authorizer does."""

from __future__ import annotations

from typing import Any

from bot.sim.requestlog import ApiRequest
from tests.rbac import Authorizer

SA = "system:serviceaccount:bots:helmbot"
OTHER_SA = "system:serviceaccount:other:helmbot"


def _role(name: str, rules: list[dict[str, Any]], namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": "Role" if namespace else "ClusterRole", "metadata": meta, "rules": rules}


def _binding(role_kind: str, role: str, namespace: str | None = None,
             subject: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"bind-{role}"}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": "RoleBinding" if namespace else "ClusterRoleBinding", "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": [subject or {"kind": "ServiceAccount", "name": "helmbot", "namespace": "bots"}]}


def _req(verb: str, resource: str, namespace: str = "shop", *, group: str = "", sub: str = "",
         name: str = "") -> ApiRequest:
    return ApiRequest(SA, verb, group, "v1", resource, sub, namespace, name, "/x")


def _granting(rule: dict[str, Any]) -> Authorizer:
    return Authorizer.of([_role("r", [rule], "shop"), _binding("Role", "r", "shop")])


READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}


def test_a_role_grants_only_in_its_namespace_and_only_its_verbs() -> None:
    auth = Authorizer.of([_role("r", [READ_PODS], "shop"), _binding("Role", "r", "shop")])
    assert auth.allows(SA, _req("list", "pods"))
    assert auth.allows(SA, _req("watch", "pods"))
    assert not auth.allows(SA, _req("create", "pods"))
    assert not auth.allows(SA, _req("list", "pods", "ledger"))
    assert not auth.allows(SA, _req("list", "pods", ""))                 # a cluster-wide list
    assert not auth.allows(SA, _req("list", "pods", group="apps"))      # another group
    assert not auth.allows(OTHER_SA, _req("list", "pods"))              # another subject


def test_subresources_are_their_own_resources() -> None:
    auth = Authorizer.of([_role("r", [READ_PODS], "shop"), _binding("Role", "r", "shop")])
    assert not auth.allows(SA, _req("get", "pods", sub="log", name="web-0"))
    logs = _granting({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]})
    assert logs.allows(SA, _req("get", "pods", sub="log", name="web-0"))
    assert not logs.allows(SA, _req("get", "pods", name="web-0"))
    any_log = _granting({"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]})
    assert any_log.allows(SA, _req("get", "pods", sub="log", name="web-0"))
    assert not any_log.allows(SA, _req("get", "pods", sub="status", name="web-0"))


def test_resource_names_limit_named_requests_and_never_allow_create() -> None:
    rules = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["leader"],
              "verbs": ["get", "update", "create", "watch"]}]
    auth = Authorizer.of([_role("r", rules, "bots"), _binding("Role", "r", "bots")])
    lease = {"group": "coordination.k8s.io"}
    assert auth.allows(SA, _req("get", "leases", "bots", name="leader", **lease))
    assert auth.allows(SA, _req("update", "leases", "bots", name="leader", **lease))
    assert not auth.allows(SA, _req("get", "leases", "bots", name="other", **lease))
    assert not auth.allows(SA, _req("create", "leases", "bots", **lease))   # a create names nothing
    assert not auth.allows(SA, _req("watch", "leases", "bots", **lease))
    assert auth.allows(SA, _req("watch", "leases", "bots", name="leader", **lease))  # fieldSelector name


def test_wildcards_match_everything_including_subresources() -> None:
    auth = Authorizer.of([_role("r", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "shop"),
                          _binding("Role", "r", "shop")])
    assert auth.allows(SA, _req("deletecollection", "widgets", group="example.com"))
    assert auth.allows(SA, _req("get", "pods", sub="log", name="p"))
    assert not auth.allows(SA, _req("get", "pods", "ledger"))


def test_a_cluster_role_bound_in_a_namespace_grants_there_only() -> None:
    auth = Authorizer.of([_role("c", [READ_PODS]), _binding("ClusterRole", "c", "shop")])
    assert auth.allows(SA, _req("list", "pods"))
    assert not auth.allows(SA, _req("list", "pods", "ledger"))
    assert not auth.allows(SA, _req("list", "pods", ""))


def test_a_cluster_role_binding_grants_everywhere_and_cluster_scoped() -> None:
    ns_rule = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]}
    auth = Authorizer.of([_role("c", [READ_PODS, ns_rule]), _binding("ClusterRole", "c")])
    assert auth.allows(SA, _req("list", "pods", ""))
    assert auth.allows(SA, _req("list", "pods", "anywhere"))
    assert auth.allows(SA, _req("create", "namespaces", ""))
    # a namespaced Role is never bound cluster-wide
    assert not Authorizer.of([_role("r", [READ_PODS], "shop"), _binding("Role", "r")]).allows(
        SA, _req("list", "pods"))


def test_groups_of_service_accounts_and_discovery_for_everyone_authenticated() -> None:
    group = {"kind": "Group", "name": "system:serviceaccounts:bots"}
    auth = Authorizer.of([_role("r", [READ_PODS], "shop"), _binding("Role", "r", "shop", group)])
    assert auth.allows(SA, _req("get", "pods", name="p"))
    assert not auth.allows(OTHER_SA, _req("get", "pods", name="p"))
    discovery = Authorizer.of([])
    for path in ("/api", "/apis/apps/v1", "/version", "/openapi/v3/apis/apps/v1", "/readyz"):
        assert discovery.allows(SA, ApiRequest(SA, "get", path=path)), path
    assert not discovery.allows(SA, ApiRequest(SA, "get", path="/metrics"))
    assert not discovery.allows(SA, ApiRequest(SA, "post", path="/api"))
    assert not Authorizer.of([], bootstrap=False).allows(SA, ApiRequest(SA, "get", path="/api"))
