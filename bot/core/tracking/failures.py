"""Failures: recorded when visible (after `assess()`'s grace), reported once their log tail is in.

A failure is reported when it is visible, not at a timeout, naming the object, container, exit code and the
log lines that cover it (`logs`: a short bounded wait). Helm's record may fail the release too: marked
failed, superseded before it finished, or deleted after it was seen (only in a view whose Secret list is
fresh).
"""

from __future__ import annotations

from datetime import datetime

from bot.core.events import EventType
from bot.core.model.failures import Failure
from bot.core.planning import Operation, detect_operation, hook_events
from bot.core.releases import Release, ReleaseStatus
from bot.core.status import Assessment
from bot.core.tracking.annotations import SKIP_LOGS, matching_lines
from bot.core.tracking.hook_runs import revision_result
from bot.core.tracking.logs import (
    FAILURE_TAIL,
    NO_LOG_REASONS,
    failed_job_container,
    failure_log_ready,
    log_key,
    log_unavailable,
)
from bot.core.tracking.run import ClusterView, Run
from bot.core.tracking.state import FailureRecord, TrackedStep
from bot.core.tracking.text import failure_data, failure_line, release_failed_line
from bot.text import one_line


def record_failures(
    run: Run, step: TrackedStep, assessment: Assessment, view: ClusterView, now: datetime
) -> None:
    failures = assessment.failures or (Failure(step.kind, step.name, "Failed", assessment.reason),)
    for failure in failures:
        add_failure(run, step, failure, now, view)


def add_failure(
    run: Run, step: TrackedStep | None, failure: Failure, now: datetime, view: ClusterView | None = None
) -> None:
    s = run.s
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
    same = next((f for f in s.failures if pod and container and (f.pod, f.container) == (pod, container)),
                None)
    if same is not None:
        # The same container seen twice (a failed Job and its last pod): one cause, its log shown once.
        if not same.emitted and same.exit_code is None:
            same.exit_code = exit_code
        return
    ran = exit_code is not None or bool(failure.restarts) or failure.reason not in NO_LOG_REASONS
    previous = bool(failure.restarts) or "CrashLoopBackOff" in failure.reason
    held: list[str] = []  # what fresh lines are told apart from (tracking.logs)
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
            needs_logs=bool(pod and container and ran) and not (step is not None and step.skip_logs),
            seen_observe=s.observes,
            baseline=[str(line) for line in held[-FAILURE_TAIL:]],
        )
    )
    if s.first_failure_observe is None:
        s.first_failure_observe = s.observes


def note_release_failure(run: Run, release: Release | None, view: ClusterView, now: datetime) -> None:
    """Helm's record says the revision failed, was replaced before it finished, or is gone."""
    s = run.s
    if s.release_failed:
        return
    if release is None:
        if view.release is None and view.secrets_fresh and s.started:
            last = f"; last seen {s.release_status}" if s.release_status else ""
            if s.release_description:
                last += f': "{s.release_description}"'
            release_failure(run, "ReleaseDeleted", f"release record deleted (uninstalled?){last}", now)
        return
    if release.status is ReleaseStatus.FAILED:
        release_failure(run, "ReleaseFailed", release_failed_line(release.description), now)
    elif release.status is ReleaseStatus.SUPERSEDED:
        succeeded, why = superseded_result(run, release)
        if succeeded:
            return  # verdict.decide: it succeeded before a later revision replaced it
        if why != one_line(release.description):
            release_failure(run, "HookFailed", f"revision {s.revision} is superseded; {why}", now)
        elif "failed" in why.lower():
            release_failure(
                run,
                "ReleaseFailed",
                f'Helm marked revision {s.revision} failed: "{release.description}"',
                now,
            )
        else:
            release_failure(
                run,
                "ReleaseSuperseded",
                f"revision {s.revision} is superseded before it finished"
                + (f': "{release.description}"' if release.description else ""),
                now,
            )
    elif release.status in (ReleaseStatus.UNINSTALLING, ReleaseStatus.UNINSTALLED):
        release_failure(
            run,
            f"Release{release.status.value.title()}",
            f"revision {s.revision} is {release.status.value}"
            + (f': "{release.description}"' if release.description else ""),
            now,
        )


def superseded_result(run: Run, release: Release) -> tuple[bool, str]:
    operation = Operation(run.s.operation) if run.s.operation else detect_operation(release)
    return revision_result(release, hook_events(operation))


def release_failure(run: Run, reason: str, message: str, now: datetime) -> None:
    run.s.release_failed = True
    add_failure(run, None, Failure("Release", run.s.release_name, reason, message), now)


def emit_failures(run: Run, view: ClusterView, now: datetime) -> None:
    s = run.s
    for f in s.failures:
        if f.emitted:
            continue
        delivered = [str(x) for x in view.logs.get((f.pod, f.container), ())] if f.pod and f.container else []
        error = view.log_errors.get((f.pod, f.container)) if f.pod and f.container else None
        if not failure_log_ready(f, delivered, s.observes, now, error):
            continue  # asked for in log_requests()
        captured = s.logs.get(log_key(f.pod, f.container), []) if f.pod and f.container else []
        step = next((st for st in s.steps if st.subject == f.subject), None)
        regex = step.log_regex if step is not None else None
        f.log_tail = matching_lines(delivered or captured, regex)[-FAILURE_TAIL:]
        f.log_unavailable = log_unavailable(f, delivered, error)
        if step is not None and step.skip_logs and f.pod and f.container:
            f.log_tail, f.log_unavailable = [], f"not shown ({SKIP_LOGS})"
        f.emitted = True
        run.emit(
            EventType.FAILURE,
            now,
            failure_line(f),
            phase=f.phase,
            subject=f.subject,
            data=failure_data(f),
        )
