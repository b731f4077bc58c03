"""A tiny real Bolt app served over HTTP, standing in for helmbot while the bot is being built: it answers
`/deploy` with an ephemeral ack, posts a parent message, updates it (once the test opens `gate`), replies in
its thread with a confirm-guarded button and a log file, and answers the button's click."""

from __future__ import annotations

import threading
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.sim.slack import SlackStandIn
from tests.sim_slack.conftest import BoltHTTPServer

SCRIPT_LINE = "<script>window.__xss = 1</script> injected"
LOG_TEXT = "migrating orders\n" + SCRIPT_LINE + '\nERROR: relation "orders" already exists\n'


def parent_blocks(release: str, version: str, state: str) -> list[dict[str, Any]]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"Deploy {release} {version}"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{release}* → `staging` by <@U0ALICE>: _{state}_"},
            "fields": [
                {"type": "mrkdwn", "text": "*Revision*\n2"},
                {"type": "mrkdwn", "text": "*Chart*\nshop-0.1.0"},
            ],
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "helmbot · <https://example.invalid/docs|docs>"}],
        },
    ]


ROLLBACK_BUTTON = {
    "type": "actions",
    "block_id": "controls",
    "elements": [
        {
            "type": "button",
            "action_id": "rollback",
            "text": {"type": "plain_text", "text": "Roll back"},
            "value": "shop",
            "style": "danger",
            "confirm": {
                "title": {"type": "plain_text", "text": "Roll back shop?"},
                "text": {"type": "mrkdwn", "text": "This rolls *shop* back to revision 1."},
                "confirm": {"type": "plain_text", "text": "Roll back"},
                "deny": {"type": "plain_text", "text": "Keep it"},
                "style": "danger",
            },
        },
        {"type": "button", "action_id": "logs", "text": {"type": "plain_text", "text": "Logs"}, "value": "l"},
    ],
}


class TinyBot:
    """`.url` for the stand-in's actor; `.gate` holds the parent's update until the test opens it
    (so "appears, then updates in place" is observable without sleeping); `.parents` the posted ts."""

    def __init__(self, slack: SlackStandIn, *, gated: bool = True) -> None:
        self.web = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
        self.app = App(client=self.web, signing_secret=slack.signing_secret)
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.parents: list[str] = []
        self.done = threading.Event()
        self.app.command("/deploy")(self._deploy)
        self.app.action("rollback")(self._rollback)
        self.app.action("logs")(lambda ack: ack())
        self.server = BoltHTTPServer(self.app)
        self.url = self.server.url

    def stop(self) -> None:
        self.gate.set()
        self.server.stop()

    def _deploy(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        release, _, rest = body["text"].partition(" ")
        version = rest.split(" ")[0] if rest else "latest"
        ack(f"Deploying {release} {version}… :hourglass_flowing_sand:")
        channel = body["channel_id"]
        posted = client.chat_postMessage(
            channel=channel,
            text=f"Deploy {release} {version}",
            blocks=parent_blocks(release, version, "starting"),
        )
        ts = posted["ts"]
        self.parents.append(ts)
        if not self.gate.wait(timeout=60):
            return
        client.chat_update(
            channel=channel, ts=ts, text="rolled out", blocks=parent_blocks(release, version, "rolled out ✅")
        )
        client.chat_postMessage(
            channel=channel,
            thread_ts=ts,
            text="migration log",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": f"```{SCRIPT_LINE}```"}},
                ROLLBACK_BUTTON,
            ],
        )
        client.files_upload_v2(content=LOG_TEXT, filename="migrate.log", channel=channel, thread_ts=ts)
        client.chat_postMessage(
            channel=channel, thread_ts=ts, reply_broadcast=True, text=":white_check_mark: *shop* is live"
        )
        self.done.set()

    def _rollback(self, ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        client.chat_postMessage(
            channel=body["channel"]["id"],
            thread_ts=self.parents[-1] if self.parents else None,
            text=f"Rollback of shop requested by <@{user}>: rolled back to revision 1",
        )
