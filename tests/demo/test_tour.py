"""`helmbot demo --tour` played to the end against the whole demo (no pauses; strict: a story that does not
end as told fails the test), then what it left behind: Helm's history of each release, the channel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.demo.stack import DemoStack
from bot.demo.tour import STORIES, Tour, key_of, text_of
from bot.demo.workspace import BOB, GUIDE

pytestmark = pytest.mark.e2e


def history(stack: DemoStack, release: str) -> list[dict[str, Any]]:
    out = stack.helm.run("history", release, "--namespace", release, "--output", "json")
    return list(json.loads(out))


def test_the_tour_plays_every_story_through_the_real_bot() -> None:
    with DemoStack(with_guide=True) as stack:
        slack = stack.standin()
        missed = Tour(slack, stack.bot_url, stack.helm, pace=0, strict=True).run()
        assert missed == []

        shop = history(stack, "shop")
        versions = ("1.0.0", "1.1.0", "1.2.0", "1.1.0", "1.3.0", "1.3.0")
        assert [r["chart"] for r in shop] == [f"shop-{v}" for v in versions]
        assert shop[3]["description"] == "Rollback to 2"
        assert shop[5]["description"] == "Upgrade by CI pipeline #4711"
        assert [r["chart"] for r in history(stack, "hazard")] == ["hazard-1.0.0"]  # the dry run ran nothing
        ledger = history(stack, "ledger")
        assert [r["chart"] for r in ledger] == ["ledger-1.0.0", "ledger-1.1.0"]

        channel = slack.messages(stack.channel, include_replies=False)
        parents = [text_of(m) for m in channel if key_of(m).startswith("parent:")]
        assert [p[0] for p in parents] == ["✅", "❌", "✅", "❌", "✅", "✅"], parents
        assert "outside helmbot" in parents[4]
        assert "CrashLoopBackOff" in parents[3]
        approval = next(text_of(m) for m in channel if key_of(m).startswith("approval:"))
        assert "Approved" in approval and f"<@{BOB.id}>" in approval, approval
        told = [m for m in channel if m.get("user") == GUIDE.id]
        assert len(told) >= 2 * len(STORIES) + 2  # each story introduced and concluded, a welcome, a goodbye
        assert not any("did not end as told" in text_of(m) for m in told)
