"""The store in one SQLite file (stdlib sqlite3): one replica, or tests with `:memory:`.

One connection guarded by a lock serves every thread (a `:memory:` database exists only in its own
connection, and one writer at a time is all SQLite allows anyway). WAL lets other processes read while one
writes; write transactions start IMMEDIATE, so two processes never both read-then-upgrade into a deadlock,
and a busy timeout makes them wait for each other instead of failing. synchronous=FULL: a commit survives
kill -9 and power loss alike.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from bot.core.events import parse_time, to_utc
from bot.store.base import SqlStore
from bot.store.errors import RecordExists, StoreError
from bot.store.migrations import MIGRATIONS, Migration, Tx

MEMORY = ":memory:"


def _dict_row(cursor: sqlite3.Cursor, row: Sequence[Any]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return list(self._conn.execute(sql, dict(params or {})).fetchall())


class SqliteStore(SqlStore):
    COLUMN_TYPES: ClassVar[Mapping[str, str]] = {
        "time": "TEXT",       # ISO 8601 UTC with microseconds: fixed width, so text order is time order
        "json": "TEXT",
        "serial_pk": "INTEGER PRIMARY KEY AUTOINCREMENT",
    }

    def __init__(
        self, path: str | Path, *, migrations: Sequence[Migration] = MIGRATIONS, busy_timeout: float = 15.0
    ) -> None:
        self.path = str(path)
        self.location = "SQLite store in memory" if self.path == MEMORY else f"SQLite store {self.path}"
        self._lock = threading.RLock()
        self._conn = self._connect(busy_timeout)
        try:
            super().__init__(migrations)
        except BaseException:
            self._conn.close()
            raise

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        if self.path != MEMORY and not Path(self.path).parent.is_dir():
            parent = Path(self.path).parent
            raise StoreError(f"cannot open {self.location}: directory {parent} does not exist")
        try:
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.location}: {exc}") from None
        try:
            conn.row_factory = _dict_row
            if self.path != MEMORY:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
                if str(mode["journal_mode"]).lower() != "wal":
                    raise StoreError(f"cannot open {self.location}: WAL journal mode is not available there")
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open {self.location}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _SqliteTx(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError as exc:
                if "UNIQUE" not in str(exc):
                    raise
                raise RecordExists(f"{self.location}: that record already exists") from None
            except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
                if isinstance(exc, sqlite3.ProgrammingError):
                    raise
                raise StoreError(f"{self.location}: {' '.join(str(exc).split())}") from None

    def _migration_transaction(self) -> AbstractContextManager[Tx]:
        return self._transaction(write=True)

    def encode_time(self, at: datetime) -> str:
        return to_utc(at).isoformat(timespec="microseconds")

    def decode_time(self, value: Any) -> datetime:
        return parse_time(str(value))

    def encode_json(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)

    def decode_json(self, value: Any) -> Any:
        return json.loads(value)

    def _close(self) -> None:
        with self._lock:
            self._conn.close()
