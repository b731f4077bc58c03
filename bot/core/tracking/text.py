"""The human lines and JSON details of the tracker's events, kept apart from the rules that emit them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.core.model.durations import format_duration
from bot.core.model.failures import FailureData
from bot.core.tracking.state import FailureRecord, TrackedStep, TrackerState
from bot.text import one_line, plural


def tracking_started_line(s: TrackerState, plan: list[dict[str, Any]], *, tracked: bool) -> str:
    """ "Tracking upgrade of shop revision 3 (shop-1.2.0): pre-upgrade hooks (1) → resources (4)"."""
    outline = (
        " → ".join(f"{p['name']} ({len(p['steps'])})" for p in plan if p["steps"]) or "nothing to wait on"
    )
    if not tracked:
        outline = "already superseded by a later revision; judged from Helm's record"
    chart = f" ({s.chart})" if s.chart else ""
    return f"Tracking {s.operation} of {s.release_name} revision {s.revision}{chart}: {outline}"


def step_data(step: TrackedStep) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": step.kind, "name": step.name, "state": step.state, "reason": step.reason}
    if step.desired is not None:
        data.update(ready=step.ready, desired=step.desired)
    if step.attempts is not None:
        data["attempts"] = step.attempts
    return data


def progress_line(step: TrackedStep) -> str:
    if step.desired is not None and not step.job_like:
        return f"{step.name}: {step.ready or 0}/{step.desired} new pods ready"
    if step.kind == "Job" and step.attempts:
        total = f" of {step.backoff_limit + 1}" if step.backoff_limit is not None else ""
        return f"{step.name}: running (attempt {step.attempts}{total})"
    return f"{step.name}: {step.reason or 'in progress'}"


def ready_line(step: TrackedStep) -> str:
    if step.job_like:
        took = ""
        timed = step.finish_from in ("object", "record") or not step.from_last_run
        if step.started_at and step.finished_at and timed:
            took = f" in {format_duration(step.finished_at - step.started_at)}"
        return f"{step.subject} succeeded{took}"
    counts = f" ({step.ready}/{step.desired})" if step.desired is not None else ""
    return f"{step.subject} is ready{counts}"


def gated_line(
    count: int, workload: str, job: str | None, running_for: timedelta | None, *, finished: bool
) -> str:
    """ "3 pods of shop-web waiting on shop-migrate, running 2m10s"."""
    if not job:
        return f"{plural(count, 'pod')} of {workload} waiting in Init"
    running = f", running {format_duration(running_for)}" if running_for is not None else ""
    if finished:
        running = " (it has finished; the init container has yet to notice)"
    return f"{plural(count, 'pod')} of {workload} waiting on {job}{running}"


def log_lines_line(step_name: str, pod: str, container: str, count: int) -> str:
    return f"{step_name} {pod}/{container}: {plural(count, 'new line')}"


def nearing_timeout_line(hook: str, elapsed: timedelta, limit: timedelta) -> str:
    return (
        f"hook {hook} has been running {format_duration(elapsed)} of helm's {format_duration(limit)} timeout"
    )


def succeeded_reason(s: TrackerState, took: timedelta) -> str:
    return f"{s.operation} of {s.release_name} revision {s.revision} succeeded in {format_duration(took)}"


def timed_out_reason(waited: timedelta, still: list[str]) -> str:
    return f"timed out after {format_duration(waited)}; still in progress: " + (
        "; ".join(still) or "nothing known"
    )


_IMMUTABLE_JOB = re.compile(r'Job(?:\.batch)? "([^"]+)" is invalid: .*field is immutable', re.DOTALL)


def release_failed_line(description: str) -> str:
    """Helm's failure, quoted; with the fix when a plain Job could not be updated (Jobs are immutable)."""
    line = f'Helm marked the release failed: "{description or "no description"}"'
    found = _IMMUTABLE_JOB.search(description or "")
    if found is not None:
        line += (
            f"; Job {found.group(1)}: Jobs are immutable: make it a hook with before-hook-creation, "
            "or put the revision in its name"
        )
    return line


def failed_message(s: TrackerState, reason: str) -> str:
    """The failed verdict's message: the operation, then its first failure."""
    return f"{s.operation or 'release'} of {s.release_name} revision {s.revision} failed: {reason}"


def failure_line(f: FailureRecord) -> str:
    if f.kind == "Release":
        return one_line(f.message)
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
    if f.message:
        text = f"{text}: {f.message}"
    if f.log_unavailable:
        text = f"{text}; logs unavailable: {f.log_unavailable}"
    return one_line(text)


def failure_data(f: FailureRecord) -> FailureData:
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
        "log_unavailable": f.log_unavailable,
        "subject": f.subject,
    }
