"""`/_sim/` control API: JSON over HTTP so that out-of-process users (the demo, a shell) drive the stand-in.

Routes (verb path -> JSON):
  GET  state                                  the whole workspace (users, channels, messages, files)
  POST users {id, name, real_name?, is_admin?}
  POST channels {id, name, private?, members?, bot_member?, archived?}
  POST usergroups {id, handle, users}
  POST messages {user, channel, text, thread_ts?}        a person posts
  GET  messages?channel=C&include_replies=true | thread?channel=C&ts=T | message?channel=C&ts=T
  GET  ephemerals?channel=C&user=U
  GET  files/F123                             the file with its content (text, or base64 when binary)
  POST slash_command {url, user, channel, command, text?, forge_signature?, timestamp_skew?}
  POST click {url, user, channel, message_ts, action_id, value?, forge_signature?, timestamp_skew?}
  GET  calls?method=M | responses | deliveries
  GET  faults | POST faults {method, status, times, retry_after, error, delay, every} | DELETE faults
  GET  events?after=N&wait=S                  long poll for changes after event N
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from bot.sim.slack.actor import ActorError
from bot.sim.slack.limits import FaultRule

if TYPE_CHECKING:
    from bot.sim.slack import SlackStandIn

MAX_WAIT = 30.0


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _need(data: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise ControlError(400, f"missing fields: {', '.join(missing)}")


def _pick(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: data[k] for k in keys if k in data}


def handle_control(
    sim: SlackStandIn, verb: str, path: str, query: dict[str, str], raw: bytes
) -> tuple[int, Any]:
    try:
        data: Any = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return 400, {"error": "the body is not JSON"}
    if not isinstance(data, dict):
        return 400, {"error": "the body must be a JSON object"}
    try:
        return 200, _dispatch(sim, verb, path.strip("/"), query, data)
    except ControlError as exc:
        return exc.status, {"error": str(exc)}
    except (ActorError, ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}


def _dispatch(sim: SlackStandIn, verb: str, path: str, query: dict[str, str], data: dict[str, Any]) -> Any:
    route = (verb, path)
    if route == ("GET", "state"):
        return sim.snapshot()
    if route == ("POST", "users"):
        _need(data, "id", "name")
        return sim.add_user(data["id"], data["name"], **_pick(data, "real_name", "is_admin", "is_bot"))
    if route == ("POST", "channels"):
        _need(data, "id", "name")
        return sim.add_channel(
            data["id"],
            data["name"],
            bool(data.get("private", False)),
            data.get("members", ()),
            **_pick(data, "bot_member", "archived"),
        )
    if route == ("POST", "usergroups"):
        _need(data, "id", "handle", "users")
        sim.add_usergroup(data["id"], data["handle"], data["users"])
        return {"ok": True}
    if route == ("POST", "messages"):
        _need(data, "user", "channel", "text")
        return sim.post(data["user"], data["channel"], data["text"], thread_ts=data.get("thread_ts"))
    if verb == "GET" and path in ("messages", "thread", "message", "ephemerals"):
        return _read(sim, path, query)
    if verb == "GET" and path.startswith("files/"):
        return _file(sim, path[len("files/") :])
    if route == ("POST", "slash_command"):
        _need(data, "url", "user", "channel", "command")
        status, body = sim.slash_command(
            data["url"],
            data["user"],
            data["channel"],
            data["command"],
            data.get("text", ""),
            **_pick(data, "forge_signature", "timestamp_skew"),
        )
        return {"status": status, "body": body}
    if route == ("POST", "click"):
        _need(data, "url", "user", "channel", "message_ts", "action_id")
        status, body = sim.click(
            data["url"],
            data["user"],
            data["channel"],
            data["message_ts"],
            data["action_id"],
            data.get("value"),
            **_pick(data, "forge_signature", "timestamp_skew"),
        )
        return {"status": status, "body": body}
    if route == ("GET", "calls"):
        method = query.get("method")
        return [dataclasses.asdict(c) for c in sim.calls if method is None or c.method == method]
    if route == ("GET", "responses"):
        return [dataclasses.asdict(r) for r in sim.responses]
    if route == ("GET", "deliveries"):
        return [dataclasses.asdict(d) for d in sim.deliveries]
    if path == "faults":
        return _faults(sim, verb, data)
    if route == ("GET", "events"):
        wait = min(float(query.get("wait", "0")), MAX_WAIT)
        return sim.events_after(int(query.get("after", "0")), wait=wait)
    raise ControlError(404, f"no control route {verb} /_sim/{path}")


def _read(sim: SlackStandIn, path: str, query: dict[str, str]) -> Any:
    channel = query.get("channel")
    if not channel:
        raise ControlError(400, "missing query parameter: channel")
    if path == "messages":
        return sim.messages(channel, include_replies=query.get("include_replies", "true") != "false")
    if path == "ephemerals":
        return sim.ephemerals(channel, query.get("user"))
    ts = query.get("ts")
    if not ts:
        raise ControlError(400, "missing query parameter: ts")
    found = sim.thread(channel, ts) if path == "thread" else sim.message(channel, ts)
    if not found:
        raise ControlError(404, f"no message {ts} in {channel}")
    return found


def _file(sim: SlackStandIn, file_id: str) -> dict[str, Any]:
    found = sim.file(file_id)
    if found is None:
        raise ControlError(404, f"no file {file_id}")
    content: bytes | None = found.pop("content")
    if content is not None:
        try:
            found["content"] = content.decode("utf-8")
        except UnicodeDecodeError:
            found["content_base64"] = base64.b64encode(content).decode()
    return found


def _faults(sim: SlackStandIn, verb: str, data: dict[str, Any]) -> Any:
    if verb == "GET":
        return sim.faults.list()
    if verb == "DELETE":
        sim.clear_faults()
        return {"ok": True}
    rules = data.get("faults", [data])
    if not isinstance(rules, list):
        raise ControlError(400, "faults must be a list")
    return [sim.faults.add(FaultRule.from_dict(r)).to_dict() for r in rules]
