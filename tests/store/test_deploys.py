"""Deploy records: create, claim a revision exactly once, update, query; JSON and times round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.events import EventType, TrackEvent
from bot.store import RecordExists, RecordNotFound, SqlStore
from bot.store.records import LAST_EVENTS_LIMIT
from tests.store.factories import T0, deploy


def test_create_assigns_an_id_and_reads_back_equal(store: SqlStore) -> None:
    created = store.create_deploy(deploy())
    assert len(created.id) == 32
    assert store.get_deploy(created.id) == created
    assert created.status == "pending" and created.revision is None and created.last_events == []
    assert store.get_deploy("no-such-id") is None


def test_create_keeps_a_given_id_and_refuses_a_duplicate(store: SqlStore) -> None:
    store.create_deploy(deploy(id="d1"))
    with pytest.raises(RecordExists, match="d1"):
        store.create_deploy(deploy(id="d1", release="other"))


def test_create_refuses_a_second_record_for_one_revision(store: SqlStore) -> None:
    store.create_deploy(deploy(revision=3))
    with pytest.raises(RecordExists, match="revision 3"):
        store.create_deploy(deploy(revision=3))
    # records whose revision is not known yet do not collide
    store.create_deploy(deploy())
    store.create_deploy(deploy())


def test_claim_revision_creates_once_and_then_returns_the_first_record(store: SqlStore) -> None:
    first, created = store.claim_revision(deploy(revision=7, origin="passive", requested_by="helm CLI"))
    again, created_again = store.claim_revision(deploy(revision=7, origin="catchup", requested_by="other"))
    assert created is True and created_again is False
    assert again == first and again.origin == "passive" and again.requested_by == "helm CLI"
    assert store.find_deploy("staging", "shop", "shop", 7) == first
    # another release, cluster or revision is another record
    assert store.claim_revision(deploy(revision=8))[1]
    assert store.claim_revision(deploy(revision=7, cluster="prod"))[1]
    assert store.claim_revision(deploy(revision=7, release="cart"))[1]


def test_claim_revision_needs_the_revision(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="revision"):
        store.claim_revision(deploy())


def test_find_deploy_unknown_is_none(store: SqlStore) -> None:
    store.create_deploy(deploy(revision=1))
    assert store.find_deploy("staging", "shop", "shop", 2) is None
    assert store.find_deploy("prod", "shop", "shop", 1) is None


def test_update_sets_fields_and_updated_at(store: SqlStore) -> None:
    rec = store.create_deploy(deploy())
    at = T0 + timedelta(minutes=5)
    updated = store.update_deploy(
        rec.id, status="running", revision=4, parent_ts="1712345678.000100", updated_at=at
    )
    assert (updated.status, updated.revision, updated.parent_ts, updated.updated_at) == (
        "running", 4, "1712345678.000100", at)
    assert store.get_deploy(rec.id) == updated
    assert store.find_deploy("staging", "shop", "shop", 4) == updated
    # without an explicit updated_at the store stamps the wall clock
    before = datetime.now(UTC)
    stamped = store.update_deploy(rec.id, status="succeeded", finished_at=T0 + timedelta(minutes=9))
    assert stamped.updated_at is not None and stamped.updated_at >= before - timedelta(seconds=1)
    assert stamped.parent_ts == "1712345678.000100"  # untouched fields stay


def test_update_refuses_bad_fields_values_and_ids(store: SqlStore) -> None:
    rec = store.create_deploy(deploy())
    with pytest.raises(TypeError, match="id"):
        store.update_deploy(rec.id, id="other")
    with pytest.raises(TypeError, match="verdict"):
        store.update_deploy(rec.id, verdict="ok")
    with pytest.raises(ValueError, match="status"):
        store.update_deploy(rec.id, status="done")
    with pytest.raises(ValueError, match="naive"):
        store.update_deploy(rec.id, finished_at=datetime(2026, 1, 1))
    with pytest.raises(RecordNotFound):
        store.update_deploy("missing", status="running")
    assert store.get_deploy(rec.id) == rec


def test_update_to_a_revision_another_record_has_is_refused(store: SqlStore) -> None:
    store.claim_revision(deploy(revision=5, origin="passive"))
    rec = store.create_deploy(deploy())
    with pytest.raises(RecordExists, match="revision 5"):
        store.update_deploy(rec.id, revision=5)
    assert store.get_deploy(rec.id) == rec


def test_tracker_state_and_events_round_trip_exactly(store: SqlStore) -> None:
    state = {
        "version": 1,
        "phases": [{"name": "pre-upgrade", "started": "2026-03-01T12:00:00+00:00", "jobs": ["migrate"]}],
        "counters": {"restarts": 0, "big": 2**53 + 1, "ratio": 0.1, "negative": -3.5},
        "flags": [True, False, None],
        "text": "ünïcode ✓ and a NUL \x00 in a log line",
        "empty": {}, "nested": {"a": {"b": {"c": []}}},
    }
    event = TrackEvent(
        type=EventType.FAILURE, at=T0, release="shop", namespace="shop", revision=4,
        message="CrashLoopBackOff: container web restarted 3 times", subject="Pod/web-1",
        data={"exit_code": 1, "reasons": ("CrashLoopBackOff",)},
    )
    rec = store.create_deploy(deploy(tracker_state=state, last_events=[event.to_dict()]))
    read = store.get_deploy(rec.id)
    assert read is not None
    assert read.tracker_state == state
    assert TrackEvent.from_dict(read.last_events[0]) == event
    assert store.update_deploy(rec.id, tracker_state=None).tracker_state is None


def test_last_events_are_bounded_to_the_newest(store: SqlStore) -> None:
    events = [{"n": n} for n in range(LAST_EVENTS_LIMIT + 20)]
    rec = store.create_deploy(deploy())
    updated = store.update_deploy(rec.id, last_events=events)
    assert updated.last_events == events[-LAST_EVENTS_LIMIT:]


def test_times_are_aware_utc_whatever_zone_went_in(store: SqlStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    rec = store.create_deploy(deploy(created_at=datetime(2026, 3, 1, 14, 0, 0, 1, tzinfo=plus_two)))
    read = store.get_deploy(rec.id)
    assert read is not None
    assert read.created_at == datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC)
    assert read.created_at.tzinfo == UTC


def test_active_deploys_by_status_and_cluster_oldest_first(store: SqlStore) -> None:
    running = store.create_deploy(deploy(status="running", created_at=T0 + timedelta(seconds=2)))
    pending = store.create_deploy(deploy(status="pending", created_at=T0 + timedelta(seconds=1)))
    prod = store.create_deploy(deploy(cluster="prod", status="running", created_at=T0))
    for status in ("succeeded", "failed", "timed_out", "cancelled"):
        store.create_deploy(deploy(status=status))
    assert [d.id for d in store.active_deploys()] == [prod.id, pending.id, running.id]
    assert [d.id for d in store.active_deploys("staging")] == [pending.id, running.id]
    assert store.active_deploys("nowhere") == []


def test_recent_deploys_newest_first_for_one_release(store: SqlStore) -> None:
    ids = [store.create_deploy(deploy(created_at=T0 + timedelta(minutes=n))).id for n in range(5)]
    store.create_deploy(deploy(release="cart"))
    store.create_deploy(deploy(namespace="other"))
    assert [d.id for d in store.recent_deploys("staging", "shop", "shop")] == ids[::-1]
    assert [d.id for d in store.recent_deploys("staging", "shop", "shop", limit=2)] == ids[:-3:-1]
    assert store.recent_deploys("prod", "shop", "shop") == []
