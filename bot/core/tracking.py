"""ReleaseTracker: follows one Helm release revision through successive cluster views to one verdict.

Pure state machine: the adapter lists the namespace (and reads the release Secret and the logs the tracker
asked for), calls `observe(view, now)`, and gets back only the events that are new. Rules
(../shared/docs/rollout-status.md §4/§5):

- phases run in Helm's order: pre-hooks one after another (by weight), then the release resources once
  every pre-hook succeeded (or Helm visibly went on: the release is deployed, a resource was changed to the
  new manifest, a later hook started), then post-hooks once the resources are applied;
- what belongs to this operation: hook objects that are this run's (bot.core.hook_runs: Helm's hook
  record, creation order, uid), release resources whose live object is the tracked revision's
  (bot.core.manifest_match); anything else is the previous revision's and is neither progress nor failure;
- a failure is reported when it is visible (after `assess()`'s grace), not at a timeout, naming the object,
  container, exit code and the log lines that cover it (bot.core.tracker_logs: a short bounded wait);
- hook delete policies and TTLs erase evidence: a Job that vanished after Complete was seen succeeded; one
  that vanished unseen is judged from the release's hook `last_run`, else it is unknown (never success);
- success needs the release present and `deployed`, every waited resource current *in this view*, and every
  waited hook succeeded; an empty or partial view (a lost watch) never flips anything either way. A waited
  kind the adapter never listed (RBAC) is "unobserved": success stays possible, but its verdict says
  "not judged: Certificate/x (not watched)" (data `not_judged`); a kind that is listed must be current;
- the release record: deleted after it was seen (in a view whose Secret list is fresh) fails the release;
  a revision already superseded at the first view is judged from Helm's description and hook records only
  (its objects belong to a later revision);
- times: a run's start/end come from the object or Helm's record, observation times only as a last resort;
  within one observe a phase's phase_finished comes before the next phase's phase_started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.durations import format_duration as format_age
from bot.core.events import EventType, Outcome, TrackEvent, parse_time, to_utc
from bot.core.hook_runs import (
    belongs_to_operation,
    hook_key,
    record_outcome,
    records_of,
    revision_result,
    run_finished_at,
    started_in_operation,
)
from bot.core.manifest_match import applied_since, generation_of, helm_applied_at, matches_manifest
from bot.core.planning import Operation, Plan, detect_operation, hook_events, plan_operation
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
from bot.core.tracker_logs import (
    FAILURE_TAIL,
    LOG_KEEP,
    NO_LOG_REASONS,
    failed_job_container,
    failure_log_ready,
    log_key,
    log_unavailable,
    new_lines,
    plan_log_requests,
    pod_runs_step,
)
from bot.core.tracker_state import (
    CURRENT,
    DONE_STATES,
    FAILED,
    IN_PROGRESS,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    UNKNOWN,
    UNOBSERVED,
    FailureRecord,
    Gated,
    LogRequest,
    Phase,
    Point,
    Step,
    TrackerState,
    WarningNote,
    dump_state,
    load_state,
    policy_from_dict,
    policy_to_dict,
)
from bot.core.tracker_text import (
    failure_data,
    failure_line,
    one_line,
    progress_line,
    ready_line,
    step_data,
)

__all__ = ["ClusterView", "LogRequest", "ReleaseTracker", "TrackSummary"]

NEARING_FRACTION = 0.8  # warn once when a hook has used this much of helm's --timeout
GATED_HEARTBEAT = timedelta(seconds=60)  # re-say "N pods waiting on <job>, running 3m" while it lasts
PRE_HOOKS, RESOURCES, POST_HOOKS = "pre_hooks", "resources", "post_hooks"

StepEvents = list[tuple[Step, EventType, str, dict[str, Any]]]


@dataclass(frozen=True)
class ClusterView:
    """What the adapter saw, namespace-wide and unfiltered.

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

    def of(self, kind: str) -> Sequence[Mapping[str, Any]]:
        return self.objects.get(kind) or ()


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
        state = TrackerState(
            namespace=namespace,
            release_name=release_name,
            revision=revision,
            started_at=started_at,
            timeout_seconds=timeout.total_seconds() if timeout is not None else None,
            helm_timeout_seconds=helm_timeout.total_seconds(),
            policy=policy_to_dict(policy),
        )
        self._init(state, policy)

    def _init(self, state: TrackerState, policy: Policy) -> None:
        self._s = state
        self._policy = policy
        self._out: list[TrackEvent] = []
        self._waiting: dict[str, tuple[str, ...]] = {}
        self._manifests: dict[str, Mapping[str, Any]] = {}  # subject -> the tracked revision's manifest

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
            if release.status is ReleaseStatus.SUPERSEDED:
                # Finished before we looked; its objects belong to a later revision: Helm's record decides.
                self._start(release, now, track=False)
                self._note_release_failure(release, view, now)
                self._emit_failures(view, now)
                self._decide(release, now)
                s.log_requests = []
                return self._out
            self._start(release, now)

        step_events: StepEvents = []
        related = self._related(view)
        self._waiting = {}
        self._check_applied(view)
        for index, phase in enumerate(s.phases):
            if phase.state == SKIPPED:
                continue
            if phase.state == PENDING:
                if not self._may_start(index, view):
                    break  # Helm runs phases in order: nothing later has started either
                # What ended the phase before comes first: its steps' events, then its phase_finished.
                self._flush(step_events, now)
                self._finish_phases(now)
                self._phase_started(phase, now)
            for step in s.steps_of(index):
                self._observe_step(step, view, related, now, step_events)
        for step in s.steps:  # after every step, so a gating Job's own state is this view's
            if step.subject in self._waiting:
                self._note_gated(step, self._waiting[step.subject], view, now, step_events)
        self._flush(step_events, now)
        self._collect_logs(view, now)
        self._nearing_timeout(now)
        self._note_release_failure(release, view, now)
        self._finish_phases(now)
        self._emit_failures(view, now)
        self._decide(release, now)
        s.log_requests = [] if s.verdict else plan_log_requests(s.steps, s.failures, view.of("Pod"))
        return self._out

    def _flush(self, step_events: StepEvents, now: datetime) -> None:
        for step, etype, message, data in step_events:
            self._emit(etype, now, message, step=step, data=data)
        step_events.clear()

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
                end = step.finished_at or (None if step.state in (FAILED, *DONE_STATES) else now)
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
                    WorkloadSummary(step.kind, step.name, step.state, step.reason, step.ready, step.desired)
                )
            if step.wait or step.job_like:
                timeline.append(
                    ResourceTimeline(
                        subject=step.subject,
                        phase=phase,
                        first_seen=_earliest(step.first_seen, step.started_at if step.job_like else None),
                        done_at=step.finished_at if step.state in DONE_STATES else None,
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
                not_judged=tuple(s.verdict["data"].get("not_judged") or ()),
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
            failures=tuple(failure_line(f) for f in s.failures if f.emitted),
            timeline=tuple(timeline),
            verdict=verdict,
        )

    def to_state(self) -> dict[str, Any]:
        return dump_state(self._s)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReleaseTracker:
        s = load_state(state)
        tracker = cls.__new__(cls)
        tracker._init(s, policy_from_dict(s.policy))
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
        s.hook_records = records_of(release)
        self._manifests = {
            f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}": obj for obj in release.resources
        }

    def _deployed(self) -> bool:
        return self._s.release_status == ReleaseStatus.DEPLOYED.value

    def _start(self, release: Release, now: datetime, *, track: bool = True) -> None:
        s = self._s
        operation = detect_operation(release)
        plan = plan_operation(release, operation)
        s.operation = operation.value
        s.phases, s.steps = _from_plan(plan) if track else ([], [])
        s.started = True
        plan_data = [
            {
                "name": p.name,
                "kind": p.kind,
                "steps": [
                    {"kind": st.kind, "name": st.name, "weight": st.weight, "wait": st.wait, "hook": st.hook}
                    for st in s.steps_of(index)
                ],
            }
            for index, p in enumerate(s.phases)
        ]
        outline = (
            " → ".join(f"{p['name']} ({len(p['steps'])})" for p in plan_data if p["steps"])
            or "nothing to wait on"
        )
        if not track:
            outline = "already superseded by a later revision; judged from Helm's record"
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
        for index, phase in enumerate(s.phases):
            if not s.steps_of(index):
                phase.state = SKIPPED
        first = next((p for p in s.phases if p.state == PENDING), None)
        if first is not None:
            self._phase_started(first, now)

    # --- phase order ----------------------------------------------------------------------------------

    def _previous_phase(self, index: int) -> int | None:
        earlier = [i for i in range(index) if self._s.phases[i].state != SKIPPED]
        return earlier[-1] if earlier else None

    def _may_start(self, index: int, view: ClusterView) -> bool:
        """A phase starts once Helm is done with the one before (as far as the cluster shows)."""
        s = self._s
        before = self._previous_phase(index)
        if before is None:
            return True
        previous = s.phases[before]
        if previous.state in (PENDING, FAILED):
            return False
        if previous.state == SUCCEEDED or self._deployed():
            return True
        if self._later_hook_started(before, view):
            return True
        steps = [st for st in s.steps_of(before) if st.wait]
        if previous.kind == RESOURCES:
            return False  # post-hooks: only a post-hook of this operation shows Helm got there
        if all(st.done() for st in steps):
            return True
        # Helm applies release resources only after every pre-hook succeeded.
        return any(
            st.applied_by == "changed" or (s.operation == "install" and st.applied)
            for st in s.steps
            if s.phases[st.phase].kind == RESOURCES
        )

    def _later_hook_started(self, index: int, view: ClusterView) -> bool:
        """A hook of a later phase started in this operation: Helm is past phase `index`."""
        s = self._s
        for step in s.steps:
            if step.phase <= index or not step.hook:
                continue
            if started_in_operation(s.hook_records.get(hook_key(step.kind, step.name)), s.last_deployed):
                return True
            if self._phase_kind(index) == RESOURCES and not self._resources_applied(index):
                continue  # without Helm's record, a post-hook object counts only after the apply
            if step.kind in view.objects and self._this_run(step, view) is not None:
                return True
        return False

    def _resources_applied(self, index: int) -> bool:
        listed = self._s.kinds_listed
        waited = [st for st in self._s.steps_of(index) if st.wait and st.kind in listed]
        return bool(waited) and all(st.applied for st in waited)

    def _phase_kind(self, index: int) -> str:
        return self._s.phases[index].kind

    def _phase_started(self, phase: Phase, now: datetime) -> None:
        phase.state, phase.started_at = RUNNING, now
        self._emit(
            EventType.PHASE_STARTED, now, f"{phase.name} started", phase=phase.name, data={"kind": phase.kind}
        )

    def _finish_phases(self, now: datetime) -> None:
        s = self._s
        for i, phase in enumerate(s.phases):
            if phase.state != RUNNING:
                continue
            steps = s.steps_of(i)
            waited = [st for st in steps if st.wait]
            if any(st.state == FAILED for st in steps):
                state = FAILED
            elif all(st.done() for st in waited) and (waited or self._nothing_left(i)):
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

    def _nothing_left(self, index: int) -> bool:
        """A phase with nothing to wait on is over once Helm has moved past it."""
        s = self._s
        if s.phases[index].kind != RESOURCES:
            return True
        if s.release_status and not ReleaseStatus(s.release_status).pending:
            return True
        later = [st for st in s.steps if st.phase > index]
        return any(st.first_seen for st in later) or any(st.present for st in s.steps_of(index))

    # --- per step --------------------------------------------------------------------------------------

    def _related(self, view: ClusterView) -> list[Mapping[str, Any]]:
        return [
            *view.of("ReplicaSet"),
            *view.of("Pod"),
            *view.of("Event"),
            *view.of("ControllerRevision"),
            *view.of("StorageClass"),
        ]

    def _find(self, view: ClusterView, step: Step) -> Mapping[str, Any] | None:
        for obj in view.of(step.kind):
            md = obj.get("metadata") or {}
            if md.get("name") == step.name and md.get("namespace", self._s.namespace) == self._s.namespace:
                return obj
        return None

    def _check_applied(self, view: ClusterView) -> None:
        """Release resources: is the live object the tracked revision's yet? (sticky once it is)"""
        for step in self._s.steps:
            if step.hook or step.applied or step.kind not in view.objects:
                continue
            obj = self._find(view, step)
            manifest = self._manifests.get(step.subject)
            first = (step.first_generation, step.first_helm_apply) if step.live_seen else None
            if obj is not None and not step.live_seen:
                step.live_seen = True
                step.first_generation, step.first_helm_apply = generation_of(obj), helm_applied_at(obj)
            if self._deployed():
                step.applied, step.applied_by = True, "deployed"
            elif obj is not None and manifest is not None and matches_manifest(obj, manifest):
                step.applied, step.applied_by = True, "changed" if step.old_seen else "unchanged"
            elif obj is not None and applied_since(obj, self._s.last_deployed, first):
                # A webhook or HPA rewrote fields, but Helm changed the object in this operation.
                step.applied, step.applied_by = True, "changed"
            elif obj is None or manifest is not None:
                step.old_seen = True

    def _this_run(self, step: Step, view: ClusterView) -> Mapping[str, Any] | None:
        """The hook's object in the view if it is this operation's run (bot.core.hook_runs)."""
        s = self._s
        obj = self._find(view, step)
        if obj is None:
            return None
        md = obj.get("metadata") or {}
        uid = md.get("uid")
        if uid and uid in step.stale_uids:
            return None
        if uid and uid == step.uid:
            return obj
        predecessor = next((st.created for st in reversed(self._earlier(step)) if st.created), None)
        record = s.hook_records.get(hook_key(step.kind, step.name))
        created = parse_k8s_time(md.get("creationTimestamp"))
        if not belongs_to_operation(
            created, record, s.hook_records, s.last_deployed, predecessor, s.started_at
        ):
            return None
        return obj

    def _earlier(self, step: Step) -> list[Step]:
        """The hooks Helm runs before `step` in its phase (plan order: weight, kind, name)."""
        same = self._s.steps_of(step.phase)
        return [st for st in same[: next(i for i, st in enumerate(same) if st is step)] if st.hook]

    def _hook_turn(self, step: Step) -> bool:
        """Hooks of a phase run one at a time: judge a hook once those before it are done."""
        s = self._s
        earlier = [st for st in self._earlier(step) if st.wait]
        if all(st.done() for st in earlier):
            return True
        # Helm recorded this hook's start: those before it are over (their records say how).
        return started_in_operation(s.hook_records.get(hook_key(step.kind, step.name)), s.last_deployed)

    def _observe_step(
        self,
        step: Step,
        view: ClusterView,
        related: list[Mapping[str, Any]],
        now: datetime,
        out: StepEvents,
    ) -> None:
        if step.kind not in self._s.kinds_listed:
            # The adapter never listed this kind (it says why in a WARNING): it cannot be judged. It counts as
            # done so the release can succeed, but the verdict names it ("not judged: ... (not watched)").
            if step.state == PENDING:
                step.state, step.reason = UNOBSERVED, "not watched"
            return
        if step.state == UNOBSERVED:  # listed now: a watched kind must be judged (and current) like any other
            step.state, step.reason = PENDING, ""
        if step.kind not in view.objects:
            return  # partial view: this kind is unknown right now
        if step.hook:
            if not self._hook_turn(step):
                return
            obj = self._this_run(step, view)
        else:
            obj = self._find(view, step)
            if obj is not None and not step.applied:
                step.present = False
                step.reason = f"not applied yet (the live object is not revision {self._s.revision}'s)"
                return
        if obj is None:
            step.present = False
            if step.job_like:
                self._judge_vanished(step, now, out)
            return
        self._judge(step, obj, view, related, now, out)

    def _judge(
        self,
        step: Step,
        obj: Mapping[str, Any],
        view: ClusterView,
        related: list[Mapping[str, Any]],
        now: datetime,
        out: StepEvents,
    ) -> None:
        s = self._s
        md = obj.get("metadata") or {}
        uid = md.get("uid")
        if step.uid and uid and uid != step.uid and step.job_like:
            # Recreated (before-hook-creation): the object seen before was another run's.
            step.stale_uids.append(step.uid)
            step.forget_run()
        step.uid = uid or step.uid
        step.created = step.created or parse_k8s_time(md.get("creationTimestamp"))
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
        ended = self._run_ended(step, obj, state) if step.job_like and state in (SUCCEEDED, FAILED) else None
        self._set_state(step, state, assessment.reason, assessment.ready, assessment.desired, now, out, ended)
        for warning in assessment.warnings:
            if warning not in step.warnings_emitted:
                step.warnings_emitted.append(warning)
                s.warnings.append(WarningNote(step.subject, warning))
                out.append((step, EventType.WARNING, f"{step.subject}: {warning}", {"warning": warning}))
        if state == FAILED:
            self._record_failures(step, assessment, view, now)
        self._waiting[step.subject] = assessment.waiting

    def _note_job(self, step: Step, job: Mapping[str, Any]) -> None:
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

    def _run_ended(self, step: Step, obj: Mapping[str, Any], state: str) -> tuple[datetime, str] | None:
        """When this run ended: the object's own times, else Helm's record of this operation's run."""
        at = run_finished_at(obj, state == SUCCEEDED)
        if at is not None:
            return at, "object"
        return self._record_end(step)

    def _record_end(self, step: Step) -> tuple[datetime, str] | None:
        s = self._s
        record = s.hook_records.get(hook_key(step.kind, step.name)) if step.hook else None
        if record is None or record.completed_at is None or record_outcome(record, s.last_deployed) is None:
            return None
        return record.completed_at, "record"

    def _judge_vanished(self, step: Step, now: datetime, out: StepEvents) -> None:
        """A run-to-completion step absent from the view: keep what was seen, else ask Helm's hook record."""
        s = self._s
        if step.terminal_seen:
            if step.state == SUCCEEDED and "deleted" not in step.reason and step.first_seen:
                step.reason = "succeeded, then deleted"
            return
        run = None
        if step.hook:
            run = record_outcome(s.hook_records.get(hook_key(step.kind, step.name)), s.last_deployed)
        if run is not None:
            record = s.hook_records.get(hook_key(step.kind, step.name))
            if step.started_at is None and record is not None:
                step.started_at = record.started_at
            step.from_last_run = True
        if run == HookPhase.SUCCEEDED.value:
            reason = "succeeded (Helm's hook record; the object is gone)"
            self._set_state(step, SUCCEEDED, reason, None, None, now, out, self._record_end(step))
        elif run == HookPhase.FAILED.value:
            reason = "failed (Helm's hook record; the object is gone)"
            self._set_state(step, FAILED, reason, None, None, now, out, self._record_end(step))
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
        elif step.first_seen is not None and step.state not in (UNKNOWN, SUCCEEDED):
            self._set_state(step, UNKNOWN, "deleted before any result was seen", None, None, now, out)
        # never seen and no record: still pending

    def _set_state(
        self,
        step: Step,
        state: str,
        reason: str,
        ready: int | None,
        desired: int | None,
        now: datetime,
        out: StepEvents,
        ended: tuple[datetime, str] | None = None,
    ) -> None:
        changed = (state, ready, desired) != (step.state, step.ready, step.desired)
        step.state, step.reason = state, reason
        if ready is not None or desired is not None or not step.job_like:
            step.ready, step.desired = ready, desired
        terminal = state in DONE_STATES or state == FAILED
        if not terminal:
            step.finished_at, step.finish_from = None, None
        elif step.finished_at is None:
            # The object's (or Helm's) own end time: the watch may see the end late (short Job, API outage).
            at, source = ended or (now, "observed")
            if step.started_at is not None and at < step.started_at:
                at = step.started_at
            step.finished_at, step.finish_from = at, source
        if changed:
            at = now
            if terminal and step.finished_at is not None and step.finish_from != "observed":
                at = max([step.finished_at, *(p.at for p in step.points[-1:])])
            step.points.append(Point(at, state, step.ready, step.desired))
        if state in (SUCCEEDED, CURRENT):
            if not step.ready_emitted and step.wait:
                step.ready_emitted = True
                out.append((step, EventType.RESOURCE_READY, ready_line(step), step_data(step)))
            return
        if state != IN_PROGRESS or not step.wait:
            return
        key = [step.ready, step.desired] if step.desired is not None else [step.attempts, reason]
        if key != step.progress_emitted:
            step.progress_emitted = key
            out.append((step, EventType.RESOURCE_PROGRESS, progress_line(step), step_data(step)))

    # --- failures ----------------------------------------------------------------------------------------

    def _record_failures(self, step: Step, assessment: Assessment, view: ClusterView, now: datetime) -> None:
        failures = assessment.failures or (Failure(step.kind, step.name, "Failed", assessment.reason),)
        for failure in failures:
            self._add_failure(step, failure, now, view)

    def _add_failure(
        self, step: Step | None, failure: Failure, now: datetime, view: ClusterView | None = None
    ) -> None:
        s = self._s
        pod = failure.name if failure.kind == "Pod" else None
        container, exit_code = failure.container, failure.exit_code
        if failure.kind == "Job" and container is None and view is not None and step is not None:
            found = failed_job_container(view.of("Pod"), step)
            pod, container, exit_code = found or (None, None, exit_code)
        key = f"{failure.kind}/{failure.name}/{container or ''}"
        existing = next((f for f in s.failures if f.key == key), None)
        if existing is not None:
            if not existing.emitted:  # keep the freshest detail until it is reported
                existing.reason, existing.message = failure.reason, failure.message
                existing.restarts = failure.restarts if failure.restarts is not None else existing.restarts
                existing.exit_code = exit_code if exit_code is not None else existing.exit_code
            return
        ran = exit_code is not None or bool(failure.restarts) or failure.reason not in NO_LOG_REASONS
        previous = bool(failure.restarts) or "CrashLoopBackOff" in failure.reason
        held: list[str] = []  # what fresh lines are told apart from (bot.core.tracker_logs)
        if pod and container:
            held = s.logs.get(log_key(pod, container), [])  # captured before this view
            if previous:  # a crashed instance's log must come after this view
                held = list((view.logs.get((pod, container)) if view else None) or ()) or held
        s.failures.append(
            FailureRecord(
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
                seen_observe=s.observes,
                baseline=[str(line) for line in held[-FAILURE_TAIL:]],
            )
        )
        if s.first_failure_observe is None:
            s.first_failure_observe = s.observes

    def _note_release_failure(self, release: Release | None, view: ClusterView, now: datetime) -> None:
        """Helm's record says the revision failed, was replaced before it finished, or is gone."""
        s = self._s
        if s.release_failed:
            return
        if release is None:
            if view.release is None and view.secrets_fresh and s.started:
                last = f"; last seen {s.release_status}" if s.release_status else ""
                if s.release_description:
                    last += f': "{s.release_description}"'
                self._release_failure("ReleaseDeleted", f"release record deleted (uninstalled?){last}", now)
            return
        if release.status is ReleaseStatus.FAILED:
            quoted = release.description or "no description"
            self._release_failure("ReleaseFailed", f'Helm marked the release failed: "{quoted}"', now)
        elif release.status is ReleaseStatus.SUPERSEDED:
            succeeded, why = self._superseded_result(release)
            if succeeded:
                return  # _decide: it succeeded before a later revision replaced it
            if why != one_line(release.description):
                self._release_failure("HookFailed", f"revision {s.revision} is superseded; {why}", now)
            elif "failed" in why.lower():
                self._release_failure(
                    "ReleaseFailed", f'Helm marked revision {s.revision} failed: "{release.description}"', now
                )
            else:
                self._release_failure(
                    "ReleaseSuperseded",
                    f"revision {s.revision} is superseded before it finished"
                    + (f': "{release.description}"' if release.description else ""),
                    now,
                )
        elif release.status in (ReleaseStatus.UNINSTALLING, ReleaseStatus.UNINSTALLED):
            self._release_failure(
                f"Release{release.status.value.title()}",
                f"revision {s.revision} is {release.status.value}"
                + (f': "{release.description}"' if release.description else ""),
                now,
            )

    def _superseded_result(self, release: Release) -> tuple[bool, str]:
        operation = Operation(self._s.operation) if self._s.operation else detect_operation(release)
        return revision_result(release, hook_events(operation))

    def _release_failure(self, reason: str, message: str, now: datetime) -> None:
        self._s.release_failed = True
        self._add_failure(None, Failure("Release", self._s.release_name, reason, message), now)

    def _emit_failures(self, view: ClusterView, now: datetime) -> None:
        s = self._s
        for f in s.failures:
            if f.emitted:
                continue
            delivered = (
                [str(x) for x in view.logs.get((f.pod, f.container), ())] if f.pod and f.container else []
            )
            error = view.log_errors.get((f.pod, f.container)) if f.pod and f.container else None
            if not failure_log_ready(f, delivered, s.observes, now, error):
                continue  # asked for in log_requests()
            captured = s.logs.get(log_key(f.pod, f.container), []) if f.pod and f.container else []
            f.log_tail = (delivered or captured)[-FAILURE_TAIL:]
            f.log_unavailable = log_unavailable(f, delivered, error)
            f.emitted = True
            self._emit(
                EventType.FAILURE,
                now,
                failure_line(f),
                phase=f.phase,
                subject=f.subject,
                data=failure_data(f),
            )

    # --- pods gated in Init ------------------------------------------------------------------------------

    def _note_gated(
        self, step: Step, waiting: tuple[str, ...], view: ClusterView, now: datetime, out: StepEvents
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
            s.gated.append(Gated(step.subject, job, sorted(names), since))
        repeat = key == (step.gated_emitted or [])
        heartbeat_due = (
            bool(key) and step.gated_emitted_at is not None and now - step.gated_emitted_at >= GATED_HEARTBEAT
        )
        if repeat and not heartbeat_due:
            return
        step.gated_emitted, step.gated_emitted_at = key, now
        for job, names in sorted(groups.items(), key=lambda kv: kv[0] or ""):
            job_step = self._job_step(job)
            finished = job_step is not None and job_step.finished_at is not None
            running_for = (
                now - job_step.started_at
                if job_step is not None and job_step.started_at is not None and not finished
                else None
            )
            running = f", running {format_age(running_for)}" if running_for is not None else ""
            if finished:
                running = " (it has finished; the init container has yet to notice)"
            if job:
                message = f"{plural(len(names), 'pod')} of {step.name} waiting on {job}{running}"
            else:
                message = f"{plural(len(names), 'pod')} of {step.name} waiting in Init"
            data = {
                "job": job,
                "pods": sorted(names),
                "count": len(names),
                "job_running_seconds": running_for.total_seconds() if running_for is not None else None,
                "heartbeat": repeat,  # unchanged since the last one: a reminder that it still runs
            }
            out.append((step, EventType.PODS_GATED, message, data))

    def _gating_job(self, pod: Mapping[str, Any] | None) -> str | None:
        """The Job a gated pod waits on: k8s-wait-for style init args, else a running Job of the release."""
        if pod is not None:
            for container in (pod.get("spec") or {}).get("initContainers") or ():
                named = _job_in_args([*(container.get("command") or ()), *(container.get("args") or ())])
                if named:
                    return named
        running = [st for st in self._s.steps if st.kind == "Job" and st.state == IN_PROGRESS and st.present]
        return running[0].name if running else None

    def _job_step(self, name: str | None) -> Step | None:
        return next((st for st in self._s.steps if st.kind == "Job" and st.name == name), None)

    # --- logs and hooks nearing helm's timeout -----------------------------------------------------------

    def _collect_logs(self, view: ClusterView, now: datetime) -> None:
        s = self._s
        runners = [st for st in s.steps if st.job_like and st.uid]
        for pod in view.of("Pod"):
            name = (pod.get("metadata") or {}).get("name")
            step = next((st for st in runners if pod_runs_step(pod, st)), None)
            if step is not None and name:
                s.pod_jobs[str(name)] = step.subject
        for (pod_name, container), lines in sorted(view.logs.items()):
            key = log_key(pod_name, container)
            old = s.logs.get(key, [])
            new = new_lines(old, [str(line) for line in lines])
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

    # --- verdict ---------------------------------------------------------------------------------------

    def _all_done(self) -> bool:
        return all(st.done() for st in self._s.steps if st.wait)

    def _decide(self, release: Release | None, now: datetime) -> None:
        s = self._s
        failures = [f for f in s.failures if f.emitted]
        if failures and all(f.emitted for f in s.failures):
            self._verdict(Outcome.FAILED, now, failure_line(failures[0]), failures)
            return
        if s.failures:
            return  # a failure waits (briefly) for the log lines that cover it
        if (
            release is not None
            and release.status is ReleaseStatus.SUPERSEDED
            and self._superseded_result(release)[0]
        ):
            reason = f"revision {s.revision} succeeded and was superseded by a later revision"
            self._succeed(now, reason, self._not_judged(unfinished="superseded before it was judged"))
            return
        if release is not None and release.status is ReleaseStatus.DEPLOYED and self._all_done():
            self._succeed(
                now,
                f"{s.operation} of {s.release_name} revision {s.revision} succeeded "
                f"in {format_age(now - s.started_at)}",
                self._not_judged(),
            )
            return
        self._check_timeout(now, still=self._in_progress())

    def _not_judged(self, unfinished: str | None = None) -> list[str]:
        """Waited steps a success does not vouch for: kinds never watched (RBAC may forbid a CRD's kind),
        and, when given, steps not yet done (with why)."""
        out = []
        for st in self._s.steps:
            if not st.wait:
                continue
            if st.state == UNOBSERVED:
                out.append(f"{st.subject} (not watched)")
            elif unfinished and not st.done():
                out.append(f"{st.subject} ({unfinished})")
        return out

    def _succeed(self, now: datetime, reason: str, not_judged: list[str]) -> None:
        if not_judged:
            reason += "; not judged: " + ", ".join(not_judged)
        self._verdict(Outcome.SUCCEEDED, now, reason, [], extra={"not_judged": not_judged})

    def _in_progress(self) -> list[str]:
        s = self._s
        still = [f"{st.subject} ({st.reason or st.state})" for st in s.steps if st.wait and not st.done()]
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
        failures: list[FailureRecord],
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
            "reason": one_line(reason),
            "failures": [failure_data(f) for f in failures],
            "duration_seconds": (now - s.started_at).total_seconds(),
            **(extra or {}),
        }
        event = self._emit(EventType.VERDICT, now, message, data=data)
        s.verdict = event.to_dict()

    def _emit(
        self,
        etype: EventType,
        now: datetime,
        message: str,
        *,
        step: Step | None = None,
        phase: str | None = None,
        subject: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TrackEvent:
        s = self._s
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
        self._out.append(event)
        return event


# ---------------------------------------------------------------------------------------------------------


def _from_plan(plan: Plan) -> tuple[list[Phase], list[Step]]:
    phases: list[Phase] = []
    steps: list[Step] = []
    for index, phase in enumerate(plan.phases):
        kind = getattr(phase.kind, "value", phase.kind)
        phases.append(Phase(kind=str(kind).lower().replace("-", "_"), name=phase.name))
        for step in phase.steps:
            steps.append(
                Step(
                    phase=index,
                    kind=step.kind,
                    name=step.name,
                    wait=bool(step.wait),
                    hook=step.hook is not None,
                    weight=int(step.weight or 0),
                )
            )
    return phases, steps


def _earliest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


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
