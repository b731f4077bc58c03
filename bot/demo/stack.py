"""Everything the demo runs, on one machine, in one process: the Kubernetes stand-in, a chart repository,
the Slack stand-in with the demo's workspace, and the whole bot (HTTP mode, signed requests, SQLite in a
temporary directory), with the example releases installed before the bot starts.

Started in dependency order, stopped in reverse; every port is chosen by the system and every file lives in
the demo's own temporary directory, so two demos run side by side.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.config import parse_config
from bot.demo.chart_repo import REPO_NAME, ChartRepo
from bot.demo.errors import DemoError
from bot.demo.helm_runs import end_helm_runs
from bot.demo.helm_tool import HelmTool
from bot.demo.workspace import (
    DEPLOYS,
    GUIDE,
    PEOPLE,
    RELEASES,
    DemoRelease,
    bot_config_text,
    namespace_of,
)
from bot.runtime.bot import BotRuntime
from bot.sim.binaries import ensure_binaries
from bot.sim.cluster import Cluster
from bot.sim.slack import SlackStandIn

log = logging.getLogger("helmbot.demo")


class DemoStack:
    """`start()` brings everything up (a DemoError says which part could not); `stop()` is idempotent."""

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        with_guide: bool = False,
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="helmbot-demo-"))
        self.with_guide = with_guide
        self.progress = progress
        self.cluster: Cluster | None = None
        self.slack: SlackStandIn | None = None
        self.runtime: BotRuntime | None = None
        self._helm: HelmTool | None = None
        self._stops: list[Callable[[], None]] = []

    # -- parts, once started ------------------------------------------------------------------------

    @property
    def helm(self) -> HelmTool:
        assert self._helm is not None, "start() first"
        return self._helm

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def bot_url(self) -> str:
        assert self.runtime is not None and self.runtime.port is not None, "start() first"
        return f"http://127.0.0.1:{self.runtime.port}/slack/events"

    @property
    def channel(self) -> str:
        return DEPLOYS

    def standin(self) -> SlackStandIn:
        assert self.slack is not None, "start() first"
        return self.slack

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> DemoStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.progress("starting the Kubernetes stand-in")
        binaries = ensure_binaries()
        cluster = Cluster().start()
        self._stops.append(cluster.stop)
        self.cluster = cluster
        cluster.write_kubeconfig(self.kubeconfig)
        self._helm = HelmTool(binaries.helm, self.kubeconfig, self.workdir / "helm")

        self.progress("packaging the example charts into a local chart repository")
        self._stops.append(ChartRepo(self.helm, self.workdir).start().stop)

        self.progress(f"installing {', '.join(r.name for r in RELEASES)}")
        with ThreadPoolExecutor(len(RELEASES)) as pool:
            list(pool.map(self._install, RELEASES))  # each waits for its pods: side by side is faster

        self.progress("starting the Slack stand-in and the bot")
        slack = SlackStandIn().start()
        self._stops.append(slack.stop)
        self.slack = slack
        for person in (*PEOPLE, GUIDE) if self.with_guide else PEOPLE:
            slack.add_user(person.id, person.name, real_name=person.real_name)
        members = [p.id for p in PEOPLE] + ([GUIDE.id] if self.with_guide else [])
        slack.add_channel(DEPLOYS, "deploys", members=members, bot_member=True)

        text = bot_config_text(
            api_url=slack.api_url,
            kubeconfig=self.kubeconfig,
            state_db=self.workdir / "state" / "helmbot.db",
            helm=binaries.helm,
        )
        (self.workdir / "state").mkdir(exist_ok=True)
        config = parse_config(text, source="demo config")
        env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": slack.signing_secret}
        runtime = BotRuntime(config, env=env, helm_home=str(self.helm.home)).build()
        self._stops.append(lambda: self._end_helm_runs(binaries.helm))  # once the bot has stopped
        self._stops.append(runtime.stop)
        self.runtime = runtime
        runtime.start()
        if runtime.port is None:
            raise DemoError("the bot did not open its HTTP port")

    def _install(self, release: DemoRelease) -> None:
        self.helm.run(
            "install", release.name, f"{REPO_NAME}/{release.chart}", "--version", release.version,
            "--namespace", namespace_of(release), "--create-namespace", "--wait", "--timeout", "2m",
        )  # fmt: skip

    def _end_helm_runs(self, helm: Path) -> None:
        ended = end_helm_runs(helm)
        if ended:
            log.info("ended %d helm run(s) of the bot: the cluster goes away with the demo", len(ended))

    def stop(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.warning("stopping a part of the demo failed", exc_info=True)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
