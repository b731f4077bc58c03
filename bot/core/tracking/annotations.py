"""The tracking annotations charts already carry for werf/nelm (werf.io/*), read from a step's manifest.

- `werf.io/fail-mode`: `FailWholeDeployProcessImmediately` (default) fails the release at once;
  `IgnoreAndContinueDeployProcess` makes a failure a warning (a Job or hook Pod that failed counts as done,
  a workload is still waited for: pair it with `NonBlocking`); `HopeUntilEndOfDeployProcess` counts a
  failure only once everything else the release waits for is done, if it persists then.
- `werf.io/track-termination-mode`: `WaitUntilResourceReady` (default); `NonBlocking`: the release does not
  wait for it, but its failures count while it is judged.
- `werf.io/no-activity-timeout` (`4m`): a step in progress with no change in state, counters or logs for
  that long fails. Unset: no such limit (the tracker's own timeout applies).
- `werf.io/skip-logs: "true"`: its pods' logs are neither streamed nor attached to its failures.
- `werf.io/log-regex`: only matching lines are streamed and attached to its failures.
- `werf.io/failures-allowed-per-replica` is read by `assess()` (bot.core.status.rollout), from the object.

An unreadable value is ignored with a warning (`problems`), never fatal: the chart was accepted by werf or
Helm already.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.core.model.durations import parse_duration

FAIL_MODE = "werf.io/fail-mode"
TERMINATION_MODE = "werf.io/track-termination-mode"
NO_ACTIVITY_TIMEOUT = "werf.io/no-activity-timeout"
SKIP_LOGS = "werf.io/skip-logs"
LOG_REGEX = "werf.io/log-regex"

FAIL_IMMEDIATELY = "FailWholeDeployProcessImmediately"
IGNORE = "IgnoreAndContinueDeployProcess"
HOPE = "HopeUntilEndOfDeployProcess"
_FAIL_MODES = (FAIL_IMMEDIATELY, IGNORE, HOPE)
_TERMINATION_MODES = ("WaitUntilResourceReady", "NonBlocking")
_TRUE, _FALSE = ("1", "t", "true"), ("0", "f", "false")


@dataclass(frozen=True)
class TrackingAnnotations:
    fail_mode: str = FAIL_IMMEDIATELY
    non_blocking: bool = False
    no_activity_timeout: timedelta | None = None
    skip_logs: bool = False
    log_regex: str | None = None
    problems: tuple[str, ...] = ()


def read_annotations(pairs: Iterable[tuple[str, str]]) -> TrackingAnnotations:
    found = dict(pairs)
    problems: list[str] = []

    def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
        value = found.get(key, "").strip()
        if not value:
            return default
        if value not in allowed:
            problems.append(f"{key}: {value!r} is not one of {', '.join(allowed)}; ignored")
            return default
        return value

    fail_mode = choice(FAIL_MODE, _FAIL_MODES, FAIL_IMMEDIATELY)
    non_blocking = choice(TERMINATION_MODE, _TERMINATION_MODES, "WaitUntilResourceReady") == "NonBlocking"
    timeout = None
    if found.get(NO_ACTIVITY_TIMEOUT, "").strip():
        try:
            timeout = parse_duration(found[NO_ACTIVITY_TIMEOUT]) or None
        except ValueError as exc:
            problems.append(f"{NO_ACTIVITY_TIMEOUT}: {exc}; ignored")
    skip = found.get(SKIP_LOGS, "").strip().lower()
    if skip and skip not in _TRUE + _FALSE:
        problems.append(f"{SKIP_LOGS}: {skip!r} is not true or false; ignored")
    regex = found.get(LOG_REGEX) or None
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            problems.append(f"{LOG_REGEX}: not a regular expression ({exc}); ignored")
            regex = None
    return TrackingAnnotations(fail_mode, non_blocking, timeout, skip in _TRUE, regex, tuple(problems))


def matching_lines(lines: Iterable[str], regex: str | None) -> list[str]:
    """The lines `werf.io/log-regex` lets through (all of them without one)."""
    if not regex:
        return list(lines)
    pattern = re.compile(regex)
    return [line for line in lines if pattern.search(line)]
