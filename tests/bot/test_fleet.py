"""A fleet from one bot, end to end: `helmbot run` against two Kubernetes stand-ins at once (clusters
"staging" and "prod"), the Slack stand-in and the real helm.

One bot process for the module. The release `shop` exists in four environments: staging and gitops on the
staging cluster, prod and frozen on the prod cluster; each has its own namespace and channel. The last test
stops the prod stand-in and starts it again.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.sim.cluster import Cluster
from bot.sim.slack import SlackStandIn
from tests.bot.support import (
    ALICE,
    BOB,
    CAROL,
    MALLORY,
    BotLauncher,
    buttons,
    history,
    release,
    text_of,
    wait_for,
)
from tests.bot.support import workspace as make_workspace
from tests.bot.test_slack_flows import ALLOWED, FAST, Flows
from tests.conftest import Sim
from tests.e2e.support import SHOP

CLUSTER_OF = {"staging": "staging", "gitops": "staging", "prod": "prod", "frozen": "prod"}


@dataclass
class FleetFlows(Flows):
    clusters: dict[str, Sim] | None = None
    prod_cluster: Cluster | None = None

    def sim_of(self, environment: str) -> Sim:
        assert self.clusters is not None
        return self.clusters[CLUSTER_OF[environment]]

    def history(self, environment: str) -> list[dict[str, Any]]:
        return history(self.sim_of(environment), self.namespaces[environment])

    def installed(self, environment: str) -> bool:
        sim = self.sim_of(environment)
        return sim.helm("status", "shop", "-n", self.namespaces[environment], check=False).returncode == 0

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.bot.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def values(self, environment: str, revision: int) -> dict[str, Any]:
        out = self.sim_of(environment).helm(
            "get",
            "values",
            "shop",
            "-n",
            self.namespaces[environment],
            "--revision",
            str(revision),
            "-o",
            "json",
        )
        return dict(json.loads(out.stdout))

    def notices(self, environment: str, words: str) -> list[dict[str, Any]]:
        return [m for m in self.parents(environment) if words in text_of(m)]


@pytest.fixture(scope="module")
def fleet(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetFlows]:
    tmp = tmp_path_factory.mktemp("fleet")
    prod_cluster = Cluster(port=0, pod_grace_seconds=0.5)
    prod_cluster.start()
    prod = Sim(
        cluster=prod_cluster,
        kubeconfig=prod_cluster.write_kubeconfig(tmp / "prod.kubeconfig"),
        home=tmp / "prod-home",
    )
    clusters = {"staging": sim, "prod": prod}
    try:
        # Two clusters: the launcher's RBAC check (one cluster, the chart's ServiceAccount) is not made here;
        # the bot reaches each stand-in with its own kubeconfig (set below).
        with SlackStandIn() as slack, sim.cluster.requests.recording(user="unchecked") as requests:
            make_workspace(slack)
            namespaces: dict[str, str] = {}
            for environment, cluster in CLUSTER_OF.items():
                name = f"fleet-{environment}-{secrets.token_hex(3)}"
                clusters[cluster].store.create("/namespaces", {"metadata": {"name": name}})
                namespaces[environment] = name
                slack.add_channel(
                    f"C0{environment.upper()}", environment, members=(ALICE, BOB, CAROL, MALLORY)
                )
            # a release Flux reconciles: installed by "Flux" before the bot starts, its objects carrying the
            # labels helm-controller's post-renderer puts on everything it renders
            sim.helm("install", "shop", SHOP, "-n", namespaces["gitops"], "--set", "web.replicas=1",
                     *[a for v in FAST for a in ("--set", v)], "--wait", "--timeout", "60s")  # fmt: skip
            flux = ("helm.toolkit.fluxcd.io/name=shop", "helm.toolkit.fluxcd.io/namespace=flux-system")
            sim.kubectl("label", "deployment", "--all", "-n", namespaces["gitops"], *flux)
            launcher = BotLauncher(tmp, sim, slack, requests)
            releases = [
                release(
                    namespaces[env],
                    environment=env,
                    cluster=cluster,
                    channel=f"C0{env.upper()}",
                    allowed_values=ALLOWED,
                    approvers=[CAROL],
                )
                for env, cluster in CLUSTER_OF.items()
            ]
            now = datetime.now(UTC)
            config = launcher.config(
                releases,
                freezes=[
                    {
                        "environments": ["frozen"],
                        "from": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "to": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "reason": "release weekend",
                    }
                ],
            )
            config["clusters"] = {  # instead of the launcher's one "default" cluster
                "staging": {"kubeconfig": str(sim.kubeconfig)},
                "prod": {"kubeconfig": str(prod.kubeconfig)},
            }
            bot = launcher.start(config)
            flows = FleetFlows(bot, slack, namespaces, config["state"]["url"], clusters, prod_cluster)
            looked = "a first look at every namespace"
            wait_for(lambda: bot.logs().count("looked at the releases") >= 4, looked, bot)
            try:
                yield flows
            finally:
                launcher.close()
    finally:
        prod_cluster.stop()


def deploy_and_wait(fleet: FleetFlows, environment: str, *values: str, index: int = 0) -> dict[str, Any]:
    status, body = fleet.deploy(ALICE, environment, *values, *FAST)
    assert status == 200 and "started" in body, body
    return fleet.finished_parent(environment, index, "Succeeded", timeout=90)


def test_the_same_release_name_is_deployed_to_each_cluster_by_environment(fleet: FleetFlows) -> None:
    staging = deploy_and_wait(fleet, "staging", "web.replicas=1")
    prod = deploy_and_wait(fleet, "prod", "web.replicas=1")
    assert "shop (staging)" in text_of(staging) and "cluster staging" in text_of(staging)
    assert "shop (prod)" in text_of(prod) and "cluster prod" in text_of(prod)
    assert [r["revision"] for r in fleet.history("staging")] == [1]
    assert [r["revision"] for r in fleet.history("prod")] == [1]
    # each cluster holds only its own environment's release
    assert fleet.clusters is not None
    prod_ns = fleet.namespaces["prod"]
    assert fleet.clusters["staging"].helm("status", "shop", "-n", prod_ns, check=False).returncode != 0
    status_text = fleet.ask(MALLORY, "staging", "/helmbot", "status shop")
    assert "shop (staging)" in status_text and "shop (prod)" in status_text, status_text
    assert f"{fleet.namespaces['staging']} on staging" in status_text, status_text
    assert f"{prod_ns} on prod" in status_text and "deploy freeze: release weekend" in status_text
    _, metrics = fleet.get("/metrics")
    for name in ("staging", "prod"):
        assert f'helmbot_cluster_reachable{{cluster="{name}"}} 1.0' in metrics
        assert f'helmbot_kube_requests_total{{cluster="{name}",kind="Secret",verb="list"}}' in metrics


def test_a_promotion_carries_the_chart_version_and_values_across_and_links_both_revisions(
    fleet: FleetFlows,
) -> None:
    if not fleet.installed("prod"):
        deploy_and_wait(fleet, "prod", "web.replicas=1")
    before = len(fleet.parents("staging"))
    staging = deploy_and_wait(fleet, "staging", "web.replicas=2", index=before)
    source_revision = fleet.history("staging")[-1]["revision"]
    prod_before = len(fleet.parents("prod"))
    answer = fleet.ask(ALICE, "prod", "/promote", "shop staging prod")
    assert f"shop (staging) revision {source_revision}" in answer and "started" in answer, answer
    promoted = fleet.finished_parent("prod", prod_before, "Succeeded", timeout=90)
    text = text_of(promoted)
    assert f"revision {source_revision}>" in text and "/archives/C0STAGING/p" in text, (
        text
    )  # the source's message
    assert staging["ts"].replace(".", "") in text
    target_revision = fleet.history("prod")[-1]["revision"]
    assert f"Revision*\n{target_revision - 1} → {target_revision}" in text, text
    assert fleet.values("prod", target_revision) == fleet.values("staging", source_revision)
    assert fleet.values("prod", target_revision)["web"]["replicas"] == 2  # a number stays a number
    staging_chart = fleet.history("staging")[-1]["chart"]
    assert fleet.history("prod")[-1]["chart"] == staging_chart


def test_a_flux_owned_release_asks_for_confirmation_before_a_deploy(fleet: FleetFlows) -> None:
    answer = fleet.ask(ALICE, "gitops", "/deploy", "shop gitops web.replicas=2 " + " ".join(FAST))
    assert "managed by Flux" in answer and "HelmRelease flux-system/shop" in answer, answer
    assert "flux suspend helmrelease shop -n flux-system" in answer, answer
    assert len(fleet.history("gitops")) == 1  # nothing ran
    card = fleet.ephemeral_with(ALICE, "gitops", "helmbot_confirm")
    assert buttons(card)["helmbot_confirm"]["text"]["text"] == "Deploy anyway"
    assert fleet.click(ALICE, "gitops", card, "helmbot_confirm")[0] == 200
    fleet.finished_parent("gitops", 0, "Succeeded", timeout=90)
    assert [r["revision"] for r in fleet.history("gitops")] == [1, 2]
    assert ALICE in fleet.history("gitops")[-1]["description"]


def test_a_freeze_window_blocks_a_deploy_until_an_approver_says_yes(fleet: FleetFlows) -> None:
    waiting = fleet.ask(ALICE, "frozen", "/deploy", "shop frozen web.replicas=1 " + " ".join(FAST))
    assert "needs an approval (deploy freeze: release weekend)" in waiting, waiting
    assert not fleet.installed("frozen")

    def card() -> dict[str, Any] | None:
        found = [m for m in fleet.parents("frozen") if "helmbot_approve" in buttons(m)]
        return found[0] if found else None

    approval = wait_for(card, "the approval card", fleet.bot)
    assert "release weekend" in text_of(approval)
    assert fleet.click(MALLORY, "frozen", approval, "helmbot_approve")[0] == 200
    assert not fleet.installed("frozen")
    assert fleet.click(CAROL, "frozen", approval, "helmbot_approve")[0] == 200
    deployed = wait_for(
        lambda: [m for m in fleet.parents("frozen") if "Succeeded" in text_of(m)], "the deploy", fleet.bot, 90
    )
    assert f"approved by <@{CAROL}>" in text_of(deployed[0])


def test_a_stopped_cluster_degrades_only_its_own_releases(fleet: FleetFlows) -> None:
    assert fleet.prod_cluster is not None
    fleet.prod_cluster.stop()
    try:
        for environment in ("prod", "frozen"):  # every channel of a prod release is told, once
            wait_for(lambda env=environment: fleet.notices(env, "Cluster *prod* cannot be reached"),
                     f"the outage notice in {environment}", fleet.bot)  # fmt: skip
        status, body = fleet.get("/readyz")
        ready = json.loads(body)
        assert status == 200 and ready["status"] == "degraded", ready
        assert ready["checks"]["kubernetes:staging"] == "ok" and "prod" in ready["checks"]["kubernetes:prod"]
        _, metrics = fleet.get("/metrics")
        assert 'helmbot_cluster_reachable{cluster="prod"} 0.0' in metrics

        started = time.monotonic()
        refused = fleet.ask(ALICE, "prod", "/deploy", "shop prod web.replicas=3")
        assert "cluster prod cannot be reached" in refused and "not affected" in refused, refused
        assert time.monotonic() - started < 5, "a command on a dead cluster is refused at once"
        status_text = fleet.ask(MALLORY, "staging", "/helmbot", "status shop")
        assert "cannot be reached" in status_text and "shop (staging)" in status_text, status_text

        # the other cluster carries on as if nothing happened
        before = len(fleet.parents("staging"))
        deploy_and_wait(fleet, "staging", "web.replicas=1", index=before)
        assert not fleet.notices("staging", "cannot be reached")
        assert not fleet.notices("gitops", "cannot be reached")
    finally:
        fleet.prod_cluster.start()
    wait_for(
        lambda: fleet.notices("prod", "Cluster *prod* is reachable again"), "the recovery notice", fleet.bot
    )
    wait_for(lambda: json.loads(fleet.get("/readyz")[1])["status"] == "ready", "ready again", fleet.bot)
    assert len(fleet.notices("prod", "cannot be reached")) == 1
    assert len(fleet.notices("frozen", "cannot be reached")) == 1
    answer = fleet.ask(ALICE, "prod", "/deploy", "shop prod web.replicas=1 " + " ".join(FAST))
    assert "started" in answer, answer
