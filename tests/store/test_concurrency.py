"""Several processes (replicas) and threads on one store: every race has exactly one winner."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta
from typing import Any

from bot.store import SqlStore, open_store
from bot.store.migrations import MIGRATIONS
from tests.store.factories import T0, deploy, message
from tests.store.workers import RACES, race

PROCESSES = 4


def test_processes_racing_on_one_fresh_store_have_one_winner_each(store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")   # no inherited connections or locks
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=race, args=(store_url, i, barrier, results)) for i in range(PROCESSES)]
    for proc in procs:
        proc.start()
    reports: list[dict[str, Any]] = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert [r.get("error") for r in reports] == [None] * PROCESSES, reports

    claims = [r["claim_revision"] for r in reports]
    assert sum(c["created"] for c in claims) == 1
    assert len({(c["id"], c["requested_by"]) for c in claims}) == 1   # everyone got the winner's record
    for name in RACES[1:]:
        assert sum(bool(r[name]) for r in reports) == 1, (name, reports)

    with open_store(store_url) as store:
        assert len(store.recent_deploys("staging", "shop", "shop")) == 1
        assert store.outbox_depth() == 1
        assert store.schema_version() == len(MIGRATIONS)   # concurrent first opens migrated once


def test_threads_sharing_one_store(store: SqlStore) -> None:
    """One store object serves many threads (the scheduler, Bolt listeners, the delivery worker)."""
    outcomes: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            start.wait(timeout=30)
            outcomes.append(store.claim_revision(deploy(revision=1, requested_by=f"t{n}"))[1])
            store.enqueue(message("parent:threads"))
            store.enqueue(message(f"reply:threads:{n}", kind="reply", thread_of="parent:threads"))
            store.remember_once(f"key-{n % 2}", now=T0, ttl=timedelta(minutes=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(outcomes) == [False] * 7 + [True]
    assert store.outbox_depth() == 9
