"""Issue 11 end to end: the real helm on the stand-in, `python -m bot watch` as a CI pipeline runs it.

Hooks Helm does not wait for, a paused Deployment, werf's failures-allowed-per-replica, custom resources
judged by the built-in table and by a user's rule, Helm's immutable-Job failure explained, Helm's
ConfigMap storage, `--strict`, `--revision` saying what it waits for, and a whole watch through an API
that fails a share of its requests and cuts its watches.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sim.binaries import ensure_binaries
from tests.e2e.support import REPO, SHOP, install, watch

pytestmark = pytest.mark.e2e

CHART = str(Path(__file__).parent / "charts" / "verdicts")
MIGRATE_CHART = str(REPO / "tests" / "sim" / "charts" / "migrate")
RULES = """status_rules:
  - kind: Widget
    group: example.com
    field: status.phase
    current: [Baked]
    in_progress: [Baking]
    failed: [Burnt]
"""


@pytest.fixture(autouse=True)
def _drop_crds(sim: Any) -> Iterator[None]:
    """The chart's crds/ stay after the test (helm never deletes CRDs): delete them, so tests that expect
    these kinds unknown to the API server (tests/kube/test_cluster_view.py) do not depend on the order."""
    yield
    for name in ("widgets.example.com", "externalsecrets.external-secrets.io"):
        sim.store.delete("apiextensions.k8s.io/customresourcedefinitions", None, name)


def verdict_block(proc: subprocess.CompletedProcess[str]) -> str:
    out = proc.stdout
    for label in ("FAILED:", "SUCCEEDED:", "TIMED OUT:"):
        if label in out:
            return out[out.index(label):]
    raise AssertionError(f"no verdict in:\n{out}\n{proc.stderr}")


def set_status(sim: Any, key: str, namespace: str, name: str, status: dict[str, Any]) -> None:
    def write(obj: dict[str, Any]) -> None:
        obj["status"] = status

    assert sim.store.mutate(key, namespace, name, write, subresource="status") is not None


def ts(seconds_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_hooks_helm_does_not_wait_for_neither_hold_nor_fail_the_release(sim: Any, namespace: str) -> None:
    """A ConfigMap hook and a crash-looping Deployment hook: Helm waits for neither, nor does helmbot."""
    sim.helm("install", "verdicts", CHART, "-n", namespace, "--set", "hooks.enabled=true")
    proc = watch(sim, namespace, "--revision", "1", "--timeout", "60s", release="verdicts")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Tracking install of verdicts revision 1" in proc.stdout
    assert "CrashLoopBackOff" not in proc.stdout
    assert "SUCCEEDED: verdicts revision 1" in verdict_block(proc)


def test_a_paused_deployment_is_done_with_a_warning_naming_it(sim: Any, namespace: str) -> None:
    sim.helm("install", "verdicts", CHART, "-n", namespace, "--set", "web.paused=true")
    proc = watch(sim, namespace, "--timeout", "60s", release="verdicts")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Deployment/verdicts-web: paused: not rolled out until the Deployment is resumed" in proc.stdout
    assert "SUCCEEDED" in verdict_block(proc)


@pytest.mark.parametrize(("allowed", "code"), [("", 1), ("3", 0)],
                         ids=["no-annotation-crash-loop-fails", "failures-allowed-per-replica-3-succeeds"])
def test_werf_failures_allowed_per_replica(sim: Any, namespace: str, allowed: str, code: int) -> None:
    """The worker crashes twice, then runs: werf's annotation allows 3 failures, helmbot alone none."""
    sim.helm("install", "verdicts", CHART, "-n", namespace, "--set", "worker.enabled=true",
             "--set", f"worker.failuresAllowed={allowed}")
    proc = watch(sim, namespace, "--timeout", "60s", release="verdicts")
    assert proc.returncode == code, proc.stdout + proc.stderr
    if code:
        assert "CrashLoopBackOff" in verdict_block(proc) and "verdicts-worker" in verdict_block(proc)


def test_custom_resources_judged_by_the_built_in_table_and_a_users_rule(sim: Any, namespace: str,
                                                                        tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    sim.helm("install", "verdicts", CHART, "-n", namespace, "--set", "custom.enabled=true")
    secret, widget = "external-secrets.io/externalsecrets", "example.com/widgets"
    sync_error = {"type": "Ready", "status": "False", "reason": "SecretSyncedError",
                  "message": "could not get secret data from provider", "lastTransitionTime": ts(60)}
    set_status(sim, secret, namespace, "verdicts-db", {"conditions": [sync_error]})
    set_status(sim, widget, namespace, "verdicts-widget", {"phase": "Baked"})
    proc = watch(sim, namespace, "--timeout", "60s", "--status-rules", str(rules), release="verdicts")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    block = verdict_block(proc)
    assert "ExternalSecret/verdicts-db: SecretSyncedError" in block
    assert "could not get secret data from provider" in block

    synced = {"type": "Ready", "status": "True", "reason": "SecretSynced", "lastTransitionTime": ts(1)}
    set_status(sim, secret, namespace, "verdicts-db", {"conditions": [synced]})
    set_status(sim, widget, namespace, "verdicts-widget", {"phase": "Baking"})
    proc = watch(sim, namespace, "--timeout", "3s", "--status-rules", str(rules), release="verdicts")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Widget/verdicts-widget (status.phase is Baking)" in verdict_block(proc)
    plain = watch(sim, namespace, "--timeout", "30s", release="verdicts")   # no rule: exists, so done
    assert plain.returncode == 0, plain.stdout + plain.stderr

    set_status(sim, widget, namespace, "verdicts-widget", {"phase": "Baked"})
    proc = watch(sim, namespace, "--timeout", "30s", "--status-rules", str(rules), release="verdicts")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_strict_fails_a_success_that_did_not_judge_everything(sim: Any, namespace: str) -> None:
    sim.helm("install", "verdicts", CHART, "-n", namespace, "--set", "custom.enabled=true")
    synced = {"type": "Ready", "status": "True", "reason": "SecretSynced", "lastTransitionTime": ts(1)}
    set_status(sim, "external-secrets.io/externalsecrets", namespace, "verdicts-db", {"conditions": [synced]})
    sim.faults.add(f"error:403;resources=widgets;namespace={namespace}")
    lenient = watch(sim, namespace, "--timeout", "30s", release="verdicts")
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "not judged: Widget/verdicts-widget (not watched)" in verdict_block(lenient)
    strict = watch(sim, namespace, "--timeout", "30s", "--strict", release="verdicts")
    assert strict.returncode == 5, strict.stdout + strict.stderr
    assert "--strict: not every object was judged: Widget/verdicts-widget (not watched)" in strict.stderr


def test_a_plain_migration_job_that_helm_cannot_update_is_explained(sim: Any, namespace: str) -> None:
    image = "registry.example/shop/migrate"
    sim.helm("install", "shop", MIGRATE_CHART, "-n", namespace, "--set", f"image={image}:1")
    failed = sim.helm("upgrade", "shop", MIGRATE_CHART, "-n", namespace, "--set", f"image={image}:2",
                      check=False)
    assert failed.returncode != 0 and "field is immutable" in failed.stderr
    proc = watch(sim, namespace, "--timeout", "30s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    block = verdict_block(proc)
    assert "FAILED: shop revision 2" in block
    assert ("Job shop-migrate: Jobs are immutable: make it a hook with before-hook-creation, or put the "
            "revision in its name") in block


def test_helms_configmap_storage_is_read(sim: Any, namespace: str) -> None:
    helm = ensure_binaries().helm
    env = {**sim.env, "HELM_DRIVER": "configmap"}
    subprocess.run([str(helm), "install", "verdicts", CHART, "-n", namespace], env=env, check=True,
                   capture_output=True, timeout=60)
    assert not sim.store.list("/secrets", namespace, labels={"owner": "helm"})
    proc = watch(sim, namespace, "--timeout", "60s", release="verdicts")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCEEDED: verdicts revision 1" in verdict_block(proc)


def test_revision_says_what_it_waits_for(sim: Any, namespace: str) -> None:
    cmd = [sys.executable, "-m", "bot", "watch", "verdicts", "--namespace", namespace, "--revision", "1",
           "--kubeconfig", str(sim.kubeconfig), "--timeout", "60s"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(sim.home)})
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()   # printed before helm has stored anything
        assert first.strip() == (f"helmbot watch: waiting up to 30s for release verdicts to appear in "
                                 f"namespace {namespace} (revision 1)")
        sim.helm("install", "verdicts", CHART, "-n", namespace)
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_troubled_api_is_ridden_out_first_reads_included(sim: Any, namespace: str) -> None:
    """500s and 429s on a share of requests, the first reads of the release failing, watches cut every few
    events: the watch still reaches the right verdict (exit 0, never 3)."""
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set", "web.readySeconds=1")
    for spec in (
        f"error:500;verbs=list;resources=secrets;namespace={namespace};times=1",
        f"error:429;retry_after=1;verbs=list;resources=secrets;namespace={namespace};times=1",
        f"error:503;verbs=list;resources=configmaps;namespace={namespace};times=2",
        f"error:500;namespace={namespace};every=3",
        f"error:429;retry_after=1;namespace={namespace};every=7",
        f"drop-watch;after=3;namespace={namespace}",
    ):
        sim.faults.add(spec)
    proc = watch(sim, namespace, "--timeout", "60s", timeout=90)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCEEDED: shop revision 2" in verdict_block(proc)
