"""A local Slack for helmbot's tests and demo: the Web API the bot's WebClient calls, and an actor that
sends the bot signed slash commands and clicks as Slack does. See docs/sim-slack.md.

Imports nothing from the rest of `bot/` (stdlib and slack_sdk only).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bot.sim.slack.actor import Actor, ActorError, Delivery, ResponseUse
from bot.sim.slack.blocks import message_text
from bot.sim.slack.control import handle_control
from bot.sim.slack.limits import FaultRule, Faults, RateLimiter
from bot.sim.slack.server import SlackServer
from bot.sim.slack.state import Channel, Clock, Event, Message, User, Workspace
from bot.sim.slack.webapi import ApiCall, WebApi

__all__ = ["ActorError", "ApiCall", "Delivery", "FaultRule", "ResponseUse", "SlackStandIn", "message_text"]


class SlackStandIn:
    """Web API at `.api_url` (ends with `/api/`), actor, state readers, faults; see docs/sim-slack.md."""

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        signing_secret: str | None = None,
        bot_token: str | None = None,
        app_token: str | None = None,
        team_id: str = "T0HELMBOT",
        team_domain: str = "helmbot",
        bot_user_id: str = "U0HELMBOT",
        bot_id: str = "B0HELMBOT",
        app_id: str = "A0HELMBOT",
        rate_limits: bool = False,
        ack_timeout: float = 3.0,
        clock: Clock | None = None,
        state_out: Path | str | None = None,
    ) -> None:
        self.host, self._port = host, port
        # Secrets are generated when not given and never printed; tests read them from these attributes.
        self.signing_secret = signing_secret or secrets.token_hex(16)
        self.bot_token = bot_token or f"xoxb-{secrets.token_hex(12)}"
        self.app_token = app_token
        self.team_id, self.team_domain = team_id, team_domain
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.state_out = Path(state_out) if state_out else None
        self.ws = Workspace(
            team_id=team_id,
            team_domain=team_domain,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            clock=clock,
        )
        self.faults = Faults()
        self.rate_limiter = RateLimiter(self.ws.clock) if rate_limits else None
        self.api = WebApi(
            self.ws,
            bot_token=self.bot_token,
            app_token=app_token,
            faults=self.faults,
            rate_limits=self.rate_limiter,
        )
        self.actor = Actor(
            self.ws,
            signing_secret=self.signing_secret,
            verification_token=secrets.token_hex(12),
            ack_timeout=ack_timeout,
        )
        self._server: SlackServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"SlackStandIn({self.url or 'not started'}, team {self.team_id})"

    # --- lifecycle ---

    def start(self) -> SlackStandIn:
        if self._server is not None:
            return self
        server = SlackServer(
            (self.host, self._port),
            ws=self.ws,
            api=self.api,
            actor=self.actor,
            control=lambda verb, path, query, body: handle_control(self, verb, path, query, body),
        )
        self._server = server
        self.ws.base_url = f"http://{self._url_host()}:{server.server_address[1]}/"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="slack-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.ws.lock:
            self.ws.events_changed.notify_all()
        if self.state_out is not None:
            self.write_state(self.state_out)

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _url_host(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "") else "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self._port

    @property
    def url(self) -> str:
        """The root URL (`http://127.0.0.1:PORT/`); empty before start()."""
        return self.ws.base_url

    @property
    def api_url(self) -> str:
        """The Web API base URL for `WebClient(base_url=...)`."""
        return f"{self.ws.base_url}api/"

    # --- workspace set-up ---

    def add_user(
        self, id: str, name: str, *, real_name: str = "", is_admin: bool = False, is_bot: bool = False
    ) -> dict[str, Any]:
        with self.ws.txn():
            user = User(id, name, real_name=real_name, is_admin=is_admin, is_bot=is_bot)
            self.ws.users[id] = user
            self.ws.emit("user", user=user.to_api(self.team_id))
            return user.to_api(self.team_id)

    def add_channel(
        self,
        id: str,
        name: str,
        private: bool = False,
        members: Iterable[str] = (),
        *,
        bot_member: bool = False,
        archived: bool = False,
    ) -> dict[str, Any]:
        """A channel (replaced if the ID exists). The bot is a member only if `bot_member` or listed."""
        with self.ws.txn():
            people = set(members) | ({self.bot_user_id} if bot_member else set())
            unknown = sorted(u for u in people if u not in self.ws.users)
            if unknown:
                raise ValueError(f"unknown users {unknown}: add them with add_user first")
            ch = Channel(
                id,
                name.lstrip("#"),
                is_private=private,
                members=people,
                is_archived=archived,
                created=int(self.ws.clock()),
            )
            self.ws.channels[id] = ch
            self.ws.messages.setdefault(id, {})
            self.ws.emit("channel", channel=ch.to_api(self.bot_user_id))
            return ch.to_api(self.bot_user_id)

    def add_usergroup(self, id: str, handle: str, users: Iterable[str]) -> None:
        with self.ws.txn():
            self.ws.usergroups[id] = (handle, list(users))
            self.ws.emit("usergroup", id=id, handle=handle, users=list(users))

    def post(self, user: str, channel: str, text: str, *, thread_ts: str | None = None) -> dict[str, Any]:
        """A person posts a message (e.g. to make a message the bot may not edit)."""
        with self.ws.txn():
            ch = self.ws.resolve_channel(channel)
            if ch is None or user not in self.ws.users:
                raise ValueError(f"unknown channel {channel!r} or user {user!r}")
            parent = self.ws.get(ch.id, thread_ts) if thread_ts else None
            if thread_ts and parent is None:
                raise ValueError(f"no message {thread_ts} in {ch.id}")
            root = (parent.thread_ts if parent.is_reply else parent.ts) if parent else None
            msg = self.ws.add_message(
                Message(channel=ch.id, ts=self.ws.new_ts(), user=user, text=text, thread_ts=root)
            )
            return self.ws.to_api(msg, metadata=True)

    # --- reading state ---

    def messages(self, channel: str, include_replies: bool = True) -> list[dict[str, Any]]:
        """The channel's messages oldest first (replies in ts order among them unless excluded; broadcasts
        always shown), with metadata."""
        with self.ws.lock:
            ch = self.ws.resolve_channel(channel)
            if ch is None:
                raise ValueError(f"unknown channel {channel!r}")
            return [
                self.ws.to_api(m, metadata=True)
                for m in self.ws.messages.get(ch.id, {}).values()
                if include_replies or not m.is_reply or m.subtype == "thread_broadcast"
            ]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The parent then its replies (empty if there is no such message)."""
        with self.ws.lock:
            ch = self.ws.resolve_channel(channel)
            msg = self.ws.get(ch.id, ts) if ch else None
            if ch is None or msg is None:
                return []
            root = msg.thread_ts if msg.is_reply and msg.thread_ts else msg.ts
            parent = self.ws.get(ch.id, root)
            found = ([parent] if parent else []) + self.ws.replies(ch.id, root)
            return [self.ws.to_api(m, metadata=True) for m in found]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self.ws.lock:
            ch = self.ws.resolve_channel(channel)
            msg = self.ws.get(ch.id, ts) if ch else None
            return self.ws.to_api(msg, metadata=True) if msg else None

    def ephemerals(self, channel: str, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemerals shown in a channel (to `user` only, if given), oldest first; deleted ones left out."""
        with self.ws.lock:
            ch = self.ws.resolve_channel(channel)
            cid = ch.id if ch else channel
            return [
                e.to_api()
                for e in self.ws.ephemerals
                if e.channel == cid and not e.deleted and (user is None or e.user == user)
            ]

    def file(self, file_id: str) -> dict[str, Any] | None:
        """A file's API object plus its uploaded `content` (bytes)."""
        with self.ws.lock:
            f = self.ws.files.get(file_id)
            if f is None:
                return None
            return {**self.ws.file_to_api(f), "content": f.content}

    @property
    def calls(self) -> list[ApiCall]:
        with self.api.calls_lock:
            return list(self.api.calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def responses(self) -> list[ResponseUse]:
        with self.actor.lock:
            return list(self.actor.responses)

    @property
    def deliveries(self) -> list[Delivery]:
        with self.actor.lock:
            return list(self.actor.deliveries)

    # --- actor ---

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
        """Slack sends the bot a signed slash command; (status, body). Status 0: no answer in ack_timeout."""
        return self.actor.slash_command(
            url, user, channel, command, text, forge_signature=forge_signature, timestamp_skew=timestamp_skew
        )

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
        """A user clicks (and confirms) an element of a message; raises ActorError if there is none."""
        return self.actor.click(
            url,
            user,
            channel,
            message_ts,
            action_id,
            value,
            forge_signature=forge_signature,
            timestamp_skew=timestamp_skew,
        )

    # --- faults ---

    def fault(
        self,
        method: str = "*",
        status: int | str | None = None,
        *,
        times: int | None = 1,
        retry_after: int = 1,
        error: str | None = None,
        delay: float = 0.0,
        every: int | None = None,
    ) -> FaultRule:
        """Inject a fault on `method` (or "*"): an HTTP `status` (default 429; "reset" cuts the connection),
        an API `error` (HTTP 200 unless a status is given), or a `delay`; fires `times` times (None: until
        cleared), on every `every`th matching call."""
        if status is None:
            status = 200 if error or delay else 429
        rule = FaultRule(
            method=method,
            status=status,
            times=times,
            retry_after=retry_after,
            error=error,
            every=every,
            delay=delay,
        )
        return self.faults.add(rule)

    def storm(self, every: int, *, method: str = "*", retry_after: int = 1) -> FaultRule:
        """Every Nth call (of `method`) gets 429 until clear_faults()."""
        return self.fault(method, 429, times=None, retry_after=retry_after, every=every)

    def clear_faults(self) -> None:
        self.faults.clear()

    # --- events ---

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """callback(event) after every change (message, message_changed, message_deleted, message_replied,
        ephemeral, ephemeral_changed, ephemeral_deleted, file_shared, channel, user, ...); returns an
        unsubscribe function. Called on the thread that made the change, outside the stand-in's lock."""
        return self.ws.subscribe(callback)

    def events_after(self, seq: int, wait: float = 0.0) -> list[Event]:
        """Events numbered above `seq`, waiting up to `wait` seconds for one (the control API's long poll)."""
        with self.ws.events_changed:
            if wait > 0 and len(self.ws.events) <= seq and self._server is not None:
                self.ws.events_changed.wait(timeout=wait)
            return [dict(e) for e in self.ws.events[seq:]]

    # --- state file ---

    def snapshot(self) -> dict[str, Any]:
        with self.ws.lock:
            return {
                "team": {"id": self.team_id, "domain": self.team_domain, "bot_user_id": self.bot_user_id},
                "users": [u.to_api(self.team_id) for u in self.ws.users.values()],
                "usergroups": [
                    {"id": k, "handle": h, "users": u} for k, (h, u) in self.ws.usergroups.items()
                ],
                "channels": [
                    {**c.to_api(self.bot_user_id), "members": sorted(c.members)}
                    for c in self.ws.channels.values()
                ],
                "messages": {cid: self.messages(cid) for cid in self.ws.channels},
                "ephemerals": [e.to_api() for e in self.ws.ephemerals if not e.deleted],
                "files": [self.ws.file_to_api(f) for f in self.ws.files.values()],
            }

    def write_state(self, path: Path | str) -> None:
        Path(path).write_text(json.dumps(self.snapshot(), indent=2) + "\n")
