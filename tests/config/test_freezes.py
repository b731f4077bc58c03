"""Freeze windows in time: date ranges, cron windows crossing midnight and weekends; `now` is a parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import CronSchedule, Freeze, freeze_active, next_windows


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def cron_freeze(schedule: str, hours: float, releases: tuple[str, ...] = ()) -> Freeze:
    return Freeze(cron=CronSchedule.parse(schedule), duration=timedelta(hours=hours), releases=releases)


YEAR_END = Freeze(reason="year end", environments=("prod",), start=at("2026-12-20T00:00"),
                  end=at("2027-01-04T00:00"))
# Friday 18:00 UTC for 62 h: until Monday 08:00. 2026-05-01 is a Friday.
WEEKEND = cron_freeze("0 18 * * FRI", 62, releases=("shop",))
# Every night 22:00 for 8 h: crosses midnight.
NIGHTLY = cron_freeze("0 22 * * *", 8)


@pytest.mark.parametrize(
    ("now", "open_"),
    [
        ("2026-12-19T23:59:59", False),
        ("2026-12-20T00:00:00", True),
        ("2027-01-03T23:59:59", True),
        ("2027-01-04T00:00:00", False),
    ],
    ids=["just-before", "start-inclusive", "last-second", "end-exclusive"],
)
def test_date_range(now: str, open_: bool) -> None:
    assert (YEAR_END.window_at(at(now)) is not None) is open_


@pytest.mark.parametrize(
    ("now", "window"),
    [
        ("2026-05-01T17:59", None),
        ("2026-05-01T18:00", ("2026-05-01T18:00", "2026-05-04T08:00")),
        ("2026-05-02T12:00", ("2026-05-01T18:00", "2026-05-04T08:00")),
        ("2026-05-03T23:59", ("2026-05-01T18:00", "2026-05-04T08:00")),
        ("2026-05-04T07:59", ("2026-05-01T18:00", "2026-05-04T08:00")),
        ("2026-05-04T08:00", None),
        ("2026-05-06T12:00", None),
    ],
    ids=["friday-before", "friday-start", "saturday", "sunday-night", "monday-last-minute", "monday-end",
         "wednesday"],
)
def test_cron_window_over_the_weekend(now: str, window: tuple[str, str] | None) -> None:
    expected = (at(window[0]), at(window[1])) if window else None
    assert WEEKEND.window_at(at(now)) == expected


@pytest.mark.parametrize(
    ("now", "window"),
    [
        ("2026-05-05T21:59", None),
        ("2026-05-05T22:00", ("2026-05-05T22:00", "2026-05-06T06:00")),
        ("2026-05-06T00:00", ("2026-05-05T22:00", "2026-05-06T06:00")),
        ("2026-05-06T05:59:59", ("2026-05-05T22:00", "2026-05-06T06:00")),
        ("2026-05-06T06:00", None),
        ("2026-01-01T01:00", ("2025-12-31T22:00", "2026-01-01T06:00")),
    ],
    ids=["before", "start", "midnight", "last-second", "end", "across-new-year"],
)
def test_cron_window_across_midnight(now: str, window: tuple[str, str] | None) -> None:
    expected = (at(window[0]), at(window[1])) if window else None
    assert NIGHTLY.window_at(at(now)) == expected


def test_other_time_zones_are_compared_as_instants() -> None:
    from datetime import timezone

    berlin_summer = timezone(timedelta(hours=2))
    # 2026-05-01 19:30 in UTC+2 is 17:30 UTC: before the Friday 18:00 UTC window.
    assert WEEKEND.window_at(datetime(2026, 5, 1, 19, 30, tzinfo=berlin_summer)) is None
    assert WEEKEND.window_at(datetime(2026, 5, 1, 20, 30, tzinfo=berlin_summer)) is not None


def test_overlapping_windows_extend_the_freeze() -> None:
    """A daily 00:00 window of 36 h overlaps the next day's: the freeze never lifts."""
    freeze = cron_freeze("0 0 * * *", 36)
    for hour in range(0, 72, 5):
        now = at("2026-05-01T00:00") + timedelta(hours=hour)
        window = freeze.window_at(now)
        assert window is not None and window[0] <= now < window[1]


@pytest.mark.parametrize(
    ("release", "environment", "now", "expected"),
    [
        ("shop", "prod", "2026-12-24T12:00", "year end"),
        ("cart", "prod", "2026-12-24T12:00", "year end"),
        ("shop", "staging", "2026-12-24T12:00", None),
        ("shop", None, "2026-05-02T12:00", "deploy freeze"),
        ("cart", None, "2026-05-02T12:00", None),
        ("shop", "prod", "2026-05-06T12:00", None),
    ],
    ids=["year-end-prod", "year-end-other-release", "year-end-not-staging", "weekend-shop",
         "weekend-not-cart", "midweek"],
)
def test_freeze_active(release: str, environment: str | None, now: str, expected: str | None) -> None:
    found = freeze_active([YEAR_END, WEEKEND], release, environment, at(now))
    assert (found.reason if found else None) == expected


def test_a_freeze_scoped_to_release_and_environment_needs_both() -> None:
    freeze = Freeze(releases=("shop",), environments=("prod",), start=at("2026-01-01T00:00"),
                    end=at("2027-01-01T00:00"))
    now = at("2026-06-01T00:00")
    assert freeze_active([freeze], "shop", "prod", now) is freeze
    assert freeze_active([freeze], "shop", "staging", now) is None
    assert freeze_active([freeze], "cart", "prod", now) is None


def test_next_windows_start_with_the_current_one() -> None:
    windows = next_windows(WEEKEND, at("2026-05-02T12:00"), count=3)
    assert windows == [
        (at("2026-05-01T18:00"), at("2026-05-04T08:00")),
        (at("2026-05-08T18:00"), at("2026-05-11T08:00")),
        (at("2026-05-15T18:00"), at("2026-05-18T08:00")),
    ]
    assert next_windows(WEEKEND, at("2026-05-06T00:00"), count=1) == [
        (at("2026-05-08T18:00"), at("2026-05-11T08:00"))]
    assert next_windows(YEAR_END, at("2026-01-01T00:00")) == [(YEAR_END.start, YEAR_END.end)]
    assert next_windows(YEAR_END, at("2027-02-01T00:00")) == []


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        freeze_active([WEEKEND], "shop", None, datetime(2026, 5, 2, 12, 0))


# --- the cron schedule itself

@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("*/15 9-17 * * MON-FRI", "2026-05-01T17:50", "2026-05-04T09:00"),
        ("0 0 1 * *", "2026-01-31T12:00", "2026-02-01T00:00"),
        ("0 0 29 2 *", "2026-03-01T00:00", "2028-02-29T00:00"),
        ("30 4 1,15 * 5", "2026-05-02T00:00", "2026-05-08T04:30"),     # day 1 or 15, or any Friday
        ("0 12 * * 7", "2026-05-01T00:00", "2026-05-03T12:00"),          # 7 is Sunday too
        ("5 0 * 8 *", "2026-05-01T00:00", "2026-08-01T00:05"),
        ("@hourly", "2026-05-01T10:59:59", "2026-05-01T11:00"),
        ("10/20 * * * *", "2026-05-01T10:31", "2026-05-01T10:50"),
        ("0 18 * jan,Dec fri", "2026-05-01T00:00", "2026-12-04T18:00"),
    ],
    ids=["business-quarters", "first-of-month", "leap-day", "dom-or-dow", "sunday-as-7", "month-only",
         "hourly-macro", "start-with-step", "names-case-insensitive"],
)
def test_next_fire(schedule: str, after: str, expected: str) -> None:
    assert CronSchedule.parse(schedule).next_fire(at(after)) == at(expected)


@pytest.mark.parametrize(
    ("schedule", "moment", "expected"),
    [
        ("0 18 * * FRI", "2026-05-04T08:00", "2026-05-01T18:00"),
        ("0 18 * * FRI", "2026-05-01T18:00:59", "2026-05-01T18:00"),
        ("*/15 * * * *", "2026-05-01T10:14", "2026-05-01T10:00"),
        ("0 22 * * *", "2026-05-01T21:59", "2026-04-30T22:00"),
    ],
    ids=["weekend", "same-minute", "quarter", "previous-day"],
)
def test_last_fire(schedule: str, moment: str, expected: str) -> None:
    assert CronSchedule.parse(schedule).last_fire(at(moment)) == at(expected)
