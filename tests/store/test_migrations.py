"""Schema migrations: a fresh store, an upgrade from an older helmbot's store, refusal of a newer one."""

from __future__ import annotations

import pytest

from bot.errors import describe_error
from bot.store import (
    MIGRATIONS,
    Approval,
    AuditEntry,
    DeployRecord,
    Lock,
    Migration,
    OutboxMessage,
    SqlStore,
    StoreError,
    open_store,
)
from tests.store.factories import deploy

N = len(MIGRATIONS)
NEXT = N + 1
V2 = Migration(
    NEXT,
    "deploy notes and a table of pins",
    (
        "ALTER TABLE deploys ADD COLUMN note TEXT",
        "CREATE TABLE pins (release TEXT PRIMARY KEY, revision INTEGER NOT NULL, pinned_at {time} NOT NULL)",
    ),
)


def versions(store: SqlStore) -> list[int]:
    with store._tx(write=False) as tx:
        return [row["version"] for row in tx.execute("SELECT version FROM schema_version ORDER BY version")]


def test_a_fresh_store_has_every_migration(store: SqlStore) -> None:
    assert store.schema_version() == len(MIGRATIONS)
    assert versions(store) == [m.version for m in MIGRATIONS]


def test_reopening_migrates_nothing(store_url: str) -> None:
    with open_store(store_url) as first:
        rec = first.create_deploy(deploy())
    with open_store(store_url) as again:
        assert versions(again) == [m.version for m in MIGRATIONS]
        assert again.get_deploy(rec.id) == rec


def test_a_newer_helmbot_upgrades_an_older_store(store_url: str) -> None:
    with open_store(store_url) as old:
        rec = old.create_deploy(deploy(tracker_state={"phase": "hooks"}))
        assert old.schema_version() == N
    with open_store(store_url, migrations=(*MIGRATIONS, V2)) as new:
        assert versions(new) == [*range(1, N + 1), NEXT]
        assert new.get_deploy(rec.id) == rec           # old data reads back unchanged
        with new._tx() as tx:
            tx.execute("UPDATE deploys SET note = :note WHERE id = :id", {"note": "pinned", "id": rec.id})
            tx.execute(
                "INSERT INTO pins (release, revision, pinned_at) VALUES (:r, :v, :at)",
                {"r": "shop", "v": 3, "at": new.encode_time(rec.created_at)},
            )
            assert tx.execute("SELECT note FROM deploys")[0]["note"] == "pinned"
        # code that does not know the new column still reads and writes the records
        assert new.update_deploy(rec.id, status="running").status == "running"


def test_the_first_schema_is_upgraded_with_its_rows(store_url: str) -> None:
    """A store written by the first helmbot (schema 1) opens in this one; its records gain the defaults."""
    with open_store(store_url, migrations=MIGRATIONS[:1]) as first, first._tx() as tx:
        tx.execute(
            "INSERT INTO deploys (id, cluster, namespace, release, revision, operation, origin, status, "
            "last_events, created_at) VALUES ('d1', 'default', 'shop', 'shop', 3, 'upgrade', 'slack', "
            "'running', :events, :at)",
            {"events": first.encode_json([]), "at": first.encode_time(deploy().created_at)},
        )
    with open_store(store_url) as current:
        assert versions(current) == [m.version for m in MIGRATIONS]
        rec = current.get_deploy("d1")
        assert rec is not None and rec.revision == 3 and rec.notify == "all" and rec.parent_version == 0


def test_a_store_written_by_a_newer_helmbot_refuses_to_open(store_url: str) -> None:
    open_store(store_url, migrations=(*MIGRATIONS, V2)).close()
    with pytest.raises(StoreError) as caught:
        open_store(store_url)
    text = describe_error(caught.value)
    assert f"schema version {NEXT}" in text and f"newer than this helmbot understands ({N})" in text
    assert "\n" not in text
    # and nothing was changed by the refused open
    with open_store(store_url, migrations=(*MIGRATIONS, V2)) as store:
        assert versions(store) == [*range(1, N + 1), NEXT]


def test_a_failing_migration_changes_nothing(store_url: str) -> None:
    open_store(store_url).close()
    broken = Migration(NEXT, "half done", ("CREATE TABLE half (x INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(StoreError, match=rf"cannot migrate .* to schema version {NEXT} \(half done\)"):
        open_store(store_url, migrations=(*MIGRATIONS, broken))
    with open_store(store_url) as store:
        assert versions(store) == [*range(1, N + 1)]
    # creating `half` again works only if the broken migration's first statement was rolled back
    fixed = Migration(NEXT, "done right", ("CREATE TABLE half (x INTEGER)",))
    with open_store(store_url, migrations=(*MIGRATIONS, fixed)) as store:
        assert versions(store) == [*range(1, N + 1), NEXT]


def test_migrations_must_be_numbered_in_sequence(store_url: str) -> None:
    skipping = (*MIGRATIONS, Migration(NEXT + 1, "skips one", ("SELECT 1",)))
    with pytest.raises(ValueError, match="out of sequence"):
        open_store(store_url, migrations=skipping)


def test_records_and_schema_columns_agree(store: SqlStore) -> None:
    """Every record field has a column of the same name (the shared SQL is generated from the fields)."""
    tables = {"deploys": DeployRecord, "locks": Lock, "approvals": Approval, "audit": AuditEntry,
              "outbox": OutboxMessage}
    for table, record in tables.items():
        with store._tx(write=False) as tx:
            tx.execute(f"SELECT {', '.join(record.field_names())} FROM {table} WHERE 1 = 0")
