"""Container logs for the tracker: whose pod is whose, what to ask the adapter for, and when a failure's
log tail is complete enough to report.

The adapter fetches what `log_requests()` lists between two observes and hands back the latest lines per
(pod, container); lines outlive their pod. A pod counts for a Job step only when it belongs to the Job
object accepted for this operation (its controller uid), so a previous run's pod never streams lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.core.events import EventType
from bot.core.model.states import StepState
from bot.core.tracking.annotations import matching_lines
from bot.core.tracking.run import ClusterView, Run
from bot.core.tracking.state import STREAM_TAIL, FailureRecord, LogRequest, TrackedStep
from bot.core.tracking.text import log_lines_line
from bot.text import one_line

FAILURE_TAIL = 20  # lines asked for a failing container, and kept in its failure
LOG_KEEP = 200  # lines remembered per container (new-line detection, tails after deletion)
FAILURE_LOG_WAIT = timedelta(seconds=5)  # longest wait for a crashed instance's log after the failure

JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
_CONTROLLER_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
# Causes whose container never ran: no log to fetch.
NO_LOG_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "Unschedulable",
        "FailedScheduling",
        "FailedMount",
        "FailedAttachVolume",
        # never started yet (named by a progress-deadline failure that lists the pods not ready)
        "ContainerCreating",
        "PodInitializing",
        "Init:Running",
    }
)


def log_key(pod: str, container: str) -> str:
    return f"{pod}/{container}"


def pod_runs_step(pod: Mapping[str, Any], step: TrackedStep) -> bool:
    """The pod is run by the object accepted for this step (a hook Pod itself, or a Job's pod)."""
    if step.uid is None:
        return False
    md = pod.get("metadata") or {}
    if step.kind == "Pod":
        return md.get("name") == step.name and md.get("uid") == step.uid
    labels = md.get("labels") or {}
    if not any(labels.get(k) == step.name for k in JOB_NAME_LABELS):
        return False
    owners = {ref.get("uid") for ref in md.get("ownerReferences") or ()}
    return step.uid in owners or any(labels.get(k) == step.uid for k in _CONTROLLER_UID_LABELS)


def started_containers(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    names = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or ():
            state = cs.get("state") or {}
            if (state.get("running") or state.get("terminated")) and cs.get("name"):
                names.append(str(cs["name"]))
    return names


def failed_job_container(
    pods: Iterable[Mapping[str, Any]], step: TrackedStep
) -> tuple[str, str, int | None] | None:
    """The newest pod of the step's failed Job with a container that exited non-zero."""
    best: tuple[str, str, str, int | None] | None = None
    for pod in pods:
        if not pod_runs_step(pod, step):
            continue
        md = pod.get("metadata") or {}
        status = pod.get("status") or {}
        for key in ("initContainerStatuses", "containerStatuses"):
            for cs in status.get(key) or ():
                term = (cs.get("state") or {}).get("terminated") or (cs.get("lastState") or {}).get(
                    "terminated"
                )
                if term and term.get("exitCode"):
                    created = str(md.get("creationTimestamp") or "")
                    if best is None or created >= best[0]:
                        best = (created, str(md.get("name")), str(cs.get("name")), term.get("exitCode"))
    return best[1:] if best else None


def new_lines(old: Sequence[str], current: Sequence[str]) -> list[str]:
    """Lines of `current` not already seen: the adapter hands the latest tail each time, which overlaps."""
    if not old:
        return list(current)
    for k in range(min(len(old), len(current)), 0, -1):
        if list(old[-k:]) == list(current[:k]):
            return list(current[k:])
    return list(current)


def failure_log_ready(
    f: FailureRecord, delivered: Sequence[str], observes: int, now: datetime, error: str | None = None
) -> bool:
    """Whether the lines captured for a failing container cover the failure, or waiting is over.

    - A container that terminated for good: lines delivered in the view that showed the failure count if
      they are new in that view (the adapter re-reads a followed container when its pod changes); else
      the next observe's, since the log was asked for again after the failure was seen.
    - A crashed (restarted) instance: its `previous` log is asked for after the failure was seen, so only
      lines that differ from those held then count; if none come, give up after FAILURE_LOG_WAIT.
    - The read failed (`error`, e.g. "503 Service Unavailable"): that is not "no log exists"; wait up to
      FAILURE_LOG_WAIT for lines, then report without them (see `log_unavailable`).
    - Nothing delivered at all by the next observe, and no error: there is no log to wait for.
    """
    if not f.needs_logs:
        return True
    tail = list(delivered[-FAILURE_TAIL:])
    if observes <= f.seen_observe:
        return not f.previous and bool(tail) and tail != f.baseline
    fresh = bool(tail) and tail != f.baseline
    if error and not fresh:
        return now - f.first_seen >= FAILURE_LOG_WAIT
    if not tail or not f.previous or fresh:
        return True
    return now - f.first_seen >= FAILURE_LOG_WAIT


def log_unavailable(f: FailureRecord, delivered: Sequence[str], error: str | None) -> str | None:
    """Why a failure is reported without its log: the read failed and brought nothing new."""
    if not f.needs_logs or not error:
        return None
    tail = list(delivered[-FAILURE_TAIL:])
    return None if tail and tail != f.baseline else one_line(error)


def plan_log_requests(
    steps: Sequence[TrackedStep], failures: Sequence[FailureRecord], pods: Iterable[Mapping[str, Any]]
) -> list[LogRequest]:
    """Stream the containers of running hooks and Jobs (one more fetch once finished), and the tails of
    failing containers."""
    requests: dict[tuple[str, str], LogRequest] = {}
    job_steps = [st for st in steps if st.job_like and st.uid and not st.skip_logs]
    for pod in pods:
        name = str((pod.get("metadata") or {}).get("name") or "")
        step = next((st for st in job_steps if pod_runs_step(pod, st)), None)
        if step is None or not name:
            continue
        if step.state in (StepState.SUCCEEDED, StepState.FAILED) and step.final_logs_asked:
            continue
        for container in started_containers(pod):
            requests[(name, container)] = LogRequest(name, container, False, STREAM_TAIL)
    for step in steps:
        if step.state in (StepState.SUCCEEDED, StepState.FAILED) and step.present:
            step.final_logs_asked = True  # one more fetch after it finished, then stop
    for f in failures:
        if f.needs_logs and not f.emitted and f.pod and f.container:
            requests[(f.pod, f.container)] = LogRequest(f.pod, f.container, f.previous, FAILURE_TAIL)
    return list(requests.values())


def collect_logs(run: Run, view: ClusterView, now: datetime) -> None:
    s = run.s
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
        owner.last_activity = now
        shown = [] if owner.skip_logs else matching_lines(new, owner.log_regex)
        if not shown:
            continue
        owner.last_log_line = shown[-1]
        run.emit(
            EventType.LOG_LINES,
            now,
            log_lines_line(owner.name, pod_name, container, len(shown)),
            step=owner,
            data={"pod": pod_name, "container": container, "lines": shown},
        )
