"""Assertions every rendered Slack message must pass: our own `validate_message`, and slack_sdk's block
models as a second, independent reading of the limits."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.blocks import validate_message
from bot.slack.render import LogFile, SlackMessage


def assert_valid(message: SlackMessage | LogFile | None) -> None:
    if message is None or isinstance(message, LogFile):
        return
    assert validate_message(message.blocks, message.text) == []
    for block in message.blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
    if message.file is not None:
        assert message.file.content and message.file.filename.endswith(".log")


def texts(message: SlackMessage) -> str:
    """Every text the message shows, in order, one per line (to assert on wording)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return "\n".join(out)


def buttons(message: SlackMessage) -> dict[str, dict[str, Any]]:
    return {e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]}
