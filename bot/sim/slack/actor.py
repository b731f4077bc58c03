"""The stand-in playing Slack towards the bot: signed slash commands and button clicks, and response_urls.

Requests carry every field Slack sends, signed with the signing secret (`v0=` HMAC-SHA256 over
`v0:{timestamp}:{body}`), so the bot's real Bolt verification runs. What the bot answers becomes what the
user would see: an immediate ack body becomes an ephemeral (or in-channel) message, an error or a slow
answer (past `ack_timeout`, Slack's 3 seconds) becomes Slackbot's "failed with the error" notice.
A response_url accepts at most 5 posts within 30 minutes, as Slack's do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bot.sim.slack.blocks import (
    BlocksFormatError,
    find_element,
    normalize_blocks,
    parse_blocks,
    validate_blocks,
)
from bot.sim.slack.state import SLACKBOT, Channel, Ephemeral, Message, User, Workspace

RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class Delivery:
    """One request the stand-in sent to the bot, and what came back (status 0: no answer in time)."""

    kind: str  # "slash_command" | "block_actions"
    url: str
    payload: dict[str, Any]
    status: int
    body: str
    at: float
    error: str | None = None


@dataclass(frozen=True)
class ResponseUse:
    """One POST to a response_url."""

    url: str
    kind: str  # "command" | "action"
    payload: Any
    status: int
    error: str | None
    at: float


@dataclass
class _ResponseUrl:
    kind: str
    channel: str
    user: str
    created: float
    original: tuple[str, bool] | None  # (ts, is_ephemeral) of the message responses may replace
    uses: int = 0


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed by the secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class ActorError(ValueError):
    """A request the stand-in cannot send as Slack would (unknown user, no such button, ...)."""


class Actor:
    def __init__(
        self, ws: Workspace, *, signing_secret: str, verification_token: str, ack_timeout: float
    ) -> None:
        self.ws = ws
        self._signing_secret = signing_secret
        self.verification_token = verification_token
        self.ack_timeout = ack_timeout
        self.lock = threading.Lock()
        self.urls: dict[str, _ResponseUrl] = {}
        self.responses: list[ResponseUse] = []
        self.deliveries: list[Delivery] = []

    # --- slash commands -----------------------------------------------------------------------------------

    def slash_command(
        self,
        url: str,
        user: str,
        channel: str,
        command: str,
        text: str = "",
        *,
        forge_signature: bool = False,
        timestamp_skew: float = 0.0,
    ) -> tuple[int, str]:
        if not command.startswith("/"):
            raise ActorError(f"a slash command starts with '/': {command!r}")
        person, ch = self._participant(user, channel)
        key, response_url = self._new_response_url("commands", ch.id, person.id)
        fields = {
            "token": self.verification_token,
            "team_id": self.ws.team_id,
            "team_domain": self.ws.team_domain,
            "channel_id": ch.id,
            "channel_name": self._channel_name(ch),
            "user_id": person.id,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": self.ws.app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self._trigger_id(),
        }
        status, body, error = self._send(url, urlencode(fields), forge_signature, timestamp_skew)
        self._record("slash_command", url, fields, status, body, error)
        with self.ws.txn():
            if status == 200:
                self._show_command_ack(key, ch, person, command, text, body)
            else:
                reason = "operation_timeout" if status == 0 and error == "timeout" else "dispatch_failed"
                self._slackbot(ch.id, person.id, f'{command} failed with the error "{reason}"')
        return status, body

    def _show_command_ack(
        self, key: str, ch: Channel, person: User, command: str, text: str, body: str
    ) -> None:
        if not body.strip():
            return
        try:
            ack = json.loads(body)
        except ValueError:
            ack = {"text": body}
        if not isinstance(ack, dict) or not (ack.get("text") or ack.get("blocks")):
            return
        content = self._content(ack)
        if content is None:
            self._slackbot(ch.id, person.id, f'{command} failed with the error "invalid_blocks"')
            return
        if ack.get("response_type") == "in_channel":
            self.ws.add_message(
                Message(channel=ch.id, ts=self.ws.new_ts(), user=person.id, text=f"{command} {text}".rstrip())
            )
            shown = (self._bot_message(ch.id, content[0], content[1], None), False)
        else:
            shown = (self._bot_ephemeral(ch.id, person.id, content[0], content[1], None), True)
        self._set_original(key, shown)

    # --- clicks ---------------------------------------------------------------------------------------------

    def click(
        self,
        url: str,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        *,
        forge_signature: bool = False,
        timestamp_skew: float = 0.0,
    ) -> tuple[int, str]:
        person, ch = self._participant(user, channel)
        with self.ws.lock:
            msg = self.ws.get(ch.id, message_ts)
            eph = None if msg is not None else self.ws.find_ephemeral(ch.id, message_ts)
            if eph is not None and eph.user != person.id:
                raise ActorError(f"ephemeral {message_ts} is shown to {eph.user}, not {person.id}")
            if msg is None and eph is None:
                raise ActorError(f"no message {message_ts} in {ch.id}")
            blocks = (msg.blocks if msg is not None else eph.blocks if eph is not None else None) or []
            found = find_element(blocks, action_id)
            if found is None:
                raise ActorError(f"message {message_ts} has no element with action_id {action_id!r}")
            action = self._action(found[0], found[1], value)
            shown = self.ws.to_api(msg, metadata=False) if msg is not None else None
        key, response_url = self._new_response_url("actions", ch.id, person.id)
        self._set_original(key, (message_ts, eph is not None))
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {
                "id": person.id,
                "username": person.name,
                "name": person.name,
                "team_id": self.ws.team_id,
            },
            "api_app_id": self.ws.app_id,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": ch.id,
                "is_ephemeral": eph is not None,
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": self.ws.team_id, "domain": self.ws.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": ch.id, "name": self._channel_name(ch)},
        }
        if shown is not None:
            payload["message"] = shown
        payload.update({"state": {"values": {}}, "response_url": response_url, "actions": [action]})
        status, body, error = self._send(
            url, urlencode({"payload": json.dumps(payload)}), forge_signature, timestamp_skew
        )
        self._record("block_actions", url, payload, status, body, error)
        return status, body

    def _action(self, block: dict[str, Any], el: dict[str, Any], value: str | None) -> dict[str, Any]:
        kind = el.get("type")
        action: dict[str, Any] = {"action_id": el["action_id"], "block_id": block["block_id"]}
        if kind == "button":
            if value is not None and value != el.get("value"):
                raise ActorError(f"button {el['action_id']!r} has value {el.get('value')!r}, not {value!r}")
            action["text"] = el["text"]
            if "value" in el:
                action["value"] = el["value"]
            action["type"] = "button"
            if "style" in el:
                action["style"] = el["style"]
        elif kind in ("static_select", "overflow"):
            options = list(el.get("options") or [])
            for group in el.get("option_groups") or []:
                options.extend(group.get("options") or [])
            chosen = next((o for o in options if o.get("value") == value), None)
            if chosen is None:
                raise ActorError(f"{kind} {el['action_id']!r} has no option with value {value!r}")
            action.update({"selected_option": chosen, "type": kind})
            if kind == "static_select" and "placeholder" in el:
                action["placeholder"] = el["placeholder"]
        else:
            raise ActorError(f"clicking a {kind} element is not supported by the stand-in")
        action["action_ts"] = f"{self.ws.clock():.6f}"
        return action

    # --- response_url ---------------------------------------------------------------------------------------

    def respond(self, path_key: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        """A POST to a response_url (JSON); (HTTP status, JSON answer)."""
        now = self.ws.clock()
        url = f"{self.ws.base_url}{path_key}"
        try:
            payload: Any = json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            payload = raw.decode("utf-8", "replace")
        with self.ws.txn(), self.lock:
            slot = self.urls.get(path_key)
            status, error = 200, None
            if slot is None:
                status, error = 404, "invalid_url"
            elif now - slot.created > RESPONSE_URL_SECONDS:
                status, error = 404, "expired_url"
            elif slot.uses >= RESPONSE_URL_USES:
                status, error = 404, "used_url"
            elif not isinstance(payload, dict):
                status, error = 400, "invalid_payload"
            else:
                slot.uses += 1
                error = self._apply_response(slot, payload)
                status = 200 if error is None else 400
            self.responses.append(ResponseUse(url, slot.kind if slot else "", payload, status, error, now))
        return status, ({"ok": True} if error is None else {"ok": False, "error": error})

    def _apply_response(self, slot: _ResponseUrl, payload: dict[str, Any]) -> str | None:
        if payload.get("delete_original") in (True, "true"):
            if slot.original is not None:
                self._delete(slot.channel, slot.original)
                slot.original = None
            return None
        if not (payload.get("text") or payload.get("blocks")):
            return "no_text"
        content = self._content(payload)
        if content is None:
            return "invalid_blocks"
        text, blocks = content
        if payload.get("replace_original") in (True, "true") and slot.original is not None:
            self._replace(slot.channel, slot.original, text, blocks)
            return None
        thread_ts = str(payload.get("thread_ts") or "") or None
        if thread_ts:
            parent = self.ws.get(slot.channel, thread_ts)
            if parent is not None and parent.is_reply:
                thread_ts = parent.thread_ts
        if payload.get("response_type") == "in_channel":
            shown = (self._bot_message(slot.channel, text, blocks, thread_ts), False)
        else:
            shown = (self._bot_ephemeral(slot.channel, slot.user, text, blocks, thread_ts), True)
        if slot.kind == "commands":
            slot.original = shown
        return None

    def _replace(
        self, channel: str, original: tuple[str, bool], text: str, blocks: list[dict[str, Any]] | None
    ) -> None:
        ts, ephemeral = original
        if ephemeral:
            eph = self.ws.find_ephemeral(channel, ts)
            if eph is not None:
                eph.text, eph.blocks = text, blocks
                self.ws.emit("ephemeral_changed", channel=channel, user=eph.user, message=eph.to_api())
            return
        msg = self.ws.get(channel, ts)
        if msg is not None:
            msg.text, msg.blocks = text, blocks
            self.ws.changed(msg)

    def _delete(self, channel: str, original: tuple[str, bool]) -> None:
        ts, ephemeral = original
        if ephemeral:
            eph = self.ws.find_ephemeral(channel, ts)
            if eph is not None:
                eph.deleted = True
                self.ws.emit("ephemeral_deleted", channel=channel, user=eph.user, ts=ts)
            return
        msg = self.ws.get(channel, ts)
        if msg is not None:
            self.ws.delete_message(msg)

    # --- plumbing -------------------------------------------------------------------------------------------

    def _participant(self, user: str, channel: str) -> tuple[User, Channel]:
        person = self.ws.users.get(user)
        if person is None:
            raise ActorError(f"unknown user {user!r}: add it with add_user first")
        ch = self.ws.resolve_channel(channel)
        if ch is None:
            raise ActorError(f"unknown channel {channel!r}: add it with add_channel first")
        if person.id not in ch.members:
            raise ActorError(f"{person.id} is not a member of {ch.id}: add it to the channel's members")
        return person, ch

    def _channel_name(self, ch: Channel) -> str:
        """As Slack names it to the app: DMs and private channels the app is not in are anonymous."""
        if ch.is_im:
            return "directmessage"
        if ch.is_private and self.ws.bot_user_id not in ch.members:
            return "privategroup"
        return ch.name

    def _trigger_id(self) -> str:
        return f"{int(self.ws.clock())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"

    def _new_response_url(self, kind: str, channel: str, user: str) -> tuple[str, str]:
        key = f"{kind}/{self.ws.team_id}/{secrets.randbelow(10**13)}/{secrets.token_urlsafe(18)}"
        with self.lock:
            self.urls[key] = _ResponseUrl(kind, channel, user, self.ws.clock(), None)
        return key, f"{self.ws.base_url}{key}"

    def _set_original(self, key: str, original: tuple[str, bool]) -> None:
        with self.lock:
            self.urls[key].original = original

    def _content(self, payload: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None] | None:
        """(text, normalized blocks), or None when Slack would refuse the blocks."""
        try:
            blocks = parse_blocks(payload.get("blocks"))
        except BlocksFormatError:
            return None
        if blocks is not None:
            if validate_blocks(blocks):
                return None
            blocks = normalize_blocks(blocks, self.ws.rng)
        return str(payload.get("text") or ""), blocks

    def _bot_message(
        self, channel: str, text: str, blocks: list[dict[str, Any]] | None, thread_ts: str | None
    ) -> str:
        msg = Message(
            channel=channel,
            ts=self.ws.new_ts(),
            user=self.ws.bot_user_id,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            bot=True,
        )
        return self.ws.add_message(msg).ts

    def _bot_ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None, thread_ts: str | None
    ) -> str:
        eph = Ephemeral(
            channel=channel,
            ts=self.ws.new_ts(),
            user=user,
            sender=self.ws.bot_user_id,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
        )
        return self.ws.add_ephemeral(eph).ts

    def _slackbot(self, channel: str, user: str, text: str) -> None:
        self.ws.add_ephemeral(
            Ephemeral(channel=channel, ts=self.ws.new_ts(), user=user, sender=SLACKBOT, text=text)
        )

    def _send(self, url: str, body: str, forge: bool, skew: float) -> tuple[int, str, str | None]:
        timestamp = str(int(self.ws.clock() + skew))
        secret = secrets.token_hex(16) if forge else self._signing_secret
        headers: dict[str, str] = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": USER_AGENT,
            "Accept": "application/json,*/*",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(secret, timestamp, body),
        }
        request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.ack_timeout) as resp:
                return resp.status, resp.read().decode("utf-8", "replace"), None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace"), None
        except TimeoutError:
            return 0, "", "timeout"
        except urllib.error.URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError | socket.timeout)
            return 0, "", "timeout" if timed_out else f"unreachable: {exc.reason}"
        except (ConnectionError, OSError) as exc:
            return 0, "", f"unreachable: {exc}"

    def _record(
        self, kind: str, url: str, payload: dict[str, Any], status: int, body: str, error: str | None
    ) -> None:
        safe = {k: v for k, v in payload.items() if k != "token"}
        with self.lock:
            self.deliveries.append(Delivery(kind, url, safe, status, body, self.ws.clock(), error))
