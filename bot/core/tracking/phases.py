"""Phases in Helm's order: pre-hooks, then the release resources, then post-hooks.

A phase starts once Helm is visibly done with the one before: it succeeded, the release is deployed, a hook
of a later phase started in this operation, or (pre-hooks -> resources) a resource was changed to the new
manifest. Within one observe a phase's phase_finished comes before the next phase's phase_started.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.events import EventType
from bot.core.model.kinds import group_of
from bot.core.model.states import PhaseKind, PhaseState, StepState
from bot.core.planning import Plan, detect_operation, plan_operation
from bot.core.releases import Release, ReleaseStatus
from bot.core.tracking.annotations import FAIL_IMMEDIATELY, read_annotations
from bot.core.tracking.hook_runs import hook_key, started_in_operation
from bot.core.tracking.run import ClusterView, Run
from bot.core.tracking.state import TrackedPhase, TrackedStep, WarningNote
from bot.core.tracking.steps import this_run
from bot.core.tracking.text import tracking_started_line


def start(run: Run, release: Release, now: datetime, *, track: bool = True) -> None:
    s = run.s
    operation = detect_operation(release)
    plan = plan_operation(release, operation)
    s.operation = operation.value
    s.phases, s.steps, problems = from_plan(plan) if track else ([], [], [])
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
    run.emit(
        EventType.TRACKING_STARTED,
        now,
        tracking_started_line(s, plan_data, tracked=track),
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
    for note in problems:
        s.warnings.append(note)
        run.emit(EventType.WARNING, now, f"{note.subject}: {note.message}", subject=note.subject,
                 data={"warning": note.message})
    for index, phase in enumerate(s.phases):
        if not s.steps_of(index):
            phase.state = PhaseState.SKIPPED
    first = next((p for p in s.phases if p.state == PhaseState.PENDING), None)
    if first is not None:
        phase_started(run, first, now)


def previous_phase(run: Run, index: int) -> int | None:
    earlier = [i for i in range(index) if run.s.phases[i].state != PhaseState.SKIPPED]
    return earlier[-1] if earlier else None


def may_start(run: Run, index: int, view: ClusterView) -> bool:
    """A phase starts once Helm is done with the one before (as far as the cluster shows)."""
    s = run.s
    before = previous_phase(run, index)
    if before is None:
        return True
    previous = s.phases[before]
    if previous.state in (PhaseState.PENDING, PhaseState.FAILED):
        return False
    if previous.state == PhaseState.SUCCEEDED or run.deployed():
        return True
    if later_hook_started(run, before, view):
        return True
    steps = [st for st in s.steps_of(before) if st.holds]
    if previous.kind == PhaseKind.RESOURCES:
        return False  # post-hooks: only a post-hook of this operation shows Helm got there
    if all(st.done() for st in steps):
        return True
    # Helm applies release resources only after every pre-hook succeeded.
    return any(
        st.applied_by == "changed" or (s.operation == "install" and st.applied)
        for st in s.steps
        if s.phases[st.phase].kind == PhaseKind.RESOURCES
    )


def later_hook_started(run: Run, index: int, view: ClusterView) -> bool:
    """A hook of a later phase started in this operation: Helm is past phase `index`."""
    s = run.s
    for step in s.steps:
        if step.phase <= index or not step.hook:
            continue
        if started_in_operation(s.hook_records.get(hook_key(step.kind, step.name)), s.last_deployed):
            return True
        if run.s.phases[index].kind == PhaseKind.RESOURCES and not resources_applied(run, index):
            continue  # without Helm's record, a post-hook object counts only after the apply
        if step.key in view.objects and this_run(run, step, view) is not None:
            return True
    return False


def resources_applied(run: Run, index: int) -> bool:
    listed = run.s.kinds_listed
    waited = [st for st in run.s.steps_of(index) if st.wait and st.key in listed]
    return bool(waited) and all(st.applied for st in waited)


def phase_started(run: Run, phase: TrackedPhase, now: datetime) -> None:
    phase.state, phase.started_at = PhaseState.RUNNING, now
    run.emit(
        EventType.PHASE_STARTED, now, f"{phase.name} started", phase=phase.name, data={"kind": phase.kind}
    )


def finish_phases(run: Run, now: datetime) -> None:
    s = run.s
    for i, phase in enumerate(s.phases):
        if phase.state != PhaseState.RUNNING:
            continue
        steps = s.steps_of(i)
        waited = [st for st in steps if st.holds]
        if any(st.state == StepState.FAILED for st in steps):
            state = PhaseState.FAILED
        elif all(st.done() for st in waited) and (waited or nothing_left(run, i)):
            state = PhaseState.SUCCEEDED
        else:
            continue
        phase.state, phase.finished_at = state, now
        run.emit(
            EventType.PHASE_FINISHED,
            now,
            f"{phase.name} {state}",
            phase=phase.name,
            data={
                "kind": phase.kind,
                "state": state,
                "duration_seconds": (now - phase.started_at).total_seconds() if phase.started_at else None,
            },
        )


def nothing_left(run: Run, index: int) -> bool:
    """A phase with nothing to wait on is over once Helm has moved past it."""
    s = run.s
    if s.phases[index].kind != PhaseKind.RESOURCES:
        return True
    if s.release_status and not ReleaseStatus(s.release_status).pending:
        return True
    later = [st for st in s.steps if st.phase > index]
    return any(st.first_seen for st in later) or any(st.present for st in s.steps_of(index))


def from_plan(plan: Plan) -> tuple[list[TrackedPhase], list[TrackedStep], list[WarningNote]]:
    """The tracked phases and steps, and the warnings about tracking annotations that cannot be read."""
    phases: list[TrackedPhase] = []
    steps: list[TrackedStep] = []
    problems: list[WarningNote] = []
    for index, phase in enumerate(plan.phases):
        phases.append(TrackedPhase(kind=PhaseKind(phase.kind), name=phase.name))
        for step in phase.steps:
            tracking = read_annotations(step.annotations)
            timeout = tracking.no_activity_timeout
            steps.append(
                TrackedStep(
                    phase=index,
                    kind=step.kind,
                    name=step.name,
                    wait=bool(step.wait),
                    hook=step.hook is not None,
                    weight=int(step.weight or 0),
                    group=group_of(step.api_version),
                    fail_mode="" if tracking.fail_mode == FAIL_IMMEDIATELY else tracking.fail_mode,
                    non_blocking=tracking.non_blocking,
                    no_activity_seconds=timeout.total_seconds() if timeout is not None else None,
                    skip_logs=tracking.skip_logs,
                    log_regex=tracking.log_regex,
                )
            )
            problems += [WarningNote(step.subject, problem) for problem in tracking.problems]
    return phases, steps, problems
