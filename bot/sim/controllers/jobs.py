"""Job controller: pods with retries (backoffLimit), activeDeadlineSeconds, suspend, 1.31+ conditions.

Terminal conditions come in two steps like on Kubernetes >= 1.31: FailureTarget / SuccessCriteriaMet
as soon as the outcome is decided, then Failed / Complete once no pod is running or terminating any more.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import (
    backoff,
    condition_true,
    event,
    get_condition,
    is_active,
    is_terminating,
    later,
    owned,
    parse_ts,
    pod_ready,
    random_suffix,
    set_condition,
    ts,
)
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.controllers.replicasets import new_pod
from bot.sim.store import ApiError, Store

COMPONENT = "job-controller"
BACKOFF = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")
SUCCESS = ("CompletionsReached", "Reached expected number of succeeded pods")


def job_finished(job: dict) -> bool:
    return condition_true(job, "Complete") or condition_true(job, "Failed")


@dataclass
class _Tally:
    """Terminal pods already counted (a real controller uses a finalizer + uncountedTerminatedPods)."""

    succeeded: int = 0
    failed: int = 0
    seen: set[str] = field(default_factory=set)
    next_create: datetime | None = None


class JobController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store, self.clock, self.opt = store, clock, options
        self.rng = random.Random(options.seed)
        self.tallies: dict[str, _Tally] = {}
        self.guard = Guard(COMPONENT, clock, base=options.error_backoff, cap=options.error_backoff_max)

    def tick(self) -> None:
        jobs = self.store.list("batch/jobs")
        live = {j["metadata"]["uid"] for j in jobs}
        for uid in set(self.tallies) - live:
            del self.tallies[uid]
        now = self.clock.now()
        todo = [j for j in jobs if not j["metadata"].get("deletionTimestamp") and not job_finished(j)]
        self.guard.each(todo, lambda job: self.sync(job, now))

    def _tally(self, job: dict, pods: list[dict]) -> _Tally:
        uid = job["metadata"]["uid"]
        if uid not in self.tallies:
            status = job.get("status") or {}
            tally = _Tally(int(status.get("succeeded", 0)), int(status.get("failed", 0)))
            tally.seen = {p["metadata"]["uid"] for p in pods if _pod_phase(p) in ("Succeeded", "Failed")}
            self.tallies[uid] = tally
        return self.tallies[uid]

    def sync(self, job: dict, now: datetime) -> None:
        spec = job.get("spec") or {}
        pods = owned(self.store, "/pods", job)
        tally = self._tally(job, pods)
        for pod in pods:
            phase = _pod_phase(pod)
            if phase in ("Succeeded", "Failed") and pod["metadata"]["uid"] not in tally.seen:
                tally.seen.add(pod["metadata"]["uid"])
                if phase == "Succeeded":
                    tally.succeeded += 1
                else:
                    tally.failed += 1
                    tally.next_create = later(
                        now, backoff(self.opt.job_backoff, self.opt.job_backoff_max, tally.failed)
                    )
        active = [p for p in pods if is_active(p)]
        terminating = [p for p in pods if is_terminating(p) and _pod_phase(p) not in ("Succeeded", "Failed")]
        status = dict(job.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]

        if spec.get("suspend"):
            for pod in active:
                self._delete_pod(job, pod)
            if not condition_true(job, "Suspended"):
                set_condition(
                    status, "Suspended", "True", "JobSuspended", "Job suspended", now, update_time=False
                )
                status["conditions"][-1]["lastProbeTime"] = ts(now)
                event(self.store, job, "Suspended", "Job suspended", component=COMPONENT)
            self._write(job, status, tally, [], terminating + active, 0)
            return
        if condition_true(job, "Suspended"):
            set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now)
            status["startTime"] = ts(now)
            event(self.store, job, "Resumed", "Job resumed", component=COMPONENT)
        status.setdefault("startTime", ts(now))

        restarts = sum(
            c.get("restartCount", 0)
            for p in active
            for c in (p.get("status") or {}).get("containerStatuses") or []
        )
        on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
        failures = tally.failed + (restarts if on_failure else 0)
        completions = int(spec.get("completions") or 1)
        target = get_condition({"status": status}, "FailureTarget")
        success = get_condition({"status": status}, "SuccessCriteriaMet")
        if target is None and success is None:
            started = parse_ts(status.get("startTime"))
            deadline = spec.get("activeDeadlineSeconds")
            why = None
            if failures > int(spec.get("backoffLimit", 6)):
                why = BACKOFF
            elif deadline is not None and started and (now - started).total_seconds() >= float(deadline):
                why = DEADLINE
            elif tally.succeeded >= completions:
                set_condition(status, "SuccessCriteriaMet", "True", *SUCCESS, now)
                success = get_condition({"status": status}, "SuccessCriteriaMet")
            if why:
                set_condition(status, "FailureTarget", "True", *why, now)
                target = get_condition({"status": status}, "FailureTarget")
        if target is not None or success is not None:
            for pod in active:
                self._delete_pod(job, pod)
                terminating.append(pod)
            active = []
            if not terminating:
                if target is not None:
                    set_condition(status, "Failed", "True", target["reason"], target["message"], now)
                    event(
                        self.store,
                        job,
                        target["reason"],
                        target["message"],
                        warning=True,
                        component=COMPONENT,
                    )
                else:
                    set_condition(status, "Complete", "True", *SUCCESS, now)
                    status["completionTime"] = ts(now)
                    event(self.store, job, "Completed", "Job completed", component=COMPONENT)
            self._write(job, status, tally, [], terminating, 0)
            return

        want = min(int(spec.get("parallelism", 1)), completions - tally.succeeded) - len(active)
        if want > 0 and (tally.next_create is None or now >= tally.next_create):
            for _ in range(want):
                created = self._create_pod(job)
                if created is None:
                    break
                active.append(created)
        self._write(job, status, tally, active, terminating, sum(pod_ready(p) for p in active))

    def _create_pod(self, job: dict) -> dict | None:
        meta = job["metadata"]
        name = f"{meta['name']}-{random_suffix(self.rng)}"
        labels = {
            "batch.kubernetes.io/controller-uid": meta["uid"],
            "batch.kubernetes.io/job-name": meta["name"],
            "controller-uid": meta["uid"],
            "job-name": meta["name"],
        }
        pod = new_pod(job, (job.get("spec") or {}).get("template") or {}, name, extra_labels=labels)
        try:
            created = self.store.create("/pods", pod)
        except ApiError as exc:
            event(
                self.store,
                job,
                "FailedCreate",
                f"Error creating: {exc.message}",
                warning=True,
                component=COMPONENT,
            )
            return None
        event(self.store, job, "SuccessfulCreate", f"Created pod: {name}", component=COMPONENT)
        return created

    def _delete_pod(self, job: dict, pod: dict) -> None:
        self.store.delete("/pods", pod["metadata"].get("namespace"), pod["metadata"]["name"])
        event(
            self.store,
            job,
            "SuccessfulDelete",
            f"Deleted pod: {pod['metadata']['name']}",
            component=COMPONENT,
        )

    def _write(
        self, job: dict, status: dict, tally: _Tally, active: list[dict], terminating: list[dict], ready: int
    ) -> None:
        status.pop("active", None)
        status.pop("succeeded", None)
        status.pop("failed", None)
        if active:
            status["active"] = len(active)
        if tally.succeeded:
            status["succeeded"] = tally.succeeded
        if tally.failed:
            status["failed"] = tally.failed
        status["ready"] = ready
        status["terminating"] = len(terminating)
        status["uncountedTerminatedPods"] = {}
        if not status["conditions"]:
            del status["conditions"]

        def write(obj: dict) -> None:
            obj["status"] = status

        meta = job["metadata"]
        self.store.mutate("batch/jobs", meta.get("namespace"), meta["name"], write, subresource="status")


def _pod_phase(pod: dict) -> str:
    return str((pod.get("status") or {}).get("phase", ""))
