"""The chart itself installed onto the Kubernetes stand-in with the real helm, followed by `helmbot watch`.

The stand-in's kubelet runs any image it can "pull" (docs/sim.md, Scripts): without a script the bot's
container starts and is Ready shortly after, so the objects must apply and the tracker must reach a verdict.
A `HELMBOT_SIM_SCRIPT` env (through the chart's extraEnv) makes the container behave like a bot that exits
at start; a Secret that was never created shows what a forgotten `kubectl create secret` looks like.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.chart.support import CHART
from tests.e2e.support import watch

pytestmark = pytest.mark.e2e


def _target_namespace(sim: Any) -> str:
    name = f"shop-{secrets.token_hex(3)}"
    sim.store.create("/namespaces", {"metadata": {"name": name}})
    return name


def _install(sim: Any, namespace: str, target: str, *sets: str, values: Path | None = None) -> None:
    args = ["install", "hb", str(CHART), "-n", namespace,
            "--set", "auth.botToken=xoxb-e2e", "--set", "auth.signingSecret=e2e-signing-secret",
            "--set", "config.releases[0].name=shop", "--set", f"config.releases[0].namespace={target}",
            "--set", "config.releases[0].chart=./charts/shop",
            "--set", "config.releases[0].channel=C0123456789", "--set", "config.releases[0].deployers[0]=*"]
    for s in sets:
        args += ["--set", s]
    if values is not None:
        args += ["-f", str(values)]
    sim.helm(*args)


def test_chart_installs_and_the_tracker_follows_it_to_success(sim: Any, namespace: str) -> None:
    target = _target_namespace(sim)
    _install(sim, namespace, target)
    proc = watch(sim, namespace, "--timeout", "60s", release="hb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCEEDED: hb revision 1" in proc.stdout.splitlines()[-1]
    assert "Deployment/hb-helmbot" in proc.stdout

    # every object applied where the chart put it
    assert sim.store.get("rbac.authorization.k8s.io/roles", target, "hb-helmbot")
    binding = sim.store.get("rbac.authorization.k8s.io/rolebindings", target, "hb-helmbot")
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": "hb-helmbot", "namespace": namespace}
    assert sim.store.get("/persistentvolumeclaims", namespace, "hb-helmbot")["status"]["phase"] == "Bound"
    config = sim.store.get("/configmaps", namespace, "hb-helmbot")["data"]["config.yaml"]
    assert f"namespace: {target}" in config
    (pod,) = sim.store.list("/pods", namespace)
    assert pod["spec"]["securityContext"]["runAsUser"] == 10001
    assert pod["status"]["phase"] == "Running"

    # a config change rolls the pod (checksum/config) and is tracked as an upgrade
    sim.helm("upgrade", "hb", str(CHART), "-n", namespace, "--reuse-values",
             "--set", "config.log.level=debug")
    proc = watch(sim, namespace, "--revision", "2", "--timeout", "60s", release="hb")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCEEDED: hb revision 2" in proc.stdout.splitlines()[-1]
    (new_pod,) = [p for p in sim.store.list("/pods", namespace) if "deletionTimestamp" not in p["metadata"]]
    assert new_pod["metadata"]["name"] != pod["metadata"]["name"]
    assert (new_pod["metadata"]["annotations"]["checksum/config"]
            != pod["metadata"]["annotations"]["checksum/config"])


def test_a_bot_that_exits_at_start_is_reported_with_its_exit_code_and_log(
    sim: Any, namespace: str, tmp_path: Path
) -> None:
    target = _target_namespace(sim)
    script = {"logs": ["helmbot run: error: SLACK_BOT_TOKEN is not a bot token (xoxb-...)"],
              "exitCode": 3, "runSeconds": 0.1}
    values = tmp_path / "values.yaml"
    values.write_text(json.dumps({"extraEnv": [{"name": "HELMBOT_SIM_SCRIPT", "value": json.dumps(script)}]}))
    _install(sim, namespace, target, values=values)
    proc = watch(sim, namespace, "--timeout", "60s", release="hb")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = proc.stdout[proc.stdout.index("FAILED:"):]
    assert "container helmbot" in diagnosis and "exit code 3" in diagnosis
    assert "SLACK_BOT_TOKEN is not a bot token" in diagnosis
    assert "xoxb-e2e" not in proc.stdout


def test_a_forgotten_existing_secret_is_named(sim: Any, namespace: str) -> None:
    target = _target_namespace(sim)
    _install(sim, namespace, target, "auth.existingSecret=slack-credentials")
    proc = watch(sim, namespace, "--timeout", "60s", release="hb")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = proc.stdout[proc.stdout.index("FAILED:"):]
    assert 'secret "slack-credentials" not found' in diagnosis
