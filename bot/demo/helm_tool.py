"""The real helm, as the demo runs it: against the Kubernetes stand-in, with its own helm home (repositories,
cache) in the demo's temporary directory, so two demos and the user's own helm never see each other.

The bot's `HelmCli(helm_home=...)` uses the same home layout (`cache`, `config`, `data`), so a repository
added here is the bot's too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot.demo.errors import DemoError


class HelmTool:
    def __init__(self, binary: Path, kubeconfig: Path, home: Path) -> None:
        self.binary, self.kubeconfig, self.home = binary, kubeconfig, home

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }

    def run(self, *args: str, timeout: float = 120) -> str:
        """helm with these arguments; its stdout, or a DemoError with the last lines helm wrote."""
        try:
            proc = subprocess.run(
                [str(self.binary), *args],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DemoError(f"helm {args[0]} could not run: {type(exc).__name__}") from None
        if proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise DemoError(f"helm {args[0]} failed: {' / '.join(said) or f'exit {proc.returncode}'}")
        return proc.stdout
