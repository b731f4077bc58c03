"""Fixtures: a started Slack stand-in with two people and a channel, a WebClient on it, and a real Bolt app
served over HTTP (a ThreadingHTTPServer calling `app.dispatch(BoltRequest(...))`, as bolt's adapters do)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from bot.sim.slack import SlackStandIn

BOT_TOKEN = "xoxb-test-0000-helmbot"
SIGNING_SECRET = "test-signing-secret"
ALICE, BOB = "U0ALICE", "U0BOB"
DEPLOYS = "C0DEPLOYS"


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, ack_timeout=10.0) as sim:
        sim.add_user(ALICE, "alice", is_admin=True)
        sim.add_user(BOB, "bob")
        sim.add_channel(DEPLOYS, "deploys", members=[ALICE, BOB], bot_member=True)
        yield sim


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=standin.api_url, timeout=10)


class BoltHTTPServer:
    """A Bolt app on a real HTTP port (`.url` ends with /slack/events)."""

    def __init__(self, app: App) -> None:
        handler = _bolt_handler(app)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _bolt_handler(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            request = BoltRequest(
                body=body, query=urlsplit(self.path).query, headers=dict(self.headers.items())
            )
            response = app.dispatch(request)
            data = response.body.encode("utf-8")
            try:
                self.send_response(response.status)
                for name, values in response.headers.items():
                    for value in values:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the stand-in gave up waiting (an ack timeout test)

    return Handler


@pytest.fixture
def bolt(standin: SlackStandIn) -> Iterator[Callable[..., tuple[App, BoltHTTPServer]]]:
    """bolt(**app_kwargs) -> (App on the stand-in's Web API, its HTTP server); bolt(sim=other) for another
    stand-in."""
    servers: list[BoltHTTPServer] = []

    def make(sim: SlackStandIn = standin, **kwargs: Any) -> tuple[App, BoltHTTPServer]:
        web = WebClient(token=sim.bot_token, base_url=sim.api_url, timeout=10)
        app = App(client=web, signing_secret=sim.signing_secret, **kwargs)
        server = BoltHTTPServer(app)
        servers.append(server)
        return app, server

    yield make
    for server in servers:
        server.stop()
