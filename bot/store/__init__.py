"""The bot's durable state: deploy records, locks, approvals, once-keys, the audit log and the Slack outbox.

`open_store(url)` picks the backend from the URL:
- `sqlite:///:memory:` (tests), `sqlite:////abs/path.db`, `sqlite:///relative/path.db`: one replica;
- `postgresql://user@host:5432/db` (or `postgres://`): several replicas; the password from the URL or
  HELMBOT_STATE_PASSWORD.
Opening applies any missing schema migrations; see docs/store.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.base import SqlStore, Store
from bot.store.errors import RecordExists, RecordNotFound, StoreError
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.records import Approval, AuditEntry, DeployRecord, Lock, OutboxMessage

__all__ = [
    "MIGRATIONS",
    "Approval",
    "AuditEntry",
    "DeployRecord",
    "Lock",
    "Migration",
    "OutboxMessage",
    "RecordExists",
    "RecordNotFound",
    "SqlStore",
    "Store",
    "StoreError",
    "open_store",
    "sqlite_path",
]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def sqlite_path(url: str) -> str:
    """`sqlite:///:memory:` -> ":memory:", `sqlite:////abs/x.db` -> "/abs/x.db", `sqlite:///x.db` -> "x.db"
    (relative to the working directory)."""
    if not url.startswith(SQLITE_PREFIX) or len(url) == len(SQLITE_PREFIX):
        raise StoreError("a SQLite state URL looks like sqlite:////var/lib/helmbot/helmbot.db")
    path = url[len(SQLITE_PREFIX):]
    if "?" in path:
        raise StoreError("a SQLite state URL takes no options (sqlite:///PATH)")
    return path


def open_store(url: str, *, migrations: Sequence[Migration] = MIGRATIONS) -> SqlStore:
    """Open (and migrate) the store at `url`. Raises StoreError naming the file or host/db, never a
    password; the URL itself is not repeated in messages since it may hold one."""
    if url.startswith("sqlite:"):
        from bot.store.sqlite import SqliteStore

        return SqliteStore(sqlite_path(url), migrations=migrations)
    if url.startswith(POSTGRES_SCHEMES):
        from bot.store.postgres import PostgresStore

        return PostgresStore(url, migrations=migrations)
    scheme = f" scheme {url.split('://', 1)[0]!r}" if "://" in url else ""
    raise StoreError(f"unsupported state URL{scheme}: use sqlite:///PATH or postgresql://user@host:5432/db")
