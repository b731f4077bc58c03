"""The tracker's current picture of a release: what a live terminal view or a Slack message updated in
place renders, and the per-resource timeline a later renderer can draw.

Frozen and JSON-safe (`to_dict()`), so renderers never reach into the tracker's mutable state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bot.core.model.values import json_safe


@dataclass(frozen=True)
class PhaseSummary:
    name: str  # "pre-upgrade hooks", "resources", "post-upgrade hooks"
    kind: str  # "pre_hooks", "resources", "post_hooks"
    state: str  # pending, running, succeeded, failed, skipped (no steps)
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class WorkloadSummary:
    kind: str
    name: str
    state: str  # pending, in_progress, current, failed, unobserved
    reason: str = ""
    ready: int | None = None
    desired: int | None = None


@dataclass(frozen=True)
class JobSummary:
    """A hook (Job or Pod) or a chart Job such as a migration."""

    kind: str
    name: str
    hook: bool
    phase: str  # the plan phase it belongs to
    state: str  # pending, in_progress, succeeded, failed, unknown
    reason: str = ""
    attempts: int | None = None
    last_log_line: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True)
class GatedPods:
    """Pods of a workload held in Init, and the Job they wait on (None when not known)."""

    workload: str  # "Deployment/shop-web"
    job: str | None
    pods: tuple[str, ...]
    since: datetime


@dataclass(frozen=True)
class TimelinePoint:
    at: datetime
    state: str
    ready: int | None = None
    desired: int | None = None


@dataclass(frozen=True)
class ResourceTimeline:
    subject: str  # "Deployment/shop-web"
    phase: str
    first_seen: datetime | None
    done_at: datetime | None
    failed_at: datetime | None
    points: tuple[TimelinePoint, ...] = ()


@dataclass(frozen=True)
class VerdictSummary:
    outcome: str  # an Outcome value
    reason: str
    at: datetime
    not_judged: tuple[str, ...] = ()  # success with a caveat: "Certificate/x (not watched)"


@dataclass(frozen=True)
class TrackSummary:
    release: str
    namespace: str
    revision: int
    operation: str | None  # install, upgrade, rollback (None until the release is seen)
    chart: str | None  # "shop-1.2.0"
    app_version: str | None
    release_status: str | None  # Helm's status of the tracked revision as last seen
    release_description: str | None
    started_at: datetime
    updated_at: datetime | None  # the last observe()
    phases: tuple[PhaseSummary, ...] = ()
    workloads: tuple[WorkloadSummary, ...] = ()
    jobs: tuple[JobSummary, ...] = ()
    gated: tuple[GatedPods, ...] = ()
    warnings: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()  # one human line each, as in the FAILURE events
    timeline: tuple[ResourceTimeline, ...] = ()
    verdict: VerdictSummary | None = None

    @property
    def done(self) -> bool:
        return self.verdict is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_safe(asdict(self))
        return out
