"""The chart's RBAC against what a running bot actually asks Kubernetes for.

Every test in tests/bot already ends with that check (support.BotLauncher.check_rbac: every request the
bot and its helm made, recorded by the stand-in as the chart's ServiceAccount, is allowed by the chart
rendered for that bot's config). This test drives the paths that need the most (a deploy by a user-group
member, a crash-looping upgrade whose pod logs are read, a rollback with its hook) and then shows the other
direction: the default RBAC grants nothing the bot and helm did not use, beyond what `rbac.deployRules`
documents for other charts' kinds.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml

from tests.bot.rbac_check import BOT_USER, denials, render_for
from tests.bot.support import ALICE, CAROL, DEPLOY_CHANNEL, BotLauncher, parents, release, text_of, wait_for
from tests.chart.support import CHART, READ_VERBS
from tests.rbac import Authorizer

DEPLOYERS = "S0DEPLOYERS"
SUCCEEDED, FAILED = "✅", "❌"


def _verdicts(bots: BotLauncher, emoji: str) -> int:
    """Parent messages whose title shows this verdict."""
    return sum(1 for p in parents(bots.slack) if text_of(p).startswith(emoji))


def _resource_key(group: str, resource: str) -> str:
    return f"{group or 'core'}/{resource}"


def test_deploy_failure_and_rollback_need_only_what_the_chart_grants(bots: BotLauncher, namespace: str,
                                                                    sim: Any) -> None:
    bots.slack.add_usergroup(DEPLOYERS, "deployers", [CAROL])
    config = bots.config([release(namespace, deployers=[ALICE, DEPLOYERS])])
    bot = bots.start(config)
    assert bot.command(CAROL, "/deploy", "shop migration.durationSeconds=0.5")[0] == 200
    wait_for(lambda: _verdicts(bots, SUCCEEDED) == 1, "the install to succeed", bot, timeout=90)
    assert bot.command(ALICE, "/deploy", "shop migration.durationSeconds=0.5 web.crash=true")[0] == 200
    wait_for(lambda: _verdicts(bots, FAILED) == 1, "the crash-looping upgrade to fail", bot, timeout=90)
    status, body = bot.command(ALICE, "/rollback", "shop 1")
    assert status == 200 and "Roll back shop" in body, body
    (plan,) = [e for e in bots.slack.ephemerals(DEPLOY_CHANNEL, ALICE) if "Roll back shop" in text_of(e)]
    status, body = bots.slack.click(bot.url, ALICE, DEPLOY_CHANNEL, plan["ts"], "helmbot_confirm")
    assert status == 200, body
    wait_for(lambda: _verdicts(bots, SUCCEEDED) == 2, "the rollback to succeed", bot, timeout=90)
    bot.stop()

    requests = [r for r in bots.requests.snapshot() if r.is_resource]
    assert requests and all(r.user == BOT_USER for r in requests)
    by_client: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for r in requests:
        assert r.namespace == namespace, f"a request outside the release namespace: {r.describe()}"
        kind = _resource_key(r.group, r.resource) + (f"/{r.subresource}" if r.subresource else "")
        by_client[r.client][kind].add(r.verb)
    bot_calls, helm_calls = by_client.pop("OpenAPI-Generator"), by_client.pop("Helm")
    assert not by_client, f"requests from an unexpected client: {dict(by_client)}"

    # the bot itself: list+watch of every kind it tracks, pod logs for the diagnosis, nothing written
    assert bot_calls["core/pods/log"] == {"get"}
    assert all(verbs <= READ_VERBS for verbs in bot_calls.values()), dict(bot_calls)

    out = render_for(config, bots.tmp)
    assert not out.of_kind("ClusterRole") and not out.of_kind("ClusterRoleBinding")
    (rules,) = out.rules_by_namespace().values()
    for rule in rules:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
    authorizer = Authorizer.of(out.objects)
    assert all(authorizer.allows(BOT_USER, r) for r in requests)

    # nothing broader: every kind granted read-only (the tracker's own kinds, not rbac.deployRules) is read
    # by the bot, and every kind helm wrote is one of rbac.deployRules or its release Secrets
    deploy_rules = yaml.safe_load((CHART / "values.yaml").read_text())["rbac"]["deployRules"]
    deploy_kinds = {_resource_key(g, r) for rule in deploy_rules for g in rule["apiGroups"]
                    for r in rule["resources"]}
    granted_reads = {_resource_key(g, r) for rule in rules if set(rule["verbs"]) <= READ_VERBS
                     for g in rule["apiGroups"] for r in rule["resources"]}
    unread = granted_reads - deploy_kinds - set(bot_calls)
    assert not unread, f"granted for reading but never read by the bot: {sorted(unread)}"
    helm_writes = {kind: verbs - READ_VERBS for kind, verbs in helm_calls.items() if verbs - READ_VERBS}
    assert set(helm_writes) <= deploy_kinds | {"core/secrets"}, helm_writes
    # what helm used for the shop chart (ConfigMap, Service, PVC, Deployment, Jobs): a subset of each
    # deploy rule's verbs; `update` of chart objects is there for `helm upgrade --force` and helm 3
    granted = {_resource_key(g, r): set(rule["verbs"]) for rule in deploy_rules for g in rule["apiGroups"]
               for r in rule["resources"]}
    for kind, verbs in helm_calls.items():
        if kind in granted:
            assert verbs <= granted[kind], (kind, verbs)
    assert {"create", "patch", "delete"} <= helm_calls["batch/jobs"], helm_calls["batch/jobs"]

    # and the check bites: without the batch rule helm could not run the hook Jobs (the bot still reads them)
    without_jobs = [rule for rule in deploy_rules if "batch" not in rule["apiGroups"]]
    denied = denials([config], requests, bots.tmp, overrides={"rbac": {"deployRules": without_jobs}})
    assert denied and all(d.startswith("Helm: ") and "batch/jobs" in d for d in denied), denied
    assert any(d.startswith("Helm: create batch/jobs") for d in denied), denied
