"""Injected faults, seen over real HTTP."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from bot.sim.cluster import Cluster
from bot.sim.faults import FaultRule


def _request(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def _watch_lines(url: str, path: str, timeout: float = 10) -> list[dict]:
    """Raw watch: every event line until the server ends or drops the stream."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    conn.request("GET", path)
    resp = conn.getresponse()
    events = []
    try:
        while True:
            line = resp.readline()
            if not line:
                break
            events.append(json.loads(line))
    except (http.client.IncompleteRead, ConnectionError):
        pass
    finally:
        conn.close()
    return events


def test_fault_spec_parsing() -> None:
    rule = FaultRule.parse("error:429;verbs=list,get;resources=pods;times=2;retry_after=3")
    assert (rule.kind, rule.code, rule.verbs, rule.resources, rule.times, rule.retry_after) == (
        "error",
        429,
        ["list", "get"],
        ["pods"],
        2,
        3,
    )
    assert FaultRule.parse("latency:0.5").seconds == 0.5
    with pytest.raises(ValueError):
        FaultRule.parse("explode")


def test_error_on_a_verb_only_n_times(sim, namespace) -> None:
    api = config.new_client_from_config(config_file=str(sim.kubeconfig))
    core = client.CoreV1Api(api)
    sim.faults.add("error:500;verbs=create;resources=configmaps;times=1")
    body = {"metadata": {"name": "x"}}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(namespace, body)
    assert err.value.status == 500 and json.loads(err.value.body)["reason"] == "InternalError"
    core.create_namespaced_config_map(namespace, body)
    assert core.list_namespaced_config_map(namespace).items  # list was never affected
    api.close()


def test_every_nth_request_fails(sim, namespace) -> None:
    """`every=N`: a share of the requests fails, deterministically (a troubled control plane)."""
    sim.faults.add(f"error:503;verbs=list;resources=configmaps;namespace={namespace};every=3")
    codes = [_request(f"{sim.url}/api/v1/namespaces/{namespace}/configmaps")[0] for _ in range(6)]
    assert codes == [200, 200, 503, 200, 200, 503]
    with pytest.raises(ValueError, match="every must be at least 1"):
        FaultRule.parse("error:500;every=0")


def test_429_with_retry_after_and_admin_endpoint(sim, namespace) -> None:
    code, _, body = _request(
        f"{sim.url}/_sim/faults",
        "POST",
        {
            "kind": "error",
            "code": 429,
            "verbs": ["list"],
            "resources": ["secrets"],
            "times": 1,
            "retry_after": 1,
        },
    )
    assert code == 200 and body["faults"][0]["code"] == 429
    code, headers, status = _request(f"{sim.url}/api/v1/namespaces/{namespace}/secrets")
    assert code == 429 and headers["Retry-After"] == "1" and status["reason"] == "TooManyRequests"
    assert status["details"]["retryAfterSeconds"] == 1
    assert _request(f"{sim.url}/api/v1/namespaces/{namespace}/secrets")[0] == 200
    assert _request(f"{sim.url}/_sim/faults", "DELETE")[2] == {"faults": []}


@pytest.mark.e2e
def test_kubectl_retries_429_and_sees_401(sim, namespace) -> None:
    sim.faults.add("error:429;verbs=list;resources=configmaps;times=2;retry_after=1")
    started = time.monotonic()
    sim.kubectl("get", "configmaps", "-n", namespace)
    assert time.monotonic() - started >= 1.0  # client-go honoured Retry-After
    sim.faults.add("error:401;times=50")
    denied = sim.kubectl("get", "configmaps", "-n", namespace, check=False)
    assert denied.returncode != 0 and ("Unauthorized" in denied.stderr or "logged in" in denied.stderr)


def test_dropped_watch_and_gone_after_n_events(sim, namespace) -> None:
    for i in range(3):
        sim.store.create("/configmaps", {"metadata": {"name": f"c{i}", "namespace": namespace}})
    path = f"/api/v1/namespaces/{namespace}/configmaps?watch=true&timeoutSeconds=5"
    sim.faults.add("drop-watch;after=2;resources=configmaps;times=1")
    events = _watch_lines(sim.url, path)
    assert [e["type"] for e in events] == ["ADDED", "ADDED"]
    sim.faults.add("gone;after=1;resources=configmaps;times=1")
    events = _watch_lines(sim.url, path)
    assert [e["type"] for e in events] == ["ADDED", "ERROR"]
    assert events[1]["object"]["code"] == 410
    # Spent rules: the next watch sees all three, then ends at timeoutSeconds.
    events = _watch_lines(sim.url, path.replace("timeoutSeconds=5", "timeoutSeconds=1"))
    assert [e["type"] for e in events] == ["ADDED"] * 3


def test_watch_list_initial_events_end_bookmark(sim, namespace) -> None:
    sim.store.create("/configmaps", {"metadata": {"name": "a", "namespace": namespace}})
    path = (
        f"/api/v1/namespaces/{namespace}/configmaps?watch=true&sendInitialEvents=true"
        f"&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    )
    events = _watch_lines(sim.url, path)
    assert [e["type"] for e in events][:2] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_latency(sim, namespace) -> None:
    sim.faults.add("latency:0.3;verbs=get;resources=namespaces")
    started = time.monotonic()
    assert _request(f"{sim.url}/api/v1/namespaces/{namespace}")[0] == 200
    assert time.monotonic() - started >= 0.3


def test_restart_keeps_or_loses_state(tmp_path) -> None:
    with Cluster(controllers=False) as cluster:
        url = cluster.url
        cluster.store.create("/configmaps", {"metadata": {"name": "kept"}})
        rv = cluster.store.resource_version
        cluster.restart(keep_state=True)
        assert cluster.url == url
        code, _, obj = _request(f"{url}/api/v1/namespaces/default/configmaps/kept")
        assert code == 200 and obj["metadata"]["name"] == "kept"
        cluster.restart(keep_state=False)
        assert _request(f"{url}/api/v1/namespaces/default/configmaps/kept")[0] == 404
        assert _request(f"{url}/api/v1/namespaces/default")[0] == 200
        events = _watch_lines(url, f"/api/v1/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1")
        assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410


def test_restart_cuts_open_watches(tmp_path) -> None:
    with Cluster(controllers=False) as cluster:
        parts = urlsplit(cluster.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", "/api/v1/configmaps?watch=true&timeoutSeconds=60")
        resp = conn.getresponse()
        started = time.monotonic()
        cluster.restart(keep_state=True)
        with pytest.raises((http.client.IncompleteRead, ConnectionError, ValueError)):
            while resp.readline():
                pass
            raise ConnectionError("stream ended")
        assert time.monotonic() - started < 5
        conn.close()


def test_state_file_round_trip(tmp_path) -> None:
    state = tmp_path / "state.json"
    with Cluster(controllers=False, state_file=state) as cluster:
        cluster.store.create("/configmaps", {"metadata": {"name": "persisted"}})
    with Cluster(controllers=False, state_file=state) as cluster:
        assert cluster.store.get("/configmaps", "default", "persisted") is not None
