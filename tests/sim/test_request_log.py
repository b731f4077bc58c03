"""The stand-in's request log: what each caller asked, as Kubernetes' authorizer would see it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from bot.sim.requestlog import ANONYMOUS, DEFAULT_USER, ApiRequest, RequestLog, token_for, user_of

ROBOT = "system:serviceaccount:bots:robot"


def _kubectl_as(sim: Any, tmp_path: Path, user: str, *args: str) -> None:
    kubeconfig = sim.cluster.write_kubeconfig(tmp_path / "robot.kubeconfig", user=user)
    # a cache of its own: kubectl's discovery cache, shared with earlier tests, would skip discovery
    env_args = ("--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "kube-cache"))
    sim.kubectl(*env_args, *args)


def test_requests_carry_the_authorization_attributes(sim: Any, namespace: str, tmp_path: Path) -> None:
    sim.kubectl("create", "configmap", "settings", "-n", namespace, "--from-literal=a=b")
    with sim.cluster.requests.recording(user=ROBOT) as seen:
        _kubectl_as(sim, tmp_path, ROBOT, "get", "configmap", "settings", "-n", namespace, "-o", "name")
        _kubectl_as(sim, tmp_path, ROBOT, "get", "deployments.apps", "-n", namespace, "--watch=false")
        _kubectl_as(sim, tmp_path, ROBOT, "patch", "configmap", "settings", "-n", namespace,
                    "-p", '{"data":{"a":"c"}}')
    resources = [(r.verb, r.group, r.resource, r.namespace, r.name) for r in seen.requests if r.is_resource]
    assert resources == [
        ("get", "", "configmaps", namespace, "settings"),
        ("list", "apps", "deployments", namespace, ""),
        ("get", "", "configmaps", namespace, "settings"),   # kubectl patch reads first
        ("patch", "", "configmaps", namespace, "settings"),
    ]
    assert all(r.user == ROBOT and r.client == "kubectl" for r in seen.requests)
    discovery = {r.path for r in seen.requests if not r.is_resource}
    assert discovery and all(r.verb == "get" for r in seen.requests if not r.is_resource)
    assert all(p.startswith(("/api", "/openapi", "/version")) for p in discovery), discovery


def test_subresources_field_selected_names_and_watches(sim: Any, namespace: str, tmp_path: Path) -> None:
    from kubernetes import client, config

    # the Python client ignores the kubeconfig's `as:` and names its user by the token
    kubeconfig = sim.cluster.write_kubeconfig(tmp_path / "robot.kubeconfig", user=ROBOT)
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        core = client.CoreV1Api(api)
        with sim.cluster.requests.recording() as seen:
            core.list_namespaced_pod(namespace, field_selector="metadata.name=web-0")
            core.list_namespaced_pod(namespace, watch=True, timeout_seconds=1, _preload_content=False).close()
            core.list_pod_for_all_namespaces(limit=1)
            with contextlib.suppress(client.ApiException):
                core.read_namespaced_pod_log("missing", namespace)
    finally:
        api.close()
    mine = [r for r in seen.requests if r.user == ROBOT and r.resource == "pods"]
    assert [(r.verb, r.subresource, r.namespace, r.name) for r in mine] == [
        ("list", "", namespace, "web-0"),
        ("watch", "", namespace, ""),
        ("list", "", "", ""),
        ("get", "log", namespace, "missing"),
    ]
    assert mine[-1].describe() == f"get core/pods/log missing in {namespace}"


def test_a_recording_of_one_user_ignores_the_others(sim: Any, namespace: str, tmp_path: Path) -> None:
    with sim.cluster.requests.recording(user=ROBOT) as robot, sim.cluster.requests.recording() as everyone:
        sim.kubectl("get", "pods", "-n", namespace)
        _kubectl_as(sim, tmp_path, ROBOT, "get", "services", "-n", namespace)
    assert {r.resource for r in robot.requests if r.is_resource} == {"services"}
    assert {r.resource for r in everyone.requests if r.is_resource} == {"pods", "services"}
    assert not sim.cluster.requests.active, "listeners leave with their block"


def test_tokens_name_their_user() -> None:
    assert user_of(f"Bearer {token_for(ROBOT)}") == ROBOT
    assert user_of(f"Bearer {token_for(None)}") == DEFAULT_USER == user_of("Bearer helmbot-sim-token")
    assert user_of(None) == ANONYMOUS and user_of("Basic abc") == ANONYMOUS
    assert user_of(None, ROBOT) == ROBOT == user_of("Bearer helmbot-sim-token", ROBOT)


def test_listeners_are_called_in_order_and_stop() -> None:
    log = RequestLog()
    seen: list[str] = []
    stop = log.listen(lambda r: seen.append(r.verb))
    log.emit(ApiRequest("u", "get", resource="pods"))
    stop()
    log.emit(ApiRequest("u", "list", resource="pods"))
    assert seen == ["get"] and not log.active


def test_an_apply_that_creates_is_also_authorized_as_create(sim: Any, namespace: str, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\n"
                        f"metadata: {{name: applied, namespace: {namespace}}}\ndata: {{a: b}}\n")
    with sim.cluster.requests.recording(user=ROBOT) as first:
        _kubectl_as(sim, tmp_path, ROBOT, "apply", "--server-side", "-f", str(manifest))
    with sim.cluster.requests.recording(user=ROBOT) as again:
        _kubectl_as(sim, tmp_path, ROBOT, "apply", "--server-side", "-f", str(manifest))

    def writes(rec: Any) -> list[tuple[str, str]]:
        return [(r.verb, r.name) for r in rec.requests if r.resource == "configmaps" and r.verb != "get"]

    assert writes(first) == [("patch", "applied"), ("create", "applied")]
    assert writes(again) == [("patch", "applied")]
