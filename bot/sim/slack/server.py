"""HTTP front of the Slack stand-in: `/api/<method>`, uploads, file downloads, response_urls, `/_sim/`.

A stdlib ThreadingHTTPServer. Web API bodies are parsed as Slack does (form fields or a JSON object, query
arguments too); the token comes from `Authorization: Bearer` (or a form/query `token`). A fault may cut the
connection (RST) instead of answering.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bot.sim.slack.actor import Actor
from bot.sim.slack.limits import RESET
from bot.sim.slack.state import Workspace
from bot.sim.slack.webapi import Reply, WebApi

MAX_BODY = 64 * 1024 * 1024
Control = Callable[[str, str, dict[str, str], bytes], tuple[int, Any]]


class SlackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], *, ws: Workspace, api: WebApi, actor: Actor, control: Control
    ) -> None:
        self.ws, self.api, self.actor, self.control = ws, api, actor, control
        super().__init__(address, Handler)


def _last_values(qs: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(qs, keep_blank_values=True).items()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SlackServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def _route(self) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), _last_values(parts.query)
        body = self._body()
        if body is None:
            return
        if path.startswith("/api/"):
            self._api(path[len("/api/") :], query, body)
        elif path.startswith("/upload/v1/") and self.command == "POST":
            ok = self.server.api.receive_upload(path[len("/upload/v1/") :], body)
            self._send(200 if ok else 404, f"OK - {len(body)}" if ok else "invalid_upload_url", "text/plain")
        elif path.startswith("/files-pri/") and self.command == "GET":
            self._download(path)
        elif path.startswith(("/commands/", "/actions/")) and self.command == "POST":
            status, answer = self.server.actor.respond(path.lstrip("/"), body)
            self._json(status, answer)
        elif path.startswith("/_sim/"):
            status, answer = self.server.control(self.command, path[len("/_sim/") :], query, body)
            self._json(status, answer)
        elif path.startswith("/link"):
            self._json(501, {"ok": False, "error": "socket_mode_not_served_by_the_stand_in"})
        else:
            self._json(404, {"ok": False, "error": "not_found"})

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._json(413, {"ok": False, "error": "request_too_large"})
            return None
        return self.rfile.read(length) if length else b""

    def _api(self, method: str, query: dict[str, str], body: bytes) -> None:
        args: dict[str, Any] = dict(query)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if body:
            if ctype == "application/json":
                try:
                    parsed = json.loads(body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    parsed = None
                if not isinstance(parsed, dict):
                    self._json(200, {"ok": False, "error": "invalid_json"})
                    return
                args.update(parsed)
            elif ctype == "multipart/form-data":
                self._json(200, {"ok": False, "error": "invalid_form_data"})
                return
            else:
                args.update(_last_values(body.decode("utf-8", "replace")))
        auth = self.headers.get("Authorization") or ""
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None
        if token is None and ctype != "application/json":
            token = args.get("token") or None
        reply: Reply = self.server.api.call(method, args, token)
        if reply.status == RESET:
            self._reset()
            return
        assert isinstance(reply.status, int)
        self._json(reply.status, reply.body, reply.headers)

    def _download(self, path: str) -> None:
        auth = self.headers.get("Authorization") or ""
        if not self.server.api.is_bot_token(auth[len("Bearer ") :] if auth.startswith("Bearer ") else None):
            self._send(403, "forbidden", "text/plain")
            return
        name = path[len("/files-pri/") :].split("/", 1)[0]
        file_id = name.split("-", 1)[-1]
        f = self.server.ws.files.get(file_id)
        if f is None or f.content is None:
            self._send(404, "file_not_found", "text/plain")
            return
        self._send(200, f.content, "application/octet-stream")

    def _reset(self) -> None:
        """Cut the connection with a TCP RST, as a failing load balancer would."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        self.close_connection = True

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body), "application/json; charset=utf-8", headers)

    def _send(
        self, status: int, body: str | bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
