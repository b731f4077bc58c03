"""What tracking and delivery need from the store: one transaction per step, revisions attached once,
parents updated while behind, failed messages out of the way."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.store import SqlStore
from tests.store.factories import T0, deploy, message


def test_record_progress_stores_state_events_and_replies_together(store: SqlStore) -> None:
    rec = store.create_deploy(deploy(revision=2), messages=[message("parent:x", kind="post")])
    assert store.get_message("parent:x") is not None        # created with its parent message
    updated = store.record_progress(
        rec.id, status="running", tracker_state={"version": 1}, last_events=[{"type": "phase_started"}],
        messages=[message("reply:a", kind="reply", thread_of="parent:x")], parent_changed=True)
    assert updated.tracker_state == {"version": 1} and updated.parent_version == rec.parent_version + 1
    assert [m.key for m in store.pending_messages()] == ["parent:x", "reply:a"]
    # the same step replayed after a crash queues nothing twice
    store.record_progress(rec.id, status="running", tracker_state={"version": 1},
                          last_events=[{"type": "phase_started"}],
                          messages=[message("reply:a", kind="reply", thread_of="parent:x")])
    assert [m.key for m in store.pending_messages()] == ["parent:x", "reply:a"]
    finished = store.record_progress(rec.id, status="failed", tracker_state=None, last_events=[],
                                     finished_at=T0 + timedelta(minutes=3), parent_changed=False)
    assert finished.status == "failed" and finished.tracker_state == {"version": 1}
    assert finished.parent_version == updated.parent_version + 1
    with pytest.raises(TypeError):
        store.record_progress(rec.id, status="running", tracker_state=None, last_events=[], id="other")


def test_attach_revision_once_and_never_over_another_record(store: SqlStore) -> None:
    mine = store.create_deploy(deploy(revision=None, status="pending", previous_revision=4))
    other = store.create_deploy(deploy(revision=None, status="pending", previous_revision=4,
                                       created_at=T0 + timedelta(seconds=1)))
    assert [r.id for r in store.pending_deploys("staging", "shop", "shop")] == [mine.id, other.id]
    attached = store.attach_revision(mine.id, 5)
    assert attached is not None and attached.revision == 5 and attached.status == "running"
    assert store.attach_revision(mine.id, 6) is None         # it has its revision
    assert store.attach_revision(other.id, 5) is None        # revision 5 belongs to another record
    assert store.pending_deploys("staging", "shop", "shop") == [store.get_deploy(other.id)]
    claimed, created = store.claim_revision(deploy(revision=5, origin="passive"))
    assert not created and claimed.id == mine.id             # a passive notice finds the deploy


def test_parent_ts_and_versions(store: SqlStore) -> None:
    rec = store.create_deploy(deploy(revision=3, channel="#deploys"),
                              messages=[message("parent:p", kind="post", deploy_id="will-fix")])
    rec = store.update_deploy(rec.id)
    msg = store.enqueue(message(f"parent:{rec.id}", kind="post", deploy_id=rec.id, payload={}))
    assert store.dirty_parents() == []                        # not posted yet: nothing to update
    store.record_progress(rec.id, status="running", tracker_state=None, last_events=[])
    store.mark_in_flight(msg.id, T0)
    assert [m.key for m in store.in_flight_messages()] == [msg.key]
    store.mark_sent(msg.id, ts="1700000000.000100", now=T0, channel="C0DEPLOYS", parent_version=1)
    posted = store.get_deploy(rec.id)
    assert posted is not None and posted.parent_ts == "1700000000.000100" and posted.channel == "C0DEPLOYS"
    assert posted.parent_sent_version == 1 and store.dirty_parents() == []
    store.record_progress(rec.id, status="running", tracker_state=None, last_events=[])
    assert [r.id for r in store.dirty_parents()] == [rec.id]
    store.mark_parent_sent(rec.id, 2)
    store.mark_parent_sent(rec.id, 1)                         # an older update never goes back
    assert store.dirty_parents() == []
    assert store.get_deploy(rec.id).parent_sent_version == 2  # type: ignore[union-attr]


def test_failed_messages_leave_the_queue(store: SqlStore) -> None:
    bad = store.enqueue(message("a"))
    store.enqueue(message("b"))
    store.mark_failed(bad.id, error="invalid_blocks")
    assert [m.key for m in store.pending_messages()] == ["b"] and store.outbox_depth() == 1
    failed = store.get_message("a")
    assert failed is not None and failed.status == "failed" and failed.error == "invalid_blocks"


def test_a_verdict_releases_the_lock_in_its_own_transaction(store: SqlStore) -> None:
    rec = store.create_deploy(deploy(revision=7))
    assert store.acquire_lock("staging", "shop", "shop", holder="U1", deploy_id=rec.id,
                              ttl=timedelta(hours=1), now=T0) is not None
    store.record_progress(rec.id, status="running", tracker_state=None, last_events=[])
    assert store.get_lock("staging", "shop", "shop") is not None
    store.record_progress(rec.id, status="succeeded", tracker_state=None, last_events=[], finished_at=T0)
    assert store.get_lock("staging", "shop", "shop") is None


def test_orphan_locks_are_released(store: SqlStore) -> None:
    live = store.create_deploy(deploy(revision=None, release="live"))
    for release, deploy_id in (("ghost", "no-such-record"), ("live", live.id)):
        store.acquire_lock("staging", "shop", release, holder="U1", deploy_id=deploy_id,
                           ttl=timedelta(hours=1), now=T0)
    assert store.release_orphan_locks(older_than=T0) == 0          # too young to judge
    assert store.release_orphan_locks(older_than=T0 + timedelta(minutes=2)) == 1
    assert store.get_lock("staging", "shop", "ghost") is None
    assert store.get_lock("staging", "shop", "live") is not None


def test_prune_drops_old_delivered_replies_but_keeps_parents(store: SqlStore) -> None:
    parent = store.enqueue(message("parent:d1", kind="post"))
    old = store.enqueue(message("reply:d1:a", kind="reply", thread_of="parent:d1"))
    new = store.enqueue(message("reply:d1:b", kind="reply", thread_of="parent:d1"))
    for msg, at in ((parent, T0), (old, T0), (new, T0 + timedelta(days=20))):
        store.mark_sent(msg.id, ts="1.0", now=at)
    assert store.prune(T0 + timedelta(days=21)) == 1
    assert store.get_message("reply:d1:a") is None
    assert store.get_message("parent:d1") is not None and store.get_message("reply:d1:b") is not None
