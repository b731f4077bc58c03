"""Opening a store: URL forms, clear one-line errors, passwords kept out of every message, reconnecting."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from bot.errors import describe_error, exit_code_for
from bot.store import SqlStore, StoreError, open_store, sqlite_path
from tests.pg import PostgresServer
from tests.store.factories import deploy

# --- SQLite --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite:////var/lib/helmbot/helmbot.db", "/var/lib/helmbot/helmbot.db"),
        ("sqlite:///state/helmbot.db", "state/helmbot.db"),
    ],
)
def test_sqlite_url_forms(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:helmbot.db", "sqlite:///x.db?mode=ro"])
def test_bad_sqlite_urls(url: str) -> None:
    with pytest.raises(StoreError, match="sqlite:///"):
        open_store(url)


def test_memory_store_works_and_is_private() -> None:
    with open_store("sqlite:///:memory:") as one, open_store("sqlite:///:memory:") as two:
        rec = one.create_deploy(deploy())
        assert one.get_deploy(rec.id) == rec
        assert two.get_deploy(rec.id) is None


def test_relative_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "state").mkdir()
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///state/helmbot.db") as store:
        rec = store.create_deploy(deploy())
    with open_store(f"sqlite:///{tmp_path}/state/helmbot.db") as store:   # the absolute form, same file
        assert store.get_deploy(rec.id) == rec


def test_sqlite_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "helmbot.db"
    with open_store(f"sqlite:///{path}") as store:
        store.create_deploy(deploy())
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            conn.close()


def test_sqlite_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{tmp_path}/nope/helmbot.db")
    assert describe_error(caught.value) == (
        f"cannot open SQLite store {tmp_path}/nope/helmbot.db: directory {tmp_path}/nope does not exist"
    )
    assert exit_code_for(caught.value) == 3


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "helmbot.db"
    path.write_bytes(b"this is not a database, it is a text file " * 100)
    with pytest.raises(StoreError, match=f"SQLite store {path}.*not a database"):
        open_store(f"sqlite:///{path}")


def test_unsupported_scheme_does_not_repeat_the_url() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("mysql://root:hunter2@db/helmbot")
    assert "hunter2" not in describe_error(caught.value) and "'mysql'" in describe_error(caught.value)


# --- PostgreSQL ----------------------------------------------------------------------------------------


def test_postgres_password_from_the_url(postgres_server: PostgresServer) -> None:
    with open_store(postgres_server.fresh_url()) as store:
        store.ping()
        assert store.location == f"PostgreSQL store 127.0.0.1:{postgres_server.port}/postgres"
        assert postgres_server.password not in repr(store.__dict__)


def test_postgres_password_from_the_environment(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_server.url(schema=postgres_server.fresh_schema(), password=False)
    monkeypatch.delenv("HELMBOT_STATE_PASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    with pytest.raises(StoreError, match="password"):
        open_store(url)
    monkeypatch.setenv("HELMBOT_STATE_PASSWORD", postgres_server.password)
    with open_store(url) as store:
        store.ping()


def test_postgres_wrong_password_names_host_and_db_only(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "not-the-Password-42"
    url = f"postgresql://helmbot:{secret}@127.0.0.1:{postgres_server.port}/postgres"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    text = describe_error(caught.value)
    assert text.startswith(f"cannot connect to PostgreSQL store 127.0.0.1:{postgres_server.port}/postgres: ")
    assert "password authentication failed" in text
    assert secret not in text and secret not in repr(caught.value) and secret not in caplog.text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_postgres_unreachable_is_one_line(postgres_server: PostgresServer) -> None:
    url = "postgresql://helmbot:s3cret-pw@127.0.0.1:1/helmbot?connect_timeout=2"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    text = describe_error(caught.value)
    assert text.startswith("cannot connect to PostgreSQL store 127.0.0.1:1/helmbot:")
    assert "\n" not in text and "s3cret-pw" not in text


def test_postgres_invalid_url_does_not_repeat_it() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://helmbot:pa ss@host:notaport/db?bogus_option=1")
    assert "pa ss" not in describe_error(caught.value)


def test_postgres_store_recovers_from_dropped_connections(postgres_server: PostgresServer) -> None:
    """A restarted database or a killed backend costs at most one failed call, which is a StoreError."""
    with open_store(postgres_server.fresh_url()) as store:
        rec = store.create_deploy(deploy())
        _terminate_helmbot_backends(postgres_server)
        outcomes = []
        for _ in range(2):
            try:
                outcomes.append(store.get_deploy(rec.id))
            except StoreError as exc:
                assert postgres_server.password not in str(exc)
                outcomes.append(None)
        assert outcomes[-1] == rec


def _terminate_helmbot_backends(server: PostgresServer) -> None:
    with server.admin() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'helmbot' AND pid <> pg_backend_pid()"
        )


def test_store_protocol_is_what_open_store_returns(store: SqlStore) -> None:
    from bot.store import Store

    def takes_port(port: Store) -> None:
        port.ping()

    takes_port(store)
