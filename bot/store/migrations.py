"""Numbered schema migrations, written once for both dialects.

A statement names column types by role — `{time}`, `{json}`, `{serial_pk}` — and each backend fills in
its own (TEXT/TIMESTAMPTZ, TEXT/JSON, AUTOINCREMENT/IDENTITY). `schema_version` records every applied
migration; opening a store applies the missing ones in one transaction taken under an exclusive lock (an
immediate transaction in SQLite, an advisory lock in PostgreSQL), so concurrent openers never both migrate.
Migrations only ever get appended: a released one is never edited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.store.errors import StoreError


class Tx(Protocol):
    """One open transaction; SQL uses `:name` parameters."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


SCHEMA_VERSION_DDL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at {time} NOT NULL
)"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "deploys, last seen revisions, locks, approvals, once keys, audit log, outbox",
        (
            """CREATE TABLE deploys (
                id TEXT PRIMARY KEY,
                cluster TEXT NOT NULL,
                namespace TEXT NOT NULL,
                release TEXT NOT NULL,
                environment TEXT,
                revision INTEGER,
                operation TEXT NOT NULL,
                origin TEXT NOT NULL,
                requested_by TEXT,
                request_id TEXT,
                channel TEXT,
                parent_ts TEXT,
                status TEXT NOT NULL,
                tracker_state {json},
                last_events {json} NOT NULL,
                chart TEXT,
                chart_version TEXT,
                app_version TEXT,
                previous_revision INTEGER,
                description TEXT,
                created_at {time} NOT NULL,
                updated_at {time},
                finished_at {time},
                UNIQUE (cluster, namespace, release, revision)
            )""",
            "CREATE INDEX deploys_by_status ON deploys (status, cluster)",
            "CREATE INDEX deploys_by_release ON deploys (cluster, namespace, release, created_at)",
            """CREATE TABLE release_revisions (
                cluster TEXT NOT NULL,
                namespace TEXT NOT NULL,
                release TEXT NOT NULL,
                revision INTEGER NOT NULL,
                PRIMARY KEY (cluster, namespace, release)
            )""",
            """CREATE TABLE locks (
                cluster TEXT NOT NULL,
                namespace TEXT NOT NULL,
                release TEXT NOT NULL,
                holder TEXT NOT NULL,
                deploy_id TEXT NOT NULL,
                since {time} NOT NULL,
                expires_at {time} NOT NULL,
                PRIMARY KEY (cluster, namespace, release)
            )""",
            """CREATE TABLE approvals (
                id TEXT PRIMARY KEY,
                cluster TEXT NOT NULL,
                namespace TEXT NOT NULL,
                release TEXT NOT NULL,
                request {json} NOT NULL,
                requested_by TEXT NOT NULL,
                approvers {json} NOT NULL,
                status TEXT NOT NULL,
                decided_by TEXT,
                created_at {time} NOT NULL,
                expires_at {time} NOT NULL,
                decided_at {time},
                channel TEXT,
                message_ts TEXT
            )""",
            "CREATE INDEX approvals_by_status ON approvals (status, expires_at)",
            """CREATE TABLE once_keys (
                key TEXT PRIMARY KEY,
                expires_at {time} NOT NULL
            )""",
            "CREATE INDEX once_keys_by_expiry ON once_keys (expires_at)",
            """CREATE TABLE audit (
                seq {serial_pk},
                at {time} NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                outcome TEXT NOT NULL,
                detail {json} NOT NULL
            )""",
            """CREATE TABLE outbox (
                seq {serial_pk},
                id TEXT NOT NULL UNIQUE,
                key TEXT NOT NULL UNIQUE,
                channel TEXT NOT NULL,
                kind TEXT NOT NULL,
                deploy_id TEXT,
                thread_of TEXT,
                payload {json} NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                not_before {time},
                created_at {time} NOT NULL,
                attempted_at {time},
                sent_at {time},
                ts TEXT,
                error TEXT
            )""",
            "CREATE INDEX outbox_unsent ON outbox (channel, seq) WHERE status <> 'sent'",
        ),
    ),
    Migration(
        2,
        "parent message versions (updates in place), notification mode, helm's error; failed outbox messages",
        (
            "ALTER TABLE deploys ADD COLUMN notify TEXT NOT NULL DEFAULT 'all'",
            "ALTER TABLE deploys ADD COLUMN parent_version INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE deploys ADD COLUMN parent_sent_version INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE deploys ADD COLUMN helm_error TEXT",
            "ALTER TABLE deploys ADD COLUMN chart_from TEXT",
            "ALTER TABLE deploys ADD COLUMN app_from TEXT",
            "CREATE INDEX deploys_pending_revision ON deploys (cluster, namespace, release, status)",
        ),
    ),
)


def check_sequence(migrations: Sequence[Migration]) -> int:
    """The newest version; migrations must be numbered 1, 2, 3 ... in order."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(f"migration {migration.version} is out of sequence (expected {expected})")
    return len(migrations)


def migrate(
    tx: Tx,
    migrations: Sequence[Migration],
    *,
    column_types: Mapping[str, str],
    encode_time: Callable[[datetime], Any],
    now: datetime,
    location: str,
) -> int:
    """Bring the schema in `tx` up to the newest migration; returns the version the store is now at.

    The caller holds the store's exclusive migration lock for the whole transaction."""
    latest = check_sequence(migrations)
    tx.execute(SCHEMA_VERSION_DDL.format_map(column_types))
    rows = tx.execute("SELECT MAX(version) AS version FROM schema_version")
    current = int(rows[0]["version"] or 0) if rows else 0
    if current > latest:
        raise StoreError(
            f"{location} has schema version {current}, newer than this helmbot understands ({latest}); "
            "run a newer helmbot or restore a backup"
        )
    for migration in migrations[current:]:
        try:
            for statement in migration.statements:
                tx.execute(statement.format_map(column_types))
        except StoreError:
            raise
        except Exception as exc:  # the driver's own error: a broken migration is a StoreError to a person
            raise StoreError(
                f"cannot migrate {location} to schema version {migration.version} ({migration.description}): "
                f"{' '.join(str(exc).split())}"
            ) from exc
        tx.execute(
            "INSERT INTO schema_version (version, description, applied_at) VALUES (:v, :d, :at)",
            {"v": migration.version, "d": migration.description, "at": encode_time(now)},
        )
    return latest
