"""The Web API side through the real slack_sdk WebClient: auth, messages, threads, history, files, errors."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sim.slack import SlackStandIn
from tests.sim_slack.conftest import ALICE, BOB, BOT_TOKEN, DEPLOYS


def api_error(fn, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        fn(**kwargs)
    assert caught.value.response.status_code == 200
    return caught.value.response.data  # type: ignore[return-value]


def test_auth(standin: SlackStandIn, client: WebClient) -> None:
    me = client.auth_test()
    assert (me["team_id"], me["user_id"], me["bot_id"]) == (
        standin.team_id,
        standin.bot_user_id,
        standin.bot_id,
    )
    assert "chat:write" in me.headers["x-oauth-scopes"]
    assert (
        api_error(WebClient(token="xoxb-wrong", base_url=standin.api_url).auth_test)["error"]
        == "invalid_auth"
    )
    assert api_error(WebClient(base_url=standin.api_url).auth_test)["error"] == "not_authed"
    assert api_error(client.apps_connections_open, app_token=BOT_TOKEN)["error"] == "not_allowed_token_type"
    assert client.apps_connections_open(app_token="xapp-1-A-1-x")["url"].startswith("ws://127.0.0.1:")
    assert all("token" not in c.args for c in standin.calls)
    assert [c.error for c in standin.calls] == [
        None,
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        None,
    ]


def test_form_and_json_bodies_are_both_accepted(standin: SlackStandIn, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    as_json = client.chat_postMessage(channel=DEPLOYS, text="json", blocks=blocks)
    as_form = client.api_call(
        "chat.postMessage", params={"channel": DEPLOYS, "text": "form", "blocks": json.dumps(blocks)}
    )
    assert (
        as_json["message"]["blocks"][0]["text"]
        == as_form["message"]["blocks"][0]["text"]
        == blocks[0]["text"]
    )
    assert as_form["message"]["blocks"][0]["block_id"]  # Slack names every block
    # Slack also takes the token as a form field, and answers a broken JSON body with invalid_json
    assert raw_post(standin, "auth.test", f"token={BOT_TOKEN}".encode())["ok"] is True
    assert raw_post(standin, "auth.test", b"{oops", "application/json")["error"] == "invalid_json"


def raw_post(
    standin: SlackStandIn, method: str, body: bytes, ctype: str = "application/x-www-form-urlencoded"
) -> dict[str, Any]:
    request = urllib.request.Request(standin.api_url + method, data=body, headers={"Content-Type": ctype})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.mark.filterwarnings("ignore:The top-level")
def test_post_message_checks_like_slack(standin: SlackStandIn, client: WebClient) -> None:
    standin.add_channel("C0SECRET", "secret", private=True, members=[ALICE])
    standin.add_channel("C0OLD", "old", members=[ALICE], bot_member=True, archived=True)
    standin.add_channel("C0PUBLIC", "public", members=[ALICE])
    assert client.chat_postMessage(channel="#deploys", text="by name")["channel"] == DEPLOYS
    assert client.chat_postMessage(channel="C0PUBLIC", text="chat:write.public")["ok"]
    post = client.chat_postMessage
    assert api_error(post, channel="C0NOPE", text="x")["error"] == "channel_not_found"
    assert api_error(post, channel="C0SECRET", text="x")["error"] == "not_in_channel"
    assert api_error(post, channel="C0OLD", text="x")["error"] == "is_archived"
    assert api_error(post, channel=DEPLOYS, text="")["error"] == "no_text"
    assert api_error(post, channel=DEPLOYS, text="x" * 40_001)["error"] == "msg_too_long"
    assert client.chat_postMessage(channel=DEPLOYS, text="x" * 40_000)["ok"]
    dm = client.chat_postMessage(channel=ALICE, text="a DM")
    assert dm["channel"].startswith("D")


def test_timestamps_are_unique_and_increasing(client: WebClient) -> None:
    stamps = [client.chat_postMessage(channel=DEPLOYS, text=str(i))["ts"] for i in range(20)]
    keys = [tuple(map(int, ts.split("."))) for ts in stamps]
    assert keys == sorted(set(keys)) and all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_threads_and_broadcast(standin: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=DEPLOYS, text="deploy shop")
    first = client.chat_postMessage(channel=DEPLOYS, text="step 1", thread_ts=parent["ts"])
    second = client.chat_postMessage(channel=DEPLOYS, text="step 2", thread_ts=first["ts"])  # a reply's ts
    failed = client.chat_postMessage(
        channel=DEPLOYS, text="failed", thread_ts=parent["ts"], reply_broadcast=True
    )

    assert second["message"]["thread_ts"] == parent["ts"]  # resolved to the parent, as Slack does
    thread = standin.thread(DEPLOYS, first["ts"])
    assert [m["text"] for m in thread] == ["deploy shop", "step 1", "step 2", "failed"]
    assert thread[0]["reply_count"] == 3 and thread[0]["latest_reply"] == failed["ts"]
    history = client.conversations_history(channel=DEPLOYS)["messages"]
    assert [(m["text"], m.get("subtype")) for m in history] == [
        ("failed", "thread_broadcast"),
        ("deploy shop", None),
    ]
    assert history[0]["root"]["ts"] == parent["ts"]
    replies = client.conversations_replies(channel=DEPLOYS, ts=parent["ts"])["messages"]
    assert [m["ts"] for m in replies] == [m["ts"] for m in thread]
    assert api_error(client.chat_postMessage, channel=DEPLOYS, text="x", thread_ts="")["error"] == (
        "invalid_thread_ts"
    )
    assert api_error(client.chat_postMessage, channel=DEPLOYS, text="x", thread_ts="1.000001")["error"] == (
        "thread_not_found"
    )


def test_history_finds_a_message_by_its_metadata(client: WebClient) -> None:
    meta = {"event_type": "helmbot", "event_payload": {"key": "parent:d-1"}}
    posted = client.chat_postMessage(channel=DEPLOYS, text="deploy", metadata=meta)
    for i in range(5):
        client.chat_postMessage(channel=DEPLOYS, text=f"other {i}")

    plain = client.conversations_history(channel=DEPLOYS)["messages"]
    assert all("metadata" not in m for m in plain)
    found: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        page = client.conversations_history(
            channel=DEPLOYS, include_all_metadata=True, limit=2, cursor=cursor
        )
        pages += 1
        found += [
            m for m in page["messages"] if m.get("metadata", {}).get("event_payload") == meta["event_payload"]
        ]
        if not page["has_more"]:
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert pages == 3 and [m["ts"] for m in found] == [posted["ts"]]
    window = client.conversations_history(channel=DEPLOYS, oldest=posted["ts"], inclusive=True)["messages"]
    assert window[-1]["ts"] == posted["ts"] and len(window) == 6


def test_reading_history_needs_membership(standin: SlackStandIn, client: WebClient) -> None:
    standin.add_channel("C0PUBLIC", "public", members=[ALICE])
    client.chat_postMessage(channel="C0PUBLIC", text="posted without joining")
    assert api_error(client.conversations_history, channel="C0PUBLIC")["error"] == "not_in_channel"
    assert client.conversations_info(channel="C0PUBLIC")["channel"]["is_member"] is False
    assert client.conversations_join(channel="C0PUBLIC")["channel"]["is_member"] is True
    assert [m["text"] for m in client.conversations_history(channel="C0PUBLIC")["messages"]] == [
        "posted without joining"
    ]
    standin.add_channel("C0SECRET", "secret", private=True, members=[ALICE])
    assert api_error(client.conversations_info, channel="C0SECRET")["error"] == "channel_not_found"
    assert api_error(client.conversations_join, channel="C0SECRET")["error"] == "channel_not_found"


def test_update_and_delete(standin: SlackStandIn, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "v1"}}]
    posted = client.chat_postMessage(channel=DEPLOYS, text="v1", blocks=blocks)
    ts = posted["ts"]
    updated = client.chat_update(channel=DEPLOYS, ts=ts, text="v2")
    assert updated["message"]["blocks"][0]["text"]["text"] == "v1"  # blocks omitted: kept
    assert updated["message"]["edited"]["user"] == standin.bot_user_id
    cleared = client.chat_update(channel=DEPLOYS, ts=ts, text="v3", blocks=[])
    assert "blocks" not in cleared["message"]
    upd = client.chat_update
    assert api_error(upd, channel="#deploys", ts=ts, text="x")["error"] == "channel_not_found"
    assert api_error(upd, channel=DEPLOYS, ts="1.000001", text="x")["error"] == "message_not_found"
    human = standin.post(ALICE, DEPLOYS, "hello")
    assert api_error(upd, channel=DEPLOYS, ts=human["ts"], text="x")["error"] == "cant_update_message"
    assert api_error(client.chat_delete, channel=DEPLOYS, ts=human["ts"])["error"] == "cant_delete_message"

    link = client.chat_getPermalink(channel=DEPLOYS, message_ts=ts)["permalink"]
    assert link == f"https://helmbot.slack.com/archives/{DEPLOYS}/p{ts.replace('.', '')}"
    client.chat_postMessage(channel=DEPLOYS, text="reply", thread_ts=ts)
    client.chat_delete(channel=DEPLOYS, ts=ts)
    tomb = standin.message(DEPLOYS, ts)
    assert tomb is not None and tomb["subtype"] == "tombstone"  # a parent with replies leaves a tombstone
    lone = client.chat_postMessage(channel=DEPLOYS, text="lone")
    client.chat_delete(channel=DEPLOYS, ts=lone["ts"])
    assert standin.message(DEPLOYS, lone["ts"]) is None


def test_ephemeral_is_seen_by_one_user(standin: SlackStandIn, client: WebClient) -> None:
    standin.add_user("U0CAROL", "carol")
    client.chat_postEphemeral(channel=DEPLOYS, user=ALICE, text="only alice")
    assert [e["text"] for e in standin.ephemerals(DEPLOYS, ALICE)] == ["only alice"]
    assert standin.ephemerals(DEPLOYS, BOB) == [] and standin.messages(DEPLOYS) == []
    err = api_error(client.chat_postEphemeral, channel=DEPLOYS, user="U0CAROL", text="x")
    assert err["error"] == "user_not_in_channel"


def test_directory(standin: SlackStandIn, client: WebClient) -> None:
    standin.add_usergroup("S0SRE", "sre", [ALICE, BOB])
    assert client.users_info(user=ALICE)["user"]["is_admin"] is True
    assert client.users_info(user=BOB)["user"]["name"] == "bob"
    assert api_error(client.users_info, user="U0NOBODY")["error"] == "user_not_found"
    assert client.usergroups_users_list(usergroup="S0SRE")["users"] == [ALICE, BOB]
    assert api_error(client.usergroups_users_list, usergroup="S0NONE")["error"] == "no_such_subteam"
    info = client.conversations_info(channel=DEPLOYS)["channel"]
    assert (info["name"], info["is_private"], info["is_member"], info["is_archived"]) == (
        "deploys",
        False,
        True,
        False,
    )


def test_files_upload_v2_end_to_end(standin: SlackStandIn, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=DEPLOYS, text="deploy")
    logs = "line 1\nline 2 ✓\n"
    done = client.files_upload_v2(
        content=logs,
        filename="rollout.log",
        title="Rollout log",
        channel=DEPLOYS,
        thread_ts=parent["ts"],
        initial_comment="logs attached",
    )

    file_id = done["file"]["id"]
    stored = standin.file(file_id)
    assert stored is not None and stored["content"] == logs.encode() and stored["title"] == "Rollout log"
    (reply,) = standin.thread(DEPLOYS, parent["ts"])[1:]
    assert reply["text"] == "logs attached" and [f["id"] for f in reply["files"]] == [file_id]
    request = urllib.request.Request(
        done["file"]["url_private"], headers={"Authorization": f"Bearer {BOT_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.read() == logs.encode()
    [get_url, complete] = [c for c in standin.calls if c.method.startswith("files.")]
    assert get_url.args["length"] in (len(logs.encode()), str(len(logs.encode())))
    assert complete.ok
    assert (
        api_error(client.files_completeUploadExternal, files=[{"id": file_id}])["error"] == "file_not_found"
    )


def test_unknown_and_retired_methods(client: WebClient) -> None:
    assert api_error(client.api_call, api_method="chat.fly")["error"] == "unknown_method"
    assert api_error(client.api_call, api_method="files.upload")["error"] == "method_deprecated"
