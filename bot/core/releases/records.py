"""Helm's release record as typed, frozen objects: Release, Hook, their statuses and the Secret around them.

Never carries the chart's values or the user-supplied config (they can hold secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.errors import HelmbotError

SECRET_TYPE = "helm.sh/release.v1"
SYSTEM_LABELS = frozenset({"name", "owner", "status", "version", "createdAt", "modifiedAt"})


class ReleaseDecodeError(HelmbotError, ValueError):
    """A release record could not be read; says which record and what was wrong, never a value."""


class ReleaseStatus(StrEnum):
    UNKNOWN = "unknown"
    DEPLOYED = "deployed"
    UNINSTALLED = "uninstalled"
    SUPERSEDED = "superseded"
    FAILED = "failed"
    UNINSTALLING = "uninstalling"
    PENDING_INSTALL = "pending-install"
    PENDING_UPGRADE = "pending-upgrade"
    PENDING_ROLLBACK = "pending-rollback"

    @property
    def pending(self) -> bool:
        return self in (
            ReleaseStatus.PENDING_INSTALL,
            ReleaseStatus.PENDING_UPGRADE,
            ReleaseStatus.PENDING_ROLLBACK,
        )


class HookPhase(StrEnum):
    UNKNOWN = "Unknown"  # also what a never-run hook (Helm writes "") decodes to
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class HookRun:
    started_at: datetime | None = None
    completed_at: datetime | None = None
    phase: HookPhase = HookPhase.UNKNOWN


@dataclass(frozen=True)
class Hook:
    name: str
    kind: str
    api_version: str
    path: str
    events: tuple[str, ...]
    weight: int
    delete_policies: tuple[str, ...]  # Helm's default applied: ("before-hook-creation",)
    last_run: HookRun
    manifest: dict[str, Any] = field(repr=False, compare=False)
    namespace: str = ""
    output_log_policies: tuple[str, ...] = ()

    @property
    def waited(self) -> bool:
        """Helm waits only on Job and Pod hooks; others are done once created."""
        return self.kind in ("Job", "Pod")

    @property
    def deleted_on_success(self) -> bool:
        return "hook-succeeded" in self.delete_policies

    @property
    def deleted_on_failure(self) -> bool:
        return "hook-failed" in self.delete_policies


@dataclass(frozen=True)
class SecretMeta:
    """The storage record around a release: what `kubectl get secret` shows without decoding."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    type: str = SECRET_TYPE
    resource_version: str | None = None
    created_at: datetime | None = None  # from the createdAt label (epoch seconds)
    modified_at: datetime | None = None  # from the modifiedAt label

    @property
    def status(self) -> str | None:
        return self.labels.get("status")

    @property
    def revision(self) -> int | None:
        try:
            return int(self.labels["version"])
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    revision: int
    status: ReleaseStatus
    description: str
    chart_name: str
    chart_version: str
    app_version: str
    first_deployed: datetime | None
    last_deployed: datetime | None
    resources: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    hooks: tuple[Hook, ...] = ()
    deleted: datetime | None = None
    notes: str = field(default="", repr=False)
    labels: Mapping[str, str] = field(default_factory=dict)  # user labels (Helm 4 --labels)
    resource_sources: tuple[str, ...] = field(default=(), repr=False)  # "# Source:" path per resource
    apply_method: str = ""
    secret: SecretMeta | None = field(default=None, compare=False)
    # Documents PyYAML could not load (kept by identity only, see parse_manifest); never quotes values.
    manifest_problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        return release_secret_name(self.name, self.revision)

    def hooks_for(self, event: str) -> tuple[Hook, ...]:
        return tuple(h for h in self.hooks if event in h.events)


def release_secret_name(name: str, revision: int) -> str:
    return f"sh.helm.release.v1.{name}.v{revision}"
