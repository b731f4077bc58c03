"""The actor side against a real slack_bolt App over HTTP: signed slash commands, clicks, response_urls."""

from __future__ import annotations

import time
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.sim.slack import ActorError, SlackStandIn
from tests.polling import poll
from tests.sim_slack.conftest import ALICE, BOB, DEPLOYS

SLASH_FIELDS = {
    "token",
    "team_id",
    "team_domain",
    "channel_id",
    "channel_name",
    "user_id",
    "user_name",
    "command",
    "text",
    "api_app_id",
    "is_enterprise_install",
    "response_url",
    "trigger_id",
}

BUTTONS = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*shop* 1.2.3 → prod"}},
    {
        "type": "actions",
        "block_id": "controls",
        "elements": [
            {
                "type": "button",
                "action_id": "rollback",
                "text": {"type": "plain_text", "text": "Roll back"},
                "value": "deploy-42",
                "style": "danger",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Sure?"},
                    "text": {"type": "mrkdwn", "text": "Roll back shop"},
                    "confirm": {"type": "plain_text", "text": "Yes"},
                    "deny": {"type": "plain_text", "text": "No"},
                },
            },
            {
                "type": "button",
                "action_id": "logs",
                "text": {"type": "plain_text", "text": "Logs"},
                "value": "l",
            },
        ],
    },
]


def test_signed_slash_command_reaches_bolt_and_its_ack_shows_as_an_ephemeral(
    standin: SlackStandIn, bolt
) -> None:
    app, server = bolt()
    seen: list[dict[str, Any]] = []

    @app.command("/deploy")
    def deploy(ack, body) -> None:
        seen.append(body)
        ack(f"Deploying {body['text']}…")

    status, _ = standin.slash_command(server.url, ALICE, DEPLOYS, "/deploy", "shop 1.2.3")

    assert status == 200
    assert set(seen[0]) == SLASH_FIELDS
    assert (
        seen[0]["user_id"] == ALICE and seen[0]["channel_id"] == DEPLOYS and seen[0]["text"] == "shop 1.2.3"
    )
    assert seen[0]["response_url"].startswith(standin.url + "commands/")
    assert [e["text"] for e in standin.ephemerals(DEPLOYS, ALICE)] == ["Deploying shop 1.2.3…"]
    assert standin.ephemerals(DEPLOYS, BOB) == []
    assert standin.messages(DEPLOYS) == []  # an ephemeral ack posts nothing in the channel
    assert [c.method for c in standin.calls] == ["auth.test"]  # App() checks its token on the stand-in


def test_in_channel_ack_shows_the_invocation_and_the_answer(standin: SlackStandIn, bolt) -> None:
    app, server = bolt()

    @app.command("/deploy")
    def deploy(ack) -> None:
        ack(text="Deploy of shop started", response_type="in_channel")

    standin.slash_command(server.url, ALICE, DEPLOYS, "/deploy", "shop")

    shown = standin.messages(DEPLOYS)
    assert [(m["user"], m["text"]) for m in shown] == [
        (ALICE, "/deploy shop"),
        (standin.bot_user_id, "Deploy of shop started"),
    ]
    assert shown[1]["bot_id"] == standin.bot_id


@pytest.mark.parametrize(
    "forged", [{"forge_signature": True}, {"timestamp_skew": -301}, {"timestamp_skew": 400}]
)
def test_forged_or_stale_requests_get_401_from_bolt(standin: SlackStandIn, bolt, forged) -> None:
    app, server = bolt()
    called = []
    app.command("/deploy")(lambda ack: (called.append(1), ack()))

    status, _ = standin.slash_command(server.url, ALICE, DEPLOYS, "/deploy", "shop", **forged)

    assert status == 401 and called == []
    assert [e["text"] for e in standin.ephemerals(DEPLOYS, ALICE)] == [
        '/deploy failed with the error "dispatch_failed"'
    ]
    assert standin.deliveries[-1].status == 401


def test_a_click_reaches_the_action_listener_with_slacks_shape(
    standin: SlackStandIn, client: WebClient, bolt
) -> None:
    app, server = bolt()
    posted = client.chat_postMessage(channel=DEPLOYS, text="shop deploy", blocks=BUTTONS)
    seen: list[dict[str, Any]] = []

    @app.action("rollback")
    def rollback(ack, body) -> None:
        seen.append(body)
        ack()

    status, _ = standin.click(server.url, BOB, DEPLOYS, posted["ts"], "rollback")

    assert status == 200
    body = seen[0]
    assert body["type"] == "block_actions"
    assert body["user"] == {"id": BOB, "username": "bob", "name": "bob", "team_id": standin.team_id}
    assert body["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": DEPLOYS,
        "is_ephemeral": False,
    }
    assert body["channel"] == {"id": DEPLOYS, "name": "deploys"}
    assert body["team"] == {"id": standin.team_id, "domain": standin.team_domain}
    assert body["message"]["ts"] == posted["ts"] and body["message"]["blocks"] == posted["message"]["blocks"]
    assert body["state"] == {"values": {}} and body["api_app_id"] == standin.app_id and body["trigger_id"]
    (action,) = body["actions"]
    assert (
        action["action_id"] == "rollback" and action["block_id"] == "controls" and action["type"] == "button"
    )
    assert action["value"] == "deploy-42" and action["style"] == "danger"
    assert action["text"] == {"type": "plain_text", "text": "Roll back", "emoji": True}
    assert float(action["action_ts"]) > 0


def test_click_refuses_an_element_the_message_does_not_have(standin: SlackStandIn, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=DEPLOYS, text="shop deploy", blocks=BUTTONS)
    plain = client.chat_postMessage(channel=DEPLOYS, text="no buttons")
    with pytest.raises(ActorError, match="no element with action_id 'promote'"):
        standin.click("http://127.0.0.1:9/", BOB, DEPLOYS, posted["ts"], "promote")
    with pytest.raises(ActorError, match="has value 'deploy-42', not 'deploy-7'"):
        standin.click("http://127.0.0.1:9/", BOB, DEPLOYS, posted["ts"], "rollback", "deploy-7")
    with pytest.raises(ActorError):
        standin.click("http://127.0.0.1:9/", BOB, DEPLOYS, plain["ts"], "rollback")
    assert standin.deliveries == []


def test_respond_replaces_the_clicked_message_and_is_recorded(
    standin: SlackStandIn, client: WebClient, bolt
) -> None:
    app, server = bolt(process_before_response=True)
    posted = client.chat_postMessage(channel=DEPLOYS, text="shop deploy", blocks=BUTTONS)

    @app.action("rollback")
    def rollback(ack, respond) -> None:
        ack()
        respond(text="Rolling back shop", replace_original=True)
        respond(text="Only you see this")

    standin.click(server.url, BOB, DEPLOYS, posted["ts"], "rollback")

    replaced = standin.message(DEPLOYS, posted["ts"])
    assert replaced is not None and replaced["text"] == "Rolling back shop" and "blocks" not in replaced
    assert [e["text"] for e in standin.ephemerals(DEPLOYS, BOB)] == ["Only you see this"]
    assert [(r.kind, r.status, r.payload["text"]) for r in standin.responses] == [
        ("actions", 200, "Rolling back shop"),
        ("actions", 200, "Only you see this"),
    ]


def test_click_on_an_ephemeral_message(standin: SlackStandIn, client: WebClient, bolt) -> None:
    app, server = bolt(process_before_response=True)
    eph = client.chat_postEphemeral(channel=DEPLOYS, user=ALICE, text="approve?", blocks=BUTTONS)
    seen: list[dict[str, Any]] = []

    @app.action("logs")
    def logs(ack, body, respond) -> None:
        seen.append(body)
        ack()
        respond(delete_original=True)

    with pytest.raises(ActorError, match="shown to U0ALICE"):
        standin.click(server.url, BOB, DEPLOYS, eph["message_ts"], "logs")
    standin.click(server.url, ALICE, DEPLOYS, eph["message_ts"], "logs", "l")

    assert seen[0]["container"]["is_ephemeral"] is True and "message" not in seen[0]
    assert standin.ephemerals(DEPLOYS, ALICE) == []


def test_response_url_is_usable_five_times(standin: SlackStandIn, bolt) -> None:
    app, server = bolt()
    urls: list[str] = []

    @app.command("/deploy")
    def deploy(ack, body) -> None:
        urls.append(body["response_url"])
        ack()

    standin.slash_command(server.url, ALICE, DEPLOYS, "/deploy", "shop")
    hook = WebhookClient(urls[0])
    answers = [hook.send(text=f"step {i}") for i in range(6)]

    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert '"used_url"' in answers[5].body
    assert [e["text"] for e in standin.ephemerals(DEPLOYS, ALICE)] == [f"step {i}" for i in range(5)]
    in_channel = hook.send(text="x", response_type="in_channel")
    assert in_channel.status_code == 404 and standin.messages(DEPLOYS) == []


def test_response_url_expires_after_thirty_minutes(bolt) -> None:
    now = [time.time()]
    with SlackStandIn(signing_secret="s", bot_token="xoxb-t", clock=lambda: now[0]) as standin:
        standin.add_user(ALICE, "alice")
        standin.add_channel(DEPLOYS, "deploys", members=[ALICE], bot_member=True)
        app, server = bolt(sim=standin)
        urls: list[str] = []
        app.command("/deploy")(lambda ack, body: (urls.append(body["response_url"]), ack()))
        # Bolt checks the request timestamp against the real clock: keep the stand-in's clock at real time
        # until the command is delivered, then move it on.
        standin.slash_command(server.url, ALICE, DEPLOYS, "/deploy", "shop")
        now[0] += 29 * 60
        assert WebhookClient(urls[0]).send(text="in time", response_type="in_channel").status_code == 200
        now[0] += 2 * 60
        late = WebhookClient(urls[0]).send(text="too late")
        assert late.status_code == 404 and '"expired_url"' in late.body
        assert [m["text"] for m in standin.messages(DEPLOYS)] == ["in time"]


def test_a_slow_ack_is_a_timeout_for_the_user(bolt) -> None:
    with SlackStandIn(signing_secret="s", bot_token="xoxb-t", ack_timeout=0.3) as standin:
        standin.add_user(ALICE, "alice")
        standin.add_channel(DEPLOYS, "deploys", members=[ALICE])
        app, server = bolt(sim=standin)
        app.command("/deploy")(lambda ack: (time.sleep(1.0), ack()))

        status, _ = standin.slash_command(server.url, ALICE, DEPLOYS, "/deploy", "shop")

        assert status == 0 and standin.deliveries[-1].error == "timeout"
        assert [e["text"] for e in standin.ephemerals(DEPLOYS, ALICE)] == [
            '/deploy failed with the error "operation_timeout"'
        ]


def test_subscribers_see_changes_as_they_happen(standin: SlackStandIn, client: WebClient, bolt) -> None:
    events: list[dict[str, Any]] = []
    unsubscribe = standin.subscribe(events.append)
    posted = client.chat_postMessage(channel=DEPLOYS, text="one")
    client.chat_postMessage(channel=DEPLOYS, text="reply", thread_ts=posted["ts"])
    client.chat_update(channel=DEPLOYS, ts=posted["ts"], text="one, edited")
    client.chat_postEphemeral(channel=DEPLOYS, user=ALICE, text="psst")
    client.files_upload_v2(content="log\n", filename="x.log", channel=DEPLOYS)
    unsubscribe()
    client.chat_delete(channel=DEPLOYS, ts=posted["ts"])

    kinds = [e["type"] for e in events]
    assert kinds == [
        "message",
        "message",
        "message_replied",
        "message_changed",
        "ephemeral",
        "message",
        "file_shared",
    ]
    assert events[3]["message"]["text"] == "one, edited"
    poll(lambda: standin.events_after(0)[-1]["type"] == "message_changed", what="tombstone event")
