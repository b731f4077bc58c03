"""Surviving restarts: kill -9 mid-deploy, SIGTERM, and releases changed while the bot was down."""

from __future__ import annotations

import signal
import time
from typing import Any

from tests.bot.support import (
    ALICE,
    DEPLOY_CHANNEL,
    BotLauncher,
    parents,
    release,
    text_of,
    wait_for,
)
from tests.e2e.support import SHOP


def _verdict(bots: BotLauncher, word: str) -> dict[str, Any] | None:
    found = parents(bots.slack)
    return found[-1] if found and word in text_of(found[-1]) else None


def _replies(bots: BotLauncher, parent: dict[str, Any]) -> list[str]:
    return [text_of(m) for m in bots.slack.thread(DEPLOY_CHANNEL, parent["ts"]) if m["ts"] != parent["ts"]]


def test_kill_9_mid_deploy_then_the_same_thread_continues(bots: BotLauncher, namespace: str) -> None:
    config = bots.config([release(namespace)])
    bot = bots.start(config)
    status, body = bot.command(ALICE, "/deploy", "shop migration.durationSeconds=6")
    assert status == 200 and "started" in body, body
    # the parent is posted and the migration hook is running: now the bot dies without a word
    wait_for(lambda: parents(bots.slack), "the parent message", bot)
    wait_for(lambda: "shop-migrate" in text_of(parents(bots.slack)[0]), "the migration on the card", bot)
    assert bot.stop(signal.SIGKILL) == -signal.SIGKILL
    again = bots.start(config, name="bot-again")
    parent = wait_for(lambda: _verdict(bots, "Succeeded"), "the verdict after the restart", again, timeout=90)
    assert len(parents(bots.slack)) == 1, "no second parent message"
    replies = _replies(bots, parent)
    assert len(replies) == len(set(replies)), f"a thread reply was repeated: {replies}"
    assert sum("Succeeded" in r or "succeeded in" in r for r in replies if "revision" in r) <= 1


def test_sigterm_stops_cleanly_and_quickly(bots: BotLauncher, namespace: str) -> None:
    bot = bots.start(bots.config([release(namespace)]))
    bot.command(ALICE, "/deploy", "shop migration.durationSeconds=5")
    wait_for(lambda: parents(bots.slack), "the parent message", bot)
    started = time.monotonic()
    assert bot.stop(signal.SIGTERM, timeout=20) == 0, bot.logs()[-3000:]
    assert time.monotonic() - started < 20
    assert "stopped" in bot.logs()


def test_upgrade_made_while_the_bot_was_down_is_announced_once(bots: BotLauncher, namespace: str,
                                                                sim: Any) -> None:
    config = bots.config([release(namespace)])
    sim.helm("install", "shop", SHOP, "-n", namespace, "--set", "migration.durationSeconds=0.5", "--wait",
             "--timeout", "60s")
    bot = bots.start(config)
    # the first start only remembers what exists: no announcement of history
    wait_for(lambda: "looked at the releases" in bot.logs(), "the first look at Helm", bot)
    bot.stop()
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--set", "migration.durationSeconds=0.5",
             "--set", "web.replicas=2", "--description", "upgraded by CI", "--timeout", "60s")
    again = bots.start(config, name="bot-again")
    parent = wait_for(lambda: _verdict(bots, "Succeeded"), "the caught-up revision's verdict", again,
                      timeout=90)
    assert "restart" in text_of(parent) or "caught up" in text_of(parent), text_of(parent)
    assert len(parents(bots.slack)) == 1
    again.stop()
    third = bots.start(config, name="bot-third")
    wait_for(lambda: "looked at the releases" in third.logs(), "the third start's look at Helm", third)
    assert len(parents(bots.slack)) == 1, "announced once, not again on the next restart"
