"""Sim timings: real clusters back off for much longer; ours are short so tests stay fast."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimOptions:
    nodes: tuple[str, ...] = ("sim-node-1",)  # DaemonSets get one pod per node; pods are spread over them
    mount_seconds: float = 0.3  # scheduling -> volumes set up (the pod shows ContainerCreating meanwhile)
    pull_seconds: float = 0.2  # image pull time (real: seconds to minutes)
    start_seconds: float = 0.1  # container create+start
    ready_seconds: float = 0.2  # default delay from start to Ready
    job_run_seconds: float = 0.5  # default run time of script-less Job/init containers
    crash_backoff: float = 1.0  # CrashLoopBackOff: 1 s doubling to 10 s (real: 10 s to 5 min)
    crash_backoff_max: float = 10.0
    pull_backoff: float = 1.0  # ImagePullBackOff: 1 s doubling to 10 s (real: 10 s to 5 min)
    pull_backoff_max: float = 10.0
    mount_retry: float = 1.0  # FailedMount retries: 1 s doubling to 8 s (real: 0.5 s to ~2 min)
    mount_retry_max: float = 8.0
    config_retry: float = 1.0  # CreateContainerConfigError re-check period
    probe_period: float = 1.0  # Unhealthy (readiness) event period (real: periodSeconds)
    job_backoff: float = 0.5  # Job pod re-creation after a failure: 0.5 s doubling to 5 s
    job_backoff_max: float = 5.0  # (real: 10 s doubling to 6 min)
    stop_seconds: float = 0.3  # time a deleted pod stays Terminating after Killing
    error_backoff: float = 0.5  # an object whose sync raises is retried after 0.5 s doubling to 10 s
    error_backoff_max: float = 10.0  # (or at once when it changes), like a requeue with rate limit
    seed: int | None = None  # name suffixes (pods) are random unless seeded
