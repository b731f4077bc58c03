"""Plain timestamped lines for CI logs (stdout is not a terminal), plus the failure diagnosis.

Everything printed comes from TrackEvent messages and data, which never carry secrets or values. Every
message stays on its line (embedded newlines become " / "), and during a long quiet wait a heartbeat line
says what is still in progress, so a CI system that kills silent jobs does not kill a healthy migration.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TextIO

from bot.core.durations import format_duration
from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.model.failures import LOG_LINES_SHOWN, failure_lines, text_lines
from bot.core.summary import TrackSummary
from bot.core.timeline import render_timeline
from bot.text import clip, join_lines

__all__ = ["TextRenderer", "event_line", "heartbeat_line", "timestamp", "verdict_lines"]
HEARTBEAT_LOG_LINE = 120   # characters of a Job's last log line in a heartbeat


def timestamp(event: TrackEvent) -> str:
    return _stamp(event.at)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_line(event: TrackEvent) -> str:
    parts = [timestamp(event)]
    if event.phase:
        parts.append(f"[{event.phase}]")
    if event.subject and not _names(event.subject, event.message):
        parts.append(f"{event.subject}:")
    parts.append(join_lines(event.message))
    return " ".join(parts)


def _names(subject: str, message: str) -> bool:
    """The message already names its subject ("Job/x ..." or "x: ..."): do not prefix it again."""
    name = subject.rsplit("/", 1)[-1]
    return subject in message or message.startswith((f"{name}:", f"{name} "))


def verdict_lines(verdict: TrackEvent) -> list[str]:
    outcome = verdict.data.get("outcome") or ""
    label = {Outcome.SUCCEEDED.value: "SUCCEEDED", Outcome.FAILED.value: "FAILED",
             Outcome.TIMED_OUT.value: "TIMED OUT"}.get(str(outcome), str(outcome).upper() or "DONE")
    reason = join_lines(verdict.data.get("reason") or verdict.message)
    out = [f"{timestamp(verdict)} {label}: {verdict.release} revision {verdict.revision} "
           f"in {verdict.namespace}: {reason}"]
    failures = verdict.data.get("failures") or []
    if failures:
        out.append("diagnosis:")
        for failure in failures:
            if isinstance(failure, Mapping):
                out.extend(failure_lines(failure))
    return out


def heartbeat_line(summary: TrackSummary, now: datetime) -> str:
    """What is still in progress, in one line: running hooks/Jobs (for how long, their last log line),
    workloads with ready/desired, pods gated in Init."""
    parts: list[str] = []
    for job in summary.jobs:
        if job.state not in ("in_progress", "running"):
            continue
        text = f"{job.kind}/{job.name} running"
        seconds = job.duration_seconds
        if seconds is None and job.started_at is not None:
            seconds = (now - job.started_at).total_seconds()
        if seconds is not None:
            text += f" for {format_duration(timedelta(seconds=max(0, int(seconds))))}"
        if job.last_log_line:
            last = clip(join_lines(job.last_log_line), HEARTBEAT_LOG_LINE, breaks=(" ",),
                        keep=HEARTBEAT_LOG_LINE // 2)
            text += f' (last log: "{last}")'
        parts.append(text)
    for workload in summary.workloads:
        if workload.state != "in_progress":
            continue
        if workload.desired is not None:
            parts.append(f"{workload.kind}/{workload.name} {workload.ready or 0}/{workload.desired} ready")
        else:
            parts.append(f"{workload.kind}/{workload.name} " + (join_lines(workload.reason) or "in progress"))
    for gated in summary.gated:
        count = len(gated.pods)
        on = f"waiting on {gated.job}" if gated.job else "waiting in Init"
        parts.append(f"{count} pod{'' if count == 1 else 's'} of {gated.workload} {on}")
    if not parts:
        running = [p.name for p in summary.phases if p.state == "running"]
        if summary.operation is None:
            parts.append(f"waiting for release {summary.release} revision {summary.revision} to be stored")
        elif running:
            parts.append(f"{running[0]} running")
        else:
            parts.append("waiting")
    elapsed = format_duration(timedelta(seconds=max(0, int((now - summary.started_at).total_seconds()))))
    return f"{_stamp(now)} still in progress after {elapsed}: {'; '.join(parts)}"


class TextRenderer:
    """One line per event (log lines indented under theirs); the VERDICT gets the timeline and a closing
    diagnosis block, drawn from the summary that follows it (the picture then includes the last step).

    `heartbeat`: after this long without a line, print `heartbeat_line()`. Time is the summaries' own
    (`updated_at`, the runner's clock), so a test drives it with summaries alone."""

    def __init__(self, out: TextIO, *, heartbeat: timedelta | None = None) -> None:
        self.out = out
        self.heartbeat = heartbeat if heartbeat is not None and heartbeat > timedelta(0) else None
        self._summary: TrackSummary | None = None
        self._verdict: TrackEvent | None = None
        self._last_line_at: datetime | None = None

    def event(self, event: TrackEvent) -> None:
        if event.type is EventType.VERDICT:
            self._verdict = event
            return
        # A FAILURE stays one line here: the verdict right after it carries the full diagnosis.
        lines = [event_line(event)]
        if event.type is EventType.LOG_LINES:
            lines.extend(f"    | {line}" for line in text_lines(event.data.get("lines"))[-LOG_LINES_SHOWN:])
        self._write(lines)
        self._last_line_at = event.at

    def summary(self, summary: TrackSummary) -> None:
        """Plain output is a log, not a dashboard: summaries are kept for the closing timeline (and the
        heartbeat) only."""
        self._summary = summary
        self._flush_verdict()
        self._maybe_heartbeat(summary)

    def _maybe_heartbeat(self, summary: TrackSummary) -> None:
        now = summary.updated_at
        if self.heartbeat is None or summary.done or now is None:
            return
        if self._last_line_at is None:
            self._last_line_at = now
        elif now - self._last_line_at >= self.heartbeat:
            self._write([heartbeat_line(summary, now)])
            self._last_line_at = now

    def close(self) -> None:
        self._flush_verdict()
        self.out.flush()

    def _flush_verdict(self) -> None:
        verdict, self._verdict = self._verdict, None
        if verdict is None:
            return
        picture = render_timeline(self._summary, now=verdict.at) if self._summary else []
        self._write([*picture, *verdict_lines(verdict)])

    def _write(self, lines: list[str]) -> None:
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
