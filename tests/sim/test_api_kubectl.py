"""The real kubectl 1.35 against the stand-in."""

from __future__ import annotations

import json

import pytest

from tests.polling import poll

pytestmark = pytest.mark.e2e

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          env:
{env}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: {mode}
"""


def _manifest(replicas: int = 1, mode: str = "a", env: tuple[str, ...] = ("A",)) -> str:
    lines = "\n".join(f'            - name: {e}\n              value: "1"' for e in env) or "            []"
    return MANIFEST.format(replicas=replicas, mode=mode, env=lines)


def test_apply_client_side_diff_label_scale(sim, namespace) -> None:
    out = sim.kubectl("apply", "-n", namespace, "-f", "-", input=_manifest(env=("A", "B"))).stdout
    assert "deployment.apps/web created" in out and "configmap/settings created" in out
    diff = sim.kubectl("diff", "-n", namespace, "-f", "-", input=_manifest(mode="b", env=("A",)), check=False)
    assert diff.returncode == 1 and "+  mode: b" in diff.stdout, diff.stderr
    sim.kubectl("apply", "-n", namespace, "-f", "-", input=_manifest(mode="b", env=("A",)))
    dep = sim.store.get("apps/deployments", namespace, "web")
    assert [e["name"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]] == ["A"]
    assert sim.store.get("/configmaps", namespace, "settings")["data"] == {"mode": "b"}
    sim.kubectl("label", "-n", namespace, "deployment/web", "team=blue")
    sim.kubectl("scale", "-n", namespace, "deployment/web", "--replicas=3")
    dep = sim.store.get("apps/deployments", namespace, "web")
    assert dep["metadata"]["labels"]["team"] == "blue" and dep["spec"]["replicas"] == 3
    table = sim.kubectl("get", "-n", namespace, "deploy,cm").stdout
    assert "deployment.apps/web" in table and "configmap/settings" in table
    listed = json.loads(sim.kubectl("get", "-n", namespace, "deployments", "-o", "json").stdout)
    assert listed["kind"] == "List" and listed["items"][0]["metadata"]["name"] == "web"


def test_apply_server_side_and_conflict(sim, namespace) -> None:
    sim.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=_manifest())
    sim.kubectl("scale", "-n", namespace, "deployment/web", "--replicas=2")
    failed = sim.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", input=_manifest(replicas=5), check=False
    )
    assert (
        failed.returncode != 0 and "conflict" in failed.stderr.lower() and ".spec.replicas" in failed.stderr
    )
    sim.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-n",
        namespace,
        "-f",
        "-",
        input=_manifest(replicas=5, env=()),
    )
    dep = sim.store.get("apps/deployments", namespace, "web")
    assert dep["spec"]["replicas"] == 5
    assert "env" not in dep["spec"]["template"]["spec"]["containers"][0]


def test_get_watch_logs_describe_wait_delete(sim, namespace, tmp_path) -> None:
    pod = {
        "metadata": {"name": "p1", "namespace": namespace, "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }
    log = tmp_path / "watch.txt"
    baseline = sim.cluster.active_watches
    watcher = sim.popen("kubectl", "get", "pods", "-n", namespace, "-w", "--output-watch-events", output=log)
    try:
        poll(lambda: sim.cluster.active_watches > baseline)
        sim.store.create("/pods", pod)
        sim.store.logs.append(namespace, "p1", "main", "hello from p1")
        sim.store.record_event(sim.store.get("/pods", namespace, "p1"), "Pulled", "image pulled")
        assert sim.kubectl("logs", "-n", namespace, "p1").stdout == "hello from p1\n"
        described = sim.kubectl("describe", "-n", namespace, "pod", "p1").stdout
        assert "Pulled" in described and "image pulled" in described
        sim.kubectl("delete", "-n", namespace, "pod", "p1", "--wait=true", timeout=30)
        poll(lambda: "DELETED" in log.read_text())
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
    out = log.read_text()
    assert "ADDED" in out and "p1" in out and "Terminating" in out, out

    sim.store.create("/configmaps", {"metadata": {"name": "flag", "namespace": namespace}, "data": {}})
    waiter = sim.popen(
        "kubectl", "wait", "-n", namespace, "--for=jsonpath={.data.state}=done", "cm/flag", "--timeout=20s"
    )
    sim.store.mutate("/configmaps", namespace, "flag", lambda cm: cm.update(data={"state": "done"}))
    assert waiter.wait(timeout=25) == 0, waiter.communicate()
    sim.kubectl("wait", "-n", namespace, "--for=delete", "cm/none", "--timeout=5s")


def test_get_all_and_describe_deployment(sim, namespace) -> None:
    sim.kubectl("apply", "-n", namespace, "-f", "-", input=_manifest())
    sim.kubectl("create", "secret", "generic", "creds", "-n", namespace, "--from-literal=password=x")
    out = sim.kubectl("get", "all", "-n", namespace).stdout
    assert "deployment.apps/web" in out
    assert "RollingUpdate" in sim.kubectl("describe", "-n", namespace, "deployment", "web").stdout
    assert sim.store.get("/secrets", namespace, "creds")["data"] == {"password": "eA=="}


def _revisions(sim, namespace: str) -> dict[str, dict]:
    """The Deployment's ReplicaSets by their revision annotation."""
    return {
        rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision", ""): rs
        for rs in sim.store.list("apps/replicasets", namespace)
    }


def test_rollout_restart_history_undo(sim, namespace) -> None:
    sim.kubectl("apply", "-n", namespace, "-f", "-", input=_manifest())
    poll(lambda: "1" in _revisions(sim, namespace), what="revision 1")
    sim.kubectl("rollout", "restart", "-n", namespace, "deployment/web")
    template = sim.store.get("apps/deployments", namespace, "web")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    poll(lambda: "2" in _revisions(sim, namespace), what="revision 2")
    history = sim.kubectl("rollout", "history", "-n", namespace, "deployment/web").stdout
    assert "REVISION" in history and "\n1 " in history and "\n2 " in history, history
    out = sim.kubectl("rollout", "undo", "-n", namespace, "deployment/web", "--to-revision=1").stdout
    assert "rolled back" in out, out
    template = sim.store.get("apps/deployments", namespace, "web")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" not in (template["metadata"].get("annotations") or {})
    revisions = poll(lambda: (r := _revisions(sim, namespace)) and "3" in r and r, what="revision 3")
    assert "1" not in revisions  # the old ReplicaSet was reused as revision 3, like the real controller does
    status = sim.kubectl("rollout", "status", "-n", namespace, "deployment/web", "--timeout=20s", timeout=30)
    assert "successfully rolled out" in status.stdout


def test_get_events_v1_wide_tables_and_namespace_deletion(sim, namespace) -> None:
    cm = sim.store.create("/configmaps", {"metadata": {"name": "evt", "namespace": namespace}})
    sim.store.record_event(cm, "Tested", "seen through events.k8s.io", type="Warning")
    out = sim.kubectl("get", "events.v1.events.k8s.io", "-n", namespace).stdout
    assert "Tested" in out and "configmap/evt" in out and "seen through events.k8s.io" in out, out
    sim.kubectl("apply", "-n", namespace, "-f", "-", input=_manifest())
    poll(lambda: sim.store.list("/pods", namespace), what="a pod")
    header = sim.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()[0]
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                              "READINESS", "GATES"], header
    header = sim.kubectl("get", "rs", "-n", namespace, "-o", "wide").stdout.splitlines()[0]
    assert header.split()[-1] == "SELECTOR", header
    assert "<none>" not in sim.kubectl("get", "rs", "-n", namespace, "-o", "wide").stdout.splitlines()[1]
    out = sim.kubectl("delete", "namespace", namespace, "--timeout=20s", timeout=30).stdout
    assert f'namespace "{namespace}" deleted' in out
    assert sim.store.get("/namespaces", None, namespace) is None and not sim.store.list("/pods", namespace)
