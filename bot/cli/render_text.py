"""Plain timestamped lines for CI logs (stdout is not a terminal), plus the failure diagnosis.

Everything printed comes from TrackEvent messages and data, which never carry secrets or values. Every
message stays on its line (embedded newlines become " / "), and during a long quiet wait a heartbeat line
says what is still in progress, so a CI system that kills silent jobs does not kill a healthy migration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

from bot.core.durations import format_duration
from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.summary import TrackSummary
from bot.core.timeline import render_timeline

LOG_LINES_SHOWN = 10
HEARTBEAT_LOG_LINE = 120   # characters of a Job's last log line in a heartbeat


def timestamp(event: TrackEvent) -> str:
    return _stamp(event.at)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def one_line(text: object) -> str:
    """A message on one line: its lines joined with " / " (blank ones dropped)."""
    return " / ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"


def event_line(event: TrackEvent) -> str:
    parts = [timestamp(event)]
    if event.phase:
        parts.append(f"[{event.phase}]")
    if event.subject and not _names(event.subject, event.message):
        parts.append(f"{event.subject}:")
    parts.append(one_line(event.message))
    return " ".join(parts)


def _names(subject: str, message: str) -> bool:
    """The message already names its subject ("Job/x ..." or "x: ..."): do not prefix it again."""
    name = subject.rsplit("/", 1)[-1]
    return subject in message or message.startswith((f"{name}:", f"{name} "))


def failure_lines(failure: Mapping[str, Any], *, indent: str = "  ") -> list[str]:
    """Object, container, reason, exit code, restarts, message, then the last log lines."""
    kind, name = failure.get("kind") or "?", failure.get("name") or "?"
    head = f"{indent}{kind}/{name}"
    pod = failure.get("pod")
    if pod and pod != name:
        head += f" pod {pod}"
    container = failure.get("container")
    if container:
        head += f" container {container}"
    facts = [str(failure.get("reason") or "failed")]
    if failure.get("exit_code") is not None:
        facts.append(f"exit code {failure['exit_code']}")
    restarts = failure.get("restarts")
    if restarts:
        facts.append(f"{restarts} restart{'' if restarts == 1 else 's'}")
    out = [f"{head}: {', '.join(facts)}"]
    message = one_line(failure.get("message") or "")
    if message:
        out.append(f"{indent}  {message}")
    tail = _lines(failure.get("log_tail"))
    if tail:
        out.append(f"{indent}  last log lines{f' ({container})' if container else ''}:")
        out.extend(f"{indent}  | {line}" for line in tail[-LOG_LINES_SHOWN:])
    unavailable = one_line(failure.get("log_unavailable") or "")
    if unavailable:
        out.append(f"{indent}  logs unavailable: {unavailable}")
    return out


def verdict_lines(verdict: TrackEvent) -> list[str]:
    outcome = verdict.data.get("outcome") or ""
    label = {Outcome.SUCCEEDED.value: "SUCCEEDED", Outcome.FAILED.value: "FAILED",
             Outcome.TIMED_OUT.value: "TIMED OUT"}.get(str(outcome), str(outcome).upper() or "DONE")
    reason = one_line(verdict.data.get("reason") or verdict.message)
    out = [f"{timestamp(verdict)} {label}: {verdict.release} revision {verdict.revision} "
           f"in {verdict.namespace}: {reason}"]
    failures = verdict.data.get("failures") or []
    if failures:
        out.append("diagnosis:")
        for failure in failures:
            if isinstance(failure, Mapping):
                out.extend(failure_lines(failure))
    return out


def _lines(value: object) -> list[str]:
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return []


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
            text += f' (last log: "{_cut(one_line(job.last_log_line), HEARTBEAT_LOG_LINE)}")'
        parts.append(text)
    for workload in summary.workloads:
        if workload.state != "in_progress":
            continue
        if workload.desired is not None:
            parts.append(f"{workload.kind}/{workload.name} {workload.ready or 0}/{workload.desired} ready")
        else:
            parts.append(f"{workload.kind}/{workload.name} " + (one_line(workload.reason) or "in progress"))
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
            lines.extend(f"    | {line}" for line in _lines(event.data.get("lines"))[-LOG_LINES_SHOWN:])
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
