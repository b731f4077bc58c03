"""Slack flows end to end, one bot process for the module: signed requests from the Slack stand-in, `helmbot
run` in HTTP mode, the real helm against the Kubernetes stand-in.

Every test has its own release environment (its own namespace and channel), so the tests share the process
without sharing a release, a lock or a thread.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.sim.slack import SlackStandIn
from bot.store import open_store
from tests.bot.support import (
    ALICE,
    BOB,
    BOT_USER,
    CAROL,
    MALLORY,
    BotLauncher,
    BotProcess,
    buttons,
    history,
    parents,
    release,
    text_of,
    wait_for,
    workspace,
)
from tests.e2e.support import CHARTS, SHOP

ENVIRONMENTS = ("fail", "lock", "storm", "guard", "manual", "stuck", "prod")
HAZARD_V1, HAZARD_V2 = str(CHARTS / "hazard" / "v1"), str(CHARTS / "hazard" / "v2")
FAST = ("migration.durationSeconds=0.3", "backup.durationSeconds=0.2", "restore.durationSeconds=0.3")
ALLOWED = ["web.*", "migration.*", "backup.*", "restore.*"]
FAIL_LINE = 'ERROR: relation "orders" already exists'


@dataclass
class Flows:
    bot: BotProcess
    slack: SlackStandIn
    namespaces: dict[str, str]
    state_url: str

    def channel(self, environment: str) -> str:
        return f"C0{environment.upper()}"

    def deploy(self, user: str, environment: str, *args: str) -> tuple[int, str]:
        text = " ".join(("shop", environment, *args))
        return self.bot.command(user, "/deploy", text, channel=self.channel(environment))

    def parents(self, environment: str) -> list[dict[str, Any]]:
        return parents(self.slack, self.channel(environment))

    def thread(self, environment: str, parent: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            m for m in self.slack.thread(self.channel(environment), parent["ts"]) if m["ts"] != parent["ts"]
        ]

    def finished_parent(self, environment: str, index: int, word: str, timeout: float = 60) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            all_parents = self.parents(environment)
            if len(all_parents) > index and word in text_of(all_parents[index]):
                return all_parents[index]
            return None

        return wait_for(found, f"parent {index} of {environment} to say {word}", self.bot, timeout=timeout)

    def wait_thread(self, environment: str, parent: dict[str, Any], words: str) -> list[dict[str, Any]]:
        def found() -> list[dict[str, Any]] | None:
            replies = self.thread(environment, parent)
            return replies if any(words in text_of(m) for m in replies) else None

        return wait_for(found, f"{words!r} in the thread of {environment}", self.bot, timeout=30)

    def click(self, user: str, environment: str, message: dict[str, Any], action_id: str) -> tuple[int, str]:
        return self.slack.click(self.bot.url, user, self.channel(environment), message["ts"], action_id)

    def ask(self, user: str, environment: str, command: str, text: str) -> str:
        """A command's whole answer as the user reads it: the ack, or what followed at its response_url
        when the ack said "working on it"."""
        seen = len(self.slack.responses)
        status, body = self.bot.command(user, command, text, channel=self.channel(environment))
        assert status == 200, body
        if "working on it" not in body:
            return json.dumps(json.loads(body), ensure_ascii=False)
        later = wait_for(lambda: self.slack.responses[seen:], f"the answer to {command} {text}", self.bot)
        return json.dumps(later[0].payload, ensure_ascii=False)

    def ephemeral_with(self, user: str, environment: str, action_id: str) -> dict[str, Any]:
        """The newest ephemeral shown to `user` that has a button `action_id`."""
        shown = [e for e in self.slack.ephemerals(self.channel(environment), user) if action_id in buttons(e)]
        assert shown, self.slack.ephemerals(self.channel(environment), user)
        return shown[-1]

    def answers_since(self, seen: int, words: str) -> list[str]:
        def found() -> list[str] | None:
            texts = [json.dumps(r.payload) for r in self.slack.responses[seen:]]
            return texts if any(words in t for t in texts) else None

        return wait_for(found, f"an answer with {words!r}", self.bot, timeout=30)


@pytest.fixture(scope="module")
def flows(sim: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flows]:
    tmp = tmp_path_factory.mktemp("slack-flows")
    with SlackStandIn() as slack, sim.cluster.requests.recording(user=BOT_USER) as requests:
        workspace(slack)
        namespaces: dict[str, str] = {}
        for environment in (*ENVIRONMENTS, "hazard"):
            name = f"flows-{environment}-{secrets.token_hex(3)}"
            sim.store.create("/namespaces", {"metadata": {"name": name}})
            namespaces[environment] = name
            slack.add_channel(f"C0{environment.upper()}", environment, members=(ALICE, BOB, CAROL, MALLORY))
        # releases that need a good revision to roll back to are installed before the bot starts, so the
        # bot only remembers them (no passive notice)
        sets = [a for v in FAST for a in ("--set", v)]
        for environment in ("fail", "manual", "stuck"):
            sim.helm("install", "shop", SHOP, "-n", namespaces[environment], "--set", "web.replicas=1",
                     *sets, "--wait", "--timeout", "60s")  # fmt: skip
        sim.helm("install", "hazard", HAZARD_V1, "-n", namespaces["hazard"], "--wait", "--timeout", "60s")
        launcher = BotLauncher(tmp, sim, slack, requests)
        releases = [
            release(namespaces[env], environment=env, channel=f"C0{env.upper()}", allowed_values=ALLOWED)
            for env in ENVIRONMENTS
        ]
        releases[ENVIRONMENTS.index("prod")].update(protected=True, approvers=[CAROL])
        releases.append(
            {
                "name": "hazard",
                "namespace": namespaces["hazard"],
                "chart": HAZARD_V2,
                "channel": "C0HAZARD",
                "deployers": [ALICE],
            }
        )
        config = launcher.config(releases)
        bot = launcher.start(config)
        try:
            yield Flows(bot, slack, namespaces, config["state"]["url"])
        finally:
            launcher.close()
        launcher.check_permissions()


def test_failing_migration_then_roll_back_from_the_button(flows: Flows, sim: Any) -> None:
    status, body = flows.deploy(ALICE, "fail", "migration.fail=true", "web.replicas=1", *FAST)
    assert status == 200 and "started" in body, body
    failed = flows.finished_parent("fail", 0, "Failed")
    flows.wait_thread("fail", failed, "Rollout timeline")
    thread = [text_of(m) for m in flows.thread("fail", failed)]
    assert any(FAIL_LINE in r and "shop-migrate" in r for r in thread), thread  # the job's log line
    assert any("exit code 1" in r for r in thread), thread
    channel = flows.slack.messages(flows.channel("fail"), include_replies=False)
    broadcasts = [m for m in channel if m.get("subtype") == "thread_broadcast"]
    assert len(broadcasts) == 1 and "failed" in text_of(broadcasts[0]), broadcasts  # the final failure
    failed = flows.parents("fail")[0]
    assert "helmbot_rollback" in buttons(failed), json.dumps(failed["blocks"])[-3000:]
    rollback = buttons(failed)["helmbot_rollback"]
    assert rollback["style"] == "danger" and rollback["confirm"]["style"] == "danger", rollback
    assert "revision 1" in rollback["text"]["text"]
    assert history(sim, flows.namespaces["fail"])[-1]["status"] == "failed"

    # Show logs: the failing container's tail, in the thread
    before = len(flows.thread("fail", failed))
    status, _ = flows.click(BOB, "fail", failed, "helmbot_logs")
    assert status == 200
    wait_for(lambda: len(flows.thread("fail", failed)) > before, "the logs in the thread", flows.bot)
    assert FAIL_LINE in text_of(flows.thread("fail", failed)[-1])

    # Roll back, twice (a double click): one rollback
    status, _ = flows.click(BOB, "fail", failed, "helmbot_rollback")
    assert status == 200
    status, _ = flows.click(BOB, "fail", failed, "helmbot_rollback")
    assert status == 200
    rolled = flows.finished_parent("fail", 1, "Succeeded")
    flows.wait_thread("fail", rolled, "Rollout timeline")
    assert "rolled back to revision 1" in text_of(rolled), text_of(rolled)
    assert f"<@{BOB}>" in text_of(rolled)
    replies = [text_of(m) for m in flows.thread("fail", rolled)]
    assert any("shop-restore" in r for r in replies), replies  # the pre-rollback restore hook ran
    revisions = history(sim, flows.namespaces["fail"])
    assert [r["revision"] for r in revisions] == [1, 2, 3], revisions
    assert revisions[-1]["status"] == "deployed" and revisions[-1]["description"] == "Rollback to 1"
    answers = [json.dumps(r.payload) for r in flows.slack.responses]
    assert any("already started" in a for a in answers), answers  # the second click was told; nothing ran
    assert len(flows.parents("fail")) == 2

    # a stale click on the old message, now that the release has moved on: nothing runs
    seen = len(flows.slack.responses)
    status, _ = flows.click(ALICE, "fail", failed, "helmbot_rollback")
    assert status == 200
    wait_for(lambda: len(flows.slack.responses) > seen, "an answer to the stale click", flows.bot)
    assert "moved on" in json.dumps(flows.slack.responses[-1].payload)
    assert len(history(sim, flows.namespaces["fail"])) == 3


def test_second_deploy_during_the_first_is_refused_naming_the_holder(flows: Flows) -> None:
    status, body = flows.deploy(ALICE, "lock", "migration.durationSeconds=4", "web.replicas=1")
    assert status == 200 and "started" in body, body
    status, body = flows.deploy(BOB, "lock", "web.replicas=2")
    assert status == 200
    assert "in progress" in body and f"<@{ALICE}>" in body and "since" in body, body
    flows.finished_parent("lock", 0, "Succeeded")
    assert len(flows.parents("lock")) == 1


def test_forged_and_stale_requests_get_401(flows: Flows, sim: Any) -> None:
    url = flows.bot.url
    channel = flows.channel("guard")
    status, _ = flows.slack.slash_command(url, ALICE, channel, "/deploy", "shop guard", forge_signature=True)
    assert status == 401
    status, _ = flows.slack.slash_command(url, ALICE, channel, "/deploy", "shop guard", timestamp_skew=-301)
    assert status == 401
    assert sim.helm("history", "shop", "-n", flows.namespaces["guard"], check=False).returncode != 0
    assert flows.parents("guard") == []


def test_user_not_in_deployers_is_refused(flows: Flows, sim: Any) -> None:
    status, body = flows.deploy(MALLORY, "guard")
    assert status == 200
    assert "may not deploy" in body, body
    assert sim.helm("history", "shop", "-n", flows.namespaces["guard"], check=False).returncode != 0


def test_disallowed_key_is_refused_without_echo(flows: Flows, sim: Any) -> None:
    secret = "hunter2-" + secrets.token_hex(4)
    status, body = flows.deploy(ALICE, "guard", f"db.password={secret}")
    assert status == 200
    assert "db.password" in body and "not allowed" in body, body
    assert secret not in body
    assert secret not in flows.bot.logs()
    assert sim.helm("history", "shop", "-n", flows.namespaces["guard"], check=False).returncode != 0
    store = open_store(flows.state_url)
    try:
        entries = store.audit_entries(limit=200)
    finally:
        store.close()
    assert secret not in json.dumps([e.to_dict() for e in entries])
    refused = [e for e in entries if e.action == "/deploy" and e.outcome == "refused" and e.actor == ALICE]
    assert refused, entries
    lines = [line.split("audit ", 1)[1] for line in flows.bot.logs().splitlines() if " audit {" in line]
    audited = [json.loads(line) for line in lines]
    assert {"actor": ALICE, "action": "/deploy", "outcome": "refused"}.items() <= audited[-1].items(), audited


def test_rate_limit_storm_still_delivers_every_message_in_order(flows: Flows) -> None:
    flows.slack.storm(3)
    try:
        status, body = flows.deploy(ALICE, "storm", "web.replicas=1", *FAST)
        assert status == 200 and "started" in body, body
        parent = flows.finished_parent("storm", 0, "Succeeded", timeout=90)
        flows.wait_thread("storm", parent, "Rollout timeline")

        def all_sent() -> bool:
            store = open_store(flows.state_url)
            try:
                return store.outbox_depth() == 0
            finally:
                store.close()

        wait_for(all_sent, "the outbox to drain", flows.bot, timeout=60)
    finally:
        flows.slack.clear_faults()
    assert any(c.status == 429 for c in flows.slack.calls), "the storm hit the bot"
    keys = [
        (m.get("metadata") or {}).get("event_payload", {}).get("key") for m in flows.thread("storm", parent)
    ]
    assert all(keys) and len(keys) == len(set(keys)), keys  # every reply once
    queued = outbox_keys(flows.state_url, _deploy_id(parent), kind="reply")
    assert keys == queued  # in the order the bot queued them
    assert "timeline" in keys[-1]


def _deploy_id(parent: dict[str, Any]) -> str:
    key = str((parent.get("metadata") or {}).get("event_payload", {}).get("key"))
    assert key.startswith("parent:"), parent
    return key.removeprefix("parent:")


def outbox_keys(state_url: str, deploy_id: str, *, kind: str) -> list[str]:
    """The outbox keys of one deploy's messages of a kind, in the order the bot queued them."""
    path = state_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT key FROM outbox WHERE deploy_id = ? AND kind = ? ORDER BY seq", (deploy_id, kind)
        ).fetchall()
    return [str(row[0]) for row in rows]


def test_rollback_preflight_confirm_then_status_and_history(flows: Flows, sim: Any) -> None:
    _, body = flows.deploy(ALICE, "manual", "web.replicas=2", *FAST)
    assert "started" in body, body
    flows.finished_parent("manual", 0, "Succeeded")
    preflight = flows.ask(BOB, "manual", "/rollback", "shop manual")
    assert "from revision 2 to 1" in preflight, preflight
    assert "web.replicas" in preflight and "shop-restore" in preflight and "pre-rollback" in preflight
    assert len(history(sim, flows.namespaces["manual"])) == 2  # a preflight runs nothing
    card = flows.ephemeral_with(BOB, "manual", "helmbot_confirm")
    assert buttons(card)["helmbot_confirm"]["style"] == "danger"
    assert flows.click(BOB, "manual", card, "helmbot_confirm")[0] == 200
    rolled = flows.finished_parent("manual", 1, "Succeeded")
    assert "rolled back to revision 1" in text_of(rolled) and f"<@{BOB}>" in text_of(rolled)
    flows.wait_thread("manual", rolled, "shop-restore")
    assert [r["status"] for r in history(sim, flows.namespaces["manual"])] == ["superseded"] * 2 + [
        "deployed"
    ]

    unknown = flows.ask(BOB, "manual", "/rollback", "shop manual 42")
    assert "has no revision 42" in unknown, unknown
    status_text = flows.ask(MALLORY, "manual", "/helmbot", "status shop manual")
    assert "*Revision*\\n3" in status_text and "deployed" in status_text, status_text
    history_text = flows.ask(MALLORY, "manual", "/helmbot", "history shop manual")
    assert "*3* deployed" in history_text and f"by <@{BOB}>" in history_text, history_text
    assert "*2* superseded" in history_text and f"by <@{ALICE}>" in history_text
    help_text = flows.ask(MALLORY, "manual", "/helmbot", "help")
    assert "/deploy RELEASE" in help_text and "/rollback RELEASE" in help_text


def test_a_release_stuck_in_pending_upgrade_is_refused_with_the_recovery_button(
    flows: Flows, sim: Any, tmp_path: Path
) -> None:
    namespace = flows.namespaces["stuck"]
    slow = ("--set", "migration.durationSeconds=120", "--set", "web.replicas=1", "--timeout", "5m")
    helm = sim.popen("helm", "upgrade", "shop", SHOP, "-n", namespace, *slow, output=tmp_path / "helm.log")
    try:
        wait_for(
            lambda: history(sim, namespace)[-1]["status"] == "pending-upgrade", "helm to start", flows.bot
        )
    finally:
        helm.kill()  # an interrupted helm run: the release stays pending-upgrade
        helm.wait(10)
    refused = flows.ask(ALICE, "stuck", "/deploy", "shop stuck web.replicas=2")
    assert "pending-upgrade" in refused and "roll back to revision 1" in refused.lower(), refused
    card = flows.ephemeral_with(ALICE, "stuck", "helmbot_confirm")
    assert flows.click(ALICE, "stuck", card, "helmbot_confirm")[0] == 200
    wait_for(lambda: history(sim, namespace)[-1]["status"] == "deployed", "the recovery rollback", flows.bot)
    assert history(sim, namespace)[-1]["description"] == "Rollback to 1"
    again = flows.ask(ALICE, "stuck", "/deploy", "shop stuck web.replicas=1 " + " ".join(FAST))
    assert "started" in again or "in progress" in again, again  # no longer stuck


def test_protected_release_needs_a_second_person(flows: Flows, sim: Any) -> None:
    waiting = flows.ask(ALICE, "prod", "/deploy", "shop prod web.replicas=1 " + " ".join(FAST))
    assert "needs an approval" in waiting, waiting

    def card() -> dict[str, Any] | None:
        found = [m for m in flows.parents("prod") if "helmbot_approve" in buttons(m)]
        return found[0] if found else None

    approval = wait_for(card, "the approval card", flows.bot)
    assert f"<@{CAROL}>" in text_of(approval)
    seen = len(flows.slack.responses)
    assert flows.click(ALICE, "prod", approval, "helmbot_approve")[0] == 200
    flows.answers_since(seen, "second person")
    assert flows.click(CAROL, "prod", approval, "helmbot_approval_plan")[0] == 200
    plan = flows.answers_since(seen, "pre-install hooks")
    assert any("shop-migrate" in p for p in plan), plan
    assert sim.helm("history", "shop", "-n", flows.namespaces["prod"], check=False).returncode != 0
    assert flows.click(CAROL, "prod", approval, "helmbot_approve")[0] == 200
    flows.answers_since(seen, "approved by")
    deployed = wait_for(
        lambda: [m for m in flows.parents("prod") if "Succeeded" in text_of(m)], "the deploy", flows.bot
    )
    assert f"Requested by <@{ALICE}> · approved by <@{CAROL}>" in text_of(deployed[0])
    decided = wait_for(
        lambda: "Approved" in text_of(flows.slack.message(flows.channel("prod"), approval["ts"]) or {}),
        "the card to say Approved",
        flows.bot,
    )
    assert decided
    assert ALICE in history(sim, flows.namespaces["prod"])[-1]["description"]


def test_dry_run_shows_the_plan_with_hook_hazards(flows: Flows, sim: Any) -> None:
    plan = flows.ask(ALICE, "hazard", "/deploy", "hazard --dry-run")
    assert "1.0.0 → 2.0.0" in plan, plan
    assert "hazard-config" in plan and "Hazards" in plan, plan
    assert "Deploy this" in plan
    assert len(history(sim, flows.namespaces["hazard"], release="hazard")) == 1  # nothing ran
