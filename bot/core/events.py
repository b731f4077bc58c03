"""The tracker's event vocabulary: what happened during a release, in a form every renderer shares.

`helmbot watch` prints events (text or one JSON object per line), the Slack layer turns them into an
updated parent message and thread replies, and the store persists them; so an event carries one human
line plus JSON-safe details, and never secrets or chart values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any


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


def json_safe(value: Any) -> Any:
    """Plain JSON types only (tuples become lists, enums their value, datetimes ISO text).

    Fails loudly on anything else so a stray object never reaches a store or a Slack payload.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not JSON-safe: non-finite float {value!r}")
        return value
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"not JSON-safe: mapping key {key!r} is not a string")
            out[key] = json_safe(item)
        return out
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    raise TypeError(f"not JSON-safe: {type(value).__name__}")


def to_utc(at: datetime) -> datetime:
    """Aware UTC; naive datetimes are rejected because their meaning depends on the machine."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: pass an aware (UTC) datetime")
    return at.astimezone(UTC)


def parse_time(text: str) -> datetime:
    return to_utc(datetime.fromisoformat(text))


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
        object.__setattr__(self, "message", " ".join(str(self.message).split()))
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
