"""A promotion's parent card names its source revision and links that revision's own message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.slack.render import DeployCard, render_parent

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LINK = "https://helmbot.slack.com/archives/C0STAGING/p1700000000123456"


def card(**kwargs: object) -> DeployCard:
    base: dict[str, object] = {
        "deploy_id": "d1",
        "release_label": "shop (prod)",
        "namespace": "shop",
        "operation": "upgrade",
        "origin": "slack",
        "requested_by": "U0ALICE",
        "started_at": T0,
        "revision": 4,
        "previous_revision": 3,
        "cluster": "prod",
    }
    base.update(kwargs)
    return DeployCard(**base)  # type: ignore[arg-type]


def test_the_source_revision_is_named_and_linked() -> None:
    message = render_parent(card(promoted_from="shop (staging) revision 7", promoted_link=LINK), None, now=T0)
    text = json.dumps(message.blocks)
    assert f"promoted from <{LINK}|shop (staging) revision 7>" in text
    assert "*Revision*\\n3 \\u2192 4" in text or "3 → 4" in json.dumps(message.blocks, ensure_ascii=False)


@pytest.mark.parametrize("link", [None, "http://evil.example/x", "https://x/<!channel>", "https://a|b"])
def test_without_a_safe_link_the_source_is_named_only(link: str | None) -> None:
    message = render_parent(card(promoted_from="shop (staging) revision 7", promoted_link=link), None, now=T0)
    text = json.dumps(message.blocks)
    assert "promoted from shop (staging) revision 7" in text
    assert "evil" not in text and "<!channel>" not in text


def test_other_deploys_say_nothing_of_promotion() -> None:
    assert "promoted" not in json.dumps(render_parent(card(), None, now=T0).blocks)
