"""Show logs end to end below the Bolt app: the failing container's captured tail goes into the deploy's
thread (inline when short, a file through files_upload_v2 when long), delivered to the Slack stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.app.operations import parent_message
from bot.app.ports import Actor
from bot.app.replies import ReplyKind
from bot.errors import HelmbotError
from bot.runtime.cards import CardMaker
from bot.runtime.logs import LogShower
from bot.sim.slack import SlackStandIn
from bot.slack.delivery import DeliveryWorker, Rendered
from bot.store.records import DeployRecord
from tests.app.support import ALICE, DEPLOYS, T0, Harness, harness

MIGRATE = "shop-migrate-x1/migrate"
BACKUP = "shop-backup-y2/backup"


class NoPods:
    """The pods are gone (a hook Job deleted by its policy): only the captured lines remain."""

    def read_log(self, *args: Any, **kwargs: Any) -> list[str]:
        raise HelmbotError('pods "shop-migrate-x1" not found')


@dataclass
class Setup:
    h: Harness
    slack: SlackStandIn
    shower: LogShower
    delivery: DeliveryWorker

    def failed_deploy(self, migrate_lines: list[str]) -> DeployRecord:
        record = DeployRecord(
            id="d1", cluster="default", namespace="shop", release="shop", environment="staging", revision=2,
            operation="upgrade", requested_by=ALICE, channel=DEPLOYS, status="failed", created_at=T0,
            tracker_state={"tracker": {"logs": {BACKUP: ["pg_dump ok"], MIGRATE: migrate_lines}}},
            last_events=[{"type": "failure", "data": {"kind": "Job", "name": "shop-migrate",
                                                      "pod": "shop-migrate-x1", "container": "migrate"}}],
        )  # fmt: skip
        self.h.store.create_deploy(record, messages=[parent_message(record, T0)])
        self.delivery.run_once()  # the parent is posted
        return record

    def thread(self) -> list[dict[str, Any]]:
        [parent] = self.slack.messages(DEPLOYS, include_replies=False)
        return self.slack.thread(DEPLOYS, parent["ts"])[1:]


@pytest.fixture
def setup() -> Iterator[Setup]:
    with SlackStandIn() as slack:
        slack.add_user(ALICE, "alice")
        slack.add_channel(DEPLOYS, "deploys", members=[ALICE])
        client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
        for h in harness():
            h.cluster.client = NoPods()  # type: ignore[attr-defined]
            h.cluster.add("shop", "shop")
            h.cluster.add("shop", "shop", "failed")
            clusters: dict[str, Any] = {"default": h.cluster}
            cards = CardMaker(config=h.config, queries=h.bot.queries, clusters=clusters)
            delivery = DeliveryWorker(
                client, h.store, lambda r: Rendered("parent", []), post_interval=0, clock=h.bot.clock
            )
            shower = LogShower(
                store=h.store, clusters=clusters, clock=h.bot.clock, wake=lambda: None, cards=cards
            )
            yield Setup(h, slack, shower, delivery)


def test_short_logs_of_the_failing_container_go_inline(setup: Setup) -> None:
    setup.failed_deploy(["Running migrations", 'ERROR: relation "orders" already exists'])
    reply = setup.shower.show("d1", Actor(ALICE))
    assert reply.kind is ReplyKind.ACCEPTED, reply.text
    setup.delivery.run_once()
    [shown] = setup.thread()
    assert "already exists" in str(shown["blocks"]) and "shop-migrate-x1/migrate" in shown["text"]
    assert "pg_dump" not in str(shown)  # the backup container did not fail


def test_long_logs_go_as_a_file_in_the_thread(setup: Setup) -> None:
    lines = [f"step {n}: applying migration" for n in range(400)]
    setup.failed_deploy(lines)
    setup.shower.show("d1", Actor(ALICE))
    setup.delivery.run_once()
    note, shared = setup.thread()  # the line, then the file shared into the same thread
    assert "400 log lines" in note["text"]
    assert setup.slack.calls_to("files.completeUploadExternal")
    files = shared.get("files") or []
    assert files, shared
    content = setup.slack.file(files[0]["id"])["content"].decode()
    assert content.splitlines() == lines


def test_nothing_captured_is_said_so(setup: Setup) -> None:
    setup.failed_deploy([])
    setup.h.store.update_deploy("d1", tracker_state={"tracker": {"logs": {}}})
    reply = setup.shower.show("d1", Actor(ALICE))
    assert reply.kind is ReplyKind.REFUSED and "no log lines" in reply.text
    setup.h.advance(timedelta(seconds=1))
    assert setup.shower.show("nope", Actor(ALICE)).kind is ReplyKind.REFUSED
