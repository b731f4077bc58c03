"""A deploy's story as Slack messages: the parent card from the stored record, thread replies from events.

The application stores what this returns in the outbox with the tracker's state (one transaction), and the
delivery worker sends it. Reply keys are derived from the event itself, so a tracking step replayed after a
crash cannot queue the same reply twice. A release whose notices are "failures only" gets nothing until a
failed or timed-out verdict: then its parent, the failure and the verdict, in that order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.summary import TrackSummary
from bot.core.tracking import ReleaseTracker
from bot.slack.delivery import Rendered
from bot.slack.render import (
    DeployCard,
    SlackMessage,
    render_parent,
    render_thread_reply,
    render_timeline_reply,
)
from bot.store.records import DeployRecord, OutboxMessage

CardFor = Callable[[DeployRecord], DeployCard]


def event_key(deploy_id: str, event: TrackEvent) -> str:
    digest = hashlib.sha256(json.dumps(event.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    return f"reply:{deploy_id}:{event.type.value}:{digest}"


def summary_of(record: DeployRecord) -> TrackSummary | None:
    if not record.tracker_state:
        return None
    try:
        return ReleaseTracker.from_state(record.tracker_state).summary()
    except (ValueError, KeyError, TypeError):
        return None


class SlackSink:
    def __init__(
        self, *, card_for: CardFor, clock: Callable[[], datetime], wake: Callable[[], None] = lambda: None
    ) -> None:
        self.card_for = card_for
        self.clock = clock
        self._wake = wake

    def wake(self) -> None:
        self._wake()

    # -- the parent, rendered when it is sent ------------------------------------------------------------

    def render_parent(self, record: DeployRecord) -> Rendered:
        summary = summary_of(record)
        card = self.card_for(record)
        if summary is not None and summary.operation:
            card = replace(card, operation=summary.operation)   # Helm's record knows install from upgrade
        message = render_parent(card, summary, now=self.clock())
        if record.helm_error and record.status == "failed" and record.revision is None:
            # helm failed before it wrote a revision: the card's own verdict section has nothing to say
            message = _with_helm_error(message, record.helm_error)
        return Rendered(message.text, list(message.blocks))

    # -- thread replies -------------------------------------------------------------------------------

    def thread_messages(
        self, record: DeployRecord, summary: TrackSummary, events: Sequence[TrackEvent]
    ) -> list[OutboxMessage]:
        if not record.channel or record.notify == "none":
            return []
        failing = any(
            e.type is EventType.VERDICT and e.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) for e in events
        )
        if record.notify == "failures" and not failing:
            return []
        now = self.clock()
        card = self.card_for(record)
        parent_key = f"parent:{record.id}"
        out: list[OutboxMessage] = []
        if record.notify == "failures":
            out.append(self._message(record, parent_key, "post", None, {}, now))
        earlier: list[TrackEvent] = []
        for event in events:
            message = render_thread_reply(card, event, now=now, earlier=earlier)
            earlier.append(event)
            if message is not None:
                out.append(self._reply(record, event_key(record.id, event), message, now))
            if event.type is EventType.VERDICT:
                timeline = render_timeline_reply(card, summary, now=now)
                if timeline is not None:
                    out.append(self._reply(record, f"timeline:{record.id}", timeline, now))
        return out

    def _reply(self, record: DeployRecord, key: str, message: SlackMessage, now: datetime) -> OutboxMessage:
        payload = {"text": message.text, "blocks": message.blocks, "reply_broadcast": message.broadcast}
        if message.file is not None:
            payload["file"] = {
                "filename": message.file.filename,
                "content": message.file.content,
                "title": message.file.title,
            }
        return self._message(record, key, "reply", f"parent:{record.id}", payload, now)

    @staticmethod
    def _message(
        record: DeployRecord,
        key: str,
        kind: str,
        thread_of: str | None,
        payload: dict[str, object],
        now: datetime,
    ) -> OutboxMessage:
        return OutboxMessage(
            key=key,
            channel=record.channel or "",
            kind=kind,
            deploy_id=record.id,
            thread_of=thread_of,
            payload=payload,
            created_at=now,
        )


def _with_helm_error(message: SlackMessage, error: str) -> SlackMessage:
    from bot.slack.blocks import code_block, fit_message, section

    blocks = [*message.blocks, section("*helm failed before it wrote a revision:*\n" + code_block([error]))]
    fitted, text = fit_message(blocks, message.text)
    return SlackMessage(text, fitted)
