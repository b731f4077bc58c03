"""Talking to the demo server as the page does: JSON GET/POST, and the server-sent event stream read on a
thread (so tests poll what arrived, with deadlines)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from bot.demo import DemoWebServer


def get(demo: DemoWebServer, path: str) -> Any:
    with urllib.request.urlopen(demo.url + path.lstrip("/"), timeout=10) as resp:
        return json.loads(resp.read())


def request(
    demo: DemoWebServer, path: str, body: Any, *, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        demo.url + path.lstrip("/"),
        data=data,
        headers=headers if headers is not None else {"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post(demo: DemoWebServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = request(demo, path, body)
    assert status == 200, answer
    return answer


@dataclass
class SseEvent:
    id: str
    event: str
    data: Any


@dataclass
class EventStream:
    """GET /api/events read on a daemon thread; `.events` grows as they arrive."""

    demo: DemoWebServer
    query: str = ""
    last_event_id: str | None = None
    events: list[SseEvent] = field(default_factory=list)
    retry: str = ""

    def __post_init__(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        self.conn = http.client.HTTPConnection("127.0.0.1", self.demo.port, timeout=30)
        self.conn.connect()
        self.sock = self.conn.sock  # the connection lets go of it once the response is read to the close
        self.conn.request("GET", "/api/events" + self.query, headers=headers)
        self.resp = self.conn.getresponse()
        self.content_type = self.resp.headers.get("Content-Type", "")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                    continue
                if "retry" in fields:
                    self.retry = fields["retry"]
                if "event" in fields:
                    self.events.append(
                        SseEvent(fields.get("id", ""), fields["event"], json.loads(fields["data"]))
                    )
                fields = {}
        except (OSError, ValueError):
            return

    def of(self, event: str, **match: Any) -> list[SseEvent]:
        return [
            e
            for e in list(self.events)
            if e.event == event and all(e.data.get(k) == v for k, v in match.items())
        ]

    def close(self) -> None:
        """Cut the connection under the reading thread (closing the response would wait for its lock)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)
        self.conn.close()
