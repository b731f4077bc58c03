"""One step of the plan per view: find this operation's object, judge it with `assess()`, keep its state.

- release resources count only once the live object is the tracked revision's (`manifest_match`); hooks
  only when the object is this operation's run (`hook_runs`); anything else is the previous revision's and
  is neither progress nor failure;
- a run-to-completion step whose object vanished keeps what was seen (succeeded, then deleted), else Helm's
  hook record decides, else it is unknown (never success);
- a run's start and end come from the object or Helm's record; observation times only as a last resort.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.core.events import EventType
from bot.core.model.failures import Failure
from bot.core.model.states import DONE_STATES, State, StepState
from bot.core.model.values import api_time
from bot.core.releases import HookPhase
from bot.core.status import assess
from bot.core.tracking.failures import add_failure, record_failures
from bot.core.tracking.hook_runs import (
    belongs_to_operation,
    hook_key,
    record_outcome,
    run_finished_at,
    started_in_operation,
)
from bot.core.tracking.manifest_match import applied_since, generation_of, helm_applied_at, matches_manifest
from bot.core.tracking.modes import apply_fail_mode, no_activity, note_activity, warn_once
from bot.core.tracking.run import ClusterView, Run, StepEvents
from bot.core.tracking.state import Point, TrackedStep
from bot.core.tracking.text import progress_line, ready_line, step_data


def check_applied(run: Run, view: ClusterView) -> None:
    """Release resources: is the live object the tracked revision's yet? (sticky once it is)"""
    for step in run.s.steps:
        if step.hook or step.applied or step.key not in view.objects:
            continue
        obj = run.find(view, step)
        manifest = run.manifests.get(step.subject)
        first = (step.first_generation, step.first_helm_apply) if step.live_seen else None
        if obj is not None and not step.live_seen:
            step.live_seen = True
            step.first_generation, step.first_helm_apply = generation_of(obj), helm_applied_at(obj)
        if run.deployed():
            step.applied, step.applied_by = True, "deployed"
        elif obj is not None and manifest is not None and matches_manifest(obj, manifest):
            step.applied, step.applied_by = True, "changed" if step.old_seen else "unchanged"
        elif obj is not None and applied_since(obj, run.s.last_deployed, first):
            # A webhook or HPA rewrote fields, but Helm changed the object in this operation.
            step.applied, step.applied_by = True, "changed"
        elif obj is None or manifest is not None:
            step.old_seen = True


def this_run(run: Run, step: TrackedStep, view: ClusterView) -> Mapping[str, Any] | None:
    """The hook's object in the view if it is this operation's run (bot.core.hook_runs)."""
    s = run.s
    obj = run.find(view, step)
    if obj is None:
        return None
    md = obj.get("metadata") or {}
    uid = md.get("uid")
    if uid and uid in step.stale_uids:
        return None
    if uid and uid == step.uid:
        return obj
    predecessor = next((st.created for st in reversed(earlier_hooks(run, step)) if st.created), None)
    record = s.hook_records.get(hook_key(step.kind, step.name))
    created = api_time(md.get("creationTimestamp"))
    if not belongs_to_operation(created, record, s.hook_records, s.last_deployed, predecessor, s.started_at):
        return None
    return obj


def earlier_hooks(run: Run, step: TrackedStep) -> list[TrackedStep]:
    """The hooks Helm runs before `step` in its phase (plan order: weight, name, kind)."""
    same = run.s.steps_of(step.phase)
    return [st for st in same[: next(i for i, st in enumerate(same) if st is step)] if st.hook]


def hook_turn(run: Run, step: TrackedStep) -> bool:
    """Hooks of a phase run one at a time: judge a hook once those before it are done."""
    s = run.s
    earlier = [st for st in earlier_hooks(run, step) if st.holds]
    if all(st.done() for st in earlier):
        return True
    # Helm recorded this hook's start: those before it are over (their records say how).
    return started_in_operation(s.hook_records.get(hook_key(step.kind, step.name)), s.last_deployed)


def observe_step(
    run: Run,
    step: TrackedStep,
    view: ClusterView,
    related: list[Mapping[str, Any]],
    now: datetime,
    out: StepEvents,
) -> None:
    if step.key not in run.s.kinds_listed:
        # The adapter never listed this kind (it says why in a WARNING): it cannot be judged. It counts as
        # done so the release can succeed, but the verdict names it ("not judged: ... (not watched)").
        if step.state == StepState.PENDING:
            step.state, step.reason = StepState.UNOBSERVED, "not watched"
        return
    if (
        step.state == StepState.UNOBSERVED
    ):  # listed now: a watched kind must be judged (and current) like any other
        step.state, step.reason = StepState.PENDING, ""
    if step.key not in view.objects:
        return  # partial view: this kind is unknown right now
    if step.hook:
        if not hook_turn(run, step):
            return
        obj = this_run(run, step, view)
    else:
        obj = run.find(view, step)
        if obj is not None and not step.applied:
            step.present = False
            step.reason = f"not applied yet (the live object is not revision {run.s.revision}'s)"
            return
    if obj is None:
        step.present = False
        if step.job_like:
            judge_vanished(run, step, now, out)
        return
    judge(run, step, obj, view, related, now, out)


def judge(
    run: Run,
    step: TrackedStep,
    obj: Mapping[str, Any],
    view: ClusterView,
    related: list[Mapping[str, Any]],
    now: datetime,
    out: StepEvents,
) -> None:
    md = obj.get("metadata") or {}
    uid = md.get("uid")
    if step.uid and uid and uid != step.uid and step.job_like:
        # Recreated (before-hook-creation): the object seen before was another run's.
        step.stale_uids.append(step.uid)
        step.forget_run()
    step.uid = uid or step.uid
    step.created = step.created or api_time(md.get("creationTimestamp"))
    step.present = True
    if step.first_seen is None:
        step.first_seen = now
    assessment = assess(obj, related=related, now=now, hook=step.hook, policy=run.policy)
    note_activity(step, assessment, now)
    assessment = no_activity(step, assessment, now)
    if step.kind == "Job":
        note_job(run, step, obj)
    elif step.job_like and step.started_at is None:
        step.started_at = api_time((obj.get("status") or {}).get("startTime")) or now
    state = {
        State.CURRENT: StepState.SUCCEEDED if step.job_like else StepState.CURRENT,
        State.FAILED: StepState.FAILED,
    }.get(assessment.state, StepState.IN_PROGRESS)
    state, reason, failures_count = apply_fail_mode(run, step, state, assessment.reason, out)
    terminal = (StepState.SUCCEEDED, StepState.FAILED, StepState.IGNORED)
    if step.job_like and state in terminal:
        step.terminal_seen = True
    step.from_last_run = False
    ended = run_ended(run, step, obj, state) if step.job_like and state in terminal else None
    set_state(run, step, state, reason, assessment.ready, assessment.desired, now, out, ended)
    for warning in assessment.warnings:
        warn_once(run, step, warning, out)
    if state == StepState.FAILED and failures_count:
        record_failures(run, step, assessment, view, now)
    run.waiting[step.subject] = assessment.waiting


def note_job(run: Run, step: TrackedStep, job: Mapping[str, Any]) -> None:
    status = job.get("status") or {}
    spec = job.get("spec") or {}
    start = api_time(status.get("startTime"))
    if start is not None:
        step.started_at = start
    counts = [status.get(k) for k in ("active", "succeeded", "failed")]
    attempts = sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool))
    step.attempts = attempts or (1 if start else None)
    limit = spec.get("backoffLimit", 6)
    step.backoff_limit = limit if isinstance(limit, int) and not isinstance(limit, bool) else None


def run_ended(
    run: Run, step: TrackedStep, obj: Mapping[str, Any], state: StepState
) -> tuple[datetime, str] | None:
    """When this run ended: the object's own times, else Helm's record of this operation's run."""
    at = run_finished_at(obj, state == StepState.SUCCEEDED)
    if at is not None:
        return at, "object"
    return record_end(run, step)


def record_end(run: Run, step: TrackedStep) -> tuple[datetime, str] | None:
    s = run.s
    record = s.hook_records.get(hook_key(step.kind, step.name)) if step.hook else None
    if record is None or record.completed_at is None or record_outcome(record, s.last_deployed) is None:
        return None
    return record.completed_at, "record"


def judge_vanished(run: Run, step: TrackedStep, now: datetime, out: StepEvents) -> None:
    """A run-to-completion step absent from the view: keep what was seen, else ask Helm's hook record."""
    s = run.s
    if step.terminal_seen:
        if step.state == StepState.SUCCEEDED and "deleted" not in step.reason and step.first_seen:
            step.reason = "succeeded, then deleted"
        return
    recorded = None
    if step.hook:
        recorded = record_outcome(s.hook_records.get(hook_key(step.kind, step.name)), s.last_deployed)
    if recorded is not None:
        record = s.hook_records.get(hook_key(step.kind, step.name))
        if step.started_at is None and record is not None:
            step.started_at = record.started_at
        step.from_last_run = True
    if recorded == HookPhase.SUCCEEDED.value:
        reason = "succeeded (Helm's hook record; the object is gone)"
        set_state(run, step, StepState.SUCCEEDED, reason, None, None, now, out, record_end(run, step))
    elif recorded == HookPhase.FAILED.value:
        reason = "failed (Helm's hook record; the object is gone)"
        set_state(run, step, StepState.FAILED, reason, None, None, now, out, record_end(run, step))
        add_failure(
            run,
            step,
            Failure(
                step.kind,
                step.name,
                "HookFailed",
                "Helm recorded the hook as failed; its object was deleted",
            ),
            now,
        )
    elif step.first_seen is not None and step.state not in (StepState.UNKNOWN, StepState.SUCCEEDED):
        set_state(run, step, StepState.UNKNOWN, "deleted before any result was seen", None, None, now, out)


def set_state(
    run: Run,
    step: TrackedStep,
    state: StepState,
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
    terminal = state in DONE_STATES or state == StepState.FAILED
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
    if state in (StepState.SUCCEEDED, StepState.CURRENT):
        if not step.ready_emitted and step.wait:
            step.ready_emitted = True
            out.append((step, EventType.RESOURCE_READY, ready_line(step), step_data(step)))
        return
    if state != StepState.IN_PROGRESS or not step.wait:
        return
    key = [step.ready, step.desired] if step.desired is not None else [step.attempts, reason]
    if key != step.progress_emitted:
        step.progress_emitted = key
        out.append((step, EventType.RESOURCE_PROGRESS, progress_line(step), step_data(step)))
