"""TTL-after-finished controller: deletes finished Jobs (and via GC their pods) after the TTL."""

from __future__ import annotations

from datetime import datetime

from bot.sim.controllers.clock import Clock
from bot.sim.controllers.common import condition_true, get_condition, parse_ts
from bot.sim.controllers.guard import Guard
from bot.sim.controllers.options import SimOptions
from bot.sim.store import Store


class TTLController:
    def __init__(self, store: Store, clock: Clock, options: SimOptions) -> None:
        self.store, self.clock = store, clock
        self.guard = Guard(
            "ttl-after-finished-controller", clock, base=options.error_backoff, cap=options.error_backoff_max
        )

    def tick(self) -> None:
        now = self.clock.now()
        self.guard.each(self.store.list("batch/jobs"), lambda job: self.sync(job, now))

    def sync(self, job: dict, now: datetime) -> None:
        meta, spec = job["metadata"], job.get("spec") or {}
        ttl = spec.get("ttlSecondsAfterFinished")
        if ttl is None or meta.get("deletionTimestamp"):
            return
        finished = None
        for ctype in ("Complete", "Failed"):
            if condition_true(job, ctype):
                finished = parse_ts((get_condition(job, ctype) or {}).get("lastTransitionTime"))
        if finished is not None and (now - finished).total_seconds() >= float(ttl):
            self.store.delete("batch/jobs", meta.get("namespace"), meta["name"], propagation="Foreground")
