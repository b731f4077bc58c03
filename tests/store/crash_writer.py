"""A writer to kill -9 (test_crash.py): `python -m tests.store.crash_writer URL DEPLOY_ID`.

It updates a deploy record and enqueues a message per step, printing each step's number only after its
transactions committed, until it is killed.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from bot.store import open_store
from tests.store.factories import T0, message


def main(url: str, deploy_id: str) -> None:
    store = open_store(url)
    for step in range(1_000_000):
        store.update_deploy(deploy_id, parent_ts=f"{step}.000100", status="running")
        store.enqueue(message(f"reply:{deploy_id}:{step}", kind="reply", thread_of=f"parent:{deploy_id}"))
        store.acquire_lock("staging", "shop", "shop", holder="writer", deploy_id=deploy_id,
                           ttl=timedelta(minutes=5), now=T0)
        print(step, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
