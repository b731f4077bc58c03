"""A local Helm chart repository for the demo, so `/deploy shop 1.1.0` really deploys chart 1.1.0.

The example charts live in the package as directories of one version each; here they are packaged at the
versions the tour uses (`helm package --version`; shop's image tag follows the version), indexed, served on
loopback and added to the demo's helm home as the repository `demo`.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from bot.demo.errors import DemoError
from bot.demo.helm_tool import HelmTool

REPO_NAME = "demo"


@dataclass(frozen=True)
class Packaged:
    """One chart directory of the package, at these versions."""

    source: str  # path under bot/sim/charts
    versions: tuple[str, ...]
    image_tag: str | None = None  # text in values.yaml replaced by the version (the app's image tag)
    edits: tuple[tuple[str, str], ...] = ()  # (old, new) texts of values.yaml


# shop's migration is a plain Job in the release (not a hook): Helm applies it with the Deployment, whose new
# pods wait in Init until it is done, and Helm calls the release deployed long before it is.
SHOP_EDITS = (("\n  hook: true ", "\n  hook: false"),)
CHARTS = (
    Packaged("shop", ("1.0.0", "1.1.0", "1.2.0", "1.3.0"), image_tag=":1.0.0", edits=SHOP_EDITS),
    Packaged("hazard/v1", ("1.0.0",)),
    Packaged("hazard/v2", ("2.0.0",)),
    Packaged("ledger", ("1.0.0", "1.1.0"), image_tag=":1.0.0"),
)


def charts_dir() -> Path:
    return Path(str(resources.files("bot.sim") / "charts"))


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ChartRepo:
    """Package, index and serve the example charts; `start()` also runs `helm repo add demo URL`."""

    def __init__(self, helm: HelmTool, workdir: Path, charts: tuple[Packaged, ...] = CHARTS) -> None:
        self.helm, self.charts = helm, charts
        self.root = workdir / "chart-repo"
        self._build = workdir / "chart-build"
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> ChartRepo:
        self.root.mkdir(parents=True, exist_ok=True)
        for chart in self.charts:
            for version in chart.versions:
                self._package(chart, version)
        handler = partial(_QuietFiles, directory=str(self.root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="demo-charts", daemon=True).start()
        self.helm.run("repo", "index", str(self.root), "--url", self.url)
        self.helm.run("repo", "add", REPO_NAME, self.url, "--force-update")
        return self

    def _package(self, chart: Packaged, version: str) -> None:
        copy = self._build / chart.source.replace("/", "-") / version
        shutil.copytree(charts_dir() / chart.source, copy, dirs_exist_ok=True)
        values = copy / "values.yaml"
        text = values.read_text()
        edits = (*chart.edits, (chart.image_tag, f":{version}")) if chart.image_tag else chart.edits
        for old, new in edits:
            if old not in text:
                raise DemoError(f"the example chart {chart.source} changed: no {old.strip()!r} in its values")
            text = text.replace(old, new)
        values.write_text(text)
        self.helm.run(
            "package", str(copy), "--version", version, "--app-version", version, "-d", str(self.root)
        )

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
