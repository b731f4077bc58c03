"""`helmbot watch` end to end: the real helm drives the stand-in, `python -m bot watch` runs as a subprocess.

Each test starts helm (in the background when it blocks on hooks, as CI pipelines do) and checks the exit
code and what a CI log would show. Durations in the chart values are short; nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import REPO, SHOP, install, watch

pytestmark = pytest.mark.e2e

def test_successful_install(sim: Any, namespace: str) -> None:
    helm = sim.popen("helm", "install", "shop", SHOP, "-n", namespace, "--set", "web.replicas=2")
    try:
        proc = watch(sim, namespace, "--revision", "1", "--timeout", "60s")
    finally:
        assert helm.wait(60) == 0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("20") and "Tracking install of shop revision 1" in lines[0]
    assert "Job/shop-migrate" in proc.stdout
    assert "SUCCEEDED: shop revision 1" in lines[-1]


def test_crash_looping_upgrade_names_container_exit_code_and_log(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set", "web.crash=true",
             "--set", "web.crashExitCode=3", "--set", "web.crashLog=panic: cannot reach the orders db")
    proc = watch(sim, namespace, "--timeout", "60s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = proc.stdout[proc.stdout.index("FAILED:"):]
    assert "CrashLoopBackOff" in diagnosis
    assert "container web" in diagnosis
    assert "exit code 3" in diagnosis
    assert "| panic: cannot reach the orders db" in diagnosis


def test_image_that_cannot_be_pulled(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values",
             "--set", "web.image=registry.invalid/shop/web:2.0.0")
    proc = watch(sim, namespace, "--timeout", "60s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = proc.stdout[proc.stdout.index("FAILED:"):]
    assert "ImagePullBackOff" in diagnosis or "ErrImagePull" in diagnosis
    assert "registry.invalid/shop/web:2.0.0" in diagnosis


def test_failing_migration_hook_shows_its_log_line(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    helm = sim.popen("helm", "upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set",
                     "migration.fail=true", "--set", "migration.failLine=ERROR: relation orders exists")
    try:
        proc = watch(sim, namespace, "--revision", "2", "--timeout", "60s")
    finally:
        assert helm.wait(60) != 0  # helm fails too, but only says "pre-upgrade hooks failed"
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = proc.stdout[proc.stdout.index("FAILED:"):]
    assert "Job/shop-migrate" in diagnosis
    assert "| ERROR: relation orders exists" in diagnosis


def test_rollback_runs_the_pre_rollback_restore_hook(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set", "web.readySeconds=0.2")
    helm = sim.popen("helm", "rollback", "shop", "1", "-n", namespace)
    try:
        proc = watch(sim, namespace, "--revision", "3", "--timeout", "60s")
    finally:
        assert helm.wait(60) == 0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Tracking rollback of shop revision 3" in proc.stdout
    assert "[pre-rollback hooks]" in proc.stdout and "Job/shop-restore" in proc.stdout
    assert "SUCCEEDED" in proc.stdout.splitlines()[-1]


def test_timeout_exceeded_exits_2(sim: Any, namespace: str) -> None:
    sim.helm("install", "shop", SHOP, "-n", namespace, "--set", "web.replicas=1",
             "--set", "web.neverReady=true")
    proc = watch(sim, namespace, "--timeout", "3s")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert "TIMED OUT" in last and "Deployment/shop-web" in last


def test_json_output_is_one_event_per_line_ending_with_the_verdict(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set", "web.crash=true")
    proc = watch(sim, namespace, "--output", "json", "--timeout", "60s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0]["type"] == "tracking_started"
    fields = {"type", "at", "release", "namespace", "revision", "message", "data"}
    assert all(fields <= e.keys() for e in events)
    verdict = events[-1]
    assert verdict["type"] == "verdict" and verdict["data"]["outcome"] == "failed"
    failure = verdict["data"]["failures"][0]
    assert failure["container"] == "web" and failure["exit_code"] == 1 and failure["log_tail"]
    assert [e for e in events if e["type"] == "failure"]


def test_unknown_release_exits_3(sim: Any, namespace: str) -> None:
    proc = watch(sim, namespace, release="nope")
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr.strip() == f'helmbot watch: error: release "nope" not found in namespace "{namespace}"'


def test_forbidden_exits_3(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.faults.add(f"error:403;namespace={namespace};resources=secrets")
    proc = watch(sim, namespace)
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"helmbot watch: error: forbidden (403) in namespace {namespace}")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_forbidden_on_a_watched_kind_exits_3(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.faults.add(f"error:403;namespace={namespace};resources=jobs")
    proc = watch(sim, namespace)
    assert proc.returncode == 3
    assert "forbidden (403)" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_unreachable_api_and_bad_arguments_exit_3(sim: Any, namespace: str, tmp_path: Path) -> None:
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(sim.kubeconfig.read_text().replace(sim.url, "http://127.0.0.1:9"))
    proc = watch(sim, namespace, kubeconfig=dead)
    assert proc.returncode == 3
    assert "cannot reach the API server at http://127.0.0.1:9: connection refused" in proc.stderr

    garbage = tmp_path / "garbage"
    garbage.write_text("this is: [not a kubeconfig")
    proc = watch(sim, namespace, kubeconfig=garbage)
    assert proc.returncode == 3 and "bad kubeconfig" in proc.stderr

    proc = watch(sim, namespace, "--timeout", "soon")
    assert proc.returncode == 3 and "--timeout" in proc.stderr

    proc = watch(sim, namespace, "--context", "prod")
    assert proc.returncode == 3 and "prod" in proc.stderr


def test_terminal_gets_the_live_view(sim: Any, namespace: str) -> None:
    """stdout is a TTY: the rich live view, then the verdict block left in the scrollback."""
    import os
    import pty

    install(sim, namespace)
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "bot", "watch", "shop", "--namespace", namespace,
           "--kubeconfig", str(sim.kubeconfig), "--timeout", "60s"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=slave, stderr=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(sim.home), "TERM": "xterm",
                                 "COLUMNS": "160"})
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "\x1b[" in screen, "a terminal gets ANSI rendering"
    for text in ("shop revision 1", "Deployment/shop-web", "2/2", "elapsed", "SUCCEEDED"):
        assert text in screen, text
