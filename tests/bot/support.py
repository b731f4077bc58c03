"""The bot as a process (`helmbot run`) against the Slack and Kubernetes stand-ins and the real helm."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.sim.binaries import ensure_binaries
from bot.sim.requestlog import Recording
from bot.sim.slack import SlackStandIn, message_text
from tests.bot.rbac_check import BOT_USER, denials
from tests.e2e.support import REPO, SHOP
from tests.polling import poll
from tests.slack_scopes import called_methods, needed_scopes

DEPLOY_CHANNEL = "C0DEPLOYS"
BOLT_METHODS = {"auth.test"}   # Bolt checks the token at start-up
ALICE, BOB, CAROL, MALLORY = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workspace(slack: SlackStandIn) -> None:
    for user, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol"), (MALLORY, "mallory")):
        slack.add_user(user, name)
    slack.add_channel(DEPLOY_CHANNEL, "deploys", members=(ALICE, BOB, CAROL, MALLORY))


def release(namespace: str, **overrides: Any) -> dict[str, Any]:
    doc = {
        "name": "shop",
        "namespace": namespace,
        "chart": SHOP,
        "channel": DEPLOY_CHANNEL,
        "allowed_values": ["web.*", "migration.*", "image"],
        "deployers": [ALICE, BOB],
    }
    doc.update(overrides)
    return doc


@dataclass
class BotProcess:
    proc: subprocess.Popen[str]
    port: int
    log_path: Path
    config_path: Path
    secrets: tuple[str, ...]
    slack: SlackStandIn
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def command(self, user: str, command: str, text: str, channel: str = DEPLOY_CHANNEL) -> tuple[int, str]:
        return self.slack.slash_command(self.url, user, channel, command, text)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        self.stopped = True
        return rc

    def check_no_secrets(self) -> None:
        text = self.logs()
        for secret in self.secrets:
            assert secret not in text, "a secret reached the bot's log"


@dataclass
class BotLauncher:
    """Starts bots that reach Kubernetes as the chart's ServiceAccount (`BOT_USER`, also the user of the helm
    they run); on close, every request they made must be one the chart's default RBAC allows."""

    tmp: Path
    sim: Any
    slack: SlackStandIn
    requests: Recording
    bots: list[BotProcess] = field(default_factory=list)
    configs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        path = self.tmp / "bot.kubeconfig"
        if not path.exists():
            self.sim.cluster.write_kubeconfig(path, user=BOT_USER)
        return path

    def config(self, releases: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        helm = str(ensure_binaries().helm)
        doc: dict[str, Any] = {
            "slack": {
                "mode": "http",
                "api_url": self.slack.api_url,
                "port": free_port(),
                "host": "127.0.0.1",
            },
            "helm": {"binary": helm},
            "state": {"url": f"sqlite:///{self.tmp / 'state' / 'helmbot.db'}"},
            "clusters": {"default": {"kubeconfig": str(self.kubeconfig)}},
            "defaults": {
                "helm_timeout": "2m",
                "track_timeout": "3m",
                "poll_interval": "1s",
                "config_error_grace": "3s",
            },
            "releases": releases,
        }
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(doc.get(key), dict):
                doc[key] = {**doc[key], **value}
            else:
                doc[key] = value
        return doc

    def start(
        self,
        config: dict[str, Any],
        *,
        name: str = "bot",
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
    ) -> BotProcess:
        (self.tmp / "state").mkdir(exist_ok=True)
        if config not in self.configs:
            self.configs.append(config)
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        log_path = self.tmp / f"{name}.log"
        home = self.tmp / "home"
        home.mkdir(exist_ok=True)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "SLACK_SIGNING_SECRET": self.slack.signing_secret,
            "HELM_CACHE_HOME": str(home / "helm-cache"),
            "HELM_CONFIG_HOME": str(home / "helm-config"),
            "HELM_DATA_HOME": str(home / "helm-data"),
            **(env or {}),
        }
        with log_path.open("a") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(path), "--log-level", "debug"],
                cwd=REPO,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        bot = BotProcess(
            proc,
            int(config["slack"]["port"]),
            log_path,
            path,
            (self.slack.bot_token, self.slack.signing_secret),
            self.slack,
        )
        self.bots.append(bot)
        if wait_ready:
            poll(
                lambda: proc.poll() is not None or _listening(bot.port), timeout=30, what="the bot to listen"
            )
            assert proc.poll() is None, bot.logs()
        return bot

    def close(self) -> None:
        for bot in self.bots:
            if not bot.stopped:
                bot.stop()
            bot.check_no_secrets()

    def check_permissions(self) -> None:
        """Every request the bots (and their helm) made is allowed by the chart's RBAC for their config, and
        every Slack Web API method they called is covered by the app manifest's bot scopes."""
        if not self.configs:
            return
        denied = denials(self.configs, self.requests.snapshot(), self.tmp)
        assert not denied, "the chart's RBAC would refuse:\n" + "\n".join(denied)
        methods = {call.method for call in self.slack.calls}
        unseen = methods - set(called_methods()) - BOLT_METHODS
        assert not unseen, f"Web API methods the scan of bot/ does not find (tests/slack_scopes.py): {unseen}"
        manifest = yaml.safe_load((REPO / "config" / "slack-app-manifest.yaml").read_text())
        missing = needed_scopes(methods, features=()) - set(manifest["oauth_config"]["scopes"]["bot"])
        assert not missing, f"the bot called methods needing scopes its manifest lacks: {sorted(missing)}"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def parents(slack: SlackStandIn, channel: str = DEPLOY_CHANNEL) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages(channel, include_replies=False)
        if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")
    ]


text_of = message_text   # everything a person reads in a message


def wait_for(fn: Callable[[], Any], what: str, bot: BotProcess, timeout: float = 60) -> Any:
    try:
        return poll(fn, timeout=timeout, what=what, interval=0.1)
    except AssertionError:
        print(bot.logs()[-8000:])
        raise


def launcher_fixture(tmp_path: Path, sim: Any) -> Iterator[BotLauncher]:
    with SlackStandIn() as slack, sim.cluster.requests.recording(user=BOT_USER) as requests:
        workspace(slack)
        launcher = BotLauncher(tmp_path, sim, slack, requests)
        try:
            yield launcher
        finally:
            launcher.close()
        launcher.check_permissions()


def history(sim: Any, namespace: str, release: str = "shop") -> list[dict[str, Any]]:
    import json

    out = sim.helm("history", release, "-n", namespace, "-o", "json")
    return json.loads(out.stdout if hasattr(out, "stdout") else out)


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                found[element["action_id"]] = element
    return found


def now() -> float:
    return time.monotonic()
