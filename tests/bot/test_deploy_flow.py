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
    assert ALICE in history[-1]["description"], history[-1]
    assert bots.slack.calls_to("chat.update"), "the parent is updated in place"


def test_probes_and_metrics_of_a_running_bot(bots: BotLauncher, namespace: str) -> None:
    import urllib.request

    bot = bots.start(bots.config([release(namespace)]))
    base = f"http://127.0.0.1:{bot.port}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as resp:
        assert resp.status == 200
    ready = wait_for(lambda: _get_json(f"{base}/readyz"), "a ready bot", bot)
    assert ready["checks"] == {"store": "ok", "kubernetes:default": "ok", "slack": "ok"}, ready
    bot.command(ALICE, "/deploy", "shop migration.durationSeconds=0.5")
    wait_for(lambda: any("Succeeded" in text_of(p) for p in parents(bots.slack)), "the verdict", bot)
    metrics = wait_for(lambda: (m := _get_text(f"{base}/metrics")) and "helmbot_deploys_total{" in m and m,
                       "the deploy counted", bot)
    assert 'outcome="succeeded"' in metrics and "helmbot_leader 1.0" in metrics
    assert 'helmbot_kube_requests_total{cluster="default",kind="Secret",verb="list"}' in metrics
    assert bots.slack.bot_token not in metrics


def _get_json(url: str) -> dict[str, Any] | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError:
        return None


def _get_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())
