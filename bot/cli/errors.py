"""Errors of the command line itself (bad flags, bad values): exit 3 like every error a user can act on."""

from __future__ import annotations

from bot.errors import HelmbotError


class UsageError(HelmbotError):
    """A flag or argument the command cannot use; the message names it."""
