"""The demo's world: the people, the #deploys channel, the releases and the bot's configuration for them.

Chosen so that every story of the tour works: alice may deploy everything; bob may deploy and is the
approver of the protected `ledger`; carol reads along without permission to deploy. `shop` lets people set
the values that switch its behaviour (migration.fail, web.crash, ...); `hazard` upgrades from chart 1.0.0 to
2.0.0 (the ConfigMap turned into a hook); `ledger` needs a second person for every deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.demo.chart_repo import REPO_NAME

DEPLOYS = "C0DEPLOYS"


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    real_name: str


ALICE = Person("U0ALICE", "alice", "Alice (deployer)")
BOB = Person("U0BOB", "bob", "Bob (deployer, approves ledger)")
CAROL = Person("U0CAROL", "carol", "Carol (reads along, may not deploy)")
GUIDE = Person("U0GUIDE", "guide", "Tour guide")
PEOPLE = (ALICE, BOB, CAROL)


@dataclass(frozen=True)
class DemoRelease:
    name: str
    chart: str  # the chart's name in the demo repository
    version: str  # installed (with the chart's own values: short durations) before the bot starts
    protected: bool = False


RELEASES = (
    DemoRelease("shop", "shop", "1.0.0"),
    DemoRelease("hazard", "hazard", "1.0.0"),
    DemoRelease("ledger", "ledger", "1.0.0", protected=True),
)
SHOP_VALUES = ["web.*", "migration.*", "backup.*", "restore.*"]


def namespace_of(release: DemoRelease) -> str:
    return release.name


def bot_config_text(*, api_url: str, kubeconfig: Path, state_db: Path, helm: Path) -> str:
    """The bot's configuration (YAML, read by bot.config.parse_config like any helmbot.yaml)."""
    releases = []
    for release in RELEASES:
        entry: dict[str, object] = {
            "name": release.name,
            "namespace": namespace_of(release),
            "chart": f"{REPO_NAME}/{release.chart}",
            "channel": DEPLOYS,
            "deployers": [ALICE.id, BOB.id],
        }
        if release.name == "shop":
            entry["allowed_values"] = SHOP_VALUES
        if release.protected:
            entry.update(protected=True, approvers=[BOB.id])
        releases.append(entry)
    doc = {
        "slack": {"mode": "http", "api_url": api_url, "port": 0, "host": "127.0.0.1"},
        "helm": {"binary": str(helm)},
        "state": {"url": f"sqlite:///{state_db}"},
        "clusters": {"demo": {"kubeconfig": str(kubeconfig)}},
        "defaults": {
            "helm_timeout": "5m",  # what helm --wait would wait for; the bot's verdicts come long before
            "track_timeout": "10m",
            "poll_interval": "1s",
            "config_error_grace": "5s",
            "approval_ttl": "30m",
        },
        "releases": releases,
        "log": {"level": "info"},
    }
    return yaml.safe_dump(doc, sort_keys=False)
