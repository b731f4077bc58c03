"""Fixtures for the bot as a process: a Slack stand-in with a workspace, and a launcher for `helmbot run`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.support import BotLauncher, launcher_fixture


@pytest.fixture
def bots(tmp_path: Path, sim: Any) -> Iterator[BotLauncher]:
    yield from launcher_fixture(tmp_path, sim)
