"""Releases changed outside helmbot (CI, a laptop): one passive notice per revision, followed to its verdict
by the same tracker, with the same updates in place."""

from __future__ import annotations

from typing import Any

from tests.bot.support import DEPLOY_CHANNEL, BotLauncher, parents, release, text_of, wait_for
from tests.e2e.support import SHOP


def test_install_and_crash_looping_upgrade_made_elsewhere(
    bots: BotLauncher, namespace: str, sim: Any
) -> None:
    bot = bots.start(bots.config([release(namespace)]))
    wait_for(lambda: "looked at the releases" in bot.logs(), "the bot's first look at Helm", bot)
    sim.helm(
        "install", "shop", SHOP, "-n", namespace, "--set", "migration.durationSeconds=0.5", "--timeout", "60s"
    )
    first = wait_for(
        lambda: next((p for p in parents(bots.slack) if "Succeeded" in text_of(p)), None),
        "the install's notice to succeed",
        bot,
        timeout=90,
    )
    assert "outside helmbot" in text_of(first) or "helm CLI" in text_of(first), text_of(first)
    sim.helm(
        "upgrade",
        "shop",
        SHOP,
        "-n",
        namespace,
        "--set",
        "migration.durationSeconds=0.5",
        "--set",
        "web.crash=true",
        "--timeout",
        "60s",
    )
    second = wait_for(
        lambda: next((p for p in parents(bots.slack) if "Failed" in text_of(p)), None),
        "the crash-looping upgrade's notice to fail",
        bot,
        timeout=90,
    )
    in_thread = lambda: bots.slack.thread(DEPLOY_CHANNEL, second["ts"])  # noqa: E731
    wait_for(lambda: any("CrashLoopBackOff" in text_of(m) for m in in_thread()), "the crash loop's reply",
             bot)
    assert len(parents(bots.slack)) == 2, "exactly one parent message per revision"


def test_api_trouble_on_both_sides_fakes_no_verdict_and_loses_no_notice(
    bots: BotLauncher, namespace: str, sim: Any
) -> None:
    """A troubled control plane (500s, dropped watches, 410 Gone) and a rate-limited, flaky Slack while a
    crash-looping upgrade made elsewhere rolls out: the verdict is the true one, the notices are complete
    and none is doubled."""
    bot = bots.start(bots.config([release(namespace)]))
    wait_for(lambda: "looked at the releases" in bot.logs(), "the bot's first look at Helm", bot)
    sim.faults.add(f"error:500;verbs=list;namespace={namespace};times=3")
    sim.faults.add(f"drop-watch;after=2;namespace={namespace};times=12")
    sim.faults.add(f"gone;after=4;namespace={namespace};resources=pods;times=2")
    bots.slack.storm(3, method="chat.postMessage", retry_after=1)
    bots.slack.fault("chat.update", 503, times=3)
    sim.helm(
        "install",
        "shop",
        SHOP,
        "-n",
        namespace,
        "--set",
        "migration.durationSeconds=0.5",
        "--set",
        "web.crash=true",
        "--timeout",
        "60s",
    )
    failed = wait_for(
        lambda: next((p for p in parents(bots.slack) if "failed" in text_of(p).split("\n")[0]), None),
        "the crash loop's verdict",
        bot,
        timeout=120,
    )
    assert len(parents(bots.slack)) == 1

    def replies() -> list[str]:
        thread = bots.slack.thread(DEPLOY_CHANNEL, failed["ts"])
        return [text_of(m) for m in thread if m["ts"] != failed["ts"]]

    # the thread is delivered after the parent's update (paced, and through the 429 storm): wait for the
    # failure's reply and the closing timeline, then nothing may be missing or doubled
    wait_for(lambda: any("CrashLoopBackOff" in t for t in replies()) and any("timeline" in t.lower() for t in
             replies()), "the failure and the timeline in the thread", bot, timeout=60)
    thread = replies()
    assert len(thread) == len(set(thread)), thread
    assert not any("Succeeded" in text_of(p) for p in parents(bots.slack))
