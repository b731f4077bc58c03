"""What keeps replicas and repeated requests from doing a thing twice: last seen revisions, locks,
approvals decided once, once-keys. Time is always a parameter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.store import SqlStore
from tests.store.factories import T0, approval

TTL = timedelta(minutes=10)
RELEASE = ("staging", "shop", "shop")


# --- last seen revision -------------------------------------------------------------------------------


def test_last_seen_revision_never_goes_down(store: SqlStore) -> None:
    assert store.last_seen_revision(*RELEASE) is None
    store.set_last_seen_revision(*RELEASE, 3)
    assert store.last_seen_revision(*RELEASE) == 3
    store.set_last_seen_revision(*RELEASE, 2)
    store.set_last_seen_revision(*RELEASE, 3)
    assert store.last_seen_revision(*RELEASE) == 3
    store.set_last_seen_revision(*RELEASE, 11)   # a number, not text: 11 > 3
    assert store.last_seen_revision(*RELEASE) == 11


def test_last_seen_revision_is_per_release(store: SqlStore) -> None:
    store.set_last_seen_revision(*RELEASE, 5)
    store.set_last_seen_revision("prod", "shop", "shop", 2)
    store.set_last_seen_revision("staging", "shop", "cart", 9)
    assert store.last_seen_revision(*RELEASE) == 5
    assert store.last_seen_revision("prod", "shop", "shop") == 2
    assert store.last_seen_revision("staging", "shop", "cart") == 9
    assert store.last_seen_revision("staging", "other", "shop") is None


# --- locks ---------------------------------------------------------------------------------------------


def test_lock_is_exclusive_and_says_who_holds_it(store: SqlStore) -> None:
    lock = store.acquire_lock(*RELEASE, holder="U0ALICE", deploy_id="d1", ttl=TTL, now=T0)
    assert lock is not None
    assert (lock.holder, lock.deploy_id, lock.since, lock.expires_at) == ("U0ALICE", "d1", T0, T0 + TTL)
    later = T0 + timedelta(minutes=1)
    assert store.acquire_lock(*RELEASE, holder="U0BOB", deploy_id="d2", ttl=TTL, now=later) is None
    assert store.get_lock(*RELEASE) == lock
    assert store.get_lock(*RELEASE, now=later) == lock
    # other releases are not affected
    assert store.acquire_lock("staging", "shop", "cart", holder="U0BOB", deploy_id="d2", ttl=TTL, now=later)
    assert store.get_lock("prod", "shop", "shop") is None


def test_lock_holder_renews_and_keeps_since(store: SqlStore) -> None:
    store.acquire_lock(*RELEASE, holder="U0ALICE", deploy_id="d1", ttl=TTL, now=T0)
    eight_later = T0 + timedelta(minutes=8)
    renewed = store.acquire_lock(*RELEASE, holder="U0ALICE", deploy_id="d1", ttl=TTL, now=eight_later)
    assert renewed is not None
    assert renewed.since == T0 and renewed.expires_at == T0 + timedelta(minutes=18)
    # still exclusive after the original expiry time
    assert store.acquire_lock(*RELEASE, holder="U0BOB", deploy_id="d2", ttl=TTL, now=T0 + TTL) is None


def test_expired_lock_can_be_taken_over(store: SqlStore) -> None:
    store.acquire_lock(*RELEASE, holder="replica-1", deploy_id="d1", ttl=TTL, now=T0)
    at_expiry = T0 + TTL
    assert store.get_lock(*RELEASE, now=at_expiry) is None
    assert store.get_lock(*RELEASE) is not None   # without `now`: the row, expired or not
    taken = store.acquire_lock(*RELEASE, holder="replica-2", deploy_id="d2", ttl=TTL, now=at_expiry)
    assert taken is not None
    assert (taken.holder, taken.deploy_id, taken.since) == ("replica-2", "d2", at_expiry)
    # the old holder can neither renew nor release it any more
    assert store.acquire_lock(*RELEASE, holder="replica-1", deploy_id="d1", ttl=TTL, now=at_expiry) is None
    store.release_lock(*RELEASE, deploy_id="d1")
    assert store.get_lock(*RELEASE) == taken


def test_release_lock_frees_it_for_the_next(store: SqlStore) -> None:
    store.acquire_lock(*RELEASE, holder="U0ALICE", deploy_id="d1", ttl=TTL, now=T0)
    store.release_lock(*RELEASE, deploy_id="d1")
    assert store.get_lock(*RELEASE) is None
    store.release_lock(*RELEASE, deploy_id="d1")   # releasing twice is harmless
    assert store.acquire_lock(*RELEASE, holder="U0BOB", deploy_id="d2", ttl=TTL, now=T0) is not None


# --- approvals -----------------------------------------------------------------------------------------


def test_approval_round_trips(store: SqlStore) -> None:
    created = store.create_approval(approval())
    assert len(created.id) == 32 and created.status == "pending"
    assert store.get_approval(created.id) == created
    assert created.request == {"operation": "upgrade", "values": {"image.tag": "1.2.3"}}
    assert created.approvers == ["U0BOSS", "S0LEADS"]
    assert store.get_approval("missing") is None


@pytest.mark.parametrize("decision", ["approved", "rejected"])
def test_approval_is_decided_once(store: SqlStore, decision: str) -> None:
    a = store.create_approval(approval())
    at = T0 + timedelta(minutes=3)
    decided = store.decide_approval(a.id, status=decision, decided_by="U0BOSS", now=at)
    assert decided is not None
    assert (decided.status, decided.decided_by, decided.decided_at) == (decision, "U0BOSS", at)
    other = "rejected" if decision == "approved" else "approved"
    assert store.decide_approval(a.id, status=other, decided_by="U0OTHER", now=at) is None
    assert store.decide_approval(a.id, status=decision, decided_by="U0BOSS", now=at) is None
    assert store.get_approval(a.id) == decided


def test_expired_approval_cannot_be_approved(store: SqlStore) -> None:
    a = store.create_approval(approval())
    assert store.decide_approval(a.id, status="approved", decided_by="U0BOSS", now=a.expires_at) is None
    assert store.get_approval(a.id) == a


def test_decide_refuses_unknown_ids_and_bad_decisions(store: SqlStore) -> None:
    a = store.create_approval(approval())
    assert store.decide_approval("missing", status="approved", decided_by="U0BOSS", now=T0) is None
    for bad in ("pending", "expired", "yes"):
        with pytest.raises(ValueError, match="approved"):
            store.decide_approval(a.id, status=bad, decided_by="U0BOSS", now=T0)


def test_expire_approvals_marks_only_pending_ones_past_expiry(store: SqlStore) -> None:
    short = store.create_approval(approval(expires_at=T0 + timedelta(minutes=5)))
    long = store.create_approval(approval(expires_at=T0 + timedelta(hours=1)))
    decided = store.create_approval(approval(expires_at=T0 + timedelta(minutes=5)))
    store.decide_approval(decided.id, status="rejected", decided_by="U0BOSS", now=T0)
    at = T0 + timedelta(minutes=5)
    expired = store.expire_approvals(at)
    assert [(e.id, e.status, e.decided_at) for e in expired] == [(short.id, "expired", at)]
    assert store.expire_approvals(at) == []
    assert store.get_approval(long.id) == long
    rejected = store.get_approval(decided.id)
    assert rejected is not None and rejected.status == "rejected"


# --- once keys -----------------------------------------------------------------------------------------


def test_remember_once_is_true_once_within_ttl(store: SqlStore) -> None:
    ttl = timedelta(minutes=5)
    assert store.remember_once("trigger:123.456", now=T0, ttl=ttl) is True
    assert store.remember_once("trigger:123.456", now=T0 + timedelta(minutes=4), ttl=ttl) is False
    assert store.remember_once("trigger:999", now=T0, ttl=ttl) is True
    # after the ttl the key counts as new again, and then as seen for another ttl
    assert store.remember_once("trigger:123.456", now=T0 + ttl, ttl=ttl) is True
    assert store.remember_once("trigger:123.456", now=T0 + ttl + timedelta(minutes=1), ttl=ttl) is False


def test_prune_forgets_only_expired_keys(store: SqlStore) -> None:
    store.remember_once("old", now=T0, ttl=timedelta(minutes=1))
    store.remember_once("new", now=T0, ttl=timedelta(hours=1))
    assert store.prune(T0 + timedelta(minutes=1)) == 1
    assert store.prune(T0 + timedelta(minutes=1)) == 0
    assert store.remember_once("new", now=T0 + timedelta(minutes=2), ttl=timedelta(hours=1)) is False
