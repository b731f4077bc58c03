"""Which hook object is this operation's run, and what Helm's hook record says about it.

Hook objects keep their name across runs, so the previous operation's Job (Complete, not yet deleted by
`before-hook-creation`) sits in the cluster until Helm reaches that hook again. Helm (v3 and v4, checked
with helm v4.1.4) runs a phase's hooks one after another and, for each, deletes the old object and waits
for it to go, records `last_run = {started_at: now, phase: Running}` in the release, and only then creates
the new object. Hence an object counts for this operation only when:

- Helm's record says the hook started in this operation and the object was created after that (allowing
  for skew between helm's clock and the API server's); an object when the record says it has not started
  yet is the previous run's. While no hook of the release has any record (before Helm started the first
  one), an object counts only if it was created after both the operation and the tracking started;
- it was created no earlier than the previous hook of its phase (both times from the API server);
- its uid was not already judged stale.

A run's start and end come from the object (Job startTime/completionTime/condition times, a Pod's container
finishedAt) or Helm's record, on the API server's and helm's clocks: the watch may see the end late (a
short Job, an API outage), so observation times are only the last resort.

A revision already superseded when first seen is judged from what Helm wrote: its description ("Install
complete", "Upgrade complete", "Rollback to 3" are the success texts) and its hooks' records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.core.model.values import api_time
from bot.core.releases import HookPhase, Release
from bot.core.tracking.state import HookRecord
from bot.text import one_line

STALE_SKEW = timedelta(seconds=5)  # helm's clock vs the API server's (creationTimestamp has whole seconds)
NO_RECORD_SKEW = timedelta(seconds=1)  # creationTimestamp is truncated to whole seconds
RECORD_SKEW = timedelta(seconds=1)  # both on helm's clock: last_deployed is set just before the hooks run


def hook_key(kind: str, name: str) -> str:
    return f"{kind}/{name}"


def records_of(release: Release) -> dict[str, HookRecord]:
    return {
        hook_key(h.kind, h.name): HookRecord(
            h.last_run.phase.value, h.last_run.started_at, h.last_run.completed_at
        )
        for h in release.hooks
    }


def started_in_operation(record: HookRecord | None, op_start: datetime | None) -> bool:
    """The record is this operation's (a rollback copies the target revision's old records)."""
    if record is None or record.started_at is None:
        return False
    return op_start is None or record.started_at >= op_start - RECORD_SKEW


def record_outcome(record: HookRecord | None, op_start: datetime | None) -> str | None:
    """Succeeded/Failed when Helm recorded that outcome for this operation's run."""
    if record is None or record.phase not in (HookPhase.SUCCEEDED.value, HookPhase.FAILED.value):
        return None
    if record.started_at is not None and not started_in_operation(record, op_start):
        return None
    return record.phase


def keeps_records(records: Mapping[str, HookRecord]) -> bool:
    """This Helm records hook starts (any hook has a start time), so a missing start means "not yet"."""
    return any(r.started_at is not None for r in records.values())


def belongs_to_operation(
    created: datetime | None,
    record: HookRecord | None,
    records: Mapping[str, HookRecord],
    op_start: datetime | None,
    predecessor_created: datetime | None,
    tracking_started: datetime,
) -> bool:
    """Whether a hook object created at `created` is this operation's run (see the module docstring)."""
    if created is None:
        return True  # the API server always sets it; nothing to judge by
    if started_in_operation(record, op_start):
        assert record is not None and record.started_at is not None
        if created < record.started_at - STALE_SKEW:
            return False
    elif keeps_records(records):
        return False  # Helm has not started this hook yet: whatever is there is the previous run's
    elif created < max(op_start or tracking_started, tracking_started) - NO_RECORD_SKEW:
        return False
    return predecessor_created is None or created >= predecessor_created


_SUCCESS_DESCRIPTION = re.compile(r"^(install complete|upgrade complete|rollback to \d+)$", re.IGNORECASE)


def revision_result(release: Release, events: Iterable[str]) -> tuple[bool, str]:
    """(succeeded, why) for a revision Helm is done with: its description, and its hooks of `events` (only
    those ran in it; a rollback carries the target revision's older records of the others)."""
    wanted = set(events)
    for hook in release.hooks:
        if wanted & set(hook.events) and hook.last_run.phase is HookPhase.FAILED:
            return False, f"hook {hook.kind}/{hook.name} failed (Helm's hook record)"
    description = one_line(release.description)
    return bool(_SUCCESS_DESCRIPTION.match(description)), description


def run_finished_at(obj: Mapping[str, Any], succeeded: bool) -> datetime | None:
    """When a Job or Pod run ended, by the object itself (None when it does not say)."""
    status = obj.get("status") or {}
    if obj.get("kind") == "Job":
        if succeeded and api_time(status.get("completionTime")):
            return api_time(status.get("completionTime"))
        # Complete/Failed arrive once the pods terminated; SuccessCriteriaMet/FailureTarget earlier.
        wanted = ("Complete", "SuccessCriteriaMet") if succeeded else ("Failed", "FailureTarget")
        conditions = {
            c.get("type"): api_time(c.get("lastTransitionTime"))
            for c in status.get("conditions") or ()
            if isinstance(c, Mapping) and c.get("status") == "True"
        }
        return next((conditions[t] for t in wanted if conditions.get(t)), None)
    ends = [
        api_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        for key in ("initContainerStatuses", "containerStatuses")
        for cs in status.get(key) or ()
        if isinstance(cs, Mapping)
    ]
    known = [t for t in ends if t is not None]
    return max(known) if known else None
