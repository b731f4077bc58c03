"""End-to-end helpers: run `python -m bot watch` as a CI pipeline would; the example charts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import bot.sim

REPO = Path(__file__).resolve().parents[2]
CHARTS = Path(bot.sim.__file__).parent / "charts"
SHOP = str(CHARTS / "shop")
TOKEN = "helmbot-sim-token"


def watch(sim: Any, namespace: str, *args: str, release: str = "shop", timeout: float = 60,
          kubeconfig: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bot", "watch", release, "--namespace", namespace,
           "--kubeconfig", str(kubeconfig or sim.kubeconfig), "--config-error-grace", "2s", *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(sim.home)})
    assert TOKEN not in proc.stdout + proc.stderr, "the kubeconfig token must never be printed"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def install(sim: Any, namespace: str, *values: str) -> None:
    sets = [a for v in values for a in ("--set", v)]
    sim.helm("install", "shop", SHOP, "-n", namespace, "--set", "web.replicas=2", *sets, "--wait",
             "--timeout", "60s")


