"""The store in PostgreSQL (psycopg 3): several replicas share it.

Atomicity across processes comes from the shared SQL (single-statement upserts and conditional updates
under READ COMMITTED), migrations from a transaction-scoped advisory lock. Connections come from a small
pool (a connection serves one thread at a time); a connection that broke is dropped, and one idle for a
while is checked before use, so a database restart costs at most one failed call.

The password comes from the URL or HELMBOT_STATE_PASSWORD and appears in no message: errors name the
host, port and database only.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Json

from bot.core.events import to_utc
from bot.store.base import SqlStore
from bot.store.errors import RecordExists, StoreError
from bot.store.migrations import MIGRATIONS, Migration, Tx

PASSWORD_ENV = "HELMBOT_STATE_PASSWORD"
MIGRATION_LOCK_KEY = 0x68656C6D626F74   # "helmbot": one advisory lock for every helmbot schema migration
IDLE_CHECK_SECONDS = 30.0

Connection = psycopg.Connection[dict[str, Any]]


@lru_cache(maxsize=256)
def to_pyformat(sql: str) -> str:
    """`:name` parameters (the shared SQL's style) as psycopg's `%(name)s`; `::casts` stay."""
    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql.replace("%", "%%"))


class _Secret:
    """Holds the password so that no repr, debugger dump or traceback-with-locals shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"


class _PgTx:
    def __init__(self, cursor: psycopg.Cursor[dict[str, Any]]) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        self._cursor.execute(to_pyformat(sql), dict(params or {}))
        return self._cursor.fetchall() if self._cursor.description is not None else []


class _Pool:
    """At most `size` connections, created on demand and reused; broken ones are dropped."""

    def __init__(self, connect: Callable[[], Connection], size: int, wait: float, location: str) -> None:
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[tuple[Connection, float]] = []
        self._lock = threading.Lock()
        self._wait = wait
        self._location = location
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        if not self._slots.acquire(timeout=self._wait):
            raise StoreError(f"{self._location}: no free connection after {self._wait:g}s")
        conn: Connection | None = None
        try:
            conn = self._checkout()
            yield conn
        finally:
            if conn is not None:
                self._checkin(conn)
            self._slots.release()

    def _checkout(self) -> Connection:
        while True:
            with self._lock:
                conn, last_used = self._idle.pop() if self._idle else (None, 0.0)
            if conn is None:
                return self._connect()
            if time.monotonic() - last_used < IDLE_CHECK_SECONDS:
                return conn
            try:
                conn.execute("SELECT 1")
                return conn
            except psycopg.Error:
                conn.close()

    def _checkin(self, conn: Connection) -> None:
        with self._lock:
            if not self._closed and not conn.closed and not conn.broken:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


class PostgresStore(SqlStore):
    COLUMN_TYPES: ClassVar[Mapping[str, str]] = {
        "time": "TIMESTAMPTZ",
        "json": "JSON",     # not JSONB: JSON keeps text exactly, including \u0000 that JSONB refuses
        "serial_pk": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    }

    def __init__(
        self,
        url: str,
        *,
        migrations: Sequence[Migration] = MIGRATIONS,
        pool_size: int = 8,
        pool_wait: float = 30.0,
    ) -> None:
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error:
            raise StoreError(
                "the PostgreSQL state URL is not valid (postgresql://user@host:5432/db)"
            ) from None
        password = params.pop("password", None) or os.environ.get(PASSWORD_ENV)
        self._password = _Secret(str(password)) if password else None
        params.setdefault("connect_timeout", "10")
        params.setdefault("application_name", "helmbot")
        self._conninfo = make_conninfo("", **params)   # without the password
        host = params.get("host") or params.get("hostaddr") or "local socket"
        self.location = f"PostgreSQL store {host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
        self._pool = _Pool(self._connect, pool_size, pool_wait, self.location)
        try:
            super().__init__(migrations)
        except BaseException:
            self._pool.close()
            raise

    def _reason(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if self._password is not None:
            text = text.replace(self._password.value, "***")
        return text

    def _connect(self) -> Connection:
        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=True,
                row_factory=dict_row,
                password=self._password.value if self._password is not None else None,
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {self.location}: {self._reason(exc)}") from None

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
                yield _PgTx(cursor)
        except psycopg.errors.UniqueViolation:
            raise RecordExists(f"{self.location}: that record already exists") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreError(f"{self.location}: {self._reason(exc)}") from None

    @contextmanager
    def _migration_transaction_cm(self) -> Iterator[Tx]:
        with self._transaction(write=True) as tx:
            tx.execute("SELECT pg_advisory_xact_lock(:key)", {"key": MIGRATION_LOCK_KEY})
            yield tx

    def _migration_transaction(self) -> AbstractContextManager[Tx]:
        return self._migration_transaction_cm()

    def encode_time(self, at: datetime) -> datetime:
        return to_utc(at)

    def decode_time(self, value: Any) -> datetime:
        return to_utc(value)

    def encode_json(self, value: Any) -> Json:
        return Json(value)

    def decode_json(self, value: Any) -> Any:
        return value

    def _close(self) -> None:
        self._pool.close()
