"""One root for every error helmbot explains to a person, and one way to turn any error into user text.

The CLI, the Slack app and the logs all call `describe_error`, so a message is worded once and a secret
that reached an exception's text is never shown anywhere: subclasses say what is safe to show.

Roots that exist: `ReleaseDecodeError` (bot.core.releases), `KubeError` and its API errors (bot.kube.errors),
`HelmError`/`HelmArgsError` (bot.helm), `UsageError` (bot.cli.errors). Each keeps the standard base callers
catch it by today (ValueError, RuntimeError).
"""

from __future__ import annotations

from bot.text import clip, join_lines

EXIT_USAGE = 3      # usage, configuration, connection or API errors: the user can act on them
EXIT_INTERNAL = 4   # anything else is a helmbot bug
MESSAGE_LIMIT = 300


class HelmbotError(Exception):
    """An error with a message fit for a person: one line, no values, no secrets."""

    exit_code = EXIT_USAGE

    def user_message(self) -> str:
        """What a person may read (a terminal, a Slack channel, a log line); subclasses that carry raw
        details (stderr, server bodies) override it."""
        return str(self)


def describe_error(exc: BaseException, *, internal_detail: bool = False) -> str:
    """One line for a person, at most MESSAGE_LIMIT characters. Errors of ours say what they say; anything
    else is a bug, named by its type, and by its text only with `internal_detail` (the CLI, whose user
    runs the process; never a chat channel: an unexpected error's text may quote data)."""
    if isinstance(exc, HelmbotError):
        return clip(join_lines(exc.user_message()) or type(exc).__name__, MESSAGE_LIMIT)
    detail = clip(join_lines(exc), MESSAGE_LIMIT) if internal_detail else ""
    named = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return f"internal error: {named} (a helmbot bug; please report it)"


def exit_code_for(exc: BaseException) -> int:
    return exc.exit_code if isinstance(exc, HelmbotError) else EXIT_INTERNAL
