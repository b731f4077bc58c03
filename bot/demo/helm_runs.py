"""Ending the helm runs the demo's bot left behind when the demo stops.

The bot starts helm in a session of its own so that helm outlives a dying bot (a release stuck in pending-* is
worse). In the demo the cluster goes away with the bot, so such a helm would wait out its --timeout against
nothing, and the demo's process would wait for it at exit. The demo ends them: only its own child processes
(by parent id), and only those running the demo's helm binary.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def _children_from_proc(me: int) -> list[int] | None:
    tasks = Path(f"/proc/{me}/task")
    if not tasks.is_dir():
        return None
    pids: set[int] = set()
    for task in tasks.iterdir():
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in (task / "children").read_text().split())
    return sorted(pids)


def _command_of(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
    except OSError:
        pass
    try:
        out = subprocess.run(
            ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return out.stdout.split()


def _children_from_ps(me: int) -> list[int]:
    try:
        out = subprocess.run(
            ["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    pids = []
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1] == str(me) and fields[0].isdigit():
            pids.append(int(fields[0]))
    return pids


def helm_children(helm: Path) -> list[int]:
    """This process's children that run `helm` (the path the demo configured)."""
    me = os.getpid()
    children = _children_from_proc(me)
    if children is None:
        children = _children_from_ps(me)
    return [pid for pid in children if (_command_of(pid) or [""])[0] == str(helm)]


def end_helm_runs(helm: Path, *, grace: float = 3.0) -> list[int]:
    """SIGTERM each helm child (and its session's group), SIGKILL what is left after `grace` seconds."""
    pids = helm_children(helm)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    return pids


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:  # the leader of its own group (helm's session)
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """Still running: not gone and not a zombie waiting for the bot's thread to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
