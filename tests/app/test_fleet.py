"""A fleet from one bot, in-process: two clusters (each its own Helm storage and helm at the subprocess
edge), a release name in two environments, a cluster that stops answering, promotion, GitOps-owned releases
and deploy freezes. What runs is counted at helm's edge per cluster; the end-to-end proof is
tests/bot/test_fleet.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app.actions import APPROVE_ACTION, CONFIRM_ACTION, ROLLBACK_ACTION
from bot.app.fleet import DOWN, UP, ClusterHealth, Fleet, next_health
from bot.app.operations import Operations
from bot.app.ports import Actor
from bot.app.promotion import carry_values, flatten_values
from bot.app.queries import Queries
from bot.app.replies import Reply, ReplyKind
from bot.app.service import HelmBot
from bot.app.views import ApprovalView, PlanView, PreflightView, StatusView
from bot.config import parse_config
from bot.core.gitops import ARGO_TRACKING, FLUX, FLUX_NAME, FLUX_NAMESPACE
from bot.store import Store, open_store
from tests.app.support import ALICE, BOB, CAROL, MALLORY, CountingHelm, FakeCluster, SyncExecutor
from tests.core.release_fixtures import deployment

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
STAGING, PROD = "C0STAGING", "C0PROD"

CONFIG = f"""
clusters:
  staging: {{kubeconfig: /etc/helmbot/staging.kubeconfig}}
  prod: {{kubeconfig: /etc/helmbot/prod.kubeconfig}}
releases:
  - name: shop
    environment: staging
    cluster: staging
    namespace: shop
    chart: ./charts/shop
    channel: {STAGING}
    allowed_values: [image.tag, "web.*", feature]
    deployers: [{ALICE}, {BOB}]
  - name: shop
    environment: prod
    cluster: prod
    namespace: shop
    chart: ./charts/shop
    channel: {PROD}
    allowed_values: [image.tag, "web.replicas", "web.env", feature]
    deployers: [{ALICE}, {BOB}]
    approvers: [{CAROL}]
  - name: api
    environment: prod
    cluster: prod
    namespace: api
    chart: ./charts/api
    channel: {PROD}
    deployers: [{ALICE}]
freezes:
  - environments: [prod]
    from: "2026-12-20T00:00:00Z"
    to: "2027-01-04T00:00:00Z"
    reason: year-end freeze
"""


@dataclass
class FleetHarness:
    bot: HelmBot
    fleet: Fleet
    store: Store
    clusters: dict[str, FakeCluster]
    helms: dict[str, CountingHelm]
    cards: list[tuple[str, Any]]
    now: list[datetime]

    def command(self, name: str, text: str, user: str = ALICE) -> Reply:
        return self.bot.command(name, text, Actor(user_id=user, team_id="T0", channel_id=STAGING))

    def click(self, action_id: str, value: str, user: str = ALICE) -> Reply:
        return self.bot.action(action_id, value, Actor(user_id=user, team_id="T0", channel_id=STAGING))

    def runs(self, cluster: str) -> list[tuple[str, dict[str, Any]]]:
        return self.helms[cluster].runs()

    def posts(self) -> list[tuple[str, str, str]]:
        return [(m.key, m.channel, str(m.payload.get("text"))) for m in self.store.pending_messages()]


@pytest.fixture
def h() -> Iterator[FleetHarness]:
    config = parse_config(CONFIG)
    store = open_store("sqlite:///:memory:")
    clusters = {"staging": FakeCluster(), "prod": FakeCluster()}
    helms = {name: CountingHelm(cluster) for name, cluster in clusters.items()}
    now = [T0]

    def clock() -> datetime:
        return now[0]

    fleet = Fleet(config=config, store=store, clusters=clusters, clock=clock)
    operations = Operations(
        store=store,
        clusters=clusters,
        helm_for=helms.__getitem__,
        executor=SyncExecutor(),
        clock=clock,
        on_revision=lambda record: None,
        wake_delivery=lambda: None,
    )
    queries = Queries(
        config=config,
        store=store,
        clusters=clusters,
        helm_for=helms.__getitem__,
        clock=clock,
        cluster_problem=fleet.problem,
    )
    cards: list[tuple[str, Any]] = []
    bot = HelmBot(
        config=config,
        store=store,
        clusters=clusters,
        operations=operations,
        queries=queries,
        clock=clock,
        post_card=lambda channel, view: cards.append((channel, view)),
        fleet=fleet,
    )
    try:
        yield FleetHarness(bot, fleet, store, clusters, helms, cards, now)
    finally:
        store.close()


def install(h: FleetHarness, cluster: str, namespace: str = "shop", **kwargs: Any) -> None:
    h.clusters[cluster].add(namespace, "shop", **kwargs)


# --- health: pure transitions ----------------------------------------------------------------------------


def test_a_reachable_cluster_degrades_after_two_failed_checks_and_recovers_after_one_answer() -> None:
    state = ClusterHealth("prod", checked=True)
    state, moved = next_health(state, "connection refused", T0)
    assert moved is None and state.reachable  # one dropped probe is not an outage
    state, moved = next_health(state, "connection refused", T0 + timedelta(seconds=5))
    assert moved == DOWN and not state.reachable and state.since == T0
    state, moved = next_health(state, "connection refused", T0 + timedelta(seconds=10))
    assert moved is None and state.since == T0  # announced once
    state, moved = next_health(state, None, T0 + timedelta(seconds=15))
    assert moved == UP and state.reachable and state.failures == 0


def test_a_cluster_that_never_answered_is_unreachable_at_its_first_failure() -> None:
    state, moved = next_health(ClusterHealth("prod"), "no route to host", T0)
    assert moved == DOWN and not state.reachable


# --- one cluster down: only its releases degrade ----------------------------------------------------------


def test_an_unreachable_cluster_degrades_only_its_own_releases(h: FleetHarness) -> None:
    install(h, "staging")
    install(h, "prod")
    h.clusters["prod"].down = "cannot reach the API server at https://prod: connection refused"
    for _ in range(2):
        h.fleet.check("staging", announce=True)
        h.fleet.check("prod", announce=True)
    assert h.fleet.readiness() == {"kubernetes:staging": None, "kubernetes:prod": h.fleet.problem("prod")}
    assert "cluster prod cannot be reached since 10:00 UTC" in (h.fleet.problem("prod") or "")

    # one notice in the prod channel (both prod releases named), none in staging's
    [(key, channel, text)] = h.posts()
    assert channel == PROD and key.startswith("notice:cluster-down:prod:")
    assert "shop (prod)" in text and "api (prod)" in text and "other clusters are not affected" in text
    h.fleet.check("prod", announce=True)
    assert len(h.posts()) == 1

    refused = h.command("deploy", "shop prod image.tag=2")
    assert refused.kind is ReplyKind.REFUSED and "cluster prod cannot be reached" in refused.text
    assert h.command("rollback", "shop prod").kind is ReplyKind.REFUSED
    assert h.runs("prod") == []
    ok = h.command("deploy", "shop staging image.tag=2")
    assert ok.kind is ReplyKind.ACCEPTED, ok.text
    assert len(h.runs("staging")) == 1

    both = h.command("helmbot", "status shop")
    staging, prod = both.card
    assert isinstance(staging, StatusView) and staging.revision == 2 and staging.error is None
    assert isinstance(prod, StatusView) and "cannot be reached" in (prod.error or "")

    h.clusters["prod"].down = None
    h.now[0] += timedelta(minutes=3)
    h.fleet.check("prod", announce=True)
    up = [p for p in h.posts() if p[0].startswith("notice:cluster-up:prod:")]
    assert len(up) == 1 and up[0][1] == PROD and "reachable again (after 3m" in up[0][2]
    assert h.command("deploy", "shop prod image.tag=2").kind is ReplyKind.ACCEPTED


def test_an_approval_clicked_while_its_cluster_is_down_stays_pending(h: FleetHarness) -> None:
    install(h, "prod")
    h.now[0] = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    asked = h.command("deploy", "shop prod image.tag=2")
    assert asked.kind is ReplyKind.WAITING
    approval_id = asked.data["approval_id"]
    h.clusters["prod"].down = "connection refused"
    h.fleet.check("prod", announce=False)
    assert h.click(APPROVE_ACTION, approval_id, user=CAROL).kind is ReplyKind.REFUSED
    assert h.posts() == []  # not announced by a replica that does not lead
    h.clusters["prod"].down = None
    h.fleet.check("prod", announce=False)
    assert h.click(APPROVE_ACTION, approval_id, user=CAROL).kind is ReplyKind.ACCEPTED
    assert len(h.runs("prod")) == 1


def test_an_outage_that_began_before_this_replica_led_is_announced_once_it_leads(h: FleetHarness) -> None:
    h.clusters["prod"].down = "connection refused"
    h.fleet.check("prod", announce=False)  # not leading yet: nothing said
    assert h.posts() == []
    h.fleet.check("prod", announce=True)
    h.fleet.check("prod", announce=True)
    assert [key.split(":")[1] for key, _, _ in h.posts()] == ["cluster-down"]
    h.clusters["prod"].down = None
    h.fleet.check("prod", announce=True)
    assert [key.split(":")[1] for key, _, _ in h.posts()] == ["cluster-down", "cluster-up"]
    h.clusters["staging"].down = "connection refused"
    h.fleet.check("staging", announce=False)
    h.clusters["staging"].down = None
    h.fleet.check("staging", announce=True)  # back before anyone was told: no "reachable again" either
    assert len(h.posts()) == 2


# --- environments ---------------------------------------------------------------------------------------


def test_the_environment_picks_the_cluster(h: FleetHarness) -> None:
    install(h, "staging")
    install(h, "prod")
    assert h.command("deploy", "shop staging 1.2.0 image.tag=5").kind is ReplyKind.ACCEPTED
    h.now[0] = datetime(2026, 3, 3, tzinfo=UTC)
    assert h.command("deploy", "shop prod 1.2.0 image.tag=5").kind is ReplyKind.ACCEPTED
    [(_, staging)] = h.runs("staging")
    [(_, prod)] = h.runs("prod")
    assert staging["target"].cluster == "staging" and prod["target"].cluster == "prod"
    assert h.command("deploy", "shop 1.2.0").kind is ReplyKind.REFUSED  # which environment?


# --- promotion --------------------------------------------------------------------------------------------


def test_flattened_values_keep_their_types_and_only_allowed_keys_travel() -> None:
    values = {
        "image": {"tag": "007"},
        "web": {"replicas": 3, "env": ["a", "b,c"], "debug": True, "ratio": 0.5, "empty": {}},
        "db": {"password": "hunter2"},
        "feature": None,
    }
    assert ("web.env[1]", "b,c") in flatten_values(values)
    allowed = {"image.tag", "web.replicas", "web.env[0]", "web.env[1]", "web.debug", "web.ratio", "feature"}
    carried = carry_values(values, lambda key: key in allowed or key == "web.empty")
    assert dict(carried.string_values) == {"image.tag": "007", "web.env[0]": "a", "web.env[1]": "b,c"}
    assert dict(carried.values) == {"web.replicas": "3", "web.debug": "true", "feature": "null"}
    assert set(carried.left_out) == {"web.ratio", "web.empty", "db.password"}
    assert "hunter2" not in repr(carried.left_out)


def test_promote_carries_the_running_version_and_allowed_values_and_names_the_source(
    h: FleetHarness,
) -> None:
    install(h, "staging", chart_version="1.4.0")
    install(h, "staging", chart_version="1.5.0")
    install(h, "prod", chart_version="1.4.0")
    h.helms["staging"].values[2] = {"image": {"tag": "42"}, "web": {"replicas": 3}, "db": {"password": "pw"}}
    reply = h.command("promote", "shop staging prod")
    assert reply.kind is ReplyKind.ACCEPTED, reply.text
    assert "shop (staging) revision 2" in reply.text and "chart 1.5.0" in reply.text
    assert "not carried: db.password" in reply.text and "pw" not in reply.text.replace("prod", "")
    [(op, call)] = h.runs("prod")
    assert op == "upgrade" and call["version"] == "1.5.0" and call["chart"] == "./charts/shop"
    assert call["values"] == {"web.replicas": "3"} and call["string_values"] == {"image.tag": "42"}
    assert ("get_values", 2) in [(op, c.get("revision")) for op, c in h.helms["staging"].calls]
    record = h.store.get_deploy(reply.data["deploy_id"])
    assert record is not None and record.cluster == "prod" and record.request_id
    row = h.store.get_approval(record.request_id)
    assert row is not None and row.request["promoted_from"]["revision"] == 2
    assert row.request["promoted_from"]["label"] == "shop (staging)"


def test_promote_refuses_what_the_source_could_not_run(h: FleetHarness) -> None:
    assert "not installed" in h.command("promote", "shop staging prod").text
    install(h, "staging")
    install(h, "staging", status="failed")
    refused = h.command("promote", "shop staging prod")
    assert refused.kind is ReplyKind.REFUSED and "revision 2 is failed" in refused.text
    install(h, "staging", status="pending-upgrade")
    assert "still in progress" in h.command("promote", "shop staging prod").text
    assert h.runs("prod") == []


def test_promote_refuses_a_revision_helmbot_judged_failed(h: FleetHarness) -> None:
    install(h, "staging")
    deployed = h.command("deploy", "shop staging image.tag=2")
    h.store.update_deploy(deployed.data["deploy_id"], status="failed")
    refused = h.command("promote", "shop staging prod")
    assert refused.kind is ReplyKind.REFUSED and "judged shop (staging) revision 2 failed" in refused.text


def test_promote_dry_run_plans_and_runs_nothing(h: FleetHarness) -> None:
    install(h, "staging")
    install(h, "prod")
    plan = h.command("promote", "shop staging prod --dry-run")
    assert isinstance(plan.card, PlanView) and plan.card.confirm_value, plan.text
    assert h.runs("prod") == []
    done = h.click(CONFIRM_ACTION, plan.card.confirm_value)
    assert done.kind is ReplyKind.ACCEPTED and len(h.runs("prod")) == 1
    record = h.store.get_deploy(done.data["deploy_id"])
    assert record is not None
    row = h.store.get_approval(record.request_id or "")
    assert row is not None and row.request["promoted_from"]["environment"] == "staging"


def test_promote_into_a_freeze_needs_an_approver(h: FleetHarness) -> None:
    install(h, "staging")
    h.now[0] = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    asked = h.command("promote", "shop staging prod")
    assert asked.kind is ReplyKind.WAITING and "deploy freeze: year-end freeze" in asked.text
    [(channel, card)] = h.cards
    assert channel == PROD and isinstance(card, ApprovalView)
    approved = h.click(APPROVE_ACTION, card.approval_id, user=CAROL)
    assert approved.kind is ReplyKind.ACCEPTED
    record = h.store.get_deploy(approved.data["deploy_id"])
    assert record is not None and record.request_id == card.approval_id
    row = h.store.get_approval(card.approval_id)
    assert row is not None and row.request["promoted_from"]["revision"] == 1


# --- freezes --------------------------------------------------------------------------------------------


def test_a_freeze_asks_an_approver_and_says_why_but_rollbacks_stay_allowed(h: FleetHarness) -> None:
    install(h, "prod")
    install(h, "prod")
    h.now[0] = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    asked = h.command("deploy", "shop prod image.tag=3")
    assert asked.kind is ReplyKind.WAITING and "deploy freeze: year-end freeze" in asked.text
    assert h.runs("prod") == []
    preflight = h.command("rollback", "shop prod")
    assert isinstance(preflight.card, PreflightView)
    rolled = h.click(CONFIRM_ACTION, preflight.card.confirm_value)
    assert rolled.kind is ReplyKind.ACCEPTED, rolled.text
    assert [op for op, _ in h.runs("prod")] == ["rollback"]
    staging = h.command("deploy", "shop staging image.tag=3")  # other environments are not frozen
    assert staging.kind is ReplyKind.ACCEPTED, staging.text


# --- GitOps ownership -----------------------------------------------------------------------------------


def flux_objects(name: str = "shop") -> list[dict[str, Any]]:
    dep = deployment(f"{name}-web")
    dep["metadata"]["labels"] = {FLUX_NAME: name, FLUX_NAMESPACE: "flux-system"}
    return [dep]


def test_a_flux_owned_release_asks_for_confirmation_before_a_deploy(h: FleetHarness) -> None:
    install(h, "staging", manifest_objects=flux_objects())
    asked = h.command("deploy", "shop staging image.tag=4")
    assert asked.kind is ReplyKind.INFO and asked.data["gitops"] == FLUX
    card = asked.card
    assert isinstance(card, PreflightView) and card.confirm_label == "Deploy anyway"
    warning = "\n".join(card.lines)
    assert "HelmRelease flux-system/shop" in warning and "will revert" in warning
    assert "flux suspend helmrelease shop -n flux-system" in warning
    assert h.runs("staging") == []
    assert h.click(CONFIRM_ACTION, card.confirm_value, user=BOB).kind is ReplyKind.REFUSED  # not theirs
    done = h.click(CONFIRM_ACTION, card.confirm_value)
    assert done.kind is ReplyKind.ACCEPTED, done.text
    [(_, call)] = h.runs("staging")
    assert call["values"] == {"image.tag": "4"}
    assert h.click(CONFIRM_ACTION, card.confirm_value).kind is ReplyKind.REFUSED  # once


def test_a_helmrelease_naming_the_release_gives_its_interval_and_suspension(h: FleetHarness) -> None:
    install(h, "prod")
    h.clusters["prod"].helmreleases.append(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "shop", "namespace": "flux-system"},
            "spec": {"interval": "10m", "targetNamespace": "shop", "releaseName": "shop"},
        }
    )
    asked = h.command("deploy", "shop prod image.tag=4")
    assert isinstance(asked.card, PreflightView)
    assert "within its interval (10m)" in asked.card.lines[0]
    h.clusters["prod"].helmreleases[0]["spec"]["suspend"] = True
    suspended = h.command("deploy", "shop prod image.tag=4")
    assert isinstance(suspended.card, PreflightView) and "is suspended" in suspended.card.lines[0]


def test_argo_cd_tracking_asks_before_a_rollback_and_the_roll_back_button(h: FleetHarness) -> None:
    dep = deployment("shop-web")
    dep["metadata"]["annotations"] = {ARGO_TRACKING: "shop-staging:apps/Deployment:shop/shop-web"}
    install(h, "staging", manifest_objects=[dep])
    h.clusters["staging"].live[("shop", "shop")] = [dep]  # helm's upgrade leaves Argo's annotation on it
    deployed = h.click(CONFIRM_ACTION, h.command("deploy", "shop staging image.tag=2").card.confirm_value)
    assert deployed.kind is ReplyKind.ACCEPTED
    preflight = h.command("rollback", "shop staging")
    assert isinstance(preflight.card, PreflightView)
    assert preflight.card.confirm_label == "Roll back to revision 1 anyway"
    assert "Argo CD Application shop-staging" in preflight.card.hazards[0]
    h.store.update_deploy(deployed.data["deploy_id"], status="failed")
    h.store.release_lock("staging", "shop", "shop", deploy_id=deployed.data["deploy_id"])  # the verdict's
    button = h.click(ROLLBACK_ACTION, deployed.data["deploy_id"])
    assert isinstance(button.card, PreflightView) and button.card.confirm_label == "Roll back anyway"
    assert [op for op, _ in h.runs("staging")] == ["upgrade"]
    assert h.click(CONFIRM_ACTION, button.card.confirm_value).kind is ReplyKind.ACCEPTED
    assert [op for op, _ in h.runs("staging")] == ["upgrade", "rollback"]


def test_a_dry_run_of_a_gitops_release_shows_the_warning_with_the_plan(h: FleetHarness) -> None:
    install(h, "staging", manifest_objects=flux_objects())
    plan = h.command("deploy", "shop staging image.tag=4 --dry-run")
    assert isinstance(plan.card, PlanView) and plan.card.confirm_label == "Deploy anyway"
    assert "will revert" in plan.card.hazards[0]
    assert h.runs("staging") == []


def test_nobody_else_may_deploy_through_a_gitops_confirmation(h: FleetHarness) -> None:
    install(h, "staging", manifest_objects=flux_objects())
    assert h.command("deploy", "shop staging", user=MALLORY).kind is ReplyKind.REFUSED


def test_passive_notices_name_the_gitops_controller_and_its_object() -> None:
    from dataclasses import replace

    from bot.app.detection import actor_of
    from bot.core.releases import decode_release_json
    from tests.core.release_fixtures import release_json

    plain = decode_release_json(release_json("shop", 2, manifest_objects=[deployment("shop-web")]))
    by_flux = replace(plain, resources=tuple(flux_objects()))
    assert actor_of(by_flux, ("helm-controller",)) == "Flux helm-controller (HelmRelease flux-system/shop)"
    labelled = replace(plain, labels={FLUX_NAME: "shop"})  # the release record's own labels (helm 4)
    assert actor_of(labelled, ()) == "Flux helm-controller (HelmRelease shop)"
    assert actor_of(plain, ("helm",)) == "helm CLI"  # a person's helm upgrade renders no Flux marks
    argo = deployment("shop-web")
    argo["metadata"]["labels"] = {"argocd.argoproj.io/instance": "shop-prod"}
    assert actor_of(replace(plain, resources=(argo,)), ()) == "Argo CD Application shop-prod"
    assert actor_of(replace(plain, resources=(argo,)), ("helm",)) == "helm CLI"
