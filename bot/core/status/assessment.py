"""What `assess()` answers about one object."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.model.failures import Failure
from bot.core.model.states import State


@dataclass(frozen=True)
class Assessment:
    state: State
    reason: str
    failures: tuple[Failure, ...] = ()
    ready: int | None = None
    desired: int | None = None
    warnings: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()
