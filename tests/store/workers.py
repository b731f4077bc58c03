"""Code run in child processes by test_concurrency.py (spawned: an importable module, plain arguments).

Each worker opens the same store itself (so fresh stores are migrated concurrently too), waits at a barrier
so the racers start together, and reports what it won.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from bot.store import open_store
from tests.store.factories import T0, approval, deploy, message

RACES = ("claim_revision", "acquire_lock", "decide_approval", "remember_once", "enqueue")
APPROVAL_ID = "approval-raced"


def race(url: str, index: int, barrier: Any, results: Any) -> None:
    """Run every race once, each started together with the other processes; report {race: won}."""
    won: dict[str, Any] = {"index": index}
    try:
        with open_store(url) as store:
            if index == 0:
                store.create_approval(approval(id=APPROVAL_ID))
            for name in RACES:
                barrier.wait(timeout=60)
                won[name] = _race_once(store, name, index)
    except BaseException as exc:   # report, so the test fails with the reason instead of a hang
        won["error"] = f"{type(exc).__name__}: {exc}"
    results.put(won)


def _race_once(store: Any, name: str, index: int) -> Any:
    me = f"process-{index}-{os.getpid()}"
    if name == "claim_revision":
        rec, created = store.claim_revision(deploy(revision=42, requested_by=me))
        return {"created": created, "id": rec.id, "requested_by": rec.requested_by}
    if name == "acquire_lock":
        lock = store.acquire_lock(
            "staging", "shop", "shop", holder=me, deploy_id=me, ttl=timedelta(minutes=5), now=T0
        )
        return lock is not None
    if name == "decide_approval":
        decided = store.decide_approval(APPROVAL_ID, status="approved", decided_by=me, now=T0)
        return decided is not None
    if name == "remember_once":
        return store.remember_once("trigger:raced", now=T0, ttl=timedelta(minutes=5))
    msg = store.enqueue(message("parent:raced", payload={"by": me}))
    return msg.payload["by"] == me
