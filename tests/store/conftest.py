"""Every store test runs against both backends: a SQLite file and a real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.store import SqlStore, open_store
from tests.pg import postgres_server  # noqa: F401  (the session fixture)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """A URL to an empty store of the backend: a new SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store')}/helmbot.db"
    return str(request.getfixturevalue("postgres_server").fresh_url())


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
