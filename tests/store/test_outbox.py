"""The Slack outbox (idempotent on key, ordered by creation, per channel) and the audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.store import OutboxMessage, RecordNotFound, SqlStore, StoreError
from tests.store.factories import T0, audit_entry, message


def keys(messages: list[OutboxMessage]) -> list[str]:
    return [m.key for m in messages]


def test_enqueue_assigns_an_id_and_reads_back_equal(store: SqlStore) -> None:
    msg = store.enqueue(message("parent:d1", deploy_id="d1", payload={"blocks": [{"type": "section"}]}))
    assert len(msg.id) == 32 and msg.status == "pending" and msg.attempts == 0
    assert store.get_message("parent:d1") == msg
    assert store.pending_messages() == [msg]
    assert store.get_message("parent:nope") is None


def test_enqueue_twice_with_one_key_keeps_one_message(store: SqlStore) -> None:
    reply = {"kind": "reply", "thread_of": "parent:d1"}
    first = store.enqueue(message("reply:d1:1", **reply, payload={"text": "first"}))
    again = store.enqueue(message("reply:d1:1", **reply, payload={"text": "second"}))
    assert again == first and again.payload == {"text": "first"}
    assert store.outbox_depth() == 1 and keys(store.pending_messages()) == ["reply:d1:1"]


def test_enqueue_after_sent_does_not_send_again(store: SqlStore) -> None:
    msg = store.enqueue(message("parent:d1"))
    store.mark_sent(msg.id, ts="1712345678.000100", now=T0)
    again = store.enqueue(message("parent:d1"))
    assert again.status == "sent" and again.ts == "1712345678.000100"
    assert store.outbox_depth() == 0


def test_pending_messages_in_creation_order_and_per_channel(store: SqlStore) -> None:
    # the same created_at everywhere: order is the order of enqueueing, not of ids or times
    for key, channel in [("a1", "CA"), ("b1", "CB"), ("a2", "CA"), ("b2", "CB"), ("a3", "CA")]:
        store.enqueue(message(key, channel=channel))
    assert keys(store.pending_messages()) == ["a1", "b1", "a2", "b2", "a3"]
    assert keys(store.pending_messages("CA")) == ["a1", "a2", "a3"]
    assert keys(store.pending_messages("CB")) == ["b1", "b2"]
    assert keys(store.pending_messages(limit=2)) == ["a1", "b1"]
    assert store.pending_messages("CZ") == []


def test_delivery_life_cycle(store: SqlStore) -> None:
    msg = store.enqueue(message("parent:d1"))
    store.enqueue(message("reply:d1:1", kind="reply", thread_of="parent:d1"))
    store.mark_in_flight(msg.id, T0)
    (in_flight, _) = store.pending_messages()
    assert (in_flight.status, in_flight.attempts, in_flight.attempted_at) == ("in_flight", 1, T0)
    assert store.outbox_depth() == 2   # in flight is not delivered yet: after a kill -9 it is looked up again

    retry_at = T0 + timedelta(seconds=30)
    store.mark_retry(msg.id, not_before=retry_at, error="ratelimited\n(429, Retry-After 30)")
    retried = store.get_message("parent:d1")
    assert retried is not None
    assert (retried.status, retried.not_before) == ("pending", retry_at)
    assert retried.error == "ratelimited (429, Retry-After 30)"   # one line
    assert keys(store.pending_messages()) == ["parent:d1", "reply:d1:1"]   # still first in its channel

    store.mark_in_flight(msg.id, retry_at)
    store.mark_sent(msg.id, ts="1712345678.000100", now=retry_at + timedelta(seconds=1))
    sent = store.get_message("parent:d1")
    assert sent is not None
    assert (sent.status, sent.ts, sent.attempts, sent.error) == ("sent", "1712345678.000100", 2, None)
    assert sent.sent_at == retry_at + timedelta(seconds=1)
    assert keys(store.pending_messages()) == ["reply:d1:1"] and store.outbox_depth() == 1


def test_a_sent_message_stays_sent(store: SqlStore) -> None:
    msg = store.enqueue(message("parent:d1"))
    store.mark_sent(msg.id, ts="1.000100", now=T0)
    store.mark_retry(msg.id, not_before=T0, error="late failure report")
    store.mark_in_flight(msg.id, T0)
    final = store.get_message("parent:d1")
    assert final is not None and (final.status, final.ts, final.error) == ("sent", "1.000100", None)


@pytest.mark.parametrize("mark", ["in_flight", "sent", "retry"])
def test_marking_an_unknown_message_is_an_error(store: SqlStore, mark: str) -> None:
    with pytest.raises(RecordNotFound, match="no-such"):
        if mark == "in_flight":
            store.mark_in_flight("no-such", T0)
        elif mark == "sent":
            store.mark_sent("no-such", ts="1.0", now=T0)
        else:
            store.mark_retry("no-such", not_before=T0, error="x")


def test_outbox_payload_round_trips(store: SqlStore) -> None:
    payload = {
        "text": "shop rev 4 ✓",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*shop*"}}],
        "metadata": {"event_type": "helmbot", "event_payload": {"key": "parent:d1"}},
        "reply_broadcast": True,
    }
    msg = store.enqueue(message("parent:d1", payload=payload))
    read = store.get_message(msg.key)
    assert read is not None and read.payload == payload


# --- audit ---------------------------------------------------------------------------------------------


def test_audit_entries_newest_first(store: SqlStore) -> None:
    for n in range(5):
        store.audit(audit_entry(f"action-{n}", at=T0 + timedelta(seconds=n)))
    entries = store.audit_entries()
    assert [e.action for e in entries] == [f"action-{n}" for n in reversed(range(5))]
    assert [e.action for e in store.audit_entries(limit=2)] == ["action-4", "action-3"]
    assert entries[0] == audit_entry("action-4", at=T0 + timedelta(seconds=4))


def test_audit_keeps_entries_written_with_equal_times_in_order(store: SqlStore) -> None:
    for n in range(3):
        store.audit(audit_entry(f"same-time-{n}", detail={"n": n, "values": None}))
    assert [e.detail["n"] for e in store.audit_entries()] == [2, 1, 0]


# --- health --------------------------------------------------------------------------------------------


def test_ping_and_schema_version(store: SqlStore) -> None:
    store.ping()
    assert store.schema_version() >= 1


def test_a_closed_store_says_so(store: SqlStore) -> None:
    store.close()
    store.close()   # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.ping()
