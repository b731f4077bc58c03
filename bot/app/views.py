"""Typed views a reply may carry (status, history, help, preflight, approval), rendered by the Slack layer.

Plain frozen data: no Slack, no values. Built by the use cases from the config, the store and Helm's
records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RevisionLine:
    revision: int
    status: str  # Helm's status of the revision
    chart: str | None
    app_version: str | None
    updated: datetime | None
    description: str | None
    by: str | None = None  # Slack user ID or actor text, from helmbot's records
    outcome: str | None = None  # helmbot's verdict: succeeded, failed, timed_out, running
    deploy_id: str | None = None


@dataclass(frozen=True)
class StatusView:
    label: str  # "shop" or "shop (prod)"
    namespace: str
    cluster: str | None
    revision: int | None
    status: str | None  # Helm's status of the newest revision
    chart: str | None
    app_version: str | None
    updated: datetime | None
    running: str | None = None  # "upgrade to revision 8 by <@U..>, 2m in" when one is in progress
    lock: str | None = None  # who holds the release's lock
    last_verdict: str | None = None
    freeze: str | None = None
    error: str | None = None  # why the cluster could not be read


@dataclass(frozen=True)
class HistoryView:
    label: str
    namespace: str
    lines: tuple[RevisionLine, ...]


@dataclass(frozen=True)
class HelpView:
    commands: tuple[tuple[str, str], ...]  # (usage, what it does)
    releases: tuple[str, ...] = ()  # the labels this user may deploy


@dataclass(frozen=True)
class PreflightView:
    """What a rollback (or a deploy needing confirmation) will do, with a Confirm button."""

    title: str
    lines: tuple[str, ...]
    confirm_value: str  # server-side key of the stored request
    confirm_label: str = "Confirm"
    danger: bool = True
    hazards: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalView:
    approval_id: str
    label: str
    what: str  # "deploy chart 1.5.0 with image.tag" (no values)
    requested_by: str
    approvers: tuple[str, ...]
    reason: str  # "protected release", "year-end freeze"
    expires_at: datetime
    status: str = "pending"  # pending, approved, rejected, expired
    decided_by: str | None = None


@dataclass(frozen=True)
class PlanView:
    title: str
    lines: tuple[str, ...]
    hazards: tuple[str, ...] = field(default_factory=tuple)
    confirm_value: str = ""  # a dry run's plan: the stored request a "Deploy this" button runs
    confirm_label: str = "Deploy this"
