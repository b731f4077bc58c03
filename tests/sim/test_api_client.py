"""The stand-in over real HTTP with the kubernetes Python client (37): CRUD, selectors, watches, deletion."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from bot.sim.protobuf import encode_secret
from tests.polling import poll


@pytest.fixture(scope="module")
def api(sim) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(sim.kubeconfig))
    yield api_client
    api_client.close()


def _deployment(name: str, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, "tier": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]
                },
            },
        },
    }


def _cm(name: str, labels: dict[str, str] | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": {"k": "v"}}


def test_discovery_and_openapi(sim) -> None:
    def get(path: str) -> dict:
        with urllib.request.urlopen(sim.url + path) as resp:
            return json.loads(resp.read())

    assert get("/version")["gitVersion"].startswith("v1.35")
    groups = {g["name"] for g in get("/apis")["groups"]}
    assert {"apps", "batch", "coordination.k8s.io", "events.k8s.io", "policy"} <= groups
    pods = next(r for r in get("/api/v1")["resources"] if r["name"] == "pods")
    assert pods["categories"] == ["all"] and pods["shortNames"] == ["po"]
    index = get("/openapi/v3")["paths"]
    doc = get(index["apis/apps/v1"]["serverRelativeURL"])
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])


def test_crud_and_selectors(api, namespace) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, _cm("a", {"app": "x", "tier": "db"}))
    core.create_namespaced_config_map(namespace, _cm("b", {"app": "y"}))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(namespace, _cm("a"))
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"
    listed = core.list_namespaced_config_map(namespace, label_selector="app in (x,z),tier!=web")
    assert [i.metadata.name for i in listed.items] == ["a"] and listed.metadata.resource_version
    listed = core.list_namespaced_config_map(namespace, field_selector="metadata.name=b")
    assert [i.metadata.name for i in listed.items] == ["b"]
    core.patch_namespaced_config_map("a", namespace, {"data": {"k2": "v2"}})
    core.patch_namespaced_config_map("a", namespace, [{"op": "remove", "path": "/data/k"}])
    assert core.read_namespaced_config_map("a", namespace).data == {"k2": "v2"}
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("missing", namespace)
    assert err.value.status == 404 and json.loads(err.value.body)["reason"] == "NotFound"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("no-such-namespace", _cm("c"))
    assert err.value.status == 404


def test_generation_and_status_subresource(api, namespace, sim) -> None:
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment(namespace, _deployment("web"))
    assert created.metadata.generation == 1
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    apps.patch_namespaced_deployment("web", namespace, {"metadata": {"labels": {"extra": "1"}}})
    assert apps.read_namespaced_deployment("web", namespace).metadata.generation == 1
    apps.patch_namespaced_deployment("web", namespace, {"spec": {"replicas": 2}})
    assert apps.read_namespaced_deployment("web", namespace).metadata.generation == 2
    scale = apps.read_namespaced_deployment_scale("web", namespace)
    assert scale.kind == "Scale" and scale.spec.replicas == 2 and scale.status.selector == "app=web"
    apps.patch_namespaced_deployment_status("web", namespace, {"status": {"observedGeneration": 2}})
    dep = apps.read_namespaced_deployment("web", namespace)
    assert dep.metadata.generation == 2 and dep.status.observed_generation == 2
    managers = {f.manager for f in dep.metadata.managed_fields}
    assert "OpenAPI-Generator" in managers or managers


def test_watch_from_now_and_from_rv(api, namespace) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, _cm("before"))
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version

    def later() -> None:
        time.sleep(0.2)
        core.create_namespaced_config_map(namespace, _cm("after", {"app": "w"}))
        core.delete_namespaced_config_map("after", namespace)

    threading.Thread(target=later, daemon=True).start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "after"), ("DELETED", "after")]
    # Without a resourceVersion: the current state first, then changes; label selector applies.
    w = watch.Watch()
    names = [
        ev["object"].metadata.name
        for ev in w.stream(core.list_namespaced_config_map, namespace, timeout_seconds=1)
    ]
    assert names == ["before"]
    names = [
        ev["object"].metadata.name
        for ev in w.stream(
            core.list_namespaced_config_map, namespace, label_selector="app=none", timeout_seconds=1
        )
    ]
    assert names == []


def test_watch_too_old_resource_version_is_gone(sim, api, namespace) -> None:
    core = client.CoreV1Api(api)
    store = sim.store
    with store.lock:
        floor = store._floor
        store._floor = store.resource_version  # as if the history had been compacted
    try:
        with pytest.raises(ApiException) as err:
            for _ in watch.Watch().stream(
                core.list_namespaced_config_map,
                namespace,
                resource_version=str(max(floor, 1)),
                timeout_seconds=2,
            ):
                pass
        assert err.value.status == 410
    finally:
        with store.lock:
            store._floor = floor


def test_delete_propagation(api, namespace, sim) -> None:
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    dep = apps.create_namespaced_deployment(namespace, _deployment("gc"))
    owner = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gc",
        "uid": dep.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    for name in ("child-a", "child-b"):
        body = _cm(name)
        body["metadata"]["ownerReferences"] = [owner]
        core.create_namespaced_config_map(namespace, body)
    apps.delete_namespaced_deployment("gc", namespace, propagation_policy="Orphan")
    left = core.list_namespaced_config_map(namespace).items
    assert {c.metadata.name for c in left} >= {"child-a", "child-b"}
    assert all(not c.metadata.owner_references for c in left if c.metadata.name.startswith("child"))

    dep = apps.create_namespaced_deployment(namespace, _deployment("gc2"))
    owner["uid"], owner["name"] = dep.metadata.uid, "gc2"
    body = _cm("child-c")
    body["metadata"]["ownerReferences"] = [owner]
    core.create_namespaced_config_map(namespace, body)
    apps.delete_namespaced_deployment(
        "gc2", namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )
    assert "child-c" not in {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}


def test_graceful_pod_deletion_over_http(api, namespace) -> None:
    core = client.CoreV1Api(api)
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    core.create_namespaced_pod(namespace, pod)
    core.delete_namespaced_pod("p", namespace)
    deadline = time.monotonic() + 10
    while True:
        try:
            core.read_namespaced_pod("p", namespace)
        except ApiException as exc:
            assert exc.status == 404
            break
        assert time.monotonic() < deadline, "pod was never removed"
        time.sleep(0.1)


def test_protobuf_secret_like_helm_storage(sim, namespace) -> None:
    body = encode_secret(
        "sh.helm.release.v1.demo.v1",
        namespace,
        {"release": b"H4sIpayload"},
        labels={"owner": "helm", "name": "demo"},
        secret_type="helm.sh/release.v1",
    )
    req = urllib.request.Request(
        f"{sim.url}/api/v1/namespaces/{namespace}/secrets",
        data=body,
        method="POST",
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 201
    secret = sim.store.get("/secrets", namespace, "sh.helm.release.v1.demo.v1")
    assert secret["type"] == "helm.sh/release.v1" and secret["metadata"]["labels"]["owner"] == "helm"
    assert secret["data"]["release"] == "SDRzSXBheWxvYWQ="  # base64 of the raw bytes


def test_pod_logs(api, namespace, sim) -> None:
    core = client.CoreV1Api(api)
    pod = {"metadata": {"name": "logger"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    core.create_namespaced_pod(namespace, pod)
    for i in range(5):
        sim.store.logs.append(namespace, "logger", "c", f"line {i}")
    assert core.read_namespaced_pod_log("logger", namespace, tail_lines=2) == "line 3\nline 4\n"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("logger", namespace, container="c", previous=True)
    assert err.value.status == 400


def test_events_both_views(api, namespace, sim) -> None:
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map(namespace, _cm("evt"))
    involved = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "evt", "namespace": namespace, "uid": cm.metadata.uid},
    }
    sim.store.record_event(involved, "Tested", "something happened", type="Warning")
    core_events = core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.uid={cm.metadata.uid}"
    )
    assert [e.reason for e in core_events.items] == ["Tested"]
    v1 = client.EventsV1Api(api).list_namespaced_event(namespace)
    assert v1.items[0].regarding.name == "evt" and v1.items[0].note == "something happened"


def test_server_side_apply_conflict_and_force(sim, namespace) -> None:
    import urllib.error

    def apply(manager: str, replicas: int, force: bool = False) -> tuple[int, dict]:
        body = json.dumps(_deployment("ssa", replicas)).encode()
        url = (
            f"{sim.url}/apis/apps/v1/namespaces/{namespace}/deployments/ssa?fieldManager={manager}"
            f"&force={'true' if force else 'false'}"
        )
        req = urllib.request.Request(
            url, data=body, method="PATCH", headers={"Content-Type": "application/apply-patch+yaml"}
        )
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert apply("helm", 1)[0] == 201
    assert apply("helm", 1)[0] == 200
    code, status = apply("other", 3)
    assert code == 409 and status["reason"] == "Conflict"
    assert status["details"]["causes"][0]["field"] == ".spec.replicas"
    assert 'conflict with "helm"' in status["message"]
    code, obj = apply("other", 3, force=True)
    assert code == 200 and obj["spec"]["replicas"] == 3
    owners = {m["manager"]: m for m in obj["metadata"]["managedFields"]}
    assert "f:replicas" not in owners["helm"]["fieldsV1"]["f:spec"]


def test_pod_log_follow_streams_until_the_container_ends(api, namespace, sim) -> None:
    """The kubelet writes the lines over time; follow streams them and ends when the container exits."""
    core = client.CoreV1Api(api)
    script = {"logs": ["first", {"line": "second", "delay": 0.4}], "runSeconds": 0.8}
    env = [{"name": "HELMBOT_SIM_SCRIPT", "value": json.dumps(script)}]
    container = {"name": "c", "image": "busybox", "env": env}
    pod = {"metadata": {"name": "follow"}, "spec": {"restartPolicy": "Never", "containers": [container]}}
    core.create_namespaced_pod(namespace, pod)
    poll(lambda: sim.store.logs.read(namespace, "follow", "c"), what="the container's first log line")
    resp = core.read_namespaced_pod_log("follow", namespace, follow=True, _preload_content=False)
    text = b"".join(resp.stream(64)).decode()
    assert text == "first\nsecond\n"
    assert sim.store.get("/pods", namespace, "follow")["status"]["phase"] == "Succeeded"


def test_helmbot_sim_kube_command(tmp_path) -> None:
    import signal
    import subprocess
    import sys

    kubeconfig = tmp_path / "kc"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "sim",
            "kube",
            "--no-controllers",
            "--kubeconfig-out",
            str(kubeconfig),
            "--fault",
            "error:503;verbs=get;resources=namespaces",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("Kubernetes stand-in listening on http://127.0.0.1:"), first
        url = first.rsplit(" ", 1)[1].strip()
        assert str(kubeconfig) in proc.stdout.readline()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{url}/api/v1/namespaces/default")
        assert err.value.code == 503
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_helmbot_sim_kube_stops_cleanly_on_an_early_ctrl_c() -> None:
    """SIGINT while it is still printing its kubeconfig path: a clean stop, exit 0 (was: killed by SIGINT)."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "bot", "sim", "kube", "--no-controllers"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("Kubernetes stand-in listening")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
