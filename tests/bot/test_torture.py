"""The restart torture: kill -9 at (seeded) random moments across several deploys, and still every revision
has exactly one parent message and one verdict, and no thread reply is posted twice."""

from __future__ import annotations

import json
import random
import signal
import time
from typing import Any

from tests.bot.support import ALICE, DEPLOY_CHANNEL, BotLauncher, parents, release, text_of, wait_for

KILLS = 20
DEPLOYS = 4
FINAL = ("✅", "❌", "⌛")   # the parent's title once it has a verdict


def _finished(bots: BotLauncher) -> int:
    return sum(1 for p in parents(bots.slack) if text_of(p).startswith(FINAL))


def test_twenty_kill_9_across_deploys(bots: BotLauncher, namespace: str, sim: Any) -> None:
    rng = random.Random(20261130)
    config = bots.config([release(namespace)])
    bot = bots.start(config, name="bot-0")
    kills = deploys = 0
    while deploys < DEPLOYS or kills < KILLS:
        fail = deploys % 3 == 2   # a failing migration now and then
        values = f"migration.durationSeconds=4 migration.fail={'true' if fail else 'false'}"
        status, body = bot.command(ALICE, "/deploy", f"shop {values}")
        assert status == 200 and "started" in body, body
        deploys += 1
        while _finished(bots) < deploys:
            if kills >= KILLS:
                wait_for(lambda d=deploys: _finished(bots) >= d, f"deploy {deploys}'s verdict", bot, timeout=120)
                break
            time.sleep(rng.uniform(0.1, 2.0))   # a random moment of the deploy (seeded)
            bot.stop(signal.SIGKILL)
            kills += 1
            bot = bots.start(config, name=f"bot-{kills}")
    history = json.loads(sim.helm("history", "shop", "-n", namespace, "-o", "json").stdout)
    assert len(history) == deploys
    all_parents = parents(bots.slack)
    titles = [text_of(p).split("\n")[0] for p in all_parents]
    assert len(all_parents) == deploys, titles           # one parent per revision, none twice
    for entry in history:
        assert sum(f"revision {entry['revision']}" in t for t in titles) == 1, (entry["revision"], titles)
    for parent in all_parents:
        replies = [text_of(m) for m in bots.slack.thread(DEPLOY_CHANNEL, parent["ts"]) if m["ts"] != parent["ts"]]
        assert len(replies) == len(set(replies)), f"a reply was posted twice: {replies}"
        assert text_of(parent).startswith(FINAL), "every revision has its verdict"
