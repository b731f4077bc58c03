"""The tick scheduler: interval runs, wake-ups that come sooner, no overlapping runs per key, cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.scheduler.ticks import ApsTickScheduler
from tests.polling import poll


@pytest.fixture
def scheduler() -> Iterator[ApsTickScheduler]:
    s = ApsTickScheduler(workers=4, debounce=0.01)
    s.start()
    yield s
    s.shutdown()


def test_wake_runs_a_slow_interval_job_now(scheduler: ApsTickScheduler) -> None:
    runs: list[float] = []
    scheduler.every("t", timedelta(hours=1), lambda: runs.append(time.monotonic()))
    poll(lambda: len(runs) == 1, timeout=5, what="the first run")
    scheduler.wake("t")
    poll(lambda: len(runs) == 2, timeout=5, what="a run right after wake()")


def test_one_run_at_a_time_per_key(scheduler: ApsTickScheduler) -> None:
    active = 0
    most = 0
    done = threading.Event()
    count = 0
    lock = threading.Lock()

    def slow() -> None:
        nonlocal active, most, count
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        with lock:
            active -= 1
            count += 1
            if count >= 5:
                done.set()

    scheduler.every("slow", timedelta(milliseconds=10), slow)
    for _ in range(20):
        scheduler.wake("slow")
        time.sleep(0.005)
    assert done.wait(10)
    assert most == 1


def test_failing_job_keeps_its_schedule_and_cancel_stops_it(scheduler: ApsTickScheduler) -> None:
    calls: list[int] = []

    def boom() -> None:
        calls.append(1)
        raise RuntimeError("bug")

    scheduler.every("boom", timedelta(milliseconds=20), boom)
    poll(lambda: len(calls) >= 3, timeout=5, what="runs after a failure")
    scheduler.cancel("boom")
    assert "boom" not in scheduler.jobs()
    scheduler.wake("boom")  # waking a cancelled key is harmless
