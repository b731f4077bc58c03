"""Real helm v4 and kubectl v1.35 waiting on rollouts the stand-in plays out: helm's own wait and rollback,
StatefulSets and DaemonSets, `helm test`, minReadySeconds, `kubectl rollout status` and progress deadlines."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import bot.sim
from tests.polling import poll

pytestmark = pytest.mark.e2e

CHARTS = Path(bot.sim.__file__).parent / "charts"
SHOP, LEDGER = str(CHARTS / "shop"), str(CHARTS / "ledger")
# the shop without migration and backup hooks, one replica: the rollouts below wait on helm, not on the chart
QUICK_SHOP = ("--set", "web.replicas=1", "--set", "migration.enabled=false", "--set", "backup.enabled=false")
CRASH = ("--set", "web.crash=true", "--set", "web.crashAfterSeconds=0.2")


def history(sim: Any, ns: str, name: str) -> list[dict]:
    return list(json.loads(sim.helm("history", name, "-n", ns, "-o", "json").stdout))


def condition(obj: dict | None, ctype: str) -> dict:
    conds = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conds if c["type"] == ctype), {})


def crash_looping(sim: Any, ns: str) -> list[dict]:
    return [
        cs
        for p in sim.store.list("/pods", ns)
        for cs in (p.get("status") or {}).get("containerStatuses") or []
        if cs["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
    ]


def crash_upgrade(sim: Any, ns: str, *args: str) -> Any:
    """`helm upgrade` of the quick shop to a crash-looping web container."""
    return sim.helm("upgrade", "shop", SHOP, "-n", ns, *QUICK_SHOP, *CRASH, *args, check=False)


# ---- helm's own wait ---------------------------------------------------------------------------------------


def test_crash_looping_upgrade_times_out_then_rolls_back_on_failure(sim: Any, namespace: str) -> None:
    sim.helm("install", "shop", SHOP, "-n", namespace, *QUICK_SHOP, "--wait", "--timeout", "30s")
    # helm's own wait (kstatus) gives up at --timeout; the release is marked failed, nothing is rolled back
    proc = crash_upgrade(sim, namespace, "--wait", "--timeout", "5s")
    assert proc.returncode != 0
    assert "not ready" in proc.stderr and "context deadline exceeded" in proc.stderr, proc.stderr
    assert "Deployment/" + namespace + "/shop-web" in proc.stderr
    poll(lambda: crash_looping(sim, namespace), what="CrashLoopBackOff (it runs between back-offs)")
    revisions = history(sim, namespace, "shop")
    assert [(r["revision"], r["status"]) for r in revisions] == [(1, "deployed"), (2, "failed")]
    assert revisions[-1]["description"].startswith('Upgrade "shop" failed')

    # the same upgrade with --rollback-on-failure: timed out again, then rolled back to the last deployed one
    proc = crash_upgrade(sim, namespace, "--rollback-on-failure", "--timeout", "3s")
    assert proc.returncode != 0
    assert "has been rolled back" in proc.stderr and "context deadline exceeded" in proc.stderr, proc.stderr
    revisions = history(sim, namespace, "shop")
    assert [(r["revision"], r["status"]) for r in revisions] == [
        (1, "superseded"),
        (2, "failed"),
        (3, "failed"),
        (4, "deployed"),
    ]
    assert revisions[-1]["description"] == "Rollback to 1"
    restore = sim.store.get("batch/jobs", namespace, "shop-restore")  # the pre-rollback hook ran
    assert condition(restore, "Complete").get("status") == "True"
    assert "restore complete" in sim.kubectl("logs", "-n", namespace, "job/shop-restore").stdout
    # the Deployment is back on revision 1's template: its old ReplicaSet serves, the crash loop goes away
    poll(
        lambda: (
            (st := sim.store.get("apps/deployments", namespace, "shop-web")["status"]).get("updatedReplicas")
            == 1
            and st.get("replicas") == 1
            and st.get("availableReplicas") == 1
        ),
        timeout=20,
        what="rolled-back Deployment available",
    )
    web = sim.store.get("apps/deployments", namespace, "shop-web")["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert "exitCode" not in json.dumps(web["env"])


# ---- StatefulSet and DaemonSet through helm --wait ---------------------------------------------------------


def rev_label(pod: dict) -> str | None:
    return (pod["metadata"].get("labels") or {}).get("controller-revision-hash")


def test_statefulset_and_daemonset_install_with_wait_and_helm_test(sim: Any, namespace: str) -> None:
    sim.helm("install", "ledger", LEDGER, "-n", namespace, "--wait", "--timeout", "30s")
    sts = sim.store.get("apps/statefulsets", namespace, "ledger-db")
    st = sts["status"]
    assert st["observedGeneration"] == sts["metadata"]["generation"]
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"]) == (2, 2, 2, 2)
    assert st["availableReplicas"] == 2 and st["currentRevision"] == st["updateRevision"]
    db_pods = sorted(
        sim.store.list("/pods", namespace, labels={"app.kubernetes.io/component": "db"}),
        key=lambda p: p["metadata"]["name"],
    )
    assert [p["metadata"]["name"] for p in db_pods] == ["ledger-db-0", "ledger-db-1"]
    assert {rev_label(p) for p in db_pods} == {st["updateRevision"]}
    claims = {
        c["metadata"]["name"]: c["status"]["phase"]
        for c in sim.store.list("/persistentvolumeclaims", namespace)
    }
    assert claims == {"data-ledger-db-0": "Bound", "data-ledger-db-1": "Bound"}

    ds = sim.store.get("apps/daemonsets", namespace, "ledger-agent")
    dst = ds["status"]
    assert dst["observedGeneration"] == ds["metadata"]["generation"]
    assert dst["desiredNumberScheduled"] == dst["currentNumberScheduled"] == dst["numberReady"] == 1
    assert dst["updatedNumberScheduled"] == dst["numberAvailable"] == 1
    agent = sim.store.list("/pods", namespace, labels={"app.kubernetes.io/component": "agent"})
    assert len(agent) == 1 and rev_label(agent[0])

    revisions = json.loads(sim.kubectl("get", "controllerrevisions", "-n", namespace, "-o", "json").stdout)[
        "items"
    ]
    by_owner = {(r["metadata"]["ownerReferences"][0]["kind"], r["revision"]) for r in revisions}
    assert by_owner == {("StatefulSet", 1), ("DaemonSet", 1)}
    assert {r["metadata"]["labels"]["controller-revision-hash"] for r in revisions} == {
        st["updateRevision"],
        rev_label(agent[0]),
    }
    rollout = ("rollout", "status", "-n", namespace, "--timeout", "10s")
    out = sim.kubectl(*rollout, "statefulset/ledger-db").stdout
    # the API defaults rollingUpdate.partition to 0: kubectl takes its partitioned branch, as on a cluster
    assert "partitioned roll out complete: 2 new pods have been updated..." in out, out
    out = sim.kubectl(*rollout, "daemonset/ledger-agent").stdout
    assert 'daemon set "ledger-agent" successfully rolled out' in out, out
    out = sim.kubectl("rollout", "history", "statefulset/ledger-db", "-n", namespace).stdout
    assert "REVISION" in out and "\n1 " in out, out

    # helm test: the test hook Pod runs to completion; a failing one fails `helm test`
    passed = sim.helm("test", "ledger", "-n", namespace, "--logs", "--timeout", "30s")
    assert (
        "TEST SUITE:     ledger-test-connection" in passed.stdout
        and "Phase:          Succeeded" in passed.stdout
    )
    assert "SELECT 1: ok" in passed.stdout
    sim.helm("upgrade", "ledger", LEDGER, "-n", namespace, "--reuse-values", "--set", "tests.fail=true")
    failed = sim.helm("test", "ledger", "-n", namespace, "--timeout", "30s", check=False)
    assert failed.returncode != 0 and "ledger-test-connection" in failed.stderr, failed.stderr
    test_pod = sim.store.get("/pods", namespace, "ledger-test-connection")
    assert test_pod["status"]["phase"] == "Failed"
    assert condition(test_pod, "Ready")["reason"] == "PodFailed"


def test_failing_statefulset_update_blocks_the_ordered_rollout(sim: Any, namespace: str) -> None:
    sim.helm(
        "install",
        "ledger",
        LEDGER,
        "-n",
        namespace,
        "--set",
        "agent.enabled=false",
        "--wait",
        "--timeout",
        "30s",
    )
    before = sim.store.get("apps/statefulsets", namespace, "ledger-db")["status"]["currentRevision"]
    sim.helm("upgrade", "ledger", LEDGER, "-n", namespace, "--reuse-values", "--set", "db.crash=true")
    poll(lambda: crash_looping(sim, namespace), timeout=20, what="the updated pod crash looping")
    # the rollout goes from the highest ordinal down and waits for each pod to be Ready: it stops at db-1

    def restarts() -> int:
        pod = sim.store.get("/pods", namespace, "ledger-db-1") or {}
        return sum(cs["restartCount"] for cs in (pod.get("status") or {}).get("containerStatuses") or [])

    poll(lambda: restarts() >= 2, timeout=20, what="a second restart")
    st = sim.store.get("apps/statefulsets", namespace, "ledger-db")["status"]
    assert st["currentRevision"] == before and st["updateRevision"] != before
    assert (st.get("updatedReplicas"), st.get("currentReplicas"), st.get("readyReplicas")) == (1, 1, 1)
    assert rev_label(sim.store.get("/pods", namespace, "ledger-db-0")) == before
    assert rev_label(sim.store.get("/pods", namespace, "ledger-db-1")) == st["updateRevision"]
    out = sim.kubectl(
        "rollout", "status", "statefulset/ledger-db", "-n", namespace, "--timeout", "1s", check=False
    )
    assert out.returncode != 0 and "Waiting for" in out.stdout, out.stdout + out.stderr


# ---- Deployments with kubectl ------------------------------------------------------------------------------


def deployment(name: str, **spec: Any) -> str:
    script = spec.pop("script", {"readySeconds": 0.2})
    container = {
        "name": "web",
        "image": "ghcr.io/helmbot-example/web:1",
        "env": [{"name": "HELMBOT_SIM_SCRIPT", "value": json.dumps(script)}],
    }
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
                **spec,
            },
        }
    )


def test_min_ready_seconds_delays_availability(sim: Any, namespace: str) -> None:
    sim.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("slow", minReadySeconds=2))
    get = lambda: sim.store.get("apps/deployments", namespace, "slow")["status"]  # noqa: E731
    poll(lambda: get().get("readyReplicas") == 1, timeout=20, what="pod Ready")
    ready_at = time.monotonic()
    st = get()
    assert not st.get("availableReplicas") and st.get("unavailableReplicas") == 1
    assert condition({"status": st}, "Available")["status"] == "False"
    out = sim.kubectl("rollout", "status", "deployment/slow", "-n", namespace, "--timeout", "20s").stdout
    assert 'deployment "slow" successfully rolled out' in out
    # availability lagged readiness by minReadySeconds, counted from the Ready condition's lastTransitionTime,
    # which has one-second resolution (as on a real cluster): so by 1 to 2 seconds
    assert time.monotonic() - ready_at >= 0.9
    assert get().get("availableReplicas") == 1
    rs = sim.store.list("apps/replicasets", namespace)[0]
    assert rs["spec"]["minReadySeconds"] == 2 and rs["status"]["availableReplicas"] == 1


def test_rollout_status_reports_the_exceeded_progress_deadline(sim: Any, namespace: str) -> None:
    manifest = deployment("web", progressDeadlineSeconds=2, script={"exitCode": 1, "runSeconds": 0.2})
    sim.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    proc = sim.kubectl(
        "rollout", "status", "deployment/web", "-n", namespace, "--timeout", "30s", check=False
    )
    assert proc.returncode != 0
    assert 'error: deployment "web" exceeded its progress deadline' in proc.stderr, proc.stderr
    progressing = condition(sim.store.get("apps/deployments", namespace, "web"), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    poll(lambda: crash_looping(sim, namespace), what="CrashLoopBackOff (it runs between back-offs)")
