"""The workspace a Slack stand-in holds: users, user groups, channels, messages, ephemerals, files.

One lock guards it all. Changes are announced to subscribers (the demo's live page) as event dicts, after the
lock is released, so a callback may read the state back. Message dicts handed out are copies in the shape
Slack's Web API returns them.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]
Clock = Callable[[], float]
SLACKBOT = "USLACKBOT"


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    is_admin: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Etc/UTC"

    def to_api(self, team_id: str) -> dict[str, Any]:
        real = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": real,
            "tz": self.tz,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {"real_name": real, "display_name": self.name, "team": team_id},
        }


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    members: set[str] = field(default_factory=set)
    is_archived: bool = False
    is_im: bool = False
    created: int = 0

    def to_api(self, bot_user_id: str) -> dict[str, Any]:
        if self.is_im:
            other = next((m for m in sorted(self.members) if m != bot_user_id), "")
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": other,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "created": self.created,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_member": bot_user_id in self.members,
            "num_members": len(self.members),
        }


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    thread_ts: str | None = None  # set on replies (the parent's ts) and on parents once they have replies
    subtype: str | None = None  # thread_broadcast, tombstone
    bot: bool = False
    edited: dict[str, str] | None = None
    files: list[str] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass
class Ephemeral:
    channel: str
    ts: str
    user: str  # the one person who sees it
    sender: str  # the bot user, or USLACKBOT for Slack's own notices
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    deleted: bool = False

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "subtype": "ephemeral",
            "channel": self.channel,
            "ts": self.ts,
            "user": self.sender,
            "to": self.user,
            "text": self.text,
        }
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        return out


@dataclass
class StoredFile:
    id: str
    name: str
    length: int
    user: str
    created: int
    title: str = ""
    content: bytes | None = None  # None until the upload POST arrived
    shares: list[tuple[str, str]] = field(default_factory=list)  # (channel, message ts)
    completed: bool = False


class Workspace:
    """All state of one stand-in workspace; every method is thread-safe."""

    def __init__(
        self,
        *,
        team_id: str,
        team_domain: str,
        bot_user_id: str,
        bot_id: str,
        app_id: str,
        clock: Clock | None = None,
    ) -> None:
        self.team_id, self.team_domain = team_id, team_domain
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.clock: Clock = clock or time.time
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, tuple[str, list[str]]] = {}  # id -> (handle, users)
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, dict[str, Message]] = {}  # channel -> ts -> message (ts order)
        self.ephemerals: list[Ephemeral] = []
        self.files: dict[str, StoredFile] = {}
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._subscribers: list[Callable[[Event], None]] = []
        self._pending: list[Event] = []
        self._depth = 0
        self.events: list[Event] = []  # every event, with a `seq`, for out-of-process readers
        self.events_changed = threading.Condition(self.lock)
        self.users[bot_user_id] = User(bot_user_id, "helmbot", is_bot=True)
        self.rng = random.Random()
        self.base_url = ""  # the stand-in's root URL once it listens (file URLs point there)

    # --- transactions and events ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def txn(self) -> Iterator[None]:
        """Hold the lock; events raised inside reach subscribers after the outermost block releases it."""
        with self.lock:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                pending = self._pending if self._depth == 0 else []
                if self._depth == 0:
                    self._pending = []
        for event in pending:
            for callback in list(self._subscribers):
                callback(event)

    def emit(self, kind: str, **data: Any) -> None:
        event = {"type": kind, "seq": len(self.events) + 1, "at": self.clock(), **data}
        self.events.append(event)
        self._pending.append(copy.deepcopy(event))
        self.events_changed.notify_all()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        with self.lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock, contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    # --- ids and time ---------------------------------------------------------------------------------------

    def new_ts(self) -> str:
        """A message ts: the clock in microseconds, strictly increasing across the workspace."""
        with self.lock:
            now_us = int(self.clock() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    # --- directory ------------------------------------------------------------------------------------------

    def resolve_channel(self, ref: str, *, by_name: bool = True) -> Channel | None:
        """A channel by ID, or by name ('#deploys'/'deploys') when `by_name`; a user ID opens a DM."""
        with self.lock:
            if ref in self.channels:
                return self.channels[ref]
            if not by_name:
                return None
            if ref in self.users and ref != self.bot_user_id:
                return self.open_dm(ref)
            name = ref[1:] if ref.startswith("#") else ref
            return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def open_dm(self, user: str) -> Channel:
        with self.txn():
            for ch in self.channels.values():
                if ch.is_im and ch.members == {user, self.bot_user_id}:
                    return ch
            ch = Channel(
                id="D" + user[1:],
                name=user,
                is_private=True,
                members={user, self.bot_user_id},
                is_im=True,
                created=int(self.clock()),
            )
            self.channels[ch.id] = ch
            self.messages[ch.id] = {}
            self.emit("channel_created", channel=ch.to_api(self.bot_user_id))
            return ch

    def can_see(self, ch: Channel) -> bool:
        """The bot sees every public channel, and private ones only as a member (else channel_not_found)."""
        return not ch.is_private or self.bot_user_id in ch.members

    # --- messages -------------------------------------------------------------------------------------------

    def get(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            return self.messages.get(channel, {}).get(ts)

    def add_message(self, msg: Message) -> Message:
        with self.txn():
            self.messages.setdefault(msg.channel, {})[msg.ts] = msg
            if msg.is_reply:
                parent = self.messages[msg.channel].get(msg.thread_ts or "")
                if parent is not None and parent.thread_ts is None:
                    parent.thread_ts = parent.ts
            self.emit("message", channel=msg.channel, message=self.to_api(msg, metadata=True))
            if msg.is_reply and msg.thread_ts:
                parent = self.messages[msg.channel].get(msg.thread_ts)
                if parent is not None:
                    self.emit(
                        "message_replied", channel=msg.channel, message=self.to_api(parent, metadata=True)
                    )
            return msg

    def changed(self, msg: Message) -> None:
        with self.txn():
            self.emit("message_changed", channel=msg.channel, message=self.to_api(msg, metadata=True))

    def delete_message(self, msg: Message) -> None:
        """Removes it; a parent that still has replies stays as a tombstone, as in Slack."""
        with self.txn():
            if not msg.is_reply and self.replies(msg.channel, msg.ts):
                msg.subtype, msg.text, msg.user, msg.bot = (
                    "tombstone",
                    "This message was deleted.",
                    SLACKBOT,
                    False,
                )
                msg.blocks, msg.files, msg.metadata = None, [], None
                self.emit("message_changed", channel=msg.channel, message=self.to_api(msg, metadata=True))
                return
            del self.messages[msg.channel][msg.ts]
            self.emit("message_deleted", channel=msg.channel, ts=msg.ts, thread_ts=msg.thread_ts)

    def replies(self, channel: str, parent_ts: str) -> list[Message]:
        with self.lock:
            return [
                m for m in self.messages.get(channel, {}).values() if m.is_reply and m.thread_ts == parent_ts
            ]

    def add_ephemeral(self, eph: Ephemeral) -> Ephemeral:
        with self.txn():
            self.ephemerals.append(eph)
            self.emit("ephemeral", channel=eph.channel, user=eph.user, message=eph.to_api())
            return eph

    def find_ephemeral(self, channel: str, ts: str) -> Ephemeral | None:
        with self.lock:
            return next(
                (e for e in self.ephemerals if e.channel == channel and e.ts == ts and not e.deleted), None
            )

    def to_api(self, msg: Message, *, metadata: bool) -> dict[str, Any]:
        """The message as Slack's history/replies return it (reply counts computed now)."""
        with self.lock:
            out: dict[str, Any] = {"type": "message"}
            if msg.subtype:
                out["subtype"] = msg.subtype
            out.update({"text": msg.text, "user": msg.user, "ts": msg.ts, "team": self.team_id})
            if msg.bot:
                out.update(
                    {
                        "bot_id": self.bot_id,
                        "app_id": self.app_id,
                        "bot_profile": {
                            "id": self.bot_id,
                            "app_id": self.app_id,
                            "name": "helmbot",
                            "team_id": self.team_id,
                            "deleted": False,
                        },
                    }
                )
            if msg.blocks is not None:
                out["blocks"] = copy.deepcopy(msg.blocks)
            if msg.files:
                out["files"] = [self.file_to_api(self.files[f]) for f in msg.files if f in self.files]
                out["upload"] = True
                out["display_as_bot"] = False
            if msg.edited:
                out["edited"] = dict(msg.edited)
            if msg.thread_ts:
                out["thread_ts"] = msg.thread_ts
            if msg.is_reply:
                parent = self.get(msg.channel, msg.thread_ts or "")
                out["parent_user_id"] = parent.user if parent else msg.user
                if msg.subtype == "thread_broadcast" and parent is not None:
                    out["root"] = self.to_api(parent, metadata=False)
            elif msg.thread_ts:
                replies = self.replies(msg.channel, msg.ts)
                users = sorted({r.user for r in replies})
                out.update(
                    {
                        "reply_count": len(replies),
                        "reply_users_count": len(users),
                        "latest_reply": replies[-1].ts if replies else msg.ts,
                        "reply_users": users,
                        "is_locked": False,
                        "subscribed": False,
                    }
                )
            if metadata and msg.metadata is not None:
                out["metadata"] = copy.deepcopy(msg.metadata)
            return out

    # --- files ----------------------------------------------------------------------------------------------

    def file_to_api(self, f: StoredFile) -> dict[str, Any]:
        ext = f.name.rsplit(".", 1)[-1].lower() if "." in f.name else "text"
        filetype = {"log": "text", "txt": "text", "json": "json", "yaml": "yaml", "yml": "yaml"}.get(ext, ext)
        public: dict[str, list[dict[str, Any]]] = {}
        private: dict[str, list[dict[str, Any]]] = {}
        for channel, ts in f.shares:
            ch = self.channels.get(channel)
            target = private if ch is not None and ch.is_private else public
            msg = self.get(channel, ts)
            share: dict[str, Any] = {
                "ts": ts,
                "channel_name": ch.name if ch else channel,
                "team_id": self.team_id,
            }
            if msg is not None and msg.is_reply:
                share["thread_ts"] = msg.thread_ts
            target.setdefault(channel, []).append(share)
        url = f"{self.base_url}files-pri/{self.team_id}-{f.id}/{f.name}"
        return {
            "id": f.id,
            "created": f.created,
            "timestamp": f.created,
            "name": f.name,
            "title": f.title or f.name,
            "mimetype": "text/plain" if filetype == "text" else "application/octet-stream",
            "filetype": filetype,
            "pretty_type": filetype.capitalize(),
            "user": f.user,
            "user_team": self.team_id,
            "size": len(f.content or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": bool(public),
            "url_private": url,
            "url_private_download": url + "?download=1",
            "permalink": f"https://{self.team_domain}.slack.com/files/{f.user}/{f.id}/{f.name}",
            "shares": {k: v for k, v in (("public", public), ("private", private)) if v},
            "channels": [c for c, _ in f.shares if c in public],
            "groups": [c for c, _ in f.shares if c in private],
        }
