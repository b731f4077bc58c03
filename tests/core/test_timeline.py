"""The rollout picture: bars on a shared axis, waiting vs running, done/failed/unfinished marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.summary import ResourceTimeline, TimelinePoint, TrackSummary, VerdictSummary
from bot.core.timeline import render_timeline, timeline_rows

T0 = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def lane(subject: str, first: float, points: list[tuple[float, str]], *, done: float | None = None,
         failed: float | None = None) -> ResourceTimeline:
    return ResourceTimeline(subject=subject, phase="x", first_seen=at(first),
                            done_at=None if done is None else at(done),
                            failed_at=None if failed is None else at(failed),
                            points=tuple(TimelinePoint(at(s), state) for s, state in points))


def summary(*lanes: ResourceTimeline, verdict_at: float | None = 40.0, updated: float = 40.0) -> TrackSummary:
    verdict = None if verdict_at is None else VerdictSummary("succeeded", "ok", at(verdict_at))
    return TrackSummary(release="shop", namespace="shop", revision=2, operation="upgrade", chart="shop-1.0.0",
                        app_version=None, release_status="deployed", release_description=None, started_at=T0,
                        updated_at=at(updated), timeline=lanes, verdict=verdict)


def test_hook_then_gated_rollout() -> None:
    migrate = lane("Job/shop-migrate", 0, [(0, "in_progress"), (20, "succeeded")], done=20)
    web = lane("Deployment/shop-web", 10, [(10, "pending"), (20, "in_progress"), (40, "current")], done=40)
    rows = timeline_rows(summary(migrate, web), width=40)
    assert [r.subject for r in rows] == ["Job/shop-migrate", "Deployment/shop-web"]
    assert rows[0].bar == "█" * 20 + " " * 20 and rows[0].mark == "✔"
    assert rows[1].bar == " " * 10 + "░" * 10 + "█" * 20
    assert rows[1].duration == timedelta(seconds=30)


def test_failure_stops_the_bar_and_is_marked() -> None:
    web = lane("Deployment/shop-web", 0, [(0, "in_progress"), (10, "failed")], failed=10)
    [row] = timeline_rows(summary(web, verdict_at=20, updated=20), width=20)
    assert row.bar == "█" * 10 + " " * 10 and row.mark == "✘"


def test_unfinished_lane_runs_to_the_last_observation() -> None:
    web = lane("Deployment/shop-web", 0, [(0, "in_progress")])
    [row] = timeline_rows(summary(web, verdict_at=None, updated=30), width=10)
    assert row.bar == "█" * 10 and row.mark == "…"


def test_rendered_lines_align_and_name_the_total() -> None:
    migrate = lane("Job/shop-migrate", 0, [(0, "in_progress")], done=20)
    lines = render_timeline(summary(migrate), width=20)
    assert lines[0].startswith("timeline") and lines[0].endswith("40s")
    assert lines[1] == "Job/shop-migrate  " + "█" * 10 + " " * 10 + "  ✔ 20s"
    assert len(lines[0]) == len(lines[1]) - len("  ✔ 20s")


def test_nothing_seen_draws_nothing() -> None:
    assert render_timeline(summary()) == []
