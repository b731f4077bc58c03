"""The terminal view stays readable on an 80-column terminal: names, counts and states are never cut."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from bot.cli.render_live import render_summary
from bot.core.summary import GatedPods, JobSummary, PhaseSummary, TrackSummary, WorkloadSummary

T0 = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def screen(width: int) -> str:
    summary = TrackSummary(
        release="shop", namespace="shop", revision=2, operation="upgrade", chart="shop-1.0.0",
        app_version=None, release_status="pending-upgrade", release_description=None,
        started_at=T0, updated_at=T0,
        phases=(PhaseSummary("pre-upgrade hooks", "pre_hooks", "succeeded"),
                PhaseSummary("resources", "resources", "running")),
        workloads=(WorkloadSummary("Deployment", "shop-web", "in_progress",
                                   "2/3 new pods ready; 1 pod waiting in Init on shop-migrate", 2, 3),),
        jobs=(JobSummary("Job", "shop-migrate", True, "pre-upgrade hooks", "in_progress", attempts=1,
                         last_log_line="Applying 0003_inventory... " + "x" * 80),),
        gated=(GatedPods("Deployment/shop-web", "shop-migrate", ("web-1", "web-2"), T0),),
    )
    console = Console(width=width, force_terminal=False, record=True)
    console.print(render_summary(summary, [], T0 + timedelta(seconds=72)))
    return console.export_text()


def test_narrow_terminal_keeps_the_essentials() -> None:
    text = screen(80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "elapsed 1:12" in text
    assert "Job/shop-migrate" in text and "▶ in progress" in text
    assert "Deployment/shop-web" in text and "2/3" in text
    assert "2 pod(s) waiting on shop-migrate" in text


def test_wide_terminal_shows_the_whole_log_line_start() -> None:
    assert "Applying 0003_inventory..." in screen(160)


def _summary(state: str, ready: int) -> TrackSummary:
    return TrackSummary(
        release="shop", namespace="shop", revision=2, operation="upgrade", chart="shop-1.0.0",
        app_version=None, release_status="deployed", release_description=None, started_at=T0, updated_at=T0,
        phases=(PhaseSummary("resources", "resources", "succeeded" if state == "current" else "running"),),
        workloads=(WorkloadSummary("Deployment", "shop-web", state, f"{ready}/3 new pods ready", ready, 3),),
        jobs=(), gated=(),
    )


def test_the_verdict_comes_last_after_a_final_frame_that_is_not_stale() -> None:
    import io
    import re

    from bot.cli.render_live import LiveRenderer
    from bot.core.events import EventType, TrackEvent

    out = io.StringIO()
    renderer = LiveRenderer(out)
    renderer.summary(_summary("in_progress", 2))
    reason = "upgrade of shop revision 2 succeeded in 40s"
    verdict = TrackEvent(EventType.VERDICT, T0 + timedelta(seconds=40), "shop", "shop", 2, reason,
                         data={"outcome": "succeeded", "reason": reason, "failures": [],
                               "duration_seconds": 40.0})
    renderer.event(verdict)
    renderer.summary(_summary("current", 3))   # the runner hands the summary over after the events
    renderer.summary(_summary("in_progress", 2))  # anything later is ignored
    renderer.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    tail = text[text.rindex("resources"):]     # the last frame printed to the scrollback onwards
    assert "✔ current" in tail and "in progress" not in tail
    assert " ".join(tail.split()).endswith(f"SUCCEEDED: shop revision 2 in shop: {reason}")  # (wrapped)
