"""The human lines and JSON details of the tracker's events, kept apart from the rules that emit them."""

from __future__ import annotations

from typing import Any

from bot.core.durations import format_duration
from bot.core.status import plural
from bot.core.tracker_state import FailureRecord, Step


def one_line(text: str) -> str:
    """Helm descriptions and API messages may span lines; an event's message is one line."""
    return " ".join(text.split())


def step_data(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": step.kind, "name": step.name, "state": step.state, "reason": step.reason}
    if step.desired is not None:
        data.update(ready=step.ready, desired=step.desired)
    if step.attempts is not None:
        data["attempts"] = step.attempts
    return data


def progress_line(step: Step) -> str:
    if step.desired is not None and not step.job_like:
        return f"{step.name}: {step.ready or 0}/{step.desired} new pods ready"
    if step.kind == "Job" and step.attempts:
        total = f" of {step.backoff_limit + 1}" if step.backoff_limit is not None else ""
        return f"{step.name}: running (attempt {step.attempts}{total})"
    return f"{step.name}: {step.reason or 'in progress'}"


def ready_line(step: Step) -> str:
    if step.job_like:
        took = ""
        timed = step.finish_from in ("object", "record") or not step.from_last_run
        if step.started_at and step.finished_at and timed:
            took = f" in {format_duration(step.finished_at - step.started_at)}"
        return f"{step.subject} succeeded{took}"
    counts = f" ({step.ready}/{step.desired})" if step.desired is not None else ""
    return f"{step.subject} is ready{counts}"


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


def failure_data(f: FailureRecord) -> dict[str, Any]:
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
