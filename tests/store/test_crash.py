"""kill -9 in the middle of writing: every write that was acknowledged is there after a restart, and the
store opens and takes writes again (no lock or half transaction left behind)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.store import open_store
from tests.store.factories import deploy

ROOT = Path(__file__).resolve().parents[2]


def test_kill_9_loses_no_acknowledged_write(store_url: str) -> None:
    with open_store(store_url) as store:
        rec = store.create_deploy(deploy())
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.store.crash_writer", store_url, rec.id],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    acknowledged = -1
    try:
        assert writer.stdout is not None
        for line in writer.stdout:
            acknowledged = int(line)
            if acknowledged >= 30:
                break
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        _, err = writer.communicate(timeout=30)
    assert acknowledged >= 30, err

    with open_store(store_url) as store:
        after = store.get_deploy(rec.id)
        assert after is not None and after.parent_ts is not None
        assert int(after.parent_ts.split(".")[0]) >= acknowledged
        for step in range(acknowledged + 1):
            assert store.get_message(f"reply:{rec.id}:{step}") is not None
        # writable again at once: the dead writer left no transaction or write lock behind
        assert store.update_deploy(rec.id, status="failed").status == "failed"
        lock = store.get_lock("staging", "shop", "shop")
        assert lock is not None and lock.deploy_id == rec.id   # the lock survives; its ttl frees it
