"""Failures: one concrete cause, the JSON payloads of FAILURE and VERDICT events, and their text.

`Failure` is what `assess()` finds; `FailureData` is what a FAILURE event (and each entry of a verdict's
`failures`) carries; `failure_lines` renders one for a person, so the terminal, Slack and logs word a
diagnosis the same way. Pure: payloads in, lines out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

from bot.text import join_lines

LOG_LINES_SHOWN = 10  # log lines of a failure shown to a person


@dataclass(frozen=True)
class Failure:
    """One concrete cause, enough for a Slack thread reply and for fetching the failing container's log."""

    kind: str
    name: str
    reason: str
    message: str = ""
    container: str | None = None
    init_container: bool = False
    exit_code: int | None = None
    restarts: int | None = None


class FailureData(TypedDict):
    """A FAILURE event's `data`, and each entry of a verdict's `failures`."""

    kind: str
    name: str
    reason: str
    message: str
    pod: str | None
    container: str | None
    init_container: bool
    exit_code: int | None
    restarts: int | None
    log_tail: list[str]
    log_unavailable: str | None  # why the log could not be read, when it could not
    subject: str  # "Job/shop-migrate": the plan step (or release) it failed


class VerdictData(TypedDict):
    """The VERDICT event's `data`."""

    outcome: str  # an Outcome value
    reason: str  # one line
    failures: list[FailureData]  # failed only
    duration_seconds: float
    not_judged: NotRequired[list[str]]  # succeeded only: waited steps whose kind could not be watched
    in_progress: NotRequired[list[str]]  # timed out only: what was still running


def failure_lines(failure: Mapping[str, object], *, indent: str = "  ") -> list[str]:
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
    message = join_lines(failure.get("message") or "")
    if message:
        out.append(f"{indent}  {message}")
    tail = text_lines(failure.get("log_tail"))
    if tail:
        out.append(f"{indent}  last log lines{f' ({container})' if container else ''}:")
        out.extend(f"{indent}  | {line}" for line in tail[-LOG_LINES_SHOWN:])
    unavailable = join_lines(failure.get("log_unavailable") or "")
    if unavailable:
        out.append(f"{indent}  logs unavailable: {unavailable}")
    return out


def text_lines(value: object) -> list[str]:
    """Log lines as an event carries them: a list, or (from older producers) one text."""
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return []
