"""One readable file per scenario with every message the bot would send, in Block Kit Builder's shape
(`{"blocks": [...]}`), so a person can paste them into https://app.slack.com/block-kit-builder and look.

Written to tests/slack/artifacts/ (git-ignored). The test also checks each message once more, so a file is
only written for messages Slack would accept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.slack.render import LogFile, SlackMessage, render_parent, render_thread_reply, render_timeline_reply
from tests.slack import scenarios as sc
from tests.slack.checks import assert_valid

ARTIFACTS = Path(__file__).parent / "artifacts"


def _entry(label: str, message: SlackMessage | LogFile) -> dict[str, Any]:
    assert_valid(message)
    if isinstance(message, LogFile):
        return {"label": label, "file": {"filename": message.filename, "title": message.title}}
    entry: dict[str, Any] = {"label": label, "text": message.text, "broadcast": message.broadcast,
                             "blocks": message.blocks}
    if message.file is not None:
        entry["file"] = {"filename": message.file.filename, "title": message.file.title}
    return entry


@pytest.mark.parametrize("make", sc.ALL, ids=lambda f: f.__name__)
def test_write_every_message_of_a_scenario_for_block_kit_builder(make: Callable[[], sc.Recorded]) -> None:
    rec = make()
    mid_at, mid = rec.summaries[len(rec.summaries) // 2]
    messages = [
        _entry(f"parent while in progress (at {mid_at:%H:%M:%S})", render_parent(rec.card, mid, now=mid_at)),
        _entry("parent at the verdict", render_parent(rec.card, rec.final, now=rec.now)),
    ]
    for index, event in enumerate(rec.events):
        reply = render_thread_reply(rec.card, event, now=event.at, earlier=rec.events[:index])
        if reply is not None:
            messages.append(_entry(f"thread reply to {event.type.value} (at {event.at:%H:%M:%S})", reply))
    timeline = render_timeline_reply(rec.card, rec.final, now=rec.now)
    assert timeline is not None
    messages.append(_entry("thread reply: the rollout timeline", timeline))

    folder = ARTIFACTS / rec.name
    folder.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{rec.name}.json").write_text(
        json.dumps({"scenario": rec.name, "messages": messages}, indent=2, ensure_ascii=False))
    for number, entry in enumerate(messages, 1):  # each pastes into Block Kit Builder as it is
        if "blocks" in entry:
            slug = re.sub(r"[^a-z0-9]+", "-", entry["label"].lower()).strip("-")
            (folder / f"{number:02d}-{slug}.json").write_text(
                json.dumps({"blocks": entry["blocks"]}, indent=2, ensure_ascii=False))
    written = json.loads((ARTIFACTS / f"{rec.name}.json").read_text())
    assert written["messages"][1]["blocks"][0]["type"] == "header"
    assert any(m["label"].startswith("thread reply to verdict") for m in written["messages"])
