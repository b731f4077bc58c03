"""The parent message of a deploy, rendered from summaries a real ReleaseTracker produced: the words people
see per state, the buttons per state, escaping of cluster text, and limits under huge inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.summary import (
    GatedPods,
    JobSummary,
    PhaseSummary,
    TrackSummary,
    VerdictSummary,
    WorkloadSummary,
)
from bot.slack import blocks as b
from bot.slack.render import LOGS_ACTION, PLAN_ACTION, ROLLBACK_ACTION, DeployCard, render_parent
from tests.core import k8s_objects as k
from tests.slack import scenarios as sc
from tests.slack.checks import assert_valid, buttons, texts


@pytest.mark.parametrize("make", sc.ALL, ids=lambda f: f.__name__)
def test_every_summary_of_every_scenario_renders_a_valid_message(make: Callable[[], sc.Recorded]) -> None:
    rec = make()
    for at, summary in rec.summaries:
        assert_valid(render_parent(rec.card, summary, now=at))
    assert_valid(render_parent(rec.card, None, now=rec.card.started_at))


def test_healthy_upgrade_in_progress_shows_phases_the_migration_and_the_pods_waiting_on_it() -> None:
    rec = sc.healthy_upgrade()
    message = render_parent(rec.card, rec.summary_at(k.at(80)), now=k.at(80))
    shown = texts(message)
    assert message.blocks[0]["text"]["text"] == "⏳ Upgrading shop to revision 2"
    assert "Requested by <@U024BE7LH>" in shown
    assert "*Chart*\nshop 1.1.0 → 1.2.0" in shown and "*App version*\n1.4.2 → 1.5.0" in shown
    assert "*Revision*\n1 → 2" in shown
    assert "✅ pre-upgrade hooks · 14s\n⏳ resources and rollout · 1m6s so far" in shown
    assert ("⏳ Job/shop-migrate (Job of the chart) running 1m8s: last line "
            "`applying 0042_add_index &lt;!channel&gt;`") in shown
    assert ("⏸ 3 pods of Deployment/shop-web waiting on Job/shop-migrate, running 1m8s: last line "
            "`applying 0042_add_index &lt;!channel&gt;`") in shown
    assert "⏳ Deployment/shop-web 0/3 ready" in shown
    assert "elapsed 1m20s" in shown
    assert list(buttons(message)) == [LOGS_ACTION]  # no Roll back while it runs
    assert message.text == "⏳ Upgrading shop to revision 2: resources running"
    assert "<!channel>" not in str(message.blocks)


def test_healthy_upgrade_succeeded_keeps_a_quiet_roll_back_behind_a_confirm() -> None:
    rec = sc.healthy_upgrade()
    message = render_parent(rec.card, rec.final, now=rec.now + timedelta(minutes=5))
    assert message.blocks[0]["text"]["text"] == "✅ shop upgraded to revision 2"
    shown = texts(message)
    assert "✅ *Succeeded:* upgrade of shop revision 2 succeeded in 2m50s" in shown
    assert "✅ Job/shop-migrate (Job of the chart) succeeded in 2m30s" in shown
    assert "took 2m50s" in shown  # the verdict's time, not the render time
    assert "⏸" not in shown
    rollback = buttons(message)[ROLLBACK_ACTION]
    assert rollback["text"]["text"] == "Roll back to revision 1" and rollback["value"] == rec.card.deploy_id
    assert "style" not in rollback and "style" not in rollback["confirm"]
    assert "to revision 1" in rollback["confirm"]["text"]["text"]
    assert list(buttons(message)) == [ROLLBACK_ACTION, LOGS_ACTION]


def test_failed_migration_shows_the_reason_and_a_red_roll_back() -> None:
    rec = sc.failing_migration_hook()
    message = render_parent(rec.card, rec.final, now=rec.now)
    assert message.blocks[0]["text"]["text"] == "❌ shop upgrade to revision 2 failed"
    shown = texts(message)
    assert ("❌ *Failed:* Job shop-migrate (pod shop-migrate-m1) container migrate: BackoffLimitExceeded, "
            "exit code 1") in shown
    assert "❌ pre-upgrade hooks · 10s · failed" in shown and "▫️ resources and rollout (pending)" in shown
    assert "`ERROR: duplicate key value violates unique constraint \"orders_pkey\" &lt;!channel&gt; " \
           "&lt;@U123&gt;`" in shown
    assert "❌ *What failed*" in shown
    rollback = buttons(message)[ROLLBACK_ACTION]
    assert rollback["style"] == "danger" and rollback["confirm"]["style"] == "danger"
    assert rollback["confirm"]["title"]["text"] == "Roll back shop?"
    assert rollback["confirm"]["confirm"]["text"] == "Roll back to 1"
    assert message.text.startswith("❌ shop upgrade to revision 2 failed: Job shop-migrate")
    assert "<@U123>" not in str(message.blocks) and "<@U123>" not in message.text


def test_crash_loop_names_the_pod_reason_exit_code_and_restarts() -> None:
    rec = sc.crash_loop()
    shown = texts(render_parent(rec.card, rec.final, now=rec.now))
    assert "CrashLoopBackOff, exit code 1, 2 restarts" in shown
    assert "❌ Deployment/shop-web 0/3 ready · pod shop-web-" in shown


def test_rollback_says_which_revision_it_restores() -> None:
    rec = sc.rollback_with_restore_hook()
    message = render_parent(rec.card, rec.final, now=rec.now)
    assert message.blocks[0]["text"]["text"] == "✅ shop rolled back to revision 1 (revision 3)"
    shown = texts(message)
    assert "Requested by <@U0ONCALL1>" in shown and "*Chart*\nshop 1.2.0 → 1.1.0" in shown
    assert "✅ Job/shop-restore (pre-rollback hook) succeeded in 20s" in shown
    mid = render_parent(rec.card, rec.summary_at(k.at(5)), now=k.at(5))
    assert mid.blocks[0]["text"]["text"] == "⏳ Rolling back shop to revision 1 (revision 3)"


def test_timeout_is_its_own_verdict_with_a_red_roll_back() -> None:
    rec = sc.timeout()
    message = render_parent(rec.card, rec.final, now=rec.now)
    assert message.blocks[0]["text"]["text"] == "⌛ shop upgrade to revision 2 timed out"
    assert "⌛ *Timed out:* timed out after 6m; still in progress: Job/shop-migrate" in texts(message)
    assert buttons(message)[ROLLBACK_ACTION]["style"] == "danger"


def test_no_roll_back_without_a_target_and_no_logs_button_without_logs() -> None:
    rec = sc.failing_migration_hook()
    card = replace(rec.card, rollback_target=None, logs_available=False)
    message = render_parent(card, rec.final, now=rec.now)
    assert buttons(message) == {} and not any(blk["type"] == "actions" for blk in message.blocks)


def test_passive_notice_names_the_actor_as_text_and_escapes_it() -> None:
    rec = sc.healthy_upgrade()
    card = replace(rec.card, origin="passive", requested_by="helm CLI (user alice via kubectl)")
    shown = texts(render_parent(card, rec.final, now=rec.now))
    assert "Upgraded outside helmbot by helm CLI (user alice via kubectl)" in shown
    hostile = replace(card, requested_by="<!channel> via <@U999>")
    message = render_parent(hostile, rec.final, now=rec.now)
    assert "Upgraded outside helmbot by &lt;!channel&gt; via &lt;@U999&gt;" in texts(message)
    assert_valid(message)


def test_catch_up_and_cluster_and_unchanged_app_version() -> None:
    rec = sc.healthy_upgrade()
    card = replace(rec.card, origin="catchup", cluster="prod", release_label="shop (prod)", app_from="1.5.0")
    message = render_parent(card, rec.final, now=rec.now)
    shown = texts(message)
    assert "Requested by <@U024BE7LH> · caught up after a restart" in shown
    assert "*Namespace*\ndefault · cluster prod" in shown and "*App version*\n1.5.0 (unchanged)" in shown
    assert message.blocks[0]["text"]["text"] == "✅ shop (prod) upgraded to revision 2"
    assert "on prod" in buttons(message)[ROLLBACK_ACTION]["confirm"]["text"]["text"]


def test_dry_run_offers_the_plan_and_never_a_roll_back() -> None:
    card = replace(sc.CARD, dry_run=True, logs_available=False)
    message = render_parent(card, None, now=sc.CARD.started_at)
    assert message.blocks[0]["text"]["text"] == "📝 Dry run of shop upgrade: nothing was changed"
    assert list(buttons(message)) == [PLAN_ACTION]
    assert_valid(message)


def test_before_helm_stored_the_release_the_card_says_so() -> None:
    message = render_parent(sc.CARD, None, now=sc.CARD.started_at + timedelta(seconds=3))
    assert "⏳ waiting for Helm to store shop revision 2" in texts(message)
    assert message.blocks[0]["text"]["text"] == "⏳ Upgrading shop to revision 2"


def test_install_and_uninstall_wording() -> None:
    install = replace(sc.CARD, operation="install", revision=1, previous_revision=None, chart_from=None,
                      app_from=None)
    message = render_parent(install, None, now=sc.CARD.started_at)
    assert message.blocks[0]["text"]["text"] == "⏳ Installing shop (revision 1)"
    shown = texts(message)
    assert "*Chart*\nshop 1.2.0" in shown and "*Revision*\n1" in shown
    uninstall = replace(sc.CARD, operation="uninstall")
    assert render_parent(uninstall, None, now=sc.CARD.started_at).blocks[0]["text"]["text"] == \
        "⏳ Uninstalling shop"


# --- huge inputs ------------------------------------------------------------------------------------------


def _huge_summary(workloads: int = 200, failures: int = 500, name: str = "w", jobs: int = 60,
                  line: str = "L" * 100_000 + " <@U1>") -> TrackSummary:
    t0 = k.T0
    return TrackSummary(
        release="shop", namespace="default", revision=7, operation="upgrade", chart="shop-1.2.0",
        app_version="1.5.0", release_status="failed", release_description="x", started_at=t0,
        updated_at=t0 + timedelta(minutes=9),
        phases=(PhaseSummary("pre-upgrade hooks", "pre_hooks", "succeeded", t0, t0 + timedelta(seconds=5)),
                PhaseSummary("resources", "resources", "failed", t0 + timedelta(seconds=5)),
                PhaseSummary("post-upgrade hooks", "post_hooks", "pending")),
        workloads=tuple(WorkloadSummary("Deployment", f"{name}-{i}", "failed" if i % 7 == 0 else "current",
                                        "CrashLoopBackOff <!channel> " + "r" * 3000, 1, 3)
                        for i in range(workloads)),
        jobs=tuple(JobSummary("Job", f"{name}-job-{i}", True, "pre-upgrade hooks", "in_progress",
                              last_log_line=line, started_at=t0) for i in range(jobs)),
        gated=tuple(GatedPods(f"Deployment/{name}-{i}", f"{name}-job-{i}", tuple(f"p{j}" for j in range(50)),
                              t0) for i in range(min(jobs, 40))),
        warnings=tuple(f"warning {i} <!here> " + "w" * 500 for i in range(300)),
        failures=tuple(f"Pod {name}-{i}: CrashLoopBackOff & <!channel> " + "f" * 800
                       for i in range(failures)),
        verdict=VerdictSummary("failed", "reason " * 2000 + "<!everyone>", t0 + timedelta(minutes=9),
                               not_judged=tuple(f"Certificate/c{i} (not watched)" for i in range(300))),
    )


def test_two_hundred_workloads_five_hundred_failures_and_huge_lines_stay_within_every_limit() -> None:
    card = replace(sc.CARD, release_label="shop-" + "x" * 400, namespace="n" * 300, cluster="c" * 300,
                   requested_by="someone " * 500, description="d" * 10_000, chart_from="c-1.0.0" + "x" * 3000,
                   chart_to="c-2.0.0", deploy_id="d" * 3000)
    message = render_parent(card, _huge_summary(), now=k.at(600))
    assert_valid(message)
    shown = texts(message)
    assert "more" in shown  # "… and N more" where the lists were cut
    assert b.slack_len(message.blocks[0]["text"]["text"]) <= 150
    assert "<!channel>" not in texts(message) and "<!everyone>" not in message.text
    workloads = next(blk["text"]["text"] for blk in message.blocks
                     if blk.get("text", {}).get("text", "").startswith("*Workloads*"))
    assert workloads.splitlines()[1].startswith("❌ Deployment/w-0 ")  # failed ones first
    assert workloads.splitlines()[-1].startswith("… and ")


def test_long_release_names_are_cut_in_the_header_but_kept_whole_in_mentions() -> None:
    card = replace(sc.CARD, release_label="a-very-long-release-name-" * 10)
    message = render_parent(card, sc.healthy_upgrade().final, now=k.at(200))
    assert message.blocks[0]["text"]["text"].endswith("…")
    assert "<@U024BE7LH>" in texts(message)
    assert_valid(message)


# --- property: arbitrary text in every field still renders a valid message ----------------------------------

PIECES = ["<!channel>", "<@U1>", "&", "```", "*", "\n", "🚀", "x" * 700, "\x1b[1m", " "]
TEXT = st.one_of(st.text(max_size=200), st.lists(st.sampled_from(PIECES), max_size=30).map("".join))


@settings(max_examples=60, deadline=None)
@given(label=TEXT, namespace=TEXT, who=TEXT, description=TEXT, chart=TEXT, reason=TEXT, name=TEXT,
       line=TEXT, operation=st.sampled_from(["install", "upgrade", "rollback", "uninstall", "", "weird"]),
       origin=st.sampled_from(["slack", "passive", "catchup", "?"]),
       outcome=st.sampled_from([None, "succeeded", "failed", "timed_out", "odd"]))
def test_arbitrary_text_never_makes_an_invalid_parent(
    label: str, namespace: str, who: str, description: str, chart: str, reason: str, name: str, line: str,
    operation: str, origin: str, outcome: str | None,
) -> None:
    card = DeployCard(deploy_id=name or "d", release_label=label, namespace=namespace, operation=operation,
                      origin=origin, requested_by=who, started_at=k.T0, revision=3, cluster=namespace or None,
                      chart_from=chart, chart_to=chart + "-2", app_from=chart, app_to=reason,
                      description=description, rollback_target=2, logs_available=True)
    summary = replace(
        _huge_summary(workloads=3, failures=3, name=name, jobs=2, line=line),
        warnings=(line,), failures=(reason,),
        verdict=None if outcome is None else VerdictSummary(outcome, reason, k.at(60), (line,)),
    )
    message = render_parent(card, summary, now=k.at(30))
    assert_valid(message)  # no `<!channel>` in any mrkdwn (plain_text, as in the confirm dialog, is inert)
    assert "<!channel>" not in message.text


def test_an_approved_deploy_names_its_approver_and_nothing_else_is_a_mention() -> None:
    rec = sc.healthy_upgrade()
    card = replace(rec.card, approved_by="U0CAROL")
    shown = texts(render_parent(card, rec.summary_at(k.at(80)), now=k.at(80)))
    assert "Requested by <@U024BE7LH> · approved by <@U0CAROL>" in shown
    odd = texts(render_parent(replace(rec.card, approved_by="<!channel>"), None, now=k.at(1)))
    assert "<!channel>" not in odd and "approved by &lt;!channel&gt;" in odd
