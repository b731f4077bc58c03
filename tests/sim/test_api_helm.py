"""The real helm v4 against the stand-in, with the tiny chart in tests/sim/charts/tiny."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
CHART = str(Path(__file__).parent / "charts" / "tiny")


def _release(sim, namespace: str, name: str, revision: int) -> dict:
    secret = sim.store.get("/secrets", namespace, f"sh.helm.release.v1.{name}.v{revision}")
    assert secret is not None, f"release secret v{revision} missing"
    assert secret["type"] == "helm.sh/release.v1" and secret["metadata"]["labels"]["owner"] == "helm"
    payload = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    return json.loads(gzip.decompress(payload))


def test_install_upgrade_history_status_uninstall(sim, namespace) -> None:
    sim.helm("install", "demo", CHART, "-n", namespace)
    release = _release(sim, namespace, "demo", 1)
    assert release["name"] == "demo" and release["info"]["status"] == "deployed"
    dep = sim.store.get("apps/deployments", namespace, "demo-web")
    assert dep is not None and any(
        m["manager"] == "helm" and m["operation"] == "Apply" for m in dep["metadata"]["managedFields"]
    )

    # Client-side upgrade, then back to server-side apply with a field dropped: stale fields must go.
    sim.helm(
        "upgrade",
        "demo",
        CHART,
        "-n",
        namespace,
        "--server-side=false",
        "--set",
        "greeting=hi",
        "--set",
        "env[0].name=MODE,env[0].value=csa",
        "--set",
        "env[1].name=EXTRA",
        "--set-string",  # a bare 1 would be a number: a real apiserver rejects it (EnvVar.value is a string)
        "env[1].value=1",
    )
    assert sim.store.get("/configmaps", namespace, "demo-config")["data"]["greeting"] == "hi"
    env = sim.store.get("apps/deployments", namespace, "demo-web")["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert [e["name"] for e in env["env"]] == ["MODE", "EXTRA"]
    sim.helm("upgrade", "demo", CHART, "-n", namespace, "--server-side=true", "--set", "service=false")
    container = sim.store.get("apps/deployments", namespace, "demo-web")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["env"] == [{"name": "MODE", "value": "normal"}]
    assert sim.store.get("/services", namespace, "demo-web") is None
    assert _release(sim, namespace, "demo", 3)["info"]["status"] == "deployed"
    assert _release(sim, namespace, "demo", 1)["info"]["status"] == "superseded"

    history = sim.helm("history", "demo", "-n", namespace).stdout
    assert "Install complete" in history and "Upgrade complete" in history
    status = sim.helm("status", "demo", "-n", namespace).stdout
    assert "STATUS: deployed" in status and "REVISION: 3" in status
    assert "demo" in sim.helm("list", "-n", namespace).stdout
    dry = sim.helm(
        "upgrade", "demo", CHART, "-n", namespace, "--dry-run=server", "--set", "replicas=2"
    ).stdout
    assert "replicas: 2" in dry
    assert sim.store.get("apps/deployments", namespace, "demo-web")["spec"]["replicas"] == 1

    sim.helm("uninstall", "demo", "-n", namespace)
    assert sim.store.get("apps/deployments", namespace, "demo-web") is None
    assert sim.store.list("/secrets", namespace, labels={"owner": "helm"}) == []


def test_ssa_conflict_then_force_conflicts(sim, namespace) -> None:
    sim.helm("install", "conf", CHART, "-n", namespace)
    sim.kubectl("scale", "-n", namespace, "deployment/conf-web", "--replicas=2")
    failed = sim.helm("upgrade", "conf", CHART, "-n", namespace, "--set", "replicas=3", check=False)
    assert failed.returncode != 0 and "conflict" in failed.stderr and ".spec.replicas" in failed.stderr
    sim.helm("upgrade", "conf", CHART, "-n", namespace, "--set", "replicas=3", "--force-conflicts")
    assert sim.store.get("apps/deployments", namespace, "conf-web")["spec"]["replicas"] == 3


def test_create_namespace(sim, namespace) -> None:
    target = f"{namespace}-new"
    sim.helm("install", "fresh", CHART, "-n", target, "--create-namespace")
    assert sim.store.get("/namespaces", None, target) is not None
    assert sim.store.get("/configmaps", target, "fresh-config") is not None
    missing = sim.helm("install", "nowhere", CHART, "-n", f"{namespace}-missing", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr


def test_install_wait_with_controllers_and_strict_client_models(sim, namespace) -> None:
    if sim.cluster.controllers is None:
        pytest.skip("the controllers package is not available")
    from kubernetes import client, config

    sim.helm("install", "ready", CHART, "-n", namespace, "--wait", "--timeout", "30s", "--set", "replicas=2")
    dep = sim.store.get("apps/deployments", namespace, "ready-web")
    assert dep["status"]["readyReplicas"] == 2
    api = config.new_client_from_config(config_file=str(sim.kubeconfig))
    try:  # kubernetes-python's strict models must accept every object the stand-in serves
        assert len(client.CoreV1Api(api).list_namespaced_pod(namespace).items) == 2
        assert client.AppsV1Api(api).list_namespaced_replica_set(namespace).items
        assert client.AppsV1Api(api).list_namespaced_deployment(namespace).items
        assert client.CoreV1Api(api).list_namespaced_event(namespace).items
        assert client.EventsV1Api(api).list_namespaced_event(namespace).items
        assert client.CoreV1Api(api).list_namespaced_service(namespace).items
    finally:
        api.close()
