"""Durations as people type them and as Helm's --timeout takes them (see bot.core.model.durations)."""

from bot.core.model.durations import DurationTooLong, format_age, format_duration, parse_duration

__all__ = ["DurationTooLong", "format_age", "format_duration", "parse_duration"]
