"""Plain timestamped lines for CI logs (stdout is not a terminal), plus the failure diagnosis.

Everything printed comes from TrackEvent messages and data, which never carry secrets or values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.summary import TrackSummary
from bot.core.timeline import render_timeline

LOG_LINES_SHOWN = 10


def timestamp(event: TrackEvent) -> str:
    return event.at.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_line(event: TrackEvent) -> str:
    parts = [timestamp(event)]
    if event.phase:
        parts.append(f"[{event.phase}]")
    if event.subject and not _names(event.subject, event.message):
        parts.append(f"{event.subject}:")
    parts.append(event.message)
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
    message = str(failure.get("message") or "").strip()
    if message:
        out.append(f"{indent}  {message}")
    tail = _lines(failure.get("log_tail"))
    if tail:
        out.append(f"{indent}  last log lines{f' ({container})' if container else ''}:")
        out.extend(f"{indent}  | {line}" for line in tail[-LOG_LINES_SHOWN:])
    return out


def verdict_lines(verdict: TrackEvent) -> list[str]:
    outcome = verdict.data.get("outcome") or ""
    label = {Outcome.SUCCEEDED.value: "SUCCEEDED", Outcome.FAILED.value: "FAILED",
             Outcome.TIMED_OUT.value: "TIMED OUT"}.get(str(outcome), str(outcome).upper() or "DONE")
    reason = verdict.data.get("reason") or verdict.message
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


class TextRenderer:
    """One line per event (log lines indented under theirs); the VERDICT gets the timeline and a closing
    diagnosis block, drawn from the summary that follows it (the picture then includes the last step)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._summary: TrackSummary | None = None
        self._verdict: TrackEvent | None = None

    def event(self, event: TrackEvent) -> None:
        if event.type is EventType.VERDICT:
            self._verdict = event
            return
        # A FAILURE stays one line here: the verdict right after it carries the full diagnosis.
        lines = [event_line(event)]
        if event.type is EventType.LOG_LINES:
            lines.extend(f"    | {line}" for line in _lines(event.data.get("lines"))[-LOG_LINES_SHOWN:])
        self._write(lines)

    def summary(self, summary: TrackSummary) -> None:
        """Plain output is a log, not a dashboard: summaries are kept for the closing timeline only."""
        self._summary = summary
        self._flush_verdict()

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
