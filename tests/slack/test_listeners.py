"""The Bolt app of helmbot (bot.slack.listeners) in-process, as bolt-python's own scenario tests do it: real
requests (signed form bodies, block_actions payloads, Socket Mode envelopes' payloads) dispatched into
`App.dispatch`, the Slack stand-in as the Web API (usergroups.users.list, response_urls), and the HelmBot
façade behind it on a real store with a HelmPort counting its calls."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.app.actions import APPROVE_ACTION
from bot.app.replies import ReplyKind
from bot.app.views import ApprovalView
from bot.sim.slack import SlackStandIn
from bot.slack.cards import render_approval
from bot.slack.listeners import GroupResolver, build_app
from tests.app.support import ALICE, BOB, CAROL, DAVE, DEPLOYS, MALLORY, PROD, SRE, Harness, harness
from tests.polling import poll
from tests.sim_slack.conftest import BoltHTTPServer

SECRET = "scenario-signing-secret"
TOKEN = "xoxb-scenario-0000"
TEAM = "T0HELMBOT"
COMMANDS = {"deploy": "/deploy", "rollback": "/rollback", "promote": "/promote", "helmbot": "/helmbot"}


@dataclass
class Scenario:
    slack: SlackStandIn
    h: Harness
    client: WebClient
    pool: ThreadPoolExecutor

    def app(self, *, socket: bool = False, ack_wait: float = 2.0) -> App:
        return build_app(
            bot=self.h.bot,
            client=self.client,
            signing_secret=None if socket else SECRET,
            executor=self.pool,
            commands=COMMANDS,
            team_id=TEAM,
            groups=GroupResolver(self.client, [SRE]),
            ack_wait=ack_wait,
        )


@pytest.fixture
def scenario() -> Iterator[Scenario]:
    with SlackStandIn(signing_secret=SECRET, bot_token=TOKEN, team_id=TEAM, ack_timeout=10.0) as slack:
        for user in (ALICE, BOB, CAROL, MALLORY, DAVE):
            slack.add_user(user, user.lower())
        for channel in (DEPLOYS, PROD):
            slack.add_channel(channel, channel.lower(), members=[ALICE, BOB, CAROL, MALLORY, DAVE])
        slack.add_usergroup(SRE, "sre", [DAVE])
        client = WebClient(token=TOKEN, base_url=slack.api_url, timeout=10)
        with ThreadPoolExecutor(max_workers=4) as pool:
            for h in harness():
                h.cluster.add("shop", "shop", "deployed")
                h.cluster.add("shop-prod", "shop", "deployed")
                yield Scenario(slack, h, client, pool)


def command_body(user: str, text: str, command: str = "/deploy", *, team: str = TEAM, **extra: str) -> str:
    fields = {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "helmbot",
        "channel_id": DEPLOYS,
        "channel_name": "deploys",
        "user_id": user,
        "user_name": "display-names-are-never-used",
        "command": command,
        "text": text,
        "api_app_id": "A0HELMBOT",
        "response_url": "http://127.0.0.1:9/never-used",
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        **extra,
    }
    return urlencode(fields)


def signed(body: str, *, secret: str = SECRET, skew: float = 0) -> BoltRequest:
    timestamp = str(int(time.time() + skew))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [timestamp],
        "x-slack-signature": [signature],
    }
    return BoltRequest(body=body, headers=headers)


def ack_text(body: str) -> str:
    doc = json.loads(body)
    return doc["text"] + json.dumps(doc.get("blocks") or [])


def test_a_signed_command_is_answered_in_the_ack(scenario: Scenario) -> None:
    response = scenario.app().dispatch(signed(command_body(ALICE, "shop staging image.tag=4")))
    assert response.status == 200
    assert "started" in ack_text(response.body)
    assert [op for op, _ in scenario.h.helm.runs()] == ["upgrade"]


@pytest.mark.parametrize(
    "request_of",
    [
        lambda body: signed(body, secret="not-the-secret"),
        lambda body: signed(body, skew=-301),  # older than Slack's five minutes
        lambda body: signed(body, skew=+301),
        lambda body: BoltRequest(body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}),
    ],
    ids=["forged", "stale", "future", "unsigned"],
)
def test_unsigned_forged_or_stale_requests_get_401_and_run_nothing(
    scenario: Scenario, request_of: Callable[[str], BoltRequest]
) -> None:
    response = scenario.app().dispatch(request_of(command_body(ALICE, "shop staging")))
    assert response.status == 401
    assert scenario.h.helm.calls == [] and scenario.h.store.audit_entries() == []


def test_a_forged_ssl_check_is_answered_empty_and_runs_nothing(scenario: Scenario) -> None:
    """Before slack_bolt 1.29 an ssl_check=1 field skipped the signature check (with ssl_check off): a
    forged command slipped through. Now Slack's ssl_check gets its empty 200 and no listener runs."""
    body = command_body(ALICE, "shop staging") + "&ssl_check=1"
    response = scenario.app().dispatch(signed(body, secret="not-the-secret"))
    assert (response.status, response.body) == (200, "")
    assert scenario.h.helm.calls == [] and scenario.h.store.audit_entries() == []


def test_another_workspace_is_refused(scenario: Scenario) -> None:
    response = scenario.app().dispatch(signed(command_body(ALICE, "shop staging", team="T0OTHER")))
    assert response.status == 403
    assert scenario.h.helm.calls == []


def test_permission_by_user_group_from_usergroups_users_list(scenario: Scenario) -> None:
    app = scenario.app()
    refused = app.dispatch(signed(command_body(MALLORY, "shop staging")))
    assert "may not deploy" in ack_text(refused.body)
    accepted = app.dispatch(signed(command_body(DAVE, "shop staging")))  # listed only through S0SRE
    assert "started" in ack_text(accepted.body)
    assert scenario.slack.calls_to("usergroups.users.list")
    assert [c[1]["target"].release for c in scenario.h.helm.runs()] == ["shop"]


def test_bad_input_gets_an_ephemeral_refusal_that_names_no_value(scenario: Scenario) -> None:
    app = scenario.app()
    response = app.dispatch(signed(command_body(ALICE, "shop staging db.password=hunter2")))
    doc = json.loads(response.body)
    assert doc.get("response_type", "ephemeral") == "ephemeral"
    text = ack_text(response.body)
    assert "db.password" in text and "not allowed" in text and "hunter2" not in text
    hostile = ack_text(app.dispatch(signed(command_body(ALICE, "<!here> staging"))).body)
    assert "not a release name" in hostile and "<!here>" not in hostile  # nobody can ping the channel
    assert scenario.h.helm.calls == []


class _Capture(BaseHTTPRequestHandler):
    """A Request URL that only keeps what Slack sends (for a real response_url to reuse)."""

    received: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        type(self).received.append(parse_qs(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def response_url_from(slack: SlackStandIn) -> str:
    """A response_url the stand-in issued, as Slack puts one in every command and click."""
    _Capture.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        slack.slash_command(f"http://127.0.0.1:{server.server_address[1]}/", ALICE, PROD, "/helmbot", "help")
    finally:
        server.shutdown()
        server.server_close()
    return _Capture.received[0]["response_url"][0]


def test_socket_mode_command_and_click(scenario: Scenario) -> None:
    """Socket Mode: no signature (the xapp token and TLS are the trust), same listeners, same checks."""
    app = scenario.app(socket=True)
    body = parse_qs(command_body(ALICE, "shop prod image.tag=5"))
    payload = {k: v[0] for k, v in body.items()}
    response = app.dispatch(BoltRequest(mode="socket_mode", body=payload))
    assert response.status == 200
    assert "needs an approval" in ack_text(response.body)
    [(channel, card)] = scenario.h.cards
    assert isinstance(card, ApprovalView) and channel == PROD

    response_url = response_url_from(scenario.slack)
    click = {
        "type": "block_actions",
        "user": {"id": CAROL, "team_id": TEAM},
        "team": {"id": TEAM},
        "api_app_id": "A0HELMBOT",
        "container": {"type": "message", "channel_id": PROD, "message_ts": "1.000001"},
        "channel": {"id": PROD},
        "trigger_id": "trigger-click-1",
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "block_id": "b",
                "value": card.approval_id,
                "action_ts": "1700000000.1",
            }
        ],
    }
    response = app.dispatch(BoltRequest(mode="socket_mode", body=click))
    assert response.status == 200
    poll(lambda: scenario.h.helm.runs(), timeout=10, what="the approved deploy to run")
    answer = poll(
        lambda: [r for r in scenario.slack.responses if "approved by" in json.dumps(r.payload)],
        timeout=10,
        what="the answer at the response_url",
    )
    assert answer[0].payload.get("response_type") == "ephemeral"
    [(_, call)] = scenario.h.helm.runs()
    assert ALICE in call["description"]
    # a socket-mode payload from another workspace is refused too
    stranger = dict(payload, team_id="T0OTHER")
    assert app.dispatch(BoltRequest(mode="socket_mode", body=stranger)).status == 403


def test_a_slow_answer_acks_at_once_and_follows_through_the_response_url(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    original = scenario.h.bot.command

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(scenario.h.bot, "command", slow)
    server = BoltHTTPServer(scenario.app(ack_wait=0.2))
    try:
        started = time.monotonic()
        status, body = scenario.slack.slash_command(
            server.url, ALICE, DEPLOYS, "/helmbot", "status shop staging"
        )
        assert status == 200 and time.monotonic() - started < 3
        assert "working on it" in body
        release.set()
        answer = poll(lambda: scenario.slack.responses, timeout=10, what="the late answer")
        assert "shop (staging)" in json.dumps(answer[0].payload)
    finally:
        release.set()
        server.stop()


def test_a_click_over_http_runs_once_and_answers_the_clicker(scenario: Scenario) -> None:
    h = scenario.h
    waiting = h.command("deploy", "shop prod image.tag=6")
    assert waiting.kind is ReplyKind.WAITING
    [(_, card)] = h.cards
    posted = scenario.client.chat_postMessage(channel=PROD, **render_approval(card, now=h.now[0]))
    server = BoltHTTPServer(scenario.app())
    try:
        assert scenario.slack.click(server.url, ALICE, PROD, posted["ts"], APPROVE_ACTION)[0] == 200
        assert scenario.slack.click(server.url, CAROL, PROD, posted["ts"], APPROVE_ACTION)[0] == 200
        assert scenario.slack.click(server.url, BOB, PROD, posted["ts"], APPROVE_ACTION)[0] == 200
        answers = poll(
            lambda: len(scenario.slack.responses) >= 3 and scenario.slack.responses,
            timeout=10,
            what="three answers",
        )
        texts = sorted(json.dumps(a.payload) for a in answers)
        assert any("second person" in t for t in texts), texts
        assert any("approved by" in t for t in texts), texts
        assert any("already approved" in t for t in texts), texts
        assert len(h.helm.runs()) == 1
        forged = scenario.slack.click(
            server.url, CAROL, PROD, posted["ts"], APPROVE_ACTION, forge_signature=True
        )
        assert forged[0] == 401
    finally:
        server.stop()
