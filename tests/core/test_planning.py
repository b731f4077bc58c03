from __future__ import annotations

import pytest

from bot.core.planning import (
    INSTALL_ORDER,
    Operation,
    PhaseKind,
    detect_operation,
    hook_events,
    kind_rank,
    plan_operation,
    resource_needs_wait,
    sort_hooks,
)
from bot.core.releases import Release, decode_release_json
from tests.core.release_fixtures import configmap, deployment, hook, job, release_json, service


def _release(revision: int = 2, status: str = "deployed", description: str | None = None, **kw) -> Release:
    return decode_release_json(release_json("shop", revision, status, description=description, **kw))


@pytest.mark.parametrize(
    ("revision", "status", "description", "expected"),
    [
        (1, "pending-install", "Initial install underway", Operation.INSTALL),
        (4, "pending-upgrade", "Preparing upgrade", Operation.UPGRADE),
        (5, "pending-rollback", "Rollback to 3", Operation.ROLLBACK),
        (1, "deployed", "Install complete", Operation.INSTALL),
        (2, "deployed", "Upgrade complete", Operation.UPGRADE),
        (6, "deployed", "Rollback to 3", Operation.ROLLBACK),
        (2, "superseded", "Upgrade complete", Operation.UPGRADE),
        (1, "failed", 'Release "shop" failed: failed pre-install: job x failed', Operation.INSTALL),
        (3, "failed", 'Upgrade "shop" failed: pre-upgrade hooks failed: BackoffLimit', Operation.UPGRADE),
        (7, "failed", 'Rollback "shop" failed: timed out', Operation.ROLLBACK),
        (3, "failed", "failed post-upgrade: job x failed", Operation.UPGRADE),
        (1, "deployed", "", Operation.INSTALL),          # unknown text: revision 1 is an install
        (3, "deployed", "", Operation.UPGRADE),
        # `helm upgrade --install` on a new release stores an install and runs install hooks
        (1, "deployed", "Install complete", Operation.INSTALL),
        # the pending status wins over a stale description
        (8, "pending-upgrade", "Rollback to 3", Operation.UPGRADE),
    ],
)
def test_detect_operation(revision: int, status: str, description: str, expected: Operation) -> None:
    assert detect_operation(_release(revision, status, description)) is expected


def test_hook_events() -> None:
    assert hook_events(Operation.INSTALL) == ("pre-install", "post-install")
    assert hook_events(Operation.UPGRADE) == ("pre-upgrade", "post-upgrade")
    assert hook_events(Operation.ROLLBACK) == ("pre-rollback", "post-rollback")


def test_kind_rank_follows_helm_install_order() -> None:
    kinds = ["Job", "Deployment", "Widget", "ConfigMap", "Namespace", "Apple", "ServiceAccount", "Service"]
    assert sorted(kinds, key=kind_rank) == [
        "Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment", "Job", "Apple", "Widget"]
    assert INSTALL_ORDER[0] == "PriorityClass" and INSTALL_ORDER[-1] == "ValidatingWebhookConfiguration"


def test_hooks_sorted_by_numeric_weight_then_name_then_kind() -> None:
    """Helm pkg/action/hooks.go hookByWeight: weight, then name (stable over kind_sorter.go's kind order)."""
    rel = _release(hooks=[
        hook("z-late", weight="10"),
        hook("b-job", weight="-5"),
        hook("a-job", weight="-5"),
        hook("sa", kind="ServiceAccount", weight="-5"),
        hook("cm", kind="ConfigMap", weight="2"),
        hook("mid", weight="2"),
        hook("neg", weight="-10"),
        hook("zz-custom", kind="Widget", weight="-5", manifest={
            "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "zz-custom"}}),
    ])
    ordered = [h.name for h in sort_hooks(rel.hooks)]
    # "10" sorts after "2" numerically (string order would put it first)
    assert ordered == ["neg", "a-job", "b-job", "sa", "zz-custom", "cm", "mid", "z-late"]


def test_hooks_of_the_same_name_keep_install_order() -> None:
    rel = _release(hooks=[hook("same", weight="0"), hook("same", kind="ConfigMap", weight="0")])
    assert [h.kind for h in sort_hooks(rel.hooks)] == ["ConfigMap", "Job"]


def test_upgrade_plan_phases_and_waits() -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}}
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}}
    rel = _release(3, "pending-upgrade", manifest_objects=[
        deployment("shop-web"), configmap("shop-config"), service("shop"),
        service("shop-lb", type="LoadBalancer"), job("shop-reindex"), pvc, widget, role,
    ], hooks=[
        hook("shop-migrate", events=["pre-install", "pre-upgrade"], weight="-5",
             delete_policies=["hook-succeeded"]),
        hook("shop-notify", kind="ConfigMap", events=["pre-upgrade"], weight="-5"),
        hook("shop-smoke", events=["post-upgrade"], delete_policies=["hook-failed"]),
        hook("shop-install-only", events=["post-install"]),
    ])
    plan = plan_operation(rel, Operation.UPGRADE)
    assert plan.operation is Operation.UPGRADE and plan.revision == 3 and plan.namespace == "default"
    assert [p.kind for p in plan.phases] == [PhaseKind.PRE_HOOKS, PhaseKind.RESOURCES, PhaseKind.POST_HOOKS]
    assert [p.name for p in plan.phases] == ["pre-upgrade hooks", "resources", "post-upgrade hooks"]
    pre = plan.phase(PhaseKind.PRE_HOOKS)
    assert pre is not None and pre.event == "pre-upgrade"
    # same weight: by name (Helm's hookByWeight), not by kind
    assert [(s.subject, s.wait) for s in pre.steps] == [
        ("Job/shop-migrate", True), ("ConfigMap/shop-notify", False)]
    migrate = pre.steps[0]
    assert migrate.deleted_on_success and not migrate.deleted_on_failure and migrate.weight == -5
    assert migrate.hook is not None and migrate.hook.name == "shop-migrate"
    assert pre.steps[1].delete_policies == ("before-hook-creation",)
    res = plan.phase(PhaseKind.RESOURCES)
    assert res is not None
    assert [(s.subject, s.wait) for s in res.steps] == [
        ("ConfigMap/shop-config", False), ("PersistentVolumeClaim/data", True), ("Role/r", False),
        ("Service/shop", False), ("Service/shop-lb", True), ("Deployment/shop-web", True),
        ("Job/shop-reindex", True), ("Widget/w", True),
    ]
    assert all(s.hook is None and s.namespace == "default" for s in res.steps)
    assert res.steps[0].source == "app/templates/configmap-shop-config.yaml"
    post = plan.phase(PhaseKind.POST_HOOKS)
    assert post is not None and [s.name for s in post.steps] == ["shop-smoke"]
    assert post.steps[0].deleted_on_failure
    assert [s.subject for s in plan.phases[0].waited] == ["Job/shop-migrate"]


def test_install_and_rollback_plans_use_their_events() -> None:
    hooks = [hook("pre-i", events=["pre-install"]), hook("post-i", events=["post-install"]),
             hook("pre-r", events=["pre-rollback"]), hook("pre-u", events=["pre-upgrade"])]
    install = plan_operation(_release(1, "pending-install", "Initial install underway", hooks=hooks))
    assert install.operation is Operation.INSTALL
    assert [(p.name, [s.name for s in p.steps]) for p in install.phases] == [
        ("pre-install hooks", ["pre-i"]), ("resources", []), ("post-install hooks", ["post-i"])]
    rollback = plan_operation(_release(5, "pending-rollback", "Rollback to 3", hooks=hooks))
    assert rollback.operation is Operation.ROLLBACK
    assert [p.name for p in rollback.phases] == ["pre-rollback hooks", "resources"]


def test_no_hooks_plan() -> None:
    rel = _release(2, hooks=[hook("m")], manifest_objects=[deployment("web")])
    plan = plan_operation(rel, Operation.UPGRADE, no_hooks=True)
    assert plan.no_hooks and [p.kind for p in plan.phases] == [PhaseKind.RESOURCES]
    assert [s.subject for s in plan.steps] == ["Deployment/web"]


def test_pod_hook_waited_other_kinds_not() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    rel = _release(hooks=[hook("p", kind="Pod", manifest=pod), hook("s", kind="Secret", manifest=secret)])
    steps = plan_operation(rel, Operation.UPGRADE).phases[0].steps
    assert [(s.subject, s.wait) for s in steps] == [("Pod/p", True), ("Secret/s", False)]


def test_crd_hook_is_never_deleted() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"}}
    rel = _release(hooks=[hook("widgets.example.com", kind="CustomResourceDefinition", manifest=crd,
                               delete_policies=["hook-succeeded"])])
    [step] = plan_operation(rel, Operation.UPGRADE).phases[0].steps
    assert not step.deleted_on_success and not step.wait


@pytest.mark.parametrize(
    ("obj", "wait"),
    [
        ({"apiVersion": "apps/v1", "kind": "StatefulSet"}, True),
        ({"apiVersion": "apps/v1", "kind": "DaemonSet"}, True),
        ({"apiVersion": "apps/v1", "kind": "ReplicaSet"}, True),
        ({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}, True),
        ({"apiVersion": "v1", "kind": "Service", "spec": {"type": "NodePort"}}, False),
        ({"apiVersion": "v1", "kind": "ServiceAccount"}, False),
        ({"apiVersion": "v1", "kind": "Secret"}, False),
        ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding"}, False),
        ({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}, False),
        ({"apiVersion": "batch/v1", "kind": "CronJob"}, False),
        ({"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}, True),
    ],
)
def test_resource_needs_wait(obj: dict, wait: bool) -> None:
    assert resource_needs_wait(obj) is wait


def test_captured_helm_descriptions_detect_operations() -> None:
    import json
    from pathlib import Path

    from bot.core.releases import decode_release_secret

    fixtures = Path(__file__).parent / "fixtures"
    ops = []
    for name in ("plain", "shop"):
        for s in json.loads((fixtures / f"helm4_{name}_secrets.json").read_text()):
            ops.append(detect_operation(decode_release_secret(s)))
    assert ops == [Operation.INSTALL, Operation.UPGRADE, Operation.ROLLBACK] * 2
