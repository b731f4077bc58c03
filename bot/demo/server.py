"""The demo's web channel: a local page that looks and behaves like a Slack channel, beside the cluster as the
bot sees it. Generic over a Slack stand-in, a bot URL and a Kubernetes API.

Routes (JSON unless said otherwise):
  GET  /                      the page (bot/demo/web/index.html); GET /static/<file>: its CSS and JS
  GET  /api/workspace         team, users, channels, and the change feed's last id
  GET  /api/channel?channel=&user=    top-level messages and that user's ephemerals
  GET  /api/thread?channel=&ts=       parent and replies
  GET  /api/file?id=          a file's text (the snippet view)
  GET  /api/cluster           Deployments, ReplicaSets, Pods, Jobs and Helm releases per namespace
  GET  /api/events            server-sent events: `slack` (the stand-in's events), `directory` (users or
                              channels changed), `cluster` (a new snapshot), `reset` (read everything again)
  POST /api/send  {user, channel, text, thread_ts?}      the message box (slash command or message)
  POST /api/click {user, channel, ts, action_id, value?} a button or menu option
"""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.demo.channel import ChannelActions
from bot.demo.errors import DemoError
from bot.demo.hub import ChangeFeed
from bot.demo.kube_source import ClusterPoller, KubeTarget
from bot.sim.slack import SlackStandIn

STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page loads nothing from elsewhere; a message that smuggled markup in could run nothing either.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DIRECTORY_EVENTS = {"user", "channel", "channel_created", "member_joined_channel", "usergroup"}
MAX_BODY = 64 * 1024
KEEPALIVE_SECONDS = 15.0


def load_static() -> dict[str, tuple[bytes, str]]:
    """The page's files from the package (`bot/demo/web/`), by URL name."""
    out: dict[str, tuple[bytes, str]] = {}
    for entry in (resources.files("bot.demo") / "web").iterdir():
        suffix = Path(entry.name).suffix
        if entry.is_file() and suffix in STATIC_TYPES:
            out[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    if "index.html" not in out:
        raise DemoError("the demo page is missing from the package (bot/demo/web/index.html)")
    return out


class DemoWebServer:
    """Serves the page, its JSON API and the change feed; `url` once started."""

    def __init__(
        self,
        slack: SlackStandIn,
        bot_url: str,
        kube_api: str | Path,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        title: str = "helmbot demo",
        poll_interval: float = 1.0,
    ) -> None:
        self.slack, self.bot_url, self.title = slack, bot_url, title
        self.host, self._port = host, port
        self.actions = ChannelActions(slack, bot_url)
        self.feed = ChangeFeed()
        self.static = load_static()
        self.poller = ClusterPoller(
            KubeTarget.from_arg(kube_api),
            self._on_cluster_change,
            interval=poll_interval,
            wanted=lambda: self.feed.listeners > 0,
        )
        self._httpd: _Httpd | None = None
        self._thread: threading.Thread | None = None
        self._unsubscribe: Any = None

    def start(self) -> DemoWebServer:
        if self._httpd is not None:
            return self
        try:
            httpd = _Httpd((self.host, self._port), self)
        except OSError as exc:
            raise DemoError(f"cannot listen on {self.host}:{self._port}: {exc.strerror}") from None
        self._httpd = httpd
        self._unsubscribe = self.slack.subscribe(self._on_slack_event)
        self.poller.start()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="demo-web", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.feed.close()
        self.poller.stop()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DemoWebServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0") else "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def _on_cluster_change(self, snapshot: dict[str, Any]) -> None:
        self.feed.publish("cluster", snapshot)

    def _on_slack_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        if kind in DIRECTORY_EVENTS:
            self.feed.publish("directory", {"type": kind})
            return
        shown = {k: v for k, v in event.items() if k not in ("seq", "at")}
        if isinstance(shown.get("message"), dict):
            shown["message"] = {k: v for k, v in shown["message"].items() if k != "metadata"}
        self.feed.publish("slack", shown)

    def workspace(self) -> dict[str, Any]:
        snap = self.slack.snapshot()
        return {
            "title": self.title,
            "team": snap["team"],
            "users": [
                {k: u.get(k) for k in ("id", "name", "real_name", "is_bot", "is_admin")}
                for u in snap["users"]
            ],
            "channels": [
                {k: c.get(k) for k in ("id", "name", "is_private", "is_im", "user", "members")}
                for c in snap["channels"]
            ],
            "last_event": self.feed.last_id,
        }


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], demo: DemoWebServer) -> None:
        self.demo = demo
        super().__init__(address, _Handler)


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Httpd

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def demo(self) -> DemoWebServer:
        return self.server.demo

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, verb: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            if verb == "GET" and parts.path == "/api/events":
                self._events(query)
            elif verb == "GET" and (parts.path == "/" or parts.path.startswith("/static/")):
                self._static(parts.path)
            elif verb == "GET":
                self._json(200, self._get(parts.path, query))
            else:
                self._json(200, self._post(parts.path, self._body()))
        except _BadRequest as exc:
            self._json(exc.status, {"error": str(exc)})
        except ValueError as exc:  # the stand-in refuses an unknown channel, user or message
            self._json(400, {"error": str(exc)})

    # --- GET ---

    def _get(self, path: str, q: dict[str, str]) -> Any:
        demo = self.demo
        if path == "/api/workspace":
            return demo.workspace()
        if path == "/api/channel":
            return demo.actions.channel_view(_need(q, "channel"), q.get("user") or None)
        if path == "/api/thread":
            return {"messages": demo.actions.thread_view(_need(q, "channel"), _need(q, "ts"))}
        if path == "/api/file":
            found = demo.actions.file_view(_need(q, "id"))
            if found is None:
                raise _BadRequest(404, "no such file")
            return found
        if path == "/api/cluster":
            return demo.poller.snapshot()
        raise _BadRequest(404, f"no route {path}")

    # --- POST ---

    def _body(self) -> dict[str, Any]:
        origin = self.headers.get("Origin")
        if origin is not None and not _same_host(origin, self):
            raise _BadRequest(403, "cross-origin requests are refused")
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            raise _BadRequest(415, "send JSON (Content-Type: application/json)")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise _BadRequest(413, "request too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise _BadRequest(400, "invalid JSON") from None
        if not isinstance(body, dict):
            raise _BadRequest(400, "send a JSON object")
        return body

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        actions = self.demo.actions
        if path == "/api/send":
            thread_ts = _opt_str(body, "thread_ts")
            return actions.send(
                _need(body, "user"), _need(body, "channel"), _str(body, "text"), thread_ts=thread_ts
            ).to_json()
        if path == "/api/click":
            return actions.click(
                _need(body, "user"),
                _need(body, "channel"),
                _need(body, "ts"),
                _need(body, "action_id"),
                _opt_str(body, "value"),
            ).to_json()
        raise _BadRequest(404, f"no route {path}")

    # --- static files ---

    def _static(self, path: str) -> None:
        name = "index.html" if path == "/" else path.removeprefix("/static/")
        found = self.demo.static.get(name)
        if found is None:
            raise _BadRequest(404, "no such file")
        data, ctype = found
        self._send(200, data, ctype)

    # --- server-sent events ---

    def _events(self, q: dict[str, str]) -> None:
        """The change feed as text/event-stream, from Last-Event-ID (a reconnect) or ?after=, until the
        page goes away or the server stops."""
        feed = self.demo.feed
        start = self.headers.get("Last-Event-ID") or q.get("after")
        last = int(start) if start and start.isdigit() else feed.last_id
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.close_connection = True
        feed.listening(+1)
        self.demo.poller.wake()
        try:
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while not feed.closed:
                items = feed.after(last, wait=KEEPALIVE_SECONDS)
                if items is None:
                    last = feed.last_id
                    items = [(last, "reset", {})]
                chunk = b"".join(_sse(i, name, data) for i, name, data in items) or b": keepalive\n\n"
                self.wfile.write(chunk)
                self.wfile.flush()
                if items:
                    last = items[-1][0]
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            feed.listening(-1)

    # --- plumbing ---

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def _send(self, status: int, data: bytes, ctype: str) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            self.wfile.write(data)


def _sse(item_id: int, event: str, data: dict[str, Any]) -> bytes:
    return f"id: {item_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _same_host(origin: str, handler: BaseHTTPRequestHandler) -> bool:
    """The page was loaded through another name for this server (localhost vs 127.0.0.1)."""
    return urlsplit(origin).netloc == (handler.headers.get("Host") or "")


def _need(source: dict[str, Any], key: str) -> str:
    value = source.get(key)
    if not isinstance(value, str) or not value:
        raise _BadRequest(400, f"missing {key}")
    return value


def _str(source: dict[str, Any], key: str) -> str:
    value = source.get(key, "")
    if not isinstance(value, str):
        raise _BadRequest(400, f"{key} must be a string")
    return value


def _opt_str(source: dict[str, Any], key: str) -> str | None:
    return None if source.get(key) is None else _str(source, key) or None
