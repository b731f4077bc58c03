"""The application's TickScheduler on APScheduler 3: interval jobs, at most one run at a time per key.

`max_instances=1` keeps two ticks of one deploy from overlapping; `coalesce=True` turns a backlog (a
stalled machine, a long GC pause) into one run instead of a burst; a short misfire grace drops a tick that
is late by more than a few intervals — the next one sees the same world. `wake(key)` moves the next run to
now (watch events), debounced so a burst of events costs one tick.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("helmbot.scheduler")


class ApsTickScheduler:
    def __init__(self, *, workers: int = 8, debounce: float = 0.05) -> None:
        self.debounce = debounce
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30},
            timezone=UTC,
        )
        self._last_wake: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking new runs; with `wait`, let running ones finish (a tick persists as it goes)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def every(self, key: str, interval: timedelta, fn: Callable[[], None], *, first_run: bool = True) -> None:
        seconds = max(interval.total_seconds(), 0.05)
        self._scheduler.add_job(
            self._guard(key, fn),
            "interval",
            seconds=seconds,
            id=key,
            replace_existing=True,
            next_run_time=datetime.now(UTC) if first_run else None,
            misfire_grace_time=max(30, int(seconds * 3)),
        )

    def once(self, key: str, fn: Callable[[], None], *, delay: float = 0.0) -> None:
        run_at = datetime.now(UTC) + timedelta(seconds=delay)
        self._scheduler.add_job(self._guard(key, fn), "date", run_date=run_at, id=key, replace_existing=True)

    def wake(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_wake.get(key, 0.0) < self.debounce:
                return
            self._last_wake[key] = now
        with contextlib.suppress(JobLookupError):   # a finished track's last watch event
            self._scheduler.modify_job(
                key, next_run_time=datetime.now(UTC) + timedelta(seconds=self.debounce)
            )

    def cancel(self, key: str) -> None:
        with self._lock:
            self._last_wake.pop(key, None)
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(key)

    def jobs(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]

    @staticmethod
    def _guard(key: str, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except Exception:  # a failing job must not stop its schedule; it is logged with its key
                log.exception("background job %s failed", key)

        return run
