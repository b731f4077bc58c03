"""Every kind of mistake names the right key path and line, says what is wrong, and never raises anything but
ConfigError. Each case is a whole small file so the line numbers can be read off the text."""

from __future__ import annotations

import textwrap

import pytest

from bot.config import ConfigError, ConfigProblem, parse_config
from bot.errors import describe_error, exit_code_for

# Line 1-5: a valid release; cases append below it (so their own lines start at 6) or replace it.
RELEASE = """\
releases:
  - name: shop
    chart: ./charts/shop
    channel: C0123ABC
    deployers: [U0123ABC]
"""


def problems_of(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as err:
        parse_config(textwrap.dedent(text), source="test.yaml")
    assert exit_code_for(err.value) == 3
    assert describe_error(err.value).startswith("test.yaml: ")
    return err.value.problems


def _case(text: str, path: str, line: int | None, fragment: str, id: str):  # type: ignore[no-untyped-def]
    return pytest.param(text, path, line, fragment, id=id)


CASES = [
    # --- the file as a whole
    _case("", "", None, "the file is empty", "empty-file"),
    _case("# only a comment\n", "", None, "empty (only comments)", "only-comments"),
    _case("- a\n- b\n", "", 1, "got a list", "top-level-list"),
    _case("just text\n", "", 1, "got a single value", "top-level-scalar"),
    _case("releases:\n  - name: shop\n   chart: x\n", "", 3, "YAML syntax error at column 4", "yaml-syntax"),
    _case("releases:\n\t- name: shop\n", "", 2, "not tabs", "yaml-tab"),
    _case(RELEASE + "---\nslack: {}\n", "", 6, "one document only", "two-documents"),
    _case("slack: {mode: http\n", "", 2, "YAML syntax error", "unclosed-flow-mapping"),
    _case("slack: {}\n", "releases", 1, "no releases", "nothing-to-do"),
    # --- keys
    _case(RELEASE + "slak: {}\n", "slak", 6, 'unknown key "slak" (did you mean "slack"?)', "unknown-top-key"),
    _case(
        RELEASE + "    chanel: C0123ABC\n",
        "releases[0].chanel",
        6,
        'did you mean "channel"?',
        "unknown-release-key",
    ),
    _case(
        RELEASE + "    channel: C0456DEF\n",
        "releases[0].channel",
        6,
        'duplicate key "channel" (first at line 4)',
        "duplicate-key",
    ),
    _case(
        RELEASE + "slack:\n  mode: http\n  mode: socket\n",
        "slack.mode",
        8,
        "duplicate key",
        "duplicate-nested-key",
    ),
    _case(
        RELEASE + "defaults: &d {helm_timeout: 5m}\nhelm:\n  <<: *d\n", "helm", 8, "merge keys", "merge-key"
    ),
    # --- types
    _case(RELEASE + "slack: [http]\n", "slack", 6, "expected a mapping, got a list", "section-not-mapping"),
    _case(
        "releases: {name: shop}\n",
        "releases",
        1,
        "expected a list of releases, got a mapping",
        "releases-not-list",
    ),
    _case(
        RELEASE + "slack: {port: web}\n",
        "slack.port",
        6,
        'expected a whole number, got text ("web")',
        "port-not-number",
    ),
    _case(RELEASE + "slack: {port: 70000}\n", "slack.port", 6, "out of range (0 to 65535)", "port-range"),
    _case(
        RELEASE + "    protected: maybe\n", "releases[0].protected", 6, "expected true or false", "bool-wrong"
    ),
    _case(
        RELEASE.replace("[U0123ABC]", "U0123ABC"),
        "releases[0].deployers",
        5,
        "expected a list of user IDs",
        "deployers-not-list",
    ),
    _case(RELEASE + "    chart: {path: x}\n", "releases[0].chart", 6, "duplicate key", "duplicate-chart"),
    _case(
        RELEASE.replace("./charts/shop", "{path: x}"),
        "releases[0].chart",
        3,
        "expected a chart reference, got a mapping",
        "chart-mapping",
    ),
    # --- durations
    _case(
        RELEASE + "    helm_timeout: 5 minutes\n",
        "releases[0].helm_timeout",
        6,
        "invalid duration",
        "bad-duration",
    ),
    _case(
        RELEASE + "defaults: {poll_interval: 0s}\n",
        "defaults.poll_interval",
        6,
        "must be longer than 0s",
        "zero-duration",
    ),
    _case(
        RELEASE + "    track_timeout: 2m\n",
        "releases[0].track_timeout",
        6,
        "track_timeout (2m) is shorter than helm_timeout (5m)",
        "track-shorter-than-helm",
    ),
    _case(
        RELEASE + "leader_election: {lease_duration: 10s, renew_deadline: 10s}\n",
        "leader_election.renew_deadline",
        6,
        "lease_duration (10s) > renew_deadline (10s)",
        "lease-timings",
    ),
    # --- Slack IDs
    _case(
        RELEASE.replace("C0123ABC", "'#deploys'"),
        "releases[0].channel",
        4,
        "is a name; use a channel ID",
        "channel-name",
    ),
    _case(
        RELEASE.replace("C0123ABC", "#deploys"),
        "releases[0].channel",
        4,
        "# starts a YAML comment",
        "channel-hash-comment",
    ),
    _case(
        RELEASE.replace("./charts/shop", ""),
        "releases[0].chart",
        3,
        "missing: the chart",
        "required-key-null",
    ),
    _case(
        RELEASE.replace("C0123ABC", "U0123ABC"),
        "releases[0].channel",
        4,
        "is a user ID; expected a channel ID",
        "channel-is-user",
    ),
    _case(
        RELEASE.replace("[U0123ABC]", "[u0123abc]"),
        "releases[0].deployers[0]",
        5,
        "Slack IDs are upper-case",
        "lowercase-id",
    ),
    _case(
        RELEASE.replace("[U0123ABC]", '["@alice"]'),
        "releases[0].deployers[0]",
        5,
        "is a name; use a user or user group ID",
        "user-name",
    ),
    _case(
        RELEASE.replace("[U0123ABC]", "[C0123ABC]"),
        "releases[0].deployers[0]",
        5,
        "is a channel ID; expected a user or user group ID",
        "deployer-is-channel",
    ),
    _case(
        RELEASE + "    protected: true\n    approvers: ['*']\n",
        "releases[0].approvers[0]",
        7,
        '"*" (everyone) is allowed in deployers only',
        "approvers-everyone",
    ),
    _case(RELEASE + "slack: {team_id: C0123ABC}\n", "slack.team_id", 6, "expected a workspace ID", "team-id"),
    _case(
        RELEASE + "notices: {default_channel: deploys}\n",
        "notices.default_channel",
        6,
        "is a name",
        "default-channel-name",
    ),
    # --- who may deploy and approve
    _case(
        RELEASE.replace("[U0123ABC]", "[]"),
        "releases[0].deployers",
        5,
        "empty: nobody could deploy",
        "deployers-empty",
    ),
    _case(
        RELEASE.replace("    deployers: [U0123ABC]\n", ""),
        "releases[0].deployers",
        2,
        "missing (here or as defaults.deployers)",
        "deployers-missing",
    ),
    _case(
        RELEASE + "    protected: true\n",
        "releases[0].approvers",
        6,
        "protected: true needs approvers",
        "protected-without-approvers",
    ),
    _case(
        RELEASE + "    protected: true\n    approvers: []\n",
        "releases[0].approvers",
        7,
        "protected: true needs approvers",
        "protected-empty-approvers",
    ),
    _case(
        RELEASE + "    protected: true\n    approvers: [U0123ABC]\n",
        "releases[0].approvers",
        7,
        "nobody else could approve",
        "only-approver-is-only-deployer",
    ),
    # --- names
    _case(
        RELEASE.replace("name: shop", "name: Shop_API"),
        "releases[0].name",
        2,
        'release name "Shop_API" is not a valid name',
        "release-name-invalid",
    ),
    _case(
        RELEASE.replace("name: shop", "name: " + "a" * 54),
        "releases[0].name",
        2,
        "longer than 53 characters",
        "release-name-too-long",
    ),
    _case(
        RELEASE + "    namespace: My_NS\n",
        "releases[0].namespace",
        6,
        'namespace "My_NS" is not a valid name',
        "namespace-invalid",
    ),
    _case(
        RELEASE + '    environment: "1.2"\n',
        "releases[0].environment",
        6,
        "looks like a version",
        "environment-1.2",
    ),
    _case(
        RELEASE + "    environment: v2\n",
        "releases[0].environment",
        6,
        "looks like a version",
        "environment-v2",
    ),
    _case(
        RELEASE + "    environment: 1.2.0-rc1\n",
        "releases[0].environment",
        6,
        "looks like a version",
        "environment-1.2.0-rc1",
    ),
    _case(
        RELEASE.replace("./charts/shop", "oci://"),
        "releases[0].chart",
        3,
        "oci://REGISTRY/PATH/CHART",
        "chart-oci-incomplete",
    ),
    # --- value keys
    _case(
        RELEASE + '    allowed_values: [image, replicas, "image tag"]\n',
        "releases[0].allowed_values[2]",
        6,
        '"image tag" is not a valid value key',
        "allowed-value-space",
    ),
    _case(
        RELEASE + '    allowed_values: ["a..b"]\n',
        "releases[0].allowed_values[0]",
        6,
        "not a valid value key",
        "allowed-value-empty-segment",
    ),
    _case(
        RELEASE + '    allowed_values: ["[abc]"]\n',
        "releases[0].allowed_values[0]",
        6,
        "not a valid value key",
        "allowed-value-bracket-glob",
    ),
    _case(
        RELEASE + '    allowed_values: ["**.tag"]\n',
        "releases[0].allowed_values[0]",
        6,
        "** is not supported",
        "allowed-value-double-star",
    ),
    # --- clusters
    _case(
        RELEASE + "    cluster: prod\n",
        "releases[0].cluster",
        6,
        'unknown cluster "prod": there is no clusters: section',
        "unknown-cluster-implicit",
    ),
    _case(
        RELEASE + "    cluster: prd\nclusters: {prod: {}, staging: {}}\n",
        "releases[0].cluster",
        6,
        'unknown cluster "prd" (did you mean "prod"?)',
        "unknown-cluster-suggest",
    ),
    _case(
        RELEASE + "clusters: {prod: {}, staging: {}}\n",
        "releases[0].cluster",
        2,
        "several clusters (prod, staging)",
        "cluster-missing-with-several",
    ),
    _case(RELEASE + "clusters: {}\n", "clusters", 6, "no clusters", "clusters-empty"),
    _case(RELEASE + "clusters: {Prod_1: {}}\n", "clusters.Prod_1", 6, "cluster name", "cluster-name-invalid"),
    _case(
        RELEASE + "clusters: {prod: {kubeconfg: /x}}\n",
        "clusters.prod.kubeconfg",
        6,
        'did you mean "kubeconfig"',
        "cluster-unknown-key",
    ),
    _case(
        RELEASE + "leader_election: {cluster: nope}\n",
        "leader_election.cluster",
        6,
        'unknown cluster "nope"',
        "leader-unknown-cluster",
    ),
    _case(
        RELEASE + "defaults: {cluster: nope}\n",
        "defaults.cluster",
        6,
        'unknown cluster "nope"',
        "defaults-unknown-cluster",
    ),
    # --- releases against each other
    _case(
        RELEASE + "  - name: shop\n    chart: ./other\n    channel: C0123ABC\n    deployers: ['*']\n",
        "releases[1]",
        6,
        "the same release as line 2",
        "duplicate-target",
    ),
    _case(
        RELEASE + "    environment: staging\n  - name: shop\n    namespace: prod\n    chart: x\n"
        "    channel: C0123ABC\n    deployers: ['*']\n",
        "releases[1].environment",
        7,
        '"shop" is listed 2 times (lines 2, 7)',
        "same-name-without-environment",
    ),
    _case(
        RELEASE + "    environment: prod\n  - name: shop\n    environment: prod\n    namespace: other\n"
        "    chart: x\n    channel: C0123ABC\n    deployers: ['*']\n",
        "releases[1].environment",
        8,
        'environment "prod" twice (also line 2)',
        "same-name-same-environment",
    ),
    # --- freezes
    _case(
        RELEASE + "freezes:\n  - reason: nothing\n", "freezes[0]", 7, "needs from and to", "freeze-neither"
    ),
    _case(
        RELEASE + "freezes:\n  - from: '2026-12-20T00:00:00Z'\n    to: '2027-01-04T00:00:00Z'\n"
        "    cron: '0 18 * * FRI'\n    duration: 62h\n",
        "freezes[0]",
        7,
        "not both",
        "freeze-both",
    ),
    _case(
        RELEASE + "freezes:\n  - from: '2026-12-20T00:00:00Z'\n",
        "freezes[0].to",
        7,
        "missing: from needs to",
        "freeze-from-without-to",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '0 18 * * FRI'\n",
        "freezes[0].duration",
        7,
        "missing: cron needs duration",
        "freeze-cron-without-duration",
    ),
    _case(
        RELEASE + "freezes:\n  - from: 2026-12-20\n    to: 2027-01-04T00:00:00Z\n",
        "freezes[0].from",
        7,
        "has no time",
        "freeze-date-only",
    ),
    _case(
        RELEASE + "freezes:\n  - from: '2026-12-20T00:00:00'\n    to: '2027-01-04T00:00:00Z'\n",
        "freezes[0].from",
        7,
        "no time zone",
        "freeze-naive-time",
    ),
    _case(
        RELEASE + "freezes:\n  - from: '2027-01-04T00:00:00Z'\n    to: '2026-12-20T00:00:00Z'\n",
        "freezes[0].to",
        8,
        "to must be later than from",
        "freeze-backwards",
    ),
    _case(
        RELEASE + "freezes:\n  - from: 'next friday'\n    to: '2027-01-04T00:00:00Z'\n",
        "freezes[0].from",
        7,
        "is not a date and time",
        "freeze-unparseable-time",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '0 18 * *'\n    duration: 62h\n",
        "freezes[0].cron",
        7,
        "expected 5 fields",
        "cron-four-fields",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '0 25 * * *'\n    duration: 1h\n",
        "freezes[0].cron",
        7,
        "hour field: 25 is out of range 0-23",
        "cron-hour-range",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '0 18 * * FRY'\n    duration: 1h\n",
        "freezes[0].cron",
        7,
        "did you mean FRI?",
        "cron-day-name",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '0 0 31 2 *'\n    duration: 1h\n",
        "freezes[0].cron",
        7,
        "never fires",
        "cron-never-fires",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '*/0 * * * *'\n    duration: 1h\n",
        "freezes[0].cron",
        7,
        "step '0' must be a positive number",
        "cron-step-zero",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '0 0 ? * MON'\n    duration: 1h\n",
        "freezes[0].cron",
        7,
        "Quartz",
        "cron-quartz",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '@fortnightly'\n    duration: 1h\n",
        "freezes[0].cron",
        7,
        "unknown macro",
        "cron-unknown-macro",
    ),
    _case(
        RELEASE + "freezes:\n  - cron: '0 18 * * FRI'\n    duration: forever\n",
        "freezes[0].duration",
        8,
        "invalid duration",
        "freeze-bad-duration",
    ),
    _case(
        RELEASE + "freezes:\n  - environments: [prd]\n    cron: '@daily'\n    duration: 1h\n",
        "freezes[0].environments[0]",
        7,
        'no release has the environment "prd"',
        "freeze-unknown-environment",
    ),
    _case(
        RELEASE + "freezes:\n  - releases: [shp]\n    cron: '@daily'\n    duration: 1h\n",
        "freezes[0].releases[0]",
        7,
        'no release is named "shp" (did you mean "shop"?)',
        "freeze-unknown-release",
    ),
    # --- slack mode, state, secrets
    _case(RELEASE + "slack: {mode: sockets}\n", "slack.mode", 6, 'did you mean "socket"?', "mode-typo"),
    _case(
        RELEASE + "slack: {mode: http, port: null}\n",
        "slack.port",
        6,
        "http mode needs a port",
        "http-mode-without-port",
    ),
    _case(
        RELEASE + "slack: {api_url: 'slack.com/api'}\n",
        "slack.api_url",
        6,
        "is not an http(s) URL",
        "api-url-scheme",
    ),
    _case(
        RELEASE + "slack:\n  commands: {deploy: deploy}\n",
        "slack.commands.deploy",
        7,
        "is not a slash command",
        "command-without-slash",
    ),
    _case(
        RELEASE + "slack:\n  commands: {rollback: /deploy}\n",
        "slack.commands.rollback",
        7,
        "/deploy is both the deploy and the rollback command",
        "command-clash",
    ),
    _case(
        RELEASE + "slack:\n  commands: {deploy: /rollback}\n",
        "slack.commands.deploy",
        7,
        "/rollback is both",
        "command-clash-other-way",
    ),
    _case(
        RELEASE + "slack:\n  signing_secret: abc\n",
        "slack.signing_secret",
        7,
        'secrets never live in this file: remove "signing_secret" and set SLACK_SIGNING_SECRET',
        "signing-secret-key",
    ),
    _case(
        RELEASE + "slack:\n  app_token: abc\n",
        "slack.app_token",
        7,
        "SLACK_APP_TOKEN (socket mode)",
        "app-token-key",
    ),
    _case(
        RELEASE + "slack: {team_id: xoxb-123-456-abc}\n",
        "slack.team_id",
        6,
        "looks like a Slack token",
        "token-as-value",
    ),
    _case(
        RELEASE + "state: {url: 'postgresql://bob:hunter2@db:5432/helmbot'}\n",
        "state.url",
        6,
        "HELMBOT_STATE_PASSWORD",
        "password-in-state-url",
    ),
    _case(
        RELEASE + "state: {url: 'postgresql://bob@db/helmbot?password=hunter2'}\n",
        "state.url",
        6,
        "a password in state.url is refused",
        "password-in-state-url-query",
    ),
    _case(
        RELEASE + "state: {url: 'mysql://db/helmbot'}\n", "state.url", 6, "is not a state URL", "state-scheme"
    ),
    _case(
        RELEASE + "state: {url: 'sqlite://helmbot.db'}\n",
        "state.url",
        6,
        "sqlite:///PATH",
        "sqlite-two-slashes",
    ),
    _case(
        RELEASE + "state: {password: hunter2}\n",
        "state.password",
        6,
        "HELMBOT_STATE_PASSWORD",
        "state-password-key",
    ),
    # --- notices, status rules, log
    _case(
        RELEASE + "notices:\n  routes:\n    - {namespace: pay}\n",
        "notices.routes[0]",
        8,
        "a route needs a channel, a mode",
        "route-without-effect",
    ),
    _case(
        RELEASE + "notices:\n  routes:\n    - {mode: loud}\n",
        "notices.routes[0].mode",
        8,
        "is not one of all, failures, mute",
        "route-bad-mode",
    ),
    _case(
        RELEASE + "notices:\n  routes:\n    - {labels: {'bad key!': x}, mode: mute}\n",
        "notices.routes[0].labels.bad key!",
        8,
        "not a valid label key",
        "route-bad-label-key",
    ),
    _case(
        RELEASE + "    notices: some\n",
        "releases[0].notices",
        6,
        "is not one of all, failures, mute",
        "release-notices",
    ),
    _case(
        RELEASE + "status_rules:\n  - {kind: Certificate, field: status.phase}\n",
        "status_rules[0]",
        7,
        "needs values under current, in_progress or failed",
        "status-rule-empty",
    ),
    _case(
        RELEASE + "status_rules:\n  - {field: status.phase, failed: [Error]}\n",
        "status_rules[0].kind",
        7,
        "missing (e.g. Certificate)",
        "status-rule-no-kind",
    ),
    _case(RELEASE + "log: {level: warn}\n", "log.level", 6, 'did you mean "warning"?', "log-level"),
]


@pytest.mark.parametrize(("text", "path", "line", "fragment"), CASES)
def test_mistake_is_named_with_path_and_line(text: str, path: str, line: int | None, fragment: str) -> None:
    problems = problems_of(text)
    matching = [p for p in problems if p.path == path and p.line == line]
    assert matching, f"no problem at {path} (line {line}); got: {[str(p) for p in problems]}"
    assert any(fragment in p.message for p in matching), [str(p) for p in matching]


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of("""\
        slack:
          mode: sockt
          port: 99999
        releases:
          - name: Shop
            chart: ./charts/shop
            channel: "#deploys"
            deployers: []
            chanel: C1
        log: {format: yaml}
        """)
    assert [(p.path, p.line) for p in problems] == [
        ("slack.mode", 2),
        ("slack.port", 3),
        ("releases[0].name", 5),
        ("releases[0].channel", 7),
        ("releases[0].deployers", 8),
        ("releases[0].chanel", 9),
        ("log.format", 10),
    ]


def test_problem_text_names_path_and_line() -> None:
    problem = problems_of(RELEASE + '    allowed_values: [image, replicas, "image tag"]\n')[0]
    assert str(problem) == (
        'releases[0].allowed_values[2] (line 6): "image tag" is not a valid value key: use '
        "dotted names of letters, digits, '_' and '-', with * or ? as wildcards (e.g. "
        "image.tag, *.image.tag)"
    )


def test_user_message_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(RELEASE + "slack: {mode: x, port: y}\n", source="helmbot.yaml")
    lines = err.value.user_message().splitlines()
    assert lines[0] == "helmbot.yaml: 2 problems in the configuration:"
    assert lines[1].startswith("  slack.mode (line 6): ")
    assert lines[2].startswith("  slack.port (line 6): ")


def test_a_bad_value_does_not_cause_a_second_problem() -> None:
    """An invalid environment leaves the release out of the checks across releases (no "give each an
    environment" on top of "looks like a version")."""
    problems = problems_of(
        RELEASE + "    environment: staging\n  - name: shop\n    environment: '1.2'\n"
        "    namespace: prod\n    chart: x\n    channel: C0123ABC\n    deployers: ['*']\n"
    )
    assert [(p.path, p.line) for p in problems] == [("releases[1].environment", 8)]


@pytest.mark.parametrize(
    "extra",
    ["    protected: true\n    approvers: [bob]\n", "    protected: true\n    approvers: U0123ABC\n"],
    ids=["approver-name", "approvers-not-a-list"],
)
def test_a_bad_approver_is_one_problem(extra: str) -> None:
    problems = problems_of(RELEASE + extra)
    path = "releases[0].approvers" + ("[0]" if "[" in extra else "")
    assert [(p.path, p.line) for p in problems] == [(path, 7)]


@pytest.mark.parametrize("secret", ["xoxb-1111-2222-abcdefgh", "xapp-1-A1-2-abc", "xoxp-9-abc"])
def test_secrets_never_appear_in_problems(secret: str) -> None:
    text = RELEASE + (
        f"slack: {{team_id: {secret}, bot_token: {secret}, api_url: 'https://u:{secret}@x/'}}\n"
        f"state: {{url: 'postgresql://bob:{secret}@db/x'}}\n"
        f"notices: {{default_channel: '{secret}'}}\n"
        f"    \nhelm: {{binary: '{secret}', max_history: '{secret}'}}\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert secret not in err.value.user_message()
    assert secret not in describe_error(err.value)


@pytest.mark.parametrize(
    ("defaults", "path"),
    [("{channel: deploys, deployers: [U0123ABC], cluster: a}", "defaults.channel"),
     ("{channel: C0123ABC, deployers: [U0123ABC], cluster: nope}", "defaults.cluster")],
    ids=["channel", "cluster"],
)
def test_defaults_problem_is_reported_once_not_per_release(defaults: str, path: str) -> None:
    text = f"""\
        clusters: {{a: {{}}, b: {{}}}}
        defaults: {defaults}
        releases:
          - {{name: a, chart: x}}
          - {{name: b, chart: x}}
        """
    problems = problems_of(text)
    assert [(p.path, p.line) for p in problems] == [(path, 2)]
