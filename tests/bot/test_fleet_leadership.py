"""Leadership per cluster (PostgreSQL, leader election on): a Lease in each cluster elects who follows that
cluster's releases; the home cluster's leader also delivers the messages. A stopped cluster loses its leader
and nothing else; once it answers again, it is led again and its releases followed."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sim.cluster import Cluster
from tests.bot.support import ALICE, BotLauncher, parents, release, text_of, wait_for
from tests.bot.test_slack_flows import ALLOWED, FAST
from tests.conftest import Sim
from tests.pg import postgres_server  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.usefixtures("postgres_server")


@pytest.fixture
def prod(tmp_path: Path) -> Iterator[Sim]:
    cluster = Cluster(port=0, pod_grace_seconds=0.5)
    cluster.start()
    try:
        yield Sim(cluster=cluster, kubeconfig=cluster.write_kubeconfig(tmp_path / "prod.kubeconfig"),
                  home=tmp_path / "prod-home")  # fmt: skip
    finally:
        cluster.stop()


def _holder(sim: Sim, namespace: str) -> str | None:
    lease = sim.store.get("coordination.k8s.io/leases", namespace, "helmbot-leader")
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or None


def test_a_stopped_cluster_loses_its_leader_and_nothing_else(
    bots: BotLauncher, sim: Sim, prod: Sim, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue("postgres_server")
    url = server.url(schema=server.fresh_schema("fleet"), password=False)
    namespace = f"fleet-lead-{secrets.token_hex(3)}"
    for cluster in (sim, prod):
        cluster.store.create("/namespaces", {"metadata": {"name": namespace}})
    config = bots.config(
        [
            release(namespace, environment="staging", cluster="staging", allowed_values=ALLOWED),
            release(namespace, environment="prod", cluster="prod", allowed_values=ALLOWED),
        ],
        state={"url": url},
        leader_election={
            "cluster": "staging",
            "namespace": namespace,
            "lease_duration": "4s",
            "renew_deadline": "3s",
            "retry_period": "1s",
        },
    )
    config["clusters"] = {
        "staging": {"kubeconfig": str(sim.kubeconfig)},
        "prod": {"kubeconfig": str(prod.kubeconfig)},
    }
    bot = bots.start(config, env={"HELMBOT_STATE_PASSWORD": server.password, "POD_NAME": "replica-a"})
    wait_for(lambda: _holder(sim, namespace) and _holder(prod, namespace), "a leader of each cluster", bot)
    assert _holder(sim, namespace) == _holder(prod, namespace)

    prod.cluster.stop()
    try:
        wait_for(lambda: "not leading cluster prod any more" in bot.logs(), "prod's leader to step down", bot)
        assert "not leading cluster staging" not in bot.logs()
        status, body = bot.command(ALICE, "/deploy", "shop staging web.replicas=1 " + " ".join(FAST))
        assert status == 200 and "started" in body, body
        wait_for(
            lambda: any("Succeeded" in text_of(p) for p in parents(bots.slack)), "staging's verdict", bot, 90
        )
    finally:
        prod.cluster.start()
    wait_for(lambda: bot.logs().count("leading cluster prod") >= 2, "prod led again", bot, timeout=60)
    status, body = bot.command(ALICE, "/deploy", "shop prod web.replicas=1 " + " ".join(FAST))
    assert status == 200 and "started" in body, body
    wait_for(
        lambda: any("shop (prod)" in text_of(p) and "Succeeded" in text_of(p) for p in parents(bots.slack)),
        "prod's verdict",
        bot,
        90,
    )
