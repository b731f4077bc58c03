"""The tracker's event vocabulary: what happened during a release, in a form every renderer shares.

`helmbot watch` prints events (text or one JSON object per line), the Slack layer turns them into an
updated parent message and thread replies, and the store persists them; so an event carries one human
line plus JSON-safe details, and never secrets or chart values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from bot.core.model.failures import FailureData, VerdictData
from bot.core.model.values import json_safe, parse_time, to_utc
from bot.text import one_line

__all__ = ["EventType", "Outcome", "TrackEvent", "json_safe", "parse_time", "to_utc"]


class EventType(StrEnum):
    TRACKING_STARTED = "tracking_started"
    PHASE_STARTED = "phase_started"
    PHASE_FINISHED = "phase_finished"
    RESOURCE_PROGRESS = "resource_progress"
    RESOURCE_READY = "resource_ready"
    PODS_GATED = "pods_gated"
    LOG_LINES = "log_lines"
    HOOK_NEARING_TIMEOUT = "hook_nearing_timeout"
    WARNING = "warning"
    FAILURE = "failure"
    VERDICT = "verdict"


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class TrackEvent:
    type: EventType
    at: datetime
    release: str
    namespace: str
    revision: int
    message: str
    phase: str | None = None
    subject: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType(self.type))
        object.__setattr__(self, "at", to_utc(self.at))
        # One human line, whatever went in (Helm descriptions and API messages may hold newlines).
        object.__setattr__(self, "message", one_line(self.message))
        # Normalise once: the event is immutable in spirit and serialisable whatever the caller passed.
        object.__setattr__(self, "data", json_safe(self.data))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "at": self.at.isoformat(),
            "release": self.release,
            "namespace": self.namespace,
            "revision": self.revision,
            "message": self.message,
            "phase": self.phase,
            "subject": self.subject,
            "data": json_safe(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrackEvent:
        try:
            return cls(
                type=EventType(raw["type"]),
                at=parse_time(raw["at"]),
                release=str(raw["release"]),
                namespace=str(raw["namespace"]),
                revision=int(raw["revision"]),
                message=str(raw["message"]),
                phase=raw.get("phase"),
                subject=raw.get("subject"),
                data=dict(raw.get("data") or {}),
            )
        except KeyError as exc:
            raise ValueError(f"track event is missing field {exc.args[0]!r}") from exc

    @property
    def outcome(self) -> Outcome | None:
        """The verdict's outcome (None for other events)."""
        if self.type is not EventType.VERDICT:
            return None
        value = self.data.get("outcome")
        return Outcome(value) if value else None

    @property
    def failure(self) -> FailureData | None:
        """A FAILURE event's payload (None for other events)."""
        return cast(FailureData, self.data) if self.type is EventType.FAILURE else None

    @property
    def verdict_data(self) -> VerdictData | None:
        """The VERDICT event's payload (None for other events)."""
        return cast(VerdictData, self.data) if self.type is EventType.VERDICT else None
