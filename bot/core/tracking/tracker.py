"""ReleaseTracker: follows one Helm release revision through successive cluster views to one verdict.

Pure state machine: the adapter lists the namespace (and reads the release Secret and the logs the tracker
asked for), calls `observe(view, now)`, and gets back only the events that are new. Rules
(../shared/docs/rollout-status.md §4/§5):

- phases run in Helm's order: pre-hooks one after another (by weight), then the release resources once
  every pre-hook succeeded (or Helm visibly went on: the release is deployed, a resource was changed to the
  new manifest, a later hook started), then post-hooks once the resources are applied;
- what belongs to this operation: hook objects that are this run's (hook_runs: Helm's hook
  record, creation order, uid), release resources whose live object is the tracked revision's
  (manifest_match); anything else is the previous revision's and is neither progress nor failure;
- a failure is reported when it is visible (after `assess()`'s grace), not at a timeout, naming the object,
  container, exit code and the log lines that cover it (logs: a short bounded wait);
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

This module is the façade; the rules live beside it, one module per concern: `phases`, `steps`, `failures`,
`gated`, `logs`, `verdict`, with the persisted `state`, the working set `run`, the human lines `text`, and
`summarize` (the current picture).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.events import TrackEvent
from bot.core.model.policy import DEFAULT_POLICY, Policy, policy_from_dict, policy_to_dict
from bot.core.model.states import PhaseState
from bot.core.model.values import to_utc
from bot.core.releases import ReleaseStatus
from bot.core.summary import TrackSummary
from bot.core.tracking.failures import emit_failures, note_release_failure
from bot.core.tracking.gated import note_gated
from bot.core.tracking.logs import collect_logs, plan_log_requests
from bot.core.tracking.phases import finish_phases, may_start, phase_started, start
from bot.core.tracking.run import ClusterView, Run, StepEvents
from bot.core.tracking.state import LogRequest, TrackerState, dump_state, load_state
from bot.core.tracking.steps import check_applied, observe_step
from bot.core.tracking.summarize import summarize
from bot.core.tracking.verdict import check_timeout, decide, nearing_timeout, still_in_progress


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
        self._run = Run(state, policy)

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
        run = self._run
        run.out = []
        s.observes += 1
        s.last_observed = now
        for kind in [*view.objects, *sorted(view.watched - set(view.objects))]:
            if kind not in s.kinds_listed:
                s.kinds_listed.append(kind)
        release = run.matching_release(view.release)
        if release is not None:
            run.note_release(release)
        if not s.started:
            if release is None:
                check_timeout(run, now, still=[f"release {s.release_name} revision {s.revision} to appear"])
                s.log_requests = []
                return run.out
            if release.status is ReleaseStatus.SUPERSEDED:
                # Finished before we looked; its objects belong to a later revision: Helm's record decides.
                start(run, release, now, track=False)
                note_release_failure(run, release, view, now)
                emit_failures(run, view, now)
                decide(run, release, now)
                s.log_requests = []
                return run.out
            start(run, release, now)

        step_events: StepEvents = []
        related = run.related(view)
        run.waiting = {}
        check_applied(run, view)
        for index, phase in enumerate(s.phases):
            if phase.state == PhaseState.SKIPPED:
                continue
            if phase.state == PhaseState.PENDING:
                if not may_start(run, index, view):
                    break  # Helm runs phases in order: nothing later has started either
                # What ended the phase before comes first: its steps' events, then its phase_finished.
                run.flush(step_events, now)
                finish_phases(run, now)
                phase_started(run, phase, now)
            for step in s.steps_of(index):
                observe_step(run, step, view, related, now, step_events)
        for step in s.steps:  # after every step, so a gating Job's own state is this view's
            if step.subject in run.waiting:
                note_gated(run, step, run.waiting[step.subject], view, now, step_events)
        run.flush(step_events, now)
        collect_logs(run, view, now)
        nearing_timeout(run, now)
        note_release_failure(run, release, view, now)
        finish_phases(run, now)
        emit_failures(run, view, now)
        decide(run, release, now)
        s.log_requests = [] if s.verdict else plan_log_requests(s.steps, s.failures, view.of("Pod"))
        return run.out

    def observe_nothing(self, now: datetime, unavailable: list[str]) -> list[TrackEvent]:
        """No view could be built (the API keeps failing, a first list never completes): nothing is judged,
        but the tracker's own timeout still ends the run, naming what was unavailable."""
        now = to_utc(now)
        if self._s.verdict is not None:
            return []
        self._run.out = []
        still = still_in_progress(self._run) if self._s.started else []
        check_timeout(self._run, now, still=[*still, *(f"unavailable: {u}" for u in unavailable)])
        return self._run.out

    def log_requests(self) -> list[LogRequest]:
        """Logs the adapter should fetch before the next observe()."""
        return list(self._s.log_requests)

    def summary(self) -> TrackSummary:
        return summarize(self._s)

    def to_state(self) -> dict[str, Any]:
        return dump_state(self._s)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReleaseTracker:
        s = load_state(state)
        tracker = cls.__new__(cls)
        tracker._init(s, policy_from_dict(s.policy))
        return tracker
