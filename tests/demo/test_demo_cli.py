"""`helmbot demo` as a process: two at once on different ports, each a working channel; Ctrl-C stops each
cleanly and leaves nothing behind, even with helm in the middle of a hook; `--no-browser` reads commands from
a pipe and draws the channel."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.polling import poll

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@dataclass
class DemoProcess:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def url(self) -> str:
        def found() -> str | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"the demo exited {self.proc.returncode}:\n{self.output}")
            match = re.search(r"helmbot demo is running: (http://\S+/)", self.output)
            return match.group(1) if match else None

        return poll(found, timeout=120, what="the demo's URL", interval=0.1)


def start_demo(tmp: Path, *args: str, stdin: Any = subprocess.DEVNULL) -> DemoProcess:
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", *args],
        cwd=REPO,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return DemoProcess(proc)


def stopped(demo: DemoProcess, timeout: float = 30) -> int | None:
    """The exit code, or None (and the process killed) when it did not stop in time; its output read to
    the end either way."""
    try:
        code: int | None = demo.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        demo.proc.kill()
        demo.proc.wait(10)
        code = None
    demo.reader.join(10)
    return code


def api(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as resp:
        return json.loads(resp.read())


def test_two_demos_side_by_side_then_ctrl_c(tmp_path: Path) -> None:
    demos = [start_demo(tmp_path / "one", "--port", "0"), start_demo(tmp_path / "two", "--port", "0")]
    try:
        urls = [demo.url() for demo in demos]
        assert urls[0] != urls[1]
        for url in urls:
            status = {"user": "U0ALICE", "channel": "C0DEPLOYS", "text": "/helmbot status shop"}
            sent = api(url, "api/send", status)
            assert sent["ok"], sent

            def answered(url: str = url) -> bool:
                seen = api(url, "api/channel?channel=C0DEPLOYS&user=U0ALICE")
                return any("Revision" in json.dumps(e) for e in seen["ephemerals"])

            poll(answered, timeout=30, what="the bot's answer to /helmbot status shop")
            cluster = api(url, "api/cluster")
            assert "shop" in json.dumps(cluster)
        # helm waits on a minute-long pre-upgrade hook when the demo is stopped: it must not outlive the demo
        slow = {"user": "U0ALICE", "channel": "C0DEPLOYS", "text": "/deploy shop backup.durationSeconds=60"}
        assert api(urls[0], "api/send", slow)["ok"]
        poll(
            lambda: "pending-upgrade" in json.dumps(api(urls[0], "api/cluster")),
            timeout=30,
            what="helm to be running the upgrade",
        )
    finally:
        for demo in demos:
            demo.proc.send_signal(signal.SIGINT)
        codes = [stopped(demo) for demo in demos]
    assert codes == [0, 0], [demo.output for demo in demos]
    for demo, name in zip(demos, ("one", "two"), strict=True):
        assert demo.lines[-1] == "helmbot demo: stopped", demo.output
        assert list((tmp_path / name).iterdir()) == [], "the demo left files behind"


def test_no_browser_draws_the_channel_from_piped_commands(tmp_path: Path) -> None:
    demo = start_demo(tmp_path / "term", "--no-browser", stdin=subprocess.PIPE)
    assert demo.proc.stdin is not None
    try:
        poll(lambda: "running here" in demo.output, timeout=120, what="the demo to start", interval=0.1)
        demo.proc.stdin.write("/helmbot history shop\n:quit\n")
        demo.proc.stdin.flush()
        assert stopped(demo, 60) == 0, demo.output
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
    assert "#deploys as alice" in demo.output
    assert "Install complete" in demo.output or "revision" in demo.output.lower(), demo.output
    assert demo.lines[-1] == "helmbot demo: stopped"


def test_the_tour_starts_once_a_page_is_open(tmp_path: Path) -> None:
    demo = start_demo(tmp_path / "tour", "--port", "0", "--tour", "--pace", "0")
    try:
        url = demo.url()
        assert "The tour starts as soon as the page is open." in demo.output

        def said() -> str:
            seen = api(url, "api/channel?channel=C0DEPLOYS&user=U0ALICE")
            return json.dumps([m.get("text") for m in seen["messages"]])

        assert "Welcome to the helmbot tour" not in said()  # nobody is looking yet
        with urllib.request.urlopen(url + "api/events", timeout=30):  # the page's event stream: a viewer
            poll(lambda: "1/7" in said(), timeout=30, what="the tour's first story")
        assert "Welcome to the helmbot tour" in said()
    finally:
        demo.proc.send_signal(signal.SIGINT)
        code = stopped(demo)
    assert code == 0, demo.output


def test_a_taken_or_bad_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = start_demo(tmp_path / "busy", "--port", str(port))
        assert stopped(demo) == 3
    assert demo.lines == [
        f"helmbot demo: cannot listen on 127.0.0.1:{port}: it is in use (--port picks another; 0: any)"
    ]
    assert list((tmp_path / "busy").iterdir()) == []
    demo = start_demo(tmp_path / "bad", "--port", "99999")
    assert stopped(demo) == 2
    assert "'99999' is not a port" in demo.output
