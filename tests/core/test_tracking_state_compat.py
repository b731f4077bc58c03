"""Stored tracker states stay loadable: a store persists `to_state()` across helmbot versions.

The fixture holds states written by the tracker before the core was split into packages (one per
feature mix: failures with log tails, gated pods, hook records, stale uids, unobserved kinds, each verdict),
with the summary and log requests that tracker derived from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.tracking import ReleaseTracker

FIXTURE = Path(__file__).parent / "fixtures" / "tracker_states_v1.json"
RECORDS: list[dict[str, Any]] = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("record", RECORDS, ids=[r["test"].rsplit("::", 1)[-1] for r in RECORDS])
def test_a_stored_state_loads_and_round_trips_unchanged(record: dict[str, Any]) -> None:
    tracker = ReleaseTracker.from_state(record["state"])
    assert tracker.to_state() == record["state"]
    assert tracker.summary().to_dict() == record["summary"]
    assert [r.to_dict() for r in tracker.log_requests()] == record["log_requests"]
    assert tracker.done == (record["state"]["tracker"]["verdict"] is not None)
