"""Releases changed outside helmbot (CI, a laptop): one passive notice per revision, followed to its verdict
by the same tracker, with the same updates in place."""

from __future__ import annotations

from typing import Any

from tests.bot.support import DEPLOY_CHANNEL, BotLauncher, parents, release, text_of, wait_for
from tests.e2e.support import SHOP


def test_install_and_crash_looping_upgrade_made_elsewhere(bots: BotLauncher, namespace: str,
                                                           sim: Any) -> None:
    bot = bots.start(bots.config([release(namespace)]))
    wait_for(lambda: "looked at the releases" in bot.logs(), "the bot's first look at Helm", bot)
    sim.helm("install", "shop", SHOP, "-n", namespace, "--set", "migration.durationSeconds=0.5",
             "--timeout", "60s")
    first = wait_for(lambda: next((p for p in parents(bots.slack) if "Succeeded" in text_of(p)), None),
                     "the install's notice to succeed", bot, timeout=90)
    assert "outside helmbot" in text_of(first) or "helm CLI" in text_of(first), text_of(first)
    sim.helm("upgrade", "shop", SHOP, "-n", namespace, "--set", "migration.durationSeconds=0.5",
             "--set", "web.crash=true", "--timeout", "60s")
    second = wait_for(lambda: next((p for p in parents(bots.slack) if "Failed" in text_of(p)), None),
                      "the crash-looping upgrade's notice to fail", bot, timeout=90)
    thread = "\n".join(text_of(m) for m in bots.slack.thread(DEPLOY_CHANNEL, second["ts"]))
    assert "CrashLoopBackOff" in thread
    assert len(parents(bots.slack)) == 2, "exactly one parent message per revision"
