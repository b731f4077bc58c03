"""What is wrong with a configuration, worded for the person who wrote it: every problem at once, each with
the key path and the line, so one run of `helmbot check-config` is enough to fix a file."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import HelmbotError

__all__ = ["ConfigError", "ConfigProblem", "UnknownReleaseError"]


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake: `path` is the key path ("releases[0].allowed_values[2]", "" for the whole file),
    `line` is 1-based (None when the file has no line to point at, e.g. it cannot be read)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path or "the file"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


class ConfigError(HelmbotError):
    """A configuration that cannot be used; `problems` holds every mistake found, in file order."""

    def __init__(self, problems: list[ConfigProblem], source: str = "config") -> None:
        # Problems without a line (the file as a whole) first, then in file order; stable within a line.
        self.problems = sorted(problems, key=lambda p: (p.line is not None, p.line or 0))
        self.source = source
        super().__init__(self.user_message())

    def user_message(self) -> str:
        count = len(self.problems)
        head = f"{self.source}: {count} problem{'s' if count != 1 else ''} in the configuration"
        return "\n".join([head + ":", *(f"  {p}" for p in self.problems)])


class UnknownReleaseError(HelmbotError):
    """A command names a release (or environment) the configuration does not have, or is ambiguous."""
