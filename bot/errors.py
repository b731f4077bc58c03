"""One root for every error helmbot explains to a person, and one way to turn any error into user text.

The CLI, the Slack app and the logs all call `describe_error`, so a message is worded once and a secret
that reached an exception's text is never shown anywhere: subclasses say what is safe to show.
"""

from __future__ import annotations

EXIT_USAGE = 3      # usage, configuration, connection or API errors: the user can act on them
EXIT_INTERNAL = 4   # anything else is a helmbot bug
MESSAGE_LIMIT = 300


class HelmbotError(Exception):
    """An error with a message fit for a person: one line, no values, no secrets."""

    exit_code = EXIT_USAGE

    def user_message(self) -> str:
        return str(self)


def _one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def describe_error(exc: BaseException) -> str:
    """One line for a person. Errors of ours say what they say; anything else is a bug, named by type only
    (its text may quote data we never want in a chat channel)."""
    if isinstance(exc, HelmbotError):
        return _one_line(exc.user_message() or type(exc).__name__)
    return f"internal error ({type(exc).__name__}); this is a helmbot bug, please report it"


def exit_code_for(exc: BaseException) -> int:
    return exc.exit_code if isinstance(exc, HelmbotError) else EXIT_INTERNAL
