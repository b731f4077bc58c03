"""`helmbot watch` on the situations our users' bash loops get wrong, with the real helm and the stand-in.

Each test runs helm as a pipeline would (in the background when it blocks on hooks) and `python -m bot watch`
as a subprocess, then checks the exit code and what the log shows.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.e2e.support import CHARTS, REPO, SHOP, install, watch
from tests.polling import poll

pytestmark = pytest.mark.e2e


def verdict_line(proc: Any) -> str:
    return proc.stdout.splitlines()[-1] if "FAILED:" not in proc.stdout else proc.stdout[
        proc.stdout.index("FAILED:"):]


def test_pods_of_a_failed_revision_do_not_fail_the_fixing_upgrade(sim: Any, namespace: str) -> None:
    """Revision 2 crash-loops; revision 3 fixes it behind a slow migration hook. While that hook runs,
    revision 2's crash-looping pods are still there: they belong to the previous revision, not this one."""
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set", "web.crash=true")
    helm = sim.popen("helm", "upgrade", "shop", SHOP, "-n", namespace, "--reuse-values",
                     "--set", "web.crash=false", "--set", "migration.durationSeconds=4")
    try:
        proc = watch(sim, namespace, "--revision", "3", "--timeout", "60s")
    finally:
        assert helm.wait(60) == 0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCEEDED: shop revision 3" in proc.stdout.splitlines()[-1]


def test_release_deployed_while_pods_wait_in_init_is_followed_to_the_end(sim: Any, namespace: str) -> None:
    """A plain migration Job (not a hook): helm says deployed at once, the web pods wait in Init for it."""
    sim.helm("install", "shop", SHOP, "-n", namespace, "--set", "web.replicas=2",
             "--set", "migration.hook=false", "--set", "migration.durationSeconds=3")
    proc = watch(sim, namespace, "--timeout", "60s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "waiting on shop-migrate" in proc.stdout
    assert "All migrations applied" in proc.stdout  # the migration's log, captured while it ran
    assert "SUCCEEDED" in proc.stdout.splitlines()[-1]


def test_missing_secret_fails_after_the_grace_period(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set", "web.missingSecret=true")
    proc = watch(sim, namespace, "--timeout", "60s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = verdict_line(proc)
    assert "CreateContainerConfigError" in diagnosis and "not found" in diagnosis


def test_configmap_turned_into_a_hook_fails_the_mount(sim: Any, namespace: str) -> None:
    """hazard v1 → v2: the ConfigMap becomes a hook, Helm prunes it, new pods cannot mount it."""
    v1 = str(CHARTS / "hazard" / "v1")
    sim.helm("install", "hazard", v1, "-n", namespace, "--wait", "--timeout", "60s")
    sim.helm("upgrade", "hazard", str(CHARTS / "hazard" / "v2"), "-n", namespace)
    proc = watch(sim, namespace, "--timeout", "40s", release="hazard")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = verdict_line(proc)
    assert "FailedMount" in diagnosis
    assert 'configmap "hazard-config" not found' in diagnosis


def test_hook_nearing_helms_timeout_is_announced(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    helm = sim.popen("helm", "upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--timeout", "8s",
                     "--set", "migration.durationSeconds=7")
    try:
        proc = watch(sim, namespace, "--revision", "2", "--helm-timeout", "8s", "--timeout", "60s")
    finally:
        helm.wait(60)
    assert "Job/shop-migrate" in proc.stdout
    lines = proc.stdout.splitlines()
    nearing = [line for line in lines if "timeout" in line.lower() and "shop-migrate" in line]
    assert nearing, proc.stdout


@pytest.mark.parametrize("remove", ["helm-uninstall", "record-deleted"])
def test_release_removed_while_watching_fails_the_watch(sim: Any, namespace: str, remove: str) -> None:
    """`helm uninstall` (status uninstalling), or the release record vanishing outright, ends the watch."""
    sim.helm("install", "shop", SHOP, "-n", namespace, "--set", "web.replicas=1",
             "--set", "web.neverReady=true")
    out = sim.home / f"watch-{namespace}.log"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "watch", "shop", "--namespace", namespace, "--kubeconfig",
             str(sim.kubeconfig), "--timeout", "60s"],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(sim.home)})
    try:
        poll(lambda: "Tracking install of shop" in out.read_text(), what="the watch to start")
        if remove == "helm-uninstall":
            sim.helm("uninstall", "shop", "-n", namespace)
        else:
            sim.kubectl("delete", "secret", "sh.helm.release.v1.shop.v1", "-n", namespace)
        assert proc.wait(30) == 1, out.read_text()
    finally:
        proc.kill()
    text = out.read_text()
    assert "FAILED" in text and ("uninstall" in text or "deleted" in text), text
