"""Deploy plans and rollback preflights over real-shaped inputs: helm v4 release Secrets captured from the
stand-in, `helm template` output of the example charts (tests/core/fixtures/capture_plans.py) and release
JSON built like helm writes it (tests/core/release_fixtures.py). Each hazard test names the Helm code the
rule comes from."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.hazards import Hazard, find_hazards
from bot.core.planning import Operation
from bot.core.plans import (
    DeployPlan,
    PlanError,
    base_release,
    default_rollback_target,
    diff_values,
    helm_hook_order,
    plan_deploy,
    plan_lines,
    plan_rollback,
    preflight_lines,
    shown_by_patterns,
)
from bot.core.releases import Release, decode_release_json, decode_release_secret
from bot.core.rendered import RenderedChart, go_atoi
from tests.core.release_fixtures import T0, configmap, deployment, hook, job, release_json, render_manifest

FIXTURES = Path(__file__).parent / "fixtures"
FIVE_MINUTES = timedelta(minutes=5)
SHOW_NOTHING = shown_by_patterns(())


def secrets(name: str) -> list[Release]:
    return [
        decode_release_secret(s) for s in json.loads((FIXTURES / f"helm4_{name}_secrets.json").read_text())
    ]


def template(name: str, namespace: str) -> RenderedChart:
    return RenderedChart.from_template(
        (FIXTURES / f"helm4_template_{name}.yaml").read_text(), namespace=namespace
    )


def annotated(obj: dict[str, Any], **notes: str) -> dict[str, Any]:
    """obj with annotations given as python names: hook="pre-upgrade", hook_weight="5", ..."""
    md = obj.setdefault("metadata", {})
    md.setdefault("annotations", {}).update({f"helm.sh/{k.replace('_', '-')}": v for k, v in notes.items()})
    return obj


def chart(*objects: Mapping[str, Any], namespace: str = "default", name: str = "app") -> RenderedChart:
    return RenderedChart.from_template(render_manifest(objects, name), namespace=namespace)


def current(
    *objects: Mapping[str, Any],
    hooks: Sequence[Mapping[str, Any]] = (),
    revision: int = 3,
    apply_method: str = "ssa",
    **kw: Any,
) -> Release:
    doc = release_json("app", revision, manifest_objects=objects, hooks=hooks, **kw)
    doc["apply_method"] = apply_method
    return decode_release_json(doc)


def upgrade(
    cur: Release | None, new: RenderedChart, *, helm_timeout: timedelta = FIVE_MINUTES, install: bool = True
) -> DeployPlan:
    return plan_deploy(
        cur,
        new,
        chart_version_to="0.2.0",
        app_version_to="1.1.0",
        values_from={},
        values_to={},
        shown_keys=SHOW_NOTHING,
        helm_timeout=helm_timeout,
        install=install,
        release="app",
        namespace="default",
    )


def codes(hazards: Sequence[Hazard]) -> list[tuple[str, str, str]]:
    return [(h.code, h.severity, h.subject) for h in hazards]


def mounting(name: str, cm: str) -> dict[str, Any]:
    d = deployment(name)
    spec = d["spec"]["template"]["spec"]
    spec["volumes"] = [{"name": "config", "configMap": {"name": cm}}]
    spec["containers"][0]["envFrom"] = [{"secretRef": {"name": f"{name}-env", "optional": True}}]
    return d


# ---------------------------------------------------------------------------------------------------------
# RenderedChart: Helm's manifest sorter


def test_rendered_shop_chart_splits_resources_and_hooks() -> None:
    rendered = template("shop_install", "shop-upgrade")
    assert [(o["kind"], o["metadata"]["name"]) for o in rendered.resources] == [
        ("ConfigMap", "shop-config"),
        ("Service", "shop-web"),
        ("Deployment", "shop-web"),
    ]
    assert {(h.kind, h.name, h.events, h.weight) for h in rendered.hooks} == {
        ("PersistentVolumeClaim", "shop-backup", ("pre-upgrade",), 0),
        ("Job", "shop-backup", ("pre-upgrade",), 1),
        ("Job", "shop-migrate", ("pre-install", "pre-upgrade"), 5),
        ("Job", "shop-restore", ("pre-rollback",), 0),
    }
    assert (rendered.chart_name, rendered.chart_version) == ("shop", "1.0.0")
    assert all(h.namespace == "shop-upgrade" for h in rendered.hooks)
    assert rendered.resource_sources[0] == "shop/templates/configmap.yaml"


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("5", 5),
        ("-5", -5),
        ("+3", 3),
        ("007", 7),
        (" 5", None),
        ("5 ", None),
        ("1.5", None),
        ("five", None),
        ("", None),
        ("\uff19", None),
    ],
    ids=[
        "int",
        "negative",
        "plus-sign",
        "leading-zeros",
        "leading-space",
        "trailing-space",
        "decimal",
        "word",
        "empty",
        "non-ascii-digit",
    ],
)
def test_weight_is_go_atoi_and_zero_when_it_fails(text: str, weight: int | None) -> None:
    """pkg/release/v1/util/manifest_sorter.go calculateHookWeight: strconv.Atoi, 0 on error."""
    assert go_atoi(text) == weight
    rendered = chart(annotated(configmap("c"), hook="pre-install", hook_weight=text))
    assert rendered.hooks[0].weight == (weight or 0)


@pytest.mark.parametrize(
    ("notes", "events", "policies"),
    [
        ({"hook": "pre-install"}, ("pre-install",), ("before-hook-creation",)),
        ({"hook": " pre-upgrade , POST-INSTALL"}, ("pre-upgrade", "post-install"), ("before-hook-creation",)),
        ({"hook": "test-success"}, ("test",), ("before-hook-creation",)),
        (
            {"hook": "pre-install", "hook_delete_policy": " Hook-Succeeded ,hook-failed"},
            ("pre-install",),
            ("hook-succeeded", "hook-failed"),
        ),
        ({"hook": "pre-install", "hook_delete_policy": ""}, ("pre-install",), ("",)),
    ],
    ids=[
        "default-policy",
        "trimmed-lowercased",
        "helm2-test-success",
        "policies-trimmed",
        "empty-policy-no-default",
    ],
)
def test_hook_events_and_delete_policies_as_helm_reads_them(
    notes: dict[str, str], events: tuple[str, ...], policies: tuple[str, ...]
) -> None:
    """manifest_sorter.go splits on ',' and trims/lower-cases; hooks.go hookSetDeletePolicy applies the
    before-hook-creation default only when there is no policy at all (an empty annotation is one policy)."""
    h = chart(annotated(configmap("c"), **notes)).hooks[0]
    assert (h.events, h.delete_policies) == (events, policies)


def test_unknown_hook_event_drops_the_document_like_helm() -> None:
    """manifest_sorter.go: one unknown event ("skipping unknown hooks") and the document is neither a hook
    nor a resource."""
    rendered = chart(annotated(configmap("typo"), hook="pre-ugprade"), configmap("kept"))
    assert [o["metadata"]["name"] for o in rendered.resources] == ["kept"]
    assert rendered.hooks == ()
    assert rendered.problems == (
        "app/templates/configmap-typo.yaml: ConfigMap/typo names an unknown hook event; Helm drops it",
    )


# ---------------------------------------------------------------------------------------------------------
# hook order, install vs upgrade


def test_shop_upgrade_plan_lists_pre_upgrade_hooks_in_helm_order() -> None:
    shop = secrets("shop_upgrade")[-1]
    plan = upgrade(shop, template("shop_upgrade", "shop-upgrade"))
    assert plan.operation is Operation.UPGRADE
    assert [(s.event, s.position, s.subject, s.weight) for s in plan.hooks] == [
        ("pre-upgrade", 1, "PersistentVolumeClaim/shop-backup", 0),
        ("pre-upgrade", 2, "Job/shop-backup", 1),
        ("pre-upgrade", 3, "Job/shop-migrate", 5),
    ]
    assert plan.hooks[1].note == "replaces the previous run's Job"
    assert plan.hooks[0].note == ""  # only Jobs and Pods leave logs behind
    changed = [(r.subject, r.change) for r in plan.resources]
    assert changed == [
        ("ConfigMap/shop-config", "unchanged"),
        ("Service/shop-web", "unchanged"),
        ("Deployment/shop-web", "changed"),
    ]
    assert plan.hazards == ()


def test_install_runs_install_hooks_only() -> None:
    """`helm upgrade --install` of a release that does not exist installs (pkg/cmd/upgrade.go): pre-install
    hooks run, pre-upgrade ones do not."""
    plan = upgrade(None, template("shop_install", "shop-upgrade"))
    assert plan.operation is Operation.INSTALL
    assert [(s.event, s.subject) for s in plan.hooks] == [("pre-install", "Job/shop-migrate")]
    assert plan.revision_from is None and plan.chart_version_from is None
    assert {r.change for r in plan.resources} == {"added"}


def test_uninstalled_release_is_installed_again() -> None:
    """pkg/cmd/upgrade.go: --install also installs when the newest revision is uninstalled."""
    gone = current(configmap("c"), status="uninstalled")
    assert upgrade(gone, chart(configmap("c"))).operation is Operation.INSTALL


def test_upgrade_without_install_of_missing_release_is_refused() -> None:
    with pytest.raises(PlanError, match="release app does not exist: it can only be installed"):
        upgrade(None, chart(configmap("c")), install=False)


def test_pending_release_is_refused() -> None:
    """pkg/action/upgrade.go prepareUpgrade: errPending while another operation is in progress."""
    with pytest.raises(PlanError, match=r"operation in progress \(revision 3 is pending-upgrade"):
        upgrade(current(configmap("c"), status="pending-upgrade"), chart(configmap("c")))


def test_hook_order_is_weight_then_name_then_kind() -> None:
    """pkg/action/hooks.go hookByWeight sorts by weight, then name; the kind order of
    kind_sorter.go only survives (stable sort) between hooks of the same name."""
    rendered = chart(
        annotated(configmap("zz-config"), hook="pre-upgrade"),
        annotated(job("aa-job"), hook="pre-upgrade"),
        annotated(job("same"), hook="pre-upgrade"),
        annotated(configmap("same"), hook="pre-upgrade"),
        annotated(job("early"), hook="pre-upgrade", hook_weight="-1"),
    )
    assert [f"{h.kind}/{h.name}" for h in helm_hook_order(rendered.hooks)] == [
        "Job/early",
        "Job/aa-job",
        "ConfigMap/same",
        "Job/same",
        "ConfigMap/zz-config",
    ]


def test_post_hooks_follow_pre_hooks() -> None:
    rendered = chart(
        annotated(job("after"), hook="post-upgrade"),
        annotated(job("before"), hook="pre-upgrade", hook_weight="9"),
    )
    plan = upgrade(current(), rendered)
    assert [(s.event, s.subject) for s in plan.hooks] == [
        ("pre-upgrade", "Job/before"),
        ("post-upgrade", "Job/after"),
    ]


def test_base_release_is_what_helm_upgrades_from() -> None:
    """prepareUpgrade: the newest when deployed, else the last deployed, else the newest failed."""
    rels = secrets("shop")  # 1 superseded, 2 failed, 3 deployed (rollback to 1)
    assert base_release(rels).revision == 3
    assert base_release(rels[:2]).revision == 2  # nothing deployed: the newest failed one
    deployed_then_failed = [current(revision=1, status="deployed"), current(revision=2, status="failed")]
    assert base_release(deployed_then_failed).revision == 1
    assert base_release([current(revision=4, status="uninstalled")]) is None
    assert base_release([]) is None


# ---------------------------------------------------------------------------------------------------------
# values


def test_values_diff_shows_allowed_keys_and_hides_the_rest() -> None:
    before = {
        "image": {"tag": "2.3", "repository": "shop"},
        "db": {"password": "hunter2"},
        "replicas": 2,
        "old": {"token": "s3cret-old"},
    }
    after = {
        "image": {"tag": "2.4", "repository": "shop"},
        "db": {"password": "correct-horse"},
        "replicas": 3,
        "extra": {"apiKey": "s3cret-new"},
    }
    changes = diff_values(before, after, shown_by_patterns(["image", "replicas"]))
    assert [c.text for c in changes] == [
        "db.password: changed (value hidden)",
        "extra.apiKey: added (value hidden)",
        'image.tag: "2.3" → "2.4"',
        "old.token: removed (value hidden)",
        "replicas: 2 → 3",
    ]
    hidden = [c for c in changes if c.hidden]
    assert all(c.before is None and c.after is None for c in hidden)
    plan = plan_deploy(
        current(),
        chart(configmap("c")),
        chart_version_to="1",
        app_version_to="1",
        values_from=before,
        values_to=after,
        shown_keys=shown_by_patterns(["image"]),
        helm_timeout=FIVE_MINUTES,
        install=True,
    )
    shown = "\n".join(plan_lines(plan)) + repr(plan)
    for secret in ("hunter2", "correct-horse", "s3cret-old", "s3cret-new"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("patterns", "key", "shown"),
    [
        (["image"], "image.tag", True),
        (["image"], "image", True),
        (["image"], "imagePullSecrets", False),
        (["*.image.tag"], "web.image.tag", True),
        (["*.image.tag"], "web.image.digest", False),
        (["web"], "web.labels.app\\.kubernetes\\.io/name", True),
        ([], "image.tag", False),
    ],
    ids=["child", "itself", "not-a-prefix-match", "glob", "glob-sibling", "escaped-dots", "nothing-allowed"],
)
def test_shown_by_patterns(patterns: list[str], key: str, shown: bool) -> None:
    assert shown_by_patterns(patterns)(key) is shown


def test_values_diff_nested_keys_and_type_changes() -> None:
    changes = diff_values(
        {"a": {"b": 1}, "same": [1, 2], "x.y": {"z": True}},
        {"a": "flat", "same": [1, 2], "x.y": {"z": False}, "e": {}},
        shown_by_patterns(["*"]),
    )
    assert [c.text for c in changes] == [
        'a: added "flat"',
        "a.b: removed (was 1)",
        "e: added {}",
        "x\\.y.z: true → false",
    ]
    assert diff_values(None, {}, SHOW_NOTHING) == ()


# ---------------------------------------------------------------------------------------------------------
# hazards


def test_hazard_chart_v1_to_v2_resource_becomes_hook() -> None:
    """The real hazard chart: v2 turns hazard-config into a pre-upgrade hook. pkg/kube/client.go update()
    deletes originals.Difference(targets), and hooks are not in the manifest: the hook re-creates the
    ConfigMap, then the upgrade deletes it."""
    (v1,) = secrets("hazard")
    plan = plan_deploy(
        v1,
        template("hazard_v2_upgrade", "hazard"),
        chart_version_to="2.0.0",
        app_version_to="2.0.0",
        values_from={},
        values_to={},
        shown_keys=SHOW_NOTHING,
        helm_timeout=FIVE_MINUTES,
        install=True,
    )
    assert codes(plan.hazards) == [("resource-becomes-hook", "danger", "ConfigMap/hazard-config")]
    message = plan.hazards[0].message
    assert (
        "the pre-upgrade hook re-creates it (delete policy before-hook-creation), then the upgrade deletes it"
        in message
    )
    assert 'Deployment/hazard (volume "config") needs it: its new pods cannot start (FailedMount)' in message
    assert "remove its helm.sh/hook annotations" in plan.hazards[0].fix
    assert [(r.subject, r.change, r.note) for r in plan.resources if r.change == "removed"] == [
        ("ConfigMap/hazard-config", "removed", "now a pre-upgrade hook")
    ]
    # v1 to v1 again: nothing to report
    assert upgrade(v1, template("hazard_v1", "hazard")).hazards == ()


@pytest.mark.parametrize(
    ("notes", "apply_method", "expected"),
    [
        (
            {"hook_delete_policy": "hook-succeeded"},
            "ssa",
            "Helm deletes it as soon as the pre-upgrade hooks succeed",
        ),
        (
            {"hook_delete_policy": "hook-failed"},
            "csa",
            'creating the pre-upgrade hook fails (ConfigMap "cfg" already exists',
        ),
        ({"hook_delete_policy": "hook-failed"}, "ssa", "then the upgrade deletes it"),
        ({"hook": "post-upgrade"}, "ssa", "creates it again only after the resources are applied"),
        (
            {"hook": "pre-install"},
            "ssa",
            "no hook re-creates it during an upgrade (it is a pre-install hook)",
        ),
    ],
    ids=[
        "hook-succeeded",
        "client-side-no-bhc-already-exists",
        "server-side-no-bhc-pruned",
        "post-upgrade",
        "not-an-upgrade-hook",
    ],
)
def test_resource_becomes_hook_variants(notes: dict[str, str], apply_method: str, expected: str) -> None:
    """pkg/action/hooks.go (policies, Create) and pkg/kube/client.go update() (the prune)."""
    cur = current(configmap("cfg"), mounting("web", "cfg"), apply_method=apply_method)
    new = chart(annotated(configmap("cfg"), **{"hook": "pre-upgrade", **notes}), mounting("web", "cfg"))
    (hazard,) = find_hazards(Operation.UPGRADE, cur, new, helm_timeout=FIVE_MINUTES)
    assert (hazard.code, hazard.severity) == ("resource-becomes-hook", "danger")
    assert expected in hazard.message
    assert 'Deployment/web (volume "config") needs it' in hazard.message


def test_resource_becomes_hook_with_keep_is_not_pruned() -> None:
    """client.go update() reads helm.sh/resource-policy from the live object, which the hook just wrote."""
    cur = current(configmap("cfg"))
    new = chart(annotated(configmap("cfg"), hook="pre-upgrade", resource_policy="keep"))
    assert find_hazards(Operation.UPGRADE, cur, new) == []


def _left_hook(
    name: str = "migrate",
    *,
    phase: str = "Failed",
    policies: Sequence[str] = ("hook-succeeded",),
    command: Sequence[str] = ("migrate",),
    took: timedelta = timedelta(seconds=3),
) -> dict[str, Any]:
    notes = {"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": ",".join(policies)}
    return hook(
        name,
        phase=phase,
        delete_policies=policies,
        started_at=T0,
        completed_at=T0 + took,
        manifest=job(name, command=command, annotations=notes),
    )


def _new_hook(
    name: str = "migrate",
    *,
    policies: str = "hook-succeeded",
    command: Sequence[str] = ("migrate",),
    **notes: str,
) -> dict[str, Any]:
    return annotated(job(name, command=command), hook="pre-upgrade", hook_delete_policy=policies, **notes)


@pytest.mark.parametrize(
    ("record", "new", "apply_method", "severity", "expected"),
    [
        (_left_hook(), _new_hook(), "csa", "danger", 'fails at once: jobs.batch "migrate" already exists'),
        (_left_hook(), _new_hook(command=("migrate", "--v2")), "ssa", "danger", "field is immutable"),
        (_left_hook(), _new_hook(), "ssa", "danger", "the old failure fails this one at once"),
        (
            _left_hook(phase="Succeeded", policies=("hook-failed",)),
            _new_hook(policies="hook-failed"),
            "ssa",
            "danger",
            "it does not run again",
        ),
        (None, _new_hook(), "ssa", "warning", "a failed or interrupted run leaves the Job behind"),
    ],
    ids=[
        "failed-kept-client-side",
        "failed-kept-template-changed",
        "failed-kept-same-template",
        "succeeded-kept",
        "latent",
    ],
)
def test_hook_job_name_repeats(
    record: dict[str, Any] | None, new: dict[str, Any], apply_method: str, severity: str, expected: str
) -> None:
    """hooks.go: only before-hook-creation deletes the previous hook object before Create; client-side
    create fails "already exists", Helm 4's server-side apply patches the old Job (immutable template)."""
    cur = current(hooks=[record] if record else [], apply_method=apply_method)
    (hazard,) = find_hazards(Operation.UPGRADE, cur, chart(new))
    assert (hazard.code, hazard.severity, hazard.subject) == (
        "hook-job-name-repeats",
        severity,
        "Job/migrate",
    )
    assert expected in hazard.message
    assert "before-hook-creation" in hazard.fix


@pytest.mark.parametrize(
    "policies", ["before-hook-creation", "before-hook-creation,hook-succeeded"], ids=["default", "explicit"]
)
def test_hook_job_name_repeats_not_with_before_hook_creation(policies: str) -> None:
    cur = current(hooks=[_left_hook(policies=tuple(policies.split(",")))], apply_method="csa")
    assert find_hazards(Operation.UPGRADE, cur, chart(_new_hook(policies=policies))) == []


def test_hook_job_that_does_not_run_in_this_operation_is_not_a_hazard() -> None:
    new = annotated(job("seed"), hook="post-install", hook_delete_policy="hook-succeeded")
    assert find_hazards(Operation.UPGRADE, current(), chart(new)) == []


def test_job_template_changes() -> None:
    """A Job's spec.template is immutable; Helm updates release resources in place (client.go update)."""
    cur = current(job("shop-migrate", image="migrate:1"), job("same", image="x:1"))
    new = chart(job("shop-migrate", image="migrate:2"), job("same", image="x:1"))
    (hazard,) = find_hazards(Operation.UPGRADE, cur, new)
    assert codes([hazard]) == [("job-template-changes", "danger", "Job/shop-migrate")]
    assert "field is immutable" in hazard.message
    assert "shop-migrate-r{{ .Release.Revision }}" in hazard.fix


def test_job_with_revision_in_its_name_is_replaced_not_changed() -> None:
    cur = current(job("shop-migrate-r3", image="migrate:1"))
    plan = upgrade(cur, chart(job("shop-migrate-r4", image="migrate:2")))
    assert plan.hazards == ()  # a finished Job of an earlier revision going away is the point
    assert [(r.subject, r.change) for r in plan.resources] == [
        ("Job/shop-migrate-r3", "removed"),
        ("Job/shop-migrate-r4", "added"),
    ]


@pytest.mark.parametrize(
    ("took", "timeout", "severity", "expected"),
    [
        (
            timedelta(minutes=4, seconds=12),
            FIVE_MINUTES,
            "warning",
            "last run took 4m12s; helm_timeout is 5m",
        ),
        (timedelta(minutes=5, seconds=30), timedelta(minutes=10), "warning", "last run took 5m30s"),
        (timedelta(minutes=6), FIVE_MINUTES, "danger", "last run took 6m; helm_timeout is 5m"),
    ],
    ids=["over-half", "over-half-of-10m", "over-the-timeout"],
)
def test_hook_near_timeout_from_helms_record(
    took: timedelta, timeout: timedelta, severity: str, expected: str
) -> None:
    """hooks.go: WatchUntilReady(resources, timeout) — each hook gets --timeout."""
    record = _left_hook(phase="Succeeded", policies=("before-hook-creation",), took=took)
    cur = current(hooks=[record])
    (hazard,) = find_hazards(
        Operation.UPGRADE, cur, chart(_new_hook(policies="before-hook-creation")), helm_timeout=timeout
    )
    assert (hazard.code, hazard.severity) == ("hook-near-timeout", severity)
    assert expected in hazard.message
    assert hazard.fix.startswith("Raise helm_timeout for this release")


def test_hook_near_timeout_not_when_fast_or_unknown_timeout() -> None:
    record = _left_hook(phase="Succeeded", policies=("before-hook-creation",), took=timedelta(seconds=2))
    new = chart(_new_hook(policies="before-hook-creation"))
    assert find_hazards(Operation.UPGRADE, current(hooks=[record]), new, helm_timeout=FIVE_MINUTES) == []
    slow = _left_hook(phase="Succeeded", policies=("before-hook-creation",), took=timedelta(minutes=4))
    assert find_hazards(Operation.UPGRADE, current(hooks=[slow]), new, helm_timeout=None) == []


def test_hook_near_timeout_active_deadline() -> None:
    new = _new_hook(policies="before-hook-creation")
    new["spec"]["activeDeadlineSeconds"] = 900
    (hazard,) = find_hazards(Operation.UPGRADE, current(), chart(new), helm_timeout=FIVE_MINUTES)
    assert "activeDeadlineSeconds is 900 (15m); helm_timeout is 5m" in hazard.message


@pytest.mark.parametrize(
    ("container", "timeout", "found"),
    [
        (
            {"name": "wait", "image": "ghcr.io/groundnuty/k8s-wait-for:v2.0", "args": ["pod", "-lapp=db"]},
            FIVE_MINUTES,
            True,
        ),
        ({"name": "gate", "image": "shop-web:1", "args": ["wait-safe-to-upgrade"]}, FIVE_MINUTES, True),
        (
            {
                "name": "poll",
                "image": "busybox",
                "command": ["sh", "-c", "until nslookup db; do sleep 2; done"],
            },
            FIVE_MINUTES,
            True,
        ),
        (
            {"name": "gate", "image": "shop-web:1", "args": ["wait-safe-to-upgrade"]},
            timedelta(minutes=15),
            False,
        ),
        (
            {"name": "migrate", "image": "shop-migrate:1", "args": ["migrate", "--noinput"]},
            FIVE_MINUTES,
            False,
        ),
    ],
    ids=["k8s-wait-for", "wait-command", "until-loop", "long-timeout", "not-waiting"],
)
def test_hook_near_timeout_for_waiting_hooks(
    container: dict[str, Any], timeout: timedelta, found: bool
) -> None:
    new = _new_hook(policies="before-hook-creation")
    new["spec"]["template"]["spec"]["containers"] = [container]
    hazards = find_hazards(Operation.UPGRADE, current(), chart(new), helm_timeout=timeout)
    assert codes(hazards) == ([("hook-near-timeout", "warning", "Job/migrate")] if found else [])
    if found:
        assert f"container {container['name']} waits for something else" in hazards[0].message


@pytest.mark.parametrize(("event", "found"), [("pre-upgrade", True), ("post-upgrade", False)])
def test_pre_hook_waiting_for_a_release_job_never_finishes(event: str, found: bool) -> None:
    """upgrade.go releasingUpgrade: pre-upgrade hooks run before KubeClient.Update creates any resource."""
    gate = annotated(job("gate"), hook=event)
    gate["spec"]["template"]["spec"]["initContainers"] = [
        {"name": "wait", "image": "groundnuty/k8s-wait-for:v2.0", "args": ["job-wr", "app-migrate-job"]}
    ]
    new = chart(gate, job("app-migrate-job"))
    hazards = [
        h
        for h in find_hazards(Operation.UPGRADE, current(), new, helm_timeout=timedelta(minutes=30))
        if h.code == "hook-waits-for-release"
    ]
    assert codes(hazards) == ([("hook-waits-for-release", "danger", "Job/gate")] if found else [])
    if found:
        assert "waits for Job/app-migrate-job, which is a release resource" in hazards[0].message
        assert "fails after helm_timeout (30m)" in hazards[0].message


@pytest.mark.parametrize(
    ("weight", "found"),
    [(" 5", True), ("1.5", True), ("5", False), ("-10", False)],
    ids=["space", "decimal", "int", "negative"],
)
def test_hook_weight_not_integer(weight: str, found: bool) -> None:
    new = chart(annotated(configmap("c"), hook="pre-upgrade", hook_weight=weight))
    hazards = find_hazards(Operation.UPGRADE, current(), new)
    assert codes(hazards) == ([("hook-weight-not-integer", "warning", "ConfigMap/c")] if found else [])
    if found:
        assert f"helm.sh/hook-weight {weight!r}, which is not an integer" in hazards[0].message


def _crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}},
    }


def test_crd_in_templates_but_not_in_crds_dir() -> None:
    """Helm installs crds/ once and never upgrades or deletes it; a CRD in templates/ is an ordinary
    resource (and takes every custom resource with it when deleted)."""
    in_templates = chart(_crd())
    (hazard,) = find_hazards(Operation.INSTALL, None, in_templates)
    assert codes([hazard]) == [
        ("crd-in-templates", "warning", "CustomResourceDefinition/widgets.example.com")
    ]
    assert "deleted with every Widget object" in hazard.message
    from_crds = RenderedChart.from_template(
        render_manifest([_crd()]).replace("app/templates/", "app/crds/"), namespace="default"
    )
    assert find_hazards(Operation.INSTALL, None, from_crds) == []


@pytest.mark.parametrize(
    ("obj", "severity", "expected"),
    [
        (deployment("old-worker"), "warning", "Helm deletes it during the upgrade."),
        (
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}},
            "danger",
            "and the volume's data with it",
        ),
        (_crd(), "danger", "and every Widget object in the cluster with it"),
    ],
    ids=["deployment", "pvc", "crd"],
)
def test_resource_removed(obj: dict[str, Any], severity: str, expected: str) -> None:
    """client.go update(): originals.Difference(targets) is deleted."""
    (hazard,) = find_hazards(Operation.UPGRADE, current(obj, configmap("c")), chart(configmap("c")))
    assert (hazard.code, hazard.severity) == ("resource-removed", severity)
    assert expected in hazard.message
    assert "helm.sh/resource-policy=keep" in hazard.fix


def test_resource_removed_not_when_kept() -> None:
    kept = annotated(deployment("old"), resource_policy="keep")
    assert find_hazards(Operation.UPGRADE, current(kept), chart(configmap("c"))) == []
    plan = upgrade(current(kept), chart(configmap("c")))
    assert [r.note for r in plan.resources if r.change == "removed"] == [
        "kept in the cluster (helm.sh/resource-policy: keep), no longer managed"
    ]


@pytest.mark.parametrize(
    ("phase", "policies", "found"),
    [
        ("Succeeded", ("before-hook-creation",), True),
        ("Failed", ("hook-succeeded",), True),
        ("Succeeded", ("hook-succeeded",), False),
        ("", ("before-hook-creation",), False),
    ],
    ids=["kept-after-success", "kept-after-failure", "deleted-on-success", "never-ran"],
)
def test_hook_becomes_resource(phase: str, policies: tuple[str, ...], found: bool) -> None:
    """validate.go existingResourceConflict: an existing object without meta.helm.sh/release-name fails
    "exists and cannot be imported into the current release"; hook objects never get that annotation."""
    record = hook(
        "cfg",
        kind="ConfigMap",
        phase=phase,
        delete_policies=policies,
        started_at=T0 if phase else None,
        completed_at=T0 + timedelta(seconds=1) if phase else None,
    )
    hazards = find_hazards(Operation.UPGRADE, current(hooks=[record]), chart(configmap("cfg")))
    assert codes(hazards) == ([("hook-becomes-resource", "danger", "ConfigMap/cfg")] if found else [])
    if found:
        assert "cannot be imported into the current release: invalid ownership metadata" in hazards[0].message
        assert "kubectl delete configmap cfg -n default" in hazards[0].fix


def test_dangers_come_first() -> None:
    cur = current(configmap("cfg"), deployment("old"))
    new = chart(
        annotated(configmap("cfg"), hook="pre-upgrade"),
        annotated(job("j"), hook="pre-upgrade", hook_weight="x"),
    )
    plan = upgrade(cur, new)
    assert [h.severity for h in plan.hazards] == ["danger", "warning", "warning"]
    assert plan.dangers == plan.hazards[:1]


# ---------------------------------------------------------------------------------------------------------
# rollback


def test_rollback_preflight_from_failed_upgrade_to_last_good() -> None:
    """The captured history: install (1), failed upgrade (2). Rolling back runs revision 1's pre-rollback
    restore Job (rollback.go copies the target's Hooks)."""
    rev1, rev2 = secrets("shop")[:2]
    pre = plan_rollback(
        rev2,
        rev1,
        values_from={"web": {"replicas": 1}, "migration": {"fail": True}},
        values_to={"web": {"replicas": 1}},
        shown_keys=shown_by_patterns(["web"]),
    )
    assert (pre.revision_from, pre.target_revision, pre.target_status.value, pre.target_description) == (
        2,
        1,
        "superseded",
        "Install complete",
    )
    assert [(s.event, s.subject, s.note) for s in pre.hooks] == [
        ("pre-rollback", "Job/shop-restore", "replaces the previous run's Job")
    ]
    assert [v.text for v in pre.values] == ["migration.fail: removed (value hidden)"]
    assert pre.hazards == ()
    lines = preflight_lines(pre)
    assert lines[0] == "rollback shop/shop from revision 2 to revision 1, superseded (Install complete)"
    assert lines[1] == "chart shop 1.0.0, app 1.0.0"
    assert (
        "pre-rollback hooks:" in lines
        and "  1. Job/shop-restore (weight 0, delete: before-hook-creation) — replaces the previous run's Job"
        in lines
    )
    assert all("\n" not in line for line in lines)


def test_rollback_preflight_notes_hooks_that_erase_evidence() -> None:
    restore = hook("db-restore", events=("pre-rollback",), delete_policies=("hook-succeeded", "hook-failed"))
    target = current(configmap("c"), hooks=[restore], revision=2, chart_version="0.1.0")
    cur = current(configmap("c"), revision=3, chart_version="0.2.0")
    pre = plan_rollback(cur, target, values_from=None, values_to={}, shown_keys=SHOW_NOTHING)
    assert (
        pre.hooks[0].note == "deleted as soon as it succeeds, logs included; deleted when it fails: its logs "
        "are lost"
    )
    assert "chart app 0.2.0 → 0.1.0, app 1.0.0" in preflight_lines(pre)


def test_rollback_to_another_release_is_refused() -> None:
    other = decode_release_json(release_json("other", 1))
    with pytest.raises(PlanError, match="revision 1 belongs to default/other, not default/app"):
        plan_rollback(current(), other, values_from=None, values_to={}, shown_keys=SHOW_NOTHING)


def test_rollback_finds_manifest_hazards_too() -> None:
    target = current(job("migrate", image="m:1"), revision=1)
    cur = current(job("migrate", image="m:2"), revision=2)
    pre = plan_rollback(cur, target, values_from=None, values_to={}, shown_keys=SHOW_NOTHING)
    assert codes(pre.hazards) == [("job-template-changes", "danger", "Job/migrate")]
    assert "so the rollback fails" in pre.hazards[0].message


def _history(*entries: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"revision": i, "status": s, "description": d} for i, (s, d) in enumerate(entries, 1)]


@pytest.mark.parametrize(
    ("history", "target"),
    [
        (_history(("superseded", "Install complete"), ("deployed", "Upgrade complete")), 1),
        (
            _history(
                ("superseded", "Install complete"),
                ("deployed", "Upgrade complete"),
                ("failed", 'Upgrade "shop" failed: pre-upgrade hooks failed'),
            ),
            2,
        ),
        (
            _history(
                ("superseded", "Install complete"),
                ("superseded", 'Upgrade "shop" failed: timed out'),
                ("deployed", "Upgrade complete"),
            ),
            1,
        ),
        (
            _history(
                ("superseded", "Install complete"),
                ("superseded", "Upgrade complete"),
                ("superseded", "Preparing upgrade"),
                ("pending-upgrade", "Preparing upgrade"),
            ),
            2,
        ),
        (
            _history(
                ("superseded", "Install complete"),
                ("pending-upgrade", "Preparing upgrade"),
                ("failed", 'Rollback "shop" failed: x'),
            ),
            1,
        ),
        (_history(("deployed", "Install complete")), None),
        (_history(("failed", 'Release "shop" failed: x'), ("failed", 'Upgrade "shop" failed: y')), None),
        ([], None),
    ],
    ids=[
        "previous",
        "skips-newest-failed",
        "skips-superseded-failure",
        "skips-interrupted",
        "skips-pending",
        "only-one",
        "nothing-good",
        "empty",
    ],
)
def test_default_rollback_target(history: list[dict[str, Any]], target: int | None) -> None:
    """Helm's own default is simply the previous revision (rollback.go: currentRelease.Version - 1), even
    a failed one; the bot offers the last good one. Failed rollbacks and upgrades can mark a failed
    revision "superseded": its description still says so."""
    assert default_rollback_target(history) == target


def test_default_rollback_target_over_real_releases() -> None:
    rels = secrets("shop")  # 1 superseded install, 2 failed upgrade, 3 rollback to 1
    assert default_rollback_target(rels) == 1
    assert default_rollback_target(rels[:2]) == 1


# ---------------------------------------------------------------------------------------------------------
# text


def test_plan_lines_one_line_each() -> None:
    (v1,) = secrets("hazard")
    plan = upgrade(v1, template("hazard_v2_upgrade", "hazard"))
    lines = plan_lines(plan)
    assert lines[0] == "upgrade hazard/hazard (revision 1 → 2): chart hazard 1.0.0 → 0.2.0, app 1.0.0 → 1.1.0"
    assert lines[1:9] == [
        "values:",
        "  (no changes)",
        "pre-upgrade hooks:",
        "  1. ConfigMap/hazard-config (weight 0, delete: before-hook-creation)",
        "resources: 0 added, 1 changed, 1 removed, 0 unchanged",
        "  changed: Deployment/hazard",
        "  removed: ConfigMap/hazard-config (now a pre-upgrade hook)",
        "post-upgrade hooks: none",
    ]
    assert lines[9] == "hazards: 1"
    assert lines[10].startswith("  DANGER resource-becomes-hook ConfigMap/hazard-config: ")
    assert lines[11].startswith("    fix: Keep ConfigMap/hazard-config a plain resource")
    assert all("\n" not in line for line in lines)


def test_default_rollback_target_skips_what_helmbot_judged_failed() -> None:
    """helm without --wait marks an upgrade deployed while its pods crash; superseded later, it looks good
    to Helm's history. helmbot's own verdict knows: such a revision is never offered as the way back."""
    history = _history(("superseded", "Install complete"), ("superseded", "Upgrade complete"),
                       ("superseded", "Upgrade complete"), ("deployed", "Rollback to 2"))
    assert default_rollback_target(history) == 3
    assert default_rollback_target(history, bad={3}) == 2
    assert default_rollback_target(history, bad={2, 3}) == 1
