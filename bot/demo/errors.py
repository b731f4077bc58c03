"""Errors the demo explains to a person."""

from __future__ import annotations

from bot.errors import HelmbotError


class DemoError(HelmbotError):
    """The demo cannot start or reach one of its parts (a bad kubeconfig, a port in use, ...)."""
