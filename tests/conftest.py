"""Shared fixtures: the real helm/kubectl binaries and a running Kubernetes stand-in.

`sim` is one Cluster per test session; tests isolate themselves with the `namespace` fixture. Faults are
cleared after every test that used `sim`.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import settings

from bot.sim.binaries import Binaries, ensure_binaries
from bot.sim.cluster import Cluster
from bot.sim.faults import Faults
from bot.sim.store import Store


# Property tests explore the same examples on every run: a failure found once is found again, never a flake.
settings.register_profile("helmbot", derandomize=True, database=None)
settings.load_profile("helmbot")


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    return ensure_binaries()


@dataclass
class Sim:
    cluster: Cluster
    kubeconfig: Path
    home: Path
    _binaries: Binaries | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def store(self) -> Store:
        return self.cluster.store

    @property
    def faults(self) -> Faults:
        return self.cluster.faults

    @property
    def env(self) -> dict[str, str]:
        """Environment for helm/kubectl: everything points into the session's tmp dir, never ~/.kube."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.home / "kube-cache"),
            "HELM_CACHE_HOME": str(self.home / "helm-cache"),
            "HELM_CONFIG_HOME": str(self.home / "helm-config"),
            "HELM_DATA_HOME": str(self.home / "helm-data"),
        }

    def _run(
        self, tool: Path, args: tuple[str, ...], check: bool, timeout: float, input: str | None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(tool), *args], env=self.env, capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{tool.name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def _bins(self) -> Binaries:
        if self._binaries is None:
            self._binaries = ensure_binaries()
        return self._binaries

    def helm(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run(self._bins().helm, args, check, timeout, input)

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run(self._bins().kubectl, args, check, timeout, input)

    def popen(self, tool: str, *args: str, output: Path | None = None) -> subprocess.Popen[str]:
        """A long-running helm/kubectl (e.g. `get -w`); the caller terminates it.

        With `output`, stdout and stderr go to that file, so a test can poll it while the process runs.
        """
        path = self._bins().helm if tool == "helm" else self._bins().kubectl
        if output is None:
            return subprocess.Popen(
                [str(path), *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        with output.open("w") as sink:
            return subprocess.Popen(
                [str(path), *args], env=self.env, stdout=sink, stderr=subprocess.STDOUT, text=True
            )


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    home = tmp_path_factory.mktemp("sim-home")
    cluster = Cluster(port=0, pod_grace_seconds=0.5)
    cluster.start()
    kubeconfig = cluster.write_kubeconfig(home / "kubeconfig")
    try:
        yield Sim(cluster=cluster, kubeconfig=kubeconfig, home=home)
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def _clear_sim_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").faults.clear()


@pytest.fixture
def namespace(sim: Sim, request: pytest.FixtureRequest) -> str:
    """A fresh namespace in `sim`, named after the test."""
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{base}-{secrets.token_hex(3)}"
    sim.store.create("/namespaces", {"metadata": {"name": name}})
    return name
