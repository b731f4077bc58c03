"""`helmbot watch` end to end on what the Kubernetes adapter must get right beyond the built-in workloads: an
unreadable release record, custom resources the chart waits on, kinds it may not watch, log reads that fail.

Real helm drives the stand-in; `python -m bot watch` runs as a subprocess, as in CI.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import REPO, SHOP, install, watch
from tests.polling import poll

pytestmark = pytest.mark.e2e

WIDGETS = "example.com/widgets"


def test_undecodable_release_secret_exits_3_with_one_line(sim: Any, namespace: str) -> None:
    payload = base64.b64encode(b"this is not a helm release").decode()
    sim.store.create("/secrets", {
        "metadata": {"name": "sh.helm.release.v1.bad.v1", "namespace": namespace,
                     "labels": {"owner": "helm", "name": "bad", "version": "1", "status": "deployed"}},
        "type": "helm.sh/release.v1",
        "data": {"release": base64.b64encode(payload.encode()).decode()},
    })
    proc = watch(sim, namespace, "--timeout", "20s", release="bad")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("helmbot watch: error: cannot read the stored release")
    assert f"{namespace}/sh.helm.release.v1.bad.v1" in lines[0]
    assert "this is not" not in proc.stderr, "never the Secret's contents"

    proc = watch(sim, namespace, "--timeout", "20s", "--output", "json", release="bad")
    assert proc.returncode == 3
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["type"] == "error" and last["exit_code"] == 3
    assert "sh.helm.release.v1.bad.v1" in last["message"]


# -- custom resources ---------------------------------------------------------------------------------

@pytest.fixture
def widget_chart(tmp_path: Path, sim: Any) -> Iterator[Path]:
    """A chart with a CRD (in crds/, which helm installs first and then re-reads discovery, as charts must)
    and a custom resource of it; the stand-in serves the CRD's kind once it exists, as an API server does.
    Helm never deletes crds/ CRDs: the fixture does, so no later test finds the kind served."""
    chart = tmp_path / "gadget"
    (chart / "templates").mkdir(parents=True)
    (chart / "crds").mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: gadget\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("size: 3\n")
    (chart / "crds" / "crd.yaml").write_text(textwrap.dedent("""\
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.com
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
          versions:
            - name: v1
              served: true
              storage: true
              schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
        """))
    (chart / "templates" / "widget.yaml").write_text(textwrap.dedent("""\
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: {{ .Release.Name }}-widget
        spec:
          size: {{ .Values.size }}
        """))
    yield chart
    sim.store.delete("apiextensions.k8s.io/customresourcedefinitions", None, "widgets.example.com")


def set_conditions(sim: Any, namespace: str, name: str, *conditions: dict[str, str]) -> None:
    """What the widget's controller would write."""
    def write(obj: dict[str, Any]) -> None:
        obj["status"] = {"conditions": list(conditions)}
    assert sim.store.mutate(WIDGETS, namespace, name, write, subresource="status") is not None


@pytest.fixture
def background_watch(sim: Any, tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], Path]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(namespace: str, release: str, *args: str) -> tuple[subprocess.Popen[str], Path]:
        out = tmp_path / f"watch-{len(procs)}.out"
        cmd = [sys.executable, "-m", "bot", "watch", release, "--namespace", namespace,
               "--kubeconfig", str(sim.kubeconfig), *args]
        with out.open("w") as sink:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, text=True,
                                    env={"PATH": "/usr/bin:/bin", "HOME": str(sim.home)})
        procs.append(proc)
        return proc, out

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_custom_resource_is_waited_on_until_ready_and_stalled_fails(
        sim: Any, namespace: str, widget_chart: Path,
        background_watch: Callable[..., tuple[subprocess.Popen[str], Path]]) -> None:
    sim.helm("install", "gadget", str(widget_chart), "-n", namespace)
    set_conditions(sim, namespace, "gadget-widget",
                   {"type": "Ready", "status": "False", "reason": "Provisioning", "message": "2 of 3 up"})
    proc, out = background_watch(namespace, "gadget", "--timeout", "60s", "--heartbeat", "1s")
    # Helm says deployed, yet the widget is not ready: the watch must keep saying so, not succeed.
    beat = poll(lambda: next((line for line in out.read_text().splitlines()
                              if "still in progress" in line and "Widget/gadget-widget" in line), None),
                timeout=30, what="a heartbeat naming the widget")
    assert proc.poll() is None, out.read_text()
    assert "SUCCEEDED" not in out.read_text()
    assert beat is not None and beat.startswith("20")
    set_conditions(sim, namespace, "gadget-widget", {"type": "Ready", "status": "True", "reason": "Ready"})
    assert proc.wait(30) == 0, out.read_text()
    text = out.read_text()
    assert "SUCCEEDED: gadget revision 1" in text.splitlines()[-1]
    assert "cannot watch" not in text and "not judged" not in text

    # Revision 2: the controller gives up on the new spec (kstatus: Stalled=True is a failure).
    sim.helm("upgrade", "gadget", str(widget_chart), "-n", namespace, "--set", "size=40")
    set_conditions(sim, namespace, "gadget-widget",
                   {"type": "Ready", "status": "False", "reason": "QuotaExceeded"},
                   {"type": "Stalled", "status": "True", "reason": "QuotaExceeded",
                    "message": "no capacity for 40 widgets"})
    done = watch(sim, namespace, "--timeout", "30s", release="gadget")
    assert done.returncode == 1, done.stdout + done.stderr
    diagnosis = done.stdout[done.stdout.index("FAILED:"):]
    assert "Widget/gadget-widget" in diagnosis and "QuotaExceeded" in diagnosis

    # Not allowed to watch the kind: said once, left out, and the verdict does not vouch for the widget.
    sim.faults.add(f"error:403;namespace={namespace};resources=widgets")
    done = watch(sim, namespace, "--timeout", "30s", release="gadget")
    warnings = [line for line in done.stdout.splitlines() if "cannot watch Widget.example.com" in line]
    assert len(warnings) == 1 and "forbidden (403)" in warnings[0] and "not judged" in warnings[0]
    assert done.returncode in (0, 2), done.stdout + done.stderr
    assert "Widget/gadget-widget" in done.stdout.splitlines()[-1]


# -- optional kinds and logs ----------------------------------------------------------------------------

def test_forbidden_events_and_failing_log_reads(sim: Any, namespace: str) -> None:
    install(sim, namespace)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--reuse-values", "--set", "web.crash=true",
             "--set", "web.crashLog=panic: cannot reach the orders db")
    sim.faults.add(f"error:403;namespace={namespace};resources=events")
    sim.faults.add(f"error:500;verbs=get;namespace={namespace};resources=pods")  # pods/log, every read
    proc = watch(sim, namespace, "--timeout", "60s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if "cannot watch Event" in line]
    assert len(warnings) == 1 and "forbidden (403)" in warnings[0]
    diagnosis = proc.stdout[proc.stdout.index("FAILED:"):]
    assert "CrashLoopBackOff" in diagnosis and "container web" in diagnosis
    assert "logs unavailable: 500" in diagnosis

    # A log read that fails once is retried soon: the diagnosis has the lines.
    sim.faults.clear()
    sim.faults.add(f"error:403;namespace={namespace};resources=events")
    sim.faults.add(f"error:500;verbs=get;namespace={namespace};resources=pods;times=2")
    proc = watch(sim, namespace, "--timeout", "60s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    diagnosis = proc.stdout[proc.stdout.index("FAILED:"):]
    assert "| panic: cannot reach the orders db" in diagnosis
