"""One tracker's working set: its stored state, its policy, and the events the current observe() makes.

Every rule module (phases, steps, failures, gated, logs, verdict) works on a `Run`; only `state` is
persisted, the rest is rebuilt from the next view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.events import EventType, TrackEvent
from bot.core.model.policy import Policy
from bot.core.releases import Release, ReleaseStatus
from bot.core.tracking.hook_runs import records_of
from bot.core.tracking.state import TrackedStep, TrackerState
from bot.text import one_line

StepEvents = list[tuple[TrackedStep, EventType, str, dict[str, Any]]]


@dataclass(frozen=True)
class ClusterView:
    """What the adapter saw, namespace-wide and unfiltered, by kind key (bot.core.model.kinds.kind_key):
    "Job", "Service", ... for the kinds Kubernetes serves, "Kind.group" for custom resources
    ("Service.serving.knative.dev", "Certificate.cert-manager.io"), so a custom kind named like a built-in
    one never mixes with it.

    A kind missing from `objects` means "not known this time" (a lost watch), not "none exist"; a kind
    never present counts as not watched (its steps are "unobserved" and the verdict names them).
    `log_errors`: why a requested log could not be read this time ("503 Service Unavailable"), so a failure
    can say "logs unavailable: ..." instead of showing an empty tail.
    `secrets_fresh`: the Secret list `release` was read from is complete and current, so `release=None`
    means the revision is not stored (any more). False (the default, and whenever that list may be behind)
    makes `release=None` mean "unknown right now": a deleted release record is only noticed when True.
    """

    release: Release | None
    objects: Mapping[str, Sequence[Mapping[str, Any]]]
    logs: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)
    log_errors: Mapping[tuple[str, str], str] = field(default_factory=dict)
    secrets_fresh: bool = False
    # Kinds the adapter watches and has listed, including those left out of `objects` right now (stale):
    # they are watched, so their steps are judged (not "not watched") once they are back. Empty: only
    # the kinds in `objects` are known to be watched.
    watched: frozenset[str] = frozenset()

    def of(self, kind: str) -> Sequence[Mapping[str, Any]]:
        return self.objects.get(kind) or ()


class Run:
    def __init__(self, state: TrackerState, policy: Policy) -> None:
        self.s = state
        self.policy = policy
        self.out: list[TrackEvent] = []
        self.waiting: dict[str, tuple[str, ...]] = {}  # workload subject -> its pods gated in Init
        self.manifests: dict[str, Mapping[str, Any]] = {}  # subject -> the tracked revision's manifest

    def emit(
        self,
        etype: EventType,
        now: datetime,
        message: str,
        *,
        step: TrackedStep | None = None,
        phase: str | None = None,
        subject: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TrackEvent:
        s = self.s
        if step is not None:
            phase = phase or s.phases[step.phase].name
            subject = subject or step.subject
        data = dict(data or {})
        if one_line(message) != message:
            data.setdefault("original_message", message)  # the event's message is made one line
        event = TrackEvent(
            type=etype,
            at=now,
            release=s.release_name,
            namespace=s.namespace,
            revision=s.revision,
            message=message,
            phase=phase,
            subject=subject,
            data=data,
        )
        self.out.append(event)
        return event

    def flush(self, step_events: StepEvents, now: datetime) -> None:
        for step, etype, message, data in step_events:
            self.emit(etype, now, message, step=step, data=data)
        step_events.clear()

    @staticmethod
    def related(view: ClusterView) -> list[Mapping[str, Any]]:
        return [
            *view.of("ReplicaSet"),
            *view.of("Pod"),
            *view.of("Event"),
            *view.of("ControllerRevision"),
            *view.of("StorageClass"),
        ]

    def find(self, view: ClusterView, step: TrackedStep) -> Mapping[str, Any] | None:
        for obj in view.of(step.key):
            md = obj.get("metadata") or {}
            if md.get("name") == step.name and md.get("namespace", self.s.namespace) == self.s.namespace:
                return obj
        return None

    def deployed(self) -> bool:
        return self.s.release_status == ReleaseStatus.DEPLOYED.value

    def matching_release(self, release: Release | None) -> Release | None:
        s = self.s
        if release is None or release.name != s.release_name or release.revision != s.revision:
            return None
        if release.namespace and release.namespace != s.namespace:
            return None
        return release

    def note_release(self, release: Release) -> None:
        s = self.s
        s.release_status = release.status.value
        s.release_description = release.description
        s.chart = f"{release.chart_name}-{release.chart_version}" if release.chart_name else None
        s.app_version = release.app_version or None
        s.last_deployed = release.last_deployed
        s.hook_records = records_of(release)
        self.manifests = {
            f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}": obj for obj in release.resources
        }
