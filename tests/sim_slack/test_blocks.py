"""Block Kit validation: what Slack refuses (with its json-pointer details) and what it accepts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sim.slack.blocks import validate_blocks
from tests.sim_slack.conftest import DEPLOYS


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def button(action_id: str, text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": plain(text), **extra}


def confirm(**override: Any) -> dict[str, Any]:
    return {
        "title": plain("Sure?"),
        "text": {"type": "mrkdwn", "text": "Really"},
        "confirm": plain("Yes"),
        "deny": plain("No"),
        **override,
    }


DEPLOY_MESSAGE: list[dict[str, Any]] = [
    {"type": "header", "text": plain("🚀 Deploy shop 1.2.3 → prod")},
    {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*k{i}*\nv"} for i in range(10)]},
    {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}, "accessory": button("more")},
    {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": "by <@U1>"},
            {"type": "image", "image_url": "https://x/y.png", "alt_text": "icon"},
        ],
    },
    {"type": "divider"},
    {
        "type": "actions",
        "block_id": "b" * 255,
        "elements": [
            button("rollback", "R" * 75, value="v" * 2000, style="danger", confirm=confirm()),
            button("a" * 255, "Logs"),
            {
                "type": "overflow",
                "action_id": "menu",
                "options": [{"text": plain("Promote"), "value": "promote"}],
            },
        ],
    },
    {
        "type": "rich_text",
        "elements": [{"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "$"}]}],
    },
]


def test_a_full_deploy_message_at_every_limit_is_accepted() -> None:
    assert validate_blocks(DEPLOY_MESSAGE) == []
    assert validate_blocks([{"type": "divider"}] * 50) == []


def with_change(path: list[Any], value: Any) -> list[dict[str, Any]]:
    blocks = copy.deepcopy(DEPLOY_MESSAGE)
    node: Any = blocks
    for key in path[:-1]:
        node = node[key]
    if isinstance(node, list) and path[-1] == len(node):
        node.append(value)
    else:
        node[path[-1]] = value
    return blocks


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            [0, "text", "text"],
            "h" * 151,
            "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        ),
        ([0, "text", "type"], "mrkdwn", "must be a valid enum value [json-pointer:/blocks/0/text/type]"),
        (
            [1, "fields", 10],
            {"type": "mrkdwn", "text": "k"},
            "no more than 10 items allowed [json-pointer:/blocks/1/fields]",
        ),
        (
            [1, "fields", 0, "text"],
            "f" * 2001,
            "must be less than 2001 characters [json-pointer:/blocks/1/fields/0/text]",
        ),
        (
            [2, "text", "text"],
            "x" * 3001,
            "must be less than 3001 characters [json-pointer:/blocks/2/text/text]",
        ),
        ([2, "text", "text"], "", "must be more than 0 characters [json-pointer:/blocks/2/text/text]"),
        (
            [3, "elements"],
            [{"type": "mrkdwn", "text": "c"}] * 11,
            "no more than 10 items allowed [json-pointer:/blocks/3/elements]",
        ),
        (
            [5, "elements"],
            [button(f"b{i}") for i in range(26)],
            "no more than 25 items allowed [json-pointer:/blocks/5/elements]",
        ),
        (
            [5, "elements", 0, "text", "text"],
            "R" * 76,
            "must be less than 76 characters [json-pointer:/blocks/5/elements/0/text/text]",
        ),
        (
            [5, "elements", 0, "value"],
            "v" * 2001,
            "must be less than 2001 characters [json-pointer:/blocks/5/elements/0/value]",
        ),
        (
            [5, "elements", 1, "action_id"],
            "a" * 256,
            "must be less than 256 characters [json-pointer:/blocks/5/elements/1/action_id]",
        ),
        (
            [5, "elements", 1, "action_id"],
            "rollback",
            "duplicate action_id: rollback [json-pointer:/blocks/5/elements/1/action_id]",
        ),
        (
            [2, "accessory", "action_id"],
            "menu",
            "duplicate action_id: menu [json-pointer:/blocks/5/elements/2/action_id]",
        ),
        ([5, "block_id"], "b" * 256, "must be less than 256 characters [json-pointer:/blocks/5/block_id]"),
        (
            [5, "elements", 0, "style"],
            "warning",
            "must be a valid enum value [json-pointer:/blocks/5/elements/0/style]",
        ),
        (
            [5, "elements", 0, "confirm"],
            confirm(title=plain("t" * 101)),
            "must be less than 101 characters [json-pointer:/blocks/5/elements/0/confirm/title/text]",
        ),
        (
            [5, "elements", 0, "confirm"],
            confirm(text={"type": "mrkdwn", "text": "t" * 301}),
            "must be less than 301 characters [json-pointer:/blocks/5/elements/0/confirm/text/text]",
        ),
        (
            [5, "elements", 0, "confirm"],
            confirm(confirm=plain("c" * 31)),
            "must be less than 31 characters [json-pointer:/blocks/5/elements/0/confirm/confirm/text]",
        ),
        (
            [5, "elements", 0, "confirm"],
            {"title": plain("t"), "text": plain("x")},
            "missing required field: confirm [json-pointer:/blocks/5/elements/0/confirm]",
        ),
        ([4, "type"], "fancy", "unsupported type: fancy [json-pointer:/blocks/4/type]"),
        ([4, "colour"], "red", "invalid additional property: colour [json-pointer:/blocks/4]"),
        (
            [5, "elements", 2, "options"],
            [{"text": plain("o"), "value": str(i)} for i in range(6)],
            "no more than 5 items allowed [json-pointer:/blocks/5/elements/2/options]",
        ),
        ([2], {"type": "section"}, "must define either `text` or `fields` [json-pointer:/blocks/2/type]"),
        ([4], "divider", "must provide an object [json-pointer:/blocks/4]"),
    ],
)
def test_what_slack_refuses(path: list[Any], value: Any, expected: str) -> None:
    assert expected in validate_blocks(with_change(path, value))


def test_block_ids_are_unique_and_blocks_at_most_fifty() -> None:
    twice = [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}]
    assert validate_blocks(twice) == ["duplicate block_id: x [json-pointer:/blocks/1/block_id]"]
    assert validate_blocks([{"type": "divider"}] * 51) == [
        "no more than 50 items allowed [json-pointer:/blocks]"
    ]


def test_the_api_answers_invalid_blocks_with_the_details(client: WebClient) -> None:
    bad = [{"type": "header", "text": plain("h" * 151)}]
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel=DEPLOYS, text="t", blocks=bad)
    data = caught.value.response.data
    assert data["error"] == "invalid_blocks"
    assert data["errors"] == ["must be less than 151 characters [json-pointer:/blocks/0/text/text]"]
    assert data["response_metadata"]["messages"] == [f"[ERROR] {data['errors'][0]}"]
    posted = client.chat_postMessage(channel=DEPLOYS, text="ok", blocks=DEPLOY_MESSAGE)
    with pytest.raises(SlackApiError) as caught:
        client.chat_update(channel=DEPLOYS, ts=posted["ts"], text="t", blocks=bad)
    assert caught.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as caught:
        client.api_call("chat.postMessage", params={"channel": DEPLOYS, "text": "t", "blocks": "[{oops"})
    assert caught.value.response["error"] == "invalid_blocks_format"


def test_stored_blocks_are_what_slack_returns(client: WebClient) -> None:
    sent = [{"type": "actions", "elements": [{"type": "button", "text": plain("Go")}]}]
    stored = client.chat_postMessage(channel=DEPLOYS, text="t", blocks=sent)["message"]["blocks"]
    assert stored[0]["block_id"] and stored[0]["elements"][0]["action_id"]
    assert stored[0]["elements"][0]["text"] == {"type": "plain_text", "text": "Go", "emoji": True}
