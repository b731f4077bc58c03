"""The Bolt app: slash commands and button clicks in, the application's replies out.

Every listener acks within Slack's 3 s: the use case runs on a worker, and if it answers within `ACK_WAIT`
its reply *is* the ack; otherwise the ack says it is on its way and the reply follows through the request's
`response_url`. Identity is Slack's user ID and team ID (never a display name), and user groups are resolved
through `usergroups.users.list`. Bolt verifies every HTTP request's signature (401 otherwise); the team check
refuses payloads from another workspace.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, TimeoutError
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import metrics
from bot.app.ports import Actor
from bot.app.replies import Reply
from bot.app.service import HelmBot
from bot.slack.cards import render_reply

log = logging.getLogger("helmbot.slack")

ACK_WAIT = 2.0
GROUP_CACHE = 60.0


class GroupResolver:
    """Which of the configured user groups (S…) a user belongs to, cached briefly."""

    def __init__(self, client: WebClient, group_ids: Iterable[str], *, ttl: float = GROUP_CACHE) -> None:
        self.client = client
        self.group_ids = sorted({g for g in group_ids if g.startswith("S")})
        self.ttl = ttl
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def groups_of(self, user_id: str) -> frozenset[str]:
        return frozenset(g for g in self.group_ids if user_id in self._users(g))

    def _users(self, group: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(group)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or ())
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("cannot read the members of user group %s: %s", group, type(exc).__name__)
            return cached[1] if cached is not None else frozenset()
        with self._lock:
            self._members[group] = (now, users)
        return users


def _user_of(body: Mapping[str, Any]) -> tuple[str, str | None]:
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id") or ""), (user.get("team_id") or (body.get("team") or {}).get("id"))
    return str(body.get("user_id") or ""), body.get("team_id")


def _channel_of(body: Mapping[str, Any]) -> str | None:
    channel = body.get("channel")
    if isinstance(channel, Mapping):
        return channel.get("id")
    return body.get("channel_id") or (body.get("container") or {}).get("channel_id")


def build_app(
    *,
    bot: HelmBot,
    client: WebClient,
    signing_secret: str | None,
    executor: Executor,
    commands: Mapping[str, str],
    team_id: str | None = None,
    groups: GroupResolver | None = None,
    ack_wait: float = ACK_WAIT,
) -> App:
    """`commands`: use-case name ("deploy", "rollback", "promote", "helmbot") -> slash command ("/deploy")."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
        ssl_check_enabled=True,
        url_verification_enabled=True,
    )

    def actor_of(body: Mapping[str, Any]) -> Actor:
        user, team = _user_of(body)
        found = groups.groups_of(user) if groups is not None and user else frozenset()
        return Actor(user_id=user, team_id=team, channel_id=_channel_of(body), groups=found)

    @app.middleware
    def same_workspace(body: Mapping[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse | None:
        if team_id:
            _, team = _user_of(body)
            if team != team_id:
                log.warning("refused a request from another workspace (%s)", team or "none named")
                return BoltResponse(status=403, body="this app serves another workspace")
        return next()

    def answer(
        ack: Callable[..., None], respond: Callable[..., None], work: Callable[[], Reply], name: str
    ) -> None:
        future = executor.submit(work)
        try:
            reply = future.result(timeout=ack_wait)
        except TimeoutError:
            ack(text="⏳ working on it…")
            future.add_done_callback(lambda f: _respond_later(respond, f, name))
            return
        except Exception:
            log.exception("%s failed", name)
            ack(text="🚫 internal error; the helmbot operators can find it in the logs")
            return
        metrics.COMMANDS.labels(name, reply.kind.value).inc()
        ack(**_ack_payload(reply))

    def command_listener(use_case: str) -> Callable[..., None]:
        # Bolt injects listener arguments by name, so the use case is bound by a closure, not a default.
        def on_command(
            ack: Callable[..., None], body: Mapping[str, Any], respond: Callable[..., None]
        ) -> None:
            actor = actor_of(body)
            text = str(body.get("text") or "")
            key = str(body.get("trigger_id") or "") or None
            answer(ack, respond, lambda: bot.command(use_case, text, actor, request_key=key), f"/{use_case}")

        return on_command

    for use_case, slash in commands.items():
        app.command(slash)(command_listener(use_case))

    @app.action(re.compile(r"^helmbot_"))
    def on_action(
        ack: Callable[..., None],
        body: Mapping[str, Any],
        action: Mapping[str, Any],
        respond: Callable[..., None],
    ) -> None:
        ack()
        actor = actor_of(body)
        action_id = str(action.get("action_id") or "")
        value = str(action.get("value") or "")
        key = f"{body.get('trigger_id') or ''}:{action.get('action_ts') or ''}"

        def work() -> None:
            reply = bot.action(action_id, value, actor, request_key=key)
            metrics.COMMANDS.labels(action_id, reply.kind.value).inc()
            try:
                respond(response_type="ephemeral", replace_original=False, **render_reply(reply))
            except Exception as exc:
                log.warning("could not answer a click through its response_url: %s", type(exc).__name__)

        executor.submit(work)

    return app


def _ack_payload(reply: Reply) -> dict[str, Any]:
    payload = render_reply(reply)
    if reply.public:
        payload["response_type"] = "in_channel"
    return payload


def _respond_later(respond: Callable[..., None], future: Any, name: str) -> None:
    try:
        reply = future.result()
    except Exception:
        log.exception("%s failed", name)
        return
    metrics.COMMANDS.labels(name, reply.kind.value).inc()
    try:
        respond(response_type="in_channel" if reply.public else "ephemeral", **render_reply(reply))
    except Exception as exc:
        log.warning("could not send a late reply through response_url: %s", type(exc).__name__)
