from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("300", timedelta(seconds=300)),
        ("1.5h", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("1h0m5s", timedelta(hours=1, seconds=5)),
        ("2d", timedelta(days=2)),
        (" 10M ", timedelta(minutes=10)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        (".5m", timedelta(seconds=30)),
        (45, timedelta(seconds=45)),
        (1.5, timedelta(seconds=1.5)),
    ],
)
def test_parse(text: str | int | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "invalid duration 'abc'"),
        ("5x", "unknown unit 'x'"),
        ("5 m", "invalid duration '5 m'"),
        ("1h30", "missing unit after '30'"),
        ("-5m", "must not be negative"),
        (-3, "must not be negative"),
        ("m5", "invalid duration 'm5'"),
        ("5m!", "invalid duration '5m!'"),
        (True, "invalid duration"),
    ],
)
def test_parse_errors(text: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_duration(text)  # type: ignore[arg-type]
    assert "expected e.g." in str(err.value) or "negative" in str(err.value) or "unit" in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["99999999999999999999h", "99999999999d", "999999999999999999999999999999", 10**30, float("inf")],
    ids=["huge-hours", "huge-days", "huge-bare-seconds", "huge-int", "infinity"],
)
def test_parse_too_long_is_a_value_error(text: object) -> None:
    """Python's timedelta raises OverflowError here; callers catch ValueError (usage errors, config)."""
    with pytest.raises(ValueError, match="too long"):
        parse_duration(text)  # type: ignore[arg-type]


def test_parse_nan_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(float("nan"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=72), "1m12s"),
        (timedelta(0), "0s"),
        (timedelta(hours=1, seconds=5), "1h5s"),
        (timedelta(hours=26), "26h"),
        (timedelta(minutes=5), "5m"),
        (timedelta(milliseconds=450), "450ms"),
        (timedelta(seconds=59, microseconds=999_999), "59s"),
        (timedelta(seconds=-90), "-1m30s"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize("text", ["5m", "1h30m", "1m30s", "1h5s", "450ms", "26h", "20us"])
def test_format_parse_roundtrip(text: str) -> None:
    assert format_duration(parse_duration(text)) == text
