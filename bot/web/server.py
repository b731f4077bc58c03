"""The bot's one HTTP port: Slack's requests (/slack/events), probes (/healthz, /readyz) and /metrics.

A stdlib ThreadingHTTPServer, as bolt's own adapters do it: the raw body goes to Bolt untouched (its
signature covers the exact bytes), each request on its own thread, so a slow listener never holds up a
probe. Request bodies are bounded, and nothing about a request (its body, its signature headers) is logged.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("helmbot.web")

MAX_BODY = 1 << 20  # Slack's payloads are far smaller; anything bigger is refused before it is read


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


SlackHandler = Callable[[bytes, str, Mapping[str, list[str]]], HttpResponse]  # (body, query, headers)
Check = Callable[[], Mapping[str, str | None]]  # name -> None when fine, else why not


@dataclass
class Routes:
    slack: SlackHandler | None = None
    alive: Callable[[], bool] = lambda: True
    ready: Check = dict
    # checks whose failure degrades the replica but leaves it ready (one cluster of several down: its
    # releases wait, the others are still served, so the pod must stay behind its Service)
    degradable: Callable[[], frozenset[str]] = frozenset
    metrics: Callable[[], tuple[bytes, str]] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: BotHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        headers = {"Content-Length": str(len(response.body)), **response.headers}
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _json(self, status: int, doc: Mapping[str, Any]) -> None:
        self._send(HttpResponse(status, json.dumps(doc).encode(), {"Content-Type": "application/json"}))

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        routes = self.server.routes
        if path == "/healthz":
            alive = routes.alive()
            self._json(200 if alive else 503, {"status": "ok" if alive else "failing"})
        elif path == "/readyz":
            checks = dict(routes.ready())
            failing = {k for k, v in checks.items() if v}
            fatal = failing - routes.degradable()
            self._json(
                503 if fatal else 200,
                {
                    "status": "not ready" if fatal else "degraded" if failing else "ready",
                    "checks": {k: v or "ok" for k, v in checks.items()},
                },
            )
        elif path == "/metrics" and routes.metrics is not None:
            body, content_type = routes.metrics()
            self._send(HttpResponse(200, body, {"Content-Type": content_type}))
        else:
            self._send(HttpResponse(404, b"not found\n"))

    do_HEAD = do_GET

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/slack/events" or self.server.routes.slack is None:
            self._send(HttpResponse(404, b"not found\n"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(HttpResponse(413, b"request too large\n", {"Connection": "close"}))
            self.close_connection = True
            return
        body = self.rfile.read(length)
        headers: dict[str, list[str]] = {}
        for key, value in self.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        try:
            response = self.server.routes.slack(body, url.query, headers)
        except Exception:
            log.exception("slack request handler failed")
            response = HttpResponse(500, b"internal error\n")
        self._send(response)


class BotHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a burst of slash commands (a channel typing /deploy at once,
    # Slack retrying) would see refused connections and Slack's "dispatch_failed". Each request gets a thread.
    request_queue_size = 128

    def __init__(self, host: str, port: int, routes: Routes) -> None:
        self.routes = routes
        super().__init__((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="helmbot-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)
