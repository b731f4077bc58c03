"""The Store contract and the one implementation of it in SQL that both backends share.

Every method is one transaction and every race-prone one is a single atomic statement (INSERT ... ON
CONFLICT, a conditional UPDATE ... RETURNING), never a read followed by a write: that is what keeps
replicas, restarts and watch replays from doubling a parent message, a lock or an approval. A backend
supplies only the connection handling and the dialect (column types, how times and JSON are stored).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar

from bot.core.events import to_utc
from bot.store.errors import RecordExists, RecordNotFound, StoreError
from bot.store.migrations import MIGRATIONS, Migration, Tx, migrate
from bot.store.records import (
    ACTIVE_DEPLOY_STATUSES,
    APPROVAL_DECISIONS,
    Approval,
    AuditEntry,
    DeployRecord,
    Lock,
    OutboxMessage,
    _Record,
)

R = TypeVar("R", bound=_Record)


def _non_negative(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a non-negative integer, not {value!r}")
    return value


class Store(Protocol):
    """What the app needs to survive kill -9, restarts and several replicas (docs/bot-design.md)."""

    # deploy records
    def create_deploy(self, rec: DeployRecord, *, messages: Sequence[OutboxMessage] = ()) -> DeployRecord: ...
    def get_deploy(self, deploy_id: str) -> DeployRecord | None: ...
    def find_deploy(
        self, cluster: str, namespace: str, release: str, revision: int
    ) -> DeployRecord | None: ...
    def claim_revision(
        self, rec: DeployRecord, *, messages: Sequence[OutboxMessage] = ()
    ) -> tuple[DeployRecord, bool]: ...
    def update_deploy(self, deploy_id: str, **fields: Any) -> DeployRecord: ...
    def active_deploys(self, cluster: str | None = None) -> list[DeployRecord]: ...
    def pending_deploys(self, cluster: str, namespace: str, release: str) -> list[DeployRecord]: ...
    def attach_revision(self, deploy_id: str, revision: int) -> DeployRecord | None: ...
    def record_progress(
        self, deploy_id: str, *, status: str, tracker_state: Mapping[str, Any] | None,
        last_events: Sequence[Mapping[str, Any]], messages: Sequence[OutboxMessage] = (),
        parent_changed: bool = True, finished_at: datetime | None = None, **fields: Any,
    ) -> DeployRecord: ...
    def dirty_parents(self, limit: int = 100) -> list[DeployRecord]: ...
    def dirty_parent_ids(self, limit: int = 100) -> list[str]: ...
    def active_deploy_refs(self, cluster: str | None = None) -> list[tuple[str, int | None]]: ...
    def mark_parent_sent(self, deploy_id: str, version: int) -> None: ...
    def recent_deploys(
        self, cluster: str, namespace: str, release: str, limit: int = 20
    ) -> list[DeployRecord]: ...
    # last revision seen per release
    def last_seen_revision(self, cluster: str, namespace: str, release: str) -> int | None: ...
    def set_last_seen_revision(self, cluster: str, namespace: str, release: str, revision: int) -> None: ...
    def seen_releases(self, cluster: str, namespace: str) -> dict[str, int]: ...
    def forget_release(self, cluster: str, namespace: str, release: str) -> bool: ...
    # per-release operation lock
    def acquire_lock(
        self, cluster: str, namespace: str, release: str, *, holder: str, deploy_id: str, ttl: timedelta,
        now: datetime,
    ) -> Lock | None: ...
    def get_lock(
        self, cluster: str, namespace: str, release: str, *, now: datetime | None = None
    ) -> Lock | None: ...
    def release_lock(self, cluster: str, namespace: str, release: str, *, deploy_id: str) -> None: ...
    def release_orphan_locks(self, *, older_than: datetime) -> int: ...
    # approvals
    def create_approval(self, a: Approval) -> Approval: ...
    def get_approval(self, approval_id: str) -> Approval | None: ...
    def decide_approval(
        self, approval_id: str, *, status: str, decided_by: str, now: datetime
    ) -> Approval | None: ...
    def expire_approvals(self, now: datetime) -> list[Approval]: ...
    # idempotency of clicks and commands
    def remember_once(self, key: str, *, now: datetime, ttl: timedelta) -> bool: ...
    def prune(self, now: datetime, *, sent_replies_kept: timedelta = ...) -> int: ...
    # audit log
    def audit(self, entry: AuditEntry) -> None: ...
    def audit_entries(self, limit: int = 100) -> list[AuditEntry]: ...
    # outbox
    def enqueue(self, msg: OutboxMessage) -> OutboxMessage: ...
    def get_message(self, key: str) -> OutboxMessage | None: ...
    def pending_messages(self, channel: str | None = None, limit: int = 100) -> list[OutboxMessage]: ...
    def mark_in_flight(self, msg_id: str, now: datetime) -> None: ...
    def mark_sent(
        self, msg_id: str, *, ts: str, now: datetime, channel: str | None = None,
        parent_version: int | None = None,
    ) -> None: ...
    def mark_failed(self, msg_id: str, *, error: str) -> None: ...
    def in_flight_messages(self) -> list[OutboxMessage]: ...
    def mark_retry(self, msg_id: str, *, not_before: datetime, error: str) -> None: ...
    def outbox_depth(self) -> int: ...
    # health
    def schema_version(self) -> int: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


def new_id() -> str:
    return uuid.uuid4().hex


def _insert_sql(table: str, record_type: type[_Record], suffix: str = "") -> str:
    names = record_type.field_names()
    columns = ", ".join(names)
    values = ", ".join(f":{name}" for name in names)
    return f"INSERT INTO {table} ({columns}) VALUES ({values}) {suffix} RETURNING *"


_RELEASE = "cluster = :cluster AND namespace = :namespace AND release = :release"
_UNSENT = "status IN ('pending', 'in_flight')"
_DEPLOY_UPDATABLE = frozenset(DeployRecord.field_names()) - {"id", "created_at"}

_INSERT_DEPLOY = _insert_sql("deploys", DeployRecord)
_CLAIM_DEPLOY = _insert_sql(
    "deploys", DeployRecord, "ON CONFLICT (cluster, namespace, release, revision) DO NOTHING"
)
_INSERT_APPROVAL = _insert_sql("approvals", Approval)
_INSERT_AUDIT = _insert_sql("audit", AuditEntry)
_ENQUEUE = _insert_sql("outbox", OutboxMessage, "ON CONFLICT (key) DO NOTHING")
_ACQUIRE_LOCK = _insert_sql(
    "locks",
    Lock,
    """ON CONFLICT (cluster, namespace, release) DO UPDATE SET
        holder = excluded.holder,
        since = CASE WHEN locks.deploy_id = excluded.deploy_id THEN locks.since ELSE excluded.since END,
        deploy_id = excluded.deploy_id,
        expires_at = excluded.expires_at
    WHERE locks.deploy_id = excluded.deploy_id OR locks.expires_at <= :now""",
)


class SqlStore(ABC):
    """The Store in SQL. Subclasses: connection handling, transactions, column types, value encoding."""

    COLUMN_TYPES: ClassVar[Mapping[str, str]]
    location: str   # "SQLite store /var/lib/helmbot/helmbot.db", "PostgreSQL store db.internal:5432/helmbot"

    def __init__(self, migrations: Sequence[Migration] = MIGRATIONS) -> None:
        self._closed = threading.Event()
        self._version = self._run_migrations(migrations)

    # --- what a backend provides -------------------------------------------------------------------

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Tx]:
        """A transaction that commits on success and rolls back on error, translating driver errors into
        StoreError / RecordExists. `write` transactions take the write lock up front where that matters."""

    @abstractmethod
    def _migration_transaction(self) -> AbstractContextManager[Tx]:
        """A write transaction holding the store-wide migration lock."""

    @abstractmethod
    def encode_time(self, at: datetime) -> Any: ...

    @abstractmethod
    def decode_time(self, value: Any) -> datetime: ...

    @abstractmethod
    def encode_json(self, value: Any) -> Any: ...

    @abstractmethod
    def decode_json(self, value: Any) -> Any: ...

    @abstractmethod
    def _close(self) -> None: ...

    # --- plumbing ------------------------------------------------------------------------------------

    def _run_migrations(self, migrations: Sequence[Migration]) -> int:
        with self._migration_transaction() as tx:
            return migrate(
                tx,
                migrations,
                column_types=self.COLUMN_TYPES,
                encode_time=self.encode_time,
                now=datetime.now(UTC),
                location=self.location,
            )

    def _tx(self, *, write: bool = True) -> AbstractContextManager[Tx]:
        if self._closed.is_set():
            raise StoreError(f"{self.location} is closed")
        return self._transaction(write=write)

    def _encode(self, record_type: type[_Record], name: str, value: Any) -> Any:
        if value is None:
            return None
        if name in record_type.TIMES:
            return self.encode_time(value)
        if name in record_type.JSON:
            return self.encode_json(value)
        return value

    def _params(self, record: _Record) -> dict[str, Any]:
        kind = type(record)
        return {name: self._encode(kind, name, getattr(record, name)) for name in record.field_names()}

    def _decode(self, record_type: type[R], row: Mapping[str, Any]) -> R:
        values: dict[str, Any] = {}
        for name in record_type.field_names():
            value = row[name]
            if value is not None and name in record_type.TIMES:
                value = self.decode_time(value)
            elif value is not None and name in record_type.JSON:
                value = self.decode_json(value)
            values[name] = value
        return record_type(**values)

    def _one(self, record_type: type[R], rows: list[dict[str, Any]]) -> R | None:
        return self._decode(record_type, rows[0]) if rows else None

    def _select(
        self, record_type: type[R], sql: str, params: Mapping[str, Any] | None = None
    ) -> list[R]:
        with self._tx(write=False) as tx:
            return [self._decode(record_type, row) for row in tx.execute(sql, params)]

    def _select_one(
        self, record_type: type[R], sql: str, params: Mapping[str, Any] | None = None
    ) -> R | None:
        rows = self._select(record_type, sql, params)
        return rows[0] if rows else None

    def _release_params(self, cluster: str, namespace: str, release: str, **more: Any) -> dict[str, Any]:
        return {"cluster": cluster, "namespace": namespace, "release": release, **more}

    # --- deploy records ----------------------------------------------------------------------------

    def create_deploy(self, rec: DeployRecord, *, messages: Sequence[OutboxMessage] = ()) -> DeployRecord:
        """Store a new record and, in the same transaction, the messages that announce it."""
        rec = rec if rec.id else dataclasses.replace(rec, id=new_id())
        try:
            with self._tx() as tx:
                created = self._one(DeployRecord, tx.execute(_INSERT_DEPLOY, self._params(rec)))
                self._enqueue_all(tx, messages)
        except RecordExists:
            raise RecordExists(
                f"a deploy record {rec.id} or for {rec.release} revision {rec.revision} already exists"
            ) from None
        assert created is not None
        return created

    def get_deploy(self, deploy_id: str) -> DeployRecord | None:
        return self._select_one(DeployRecord, "SELECT * FROM deploys WHERE id = :id", {"id": deploy_id})

    def find_deploy(self, cluster: str, namespace: str, release: str, revision: int) -> DeployRecord | None:
        return self._select_one(
            DeployRecord,
            f"SELECT * FROM deploys WHERE {_RELEASE} AND revision = :revision",
            self._release_params(cluster, namespace, release, revision=revision),
        )

    def claim_revision(
        self, rec: DeployRecord, *, messages: Sequence[OutboxMessage] = ()
    ) -> tuple[DeployRecord, bool]:
        """Insert-if-absent on the revision; the messages are queued only by the call that created it."""
        if rec.revision is None:
            raise ValueError("claim_revision needs a record with its revision")
        rec = rec if rec.id else dataclasses.replace(rec, id=new_id())
        with self._tx() as tx:
            created = self._one(DeployRecord, tx.execute(_CLAIM_DEPLOY, self._params(rec)))
            if created is not None:
                self._enqueue_all(tx, messages)
                return created, True
            existing = self._one(
                DeployRecord,
                tx.execute(
                    f"SELECT * FROM deploys WHERE {_RELEASE} AND revision = :revision",
                    self._release_params(rec.cluster, rec.namespace, rec.release, revision=rec.revision),
                ),
            )
        if existing is None:  # only a colliding id, not the revision, can get here
            raise RecordExists(f"a deploy record with id {rec.id} already exists")
        return existing, False

    def update_deploy(self, deploy_id: str, **fields: Any) -> DeployRecord:
        unknown = set(fields) - _DEPLOY_UPDATABLE
        if unknown:
            raise TypeError(f"update_deploy cannot set {sorted(unknown)}")
        fields.setdefault("updated_at", datetime.now(UTC))
        params = {
            name: self._encode(DeployRecord, name, DeployRecord.normalize(name, value))
            for name, value in fields.items()
        }
        assignments = ", ".join(f"{name} = :{name}" for name in params)
        try:
            with self._tx() as tx:
                rows = tx.execute(
                    f"UPDATE deploys SET {assignments} WHERE id = :id RETURNING *",
                    {**params, "id": deploy_id},
                )
        except RecordExists:
            raise RecordExists(
                f"deploy {deploy_id}: another record already has revision {fields.get('revision')}"
            ) from None
        updated = self._one(DeployRecord, rows)
        if updated is None:
            raise RecordNotFound(f"no deploy record {deploy_id}")
        return updated

    def active_deploys(self, cluster: str | None = None) -> list[DeployRecord]:
        where = "status IN (:s0, :s1)" + (" AND cluster = :cluster" if cluster is not None else "")
        s0, s1 = ACTIVE_DEPLOY_STATUSES
        return self._select(
            DeployRecord,
            f"SELECT * FROM deploys WHERE {where} ORDER BY created_at, id",
            {"s0": s0, "s1": s1, "cluster": cluster},
        )

    def pending_deploys(self, cluster: str, namespace: str, release: str) -> list[DeployRecord]:
        """helmbot's own operations still waiting for the revision helm will write, oldest first."""
        return self._select(
            DeployRecord,
            f"SELECT * FROM deploys WHERE {_RELEASE} AND revision IS NULL AND status = 'pending' "
            "ORDER BY created_at, id",
            self._release_params(cluster, namespace, release),
        )

    def attach_revision(self, deploy_id: str, revision: int) -> DeployRecord | None:
        """Give a pending record the revision helm wrote; None when it has one already or another record
        holds that revision (the unique key decides, whoever comes first)."""
        params = {"id": deploy_id, "revision": _non_negative(revision),
                  "now": self.encode_time(datetime.now(UTC))}
        try:
            with self._tx() as tx:
                rows = tx.execute(
                    "UPDATE deploys SET revision = :revision, status = 'running', updated_at = :now, "
                    "parent_version = parent_version + 1 WHERE id = :id AND revision IS NULL RETURNING *",
                    params,
                )
        except RecordExists:
            return None
        return self._one(DeployRecord, rows)

    def record_progress(
        self,
        deploy_id: str,
        *,
        status: str,
        tracker_state: Mapping[str, Any] | None,
        last_events: Sequence[Mapping[str, Any]],
        messages: Sequence[OutboxMessage] = (),
        parent_changed: bool = True,
        finished_at: datetime | None = None,
        **fields: Any,
    ) -> DeployRecord:
        """One tracking step, atomically: the tracker's state, its events, the thread replies they make
        and a newer version of the parent message. A crash either keeps all of it or none."""
        values: dict[str, Any] = {"status": status, "last_events": list(last_events), **fields}
        if tracker_state is not None:
            values["tracker_state"] = dict(tracker_state)
        if finished_at is not None:
            values["finished_at"] = finished_at
        unknown = set(values) - _DEPLOY_UPDATABLE
        if unknown:
            raise TypeError(f"record_progress cannot set {sorted(unknown)}")
        values["updated_at"] = datetime.now(UTC)
        params = {
            name: self._encode(DeployRecord, name, DeployRecord.normalize(name, value))
            for name, value in values.items()
        }
        assignments = ", ".join(f"{name} = :{name}" for name in params)
        if parent_changed:
            assignments += ", parent_version = parent_version + 1"
        with self._tx() as tx:
            rows = tx.execute(
                f"UPDATE deploys SET {assignments} WHERE id = :id RETURNING *", {**params, "id": deploy_id}
            )
            updated = self._one(DeployRecord, rows)
            if updated is None:
                raise RecordNotFound(f"no deploy record {deploy_id}")
            self._enqueue_all(tx, messages)
            if not updated.active:   # the verdict and the lock's release cannot be torn apart by a crash
                tx.execute("DELETE FROM locks WHERE deploy_id = :id", {"id": deploy_id})
        return updated

    def dirty_parents(self, limit: int = 100) -> list[DeployRecord]:
        """Records whose parent message is posted but behind their newest picture, longest waiting first."""
        return self._select(
            DeployRecord,
            "SELECT * FROM deploys WHERE parent_ts IS NOT NULL AND parent_version > parent_sent_version "
            "ORDER BY updated_at, id LIMIT :limit",
            {"limit": limit},
        )

    def dirty_parent_ids(self, limit: int = 100) -> list[str]:
        """The same as dirty_parents, ids only: cheap to ask often (no tracker state decoded)."""
        with self._tx(write=False) as tx:
            rows = tx.execute(
                "SELECT id FROM deploys WHERE parent_ts IS NOT NULL AND parent_version > parent_sent_version "
                "ORDER BY updated_at, id LIMIT :limit",
                {"limit": limit},
            )
        return [str(row["id"]) for row in rows]

    def active_deploy_refs(self, cluster: str | None = None) -> list[tuple[str, int | None]]:
        """(id, revision) of the active deploys: what a periodic resume needs, without their states."""
        where = "status IN ('pending', 'running')"
        if cluster is not None:
            where += " AND cluster = :cluster"
        with self._tx(write=False) as tx:
            rows = tx.execute(f"SELECT id, revision FROM deploys WHERE {where} ORDER BY created_at, id",
                              {"cluster": cluster})
        return [(str(row["id"]), None if row["revision"] is None else int(row["revision"])) for row in rows]

    def mark_parent_sent(self, deploy_id: str, version: int) -> None:
        """Slack shows the picture of `version` (never goes back: a slower, older update loses)."""
        with self._tx() as tx:
            tx.execute(
                "UPDATE deploys SET parent_sent_version = :v WHERE id = :id AND parent_sent_version < :v",
                {"id": deploy_id, "v": _non_negative(version)},
            )

    def recent_deploys(
        self, cluster: str, namespace: str, release: str, limit: int = 20
    ) -> list[DeployRecord]:
        """Newest first."""
        return self._select(
            DeployRecord,
            f"SELECT * FROM deploys WHERE {_RELEASE} ORDER BY created_at DESC, id DESC LIMIT :limit",
            self._release_params(cluster, namespace, release, limit=limit),
        )

    # --- last seen revision ------------------------------------------------------------------------

    def last_seen_revision(self, cluster: str, namespace: str, release: str) -> int | None:
        with self._tx(write=False) as tx:
            rows = tx.execute(
                f"SELECT revision FROM release_revisions WHERE {_RELEASE}",
                self._release_params(cluster, namespace, release),
            )
        return int(rows[0]["revision"]) if rows else None

    def set_last_seen_revision(self, cluster: str, namespace: str, release: str, revision: int) -> None:
        with self._tx() as tx:
            tx.execute(
                """INSERT INTO release_revisions (cluster, namespace, release, revision)
                VALUES (:cluster, :namespace, :release, :revision)
                ON CONFLICT (cluster, namespace, release) DO UPDATE SET revision = excluded.revision
                WHERE release_revisions.revision < excluded.revision""",
                self._release_params(cluster, namespace, release, revision=int(revision)),
            )

    def seen_releases(self, cluster: str, namespace: str) -> dict[str, int]:
        """Every release of the namespace helmbot has seen, with its last seen revision."""
        with self._tx(write=False) as tx:
            rows = tx.execute(
                "SELECT release, revision FROM release_revisions WHERE cluster = :cluster "
                "AND namespace = :namespace",
                {"cluster": cluster, "namespace": namespace},
            )
        return {str(row["release"]): int(row["revision"]) for row in rows}

    def forget_release(self, cluster: str, namespace: str, release: str) -> bool:
        """Forget a release whose records are gone (uninstalled); True for the one caller that did it, so
        an uninstall is announced once across replicas."""
        with self._tx() as tx:
            rows = tx.execute(
                f"DELETE FROM release_revisions WHERE {_RELEASE} RETURNING revision",
                self._release_params(cluster, namespace, release),
            )
        return bool(rows)

    # --- locks -------------------------------------------------------------------------------------

    def acquire_lock(
        self, cluster: str, namespace: str, release: str, *, holder: str, deploy_id: str, ttl: timedelta,
        now: datetime,
    ) -> Lock | None:
        """The lock, taken or renewed (same deploy_id); None while someone else holds an unexpired one."""
        now = to_utc(now)
        lock = Lock(
            cluster=cluster, namespace=namespace, release=release, holder=holder, deploy_id=deploy_id,
            since=now, expires_at=now + ttl,
        )
        with self._tx() as tx:
            rows = tx.execute(_ACQUIRE_LOCK, {**self._params(lock), "now": self.encode_time(now)})
        return self._one(Lock, rows)

    def get_lock(
        self, cluster: str, namespace: str, release: str, *, now: datetime | None = None
    ) -> Lock | None:
        """The lock row; with `now`, an expired lock reads as no lock."""
        lock = self._select_one(
            Lock, f"SELECT * FROM locks WHERE {_RELEASE}", self._release_params(cluster, namespace, release)
        )
        if lock is not None and now is not None and lock.expired(now):
            return None
        return lock

    def release_lock(self, cluster: str, namespace: str, release: str, *, deploy_id: str) -> None:
        """Only the holding deploy releases; a late release after someone else took over does nothing."""
        with self._tx() as tx:
            tx.execute(
                f"DELETE FROM locks WHERE {_RELEASE} AND deploy_id = :deploy_id",
                self._release_params(cluster, namespace, release, deploy_id=deploy_id),
            )

    def release_orphan_locks(self, *, older_than: datetime) -> int:
        """Locks whose deploy never got a record (a crash between the two) or has finished; only those
        taken before `older_than`, so a lock whose record is being written right now is left alone."""
        with self._tx() as tx:
            rows = tx.execute(
                "DELETE FROM locks WHERE since < :before AND NOT EXISTS (SELECT 1 FROM deploys d "
                "WHERE d.id = locks.deploy_id AND d.status IN ('pending', 'running')) RETURNING deploy_id",
                {"before": self.encode_time(to_utc(older_than))},
            )
        return len(rows)

    # --- approvals ---------------------------------------------------------------------------------

    def create_approval(self, a: Approval) -> Approval:
        a = a if a.id else dataclasses.replace(a, id=new_id())
        with self._tx() as tx:
            created = self._one(Approval, tx.execute(_INSERT_APPROVAL, self._params(a)))
        assert created is not None
        return created

    def get_approval(self, approval_id: str) -> Approval | None:
        return self._select_one(Approval, "SELECT * FROM approvals WHERE id = :id", {"id": approval_id})

    def decide_approval(
        self, approval_id: str, *, status: str, decided_by: str, now: datetime
    ) -> Approval | None:
        """Approve or reject, once: None when the approval is unknown, already decided or expired."""
        if status not in APPROVAL_DECISIONS:
            raise ValueError(f"an approval is decided as one of {sorted(APPROVAL_DECISIONS)}, not {status!r}")
        with self._tx() as tx:
            rows = tx.execute(
                """UPDATE approvals SET status = :status, decided_by = :decided_by, decided_at = :now
                WHERE id = :id AND status = 'pending' AND expires_at > :now RETURNING *""",
                {"status": status, "decided_by": decided_by, "now": self.encode_time(to_utc(now)),
                 "id": approval_id},
            )
        return self._one(Approval, rows)

    def expire_approvals(self, now: datetime) -> list[Approval]:
        """Mark pending approvals past their expiry as expired; returns them (their cards need updating)."""
        with self._tx() as tx:
            rows = tx.execute(
                """UPDATE approvals SET status = 'expired', decided_at = :now
                WHERE status = 'pending' AND expires_at <= :now RETURNING *""",
                {"now": self.encode_time(to_utc(now))},
            )
        return sorted((self._decode(Approval, row) for row in rows), key=lambda a: (a.created_at, a.id))

    # --- once keys ---------------------------------------------------------------------------------

    def remember_once(self, key: str, *, now: datetime, ttl: timedelta) -> bool:
        """True the first time `key` is seen within `ttl` (a Slack retry or double click gets False)."""
        now = to_utc(now)
        with self._tx() as tx:
            rows = tx.execute(
                """INSERT INTO once_keys (key, expires_at) VALUES (:key, :expires_at)
                ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                WHERE once_keys.expires_at <= :now RETURNING key""",
                {"key": key, "expires_at": self.encode_time(now + ttl), "now": self.encode_time(now)},
            )
        return bool(rows)

    def prune(self, now: datetime, *, sent_replies_kept: timedelta = timedelta(days=14)) -> int:
        """Forget expired once-keys and thread replies delivered long ago (call it now and then); returns
        how many rows went. Parents and cards stay: a later reply or edit still needs their ts."""
        with self._tx() as tx:
            rows = tx.execute(
                "DELETE FROM once_keys WHERE expires_at <= :now RETURNING key",
                {"now": self.encode_time(to_utc(now))},
            )
            replies = tx.execute(
                "DELETE FROM outbox WHERE kind = 'reply' AND status = 'sent' AND sent_at < :before "
                "RETURNING id",
                {"before": self.encode_time(to_utc(now) - sent_replies_kept)},
            )
        return len(rows) + len(replies)

    # --- audit -------------------------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        with self._tx() as tx:
            tx.execute(_INSERT_AUDIT, self._params(entry))

    def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        """Newest first."""
        return self._select(
            AuditEntry, "SELECT * FROM audit ORDER BY seq DESC LIMIT :limit", {"limit": limit}
        )

    # --- outbox ------------------------------------------------------------------------------------

    def enqueue(self, msg: OutboxMessage) -> OutboxMessage:
        """Add a message; a key already queued (or sent) keeps its first message, which is returned."""
        msg = msg if msg.id else dataclasses.replace(msg, id=new_id())
        with self._tx() as tx:
            created = self._one(OutboxMessage, tx.execute(_ENQUEUE, self._params(msg)))
            if created is not None:
                return created
            existing = self._one(
                OutboxMessage, tx.execute("SELECT * FROM outbox WHERE key = :key", {"key": msg.key})
            )
        if existing is None:  # only a colliding id, not the key, can get here
            raise RecordExists(f"an outbox message with id {msg.id} already exists")
        return existing

    def _enqueue_all(self, tx: Tx, messages: Sequence[OutboxMessage]) -> None:
        for msg in messages:
            msg = msg if msg.id else dataclasses.replace(msg, id=new_id())
            tx.execute(_ENQUEUE, self._params(msg))

    def get_message(self, key: str) -> OutboxMessage | None:
        """By outbox key (a reply finds its parent's ts this way)."""
        return self._select_one(OutboxMessage, "SELECT * FROM outbox WHERE key = :key", {"key": key})

    def pending_messages(self, channel: str | None = None, limit: int = 100) -> list[OutboxMessage]:
        """Messages not yet sent (pending and in flight), oldest first.

        Not filtered by not_before: the worker keeps each channel's order, so a message waiting for its
        retry time holds back the later ones in its channel."""
        where = _UNSENT + (" AND channel = :channel" if channel is not None else "")
        return self._select(
            OutboxMessage,
            f"SELECT * FROM outbox WHERE {where} ORDER BY seq LIMIT :limit",
            {"channel": channel, "limit": limit},
        )

    def _update_message(self, msg_id: str, assignments: str, params: Mapping[str, Any]) -> None:
        """Update an unsent message; a sent one stays sent; an unknown id is an error."""
        with self._tx() as tx:
            rows = tx.execute(
                f"UPDATE outbox SET {assignments} WHERE id = :id AND {_UNSENT} RETURNING id",
                {**params, "id": msg_id},
            )
            if not rows and not tx.execute("SELECT id FROM outbox WHERE id = :id", {"id": msg_id}):
                raise RecordNotFound(f"no outbox message {msg_id}")

    def mark_in_flight(self, msg_id: str, now: datetime) -> None:
        self._update_message(
            msg_id,
            "status = 'in_flight', attempts = attempts + 1, attempted_at = :now",
            {"now": self.encode_time(to_utc(now))},
        )

    def mark_sent(
        self, msg_id: str, *, ts: str, now: datetime, channel: str | None = None,
        parent_version: int | None = None,
    ) -> None:
        """Sent, with Slack's ts. A deploy's parent (`parent:<id>`) also records its ts on the deploy, with
        the channel ID Slack answered (chat.update needs the ID, not a name) and the version it showed."""
        with self._tx() as tx:
            rows = tx.execute(
                f"UPDATE outbox SET status = 'sent', ts = :ts, sent_at = :now, error = NULL "
                f"WHERE id = :id AND {_UNSENT} RETURNING key, deploy_id",
                {"id": msg_id, "ts": ts, "now": self.encode_time(to_utc(now))},
            )
            if not rows:
                if not tx.execute("SELECT id FROM outbox WHERE id = :id", {"id": msg_id}):
                    raise RecordNotFound(f"no outbox message {msg_id}")
                return
            key, deploy_id = rows[0]["key"], rows[0]["deploy_id"]
            if deploy_id and str(key) == f"parent:{deploy_id}":
                tx.execute(
                    "UPDATE deploys SET parent_ts = :ts, channel = COALESCE(:channel, channel), "
                    "parent_sent_version = CASE WHEN parent_sent_version < :v THEN :v "
                    "ELSE parent_sent_version END WHERE id = :deploy_id",
                    {"ts": ts, "channel": channel or None, "v": parent_version or 0, "deploy_id": deploy_id},
                )

    def mark_failed(self, msg_id: str, *, error: str) -> None:
        """Given up (Slack refuses it for good): it stops holding back its channel."""
        self._update_message(
            msg_id, "status = 'failed', error = :error", {"error": " ".join(str(error).split())[:500]}
        )

    def in_flight_messages(self) -> list[OutboxMessage]:
        """Messages whose send began but was not recorded (a crash in between), oldest first."""
        return self._select(
            OutboxMessage, "SELECT * FROM outbox WHERE status = 'in_flight' ORDER BY seq", {}
        )

    def mark_retry(self, msg_id: str, *, not_before: datetime, error: str) -> None:
        self._update_message(
            msg_id,
            "status = 'pending', not_before = :not_before, error = :error",
            {"not_before": self.encode_time(to_utc(not_before)), "error": " ".join(str(error).split())[:500]},
        )

    def outbox_depth(self) -> int:
        with self._tx(write=False) as tx:
            rows = tx.execute(f"SELECT COUNT(*) AS n FROM outbox WHERE {_UNSENT}")
        return int(rows[0]["n"])

    # --- health ------------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self._tx(write=False) as tx:
            rows = tx.execute("SELECT MAX(version) AS version FROM schema_version")
        return int(rows[0]["version"] or 0)

    def ping(self) -> None:
        with self._tx(write=False) as tx:
            tx.execute("SELECT 1 AS ok")

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

