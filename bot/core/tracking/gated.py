"""Pods of a workload held in Init, and the Job they wait on ("3 pods of shop-web waiting on shop-migrate").

Said when the grouping changes, and again every GATED_HEARTBEAT while it lasts (`data.heartbeat`), so a
long migration does not look like a hang.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.core.events import EventType
from bot.core.model.states import StepState
from bot.core.tracking.run import ClusterView, Run, StepEvents
from bot.core.tracking.state import Gated, TrackedStep
from bot.core.tracking.text import gated_line

GATED_HEARTBEAT = timedelta(seconds=60)  # re-say "N pods waiting on <job>, running 3m" while it lasts


def note_gated(
    run: Run, step: TrackedStep, waiting: tuple[str, ...], view: ClusterView, now: datetime, out: StepEvents
) -> None:
    s = run.s
    groups: dict[str | None, list[str]] = {}
    pods = {(p.get("metadata") or {}).get("name"): p for p in view.of("Pod")}
    for pod_name in waiting:
        groups.setdefault(gating_job(run, pods.get(pod_name)), []).append(pod_name)
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
        job_step = find_job_step(run, job)
        finished = job_step is not None and job_step.finished_at is not None
        running_for = (
            now - job_step.started_at
            if job_step is not None and job_step.started_at is not None and not finished
            else None
        )
        message = gated_line(len(names), step.name, job, running_for, finished=finished)
        data = {
            "job": job,
            "pods": sorted(names),
            "count": len(names),
            "job_running_seconds": running_for.total_seconds() if running_for is not None else None,
            "heartbeat": repeat,  # unchanged since the last one: a reminder that it still runs
        }
        out.append((step, EventType.PODS_GATED, message, data))


def gating_job(run: Run, pod: Mapping[str, Any] | None) -> str | None:
    """The Job a gated pod waits on: k8s-wait-for style init args, else a running Job of the release."""
    if pod is not None:
        for container in (pod.get("spec") or {}).get("initContainers") or ():
            named = job_in_args([*(container.get("command") or ()), *(container.get("args") or ())])
            if named:
                return named
    running = [
        st for st in run.s.steps if st.kind == "Job" and st.state == StepState.IN_PROGRESS and st.present
    ]
    return running[0].name if running else None


def find_job_step(run: Run, name: str | None) -> TrackedStep | None:
    return next((st for st in run.s.steps if st.kind == "Job" and st.name == name), None)


def job_in_args(tokens: Sequence[Any]) -> str | None:
    """k8s-wait-for `["job", NAME]` / `job-wr NAME`, or `job/NAME` as in `kubectl wait ... job/NAME`."""
    words = [str(t) for t in tokens]
    for i, word in enumerate(words):
        if word in ("job", "job-wr") and i + 1 < len(words):
            return words[i + 1]
        for prefix in ("job/", "jobs/", "job.batch/", "jobs.batch/"):
            if word.startswith(prefix) and len(word) > len(prefix):
                return word[len(prefix) :]
    return None
