"""ReleaseTracker: follows one Helm release revision through successive cluster views to one verdict.

Pure state machine: the adapter lists the namespace (and reads the release Secret and the logs the tracker
asked for), calls `observe(view, now)`, and gets back only the events that are new. Rules
(../shared/docs/rollout-status.md §4/§5):

- what belongs to the release: manifest resources by kind/name, their pods through `assess()`, hook Jobs and
  Pods by name from the release's hooks, a Job's pods through the job-name labels;
- a failure is reported when it is visible (after `assess()`'s grace), not at a timeout, naming the object,
  container, exit code and the last log lines (the verdict waits at most one more observe for them);
- hook delete policies and TTLs erase evidence: a Job that vanished after Complete was seen succeeded; one
  that vanished unseen is judged from the release's hook `last_run`, else it is unknown (never success);
- success needs the release present and `deployed`, every waited resource current *in this view*, and every
  waited hook succeeded; an empty or partial view (a lost watch) never flips anything either way.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Union, get_args, get_origin, get_type_hints

from bot.core.durations import format_duration as format_age
from bot.core.events import EventType, Outcome, TrackEvent, json_safe, parse_time, to_utc
from bot.core.planning import Plan, detect_operation, plan_operation
from bot.core.releases import HookPhase, Release, ReleaseStatus
from bot.core.status import DEFAULT_POLICY, Assessment, Failure, Policy, State, assess, plural
from bot.core.status import parse_time as parse_k8s_time
from bot.core.summary import (
    GatedPods,
    JobSummary,
    PhaseSummary,
    ResourceTimeline,
    TimelinePoint,
    TrackSummary,
    VerdictSummary,
    WorkloadSummary,
)

__all__ = ["ClusterView", "LogRequest", "ReleaseTracker", "TrackSummary"]

STATE_VERSION = 1
STREAM_TAIL = 100  # lines asked for per running hook/migration container
FAILURE_TAIL = 20  # lines asked for a failing container, and kept in its failure
LOG_KEEP = 200  # lines remembered per container (new-line detection, tails after deletion)
NEARING_FRACTION = 0.8  # warn once when a hook has used this much of helm's --timeout
STALE_SKEW = timedelta(seconds=5)  # helm's clock vs the API server's, for "created before this operation"

# step states
PENDING, IN_PROGRESS, CURRENT, SUCCEEDED, FAILED, UNKNOWN, UNOBSERVED = (
    "pending",
    "in_progress",
    "current",
    "succeeded",
    "failed",
    "unknown",
    "unobserved",
)
_DONE = frozenset({CURRENT, SUCCEEDED, UNOBSERVED})
# phase states
RUNNING, SKIPPED = "running", "skipped"

_JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
# Causes whose container never ran: no log to fetch.
_NO_LOG_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "Unschedulable",
        "FailedScheduling",
        "FailedMount",
        "FailedAttachVolume",
    }
)


@dataclass(frozen=True)
class ClusterView:
    """What the adapter saw, namespace-wide and unfiltered.

    A kind missing from `objects` means "not known this time" (a lost watch), not "none exist".
    """

    release: Release | None
    objects: Mapping[str, Sequence[Mapping[str, Any]]]
    logs: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)

    def of(self, kind: str) -> Sequence[Mapping[str, Any]]:
        return self.objects.get(kind) or ()


@dataclass(frozen=True)
class LogRequest:
    pod: str
    container: str
    previous: bool = False  # the last terminated instance (crash loops)
    tail_lines: int = STREAM_TAIL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------------
# internal, JSON-serialisable state


@dataclass
class _Point:
    at: datetime
    state: str
    ready: int | None = None
    desired: int | None = None


@dataclass
class _Step:
    phase: int
    kind: str
    name: str
    wait: bool
    hook: bool
    weight: int = 0
    state: str = PENDING
    reason: str = ""
    ready: int | None = None
    desired: int | None = None
    uid: str | None = None
    present: bool = False
    first_seen: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    terminal_seen: bool = False  # Complete/Failed (Succeeded/Failed pod) seen on the object itself
    from_last_run: bool = False  # judged from the release's hook record
    attempts: int | None = None
    backoff_limit: int | None = None
    last_log_line: str | None = None
    final_logs_asked: bool = False
    progress_emitted: list[Any] | None = None
    ready_emitted: bool = False
    nearing_emitted: bool = False
    warnings_emitted: list[str] = field(default_factory=list)
    gated_emitted: list[Any] | None = None
    points: list[_Point] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def job_like(self) -> bool:
        """Run-to-completion steps: Jobs, and Pods used as hooks."""
        return self.kind == "Job" or (self.hook and self.kind == "Pod")


@dataclass
class _Phase:
    kind: str
    name: str
    state: str = PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class _Failure:
    key: str
    subject: str
    phase: str | None
    kind: str
    name: str
    reason: str
    message: str
    first_seen: datetime
    pod: str | None = None
    container: str | None = None
    init_container: bool = False
    exit_code: int | None = None
    restarts: int | None = None
    previous: bool = False
    needs_logs: bool = False
    log_tail: list[str] = field(default_factory=list)
    waited: int = 0
    emitted: bool = False


@dataclass
class _Gated:
    workload: str
    job: str | None
    pods: list[str]
    since: datetime


@dataclass
class _Warning:
    subject: str | None
    message: str


@dataclass
class _State:
    namespace: str
    release_name: str
    revision: int
    started_at: datetime
    timeout_seconds: float | None
    helm_timeout_seconds: float
    policy: dict[str, Any]
    started: bool = False
    operation: str | None = None
    chart: str | None = None
    app_version: str | None = None
    release_status: str | None = None
    release_description: str | None = None
    release_failed: bool = False
    last_deployed: datetime | None = None
    hook_runs: dict[str, str] = field(default_factory=dict)  # hook name -> last_run phase, as last seen
    phases: list[_Phase] = field(default_factory=list)
    steps: list[_Step] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    warnings: list[_Warning] = field(default_factory=list)
    gated: list[_Gated] = field(default_factory=list)
    logs: dict[str, list[str]] = field(default_factory=dict)  # "pod/container" -> last lines
    pod_jobs: dict[str, str] = field(default_factory=dict)  # pod -> subject of the Job step it runs
    kinds_listed: list[str] = field(default_factory=list)  # kinds the adapter has ever listed
    log_requests: list[LogRequest] = field(default_factory=list)
    observes: int = 0
    last_observed: datetime | None = None
    first_failure_observe: int | None = None
    verdict: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------------------


class ReleaseTracker:
    def __init__(
        self,
        *,
        namespace: str,
        release_name: str,
        revision: int,
        started_at: datetime,
        timeout: timedelta | None = None,
        helm_timeout: timedelta = timedelta(minutes=5),
        policy: Policy = DEFAULT_POLICY,
    ) -> None:
        if not namespace or not release_name:
            raise ValueError("ReleaseTracker needs a namespace and a release name")
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
            raise ValueError(f"revision must be a positive integer, got {revision!r}")
        if timeout is not None and timeout <= timedelta(0):
            raise ValueError("timeout must be positive")
        if helm_timeout <= timedelta(0):
            raise ValueError("helm_timeout must be positive")
        started_at = to_utc(started_at)
        if policy.tracking_started is None:
            policy = replace(policy, tracking_started=started_at)
        self._s = _State(
            namespace=namespace,
            release_name=release_name,
            revision=revision,
            started_at=started_at,
            timeout_seconds=timeout.total_seconds() if timeout is not None else None,
            helm_timeout_seconds=helm_timeout.total_seconds(),
            policy=_policy_to_dict(policy),
        )
        self._policy = policy
        self._out: list[TrackEvent] = []
        self._waiting: dict[str, tuple[str, ...]] = {}

    # --- public API --------------------------------------------------------------------------------------

    @property
    def verdict(self) -> TrackEvent | None:
        return TrackEvent.from_dict(self._s.verdict) if self._s.verdict else None

    @property
    def done(self) -> bool:
        return self._s.verdict is not None

    def observe(self, view: ClusterView, now: datetime) -> list[TrackEvent]:
        """Fold one view in; return only the events it made new (none once the verdict is out)."""
        now = to_utc(now)
        s = self._s
        if s.verdict is not None:
            return []
        self._out = []
        s.observes += 1
        s.last_observed = now
        for kind in view.objects:
            if kind not in s.kinds_listed:
                s.kinds_listed.append(kind)
        release = self._matching_release(view.release)
        if release is not None:
            self._note_release(release)
        if not s.started:
            if release is None:
                self._check_timeout(now, still=[f"release {s.release_name} revision {s.revision} to appear"])
                s.log_requests = []
                return self._out
            self._start(release, now)

        step_events: list[tuple[_Step, EventType, str, dict[str, Any]]] = []
        related = self._related(view)
        self._waiting = {}
        for step in s.steps:
            self._observe_step(step, view, release, related, now, step_events)
        for step in s.steps:  # after every step, so a gating Job's own state is this view's
            if step.subject in self._waiting:
                self._note_gated(step, self._waiting[step.subject], view, now, step_events)
        self._start_phases(now)
        for step, etype, message, data in step_events:
            self._emit(etype, now, message, step=step, data=data)
        self._collect_logs(view, now)
        self._nearing_timeout(now)
        self._note_release_failure(release, now)
        self._finish_phases(now)
        self._emit_failures(view, now)
        self._decide(release, now)
        s.log_requests = [] if s.verdict else self._plan_log_requests(view)
        return self._out

    def log_requests(self) -> list[LogRequest]:
        """Logs the adapter should fetch before the next observe()."""
        return list(self._s.log_requests)

    def summary(self) -> TrackSummary:
        s = self._s
        now = s.last_observed or s.started_at
        phase_names = [p.name for p in s.phases]
        workloads, jobs, timeline = [], [], []
        for step in s.steps:
            phase = phase_names[step.phase] if step.phase < len(phase_names) else ""
            if step.job_like:
                end = step.finished_at or (None if step.state in (FAILED, *_DONE) else now)
                duration = (end - step.started_at).total_seconds() if step.started_at and end else None
                jobs.append(
                    JobSummary(
                        kind=step.kind,
                        name=step.name,
                        hook=step.hook,
                        phase=phase,
                        state=step.state,
                        reason=step.reason,
                        attempts=step.attempts,
                        last_log_line=step.last_log_line,
                        started_at=step.started_at,
                        finished_at=step.finished_at,
                        duration_seconds=duration,
                    )
                )
            elif step.wait:
                workloads.append(
                    WorkloadSummary(
                        kind=step.kind,
                        name=step.name,
                        state=step.state,
                        reason=step.reason,
                        ready=step.ready,
                        desired=step.desired,
                    )
                )
            if step.wait or step.job_like:
                timeline.append(
                    ResourceTimeline(
                        subject=step.subject,
                        phase=phase,
                        first_seen=step.first_seen,
                        done_at=step.finished_at if step.state in _DONE else None,
                        failed_at=step.finished_at if step.state == FAILED else None,
                        points=tuple(TimelinePoint(p.at, p.state, p.ready, p.desired) for p in step.points),
                    )
                )
        verdict = None
        if s.verdict:
            verdict = VerdictSummary(
                outcome=s.verdict["data"]["outcome"],
                reason=s.verdict["data"]["reason"],
                at=parse_time(s.verdict["at"]),
            )
        return TrackSummary(
            release=s.release_name,
            namespace=s.namespace,
            revision=s.revision,
            operation=s.operation,
            chart=s.chart,
            app_version=s.app_version,
            release_status=s.release_status,
            release_description=s.release_description,
            started_at=s.started_at,
            updated_at=s.last_observed,
            phases=tuple(
                PhaseSummary(p.name, p.kind, p.state, p.started_at, p.finished_at) for p in s.phases
            ),
            workloads=tuple(workloads),
            jobs=tuple(jobs),
            gated=tuple(GatedPods(g.workload, g.job, tuple(g.pods), g.since) for g in s.gated),
            warnings=tuple(f"{w.subject}: {w.message}" if w.subject else w.message for w in s.warnings),
            failures=tuple(_failure_line(f) for f in s.failures if f.emitted),
            timeline=tuple(timeline),
            verdict=verdict,
        )

    def to_state(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "tracker": json_safe(asdict(self._s))}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReleaseTracker:
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            found = state.get("version") if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(f"unsupported tracker state version {found!r} (expected {STATE_VERSION})")
        try:
            s = _load(_State, state["tracker"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"tracker state is malformed: {exc}") from exc
        tracker = cls.__new__(cls)
        tracker._s = s
        tracker._policy = _policy_from_dict(s.policy)
        tracker._out = []
        tracker._waiting = {}
        return tracker

    # --- release ---------------------------------------------------------------------------------------

    def _matching_release(self, release: Release | None) -> Release | None:
        s = self._s
        if release is None or release.name != s.release_name or release.revision != s.revision:
            return None
        if release.namespace and release.namespace != s.namespace:
            return None
        return release

    def _note_release(self, release: Release) -> None:
        s = self._s
        s.release_status = release.status.value
        s.release_description = release.description
        s.chart = f"{release.chart_name}-{release.chart_version}" if release.chart_name else None
        s.app_version = release.app_version or None
        s.last_deployed = release.last_deployed
        s.hook_runs = {h.name: h.last_run.phase.value for h in release.hooks}

    def _start(self, release: Release, now: datetime) -> None:
        s = self._s
        operation = detect_operation(release)
        plan = plan_operation(release, operation)
        s.operation = operation.value
        s.phases, s.steps = _from_plan(plan)
        s.started = True
        plan_data = [
            {
                "name": p.name,
                "kind": p.kind,
                "steps": [
                    {"kind": st.kind, "name": st.name, "weight": st.weight, "wait": st.wait, "hook": st.hook}
                    for st in s.steps
                    if s.phases[st.phase] is p
                ],
            }
            for p in s.phases
        ]
        outline = (
            " → ".join(f"{p['name']} ({len(p['steps'])})" for p in plan_data if p["steps"])
            or "nothing to wait on"
        )
        self._emit(
            EventType.TRACKING_STARTED,
            now,
            f"Tracking {s.operation} of {s.release_name} revision {s.revision}"
            f"{' (' + s.chart + ')' if s.chart else ''}: {outline}",
            data={
                "operation": s.operation,
                "chart": s.chart,
                "chart_name": release.chart_name,
                "chart_version": release.chart_version,
                "app_version": release.app_version,
                "status": release.status.value,
                "plan": plan_data,
            },
        )
        for phase in s.phases:
            if not any(st.phase == s.phases.index(phase) for st in s.steps):
                phase.state = SKIPPED
        first = next((p for p in s.phases if p.state == PENDING), None)
        if first is not None:
            self._phase_started(first, now)

    # --- per step --------------------------------------------------------------------------------------

    def _related(self, view: ClusterView) -> list[Mapping[str, Any]]:
        return [
            *view.of("ReplicaSet"),
            *view.of("Pod"),
            *view.of("Event"),
            *view.of("ControllerRevision"),
            *view.of("StorageClass"),
        ]

    def _find(self, view: ClusterView, step: _Step) -> Mapping[str, Any] | None:
        for obj in view.of(step.kind):
            md = obj.get("metadata") or {}
            if md.get("name") == step.name and md.get("namespace", self._s.namespace) == self._s.namespace:
                return obj
        return None

    def _stale(self, obj: Mapping[str, Any], step: _Step) -> bool:
        """A hook object left by a previous run (before-hook-creation deletes it as the new run starts)."""
        if not step.hook or self._s.last_deployed is None:
            return False
        created = parse_k8s_time((obj.get("metadata") or {}).get("creationTimestamp"))
        return created is not None and created < self._s.last_deployed - STALE_SKEW

    def _observe_step(
        self,
        step: _Step,
        view: ClusterView,
        release: Release | None,
        related: list[Mapping[str, Any]],
        now: datetime,
        out: list[tuple[_Step, EventType, str, dict[str, Any]]],
    ) -> None:
        s = self._s
        if step.kind not in s.kinds_listed:
            # The adapter does not list this kind at all (a CRD, a ConfigMap): nothing to wait on.
            if step.state == PENDING:
                step.state, step.reason = UNOBSERVED, "not watched"
            return
        if step.kind not in view.objects:
            return  # partial view: this kind is unknown right now
        obj = self._find(view, step)
        if obj is not None and self._stale(obj, step):
            obj = None
        if obj is None:
            step.present = False
            if step.job_like:
                self._judge_vanished(step, now, out)
            return
        uid = (obj.get("metadata") or {}).get("uid")
        if step.uid and uid and uid != step.uid and step.job_like:
            # Recreated (before-hook-creation): the object seen before was another run's.
            step.terminal_seen, step.attempts, step.started_at = False, None, None
        step.uid = uid or step.uid
        step.present = True
        if step.first_seen is None:
            step.first_seen = now
        assessment = assess(obj, related=related, now=now, hook=step.hook, policy=self._policy)
        if step.kind == "Job":
            self._note_job(step, obj)
        elif step.job_like and step.started_at is None:
            step.started_at = parse_k8s_time((obj.get("status") or {}).get("startTime")) or now
        state = {State.CURRENT: SUCCEEDED if step.job_like else CURRENT, State.FAILED: FAILED}.get(
            assessment.state, IN_PROGRESS
        )
        if step.job_like and state in (SUCCEEDED, FAILED):
            step.terminal_seen = True
        step.from_last_run = False
        self._set_state(step, state, assessment.reason, assessment.ready, assessment.desired, now, out)
        for warning in assessment.warnings:
            if warning not in step.warnings_emitted:
                step.warnings_emitted.append(warning)
                s.warnings.append(_Warning(step.subject, warning))
                out.append((step, EventType.WARNING, f"{step.subject}: {warning}", {"warning": warning}))
        if state == FAILED:
            self._record_failures(step, assessment, view, now)
        self._waiting[step.subject] = assessment.waiting

    def _note_job(self, step: _Step, job: Mapping[str, Any]) -> None:
        status = job.get("status") or {}
        spec = job.get("spec") or {}
        start = parse_k8s_time(status.get("startTime"))
        if start is not None:
            step.started_at = start
        counts = [status.get(k) for k in ("active", "succeeded", "failed")]
        attempts = sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool))
        step.attempts = attempts or (1 if start else None)
        limit = spec.get("backoffLimit", 6)
        step.backoff_limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None

    def _judge_vanished(
        self, step: _Step, now: datetime, out: list[tuple[_Step, EventType, str, dict[str, Any]]]
    ) -> None:
        """A run-to-completion step absent from the view: keep what was seen, else ask Helm's hook record."""
        if step.terminal_seen:
            if step.state == SUCCEEDED and "deleted" not in step.reason and step.first_seen:
                step.reason = "succeeded, then deleted"
            return
        run = self._s.hook_runs.get(step.name) if step.hook else None
        if run == HookPhase.SUCCEEDED.value:
            step.from_last_run = True
            self._set_state(
                step, SUCCEEDED, "succeeded (Helm's hook record; the object is gone)", None, None, now, out
            )
        elif run == HookPhase.FAILED.value:
            step.from_last_run = True
            self._set_state(
                step, FAILED, "failed (Helm's hook record; the object is gone)", None, None, now, out
            )
            self._add_failure(
                step,
                Failure(
                    step.kind,
                    step.name,
                    "HookFailed",
                    "Helm recorded the hook as failed; its object was deleted",
                ),
                now,
            )
        elif step.first_seen is not None and step.state != UNKNOWN:
            self._set_state(step, UNKNOWN, "deleted before any result was seen", None, None, now, out)
        # never seen and no record: still pending

    def _set_state(
        self,
        step: _Step,
        state: str,
        reason: str,
        ready: int | None,
        desired: int | None,
        now: datetime,
        out: list[tuple[_Step, EventType, str, dict[str, Any]]],
    ) -> None:
        changed = (state, ready, desired) != (step.state, step.ready, step.desired)
        step.state, step.reason = state, reason
        if ready is not None or desired is not None or not step.job_like:
            step.ready, step.desired = ready, desired
        if changed:
            step.points.append(_Point(now, state, step.ready, step.desired))
        if state in _DONE or state == FAILED:
            step.finished_at = step.finished_at or now
        else:
            step.finished_at = None

        def emit(etype: EventType, message: str, data: dict[str, Any]) -> None:
            out.append((step, etype, message, data))

        if state in (SUCCEEDED, CURRENT):
            if not step.ready_emitted and step.wait:
                step.ready_emitted = True
                emit(EventType.RESOURCE_READY, _ready_line(step), _step_data(step))
            return
        if state != IN_PROGRESS or not step.wait:
            return
        key = [step.ready, step.desired] if step.desired is not None else [step.attempts, reason]
        if key != step.progress_emitted:
            step.progress_emitted = key
            emit(EventType.RESOURCE_PROGRESS, _progress_line(step), _step_data(step))

    # --- failures ----------------------------------------------------------------------------------------

    def _record_failures(self, step: _Step, assessment: Assessment, view: ClusterView, now: datetime) -> None:
        failures = assessment.failures or (Failure(step.kind, step.name, "Failed", assessment.reason),)
        for failure in failures:
            self._add_failure(step, failure, now, view)

    def _add_failure(
        self, step: _Step | None, failure: Failure, now: datetime, view: ClusterView | None = None
    ) -> None:
        s = self._s
        pod = failure.name if failure.kind == "Pod" else None
        container, exit_code = failure.container, failure.exit_code
        if failure.kind == "Job" and container is None and view is not None:
            pod, container, exit_code = _failed_job_container(view, failure.name) or (None, None, exit_code)
        key = f"{failure.kind}/{failure.name}/{container or ''}"
        existing = next((f for f in s.failures if f.key == key), None)
        if existing is not None:
            if not existing.emitted:  # keep the freshest detail until it is reported
                existing.reason, existing.message = failure.reason, failure.message
                existing.restarts = failure.restarts if failure.restarts is not None else existing.restarts
                existing.exit_code = exit_code if exit_code is not None else existing.exit_code
            return
        ran = exit_code is not None or bool(failure.restarts) or failure.reason not in _NO_LOG_REASONS
        previous = bool(failure.restarts) or "CrashLoopBackOff" in failure.reason
        s.failures.append(
            _Failure(
                key=key,
                subject=step.subject if step else f"{failure.kind}/{failure.name}",
                phase=s.phases[step.phase].name if step else None,
                kind=failure.kind,
                name=failure.name,
                reason=failure.reason,
                message=failure.message,
                first_seen=now,
                pod=pod,
                container=container,
                init_container=failure.init_container,
                exit_code=exit_code,
                restarts=failure.restarts,
                previous=previous,
                needs_logs=bool(pod and container and ran),
            )
        )
        if s.first_failure_observe is None:
            s.first_failure_observe = s.observes

    def _note_release_failure(self, release: Release | None, now: datetime) -> None:
        s = self._s
        if release is None or s.release_failed:
            return
        if release.status is ReleaseStatus.FAILED:
            s.release_failed = True
            quoted = release.description or "no description"
            self._add_failure(
                None,
                Failure(
                    "Release", s.release_name, "ReleaseFailed", f'Helm marked the release failed: "{quoted}"'
                ),
                now,
            )
        elif (
            release.status
            in (ReleaseStatus.SUPERSEDED, ReleaseStatus.UNINSTALLING, ReleaseStatus.UNINSTALLED)
            and not self._all_done()
        ):
            s.release_failed = True
            self._add_failure(
                None,
                Failure(
                    "Release",
                    s.release_name,
                    f"Release{release.status.value.title()}",
                    f"revision {s.revision} is {release.status.value} before it finished"
                    + (f': "{release.description}"' if release.description else ""),
                ),
                now,
            )

    def _emit_failures(self, view: ClusterView, now: datetime) -> None:
        s = self._s
        for f in s.failures:
            if f.emitted:
                continue
            key = f"{f.pod}/{f.container}"
            delivered = list(view.logs.get((f.pod, f.container), ())) if f.pod and f.container else []
            captured = s.logs.get(key, [])
            if f.needs_logs and not delivered and not (captured and not f.previous) and f.waited < 1:
                f.waited += 1  # asked for in log_requests(); one more observe at most
                continue
            f.log_tail = (delivered or captured)[-FAILURE_TAIL:]
            f.emitted = True
            self._emit(
                EventType.FAILURE,
                now,
                _failure_line(f),
                phase=f.phase,
                subject=f.subject,
                data=_failure_data(f),
            )

    # --- pods gated in Init ------------------------------------------------------------------------------

    def _note_gated(
        self,
        step: _Step,
        waiting: tuple[str, ...],
        view: ClusterView,
        now: datetime,
        out: list[tuple[_Step, EventType, str, dict[str, Any]]],
    ) -> None:
        s = self._s
        groups: dict[str | None, list[str]] = {}
        pods = {(p.get("metadata") or {}).get("name"): p for p in view.of("Pod")}
        for pod_name in waiting:
            groups.setdefault(self._gating_job(pods.get(pod_name)), []).append(pod_name)
        key = sorted([job or "", len(names)] for job, names in groups.items())
        previous = {g.job: g for g in s.gated if g.workload == step.subject}
        s.gated = [g for g in s.gated if g.workload != step.subject]
        for job, names in groups.items():
            since = previous[job].since if job in previous else now
            s.gated.append(_Gated(step.subject, job, sorted(names), since))
        if key == (step.gated_emitted or []):
            return
        step.gated_emitted = key
        for job, names in sorted(groups.items(), key=lambda kv: kv[0] or ""):
            job_step = self._job_step(job)
            running = ""
            if job_step is not None and job_step.started_at is not None:
                running = f", running {format_age(now - job_step.started_at)}"
            if job:
                message = f"{plural(len(names), 'pod')} of {step.name} waiting on {job}{running}"
            else:
                message = f"{plural(len(names), 'pod')} of {step.name} waiting in Init"
            out.append(
                (
                    step,
                    EventType.PODS_GATED,
                    message,
                    {
                        "job": job,
                        "pods": sorted(names),
                        "count": len(names),
                        "job_running_seconds": (now - job_step.started_at).total_seconds()
                        if job_step is not None and job_step.started_at
                        else None,
                    },
                )
            )

    def _gating_job(self, pod: Mapping[str, Any] | None) -> str | None:
        """The Job a gated pod waits on: k8s-wait-for style init args, else a running Job of the release."""
        if pod is not None:
            for container in (pod.get("spec") or {}).get("initContainers") or ():
                named = _job_in_args([*(container.get("command") or ()), *(container.get("args") or ())])
                if named:
                    return named
        running = [st for st in self._s.steps if st.kind == "Job" and st.state == IN_PROGRESS and st.present]
        return running[0].name if running else None

    def _job_step(self, name: str | None) -> _Step | None:
        return next((st for st in self._s.steps if st.kind == "Job" and st.name == name), None)

    # --- logs ------------------------------------------------------------------------------------------

    def _collect_logs(self, view: ClusterView, now: datetime) -> None:
        s = self._s
        for pod in view.of("Pod"):
            md = pod.get("metadata") or {}
            labels = md.get("labels") or {}
            job_name = next((labels[k] for k in _JOB_NAME_LABELS if labels.get(k)), None)
            step = self._job_step(job_name) if job_name else None
            if step is None:
                hook_pod = next(
                    (st for st in s.steps if st.hook and st.kind == "Pod" and st.name == md.get("name")), None
                )
                step = hook_pod
            if step is not None and md.get("name"):
                s.pod_jobs[str(md["name"])] = step.subject
        for (pod_name, container), lines in sorted(view.logs.items()):
            key = f"{pod_name}/{container}"
            old = s.logs.get(key, [])
            new = _new_lines(old, [str(line) for line in lines])
            if not new:
                continue
            s.logs[key] = (old + new)[-LOG_KEEP:]
            owner = next((st for st in s.steps if st.subject == s.pod_jobs.get(pod_name)), None)
            if owner is None:
                continue  # a workload's pod: its lines go into a failure's tail
            owner.last_log_line = new[-1]
            self._emit(
                EventType.LOG_LINES,
                now,
                f"{owner.name} {pod_name}/{container}: {plural(len(new), 'new line')}",
                step=owner,
                data={"pod": pod_name, "container": container, "lines": new},
            )

    def _plan_log_requests(self, view: ClusterView) -> list[LogRequest]:
        s = self._s
        requests: dict[tuple[str, str], LogRequest] = {}
        for pod in view.of("Pod"):
            name = str((pod.get("metadata") or {}).get("name") or "")
            step = next((st for st in s.steps if st.subject == s.pod_jobs.get(name)), None)
            if step is None or not name:
                continue
            finished = step.state in (SUCCEEDED, FAILED)
            if finished and step.final_logs_asked:
                continue
            for container in _started_containers(pod):
                requests[(name, container)] = LogRequest(name, container, False, STREAM_TAIL)
        for step in s.steps:
            if step.state in (SUCCEEDED, FAILED) and step.present:
                step.final_logs_asked = True  # one more fetch after it finished, then stop
        for f in s.failures:
            if f.needs_logs and not f.emitted and f.pod and f.container:
                requests[(f.pod, f.container)] = LogRequest(f.pod, f.container, f.previous, FAILURE_TAIL)
        return list(requests.values())

    # --- hooks nearing helm's timeout ------------------------------------------------------------------

    def _nearing_timeout(self, now: datetime) -> None:
        s = self._s
        limit = timedelta(seconds=s.helm_timeout_seconds)
        for step in s.steps:
            if not step.hook or not step.job_like or step.state != IN_PROGRESS or step.nearing_emitted:
                continue
            since = step.started_at or step.first_seen
            if since is None or now - since < limit * NEARING_FRACTION:
                continue
            step.nearing_emitted = True
            self._emit(
                EventType.HOOK_NEARING_TIMEOUT,
                now,
                f"hook {step.name} has been running {format_age(now - since)} "
                f"of helm's {format_age(limit)} timeout",
                step=step,
                data={
                    "elapsed_seconds": (now - since).total_seconds(),
                    "helm_timeout_seconds": s.helm_timeout_seconds,
                },
            )

    # --- phases ----------------------------------------------------------------------------------------

    def _phase_started(self, phase: _Phase, now: datetime) -> None:
        phase.state, phase.started_at = RUNNING, now
        self._emit(
            EventType.PHASE_STARTED, now, f"{phase.name} started", phase=phase.name, data={"kind": phase.kind}
        )

    def _steps_of(self, index: int) -> list[_Step]:
        return [st for st in self._s.steps if st.phase == index]

    def _start_phases(self, now: datetime) -> None:
        """Start a phase when its predecessors are done or any of its steps shows up (in order, no gaps)."""
        s = self._s
        last = -1
        for i, phase in enumerate(s.phases):
            if phase.state == SKIPPED:
                continue
            before_done = all(p.state in (SUCCEEDED, SKIPPED) for p in s.phases[:i])
            evidence = any(st.first_seen or st.state not in (PENDING, UNOBSERVED) for st in self._steps_of(i))
            if before_done or evidence:
                last = i
        for phase in s.phases[: last + 1]:
            if phase.state == PENDING:
                self._phase_started(phase, now)

    def _finish_phases(self, now: datetime) -> None:
        s = self._s
        for i, phase in enumerate(s.phases):
            if phase.state != RUNNING:
                continue
            steps = self._steps_of(i)
            waited = [st for st in steps if st.wait]
            if any(st.state == FAILED for st in steps):
                state = FAILED
            elif all(_step_done(st) for st in waited) and (waited or self._applied(i)):
                state = SUCCEEDED
            else:
                continue
            phase.state, phase.finished_at = state, now
            self._emit(
                EventType.PHASE_FINISHED,
                now,
                f"{phase.name} {state}",
                phase=phase.name,
                data={
                    "kind": phase.kind,
                    "state": state,
                    "duration_seconds": (now - phase.started_at).total_seconds()
                    if phase.started_at
                    else None,
                },
            )

    def _applied(self, index: int) -> bool:
        """A phase with nothing to wait on is over once Helm has moved past it."""
        s = self._s
        if s.phases[index].kind != "resources":
            return True
        if s.release_status and not ReleaseStatus(s.release_status).pending:
            return True
        later = [st for st in s.steps if st.phase > index]
        return any(st.first_seen for st in later) or any(st.present for st in self._steps_of(index))

    # --- verdict ---------------------------------------------------------------------------------------

    def _all_done(self) -> bool:
        return all(_step_done(st) for st in self._s.steps if st.wait)

    def _decide(self, release: Release | None, now: datetime) -> None:
        s = self._s
        failures = [f for f in s.failures if f.emitted]
        if failures and all(f.emitted for f in s.failures):
            first = failures[0]
            self._verdict(Outcome.FAILED, now, _failure_line(first), failures)
            return
        if s.failures:
            return  # a failure waits (one observe at most) for its log tail
        if release is not None and release.status is ReleaseStatus.DEPLOYED and self._all_done():
            self._verdict(
                Outcome.SUCCEEDED,
                now,
                f"{s.operation} of {s.release_name} revision {s.revision} succeeded "
                f"in {format_age(now - s.started_at)}",
                [],
            )
            return
        self._check_timeout(now, still=self._in_progress())

    def _in_progress(self) -> list[str]:
        s = self._s
        still = [
            f"{st.subject} ({st.reason or st.state})" for st in s.steps if st.wait and not _step_done(st)
        ]
        if s.release_status and s.release_status != ReleaseStatus.DEPLOYED.value:
            still.append(f"release status {s.release_status}")
        return still

    def _check_timeout(self, now: datetime, still: list[str]) -> None:
        s = self._s
        if s.timeout_seconds is None or now - s.started_at < timedelta(seconds=s.timeout_seconds):
            return
        waited = format_age(timedelta(seconds=s.timeout_seconds))
        reason = f"timed out after {waited}; still in progress: " + ("; ".join(still) or "nothing known")
        self._verdict(Outcome.TIMED_OUT, now, reason, [], extra={"in_progress": still})

    def _verdict(
        self,
        outcome: Outcome,
        now: datetime,
        reason: str,
        failures: list[_Failure],
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        s = self._s
        message = (
            reason
            if outcome is not Outcome.FAILED
            else (f"{s.operation or 'release'} of {s.release_name} revision {s.revision} failed: {reason}")
        )
        data = {
            "outcome": outcome.value,
            "reason": reason,
            "failures": [_failure_data(f) for f in failures],
            "duration_seconds": (now - s.started_at).total_seconds(),
            **(extra or {}),
        }
        event = self._emit(EventType.VERDICT, now, message, data=data)
        s.verdict = event.to_dict()

    # --- emitting ----------------------------------------------------------------------------------------

    def _emit(
        self,
        etype: EventType,
        now: datetime,
        message: str,
        *,
        step: _Step | None = None,
        phase: str | None = None,
        subject: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TrackEvent:
        s = self._s
        if step is not None:
            phase = phase or s.phases[step.phase].name
            subject = subject or step.subject
        event = TrackEvent(
            type=etype,
            at=now,
            release=s.release_name,
            namespace=s.namespace,
            revision=s.revision,
            message=message,
            phase=phase,
            subject=subject,
            data=dict(data or {}),
        )
        self._out.append(event)
        return event


# ---------------------------------------------------------------------------------------------------------
# helpers


def _step_done(step: _Step) -> bool:
    if step.state not in _DONE:
        return False
    # Present in this view, or finished evidence that survives the object's deletion.
    return step.present or step.state == UNOBSERVED or step.terminal_seen or step.from_last_run


def _from_plan(plan: Plan) -> tuple[list[_Phase], list[_Step]]:
    phases: list[_Phase] = []
    steps: list[_Step] = []
    for index, phase in enumerate(plan.phases):
        kind = getattr(phase.kind, "value", phase.kind)
        phases.append(_Phase(kind=str(kind).lower().replace("-", "_"), name=phase.name))
        for step in phase.steps:
            steps.append(
                _Step(
                    phase=index,
                    kind=step.kind,
                    name=step.name,
                    wait=bool(step.wait),
                    hook=step.hook is not None,
                    weight=int(step.weight or 0),
                )
            )
    return phases, steps


def _job_in_args(tokens: Sequence[Any]) -> str | None:
    """k8s-wait-for `["job", NAME]` / `job-wr NAME`, or `job/NAME` as in `kubectl wait ... job/NAME`."""
    words = [str(t) for t in tokens]
    for i, word in enumerate(words):
        if word in ("job", "job-wr") and i + 1 < len(words):
            return words[i + 1]
        for prefix in ("job/", "jobs/", "job.batch/", "jobs.batch/"):
            if word.startswith(prefix) and len(word) > len(prefix):
                return word[len(prefix) :]
    return None


def _started_containers(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    names = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or ():
            state = cs.get("state") or {}
            if (state.get("running") or state.get("terminated")) and cs.get("name"):
                names.append(str(cs["name"]))
    return names


def _failed_job_container(view: ClusterView, job: str) -> tuple[str, str, int | None] | None:
    """The newest pod of a failed Job with a container that exited non-zero."""
    best: tuple[str, str, str, int | None] | None = None
    for pod in view.of("Pod"):
        md = pod.get("metadata") or {}
        labels = md.get("labels") or {}
        if not any(labels.get(k) == job for k in _JOB_NAME_LABELS):
            continue
        status = pod.get("status") or {}
        for key in ("initContainerStatuses", "containerStatuses"):
            for cs in status.get(key) or ():
                term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get(
                    "terminated"
                )
                if term and term.get("exitCode"):
                    created = str(md.get("creationTimestamp") or "")
                    if best is None or created >= best[0]:
                        best = (created, str(md.get("name")), str(cs.get("name")), term.get("exitCode"))
    return best[1:] if best else None


def _new_lines(old: Sequence[str], current: Sequence[str]) -> list[str]:
    """Lines of `current` not already seen: the adapter hands the latest tail each time, which overlaps."""
    if not old:
        return list(current)
    for k in range(min(len(old), len(current)), 0, -1):
        if list(old[-k:]) == list(current[:k]):
            return list(current[k:])
    return list(current)


def _step_data(step: _Step) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": step.kind, "name": step.name, "state": step.state, "reason": step.reason}
    if step.desired is not None:
        data.update(ready=step.ready, desired=step.desired)
    if step.attempts is not None:
        data["attempts"] = step.attempts
    return data


def _progress_line(step: _Step) -> str:
    if step.desired is not None and not step.job_like:
        return f"{step.name}: {step.ready or 0}/{step.desired} new pods ready"
    if step.kind == "Job" and step.attempts:
        total = f" of {step.backoff_limit + 1}" if step.backoff_limit is not None else ""
        return f"{step.name}: running (attempt {step.attempts}{total})"
    return f"{step.name}: {step.reason or 'in progress'}"


def _ready_line(step: _Step) -> str:
    if step.job_like:
        took = ""
        if step.started_at and step.finished_at and not step.from_last_run:
            took = f" in {format_age(step.finished_at - step.started_at)}"
        return f"{step.subject} succeeded{took}"
    counts = f" ({step.ready}/{step.desired})" if step.desired is not None else ""
    return f"{step.subject} is ready{counts}"


def _failure_line(f: _Failure) -> str:
    if f.kind == "Release":
        return f.message
    where = f"{f.kind} {f.name}"
    if f.kind != "Pod" and f.pod:
        where += f" (pod {f.pod})"
    if f.container:
        where += f" {'init container' if f.init_container else 'container'} {f.container}"
    detail = [f.reason]
    if f.exit_code is not None:
        detail.append(f"exit code {f.exit_code}")
    if f.restarts:
        detail.append(plural(f.restarts, "restart"))
    text = f"{where}: {', '.join(detail)}"
    return f"{text}: {f.message}" if f.message else text


def _failure_data(f: _Failure) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "name": f.name,
        "reason": f.reason,
        "message": f.message,
        "pod": f.pod,
        "container": f.container,
        "init_container": f.init_container,
        "exit_code": f.exit_code,
        "restarts": f.restarts,
        "log_tail": list(f.log_tail),
        "subject": f.subject,
    }


def _policy_to_dict(policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(policy):
        value = getattr(policy, f.name)
        out[f.name] = {"seconds": value.total_seconds()} if isinstance(value, timedelta) else json_safe(value)
    return out


def _policy_from_dict(raw: Mapping[str, Any]) -> Policy:
    kwargs: dict[str, Any] = {}
    for f in fields(Policy):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if isinstance(value, Mapping) and "seconds" in value:
            value = timedelta(seconds=value["seconds"])
        elif isinstance(value, str) and isinstance(f.default, datetime | type(None)):
            value = parse_time(value)
        kwargs[f.name] = value
    return Policy(**kwargs)


def _load(cls: type, raw: Mapping[str, Any]) -> Any:
    """Rebuild a state dataclass from its JSON form, guided by the field annotations."""
    hints = get_type_hints(cls)
    kwargs = {f.name: _revive(hints[f.name], raw[f.name]) for f in fields(cls) if f.name in raw}
    return cls(**kwargs)


def _revive(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _revive(inner[0], value) if len(inner) == 1 else value
    if tp is datetime:
        return parse_time(value)
    if isinstance(tp, type) and is_dataclass(tp):
        return _load(tp, value)
    if origin is list:
        (item,) = get_args(tp)
        return [_revive(item, v) for v in value]
    if origin is dict:
        _, item = get_args(tp)
        return {k: _revive(item, v) for k, v in value.items()}
    return value
