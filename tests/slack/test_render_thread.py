"""Thread replies (milestones only, the final failure broadcast), the closing timeline, and logs on request,
from events a real ReleaseTracker emitted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.events import EventType, TrackEvent
from bot.core.summary import ResourceTimeline, TimelinePoint
from bot.slack import blocks as b
from bot.slack.render import (
    LogFile,
    SlackMessage,
    render_logs_reply,
    render_thread_reply,
    render_timeline_reply,
)
from tests.core import k8s_objects as k
from tests.slack import scenarios as sc
from tests.slack.checks import assert_valid, texts


def replies(rec: sc.Recorded) -> list[tuple[TrackEvent, SlackMessage]]:
    """Every reply of a deploy, rendered as the delivery does (each event knows the ones before it)."""
    out = []
    for index, event in enumerate(rec.events):
        message = render_thread_reply(rec.card, event, now=event.at, earlier=rec.events[:index])
        assert_valid(message)
        if message is not None:
            out.append((event, message))
    return out


def event(etype: EventType, line: str = "m", *, subject: str | None = None, phase: str | None = None,
          **data: Any) -> TrackEvent:
    return TrackEvent(etype, k.at(100), "shop", k.NAMESPACE, 2, line, phase=phase, subject=subject, data=data)


def test_a_healthy_upgrade_replies_with_milestones_only() -> None:
    rec = sc.healthy_upgrade()
    got = [(e.type.value, m.text) for e, m in replies(rec)]
    assert got == [
        ("resource_ready", "✅ Job/shop-db-backup succeeded in 9s"),
        ("phase_finished", "✅ pre-upgrade hooks finished in 14s"),
        ("pods_gated", "⏸ 3 pods of shop-web waiting on shop-migrate, running 2s"),
        ("resource_ready", "✅ Job/shop-migrate succeeded in 2m30s"),
        ("phase_finished", "✅ resources finished in 2m36s"),
        ("verdict", "✅ shop upgraded to revision 2: upgrade of shop revision 2 succeeded in 2m50s"),
    ]
    assert not any(m.broadcast for _, m in replies(rec))
    silent = {e.type for e in rec.events} - {e.type for e, _ in replies(rec)}
    assert silent == {EventType.TRACKING_STARTED, EventType.PHASE_STARTED, EventType.RESOURCE_PROGRESS,
                      EventType.LOG_LINES}


def test_workload_ready_is_on_the_card_not_in_the_thread() -> None:
    ready = event(EventType.RESOURCE_READY, "Deployment/shop-web is ready (3/3)",
                  subject="Deployment/shop-web")
    assert render_thread_reply(sc.CARD, ready, now=k.at(100)) is None


def test_gated_pods_are_told_the_first_time_then_every_five_minutes_of_the_job() -> None:
    def gated(running: float | None, heartbeat: bool, job: str | None = "shop-migrate") -> str | None:
        e = event(EventType.PODS_GATED, "3 pods of shop-web waiting on shop-migrate", job=job, count=3,
                  pods=["a", "b", "c"], job_running_seconds=running, heartbeat=heartbeat)
        message = render_thread_reply(sc.CARD, e, now=k.at(100))
        return None if message is None else message.text

    assert gated(2, False) == "⏸ 3 pods of shop-web waiting on shop-migrate"
    told = [running for running in range(62, 1900, 61) if gated(running, True)]
    assert told == [306, 611, 916, 1221, 1526, 1831]  # once per 5 minutes whatever the heartbeat's phase
    assert gated(None, False) is None  # pods draining after the Job finished: its own reply said so
    assert gated(None, False, job=None) == "⏸ 3 pods of shop-web waiting on shop-migrate"


def test_a_hook_nearing_helms_timeout_says_how_long_is_left() -> None:
    rec = sc.timeout()
    [(_, near)] = [(e, m) for e, m in replies(rec) if e.type is EventType.HOOK_NEARING_TIMEOUT]
    assert near.text == ("⏰ hook shop-migrate has been running 4m4s of helm's 5m timeout: Helm gives up in "
                         "about 56s and marks the release failed")


def test_a_failing_migration_replies_with_its_log_and_broadcasts_the_verdict() -> None:
    rec = sc.failing_migration_hook()
    got = replies(rec)
    assert [e.type.value for e, _ in got] == ["failure", "verdict"]  # the Job's pod is not told twice
    failure, verdict = got[0][1], got[1][1]
    shown = texts(failure)
    assert shown.startswith("❌ *Job/shop-migrate* failed: *BackoffLimitExceeded*\n"
                            "pod `shop-migrate-m1` · container `migrate` · exit code 1\n"
                            "> Job has reached the specified backoff limit")
    assert ("Last 3 log lines of `shop-migrate-m1/migrate`:\n```\napplying 0041_orders\napplying "
            "0042_add_index\nERROR: duplicate key value violates unique constraint \"orders_pkey\" "
            "&lt;!channel&gt; &lt;@U123&gt;\n```") in shown
    assert not failure.broadcast and failure.file is None
    assert verdict.broadcast
    assert verdict.text.startswith("❌ shop upgrade to revision 2 failed: Job shop-migrate")
    assert "ERROR: duplicate key" in texts(verdict)  # the real reason, in the channel
    assert "*Roll back to revision 1* is on the deploy message" in texts(verdict)


def test_without_history_the_failed_jobs_pod_is_told_as_well() -> None:
    rec = sc.failing_migration_hook()
    # The tracker reports a failed Job's container once (the Job's FAILURE carries its pod); a pod failure
    # of its own, as a producer without that merge would send it:
    job_failure = next(e for e in rec.of_type(EventType.FAILURE) if e.data["kind"] == "Job")
    data = {**job_failure.data, "kind": "Pod", "name": job_failure.data["pod"], "reason": "Error",
            "message": "", "subject": "Job/shop-migrate"}
    pod_failure = replace(job_failure, subject="Job/shop-migrate", data=data)
    message = render_thread_reply(rec.card, pod_failure, now=pod_failure.at)
    assert message is not None and "*Pod/shop-migrate-m1* failed: *Error*" in texts(message)


def test_a_crash_loop_replies_with_restarts_and_the_panic() -> None:
    rec = sc.crash_loop()
    [(_, failure), (_, verdict)] = replies(rec)
    shown = texts(failure)
    assert "failed: *CrashLoopBackOff*\ncontainer `shop-web` · exit code 1 · 2 restarts" in shown
    assert shown.endswith("```\nstarting shop-web 2.0\npanic: missing DATABASE_URL\n```")
    assert verdict.broadcast


def test_a_timeout_is_broadcast_with_what_was_still_running() -> None:
    rec = sc.timeout()
    verdict = next(m for e, m in replies(rec) if e.type is EventType.VERDICT)
    assert verdict.broadcast
    still = "*Still in progress*\n⏳ Job/shop-migrate (running)\n⏳ Deployment/shop-web (pending)"
    assert still in texts(verdict)


def test_a_successful_rollback_is_not_broadcast() -> None:
    rec = sc.rollback_with_restore_hook()
    [verdict] = [m for e, m in replies(rec) if e.type is EventType.VERDICT]
    assert not verdict.broadcast
    assert verdict.text == "✅ shop rolled back to revision 1 (revision 3): rollback of shop revision 3 " \
                           "succeeded in 40s"


def test_a_failed_phase_is_left_to_the_failure_and_the_verdict() -> None:
    failed = event(EventType.PHASE_FINISHED, "resources failed", phase="resources", state="failed")
    assert render_thread_reply(sc.CARD, failed, now=k.at(100)) is None


def test_warnings_are_replied_and_escaped() -> None:
    warning = event(EventType.WARNING, "cannot watch Certificate.cert-manager.io: forbidden <!here>",
                    source="adapter", unwatched=True)
    message = render_thread_reply(sc.CARD, warning, now=k.at(100))
    assert message is not None and message.text == ("⚠️ cannot watch Certificate.cert-manager.io: forbidden "
                                                     "&lt;!here&gt;")


def _failure(log: Sequence[str], **extra: Any) -> TrackEvent:
    data = {"kind": "Job", "name": "shop-migrate", "reason": "BackoffLimitExceeded", "message": "",
            "pod": "shop-migrate-m1", "container": "migrate", "exit_code": 2, "restarts": None,
            "log_tail": list(log), "log_unavailable": None, **extra}
    return event(EventType.FAILURE, "Job shop-migrate failed", subject="Job/shop-migrate", **data)


def test_a_long_failure_log_shows_the_last_30_lines_and_attaches_the_whole_log() -> None:
    log = [f"\x1b[32mmigration step {i}\x1b[0m" for i in range(45)]
    message = render_thread_reply(sc.CARD, _failure(log), now=k.at(100))
    assert message is not None
    assert_valid(message)
    shown = texts(message)
    assert "Last 30 log lines of `shop-migrate-m1/migrate`" in shown
    assert "migration step 15\n" in shown and "migration step 14\n" not in shown
    assert "The full log (45 lines) is attached as shop-rev2-shop-migrate-m1-migrate.log." in shown
    assert message.file is not None
    assert message.file.content.splitlines() == [f"migration step {i}" for i in range(45)]
    assert message.file.title == "shop revision 2: shop-migrate-m1/migrate"


def test_a_huge_log_line_is_cut_inline_and_kept_whole_in_the_file() -> None:
    line = "E" * 50_000 + " <!channel>"
    message = render_thread_reply(sc.CARD, _failure(["start", line]), now=k.at(100))
    assert message is not None and message.file is not None
    assert_valid(message)
    assert line in message.file.content


def test_an_unreadable_log_is_said() -> None:
    message = render_thread_reply(sc.CARD, _failure([], log_unavailable="503 Service Unavailable"),
                                  now=k.at(100))
    assert message is not None and "Logs unavailable: 503 Service Unavailable" in texts(message)
    assert "```" not in texts(message)


def test_500_failures_in_a_verdict_stay_within_limits() -> None:
    failures = [{"kind": "Pod", "name": f"web-{i} <!channel>", "reason": "CrashLoopBackOff" * 50,
                 "pod": f"web-{i}", "container": "web", "exit_code": 1, "restarts": 9,
                 "log_tail": ["x" * 5000] * 20} for i in range(500)]
    verdict = event(EventType.VERDICT, "failed", outcome="failed", reason="r" * 20_000, failures=failures)
    message = render_thread_reply(sc.CARD, verdict, now=k.at(100))
    assert message is not None and message.broadcast
    assert_valid(message)
    assert "… and " in texts(message)


# --- the timeline -----------------------------------------------------------------------------------------


def test_the_timeline_reply_draws_the_bars_in_a_code_block() -> None:
    rec = sc.healthy_upgrade()
    message = render_timeline_reply(rec.card, rec.final, now=rec.now)
    assert message is not None
    assert_valid(message)
    shown = texts(message)
    assert shown.startswith("🕒 *Rollout timeline* of shop revision 2 (succeeded)\n```\ntimeline")
    assert "Job/shop-migrate     ████████████████████████████      ✔ 2m30s" in shown
    assert shown.endswith("✘ failed  … unfinished\n```")


def test_a_timeline_of_200_lanes_is_split_and_cut() -> None:
    rec = sc.healthy_upgrade()
    lanes = tuple(ResourceTimeline(f"Deployment/web-{i:03d}-" + "n" * 60, "resources", k.at(i % 50),
                                   k.at(170), None, (TimelinePoint(k.at(i % 50), "in_progress"),))
                  for i in range(200))
    message = render_timeline_reply(rec.card, replace(rec.final, timeline=lanes), now=rec.now)
    assert message is not None
    assert_valid(message)
    code_sections = [blk for blk in message.blocks if "```" in blk.get("text", {}).get("text", "")]
    assert len(code_sections) > 1
    last = code_sections[-1]["text"]["text"]
    assert "more" in last and last.endswith("… unfinished\n```")


def test_nothing_seen_draws_no_timeline() -> None:
    rec = sc.healthy_upgrade()
    assert render_timeline_reply(rec.card, replace(rec.final, timeline=()), now=rec.now) is None


# --- logs on request --------------------------------------------------------------------------------------


def test_short_logs_are_shown_inline() -> None:
    result = render_logs_reply(sc.CARD, "shop-migrate-m1", "migrate", ["one", "two <@U1>"], now=k.at(100))
    assert isinstance(result, SlackMessage)
    assert_valid(result)
    assert texts(result) == ("📄 Last 2 log lines of `shop-migrate-m1/migrate`:\n"
                             "```\none\ntwo &lt;@U1&gt;\n```")


def test_long_logs_become_a_file() -> None:
    lines = [f"line {i}" for i in range(200)]
    result = render_logs_reply(replace(sc.CARD, release_label="shop (prod)"), "web-1", "web", lines,
                               now=k.at(100))
    assert isinstance(result, LogFile)
    assert result.filename == "shop-prod-rev2-web-1-web.log"
    assert result.content == "\n".join(lines) + "\n"


def test_no_lines_says_so() -> None:
    result = render_logs_reply(sc.CARD, "web-1", "web", [], now=k.at(100))
    assert isinstance(result, SlackMessage) and "No log lines from `web-1/web` yet." in texts(result)


# --- property: arbitrary event contents never make an invalid reply ---------------------------------------

TEXT = st.one_of(st.text(max_size=100), st.lists(st.sampled_from(
    ["<!channel>", "<@U1>", "&", "```", "\n", "🚀", "y" * 900, "\x1b[0m"]), max_size=20).map("".join))


@settings(max_examples=80, deadline=None)
@given(etype=st.sampled_from(list(EventType)), message=TEXT, subject=TEXT, text=TEXT,
       lines=st.lists(TEXT, max_size=40), number=st.one_of(st.none(), st.integers(-5, 10**6)),
       outcome=st.sampled_from(["succeeded", "failed", "timed_out", "x"]), heartbeat=st.booleans())
def test_arbitrary_events_never_make_an_invalid_reply(
    etype: EventType, message: str, subject: str, text: str, lines: list[str], number: int | None,
    outcome: str, heartbeat: bool,
) -> None:
    failure = {"kind": text, "name": subject, "reason": text, "message": message, "pod": subject,
               "container": text, "exit_code": number, "restarts": number, "log_tail": lines,
               "log_unavailable": text}
    e = TrackEvent(etype, k.at(100), "shop", "default", 2, message, phase=text, subject=subject, data={
        **failure, "state": "succeeded", "duration_seconds": number, "outcome": outcome, "reason": text,
        "failures": [failure, failure], "in_progress": lines, "not_judged": lines, "job": subject,
        "job_running_seconds": number, "heartbeat": heartbeat, "elapsed_seconds": number,
        "helm_timeout_seconds": number,
    })
    card = replace(sc.CARD, release_label=text, deploy_id=subject or "d")
    reply = render_thread_reply(card, e, now=k.at(100))
    assert_valid(reply)
    logs = render_logs_reply(card, subject, text, lines, now=k.at(100))
    assert_valid(logs)
    if isinstance(logs, LogFile):
        assert b.slack_len(logs.title) <= 250 and "/" not in logs.filename
