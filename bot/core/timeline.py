"""A release's rollout as a picture: one bar per hook, Job and workload on a shared time axis.

People would rather look than read when a deploy took minutes: the bars show at a glance what ran in sequence,
what waited on what, and which step took the time or failed. Pure: text in, text out, so the terminal, the CI
log and (later) Slack render the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.model.durations import format_duration
from bot.core.summary import ResourceTimeline, TrackSummary

WAITING, ACTIVE = "░", "█"
_MARK = {"done": "✔", "failed": "✘", "open": "…"}
_WAITING_STATES = frozenset({"pending", "unobserved", "unknown"})


@dataclass(frozen=True)
class TimelineRow:
    subject: str
    bar: str  # exactly `width` cells
    mark: str  # ✔ done, ✘ failed, … still open at the end of the picture
    duration: timedelta


def timeline_rows(
    summary: TrackSummary, *, width: int = 40, now: datetime | None = None
) -> list[TimelineRow]:
    """Bars over [tracking start, verdict (or last observe, or `now`)], in order of first appearance."""
    lanes = sorted((t for t in summary.timeline if t.first_seen is not None), key=_first_seen)
    if not lanes or width < 1:
        return []
    start = min([summary.started_at, *(_first_seen(t) for t in lanes)])
    end = _end(summary, now)
    span = max((end - start).total_seconds(), 1e-9)
    cell = span / width
    rows = []
    for lane in lanes:
        first = _first_seen(lane)
        stop = lane.failed_at or lane.done_at or end
        cells = []
        for i in range(width):
            at = start + timedelta(seconds=(i + 0.5) * cell)  # a cell shows the state at its middle
            if first <= at <= stop:
                cells.append(WAITING if _state_at(lane, at) in _WAITING_STATES else ACTIVE)
            else:
                cells.append(" ")
        if ACTIVE not in cells and WAITING not in cells:  # shorter than a cell: still one mark
            i = min(width - 1, int((first - start).total_seconds() / cell))
            cells[i] = WAITING if _state_at(lane, first) in _WAITING_STATES else ACTIVE
        mark = _MARK["failed"] if lane.failed_at else _MARK["done"] if lane.done_at else _MARK["open"]
        rows.append(TimelineRow(lane.subject, "".join(cells), mark, stop - first))
    return rows


def render_timeline(summary: TrackSummary, *, width: int = 40, now: datetime | None = None) -> list[str]:
    """Text lines: an axis header, then `subject  bar  mark duration` per lane; [] when nothing was seen."""
    rows = timeline_rows(summary, width=width, now=now)
    if not rows:
        return []
    label = max(len(r.subject) for r in rows)
    total = format_duration(_end(summary, now) - min([summary.started_at, *(
        _first_seen(t) for t in summary.timeline if t.first_seen is not None)]))
    axis = "0s".ljust(width - len(total)) + total
    lines = [f"{'timeline'.ljust(label)}  {axis}"]
    lines.extend(f"{r.subject.ljust(label)}  {r.bar}  {r.mark} {format_duration(r.duration)}" for r in rows)
    lines.append(f"{''.ljust(label)}  {WAITING} waiting  {ACTIVE} running/rolling out  "
                 f"{_MARK['done']} done  {_MARK['failed']} failed  {_MARK['open']} unfinished")
    return lines


def _first_seen(lane: ResourceTimeline) -> datetime:
    assert lane.first_seen is not None
    return lane.first_seen


def _end(summary: TrackSummary, now: datetime | None) -> datetime:
    if summary.verdict is not None:
        return summary.verdict.at
    return summary.updated_at or now or summary.started_at


def _state_at(lane: ResourceTimeline, at: datetime) -> str:
    state = lane.points[0].state if lane.points else "in_progress"
    for point in lane.points:
        if point.at > at:
            break
        state = point.state
    return state
