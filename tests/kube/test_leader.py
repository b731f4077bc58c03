"""Leader election over a real Lease on the stand-in: one leader, hand-over on stop, take-over on expiry."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.kube.client import KubeClient
from bot.kube.leader import ElectionSettings, LeaderElector
from tests.polling import poll


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _elector(client: KubeClient, namespace: str, identity: str, mono: FakeMonotonic) -> LeaderElector:
    settings = ElectionSettings(namespace=namespace, lease_name="helmbot-leader", lease_duration=15,
                                renew_deadline=10, retry_period=2)
    return LeaderElector(client, settings, identity=identity, monotonic=mono,
                         clock=lambda: datetime.now(UTC))


def test_one_leader_and_take_over_after_expiry(client: KubeClient, namespace: str) -> None:
    mono = FakeMonotonic()
    a = _elector(client, namespace, "replica-a", mono)
    b = _elector(client, namespace, "replica-b", mono)
    assert a.try_acquire_or_renew() is True          # creates the Lease
    assert b.try_acquire_or_renew() is False         # held and fresh
    assert a.try_acquire_or_renew() is True          # renews
    mono.now += 10
    assert b.try_acquire_or_renew() is False         # renewed 10 s ago by b's own clock: not expired
    mono.now += 16                                   # a stopped renewing: expired for b
    assert b.try_acquire_or_renew() is True
    lease = client.get("Lease", namespace, "helmbot-leader")
    assert lease["spec"]["holderIdentity"] == "replica-b"
    assert lease["spec"]["leaseTransitions"] == 1
    assert a.try_acquire_or_renew() is False         # the old leader sees the new holder


def test_stale_write_loses_on_resource_version(client: KubeClient, namespace: str) -> None:
    mono = FakeMonotonic()
    a = _elector(client, namespace, "replica-a", mono)
    assert a.try_acquire_or_renew()
    stale = client.get("Lease", namespace, "helmbot-leader")
    assert a.try_acquire_or_renew()                  # bumps the resourceVersion
    stale["spec"]["holderIdentity"] = "intruder"
    from bot.kube.errors import Conflict

    try:
        client.replace("Lease", namespace, stale)
    except Conflict:
        pass
    else:
        raise AssertionError("a write with an old resourceVersion must conflict")


def test_running_electors_hand_over_on_stop(client: KubeClient, namespace: str) -> None:
    settings = ElectionSettings(namespace=namespace, lease_duration=3, renew_deadline=2, retry_period=0.2)
    events: list[str] = []
    a = LeaderElector(client, settings, identity="a", on_started=lambda: events.append("a+"),
                      on_stopped=lambda: events.append("a-"))
    b = LeaderElector(client, settings, identity="b", on_started=lambda: events.append("b+"))
    a.start()
    poll(lambda: a.is_leader, timeout=10, what="a leads")
    b.start()
    try:
        a.stop()                                      # releases the lease: b takes over well before 3 s
        poll(lambda: b.is_leader, timeout=5, what="b takes over")
        assert events == ["a+", "a-", "b+"]
    finally:
        b.stop()
