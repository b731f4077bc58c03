"""What the store keeps: frozen, JSON-safe records with aware-UTC times.

Every record normalises itself on construction (times to UTC, dicts and lists to plain JSON, choices
checked), so whatever a caller passes, what reaches a database, a Slack payload or a log is the same
plain data, and a record read back compares equal to the one written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from bot.core.events import json_safe, parse_time, to_utc

DEPLOY_STATUSES = frozenset({"pending", "running", "succeeded", "failed", "timed_out", "cancelled"})
ACTIVE_DEPLOY_STATUSES = ("pending", "running")
DEPLOY_ORIGINS = frozenset({"slack", "passive", "catchup"})
APPROVAL_STATUSES = frozenset({"pending", "approved", "rejected", "expired"})
APPROVAL_DECISIONS = frozenset({"approved", "rejected"})
OUTBOX_KINDS = frozenset({"post", "update", "reply", "ephemeral", "file"})
OUTBOX_STATUSES = frozenset({"pending", "in_flight", "sent", "failed"})
NOTIFY_MODES = frozenset({"all", "failures", "none"})
LAST_EVENTS_LIMIT = 50   # a deploy keeps its newest events; the thread in Slack has them all


class _Record:
    """Shared normalisation and dict conversion, driven by three class-level declarations."""

    TIMES: ClassVar[frozenset[str]] = frozenset()          # datetime | None fields
    JSON: ClassVar[frozenset[str]] = frozenset()           # dict / list / None fields, stored as JSON
    CHOICES: ClassVar[Mapping[str, frozenset[str]]] = {}   # str fields with a closed set of values

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            object.__setattr__(self, f.name, self.normalize(f.name, getattr(self, f.name)))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def normalize(cls, name: str, value: Any) -> Any:
        """One field's value as the record holds it; ValueError/TypeError names the field when it is bad."""
        if name in cls.TIMES:
            if value is None:
                return None
            if not isinstance(value, datetime):
                raise TypeError(f"{cls.__name__}.{name} must be a datetime, not {type(value).__name__}")
            return to_utc(value)
        if name in cls.JSON:
            return None if value is None else json_safe(value)
        choices = cls.CHOICES.get(name)
        if choices is not None and value not in choices:
            raise ValueError(f"{cls.__name__}.{name} must be one of {sorted(choices)}, not {value!r}")
        if isinstance(value, str) and "\x00" in value:
            # PostgreSQL text cannot hold NUL; a visible replacement beats losing the record.
            return value.replace("\x00", "\ufffd")
        return value

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (times as ISO text)."""
        return {name: json_safe(getattr(self, name)) for name in self.field_names()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        """Inverse of to_dict; unknown keys are ignored so older code reads newer dumps."""
        values: dict[str, Any] = {}
        for name in cls.field_names():
            if name not in raw:
                continue
            value = raw[name]
            if name in cls.TIMES and isinstance(value, str):
                value = parse_time(value)
            values[name] = value
        return cls(**values)


def _bounded_events(events: Any) -> list[Any]:
    items = list(events or [])
    return items[-LAST_EVENTS_LIMIT:]


@dataclass(frozen=True, kw_only=True)
class DeployRecord(_Record):
    """One operation on one release: a /deploy or /rollback, or a revision noticed passively.

    `revision` is None until Helm has created it; from then on (cluster, namespace, release, revision)
    identifies the record, which is what makes "exactly one parent message per revision" enforceable.
    """

    TIMES: ClassVar[frozenset[str]] = frozenset({"created_at", "updated_at", "finished_at"})
    JSON: ClassVar[frozenset[str]] = frozenset({"tracker_state", "last_events"})
    CHOICES: ClassVar[Mapping[str, frozenset[str]]] = {"status": DEPLOY_STATUSES, "origin": DEPLOY_ORIGINS,
                                                       "notify": NOTIFY_MODES}

    id: str = ""
    cluster: str
    namespace: str
    release: str
    environment: str | None = None
    revision: int | None = None
    operation: str                      # install | upgrade | rollback | uninstall ...
    origin: str = "slack"
    requested_by: str | None = None     # Slack user ID, or an actor text for passive/catch-up records
    request_id: str | None = None       # the request that caused it (trigger_id, idempotency key)
    channel: str | None = None
    parent_ts: str | None = None        # the Slack parent message; never lost on a restart
    status: str = "pending"
    tracker_state: dict[str, Any] | None = None
    last_events: list[dict[str, Any]] = field(default_factory=list)
    chart: str | None = None
    chart_version: str | None = None
    app_version: str | None = None
    previous_revision: int | None = None
    description: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    notify: str = "all"                 # which messages its channel gets: all | failures | none
    parent_version: int = 0             # bumped when the parent message's picture changed
    parent_sent_version: int = 0        # the version Slack shows (the parent is updated while behind)
    helm_error: str | None = None       # helm's own one-line failure, when helm failed
    chart_from: str | None = None       # the chart ("shop-1.4.2") and app version it replaces
    app_from: str | None = None

    @classmethod
    def normalize(cls, name: str, value: Any) -> Any:
        if name == "last_events":
            value = _bounded_events(value)
        if name in ("revision", "previous_revision") and value is not None:
            value = _non_negative_int(cls, name, value)
        return super().normalize(name, value)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_DEPLOY_STATUSES


@dataclass(frozen=True, kw_only=True)
class Lock(_Record):
    """A per-release operation lock: one deploy/rollback at a time; it expires so a dead replica frees it."""

    TIMES: ClassVar[frozenset[str]] = frozenset({"since", "expires_at"})

    cluster: str
    namespace: str
    release: str
    holder: str        # who asked (Slack user ID) or which replica
    deploy_id: str
    since: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return to_utc(now) >= self.expires_at


@dataclass(frozen=True, kw_only=True)
class Approval(_Record):
    """A request for a second person's approval of a protected operation."""

    TIMES: ClassVar[frozenset[str]] = frozenset({"created_at", "expires_at", "decided_at"})
    JSON: ClassVar[frozenset[str]] = frozenset({"request", "approvers"})
    CHOICES: ClassVar[Mapping[str, frozenset[str]]] = {"status": APPROVAL_STATUSES}

    id: str = ""
    cluster: str
    namespace: str
    release: str
    request: dict[str, Any] = field(default_factory=dict)   # the operation to run once approved
    requested_by: str
    approvers: list[str] = field(default_factory=list)
    status: str = "pending"
    decided_by: str | None = None
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    channel: str | None = None
    message_ts: str | None = None

    def expired(self, now: datetime) -> bool:
        return to_utc(now) >= self.expires_at


@dataclass(frozen=True, kw_only=True)
class AuditEntry(_Record):
    """Who did what to which release, and how it ended (never values or secrets)."""

    TIMES: ClassVar[frozenset[str]] = frozenset({"at"})
    JSON: ClassVar[frozenset[str]] = frozenset({"detail"})

    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OutboxMessage(_Record):
    """A Slack message to deliver; the outbox is what makes delivery survive a kill -9.

    `key` names the message in the app's terms (`parent:<deploy id>`, `reply:<deploy id>:<n>`); enqueueing
    the same key twice keeps the first.
    """

    TIMES: ClassVar[frozenset[str]] = frozenset({"not_before", "created_at", "attempted_at", "sent_at"})
    JSON: ClassVar[frozenset[str]] = frozenset({"payload"})
    CHOICES: ClassVar[Mapping[str, frozenset[str]]] = {"kind": OUTBOX_KINDS, "status": OUTBOX_STATUSES}

    id: str = ""
    key: str
    channel: str
    kind: str
    deploy_id: str | None = None
    thread_of: str | None = None   # outbox key of the parent message, for replies
    payload: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    attempts: int = 0
    not_before: datetime | None = None
    created_at: datetime
    attempted_at: datetime | None = None   # the last delivery attempt began (in_flight since)
    sent_at: datetime | None = None
    ts: str | None = None          # Slack's ts once posted
    error: str | None = None       # the last delivery error (one line, for /helmbot status)


def _non_negative_int(cls: type, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{cls.__name__}.{name} must be a non-negative integer, not {value!r}")
    return value
