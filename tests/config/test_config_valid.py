"""Valid configurations: defaults applied, the shipped examples pass, and the release helpers the app uses."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_CLUSTER,
    ClusterSettings,
    Config,
    ReleaseSettings,
    UnknownReleaseError,
    load_config,
    parse_config,
)
from bot.errors import HelmbotError

ROOT = Path(__file__).resolve().parents[2]


def parse(text: str) -> Config:
    return parse_config(textwrap.dedent(text))


MINIMAL = """\
releases:
  - name: shop
    chart: ./charts/shop
    channel: C0123ABC
    deployers: [U0123ABC]
"""


def test_minimal_config_gets_every_default() -> None:
    config = parse(MINIMAL)
    assert config.slack.mode == "http" and config.slack.port == 3000 and config.slack.host == "0.0.0.0"
    assert config.slack.api_url == "https://slack.com/api/"
    assert config.slack.commands == {"deploy": "/deploy", "rollback": "/rollback", "helmbot": "/helmbot",
                                     "promote": "/promote"}
    assert config.helm.binary == "helm" and config.helm.max_history == 10
    assert config.state.url == "sqlite:////var/lib/helmbot/helmbot.db" and config.state.kind == "sqlite"
    assert config.leader_election.enabled is False
    assert config.clusters == {DEFAULT_CLUSTER: ClusterSettings(DEFAULT_CLUSTER)}
    assert config.notices.enabled and config.notices.default_channel is None and config.notices.routes == ()
    assert config.log.format == "text" and config.log.level == "info"
    (release,) = config.releases
    assert release == ReleaseSettings(
        name="shop", chart="./charts/shop", channel="C0123ABC", deployers=("U0123ABC",), cluster="default",
        namespace="default", helm_timeout=timedelta(minutes=5), track_timeout=timedelta(minutes=30),
        poll_interval=timedelta(seconds=2), approval_ttl=timedelta(minutes=30),
        config_error_grace=timedelta(seconds=45), notices="all", create_namespace=False)
    assert config.summary() == "1 release in 1 cluster, http mode, sqlite store"


def test_release_values_fall_back_to_defaults_and_override_them() -> None:
    config = parse("""\
        clusters: {staging: {}, prod: {kubeconfig: /etc/prod.kubeconfig}}
        defaults:
          helm_timeout: 10m
          track_timeout: 1h
          deployers: [S0PLATFORM]
          channel: C0DEPLOYS
          cluster: staging
          namespace: apps
          notices: failures
        releases:
          - {name: shop, chart: ./charts/shop}
          - {name: cart, chart: ./charts/cart, cluster: prod, helm_timeout: 2m, deployers: ["*"],
             notices: mute}
        """)
    shop, cart = config.releases
    assert (shop.cluster, shop.namespace, shop.channel, shop.deployers) == ("staging", "apps", "C0DEPLOYS",
                                                                            ("S0PLATFORM",))
    assert (shop.helm_timeout, shop.track_timeout, shop.notices) == (
        timedelta(minutes=10), timedelta(hours=1), "failures")
    assert (cart.cluster, cart.helm_timeout, cart.track_timeout, cart.deployers, cart.notices) == (
        "prod", timedelta(minutes=2), timedelta(hours=1), ("*",), "mute")
    assert config.defaults.helm_timeout == timedelta(minutes=10)
    assert config.clusters["prod"] == ClusterSettings("prod", "/etc/prod.kubeconfig", None, in_cluster=False)
    assert config.clusters["staging"].in_cluster is True


def test_values_are_read_as_written() -> None:
    """`version: 1.10` is the chart version "1.10", not the float 1.1; a port may be quoted (Helm's quote)."""
    config = parse("""\
        slack: {port: "8080", mode: SOCKET, api_url: "http://127.0.0.1:9000/api"}
        releases:
          - {name: shop, chart: x, version: 1.10, channel: C0123ABC, deployers: [U0123ABC], protected: yes,
             approvers: [S0SRE]}
        """)
    assert config.slack.port == 8080 and config.slack.mode == "socket"
    assert config.slack.api_url == "http://127.0.0.1:9000/api/"
    assert config.releases[0].version == "1.10" and config.releases[0].protected is True


def test_socket_mode_may_serve_no_http() -> None:
    config = parse(MINIMAL + "slack: {mode: socket, port: null}\n")
    assert config.slack.port is None
    assert config.slack.token_env == ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")


def test_postgresql_turns_leader_election_on() -> None:
    config = parse(MINIMAL + "state: {url: 'postgresql://helmbot@db.internal:5432/helmbot'}\n")
    assert config.state.kind == "postgresql" and config.leader_election.enabled is True
    assert config.leader_election.cluster == "default"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "postgresql://helmbot@db:5432/h"),
        ({"HELMBOT_STATE_PASSWORD": "p@ss/word"}, "postgresql://helmbot:p%40ss%2Fword@db:5432/h"),
        ({"HELMBOT_STATE_URL": "postgresql://other:secret@db2/x", "HELMBOT_STATE_PASSWORD": "ignored"},
         "postgresql://other:secret@db2/x"),
    ],
    ids=["file-url", "password-from-env", "url-from-env"],
)
def test_effective_state_url(env: dict[str, str], expected: str) -> None:
    config = parse(MINIMAL + "state: {url: 'postgresql://helmbot@db:5432/h'}\n")
    assert config.state.effective_url(env) == expected


@pytest.mark.parametrize("name", ["helmbot.example.yaml", "helmbot.minimal.yaml"])
def test_shipped_examples_pass(name: str) -> None:
    config = load_config(ROOT / "config" / name)
    assert config.releases


def test_example_sets_every_key_of_the_schema() -> None:
    """The example documents every option: each dataclass field the file can set appears in it."""
    text = (ROOT / "config" / "helmbot.example.yaml").read_text()
    from bot.config.freezes_section import FREEZE_KEYS
    from bot.config.loading import TOP_KEYS
    from bot.config.releases_section import RELEASE_KEYS
    from bot.config.sections import LEADER_KEYS, STATUS_RULE_KEYS

    keys = (*TOP_KEYS, *RELEASE_KEYS, *FREEZE_KEYS, *LEADER_KEYS, *STATUS_RULE_KEYS, "mode", "api_url",
            "port", "host", "team_id", "commands", "binary", "max_history", "url", "kubeconfig", "context",
            "enabled", "namespaces", "default_channel", "routes", "labels", "format", "level")
    missing = [k for k in keys if f"{k}:" not in text]
    assert not missing


def test_example_summary() -> None:
    config = load_config(ROOT / "config" / "helmbot.example.yaml")
    assert config.summary() == "3 releases in 2 clusters, http mode, sqlite store"
    assert config.find_release("shop", "prod").protected


def test_redacted_dict_is_plain_json() -> None:
    import json

    config = load_config(ROOT / "config" / "helmbot.example.yaml")
    data = config.redacted_dict()
    json.dumps(data)
    assert data["defaults"]["helm_timeout"] == "5m"
    assert data["freezes"][0]["start"] == "2026-12-20T00:00:00Z"
    assert data["freezes"][1]["cron"] == "0 18 * * FRI"
    assert data["state"] == {"url": "sqlite:////var/lib/helmbot/helmbot.db", "kind": "sqlite"}


# --- finding a command's release

TWO_ENVIRONMENTS = """\
    clusters: {staging: {}, prod: {}}
    defaults: {channel: C0123ABC, deployers: ["*"]}
    releases:
      - {name: shop, environment: staging, cluster: staging, chart: x}
      - {name: shop, environment: prod, cluster: prod, chart: x}
      - {name: cart, cluster: prod, chart: x}
    """


@pytest.mark.parametrize(
    ("name", "environment", "label"),
    [("shop", "prod", "shop (prod)"), ("shop", "staging", "shop (staging)"), ("cart", None, "cart"),
     ("Shop", "PROD", "shop (prod)")],
    ids=["env-prod", "env-staging", "single-without-env", "case-insensitive"],
)
def test_find_release(name: str, environment: str | None, label: str) -> None:
    assert parse(TWO_ENVIRONMENTS).find_release(name, environment).label == label


@pytest.mark.parametrize(
    ("name", "environment", "message"),
    [
        ("shop", None, '"shop" is in several environments (staging, prod); say which, e.g. shop staging'),
        ("shop", "qa", '"shop" has no environment "qa" (its environments: staging, prod)'),
        ("cart", "prod", '"cart" has no environment "prod" (it has no environments)'),
        ("shp", None, 'no release "shp" in the configuration; did you mean "shop"?'),
        ("zzz", None, 'no release "zzz" in the configuration (known: cart, shop)'),
    ],
    ids=["ambiguous", "unknown-environment", "no-environments", "typo", "unknown"],
)
def test_find_release_errors_list_the_choices(name: str, environment: str | None, message: str) -> None:
    with pytest.raises(UnknownReleaseError) as err:
        parse(TWO_ENVIRONMENTS).find_release(name, environment)
    assert isinstance(err.value, HelmbotError)
    assert err.value.user_message() == message


def test_release_key_and_label() -> None:
    shop = parse(TWO_ENVIRONMENTS).find_release("shop", "prod")
    assert shop.key == ("prod", "default", "shop")
    assert shop.label == "shop (prod)"


# --- value keys, deployers, approvers

@pytest.mark.parametrize(
    ("patterns", "key", "allowed"),
    [
        (("image",), "image", True),
        (("image",), "image.tag", True),
        (("image",), "image.repository.name", True),
        (("image",), "imagePullPolicy", False),
        (("image.tag",), "image", False),
        (("*.image.tag",), "api.image.tag", True),
        (("*.image.tag",), "api.image.repository", False),
        (("*.image.tag",), "image.tag", False),
        (("replica?",), "replicas", True),
        (("ingress.hosts",), "ingress.hosts[0].host", True),
        (("env",), "env[1]", True),
        ((), "image", False),
        (("image",), "image tag", False),
        (("*",), "anything.at.all", True),
        (("image",), "image.*", False),
    ],
)
def test_allows_value(patterns: tuple[str, ...], key: str, allowed: bool) -> None:
    release = ReleaseSettings(name="shop", chart="x", channel="C1", deployers=("*",), allowed_values=patterns)
    assert release.allows_value(key) is allowed


@pytest.mark.parametrize(
    ("deployers", "user", "groups", "allowed"),
    [
        (("*",), "U9", (), True),
        (("U1",), "U1", (), True),
        (("U1",), "U2", (), False),
        (("S1",), "U2", ("S1",), True),
        (("S1",), "U2", ("S2",), False),
    ],
    ids=["everyone", "listed-user", "other-user", "member-of-group", "other-group"],
)
def test_may_deploy(deployers: tuple[str, ...], user: str, groups: tuple[str, ...], allowed: bool) -> None:
    release = ReleaseSettings(name="shop", chart="x", channel="C1", deployers=deployers)
    assert release.may_deploy(user, groups) is allowed


def test_may_approve_needs_a_second_person() -> None:
    release = ReleaseSettings(name="shop", chart="x", channel="C1", deployers=("*",), protected=True,
                              approvers=("U1", "S0SRE"))
    assert release.may_approve("U1", (), requested_by="U2")
    assert not release.may_approve("U1", (), requested_by="U1")
    assert release.may_approve("U3", ("S0SRE",), requested_by="U2")
    assert not release.may_approve("U3", ("S0OTHER",), requested_by="U2")


def test_notice_routes_first_match_wins() -> None:
    config = parse(MINIMAL + textwrap.dedent("""\
        notices:
          default_channel: C0ALL
          routes:
            - {namespace: payments, labels: {team: pay}, channel: C0PAY, mode: failures}
            - {namespace: payments, mode: mute}
        """))
    shop = config.releases[0]
    assert config.notices.route_for("payments", {"team": "pay"}, None) == ("C0PAY", "failures")
    assert config.notices.route_for("payments", {"team": "x"}, None) == ("C0ALL", "mute")
    assert config.notices.route_for("default", {}, shop) == ("C0123ABC", "all")
    assert config.notices.route_for("other", {}, None) == ("C0ALL", "all")


def test_freezes_are_read() -> None:
    config = parse(MINIMAL + textwrap.dedent("""\
        freezes:
          - {releases: [shop], from: 2026-12-20T00:00:00+01:00, to: "2027-01-04T00:00:00Z", reason: year end}
          - {cron: "0 18 * * FRI", duration: 62h}
        """))
    year_end, weekend = config.freezes
    assert year_end.start == datetime(2026, 12, 19, 23, 0, tzinfo=UTC)
    assert year_end.releases == ("shop",) and year_end.reason == "year end"
    assert weekend.cron is not None and weekend.cron.text == "0 18 * * FRI"
    assert weekend.duration == timedelta(hours=62) and weekend.reason == "deploy freeze"


def test_notices_only_config_needs_no_releases() -> None:
    config = parse("notices: {default_channel: C0ALL}\n")
    assert config.releases == () and config.summary().startswith("0 releases in 1 cluster")
