"""The CI log: timestamp, phase, the subject once, the message on one line; a heartbeat in long waits."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.cli.render_text import TextRenderer, event_line, heartbeat_line, verdict_lines
from bot.core.events import EventType, TrackEvent
from bot.core.model.failures import failure_lines
from bot.core.summary import (
    GatedPods,
    JobSummary,
    PhaseSummary,
    TrackSummary,
    VerdictSummary,
    WorkloadSummary,
)

AT = datetime(2026, 11, 23, 5, 14, 2, tzinfo=UTC)


def progress(subject: str, message: str) -> TrackEvent:
    return TrackEvent(type=EventType.RESOURCE_PROGRESS, at=AT, release="shop", namespace="shop", revision=2,
                      message=message, phase="resources", subject=subject)


@pytest.mark.parametrize(
    ("subject", "message", "line"),
    [
        pytest.param("Deployment/shop-web", "2/3 new pods ready",
                     "2026-11-23T05:14:02Z [resources] Deployment/shop-web: 2/3 new pods ready",
                     id="prefixed"),
        pytest.param("Deployment/shop-web", "shop-web: 2/3 new pods ready",
                     "2026-11-23T05:14:02Z [resources] shop-web: 2/3 new pods ready", id="message-names-it"),
        pytest.param("Job/shop-migrate", "Job/shop-migrate succeeded in 5s",
                     "2026-11-23T05:14:02Z [resources] Job/shop-migrate succeeded in 5s", id="full-subject"),
        pytest.param("Deployment/web", "webhook: unrelated",
                     "2026-11-23T05:14:02Z [resources] Deployment/web: webhook: unrelated",
                     id="prefix-of-a-word"),
    ],
)
def test_subject_is_named_once(subject: str, message: str, line: str) -> None:
    assert event_line(progress(subject, message)) == line


def test_multi_line_texts_stay_on_one_line() -> None:
    """Event messages are one line already; texts taken from event data (Helm's description as the verdict
    reason, an API message) are joined here as a safety net."""
    verdict = TrackEvent(type=EventType.VERDICT, at=AT, release="shop", namespace="shop", revision=2,
                         message="failed", data={"outcome": "failed",
                                                 "reason": 'Upgrade "shop" failed:\n  timed out\n\nwaiting'})
    assert verdict_lines(verdict) == [
        '2026-11-23T05:14:02Z FAILED: shop revision 2 in shop: Upgrade "shop" failed: / timed out / waiting']


def test_failure_block_says_why_the_log_is_missing() -> None:
    lines = failure_lines({"kind": "Pod", "name": "web-1", "container": "web", "reason": "CrashLoopBackOff",
                           "message": "back-off\nrestarting", "log_tail": [],
                           "log_unavailable": "500 InternalError: boom"})
    assert lines == ["  Pod/web-1 container web: CrashLoopBackOff", "    back-off / restarting",
                     "    logs unavailable: 500 InternalError: boom"]


# -- heartbeat ------------------------------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def migrating(at: datetime, *, done: bool = False) -> TrackSummary:
    """A 20-minute migration hook: the web pods wait in Init on it; nothing changes for minutes."""
    return TrackSummary(
        release="shop", namespace="shop", revision=2, operation="upgrade", chart="shop-1.0.0",
        app_version=None, release_status="pending-upgrade", release_description=None,
        started_at=T0, updated_at=at,
        phases=(PhaseSummary("pre-upgrade hooks", "pre_hooks", "running"),),
        workloads=(WorkloadSummary("Deployment", "shop-web", "in_progress", "1/3 new pods ready", 1, 3),
                   WorkloadSummary("StatefulSet", "shop-db", "pending")),
        jobs=(JobSummary("Job", "shop-backup", True, "pre-upgrade hooks", "succeeded", duration_seconds=4),
              JobSummary("Job", "shop-migrate", True, "pre-upgrade hooks", "in_progress",
                         last_log_line="Applying 0042_orders_index...\n", started_at=T0)),
        gated=(GatedPods("Deployment/shop-web", "Job/shop-migrate", ("web-1", "web-2"), T0),),
        verdict=VerdictSummary("succeeded", "done", at) if done else None,
    )


def test_heartbeat_line_summarises_what_is_still_in_progress() -> None:
    line = heartbeat_line(migrating(T0 + timedelta(minutes=20)), T0 + timedelta(minutes=20, seconds=5))
    assert line == (
        '2026-11-23T05:20:05Z still in progress after 20m5s: Job/shop-migrate running for 20m5s '
        '(last log: "Applying 0042_orders_index..."); Deployment/shop-web 1/3 ready; '
        "2 pods of Deployment/shop-web waiting on Job/shop-migrate")


def test_heartbeat_only_after_a_quiet_interval_and_never_after_the_verdict() -> None:
    out = io.StringIO()
    renderer = TextRenderer(out, heartbeat=timedelta(seconds=30))
    renderer.event(TrackEvent(type=EventType.PHASE_STARTED, at=T0, release="shop", namespace="shop",
                              revision=2, message="pre-upgrade hooks started", phase="pre-upgrade hooks"))
    for second in range(0, 95, 5):  # the runner hands over a summary every few seconds
        renderer.summary(migrating(T0 + timedelta(seconds=second)))
    beats = [line for line in out.getvalue().splitlines() if "still in progress" in line]
    assert [b[:20] for b in beats] == ["2026-11-23T05:00:30Z", "2026-11-23T05:01:00Z", "2026-11-23T05:01:30Z"]
    # Any line resets the interval.
    renderer.event(TrackEvent(type=EventType.LOG_LINES, at=T0 + timedelta(seconds=100), release="shop",
                              namespace="shop", revision=2, message="Job/shop-migrate",
                              data={"lines": ["x"]}))
    renderer.summary(migrating(T0 + timedelta(seconds=125)))
    renderer.summary(migrating(T0 + timedelta(seconds=300), done=True))
    assert len([line for line in out.getvalue().splitlines() if "still in progress" in line]) == 3


def test_heartbeat_disabled_and_with_nothing_running_yet() -> None:
    out = io.StringIO()
    renderer = TextRenderer(out, heartbeat=None)
    for minute in range(5):
        renderer.summary(migrating(T0 + timedelta(minutes=minute)))
    assert out.getvalue() == ""
    waiting = TrackSummary(release="shop", namespace="shop", revision=3, operation=None, chart=None,
                           app_version=None, release_status=None, release_description=None,
                           started_at=T0, updated_at=T0 + timedelta(seconds=45))
    assert heartbeat_line(waiting, T0 + timedelta(seconds=45)).endswith(
        "still in progress after 45s: waiting for release shop revision 3 to be stored")
