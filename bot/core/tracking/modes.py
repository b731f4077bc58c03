"""What a chart's werf/nelm annotations change about one step's judgement (bot.core.tracking.annotations):
`werf.io/no-activity-timeout` turns a long silence into a failure, `werf.io/fail-mode` decides whether a
failure fails the release now, later, or not at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.events import EventType
from bot.core.model.durations import format_duration
from bot.core.model.failures import Failure
from bot.core.model.states import State, StepState
from bot.core.status import Assessment
from bot.core.tracking.annotations import FAIL_MODE, HOPE, IGNORE, NO_ACTIVITY_TIMEOUT
from bot.core.tracking.run import Run, StepEvents
from bot.core.tracking.state import TrackedStep, WarningNote


def note_activity(step: TrackedStep, assessment: Assessment, now: datetime) -> None:
    """A change in state, reason or counters is activity (new log lines are too: tracking.logs)."""
    key = [assessment.state.value, assessment.reason, assessment.ready, assessment.desired]
    if key != step.activity:
        step.activity, step.last_activity = key, now


def no_activity(step: TrackedStep, assessment: Assessment, now: datetime) -> Assessment:
    """werf.io/no-activity-timeout: in progress with nothing changing for that long is a failure."""
    if (
        step.no_activity_seconds is None
        or step.last_activity is None
        or assessment.state is not State.IN_PROGRESS
    ):
        return assessment
    idle, limit = now - step.last_activity, timedelta(seconds=step.no_activity_seconds)
    if idle < limit:
        return assessment
    message = (
        f"nothing changed for {format_duration(idle)} ({NO_ACTIVITY_TIMEOUT}: {format_duration(limit)}); "
        f"last: {assessment.reason}"
    )
    failure = Failure(step.kind, step.name, "NoActivityTimeout", message)
    return replace(
        assessment, state=State.FAILED, reason=f"NoActivityTimeout: {message}", failures=(failure,)
    )


def apply_fail_mode(
    run: Run, step: TrackedStep, state: StepState, reason: str, out: StepEvents
) -> tuple[StepState, str, bool]:
    """(state, reason, whether its failures count now) under the step's werf.io/fail-mode."""
    if state != StepState.FAILED or not step.fail_mode:
        return state, reason, True
    if step.fail_mode == IGNORE:
        warn_once(run, step, f"failed, ignored ({FAIL_MODE}: {IGNORE}): {reason}", out, key="fail-mode")
        if step.job_like:
            return StepState.IGNORED, f"failed, ignored: {reason}", False
        return StepState.IN_PROGRESS, f"failing, ignored: {reason}", False
    if step.fail_mode == HOPE:
        rest = [st for st in run.s.steps if st is not step and st.holds and not st.done()]
        if rest:
            return (
                StepState.IN_PROGRESS,
                f"failing; counts once the rest is done ({FAIL_MODE}: {HOPE}): {reason}",
                False,
            )
    return state, reason, True


def warn_once(run: Run, step: TrackedStep, warning: str, out: StepEvents, *, key: str | None = None) -> None:
    """A WARNING event and a summary note, once per step and `key` (default: the text itself)."""
    key = key or warning
    if key in step.warnings_emitted:
        return
    step.warnings_emitted.append(key)
    run.s.warnings.append(WarningNote(step.subject, warning))
    out.append((step, EventType.WARNING, f"{step.subject}: {warning}", {"warning": warning}))
