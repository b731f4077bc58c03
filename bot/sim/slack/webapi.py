"""Slack Web API methods the bot calls, with Slack's argument handling, checks and error codes.

`WebApi.call(method, args, token)` authenticates, applies injected faults and (optional) rate limits, runs the
method and records the call. Args arrive as Slack accepts them: form fields (strings, JSON-encoded `blocks`,
`metadata`, `files`) or a JSON body (typed values). API errors are HTTP 200 with `ok: false`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sim.slack.blocks import BlocksFormatError, normalize_blocks, parse_blocks, validate_blocks
from bot.sim.slack.limits import Faults, RateLimiter, Refusal, refusal_for
from bot.sim.slack.state import Channel, Ephemeral, Message, StoredFile, Workspace

MAX_TEXT = 40_000
MAX_FILE_BYTES = 1024 * 1024 * 1024
SECRET_ARGS = {"token", "client_secret"}


class ApiError(Exception):
    """An `ok: false` answer with HTTP 200 (Slack's way for every error but rate limits)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error, self.extra = error, extra


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as the stand-in saw it (the token is never kept)."""

    method: str
    args: dict[str, Any]
    status: int | str  # HTTP status, or "reset"
    ok: bool
    error: str | None
    at: float


@dataclass(frozen=True)
class Reply:
    status: int | str
    body: dict[str, Any]
    headers: dict[str, str]


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1")) or value == 1


def _json_arg(args: dict[str, Any], key: str, error: str) -> Any:
    value = args.get(key)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(error) from None
    return value


def _str_arg(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    return "" if value is None else str(value)


def _invalid(*problems: str) -> ApiError:
    """Slack's `invalid_arguments`, each problem in `response_metadata.messages`."""
    return ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})


def _required(args: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if args.get(k) in (None, "")]
    if missing:
        raise _invalid(*(f"missing required field: {k}" for k in missing))


def _int_arg(args: dict[str, Any], key: str, default: int) -> int:
    value = args.get(key)
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise _invalid(f"{key} must be an integer") from None


TS_PATTERN = re.compile(r"^\d{1,12}\.\d{1,6}$")


def _thread_ts_arg(args: dict[str, Any]) -> str | None:
    """`thread_ts` as given; present but malformed (even empty) is `invalid_thread_ts`, as Slack answers."""
    if "thread_ts" not in args or args["thread_ts"] is None:
        return None
    value = str(args["thread_ts"])
    if not TS_PATTERN.match(value):
        raise ApiError(
            "invalid_thread_ts", response_metadata={"messages": [f"[ERROR] {value} is not a valid thread_ts"]}
        )
    return value


def _cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _from_cursor(cursor: str) -> str:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None
    if not text.startswith("next_ts:"):
        raise ApiError("invalid_cursor")
    return text[len("next_ts:") :]


def _ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = ts.partition(".")
    try:
        return int(sec or 0), int((frac or "0").ljust(6, "0")[:6])
    except ValueError:
        raise ApiError("invalid_ts_latest") from None


class WebApi:
    def __init__(
        self,
        ws: Workspace,
        *,
        bot_token: str,
        app_token: str | None,
        faults: Faults,
        rate_limits: RateLimiter | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ws = ws
        self._bot_token, self._app_token = bot_token, app_token
        self.faults, self.rate_limits = faults, rate_limits
        self.sleep = sleep
        self.calls_lock = threading.Lock()
        self.calls: list[ApiCall] = []
        self.uploads: dict[str, str] = {}  # upload key -> file id
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.delete": self.chat_delete,
            "chat.getPermalink": self.chat_get_permalink,
            "conversations.info": self.conversations_info,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "conversations.join": self.conversations_join,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "files.getUploadURLExternal": self.files_get_upload_url,
            "files.completeUploadExternal": self.files_complete_upload,
            "apps.connections.open": self.apps_connections_open,
        }

    # --- the call ----------------------------------------------------------------------------------------

    def call(self, method: str, args: dict[str, Any], token: str | None) -> Reply:
        reply = self._answer(method, args, token)
        safe = {k: v for k, v in args.items() if k not in SECRET_ARGS}
        ok = bool(reply.body.get("ok"))
        error = reply.body.get("error") if not ok else None
        with self.calls_lock:
            self.calls.append(ApiCall(method, safe, reply.status, ok, error, self.ws.clock()))
        return reply

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> Reply:
        rule = self.faults.match(method)
        if rule is not None:
            if rule.delay:
                self.sleep(rule.delay)
            refusal = refusal_for(rule)
            if refusal is not None:
                return self._refused(refusal)
        handler = self.methods.get(method)
        if handler is None:
            error = "method_deprecated" if method == "files.upload" else "unknown_method"
            return Reply(200, {"ok": False, "error": error}, {})
        try:
            self._authenticate(method, token)
            if self.rate_limits is not None:
                ref = str(args.get("channel") or args.get("channel_id") or "")
                known = self.ws.resolve_channel(ref, by_name=not ref.startswith(("U", "W"))) if ref else None
                limited = self.rate_limits.check(method, known.id if known else ref or None)
                if limited is not None:
                    return self._refused(limited)
            body = handler(args)
        except ApiError as exc:
            return Reply(200, {"ok": False, "error": exc.error, **exc.extra}, {})
        headers = {
            "x-oauth-scopes": "chat:write,chat:write.public,commands,files:write,channels:read,"
            "groups:read,channels:join,channels:history,groups:history,users:read,usergroups:read"
        }
        return Reply(200, {"ok": True, **body}, headers if method == "auth.test" else {})

    @staticmethod
    def _refused(refusal: Refusal) -> Reply:
        return Reply(refusal.status, dict(refusal.body), dict(refusal.headers))

    def is_bot_token(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self._bot_token.encode())

    def _authenticate(self, method: str, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        if method == "apps.connections.open":
            app_ok = token == self._app_token if self._app_token else token.startswith("xapp-")
            if app_ok:
                return
            raise ApiError("not_allowed_token_type" if token == self._bot_token else "invalid_auth")
        if self.is_bot_token(token):
            return
        if self._app_token and token == self._app_token:
            raise ApiError("not_allowed_token_type")
        raise ApiError("invalid_auth")

    # --- helpers ------------------------------------------------------------------------------------------

    def _channel(
        self, args: dict[str, Any], *, key: str = "channel", by_name: bool = True, member: bool = False
    ) -> Channel:
        ref = _str_arg(args, key)
        ch = self.ws.resolve_channel(ref, by_name=by_name) if ref else None
        if ch is None:
            raise ApiError("channel_not_found")
        if (member or ch.is_private) and self.ws.bot_user_id not in ch.members:
            raise ApiError("not_in_channel")
        return ch

    def _content(self, args: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
        """(text, normalized blocks) as given; blocks checked as Slack does."""
        try:
            blocks = parse_blocks(args.get("blocks"))
        except BlocksFormatError:
            raise ApiError("invalid_blocks_format") from None
        if blocks is not None:
            errors = validate_blocks(blocks)
            if errors:
                raise ApiError(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
            blocks = normalize_blocks(blocks, self.ws.rng)
        text = args.get("text")
        text = None if text is None else str(text)
        if text is not None and len(text) > MAX_TEXT:
            raise ApiError("msg_too_long")
        return text, blocks

    def _metadata(self, args: dict[str, Any]) -> dict[str, Any] | None:
        meta = _json_arg(args, "metadata", "invalid_metadata_format")
        if meta is None:
            return None
        if not isinstance(meta, dict) or not isinstance(meta.get("event_type"), str):
            raise ApiError("invalid_metadata_schema")
        if "event_payload" in meta and not isinstance(meta["event_payload"], dict):
            raise ApiError("invalid_metadata_schema")
        return {"event_type": meta["event_type"], "event_payload": meta.get("event_payload", {})}

    def _thread_parent(self, ch: Channel, thread_ts: str) -> str:
        """A reply's ts names its thread's parent, as in Slack."""
        parent = self.ws.get(ch.id, thread_ts)
        if parent is None:
            raise ApiError("thread_not_found")
        return parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts

    def _own_message(self, ch: Channel, ts: str, cant: str) -> Message:
        msg = self.ws.get(ch.id, ts) if ts else None
        if msg is None or msg.subtype == "tombstone":
            raise ApiError("message_not_found")
        if msg.user != self.ws.bot_user_id:
            raise ApiError(cant)
        return msg

    # --- methods --------------------------------------------------------------------------------------------

    def auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        ws = self.ws
        return {
            "url": f"https://{ws.team_domain}.slack.com/",
            "team": ws.team_domain,
            "user": ws.users[ws.bot_user_id].name,
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    def chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.ws.txn():
            ch = self._channel(args)
            if ch.is_archived:
                raise ApiError("is_archived")
            text, blocks = self._content(args)
            attachments = _json_arg(args, "attachments", "invalid_attachments")
            if not text and not blocks and not attachments:
                raise ApiError("no_text")
            metadata = self._metadata(args)
            thread_ts = _thread_ts_arg(args)
            subtype = None
            if thread_ts:
                thread_ts = self._thread_parent(ch, thread_ts)
                if _truthy(args.get("reply_broadcast")):
                    subtype = "thread_broadcast"
            msg = Message(
                channel=ch.id,
                ts=self.ws.new_ts(),
                user=self.ws.bot_user_id,
                text=text or "",
                blocks=blocks,
                metadata=metadata,
                thread_ts=thread_ts,
                subtype=subtype,
                bot=True,
            )
            self.ws.add_message(msg)
            return {"channel": ch.id, "ts": msg.ts, "message": self.ws.to_api(msg, metadata=True)}

    def chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.ws.txn():
            ch = self._channel(args, by_name=False)
            msg = self._own_message(ch, _str_arg(args, "ts"), "cant_update_message")
            text, blocks = self._content(args)
            new_text = msg.text if text is None else text
            new_blocks = msg.blocks if args.get("blocks") is None else (blocks or None)
            if not new_text and not new_blocks and not msg.files:
                raise ApiError("no_text")
            metadata = self._metadata(args)
            if _truthy(args.get("reply_broadcast")):
                if not msg.is_reply:
                    raise ApiError("cant_broadcast_message")
                msg.subtype = "thread_broadcast"
            msg.text, msg.blocks = new_text, new_blocks
            if metadata is not None:
                msg.metadata = metadata
            msg.edited = {"user": self.ws.bot_user_id, "ts": self.ws.new_ts()}
            self.ws.changed(msg)
            return {
                "channel": ch.id,
                "ts": msg.ts,
                "text": msg.text,
                "message": self.ws.to_api(msg, metadata=True),
            }

    def chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.ws.txn():
            ch = self._channel(args)
            user = _str_arg(args, "user")
            if user not in self.ws.users:
                raise ApiError("user_not_found")
            if user not in ch.members:
                raise ApiError("user_not_in_channel")
            text, blocks = self._content(args)
            if not text and not blocks and not _json_arg(args, "attachments", "invalid_attachments"):
                raise ApiError("no_text")
            thread_ts = _thread_ts_arg(args)
            if thread_ts:
                thread_ts = self._thread_parent(ch, thread_ts)
            eph = Ephemeral(
                channel=ch.id,
                ts=self.ws.new_ts(),
                user=user,
                sender=self.ws.bot_user_id,
                text=text or "",
                blocks=blocks,
                thread_ts=thread_ts,
            )
            self.ws.add_ephemeral(eph)
            return {"message_ts": eph.ts}

    def chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.ws.txn():
            ch = self._channel(args, by_name=False)
            msg = self._own_message(ch, _str_arg(args, "ts"), "cant_delete_message")
            self.ws.delete_message(msg)
            return {"channel": ch.id, "ts": msg.ts}

    def chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args, by_name=False)
        msg = self.ws.get(ch.id, _str_arg(args, "message_ts"))
        if msg is None:
            raise ApiError("message_not_found")
        link = f"https://{self.ws.team_domain}.slack.com/archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}

    def conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        ref = _str_arg(args, "channel")
        ch = self.ws.resolve_channel(ref, by_name=False) if ref else None
        if ch is None or not self.ws.can_see(ch):
            raise ApiError("channel_not_found")
        return {"channel": ch.to_api(self.ws.bot_user_id)}

    def _window(
        self, args: dict[str, Any], messages: list[Message], *, newest_first: bool, default_limit: int
    ) -> dict[str, Any]:
        oldest = _ts_key(_str_arg(args, "oldest") or "0")
        latest_arg = _str_arg(args, "latest")
        latest = _ts_key(latest_arg) if latest_arg else None
        inclusive = _truthy(args.get("inclusive"))

        def inside(m: Message) -> bool:
            key = _ts_key(m.ts)
            low = key >= oldest if inclusive else key > oldest
            high = latest is None or (key <= latest if inclusive else key < latest)
            return low and high

        picked = sorted((m for m in messages if inside(m)), key=lambda m: _ts_key(m.ts), reverse=newest_first)
        cursor = _str_arg(args, "cursor")
        if cursor:
            start = _ts_key(_from_cursor(cursor))
            picked = [
                m for m in picked if (_ts_key(m.ts) <= start if newest_first else _ts_key(m.ts) >= start)
            ]
        limit = max(1, min(_int_arg(args, "limit", default_limit), 999 if newest_first else 1000))
        page, rest = picked[:limit], picked[limit:]
        meta = _truthy(args.get("include_all_metadata"))
        out: dict[str, Any] = {
            "messages": [self.ws.to_api(m, metadata=meta) for m in page],
            "has_more": bool(rest),
        }
        if rest:
            out["response_metadata"] = {"next_cursor": _cursor(rest[0].ts)}
        return out

    def conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.ws.txn():
            ch = self._channel(args, by_name=False, member=True)
            shown = [
                m
                for m in self.ws.messages.get(ch.id, {}).values()
                if not m.is_reply or m.subtype == "thread_broadcast"
            ]
            out = self._window(args, shown, newest_first=True, default_limit=100)
            out.update({"pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0})
            return out

    def conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.ws.txn():
            ch = self._channel(args, by_name=False, member=True)
            msg = self.ws.get(ch.id, _str_arg(args, "ts"))
            if msg is None:
                raise ApiError("thread_not_found")
            parent_ts = msg.thread_ts if msg.is_reply and msg.thread_ts else msg.ts
            parent = self.ws.get(ch.id, parent_ts)
            thread = ([parent] if parent else []) + self.ws.replies(ch.id, parent_ts)
            return self._window(args, thread, newest_first=False, default_limit=1000)

    def conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        with self.ws.txn():
            ref = _str_arg(args, "channel")
            ch = self.ws.resolve_channel(ref, by_name=False) if ref else None
            if ch is None or not self.ws.can_see(ch):
                raise ApiError("channel_not_found")
            if ch.is_private or ch.is_im:
                raise ApiError("method_not_supported_for_channel_type")
            if ch.is_archived:
                raise ApiError("is_archived")
            out: dict[str, Any] = {}
            if self.ws.bot_user_id in ch.members:
                out = {
                    "warning": "already_in_channel",
                    "response_metadata": {"warnings": ["already_in_channel"]},
                }
            else:
                ch.members.add(self.ws.bot_user_id)
                self.ws.emit("member_joined_channel", channel=ch.id, user=self.ws.bot_user_id)
            return {"channel": ch.to_api(self.ws.bot_user_id), **out}

    def users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.ws.users.get(_str_arg(args, "user"))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user.to_api(self.ws.team_id)}

    def usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.ws.usergroups.get(_str_arg(args, "usergroup"))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group[1])}

    def files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        _required(args, "filename", "length")
        length = _int_arg(args, "length", 0)
        if length < 0 or length > MAX_FILE_BYTES:
            raise _invalid("length is out of range")
        with self.ws.txn():
            f = StoredFile(
                id=self.ws.new_id("F"),
                name=_str_arg(args, "filename"),
                length=length,
                user=self.ws.bot_user_id,
                created=int(self.ws.clock()),
            )
            self.ws.files[f.id] = f
            key = secrets.token_urlsafe(12)
            self.uploads[key] = f.id
            return {"upload_url": f"{self.ws.base_url}upload/v1/{key}", "file_id": f.id}

    def receive_upload(self, key: str, data: bytes) -> bool:
        """The raw upload POST; False for an unknown or already used URL."""
        with self.ws.txn():
            file_id = self.uploads.pop(key, None)
            if file_id is None:
                return False
            self.ws.files[file_id].content = data
            return True

    def files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        _required(args, "files")
        items = _json_arg(args, "files", "invalid_arguments")
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i, dict) and i.get("id") for i in items)
        ):
            raise _invalid("files must be a non-empty list of {id, title}")
        with self.ws.txn():
            files = []
            for item in items:
                f = self.ws.files.get(str(item["id"]))
                if f is None or f.content is None or f.completed:
                    raise ApiError("file_not_found")
                files.append((f, item))
            channels = [c for c in _str_arg(args, "channels").split(",") if c]
            if _str_arg(args, "channel_id"):
                channels = [_str_arg(args, "channel_id")]
            thread_ts = _thread_ts_arg(args)
            if thread_ts and len(channels) != 1:
                raise _invalid("thread_ts needs exactly one channel")
            targets = [self._channel({"channel": c}, by_name=False) for c in channels]
            for ch in targets:
                if ch.is_archived:
                    raise ApiError("is_archived")
            for f, item in files:
                f.title = str(item.get("title") or f.name)
                f.completed = True
            for ch in targets:
                parent = self._thread_parent(ch, thread_ts) if thread_ts else None
                msg = Message(
                    channel=ch.id,
                    ts=self.ws.new_ts(),
                    user=self.ws.bot_user_id,
                    text=_str_arg(args, "initial_comment"),
                    thread_ts=parent,
                    bot=True,
                    files=[f.id for f, _ in files],
                )
                for f, _ in files:
                    f.shares.append((ch.id, msg.ts))
                self.ws.add_message(msg)
            for f, _ in files:
                self.ws.emit("file_shared", file=self.ws.file_to_api(f))
            return {"files": [self.ws.file_to_api(f) for f, _ in files]}

    def apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ws_url = self.ws.base_url.replace("http://", "ws://", 1)
        return {"url": f"{ws_url}link/?ticket={secrets.token_hex(8)}&app_id={self.ws.app_id}"}
