"""Five-field cron schedules (UTC) for freeze windows: parse with a message naming the bad field, and find the
fire times around a moment. Pure: every function takes the moment it reasons about.

Semantics follow Vixie cron: minute hour day-of-month month day-of-week; `*`, lists, ranges, steps
(`*/15`, `1-5/2`, `10/5`), month and day names (JAN, FRI), 0 or 7 for Sunday; when both day fields are
restricted a day matching either fires. `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`,
`@yearly`/`@annually` are accepted.
"""

from __future__ import annotations

import calendar
import difflib
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["CronSchedule"]

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12),
           ("day-of-week", 0, 7))
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
           "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_SEARCH_DAYS = 366 * 8   # "29 Feb on a Monday" fires within 28 years; windows further off are not useful


def _number(word: str, name: str, names: dict[str, int]) -> int:
    if word.upper() in names:
        return names[word.upper()]
    if not word.isdigit():
        close = difflib.get_close_matches(word.upper(), list(names), n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (use numbers or names like MON, JAN)" \
            if word.isalpha() else ""
        raise ValueError(f"{name} field: {word!r} is not a number{hint}")
    return int(word)


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    names = _MONTHS if name == "month" else _DAYS if name == "day-of-week" else {}
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name} field: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, name, names), _number(last, name, names)
        elif base:
            start = _number(base, name, names)
            end = high if step_text else start
        else:
            raise ValueError(f"{name} field: empty entry in {text!r}")
        for value in (start, end):
            if not low <= value <= high:
                raise ValueError(f"{name} field: {value} is out of range {low}-{high}")
        if start > end:
            raise ValueError(f"{name} field: range {base!r} runs backwards")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    text: str
    minutes: tuple[int, ...] = field(repr=False)
    hours: tuple[int, ...] = field(repr=False)
    days: frozenset[int] = field(repr=False)
    months: frozenset[int] = field(repr=False)
    weekdays: frozenset[int] = field(repr=False)   # 0 = Sunday
    days_restricted: bool = field(repr=False)
    weekdays_restricted: bool = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        """ValueError says which field is wrong and why."""
        expanded = _MACROS.get(text.strip().lower(), text)
        if text.strip().startswith("@") and expanded is text:
            raise ValueError(f"unknown macro {text.strip()!r} (use " + ", ".join(_MACROS) + ")")
        parts = expanded.split()
        if len(parts) != 5:
            raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week, UTC), "
                             f"got {len(parts)}")
        if "?" in parts:
            raise ValueError("? (Quartz syntax) is not supported; use *")
        sets = [_parse_field(p, name, low, high) for p, (name, low, high) in zip(parts, _FIELDS, strict=True)]
        minutes, hours, days, months, weekdays = sets
        schedule = cls(
            text=text.strip(), minutes=tuple(sorted(minutes)), hours=tuple(sorted(hours)), days=days,
            months=months, weekdays=frozenset(d % 7 for d in weekdays),
            days_restricted=not parts[2].startswith("*"), weekdays_restricted=not parts[4].startswith("*"))
        if not schedule.weekdays_restricted and not any(
                d <= (29 if m == 2 else calendar.monthrange(2001, m)[1]) for m in months for d in days):
            raise ValueError("this schedule never fires (no such day in those months)")
        return schedule

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def last_fire(self, at: datetime, not_before: datetime | None = None) -> datetime | None:
        """The latest fire time at or before `at` (None if none since `not_before`, or in the search span)."""
        at = _utc(at).replace(second=0, microsecond=0)
        floor = _utc(not_before).date() if not_before is not None else at.date() - timedelta(_SEARCH_DAYS)
        day = at.date()
        while day >= floor:
            if self.matches_day(day):
                moment = self._last_in_day(day, at.time() if day == at.date() else time(23, 59))
                if moment is not None:
                    return moment
            day -= timedelta(days=1)
        return None

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after` (None if none within the search span)."""
        after = _utc(after)
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self.matches_day(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        moment = datetime.combine(day, time(hour, minute), UTC)
                        if moment >= start:
                            return moment
            day += timedelta(days=1)
        return None

    def _last_in_day(self, day: date, limit: time) -> datetime | None:
        for hour in reversed(self.hours[: bisect_right(self.hours, limit.hour)]):
            minutes = self.minutes if hour < limit.hour else self.minutes[: bisect_right(self.minutes,
                                                                                         limit.minute)]
            if minutes:
                return datetime.combine(day, time(hour, minutes[-1]), UTC)
        return None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime: pass an aware one (UTC)")
    return moment.astimezone(UTC)
