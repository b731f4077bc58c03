"""What the workload rules share: a workload's pods and their findings, progress texts, and failures that
wait out a grace (FailedCreate, ReplicaFailure).

A workload is current only when its own status says the *new* spec is fully rolled out (kstatus counters,
never `replicas - maxUnavailable`: Available=True means only "minimum availability"). It fails on its own
signals (ProgressDeadlineExceeded, ReplicaFailure / FailedCreate that persists, a Job's Failed or
FailureTarget condition) or, much earlier, on a stuck pod of the new revision (status.pods). Pods of the
old revision are ignored both ways: they neither count as progress nor fail the rollout.

Which pods are new:
- Deployment: the new ReplicaSet is the one it owns whose deployment.kubernetes.io/revision equals its own,
  else the one whose pod template equals its template ignoring pod-template-hash (oldest wins); new pods are
  owned by that ReplicaSet (or carry its pod-template-hash). Without ReplicaSets in `related`, no pod is
  judged (an old pod must never fail a rollout).
- StatefulSet: controller-revision-hash == status.updateRevision.
- DaemonSet: pod-template-generation == the deprecated.daemonset.template.generation annotation (set on every
  DaemonSet by the API server), else controller-revision-hash of its newest ControllerRevision, else all.
- Job: pods owned by the Job's uid, or with its job-name label and controller-uid (a re-created hook Job has
  the same name but a new uid, so the previous run's pods are not mixed in).

"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.model.durations import format_age
from bot.core.model.failures import Failure
from bot.core.model.policy import Policy
from bot.core.model.states import State
from bot.core.model.values import api_time
from bot.core.status.assessment import Assessment
from bot.core.status.objects import (
    condition,
    event_first_seen,
    event_message,
    events_for,
    has_controller,
    labels_of,
    meta,
    name_of,
    owned_by,
    selector_matches,
    spec_of,
)
from bot.core.status.pods import Finding, PodFindings, analyze_pod
from bot.text import plural

Rule = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]], datetime, Policy], Assessment]
FAILURES_ALLOWED = "werf.io/failures-allowed-per-replica"
REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
REVISION_HASH = "controller-revision-hash"


def pods_of(owner: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Pods the owner controls (ownerReference), or orphans its selector matches."""
    selector = spec_of(owner).get("selector")
    return [
        p
        for p in related
        if p.get("kind") == "Pod"
        and (owned_by(p, owner) or (not has_controller(p) and selector_matches(selector, labels_of(p))))
    ]


def live_pods(pods: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [p for p in pods if not meta(p).get("deletionTimestamp")]


class PodView:
    """The findings of a workload's pods (of one revision), and the texts naming them."""

    def __init__(
        self,
        pods: Sequence[Mapping[str, Any]],
        related: Sequence[Mapping[str, Any]],
        now: datetime,
        policy: Policy,
    ) -> None:
        live = sorted(live_pods(pods), key=lambda p: name_key(name_of(p)))
        self.pods: dict[str, Mapping[str, Any]] = {name_of(p): p for p in live}
        self.found: list[PodFindings] = [analyze_pod(p, related, now, policy) for p in live]

    def stuck(self, *, skip: frozenset[str] = frozenset()) -> list[Finding]:
        return [
            Finding(f.failure, f"pod {pf.name}: {f.text}")
            for pf in self.found
            for f in pf.stuck
            if f.failure.reason not in skip
        ]

    def not_ready(self) -> list[PodFindings]:
        return [pf for pf in self.found if not pf.ready and not pf.succeeded]

    def unready_failures(self) -> list[Finding]:
        """Each not-ready pod's containers that hold it back (pods already failed on their own excluded),
        so a deadline names them and the tracker fetches their logs."""
        found = []
        for pf in self.not_ready()[:MAX_NAMED_FAILURES]:
            if pf.stuck:
                continue
            found += [Finding(f.failure, f"pod {pf.name}: {f.text}") for f in pf.unready]
        return found

    def ready_count(self) -> int:
        return sum(1 for pf in self.found if pf.ready)

    def waiting(self) -> tuple[str, ...]:
        return tuple(sorted(pf.name for pf in self.found if pf.gated_in_init))

    def first_note(self, *, extra: Sequence[Finding] = ()) -> str:
        """Why the first pod that is not ready is not, for the progress text."""
        for f in extra:
            return f.text
        for pf in sorted(self.found, key=lambda x: x.name):
            if not pf.ready and not pf.succeeded and pf.notes:
                return f"pod {pf.name}: {pf.notes[0]}"
        return ""


MAX_NAMED_FAILURES = 5  # not-ready pods attached to a deadline's failure
_MAX_NAMED_PODS = 2  # not-ready pods named in a progress text


def name_key(name: str) -> tuple[str, int, str]:
    """Sort by name with a trailing ordinal numerically (db-2 before db-10)."""
    stem, _, tail = name.rpartition("-")
    return (stem, int(tail), "") if tail.isdigit() else (name, -1, name)


def pod_entry(pf: PodFindings, suffix: str = "") -> str:
    """'web-x not ready: Readiness probe failed: ...', or 'waiting for db-2: CrashLoopBackOff'."""
    brief = pf.brief or "not ready"
    if brief.startswith("not ready"):
        return f"{pf.name} {brief}{suffix}"
    return f"waiting for {pf.name}: {brief}{suffix}"


def _pending_text(entries: Sequence[str]) -> str:
    shown = "; ".join(entries[:_MAX_NAMED_PODS])
    more = len(entries) - _MAX_NAMED_PODS
    return shown + (f" (and {plural(more, 'more pod')} not ready)" if more > 0 else "")


def progress_text(progress: str, notes: Sequence[str], entries: Sequence[str]) -> str:
    """The progress counters, then the first note (a grace running out), then the pods not ready."""
    parts = [progress, *notes[:1]]
    if entries:
        parts.append(_pending_text(entries))
    return "; ".join(parts)


@dataclass(frozen=True)
class Counters:
    """Progress counters and gated pods, shared by every verdict of one workload."""

    ready: int | None
    desired: int | None
    waiting: tuple[str, ...] = ()

    def result(
        self,
        state: State,
        reason: str,
        *,
        failures: tuple[Failure, ...] = (),
        warnings: tuple[str, ...] = (),
        ready: int | None = None,
    ) -> Assessment:
        ready = self.ready if ready is None else ready
        return Assessment(state, reason, failures, ready, self.desired, warnings, self.waiting)


def failed_result(findings: Sequence[Finding], counters: Counters) -> Assessment:
    texts = [f.text for f in findings]
    text = "; ".join(texts[:2]) + (f" (and {len(texts) - 2} more)" if len(texts) > 2 else "")
    return counters.result(State.FAILED, text, failures=tuple(f.failure for f in findings))


def tolerate_crashes(
    workload: Mapping[str, Any], findings: list[Finding], replicas: int, notes: list[str]
) -> list[Finding]:
    """werf's `werf.io/failures-allowed-per-replica: N` (werf/nelm: N x replicas failures are allowed):
    crash loops of the new pods do not fail the workload while their restarts stay within N x replicas
    (each crash is one failure). Causes that retrying does not fix (image pulls, missing config,
    unschedulable) and the workload's own signals (progress deadline) still fail as usual. Without the
    annotation helmbot allows none: the first crash loop fails the rollout."""
    raw = (meta(workload).get("annotations") or {}).get(FAILURES_ALLOWED)
    per_replica = str(raw).strip() if raw is not None else ""
    if not per_replica.isdigit():
        return findings
    allowed = int(per_replica) * max(1, replicas)
    crashes = [f for f in findings if f.failure.reason == "CrashLoopBackOff"]
    restarts = sum(f.failure.restarts or 0 for f in crashes)
    if not crashes or restarts > allowed:
        return findings
    notes.append(f"{plural(restarts, 'restart')} of {allowed} allowed by {FAILURES_ALLOWED}")
    return [f for f in findings if f not in crashes]


def with_note(text: str, note: str) -> str:
    return f"{text} ({note})" if note else text


def replica_failure_finding(
    obj: Mapping[str, Any], now: datetime, policy: Policy, notes: list[str]
) -> Finding | None:
    """ReplicaFailure=True (FailedCreate: quota, admission webhook) that has lasted the config grace."""
    rf = condition(obj, "ReplicaFailure")
    if rf is None or rf.get("status") != "True":
        return None
    reason = str(rf.get("reason") or "ReplicaFailure")
    message = str(rf.get("message") or "")
    text = f"ReplicaFailure: {reason}" + (f": {message}" if message else "")
    return _after_grace(
        obj, reason, message, text, api_time(rf.get("lastTransitionTime")), now, policy, notes
    )


def failed_create_finding(
    obj: Mapping[str, Any],
    related: Sequence[Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    notes: list[str],
) -> Finding | None:
    """FailedCreate Warning events on a controller that cannot create its pods (call only while it lacks
    pods): failed once the first one is older than the config grace."""
    events = [
        e
        for e in events_for(obj, related, policy)
        if e.get("type") == "Warning" and e.get("reason") == "FailedCreate"
    ]
    if not events:
        return None
    message = event_message(events[-1])
    return _after_grace(
        obj,
        "FailedCreate",
        message,
        f"FailedCreate: {message}",
        event_first_seen(events[0]),
        now,
        policy,
        notes,
    )


def _after_grace(
    obj: Mapping[str, Any],
    reason: str,
    message: str,
    text: str,
    since: datetime | None,
    now: datetime,
    policy: Policy,
    notes: list[str],
) -> Finding | None:
    age = now - since if since else timedelta(0)
    if since is None or age >= policy.config_error_grace:
        return Finding(Failure(str(obj["kind"]), name_of(obj), reason, message), text)
    notes.append(f"{text} (for {format_age(age)})")
    return None
