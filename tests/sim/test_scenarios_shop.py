"""Real helm v4 against the stand-in: the shop and hazard charts play out hooks, rollouts and failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import bot.sim
from tests.polling import poll

pytestmark = pytest.mark.e2e

CHARTS = Path(bot.sim.__file__).parent / "charts"
SHOP = str(CHARTS / "shop")


def pods(sim: Any, ns: str, **labels: str) -> list[dict]:
    return sim.store.list("/pods", ns, labels=labels or None)


def web_pods(sim: Any, ns: str) -> list[dict]:
    return [
        p
        for p in pods(sim, ns, **{"app.kubernetes.io/component": "web"})
        if not p["metadata"].get("deletionTimestamp")
    ]


def container_states(sim: Any, ns: str, *, init: bool = False) -> list[dict]:
    key = "initContainerStatuses" if init else "containerStatuses"
    return [cs for p in web_pods(sim, ns) for cs in (p.get("status") or {}).get(key) or []]


def waiting(sim: Any, ns: str, reason: str, *, init: bool = False) -> list[dict]:
    return [
        cs
        for cs in container_states(sim, ns, init=init)
        if cs["state"].get("waiting", {}).get("reason") == reason
    ]


def events(sim: Any, ns: str, reason: str) -> list[dict]:
    return [e for e in sim.store.list("/events", ns) if e["reason"] == reason]


# short hooks: these tests are about the workloads, not the migration or the backup
QUICK_HOOKS = ("--set", "migration.durationSeconds=0.2", "--set", "backup.enabled=false")


def release_status(sim: Any, ns: str, name: str) -> str:
    out = sim.helm("status", name, "-n", ns, "-o", "json").stdout
    return str(json.loads(out)["info"]["status"])


def test_install_with_wait_succeeds(sim: Any, namespace: str) -> None:
    sim.helm("install", "shop", SHOP, "-n", namespace, "--wait", "--timeout", "60s")
    d = sim.store.get("apps/deployments", namespace, "shop-web")
    assert d["status"]["availableReplicas"] == 3 and d["status"]["updatedReplicas"] == 3
    assert release_status(sim, namespace, "shop") == "deployed"
    job = sim.store.get("batch/jobs", namespace, "shop-migrate")
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    logs = sim.kubectl("logs", "-n", namespace, "job/shop-migrate").stdout
    assert "All migrations applied" in logs
    assert sim.store.get("/services", namespace, "shop-web")["spec"]["clusterIP"]


def test_release_deployed_while_pods_wait_in_init(sim: Any, namespace: str) -> None:
    """A plain migration Job (not a hook): helm returns at once; web pods sit in Init until it completes."""
    sim.helm(
        "install",
        "shop",
        SHOP,
        "-n",
        namespace,
        "--set",
        "migration.hook=false",
        "--set",
        "migration.durationSeconds=4",
    )
    assert release_status(sim, namespace, "shop") == "deployed"
    gated = poll(
        lambda: [cs for cs in container_states(sim, namespace, init=True) if "running" in cs["state"]],
        what="init containers running",
    )
    assert gated[0]["name"] == "wait-for-migration"
    assert all(p["status"]["phase"] == "Pending" for p in web_pods(sim, namespace))
    table = sim.kubectl("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=web").stdout
    assert "Init:0/1" in table
    poll(
        lambda: len([p for p in web_pods(sim, namespace) if p["status"]["phase"] == "Running"]) == 3,
        timeout=30,
        what="web pods Running after the migration",
    )


def test_wait_for_jobs(sim: Any, namespace: str) -> None:
    sim.helm(
        "install",
        "shop",
        SHOP,
        "-n",
        namespace,
        "--set",
        "migration.hook=false",
        "--wait",
        "--wait-for-jobs",
        "--timeout",
        "60s",
    )
    job = sim.store.get("batch/jobs", namespace, "shop-migrate-r1")
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])


def test_failing_migration_hook_fails_the_release(sim: Any, namespace: str) -> None:
    proc = sim.helm(
        "install",
        "shop",
        SHOP,
        "-n",
        namespace,
        "--set",
        "migration.fail=true",
        "--set",
        "migration.failLine=ERROR: column orders.total does not exist",
        check=False,
    )
    assert proc.returncode != 0
    assert "pre-install" in proc.stderr and "shop-migrate" in proc.stderr and "Failed" in proc.stderr
    assert release_status(sim, namespace, "shop") == "failed"
    logs = sim.kubectl("logs", "-n", namespace, "job/shop-migrate").stdout
    assert "ERROR: column orders.total does not exist" in logs
    assert events(sim, namespace, "BackoffLimitExceeded")
    assert not web_pods(sim, namespace)  # pre-install failed: nothing else was applied


def test_hook_slower_than_timeout(sim: Any, namespace: str) -> None:
    proc = sim.helm(
        "install",
        "shop",
        SHOP,
        "-n",
        namespace,
        "--set",
        "migration.durationSeconds=30",
        "--timeout",
        "3s",
        check=False,
    )
    assert proc.returncode != 0 and "context deadline exceeded" in proc.stderr


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        pytest.param(
            ["web.crash=true", "web.crashExitCode=3", "web.crashAfterSeconds=0.2"],
            "CrashLoopBackOff",
            id="crash-loop",
        ),
        pytest.param(["web.image=registry.invalid/shop/web:2.0.0"], "ImagePullBackOff", id="bad-image"),
        pytest.param(["web.missingSecret=true"], "CreateContainerConfigError", id="missing-secret"),
    ],
)
def test_upgrade_failures_show_in_new_pods(sim: Any, namespace: str, values: list[str], reason: str) -> None:
    quick = ("--set", "web.replicas=2", *QUICK_HOOKS)
    sim.helm("install", "shop", SHOP, "-n", namespace, *quick, "--wait", "--timeout", "60s")
    args = [a for v in values for a in ("--set", v)]
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, *quick, *args)
    stuck = poll(lambda: waiting(sim, namespace, reason), timeout=30, what=reason)
    d = sim.store.get("apps/deployments", namespace, "shop-web")
    assert d["status"]["availableReplicas"] == 2  # maxUnavailable 0: the old pods keep serving
    if reason == "CrashLoopBackOff":
        poll(
            lambda: any(cs["restartCount"] >= 2 for cs in container_states(sim, namespace)),
            timeout=30,
            what="restartCount growing",
        )
        last = [cs["lastState"]["terminated"] for cs in container_states(sim, namespace) if cs["lastState"]]
        assert last and last[0]["exitCode"] == 3
    if reason == "CreateContainerConfigError":
        assert stuck[0]["state"]["waiting"]["message"] == 'secret "shop-db-credentials" not found'


def test_upgrade_runs_backup_hooks_and_gate(sim: Any, namespace: str) -> None:
    quick = ("--set", "web.replicas=1", "--set", "migration.durationSeconds=0.2")
    sim.helm("install", "shop", SHOP, "-n", namespace, *quick)
    upgrade = sim.popen(
        "helm",
        "upgrade",
        "shop",
        SHOP,
        "-n",
        namespace,
        *quick,
        "--set",
        "upgradeGate.enabled=true",
        "--timeout",
        "60s",
    )
    try:
        poll(
            lambda: any(
                "running" in cs["state"]
                for p in pods(sim, namespace, **{"job-name": "shop-upgrade-gate"})
                for cs in (p.get("status") or {}).get("containerStatuses") or []
            ),
            what="gate running",
        )
        assert upgrade.poll() is None  # the gate holds the upgrade until the app opens it
        assert sim.store.get("batch/jobs", namespace, "shop-backup") is None  # weight -5 runs first
        sim.store.create(
            "/configmaps",
            {
                "metadata": {"name": "shop-upgrade-gate", "namespace": namespace},
                "data": {"safe-to-upgrade": "true"},
            },
        )
        _, err = upgrade.communicate(timeout=60)
    finally:
        if upgrade.poll() is None:
            upgrade.kill()
    assert upgrade.returncode == 0, err
    assert sim.store.get("/persistentvolumeclaims", namespace, "shop-backup")["status"]["phase"] == "Bound"
    backup = sim.store.get("batch/jobs", namespace, "shop-backup")
    assert any(c["type"] == "Complete" for c in backup["status"]["conditions"])
    assert release_status(sim, namespace, "shop") == "deployed"


def test_rollback_runs_the_restore_hook(sim: Any, namespace: str) -> None:
    quick = ("--set", "web.replicas=1", *QUICK_HOOKS)
    sim.helm("install", "shop", SHOP, "-n", namespace, *quick)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, *quick, "--set", "web.readySeconds=1")
    sim.helm("rollback", "shop", "1", "-n", namespace, "--timeout", "60s")
    job = sim.store.get("batch/jobs", namespace, "shop-restore")
    assert job is not None and any(c["type"] == "Complete" for c in job["status"]["conditions"])
    restore_events = [
        e
        for e in sim.store.list("/events", namespace)
        if e["involvedObject"]["name"] == "shop-restore" and e["reason"] == "Completed"
    ]
    assert restore_events
    history = json.loads(sim.helm("history", "shop", "-n", namespace, "-o", "json").stdout)
    assert history[-1]["description"] == "Rollback to 1"


def test_hazard_upgrade_leaves_new_pods_unable_to_mount(sim: Any, namespace: str) -> None:
    v1, v2 = str(CHARTS / "hazard" / "v1"), str(CHARTS / "hazard" / "v2")
    sim.helm("install", "hazard", v1, "-n", namespace, "--wait", "--timeout", "60s")
    assert sim.store.get("/configmaps", namespace, "hazard-config") is not None
    sim.helm("upgrade", "hazard", v2, "-n", namespace)
    # the hook re-created the ConfigMap, then the upgrade pruned it: it was in v1's manifest, not in v2's
    assert sim.store.get("/configmaps", namespace, "hazard-config") is None
    mount = poll(
        lambda: [
            e
            for e in events(sim, namespace, "FailedMount")
            if 'configmap "hazard-config" not found' in e["message"]
        ],
        what="FailedMount",
    )
    assert mount[0]["message"] == (
        'MountVolume.SetUp failed for volume "config" : configmap "hazard-config" not found'
    )
    new = [
        p
        for p in pods(sim, namespace, app="hazard")
        if p["metadata"].get("annotations", {}).get("hazard/version") == "2.0.0"
    ]
    assert new and all(p["status"]["phase"] == "Pending" for p in new)
    # the next upgrade's hook re-creates it (hooks are never pruned), and the stuck pod recovers
    sim.helm("upgrade", "hazard", v2, "-n", namespace)
    assert sim.store.get("/configmaps", namespace, "hazard-config") is not None
    poll(
        lambda: (
            (d := sim.store.get("apps/deployments", namespace, "hazard"))["status"].get("updatedReplicas")
            == 1
            and d["status"].get("availableReplicas") == 1
            and d["status"].get("replicas") == 1
        ),
        what="recovered",
    )


def test_python_client_deserializes_every_status(sim: Any, namespace: str) -> None:
    """kubernetes-python's strict models must accept what the controllers write (pitfall 7)."""
    from kubernetes import client, config

    sim.helm(
        "install",
        "shop",
        SHOP,
        "-n",
        namespace,
        "--set",
        "migration.hook=false",
        "--set",
        "web.crash=true",
        "--set",
        "web.replicas=1",
        "--set",
        "migration.durationSeconds=0.5",
    )
    poll(lambda: waiting(sim, namespace, "CrashLoopBackOff"), what="CrashLoopBackOff")
    api = config.new_client_from_config(str(sim.kubeconfig))
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    pod_list = core.list_namespaced_pod(namespace)
    web = next(p for p in pod_list.items if p.metadata.labels.get("app.kubernetes.io/component") == "web")
    assert web.status.container_statuses[0].last_state.terminated.exit_code == 1
    assert web.status.init_container_statuses[0].state.terminated.reason == "Completed"
    assert apps.list_namespaced_replica_set(namespace).items[0].status.replicas == 1
    assert apps.list_namespaced_deployment(namespace).items[0].status.observed_generation == 1
    assert batch.list_namespaced_job(namespace).items[0].status.succeeded == 1
    assert core.list_namespaced_event(namespace).items
    assert core.list_namespaced_endpoints(namespace).items
