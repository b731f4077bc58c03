"""The HTTP port: Slack bodies reach the handler byte for byte, probes answer, oversized bodies are
refused."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Mapping

import pytest

from bot.web.server import BotHttpServer, HttpResponse, Routes


@pytest.fixture
def server() -> Iterator[tuple[BotHttpServer, list[tuple[bytes, str, Mapping[str, list[str]]]]]]:
    seen: list[tuple[bytes, str, Mapping[str, list[str]]]] = []

    def slack(body: bytes, query: str, headers: Mapping[str, list[str]]) -> HttpResponse:
        seen.append((body, query, headers))
        return HttpResponse(200, b'{"ok":true}', {"Content-Type": "application/json"})

    state = {"ready": None}
    srv = BotHttpServer(
        "127.0.0.1",
        0,
        Routes(
            slack=slack,
            ready=lambda: {"store": state["ready"]},
            metrics=lambda: (b"helmbot_up 1\n", "text/plain"),
        ),
    )
    srv.start()
    srv.state = state  # type: ignore[attr-defined]
    yield srv, seen
    srv.stop()


def _request(
    port: int, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, body=body, headers=dict(headers or {}))
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_slack_body_is_passed_untouched(server: tuple[BotHttpServer, list]) -> None:  # type: ignore[type-arg]
    srv, seen = server
    body = b"command=%2Fdeploy&text=shop+1.0.0+image%3Dx%26y"
    status, data = _request(
        srv.port,
        "POST",
        "/slack/events?x=1",
        body,
        {"X-Slack-Signature": "v0=abc", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and json.loads(data) == {"ok": True}
    assert seen[0][0] == body and seen[0][1] == "x=1"
    assert seen[0][2]["x-slack-signature"] == ["v0=abc"]


def test_probes_and_metrics(server: tuple[BotHttpServer, list]) -> None:  # type: ignore[type-arg]
    srv, _ = server
    assert _request(srv.port, "GET", "/healthz")[0] == 200
    status, data = _request(srv.port, "GET", "/readyz")
    assert status == 200 and json.loads(data)["checks"] == {"store": "ok"}
    srv.state["ready"] = "database is locked"  # type: ignore[attr-defined]
    status, data = _request(srv.port, "GET", "/readyz")
    assert status == 503 and json.loads(data)["checks"]["store"] == "database is locked"
    assert _request(srv.port, "GET", "/metrics") == (200, b"helmbot_up 1\n")
    assert _request(srv.port, "GET", "/nope")[0] == 404
    assert _request(srv.port, "POST", "/other", b"x")[0] == 404


def test_oversized_body_refused_before_reading(server: tuple[BotHttpServer, list]) -> None:  # type: ignore[type-arg]
    srv, seen = server
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.putrequest("POST", "/slack/events")
    conn.putheader("Content-Length", str(10 << 20))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    assert seen == []
