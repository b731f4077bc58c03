"""Fixtures: a Slack stand-in with three people in #deploys, the tiny Bolt bot, and the demo's web server
over them and the session's Kubernetes stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.demo import DemoWebServer
from bot.sim.slack import SlackStandIn
from tests.conftest import Sim
from tests.demo.browser import launch_browser
from tests.demo.tinybot import TinyBot

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
DEPLOYS, GENERAL = "C0DEPLOYS", "C0GENERAL"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from launch_browser()


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(ack_timeout=10.0) as sim:
        sim.add_user(ALICE, "alice", real_name="Alice Deployer")
        sim.add_user(BOB, "bob", real_name="Bob Approver")
        sim.add_user(CAROL, "carol", real_name="Carol Viewer")
        sim.add_channel(DEPLOYS, "deploys", members=[ALICE, BOB, CAROL], bot_member=True)
        sim.add_channel(GENERAL, "general", members=[ALICE, BOB])
        yield sim


@pytest.fixture
def bot(slack: SlackStandIn) -> Iterator[TinyBot]:
    tiny = TinyBot(slack)
    yield tiny
    tiny.stop()


@pytest.fixture
def demo(slack: SlackStandIn, bot: TinyBot, sim: Sim) -> Iterator[DemoWebServer]:
    with DemoWebServer(slack, bot.url, sim.kubeconfig, poll_interval=0.2) as server:
        yield server


def create_deployment(sim: Sim, namespace: str, name: str, *, replicas: int, image: str) -> None:
    """A Deployment straight into the Kubernetes stand-in's store (its controllers make the pods)."""
    labels = {"app": name}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": image}]}}
    sim.store.create(
        "apps/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
        },
    )
