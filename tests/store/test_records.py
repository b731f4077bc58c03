"""The records themselves: normalised on construction, JSON-safe, round-trip through to_dict/from_dict."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from bot.core.events import EventType
from bot.store import Approval, AuditEntry, DeployRecord, Lock, OutboxMessage
from tests.store.factories import T0, approval, audit_entry, deploy, message


@pytest.mark.parametrize(
    "record",
    [
        deploy(revision=3, tracker_state={"phases": ("a", "b"), "kind": EventType.FAILURE}, last_events=[{}]),
        approval(decided_at=T0, status="approved", decided_by="U0BOSS"),
        audit_entry("deploy", detail={"values_keys": ("image.tag",)}),
        message("parent:d1", not_before=T0, attempted_at=T0),
        Lock(cluster="c", namespace="n", release="r", holder="U1", deploy_id="d1", since=T0, expires_at=T0),
    ],
    ids=lambda r: type(r).__name__,
)
def test_records_round_trip_through_plain_json(
    record: DeployRecord | Approval | AuditEntry | OutboxMessage | Lock,
) -> None:
    text = json.dumps(record.to_dict())
    assert type(record).from_dict(json.loads(text)) == record


def test_values_are_normalised_to_plain_json_and_utc() -> None:
    rec = deploy(
        created_at=datetime(2026, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
        tracker_state={"steps": ("hook", "rollout"), "kind": EventType.VERDICT},
    )
    assert rec.created_at == T0.replace(microsecond=0) and rec.created_at.utcoffset() == timedelta(0)
    assert rec.tracker_state == {"steps": ["hook", "rollout"], "kind": "verdict"}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: deploy(created_at=datetime(2026, 3, 1)), "naive"),
        (lambda: deploy(created_at="2026-03-01T12:00:00Z"), "must be a datetime"),
        (lambda: deploy(status="done"), "DeployRecord.status must be one of"),
        (lambda: deploy(origin="cron"), "DeployRecord.origin"),
        (lambda: deploy(revision=-1), "revision must be a non-negative integer"),
        (lambda: deploy(revision="3"), "revision must be a non-negative integer"),
        (lambda: deploy(tracker_state={"x": object()}), "not JSON-safe"),
        (lambda: deploy(tracker_state={"x": float("nan")}), "non-finite"),
        (lambda: approval(status="maybe"), "Approval.status"),
        (lambda: message("k", kind="shout"), "OutboxMessage.kind"),
        (lambda: message("k", status="lost"), "OutboxMessage.status"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(make: object, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make()  # type: ignore[operator]


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        deploy().status = "running"  # type: ignore[misc]


def test_nul_in_text_becomes_a_visible_replacement() -> None:
    assert deploy(description="bad\x00byte").description == "bad\ufffdbyte"


def test_lock_and_approval_expiry_is_a_time_rule() -> None:
    lock = Lock(cluster="c", namespace="n", release="r", holder="U1", deploy_id="d1", since=T0,
                expires_at=T0 + timedelta(minutes=1))
    assert not lock.expired(T0) and lock.expired(T0 + timedelta(minutes=1))
    a = approval()
    assert not a.expired(a.expires_at - timedelta(microseconds=1)) and a.expired(a.expires_at)
