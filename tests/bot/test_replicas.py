"""Two replicas, one PostgreSQL store, one Lease: any replica takes requests, only the leader follows and
posts, and the other takes over when the leader dies, in the same thread."""

from __future__ import annotations

import copy
import signal
from typing import Any

import pytest

from tests.bot.support import ALICE, BotLauncher, BotProcess, free_port, parents, release, text_of, wait_for
from tests.pg import postgres_server  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.usefixtures("postgres_server")


def _holder(sim: Any, namespace: str) -> str | None:
    lease = sim.store.get("coordination.k8s.io/leases", namespace, "helmbot-leader")
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or None


def test_one_leader_posts_and_the_other_takes_over(bots: BotLauncher, namespace: str, sim: Any,
                                                   request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue("postgres_server")
    url = server.url(schema=server.fresh_schema("ha"), password=False)
    config = bots.config([release(namespace)], state={"url": url},
                         leader_election={"namespace": namespace, "lease_duration": "4s",
                                          "renew_deadline": "3s", "retry_period": "1s"})
    env = {"HELMBOT_STATE_PASSWORD": server.password}
    replicas: dict[str, BotProcess] = {}
    for name in ("replica-a", "replica-b"):
        own = copy.deepcopy(config)
        own["slack"]["port"] = free_port()
        replicas[name] = bots.start(own, name=name, env={**env, "POD_NAME": name})
    leader = wait_for(lambda: _holder(sim, namespace), "a leader", replicas["replica-a"])
    follower = next(name for name in replicas if name != leader)
    # a request reaches the follower: it runs helm; the leader follows the release and posts
    status, body = replicas[follower].command(ALICE, "/deploy", "shop migration.durationSeconds=6")
    assert status == 200 and "started" in body, body
    wait_for(lambda: "shop-migrate" in text_of((parents(bots.slack) or [{}])[0]),
             "the migration on the card", replicas[leader])
    replicas[leader].stop(signal.SIGKILL)
    wait_for(lambda: _holder(sim, namespace) == follower, "the follower to take the lease", replicas[follower],
             timeout=30)
    parent = wait_for(lambda: next((p for p in parents(bots.slack) if "Succeeded" in text_of(p)), None),
                      "the verdict from the new leader", replicas[follower], timeout=90)
    assert len(parents(bots.slack)) == 1
    posted_by_follower_before = "following shop" in replicas[follower].logs().split("became the leader")[0]
    assert not posted_by_follower_before, "the follower must not track before it leads"
    assert parent["ts"] == parents(bots.slack)[0]["ts"]
