"""The tracker's contract with its callers: construction, views it cannot use, timeouts, persistence."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot.core.events import EventType, Outcome
from bot.core.tracking import ClusterView, ReleaseTracker
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import NS, RELEASE, release, tracker, types, view


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="revision"):
        ReleaseTracker(namespace=NS, release_name=RELEASE, revision=0, started_at=k.T0)
    with pytest.raises(ValueError, match="naive"):
        ReleaseTracker(namespace=NS, release_name=RELEASE, revision=1, started_at=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="namespace"):
        ReleaseTracker(namespace="", release_name=RELEASE, revision=1, started_at=k.T0)
    with pytest.raises(ValueError, match="timeout"):
        ReleaseTracker(namespace=NS, release_name=RELEASE, revision=1, started_at=k.T0, timeout=timedelta(0))
    t = tracker()
    with pytest.raises(ValueError, match="naive"):
        t.observe(view(None), datetime(2025, 1, 1))


def test_waits_for_the_release_record_then_times_out_naming_it() -> None:
    t = tracker(2, timeout=timedelta(minutes=2))
    assert t.observe(view(None), k.at(1)) == []
    # another revision of the release is not ours
    assert t.observe(view(release(1, "deployed")), k.at(5)) == []
    ev = t.observe(view(None), k.at(121))
    assert types(ev) == ["verdict"]
    assert ev[0].data["outcome"] == Outcome.TIMED_OUT.value
    assert "release shop revision 2 to appear" in ev[0].data["reason"]
    assert t.done and t.observe(view(None), k.at(200)) == []


def test_tracking_started_carries_operation_chart_and_plan() -> None:
    t = tracker()
    ev = t.observe(view(release(1, "pending-install")), k.at(0))
    assert ev[0].type is EventType.TRACKING_STARTED
    assert ev[0].data["operation"] == "install" and ev[0].data["chart_version"] == "1.2.0"
    assert ev[0].data["plan"] == [{"name": "resources", "kind": "resources", "steps": []}]
    assert json.loads(json.dumps([e.to_dict() for e in ev])) == [e.to_dict() for e in ev]


def test_empty_release_with_nothing_to_wait_on_succeeds_once_deployed() -> None:
    t = tracker()
    t.observe(view(release(1, "pending-install")), k.at(0))
    ev = t.observe(view(release(1, "deployed")), k.at(2))
    assert types(ev) == ["verdict"]  # a phase without steps is skipped, not announced
    assert ev[-1].data["outcome"] == "succeeded"
    assert [p.state for p in t.summary().phases] == ["skipped"]


def test_state_is_json_and_round_trips_exactly() -> None:
    t = tracker(timeout=timedelta(minutes=10))
    t.observe(view(release(1, "pending-install")), k.at(0))
    state = json.loads(json.dumps(t.to_state()))
    restored = ReleaseTracker.from_state(state)
    assert restored.to_state() == t.to_state()
    assert restored.summary() == t.summary()


def test_from_state_rejects_unknown_versions() -> None:
    with pytest.raises(ValueError, match="version"):
        ReleaseTracker.from_state({"version": 99, "tracker": {}})
    with pytest.raises(ValueError, match="malformed"):
        ReleaseTracker.from_state({"version": 1, "tracker": {"namespace": NS}})


def test_view_defaults() -> None:
    v = ClusterView(release=None, objects={"Pod": []})
    assert v.logs == {} and v.of("Job") == ()
