"""The HelmBot façade: every command and click, its checks, what runs (counted at helm's edge) and what is
recorded. Refusals are clear, name no value, and run nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.app.actions import (
    APPROVAL_PLAN_ACTION,
    APPROVE_ACTION,
    CONFIRM_ACTION,
    LOGS_ACTION,
    REJECT_ACTION,
    ROLLBACK_ACTION,
)
from bot.app.replies import ReplyKind
from bot.app.views import ApprovalView, HelpView, HistoryView, PlanView, PreflightView, StatusView
from tests.app.support import ALICE, BOB, CAROL, DAVE, MALLORY, SRE, T0, Harness, harness


@pytest.fixture
def h() -> Iterator[Harness]:
    yield from harness()


def installed(h: Harness, namespace: str = "shop", *statuses: str) -> None:
    for status in statuses or ("deployed",):
        h.cluster.add(namespace, "shop", status)


# --- /deploy ------------------------------------------------------------------------------------------------


def test_deploy_runs_helm_once_with_who_where_and_request_in_the_description(h: Harness) -> None:
    installed(h)
    reply = h.command("deploy", "shop staging 1.2.0 image.tag=abc web.replicas=3")
    assert reply.kind is ReplyKind.ACCEPTED, reply.text
    assert "started" in reply.text and "C0DEPLOYS" in reply.text
    [(op, call)] = h.helm.runs()
    assert op == "upgrade" and call["version"] == "1.2.0"
    assert call["values"] == {"image.tag": "abc", "web.replicas": "3"}
    record = h.store.get_deploy(reply.data["deploy_id"])
    assert record is not None and record.revision == 2 and record.requested_by == ALICE
    assert (
        ALICE in call["description"]
        and record.id in call["description"]
        and "C0DEPLOYS" in call["description"]
    )
    assert "abc" not in reply.text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("shopp staging", "shop"),  # unknown release: suggests the close name
        ("shop", "environment"),  # ambiguous: which environment
        ("shop qa", "qa"),
        ("shop staging db.password=hunter2", "db.password"),
        ("shop staging image.tag=1 image.tag=2", "twice"),
        ("shop staging --force", "unknown option"),
        ("shop staging 'unbalanced", "quotes"),
        ("<!channel> staging", "not a release name"),
        ("shop staging `rm -rf /`", "unknown option"),
        ("shop staging $(id)", "neither an environment nor a chart version"),
        ("", "name the release"),
        ("shop staging\x00", "control characters"),
    ],
)
def test_bad_deploys_are_refused_clearly_and_run_nothing(h: Harness, text: str, says: str) -> None:
    installed(h)
    reply = h.command("deploy", text)
    assert reply.kind is ReplyKind.REFUSED
    assert says in reply.text, reply.text
    assert "hunter2" not in reply.text
    assert h.helm.calls == []


def test_no_permission_by_user_id_or_group(h: Harness) -> None:
    installed(h)
    refused = h.command("deploy", "shop staging", user=MALLORY)
    assert refused.kind is ReplyKind.REFUSED and "may not deploy" in refused.text
    assert h.helm.runs() == []
    # DAVE is not listed, but is in the SRE group, which is
    accepted = h.command("deploy", "shop staging", user=DAVE, groups=frozenset({SRE}))
    assert accepted.kind is ReplyKind.ACCEPTED, accepted.text


def test_a_second_deploy_is_refused_naming_the_holder_and_since_when(h: Harness) -> None:
    installed(h)
    h.helm.fail = False
    first = h.command("deploy", "shop staging")
    assert first.kind is ReplyKind.ACCEPTED
    h.advance(timedelta(seconds=20))
    second = h.command("deploy", "shop staging", user=BOB)
    assert second.kind is ReplyKind.REFUSED
    assert f"<@{ALICE}>" in second.text and "since 10:00:00 UTC" in second.text, second.text
    assert len(h.helm.runs()) == 1


def test_a_release_stuck_in_pending_offers_the_recovery_as_a_button(h: Harness) -> None:
    installed(h, "shop", "deployed", "deployed", "pending-upgrade")
    reply = h.command("deploy", "shop staging image.tag=2")
    assert reply.kind is ReplyKind.REFUSED
    assert "pending-upgrade" in reply.text and "/rollback shop 2" in reply.text, reply.text
    assert isinstance(reply.card, PreflightView) and reply.card.confirm_label == "Roll back to revision 2"
    assert h.helm.runs() == []
    other = h.click(CONFIRM_ACTION, reply.card.confirm_value, user=BOB)
    assert other.kind is ReplyKind.REFUSED and "only the person who asked" in other.text
    done = h.click(CONFIRM_ACTION, reply.card.confirm_value)
    assert done.kind is ReplyKind.ACCEPTED, done.text
    assert h.helm.runs() == [("rollback", {"target": h.helm.runs()[0][1]["target"], "revision": 2})]
    again = h.click(CONFIRM_ACTION, reply.card.confirm_value)
    assert again.kind is ReplyKind.REFUSED and "already" in again.text
    assert len(h.helm.runs()) == 1


def test_helm_failing_before_a_revision_fails_the_record_with_helms_words(h: Harness) -> None:
    installed(h)
    h.helm.fail = True
    reply = h.command("deploy", "shop staging")
    assert reply.kind is ReplyKind.ACCEPTED
    record = h.store.get_deploy(reply.data["deploy_id"])
    assert (
        record is not None
        and record.status == "failed"
        and "the stand-in said no" in (record.helm_error or "")
    )
    assert h.store.get_lock("default", "shop", "shop") is None  # the next deploy may run


# --- dry run and plans --------------------------------------------------------------------------------------


def test_dry_run_shows_the_plan_and_runs_nothing_until_deploy_this(h: Harness) -> None:
    installed(h)
    h.helm.values[1] = {"image": {"tag": "1"}, "db": {"password": "pw-secret"}}
    reply = h.command("deploy", "shop staging 1.1.0 image.tag=2 --dry-run")
    assert reply.kind is ReplyKind.INFO and isinstance(reply.card, PlanView), reply.text
    text = "\n".join(reply.card.lines)
    assert "1.1.0" in text and "image.tag" in text and "shop-migrate" in text, text
    assert "pw-secret" not in text
    assert h.helm.runs() == []
    assert reply.card.confirm_value and reply.card.confirm_label == "Deploy this"
    done = h.click(CONFIRM_ACTION, reply.card.confirm_value)
    assert done.kind is ReplyKind.ACCEPTED, done.text
    [(_, call)] = h.helm.runs()
    assert call["values"] == {"image.tag": "2"} and call["version"] == "1.1.0"


def test_a_confirmed_dry_run_still_honours_a_freeze_that_began_since(h: Harness) -> None:
    installed(h)
    h.now[0] = datetime(2026, 12, 19, 23, 55, tzinfo=UTC)  # five minutes before the year-end freeze
    reply = h.command("deploy", "shop staging --dry-run")
    assert isinstance(reply.card, PlanView) and reply.card.confirm_label == "Deploy this"
    h.advance(timedelta(minutes=10))
    asked = h.click(CONFIRM_ACTION, reply.card.confirm_value)
    assert asked.kind is ReplyKind.REFUSED, asked.text
    assert "deploy freeze: year-end freeze" in asked.text and "no approvers" in asked.text
    assert h.helm.runs() == []
    during = h.command("deploy", "shop staging --dry-run")
    assert isinstance(during.card, PlanView) and during.card.confirm_label == "Ask for approval"


# --- /rollback ----------------------------------------------------------------------------------------------


def test_rollback_preflight_then_confirm(h: Harness) -> None:
    installed(h, "shop", "deployed", "deployed", "failed")
    h.helm.values = {
        2: {"image": {"tag": "2"}, "db": {"password": "pw-2"}},
        3: {"image": {"tag": "3"}, "db": {"password": "pw-3"}},
    }
    reply = h.command("rollback", "shop staging")
    assert isinstance(reply.card, PreflightView), reply.text
    assert "from revision 3 to 2" in reply.card.title
    text = "\n".join(reply.card.lines)
    assert "image.tag" in text and "shop-restore" in text and "pre-rollback" in text, text
    assert "pw-2" not in text and "pw-3" not in text and "changed (value hidden)" in text
    assert h.helm.runs() == []
    done = h.click(CONFIRM_ACTION, reply.card.confirm_value)
    assert done.kind is ReplyKind.ACCEPTED, done.text
    assert [c[1]["revision"] for c in h.helm.runs()] == [2]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("shop staging 9", "has no revision 9 (stored: 1, 2)"),
        ("shop staging 2", "revision 2 is the current one"),
        ("shop staging two", "unexpected argument"),
    ],
)
def test_bad_rollbacks_are_refused(h: Harness, text: str, says: str) -> None:
    installed(h, "shop", "deployed", "deployed")
    reply = h.command("rollback", text)
    assert reply.kind is ReplyKind.REFUSED and says in reply.text, reply.text
    assert h.helm.runs() == []


def test_rollback_dry_run_has_no_button(h: Harness) -> None:
    installed(h, "shop", "deployed", "deployed")
    reply = h.command("rollback", "shop staging --dry-run")
    assert isinstance(reply.card, PreflightView) and reply.card.confirm_value == ""


# --- buttons on the deploy message --------------------------------------------------------------------------


def test_roll_back_button_rechecks_permission_and_runs_once(h: Harness) -> None:
    installed(h)
    deployed = h.command("deploy", "shop staging")
    deploy_id = deployed.data["deploy_id"]
    h.store.update_deploy(deploy_id, status="failed")
    refused = h.click(ROLLBACK_ACTION, deploy_id, user=MALLORY)
    assert refused.kind is ReplyKind.REFUSED and "may not" in refused.text
    h.store.release_lock("default", "shop", "shop", deploy_id=deploy_id)
    first = h.click(ROLLBACK_ACTION, deploy_id, user=BOB)
    assert first.kind is ReplyKind.ACCEPTED, first.text
    second = h.click(ROLLBACK_ACTION, deploy_id, user=BOB)
    assert second.kind is ReplyKind.REFUSED
    assert [op for op, _ in h.helm.runs()] == ["upgrade", "rollback"]
    assert h.helm.runs()[1][1]["revision"] == 1


def test_a_stale_roll_back_button_runs_nothing_once_the_release_moved_on(h: Harness) -> None:
    installed(h)
    deploy_id = h.command("deploy", "shop staging").data["deploy_id"]
    h.store.update_deploy(deploy_id, status="failed")
    h.store.release_lock("default", "shop", "shop", deploy_id=deploy_id)
    h.cluster.add("shop", "shop")  # revision 3, made since (CI, or another rollback)
    stale = h.click(ROLLBACK_ACTION, deploy_id, user=BOB)
    assert stale.kind is ReplyKind.REFUSED
    assert "moved on (it is at revision 3; this message is about revision 2)" in stale.text
    assert "/rollback shop staging" in stale.text
    assert [op for op, _ in h.helm.runs()] == ["upgrade"]


def test_a_repeated_click_payload_runs_nothing_twice(h: Harness) -> None:
    installed(h)
    deploy_id = h.command("deploy", "shop staging").data["deploy_id"]
    h.store.update_deploy(deploy_id, status="failed")
    h.store.release_lock("default", "shop", "shop", deploy_id=deploy_id)
    actor = {"user_id": BOB, "team_id": "T0"}
    from bot.app.ports import Actor

    first = h.bot.action(ROLLBACK_ACTION, deploy_id, Actor(**actor), request_key="trigger-1:123.4")
    again = h.bot.action(ROLLBACK_ACTION, deploy_id, Actor(**actor), request_key="trigger-1:123.4")
    assert first.kind is ReplyKind.ACCEPTED and again.kind is ReplyKind.REFUSED
    assert "already handled" in again.text
    assert len(h.helm.runs()) == 2


def test_show_logs_is_for_deployers_and_approvers(h: Harness) -> None:
    installed(h)
    deploy_id = h.command("deploy", "shop staging").data["deploy_id"]
    assert h.click(LOGS_ACTION, deploy_id, user=MALLORY).kind is ReplyKind.REFUSED
    assert h.logs_shown == []
    assert h.click(LOGS_ACTION, deploy_id, user=BOB).kind is ReplyKind.ACCEPTED
    assert h.logs_shown == [deploy_id]
    assert h.click(LOGS_ACTION, "nope", user=BOB).kind is ReplyKind.REFUSED


def test_unknown_buttons_and_values_are_refused(h: Harness) -> None:
    for action, value in (
        (ROLLBACK_ACTION, "x" * 5000),
        (CONFIRM_ACTION, "nope"),
        ("helmbot_evil", "1"),
        (APPROVE_ACTION, "nope"),
        (APPROVAL_PLAN_ACTION, ""),
    ):
        assert h.click(action, value).kind is ReplyKind.REFUSED
    assert h.helm.calls == []


# --- protected releases: approvals --------------------------------------------------------------------------


def test_protected_deploy_waits_for_a_second_person(h: Harness) -> None:
    installed(h, "shop-prod")
    reply = h.command("deploy", "shop prod image.tag=9")
    assert reply.kind is ReplyKind.WAITING and "approval" in reply.text
    assert h.helm.runs() == []
    [(channel, card)] = h.cards
    assert channel == "C0PROD" and isinstance(card, ApprovalView) and card.status == "pending"
    approval_id = card.approval_id
    assert card.expires_at == T0 + timedelta(minutes=10)

    plan = h.click(APPROVAL_PLAN_ACTION, approval_id, user=CAROL)
    assert isinstance(plan.card, PlanView) and plan.card.confirm_value == ""  # approvers decide on the card
    assert h.click(APPROVAL_PLAN_ACTION, approval_id, user=MALLORY).kind is ReplyKind.REFUSED

    own = h.click(APPROVE_ACTION, approval_id, user=ALICE)
    assert own.kind is ReplyKind.REFUSED and "second person" in own.text
    stranger = h.click(APPROVE_ACTION, approval_id, user=MALLORY)
    assert stranger.kind is ReplyKind.REFUSED and "not an approver" in stranger.text
    assert h.helm.runs() == []

    approved = h.click(APPROVE_ACTION, approval_id, user=CAROL)
    assert approved.kind is ReplyKind.ACCEPTED and f"approved by <@{CAROL}>" in approved.text
    [(_, call)] = h.helm.runs()
    assert ALICE in call["description"] and call["values"] == {"image.tag": "9"}
    assert h.cards[-1][1].status == "approved" and h.cards[-1][1].decided_by == CAROL
    late = h.click(APPROVE_ACTION, approval_id, user=BOB)
    assert late.kind is ReplyKind.REFUSED and "already approved" in late.text
    assert len(h.helm.runs()) == 1


def test_rejected_and_expired_approvals_run_nothing(h: Harness) -> None:
    installed(h, "shop-prod")
    first = h.command("deploy", "shop prod").data["approval_id"]
    rejected = h.click(REJECT_ACTION, first, user=BOB)
    assert rejected.kind is ReplyKind.ACCEPTED and "rejected" in rejected.text
    assert h.cards[-1][1].status == "rejected"
    assert h.click(APPROVE_ACTION, first, user=CAROL).kind is ReplyKind.REFUSED

    second = h.command("deploy", "shop prod").data["approval_id"]
    h.advance(timedelta(minutes=11))
    assert h.bot.expire_approvals(h.now[0]) == 1
    assert h.cards[-1][1].status == "expired" and h.cards[-1][1].approval_id == second
    late = h.click(APPROVE_ACTION, second, user=CAROL)
    assert late.kind is ReplyKind.REFUSED and "expired" in late.text
    assert h.helm.runs() == []


def test_protected_rollback_confirmed_then_approved(h: Harness) -> None:
    installed(h, "shop-prod", "deployed", "failed")
    preflight = h.command("rollback", "shop prod")
    assert isinstance(preflight.card, PreflightView)
    waiting = h.click(CONFIRM_ACTION, preflight.card.confirm_value)
    assert waiting.kind is ReplyKind.WAITING, waiting.text
    approval_id = waiting.data["approval_id"]
    plan = h.click(APPROVAL_PLAN_ACTION, approval_id, user=CAROL)
    assert isinstance(plan.card, PreflightView) and "to 1" in plan.card.title
    assert h.click(APPROVE_ACTION, approval_id, user=CAROL).kind is ReplyKind.ACCEPTED
    assert [(op, c["revision"]) for op, c in h.helm.runs()] == [("rollback", 1)]


# --- /helmbot -----------------------------------------------------------------------------------------------


def test_status_history_and_help(h: Harness) -> None:
    installed(h)
    h.command("deploy", "shop staging 1.1.0")
    status = h.command("helmbot", "status shop staging")
    assert (
        isinstance(status.card, StatusView) and status.card.revision == 2 and status.card.status == "deployed"
    )
    both = h.command("helmbot", "status shop")
    assert isinstance(both.card, tuple) and len(both.card) == 2
    history = h.command("helmbot", "history shop staging")
    assert isinstance(history.card, HistoryView)
    newest = history.card.lines[0]
    assert newest.revision == 2 and newest.by == ALICE and newest.outcome == "running"
    assert history.card.lines[1].by is None  # made outside helmbot
    help_ = h.command("helmbot", "help", user=MALLORY)
    assert isinstance(help_.card, HelpView) and help_.card.releases == ()
    assert h.command("helmbot", "", user=MALLORY).card == help_.card
    assert h.command("helmbot", "status nothere").kind is ReplyKind.REFUSED


# --- audit --------------------------------------------------------------------------------------------------


def test_every_command_and_click_is_audited_in_the_store_and_as_a_json_log_line(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    installed(h)
    caplog.set_level(logging.INFO, logger="helmbot.app")
    h.command("deploy", "shop staging db.password=hunter2")
    deploy_id = h.command("deploy", "shop staging image.tag=7").data["deploy_id"]
    h.click(LOGS_ACTION, deploy_id, user=MALLORY)
    entries = list(reversed(h.store.audit_entries()))  # oldest first
    assert [(e.actor, e.action, e.outcome) for e in entries] == [
        (ALICE, "/deploy", "refused"),
        (ALICE, "/deploy", "accepted"),
        (MALLORY, LOGS_ACTION, "refused"),
    ]
    assert all(e.target in ("shop", deploy_id) for e in entries)
    lines = [
        r.getMessage().removeprefix("audit ") for r in caplog.records if r.getMessage().startswith("audit ")
    ]
    docs = [json.loads(line) for line in lines]
    assert [(d["actor"], d["action"], d["outcome"]) for d in docs] == [
        (ALICE, "/deploy", "refused"),
        (ALICE, "/deploy", "accepted"),
        (MALLORY, LOGS_ACTION, "refused"),
    ]
    assert all(d["at"].startswith("2026-03-02T10:00") for d in docs)
    everything = json.dumps([e.to_dict() for e in entries]) + caplog.text
    assert "hunter2" not in everything and "image.tag=7" not in everything
