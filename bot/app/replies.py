"""What a use case answers a person, independent of Slack.

The Slack layer renders a `Reply` (an ephemeral line, a card with buttons, a message in the channel); tests
read it directly. `text` is always safe to show: it never carries chart values or secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReplyKind(StrEnum):
    ACCEPTED = "accepted"  # the operation runs; its story follows in the channel
    REFUSED = "refused"  # nothing ran: permission, bad input, lock held, freeze, pending release
    INFO = "info"  # status, history, help, a plan or a preflight card
    WAITING = "waiting"  # waiting for an approval


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    text: str
    card: Any = None  # a typed view for the renderer (see bot.app.views)
    public: bool = False  # shown to the channel, not only to the person who asked
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def refused(cls, text: str, **data: Any) -> Reply:
        return cls(ReplyKind.REFUSED, text, data=data)

    @classmethod
    def accepted(cls, text: str, **data: Any) -> Reply:
        return cls(ReplyKind.ACCEPTED, text, data=data)

    @classmethod
    def info(cls, text: str, card: Any = None, **data: Any) -> Reply:
        return cls(ReplyKind.INFO, text, card=card, data=data)
