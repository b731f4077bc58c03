"""The tracker's current picture (`TrackSummary`): what a live terminal view or a Slack message renders."""

from __future__ import annotations

from datetime import datetime

from bot.core.model.states import DONE_STATES, StepState
from bot.core.model.values import parse_time
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
from bot.core.tracking.state import TrackerState
from bot.core.tracking.text import failure_line


def summarize(s: TrackerState) -> TrackSummary:
    """The current picture, derived from the state alone (a restored tracker gives the same one)."""
    now = s.last_observed or s.started_at
    phase_names = [p.name for p in s.phases]
    workloads: list[WorkloadSummary] = []
    jobs: list[JobSummary] = []
    timeline: list[ResourceTimeline] = []
    for step in s.steps:
        phase = phase_names[step.phase] if step.phase < len(phase_names) else ""
        if step.job_like:
            end = step.finished_at or (None if step.state in (StepState.FAILED, *DONE_STATES) else now)
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
                    first_seen=earliest(step.first_seen, step.started_at if step.job_like else None),
                    done_at=step.finished_at if step.state in DONE_STATES else None,
                    failed_at=step.finished_at if step.state == StepState.FAILED else None,
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
        phases=tuple(PhaseSummary(p.name, p.kind, p.state, p.started_at, p.finished_at) for p in s.phases),
        workloads=tuple(workloads),
        jobs=tuple(jobs),
        gated=tuple(GatedPods(g.workload, g.job, tuple(g.pods), g.since) for g in s.gated),
        warnings=tuple(f"{w.subject}: {w.message}" if w.subject else w.message for w in s.warnings),
        failures=tuple(failure_line(f) for f in s.failures if f.emitted),
        timeline=tuple(timeline),
        verdict=verdict,
    )


def earliest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None
