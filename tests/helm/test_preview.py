"""The plan's helm calls with the real helm v4 against the Kubernetes stand-in, and the hazards proven real:
the plan says what will break, then the real upgrade breaks exactly that way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.planning import Operation
from bot.core.plans import plan_deploy, plan_lines, shown_by_patterns
from bot.core.releases import Release, pick_release
from bot.core.rendered import RenderedChart
from bot.helm.args import HelmArgsError, ValuesPolicy
from bot.helm.preview import ChartInfo, chart_info, get_values, get_values_argv, render_argv, render_chart
from bot.helm.runner import HelmError, HelmRunner
from tests.e2e.support import CHARTS, SHOP, install
from tests.polling import poll

pytestmark = pytest.mark.e2e

HAZARD_V1, HAZARD_V2 = str(CHARTS / "hazard" / "v1"), str(CHARTS / "hazard" / "v2")


@pytest.fixture
def runner(sim: Any) -> HelmRunner:
    return HelmRunner(
        sim._bins().helm, env=sim.env, inherit_env=False, policy=ValuesPolicy(keys=("web.*", "migration.*"))
    )


def stored(sim: Any, namespace: str, name: str) -> Release:
    release = pick_release(sim.store.list("/secrets", namespace), name=name)
    assert release is not None
    return release


def write_chart(root: Path, files: Mapping[str, str]) -> None:
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)


def plan(
    current: Release | None,
    text: str,
    namespace: str,
    *,
    values_from: Mapping[str, Any] | None = None,
    values_to: Mapping[str, Any] | None = None,
    info: ChartInfo | None = None,
) -> Any:
    rendered = RenderedChart.from_template(text, namespace=namespace)
    info = info or ChartInfo(rendered.chart_name, rendered.chart_version, "")
    return plan_deploy(
        current,
        rendered,
        chart_version_to=info.version,
        app_version_to=info.app_version,
        values_from=values_from,
        values_to=values_to or {},
        shown_keys=shown_by_patterns(["web"]),
        helm_timeout=timedelta(minutes=5),
        install=True,
        release="shop",
        namespace=namespace,
    )


def test_hazard_upgrade_planned_then_proven(sim: Any, namespace: str, runner: HelmRunner) -> None:
    sim.helm("install", "hazard", HAZARD_V1, "-n", namespace, "--wait", "--timeout", "60s")
    v1 = stored(sim, namespace, "hazard")
    text = render_chart(
        runner,
        "hazard",
        HAZARD_V2,
        namespace=namespace,
        version=None,
        set_values=None,
        values_files=(),
        is_upgrade=True,
    )
    info = chart_info(runner, HAZARD_V2)
    assert info == ChartInfo("hazard", "2.0.0", "2.0.0")
    p = plan(v1, text, namespace, info=info)
    assert p.operation is Operation.UPGRADE and (p.chart_version_from, p.chart_version_to) == (
        "1.0.0",
        "2.0.0",
    )
    assert plan_lines(p)[0] == (
        f"upgrade {namespace}/hazard (revision 1 → 2): chart hazard 1.0.0 → 2.0.0, app 1.0.0 → 2.0.0"
    )
    assert [(h.code, h.subject) for h in p.hazards] == [("resource-becomes-hook", "ConfigMap/hazard-config")]
    assert 'Deployment/hazard (volume "config") needs it' in p.hazards[0].message
    assert any(
        line.startswith("  DANGER resource-becomes-hook ConfigMap/hazard-config") for line in plan_lines(p)
    )

    # now run it: the hook re-creates the ConfigMap, the upgrade prunes it, the new pods cannot mount it
    sim.helm("upgrade", "hazard", HAZARD_V2, "-n", namespace)
    assert sim.store.get("/configmaps", namespace, "hazard-config") is None
    mount = poll(
        lambda: [
            e
            for e in sim.store.list("/events", namespace)
            if e["reason"] == "FailedMount" and 'configmap "hazard-config" not found' in e["message"]
        ],
        what="FailedMount of hazard-config",
    )
    assert mount[0]["involvedObject"]["name"].startswith("hazard-")

    # the plan of the next upgrade (v2 over v2) has nothing left to warn about: the hook re-creates it
    assert plan(stored(sim, namespace, "hazard"), text, namespace).hazards == ()


def test_shop_plan_hooks_in_order_and_values(sim: Any, namespace: str, runner: HelmRunner) -> None:
    install(sim, namespace, "web.replicas=1", "migration.durationSeconds=0.2")
    values = get_values(runner, "shop", namespace=namespace)
    # helm's --set parses integers and booleans; "0.2" stays a string
    assert values == {"web": {"replicas": 1}, "migration": {"durationSeconds": "0.2"}}
    assert get_values(runner, "shop", namespace=namespace, revision=1) == values
    assert get_values(runner, "shop", namespace=namespace, all_values=True)["backup"] == {
        "enabled": True,
        "durationSeconds": 0.5,
    }

    new_values = {
        "web": {"replicas": 1, "image": "ghcr.io/helmbot-example/shop-web:1.1.0"},
        "migration": {"durationSeconds": "0.2"},
    }
    text = render_chart(
        runner,
        "shop",
        SHOP,
        namespace=namespace,
        version=None,
        set_values={
            "web.replicas": "1",
            "web.image": new_values["web"]["image"],
            "migration.durationSeconds": "0.2",
        },
        values_files=(),
        is_upgrade=True,
    )
    p = plan(stored(sim, namespace, "shop"), text, namespace, values_from=values, values_to=new_values)
    assert [(s.event, s.subject, s.weight) for s in p.hooks] == [
        ("pre-upgrade", "PersistentVolumeClaim/shop-backup", 0),
        ("pre-upgrade", "Job/shop-backup", 1),
        ("pre-upgrade", "Job/shop-migrate", 5),
    ]
    assert [v.text for v in p.values] == ['web.image: added "ghcr.io/helmbot-example/shop-web:1.1.0"']
    assert [(r.subject, r.change) for r in p.resources if r.change != "unchanged"] == [
        ("Deployment/shop-web", "changed")
    ]
    assert p.hazards == ()


HOOKS_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: order\nversion: 0.1.0\n",
    "templates/hooks.yaml": """\
{{- range $kind, $names := dict "ConfigMap" (list "aa" "same" "zz") "ServiceAccount" (list "mm" "same") }}
{{- range $names }}
---
apiVersion: v1
kind: {{ $kind }}
metadata:
  name: {{ . }}
  annotations:
    helm.sh/hook: pre-install
{{- end }}
{{- end }}
""",
    "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n",
}


def test_hook_order_matches_what_helm_does(
    sim: Any, namespace: str, runner: HelmRunner, tmp_path: Path
) -> None:
    """Same weight: Helm orders by name (hooks.go hookByWeight), kind only between equal names; the plan's
    order is the order in which the real helm created them."""
    write_chart(tmp_path, HOOKS_CHART)
    text = render_chart(
        runner,
        "order",
        str(tmp_path),
        namespace=namespace,
        version=None,
        set_values=None,
        values_files=(),
        is_upgrade=False,
    )
    planned = [s.subject for s in plan(None, text, namespace).hooks]
    assert planned == [
        "ConfigMap/aa",
        "ServiceAccount/mm",
        "ServiceAccount/same",
        "ConfigMap/same",
        "ConfigMap/zz",
    ]

    sim.helm("install", "order", str(tmp_path), "-n", namespace)
    keys = {"ConfigMap": "/configmaps", "ServiceAccount": "/serviceaccounts"}

    def created(subject: str) -> int:
        kind, name = subject.split("/")
        return int(sim.store.get(keys[kind], namespace, name)["metadata"]["resourceVersion"])

    assert sorted(planned, key=created) == planned


def test_render_argv_and_bad_input() -> None:
    argv = render_argv(
        "shop",
        "./charts/shop",
        namespace="prod",
        version="1.5.0",
        set_values={"image.tag": "2.4"},
        is_upgrade=True,
        kube_version="1.35",
        policy=ValuesPolicy(keys=("image.*",)),
    )
    assert argv == [
        "template",
        "shop",
        "./charts/shop",
        "--namespace",
        "prod",
        "--set",
        "image.tag=2.4",
        "--version",
        "1.5.0",
        "--is-upgrade",
        "--kube-version",
        "1.35",
        "--include-crds",
    ]
    assert "--validate" not in argv
    with pytest.raises(HelmArgsError, match="invalid chart version"):
        render_argv("shop", "c", namespace="prod", version="--post-renderer=x")
    with pytest.raises(HelmArgsError, match="invalid Kubernetes version"):
        render_argv("shop", "c", namespace="prod", kube_version="latest")
    with pytest.raises(HelmArgsError, match="not in the allow-list"):
        render_argv(
            "shop", "c", namespace="prod", set_values={"db.password": "x"}, policy=ValuesPolicy(("image",))
        )
    with pytest.raises(HelmArgsError, match="invalid revision"):
        get_values_argv("shop", namespace="prod", revision=0)
    with pytest.raises(HelmArgsError, match="invalid release name"):
        get_values_argv("--all", namespace="prod")


def test_get_values_of_missing_release_is_a_helm_error(sim: Any, namespace: str, runner: HelmRunner) -> None:
    with pytest.raises(HelmError, match="release: not found"):
        get_values(runner, "nothing", namespace=namespace)


REPEAT_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: repeat\nversion: 0.1.0\n",
    "templates/job.yaml": """\
apiVersion: batch/v1
kind: Job
metadata:
  name: repeat-seed
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: hook-failed
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: seed
          image: ghcr.io/helmbot-example/seed:1
          env:
            - name: HELMBOT_SIM_SCRIPT
              value: '{"runSeconds": 0.2}'
""",
}


def test_kept_hook_job_is_not_run_again(sim: Any, namespace: str, runner: HelmRunner, tmp_path: Path) -> None:
    """A hook Job without before-hook-creation that succeeded stays; Helm 4 applies the same Job over it
    (server-side apply) and takes the old result: the plan says so, and the real upgrade runs no new pod."""
    write_chart(tmp_path, REPEAT_CHART)
    sim.helm("install", "repeat", str(tmp_path), "-n", namespace, "--timeout", "60s")
    seed = sim.store.get("batch/jobs", namespace, "repeat-seed")
    text = render_chart(
        runner,
        "repeat",
        str(tmp_path),
        namespace=namespace,
        version=None,
        set_values=None,
        values_files=(),
        is_upgrade=True,
    )
    p = plan(stored(sim, namespace, "repeat"), text, namespace)
    assert [(h.code, h.severity, h.subject) for h in p.hazards] == [
        ("hook-job-name-repeats", "danger", "Job/repeat-seed")
    ]
    assert "the previous run succeeded and was kept" in p.hazards[0].message
    assert "it does not run again" in p.hazards[0].message

    sim.helm("upgrade", "repeat", str(tmp_path), "-n", namespace, "--timeout", "60s")
    again = sim.store.get("batch/jobs", namespace, "repeat-seed")
    assert again["metadata"]["uid"] == seed["metadata"]["uid"]
    assert len(sim.store.list("/pods", namespace, labels={"job-name": "repeat-seed"})) == 1
