"""Sends the outbox to Slack, off the tracking path: paced, ordered, coalesced, and safe across crashes.

- Order: within a thread, a message waits until the ones before it are sent; replies wait for their parent.
- Pace: about one new message per second per channel (chat.postMessage's limit); chat.update from a token
  bucket (Tier 3 is about 50 a minute per workspace), the parent whose update is oldest first, each parent at
  most every `update_interval`: the newest picture wins, the ones in between are never sent.
- 429: the method is paused for `Retry-After` (per channel for posts); 5xx and connection errors back off
  per message; errors Slack will repeat forever (channel_not_found, invalid_blocks, ...) end the message as
  failed, logged, instead of blocking its channel.
- Crashes: a message is marked in flight before it is sent and carries its outbox key in Slack's message
  metadata; at start, in-flight messages are looked up in the channel (conversations.history / replies) and
  marked sent if Slack has them, so a kill -9 right after Slack accepted a post never posts it twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot import metrics
from bot.store.records import DeployRecord, OutboxMessage

log = logging.getLogger("helmbot.slack")

METADATA_EVENT = "helmbot"
RECONCILE_RETRY = 10.0   # seconds between attempts to verify messages interrupted by a crash
FATAL_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "cant_update_message",
        "message_not_found",
        "edit_window_closed",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "msg_blocks_too_long",
    }
)


@dataclass(frozen=True)
class Rendered:
    text: str
    blocks: list[dict[str, Any]]
    reply_broadcast: bool = False


RenderParent = Callable[[DeployRecord], Rendered]


@dataclass
class _Bucket:
    """A token bucket: `rate` tokens per second, at most `burst` saved."""

    rate: float
    burst: float
    tokens: float = 0.0
    at: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class DeliveryWorker:
    def __init__(
        self,
        client: WebClient,
        store: Any,
        render_parent: RenderParent,
        *,
        post_interval: float = 1.0,
        update_interval: float = 2.0,
        updates_per_minute: float = 50,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.store = store
        self.render_parent = render_parent
        self.post_interval = post_interval
        self.update_interval = update_interval
        self.clock = clock
        self.monotonic = monotonic
        self._updates = _Bucket(
            updates_per_minute / 60.0,
            burst=max(5.0, updates_per_minute / 3),
            tokens=max(5.0, updates_per_minute / 3),
            at=monotonic(),
        )
        self._last_post: dict[str, float] = {}  # channel -> monotonic time of the last post
        self._paused: dict[tuple[str, str], float] = {}  # (method, channel or "") -> monotonic until
        self._last_update: dict[str, float] = {}  # deploy id -> monotonic time of its last update
        self._joined: set[str] = set()
        self._last_reconcile = -1e9
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.reconcile()
        self._thread = threading.Thread(target=self._run, name="helmbot-delivery", daemon=True)
        self._thread.start()

    def stop(self, drain: float = 0.0) -> None:
        """Stop; with `drain`, keep sending what is due for up to that many seconds first (on the calling
        thread, once the worker's thread has finished its pass: never two senders at once)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        deadline = self.monotonic() + drain
        while drain and self.monotonic() < deadline and self.run_once():
            pass

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except Exception:
                log.exception("delivery pass failed")
                sent = 0
            if not sent:
                self._wake.wait(self._idle_wait())
                self._wake.clear()

    def _idle_wait(self) -> float:
        return 0.25

    # -- one pass -----------------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Send whatever is due now; returns how many Slack calls were made."""
        calls = 0
        blocked_threads: set[str] = set()
        unverified = False
        for msg in self.store.pending_messages(limit=200):
            thread = msg.thread_of or msg.key
            if msg.status == "in_flight":   # interrupted by a crash: verified by reconcile(), never re-sent
                blocked_threads.add(thread)
                unverified = True
                continue
            if thread in blocked_threads:
                continue
            if not self._due(msg):
                blocked_threads.add(thread)
                continue
            outcome = self._send(msg)
            if outcome is None:
                blocked_threads.add(thread)  # keep order: nothing after it in its thread goes first
            else:
                calls += 1
                if not outcome:
                    blocked_threads.add(thread)
        calls += self._update_parents()
        if unverified and self.monotonic() - self._last_reconcile >= RECONCILE_RETRY:
            self.reconcile()
        metrics.OUTBOX_DEPTH.set(self.store.outbox_depth())
        return calls

    def _due(self, msg: OutboxMessage) -> bool:
        now = self.monotonic()
        if msg.not_before is not None and msg.not_before > self.clock():
            return False
        method = "chat.postMessage"
        if self._paused.get((method, msg.channel), 0.0) > now or self._paused.get((method, ""), 0.0) > now:
            return False
        return now - self._last_post.get(msg.channel, -1e9) >= self.post_interval

    def _send(self, msg: OutboxMessage) -> bool | None:
        """True: sent; False: the call failed (retry later or given up); None: not sendable yet."""
        thread_ts = None
        if msg.thread_of:
            parent = self.store.get_message(msg.thread_of)
            if parent is None or parent.status == "failed":
                self.store.mark_failed(msg.id, error="its parent message could not be posted")
                return False
            if parent.ts is None:
                return None
            thread_ts = parent.ts
        if msg.kind == "update":
            return self._update_message(msg, thread_ts)
        payload, version = self._payload(msg)
        if payload is None:
            self.store.mark_failed(msg.id, error="its deploy record is gone")
            return False
        self.store.mark_in_flight(msg.id, self.clock())
        self._last_post[msg.channel] = self.monotonic()
        method = "chat.postMessage"
        try:
            response = self.client.chat_postMessage(
                channel=msg.channel,
                text=payload.text,
                blocks=payload.blocks or None,
                thread_ts=thread_ts,
                reply_broadcast=payload.reply_broadcast if thread_ts else None,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": msg.key}},
            )
            metrics.SLACK_CALLS.labels(method, "ok").inc()
            ts = str(response.get("ts"))
            self.store.mark_sent(
                msg.id,
                ts=ts,
                now=self.clock(),
                channel=str(response.get("channel") or ""),
                parent_version=version,
            )
            file = msg.payload.get("file")
            if isinstance(file, dict) and thread_ts:
                method = "files.upload"
                self.client.files_upload_v2(
                    channel=str(response.get("channel") or msg.channel),
                    thread_ts=thread_ts,
                    content=str(file.get("content") or ""),
                    filename=str(file.get("filename") or "log.txt"),
                    title=str(file.get("title") or "log"),
                )
                metrics.SLACK_CALLS.labels(method, "ok").inc()
        except SlackApiError as exc:
            if method == "files.upload":
                log.warning("log file for %s not uploaded: %s", msg.key, exc.response.get("error"))
                return True
            self._failed(msg, method, exc)
            return False
        except (SlackClientError, OSError) as exc:
            if method == "files.upload":
                log.warning("log file for %s not uploaded: %s", msg.key, type(exc).__name__)
                return True
            self._retry(msg, method, f"connection: {type(exc).__name__}")
            return False
        return True

    def _update_message(self, msg: OutboxMessage, ts: str | None) -> bool | None:
        """An edit of a message we posted (an approval card once decided)."""
        if ts is None:
            return None
        self.store.mark_in_flight(msg.id, self.clock())
        try:
            self.client.chat_update(
                channel=msg.channel,
                ts=ts,
                text=str(msg.payload.get("text") or " "),
                blocks=list(msg.payload.get("blocks") or []),
            )
        except SlackApiError as exc:
            self._failed(msg, "chat.update", exc)
            return False
        except (SlackClientError, OSError) as exc:
            self._retry(msg, "chat.update", f"connection: {type(exc).__name__}")
            return False
        metrics.SLACK_CALLS.labels("chat.update", "ok").inc()
        self.store.mark_sent(msg.id, ts=ts, now=self.clock())
        return True

    def _payload(self, msg: OutboxMessage) -> tuple[Rendered | None, int | None]:
        if msg.payload.get("text") or msg.payload.get("blocks"):
            return Rendered(
                str(msg.payload.get("text") or ""),
                list(msg.payload.get("blocks") or []),
                bool(msg.payload.get("reply_broadcast")),
            ), None
        if msg.deploy_id is None:
            return None, None
        record = self.store.get_deploy(msg.deploy_id)
        if record is None:
            return None, None
        return self.render_parent(record), record.parent_version

    # -- parents updated in place -------------------------------------------------------------------------

    def _update_parents(self) -> int:
        calls = 0
        now = self.monotonic()
        if self._paused.get(("chat.update", ""), 0.0) > now:
            return 0
        dirty = self.store.dirty_parents(limit=100)
        dirty.sort(key=lambda r: self._last_update.get(r.id, 0.0))
        for record in dirty:
            if now - self._last_update.get(record.id, -1e9) < self.update_interval:
                continue
            if not self._updates.take(self.monotonic()):
                break
            version = record.parent_version
            rendered = self.render_parent(record)
            self._last_update[record.id] = self.monotonic()
            try:
                self.client.chat_update(
                    channel=record.channel, ts=record.parent_ts, text=rendered.text, blocks=rendered.blocks
                )
            except SlackApiError as exc:
                status = exc.response.status_code
                error = str(exc.response.get("error") or "")
                calls += 1
                if status == 429:
                    self._pause("chat.update", "", exc)
                    break
                metrics.SLACK_CALLS.labels("chat.update", error or str(status)).inc()
                if error in FATAL_ERRORS:
                    log.warning("deploy %s: parent message cannot be updated (%s)", record.id, error)
                    self.store.mark_parent_sent(record.id, version)
                continue
            except (SlackClientError, OSError):
                calls += 1
                continue
            calls += 1
            metrics.SLACK_CALLS.labels("chat.update", "ok").inc()
            self.store.mark_parent_sent(record.id, version)
            if record.finished_at is not None:
                self._last_update.pop(record.id, None)
        return calls

    # -- errors ---------------------------------------------------------------------------------------

    def _pause(self, method: str, channel: str, exc: SlackApiError) -> float:
        headers = exc.response.headers or {}
        raw = headers.get("Retry-After") or headers.get("retry-after") or ["1"]
        value = raw[0] if isinstance(raw, list | tuple) else raw
        try:
            delay = max(0.0, float(value))
        except (TypeError, ValueError):
            delay = 1.0
        self._paused[(method, channel)] = self.monotonic() + delay
        metrics.SLACK_RATE_LIMITED.labels(method).inc()
        log.info("slack %s rate limited%s; pausing %.1fs", method, f" in {channel}" if channel else "", delay)
        return delay

    def _failed(self, msg: OutboxMessage, method: str, exc: SlackApiError) -> None:
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"http_{status}")
        metrics.SLACK_CALLS.labels(method, error).inc()
        if status == 429:
            delay = self._pause(method, msg.channel, exc)
            self.store.mark_retry(msg.id, not_before=self.clock() + timedelta(seconds=delay), error=error)
        elif error == "not_in_channel" and msg.channel not in self._joined:
            self._joined.add(msg.channel)
            try:
                self.client.conversations_join(channel=msg.channel)
            except SlackApiError as join_exc:
                log.warning("cannot join %s: %s", msg.channel, join_exc.response.get("error"))
            self.store.mark_retry(msg.id, not_before=self.clock(), error=error)
        elif error in FATAL_ERRORS or error == "not_in_channel":
            log.warning("message %s to %s given up: %s", msg.key, msg.channel, error)
            self.store.mark_failed(msg.id, error=error)
        else:
            self._retry(msg, method, error)

    def _retry(self, msg: OutboxMessage, method: str, error: str) -> None:
        delay = min(60.0, 0.5 * 2 ** min(msg.attempts, 7))
        log.info("slack %s for %s failed (%s); retrying in %.1fs", method, msg.key, error, delay)
        self.store.mark_retry(msg.id, not_before=self.clock() + timedelta(seconds=delay), error=error)

    # -- after a crash ------------------------------------------------------------------------------------

    def reconcile(self) -> int:
        """In-flight messages from before a crash: mark sent those Slack has (found by their metadata key),
        queue again those it surely has not; when Slack cannot be asked right now they stay in flight (and
        hold back their thread) until it can: posting blind could post twice. Returns how many were found."""
        self._last_reconcile = self.monotonic()
        found = 0
        for msg in self.store.in_flight_messages():
            verdict = self._find_posted(msg)
            if verdict is _UNKNOWN:
                continue
            if verdict is not None:
                self.store.mark_sent(msg.id, ts=str(verdict), now=self.clock(), channel="")
                found += 1
            else:
                self.store.mark_retry(msg.id, not_before=self.clock(), error="interrupted")
        if found:
            log.info("%d message(s) sent before a restart were found in Slack; not posting them again", found)
        return found

    def _find_posted(self, msg: OutboxMessage, *, joined: bool = False) -> object:
        """The ts Slack has for this message, None if it has none, _UNKNOWN if it cannot be asked."""
        if msg.kind == "update":
            return None   # an edit is safe to repeat
        oldest = f"{msg.created_at.timestamp() - 5:.6f}"
        try:
            if msg.thread_of:
                parent = self.store.get_message(msg.thread_of)
                if parent is None or parent.ts is None:
                    return None
                response = self.client.conversations_replies(
                    channel=msg.channel, ts=parent.ts, oldest=oldest, include_all_metadata=True, limit=200
                )
            else:
                response = self.client.conversations_history(
                    channel=msg.channel, oldest=oldest, include_all_metadata=True, limit=200
                )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "not_in_channel" and not joined:
                # posting to a public channel needs no membership; reading its history does
                try:
                    self.client.conversations_join(channel=msg.channel)
                except (SlackApiError, SlackClientError, OSError):
                    return _UNKNOWN
                return self._find_posted(msg, joined=True)
            if error in ("channel_not_found", "thread_not_found"):
                return None
            log.warning("cannot check whether %s was posted before the restart: %s", msg.key, error)
            return _UNKNOWN
        except (SlackClientError, OSError) as exc:
            log.warning("cannot check whether %s was posted before the restart: %s", msg.key,
                        type(exc).__name__)
            return _UNKNOWN
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and (meta.get("event_payload") or {}).get("key") == msg.key
            ):
                return str(message.get("ts"))
        return None


_UNKNOWN = object()
