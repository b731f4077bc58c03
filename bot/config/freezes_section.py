"""`freezes:`: each entry is a date range (from, to) or a cron window (cron, duration), scoped to releases
and/or environments that must exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.config.cron import CronSchedule
from bot.config.model import Freeze
from bot.config.reading import (
    Field,
    Problems,
    quote,
    read_duration,
    read_list,
    read_mapping,
    read_text,
    suggest,
)

FREEZE_KEYS = ("environments", "releases", "from", "to", "cron", "duration", "reason")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXAMPLE = '"2026-12-20T00:00:00Z"'


def _moment(problems: Problems, f: Field | None) -> datetime | None:
    text = read_text(problems, f, what=f"a date and time like {_EXAMPLE}")
    if text is None or f is None:
        return None
    if _DATE_ONLY.fullmatch(text):
        problems.at(f, f"{quote(text)} has no time: write e.g. \"{text}T00:00:00Z\" (to is exclusive)")
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        problems.at(f, f"{quote(text)} is not a date and time like {_EXAMPLE}")
        return None
    if moment.tzinfo is None:
        problems.at(f, f"{quote(text)} has no time zone: add Z for UTC (or an offset like +01:00)")
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        problems.at(f, f"{quote(text)} is out of range")
        return None


def _names(problems: Problems, f: Field | None, known: set[str], what: str) -> tuple[str, ...]:
    names: list[str] = []
    for item in read_list(problems, f, what=f"{what} names") or []:
        name = read_text(problems, item, what=f"a {what} name")
        if name is None:
            continue
        if name not in known:
            where = f"no release has the environment {quote(name)}" if what == "environment" else \
                f"no release is named {quote(name)}"
            problems.at(item, where + suggest(name, known))
            continue
        names.append(name)
    return tuple(names)


def read_freezes(problems: Problems, f: Field | None, release_names: set[str],
                 environments: set[str]) -> tuple[Freeze, ...]:
    freezes: list[Freeze] = []
    for item in read_list(problems, f, what="freezes") or []:
        m = read_mapping(problems, item, FREEZE_KEYS, what="a freeze")
        if m is None:
            continue
        freeze = _freeze(problems, item, m, release_names, environments)
        if freeze is not None:
            freezes.append(freeze)
    return tuple(freezes)


def _freeze(problems: Problems, item: Field, m: dict[str, Field], release_names: set[str],
            environments: set[str]) -> Freeze | None:
    scoped_environments = _names(problems, m.get("environments"), environments, "environment")
    scoped_releases = _names(problems, m.get("releases"), release_names, "release")
    reason = read_text(problems, m.get("reason"), what="a reason") or "deploy freeze"
    is_range, is_cron = ("from" in m or "to" in m), ("cron" in m or "duration" in m)
    if is_range and is_cron:
        problems.at(item, "a freeze is a date range (from, to) or a cron window (cron, duration), not both")
        return None
    if not is_range and not is_cron:
        problems.at(item, "a freeze needs from and to (a date range) or cron and duration (a repeating "
                          "window)")
        return None
    pair = ("from", "to") if is_range else ("cron", "duration")
    for key in pair:
        if key not in m:
            other = pair[0] if key == pair[1] else pair[1]
            problems.add(item.key(key), item.line, f"missing: {other} needs {key}")
    if is_range:
        start, end = _moment(problems, m.get("from")), _moment(problems, m.get("to"))
        if start is None or end is None:
            return None
        if end <= start:
            problems.at(m["to"], "to must be later than from")
            return None
        return Freeze(reason=reason, environments=scoped_environments, releases=scoped_releases,
                      start=start, end=end)
    schedule = _cron(problems, m.get("cron"))
    duration = read_duration(problems, m.get("duration"))
    if schedule is None or duration is None:
        return None
    return Freeze(reason=reason, environments=scoped_environments, releases=scoped_releases,
                  cron=schedule, duration=duration)


def _cron(problems: Problems, f: Field | None) -> CronSchedule | None:
    text = read_text(problems, f, what='a cron schedule like "0 18 * * FRI"')
    if text is None or f is None:
        return None
    try:
        return CronSchedule.parse(text)
    except ValueError as exc:
        problems.at(f, f"invalid cron schedule {quote(text)}: {exc}")
        return None
