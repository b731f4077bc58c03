"""`/deploy` and `/rollback` end to end: signed requests from the Slack stand-in, the bot as a process,
the real helm against the Kubernetes stand-in, and what a channel sees."""

from __future__ import annotations

import json
from typing import Any

from tests.bot.support import ALICE, DEPLOY_CHANNEL, BotLauncher, parents, release, text_of, wait_for


def test_healthy_deploy_one_parent_updated_to_success(bots: BotLauncher, namespace: str, sim: Any) -> None:
    bot = bots.start(bots.config([release(namespace)]))
    status, body = bot.command(ALICE, "/deploy", "shop migration.durationSeconds=1")
    assert status == 200, body
    assert "started" in body and "shop" in body, body

    def done() -> dict[str, Any] | None:
        found = parents(bots.slack)
        return found[0] if found and "Succeeded" in text_of(found[0]) else None

    parent = wait_for(done, "the parent message to say Succeeded", bot, timeout=90)
    assert len(parents(bots.slack)) == 1
    thread = bots.slack.thread(DEPLOY_CHANNEL, parent["ts"])
    replies = [text_of(m) for m in thread if m["ts"] != parent["ts"]]
    assert any("shop-migrate" in r for r in replies), replies  # the migration hook, in the thread
    assert any("Succeeded" in r or "succeeded" in r for r in replies), replies
    out = sim.helm("history", "shop", "-n", namespace, "-o", "json").stdout
    history = json.loads(out)
    description = history[-1]["description"]  # helm history tells who deployed, which request, from where
    assert description.startswith("helmbot upgrade ") and f"by {ALICE} in {DEPLOY_CHANNEL}" in description
    assert bots.slack.calls_to("chat.update"), "the parent is updated in place"
