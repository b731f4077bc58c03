"""Watches, faults, logs and reads over real HTTP: selector watches, live faults, bookmarks, Table options."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from bot.sim.faults import Faults
from bot.sim.server import Server
from bot.sim.store import Store


@pytest.fixture(scope="module")
def api(sim) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(sim.kubeconfig))
    yield api_client
    api_client.close()


def _get(url: str, accept: str = "application/json") -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_label_selector_watch_sees_objects_leave_and_enter(api, namespace, sim) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "m", "labels": {"app": "x"}}})
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    seen: list[tuple[str, str, str]] = []
    w = watch.Watch()

    def relabel() -> None:  # the watch resumes from `rv`, so it sees every step whenever it starts
        for value in ("y", "x", "y"):
            core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"app": value}}})
            core.patch_namespaced_config_map("m", namespace, {"data": {"v": value}})  # outside or inside

    threading.Thread(target=relabel, daemon=True).start()
    for ev in w.stream(core.list_namespaced_config_map, namespace, label_selector="app=x",
                       resource_version=rv, timeout_seconds=10):
        obj = ev["object"]
        seen.append((ev["type"], obj.metadata.labels["app"], obj.metadata.resource_version))
        if len(seen) == 4:
            w.stop()
    assert [(t, app) for t, app, _ in seen] == [("DELETED", "x"), ("ADDED", "x"), ("MODIFIED", "x"),
                                                ("DELETED", "x")]
    # the DELETED carries the object as it was (still matching), at the resourceVersion that moved it out
    assert int(seen[0][2]) > int(rv)


def _open_watch(url: str, path: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path)
    return conn, conn.getresponse()


def _drain(resp: http.client.HTTPResponse) -> list[dict]:
    events = []
    try:
        while line := resp.readline():
            events.append(json.loads(line))
    except (http.client.IncompleteRead, ConnectionError):
        pass
    return events


def test_fault_added_at_run_time_drops_an_open_watch(sim, namespace) -> None:
    # the response headers are sent once the stream runs: the watch is open from here on
    conn, resp = _open_watch(sim.url, f"/api/v1/namespaces/{namespace}/secrets?watch=true&timeoutSeconds=20")
    req = urllib.request.Request(
        f"{sim.url}/_sim/faults",
        data=json.dumps({"kind": "drop-watch", "resources": ["secrets"], "namespace": namespace,
                         "times": 1}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(req) as added:
        assert json.loads(added.read())["faults"][0]["times"] == 1
    result: list[list[dict]] = []
    reader = threading.Thread(target=lambda: result.append(_drain(resp)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert not reader.is_alive(), "the open watch was not dropped"
    conn.close()
    assert result == [[]]  # no secrets: the stream just ended
    # spent (times 0): gone from the list, and a new watch is not affected
    assert _get(f"{sim.url}/_sim/faults")[1] == {"faults": []}


def test_watch_fault_counts_when_it_fires_not_when_the_watch_opens(sim, namespace) -> None:
    sim.store.create("/configmaps", {"metadata": {"name": "one", "namespace": namespace}})
    sim.faults.add(f"gone;after=2;resources=configmaps;namespace={namespace};times=1")
    path = f"/api/v1/namespaces/{namespace}/configmaps?watch=true&timeoutSeconds=1"
    # this watch sends one event and ends at its timeout: the rule never fired, so it is still there
    assert [e["type"] for e in _drain(_open_watch(sim.url, path)[1])] == ["ADDED"]
    assert sim.faults.rules()[0]["times"] == 1
    sim.store.create("/configmaps", {"metadata": {"name": "two", "namespace": namespace}})
    assert [e["type"] for e in _drain(_open_watch(sim.url, path)[1])] == ["ADDED", "ADDED", "ERROR"]
    assert sim.faults.rules() == []


def test_periodic_bookmarks() -> None:
    store = Store()
    server = Server(store, Faults(), bookmark_seconds=0.2)
    server.start()
    try:
        store.create("/configmaps", {"metadata": {"name": "a"}})
        path = "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"
        events = _drain(_open_watch(server.url, path)[1])
        kinds = [e["type"] for e in events]
        assert kinds[0] == "ADDED" and kinds.count("BOOKMARK") >= 2, kinds
        mark = events[-1]["object"]
        assert mark["kind"] == "ConfigMap"
        assert mark["metadata"]["resourceVersion"] == str(store.resource_version)
        no_marks = _drain(_open_watch(server.url, path.replace("allowWatchBookmarks=true&", ""))[1])
        assert [e["type"] for e in no_marks] == ["ADDED"]
    finally:
        server.stop()


def test_log_errors_worded_like_the_kubelet() -> None:
    store = Store()
    server = Server(store, Faults())
    server.start()
    try:
        containers = [{"name": n, "image": "busybox"} for n in ("a", "b", "c", "d")]
        store.create("/pods", {"metadata": {"name": "p"}, "spec": {"containers": containers}})

        def waiting(reason: str) -> dict:
            return {"state": {"waiting": {"reason": reason}}}

        statuses = [{"name": "a", **waiting("ImagePullBackOff")}, {"name": "b", **waiting("ErrImagePull")},
                    {"name": "c", **waiting("CreateContainerConfigError")},
                    {"name": "d", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]
        store.mutate("/pods", "default", "p", lambda p: p["status"].update(containerStatuses=statuses),
                     subresource="status")
        base = f"{server.url}/api/v1/namespaces/default/pods/p/log?container="
        expected = {
            "a": 'container "a" in pod "p" is waiting to start: trying and failing to pull image',
            "b": 'container "b" in pod "p" is waiting to start: image can\'t be pulled',
            "c": 'container "c" in pod "p" is waiting to start: CreateContainerConfigError',
        }
        for name, message in expected.items():
            code, status = _get(base + name)
            assert (code, status["reason"], status["message"]) == (400, "BadRequest", message)
        with urllib.request.urlopen(base + "d") as resp:  # running, nothing written yet: empty, not an error
            assert resp.status == 200 and resp.read() == b""
        code, status = _get(base + "d&previous=true")
        assert status["message"] == 'previous terminated container "d" in pod "p" not found'
    finally:
        server.stop()


def test_forbidden_fault_names_the_user_and_resource(api, sim, namespace) -> None:
    sim.faults.add("error:403;verbs=list;resources=pods;times=1")
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespaced_pod(namespace)
    status = json.loads(err.value.body)
    assert status["message"] == (
        'pods is forbidden: User "system:serviceaccount:default:helmbot" cannot list resource "pods" '
        f'in API group "" in the namespace "{namespace}"'
    )
    assert status["reason"] == "Forbidden" and status["details"] == {"group": "", "kind": "pods"}
    sim.faults.add("error:403;verbs=get;resources=deployments;times=1")
    code, status = _get(f"{sim.url}/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert code == 403 and status["message"].startswith(
        'deployments.apps "web" is forbidden: User "system:serviceaccount:default:helmbot" cannot get '
        'resource "deployments" in API group "apps"'
    )


def test_field_selectors_supported_per_kind(api, namespace) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(namespace, field_selector="spec.bogus=1")
    assert err.value.status == 400 and json.loads(err.value.body)["message"] == (
        "field label not supported: spec.bogus"
    )
    core.list_namespaced_pod(namespace, field_selector="status.phase=Running,metadata.name=x")
    core.list_namespaced_event(namespace, field_selector="involvedObject.kind=Pod,reason=Started")


def test_delete_collection_and_include_object(api, sim, namespace) -> None:
    core = client.CoreV1Api(api)
    for name, tier in (("a", "db"), ("b", "db"), ("c", "web")):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": {"tier": tier}}})
    base = f"{sim.url}/api/v1/namespaces/{namespace}/configmaps"
    table = "application/json;as=Table;v=v1;g=meta.k8s.io"
    rows = _get(f"{base}?includeObject=Object&labelSelector=tier%3Ddb", table)[1]["rows"]
    assert [r["object"]["kind"] for r in rows] == ["ConfigMap", "ConfigMap"]
    assert rows[0]["object"]["metadata"]["labels"] == {"tier": "db"}
    assert "object" not in _get(f"{base}/a?includeObject=None", table)[1]["rows"][0]
    assert _get(f"{base}/a", table)[1]["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    core.delete_collection_namespaced_config_map(namespace, label_selector="tier=db")  # typed as V1Status
    left = [c.metadata.name for c in core.list_namespaced_config_map(namespace).items]
    assert "c" in left and "a" not in left and "b" not in left


def test_data_kinds_have_no_generation(api, namespace) -> None:
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "g"}, "data": {"a": "1"}})
    assert cm.metadata.generation is None
    assert core.patch_namespaced_config_map("g", namespace, {"data": {"a": "2"}}).metadata.generation is None
    secret = core.create_namespaced_secret(namespace, {"metadata": {"name": "s"}, "stringData": {"a": "1"}})
    assert secret.metadata.generation is None
    assert core.read_namespaced_service_account("default", namespace).metadata.generation is None
