"""What a person does in the demo's channel, for both front-ends (web page and terminal): read the channel as
one user sees it, type into the message box (a slash command goes to the bot signed, exactly as Slack sends
it; anything else is posted as that person), click a button.

The Slack stand-in plays Slack: it signs the request, turns the bot's ack into an ephemeral, and shows
Slackbot's "failed with the error" notice when the bot does not answer; nothing here imitates the bot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.sim.slack import ActorError, SlackStandIn

FILE_TEXT_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Outcome:
    """What came of a send or a click: `sent` is False when the stand-in refused it before anything was sent
    (not a member, no such button: the text is worth keeping); `status` is the bot's HTTP answer (0: none;
    200 for a plain message, which never reaches the bot); `note` says what went wrong, for the person."""

    kind: str  # "command" | "message" | "click"
    ok: bool
    status: int = 200
    note: str = ""
    sent: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_input(text: str) -> tuple[str, str] | None:
    """("/deploy", "shop 1.1.0 image=x") for a slash command (the first word names it); None for a message."""
    stripped = text.strip()
    if not stripped.startswith("/") or stripped == "/":
        return None
    command, _, rest = stripped.partition(" ")
    return command, rest.strip()


def _answered(kind: str, status: int) -> Outcome:
    if status == 200:
        return Outcome(kind, True, status)
    note = (
        "no answer from the bot (unreachable, or slower than 3 s)"
        if status == 0
        else f"the bot answered {status}"
    )
    return Outcome(kind, False, status, note)


def _shown(message: dict[str, Any]) -> dict[str, Any]:
    """A message as the page needs it (the bot's metadata left out)."""
    return {k: v for k, v in message.items() if k != "metadata"}


class ChannelActions:
    def __init__(self, slack: SlackStandIn, bot_url: str) -> None:
        self.slack, self.bot_url = slack, bot_url

    # --- reading ---

    def channel_view(self, channel: str, user: str | None) -> dict[str, Any]:
        """Top-level messages and broadcasts oldest first, and the ephemerals `user` sees (all of them,
        thread ones included: the page puts those in the thread pane)."""
        messages = [_shown(m) for m in self.slack.messages(channel, include_replies=False)]
        ephemerals = self.slack.ephemerals(channel, user) if user else []
        return {"channel": channel, "messages": messages, "ephemerals": ephemerals}

    def thread_view(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [_shown(m) for m in self.slack.thread(channel, ts)]

    def file_view(self, file_id: str) -> dict[str, Any] | None:
        """A file's name and type, and its content as text (cut at FILE_TEXT_LIMIT; binary files: none)."""
        found = self.slack.file(file_id)
        if found is None:
            return None
        content: bytes = found.pop("content", None) or b""
        binary = b"\x00" in content[:8192]
        text = "" if binary else content[:FILE_TEXT_LIMIT].decode("utf-8", "replace")
        keep = ("id", "name", "title", "filetype", "pretty_type", "size", "user", "created")
        return {
            **{k: found.get(k) for k in keep},
            "text": text,
            "binary": binary,
            "truncated": len(content) > FILE_TEXT_LIMIT,
        }

    # --- acting ---

    def send(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> Outcome:
        """The message box: a slash command (signed, to the bot), else a message posted as `user`."""
        if not text.strip():
            return Outcome("message", False, 0, "nothing to send", sent=False)
        command = parse_input(text)
        if command is None:
            try:
                self.slack.post(user, channel, text, thread_ts=thread_ts)
            except ValueError as exc:
                return Outcome("message", False, 0, str(exc), sent=False)
            return Outcome("message", True)
        try:
            status, _ = self.slack.slash_command(self.bot_url, user, channel, command[0], command[1])
        except ActorError as exc:
            return Outcome("command", False, 0, str(exc), sent=False)
        return _answered("command", status)

    def click(self, user: str, channel: str, ts: str, action_id: str, value: str | None = None) -> Outcome:
        """A click on a message's button or menu option (any confirm dialog was already confirmed)."""
        try:
            status, _ = self.slack.click(self.bot_url, user, channel, ts, action_id, value)
        except ActorError as exc:
            return Outcome("click", False, 0, str(exc), sent=False)
        return _answered("click", status)
