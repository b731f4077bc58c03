"""The demo server's JSON API and event stream, with a real Slack stand-in, a real Bolt app over HTTP as the
bot, and the session's Kubernetes stand-in."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from bot.demo import DemoWebServer
from bot.demo.errors import DemoError
from bot.demo.kube_source import KubeTarget, read_cluster
from bot.sim.slack import SlackStandIn
from tests.conftest import Sim
from tests.demo.client import EventStream, get, post, request
from tests.demo.conftest import ALICE, BOB, CAROL, DEPLOYS, GENERAL, create_deployment
from tests.demo.tinybot import LOG_TEXT, SCRIPT_LINE, TinyBot
from tests.polling import poll


def deploy(demo: DemoWebServer, user: str = ALICE) -> dict:
    return post(demo, "/api/send", {"user": user, "channel": DEPLOYS, "text": "/deploy shop 1.1.0 image=x"})


def test_workspace_lists_people_channels_and_the_feed_position(demo: DemoWebServer) -> None:
    ws = get(demo, "/api/workspace")

    assert {u["name"] for u in ws["users"] if not u["is_bot"]} == {"alice", "bob", "carol"}
    assert [(c["id"], c["name"]) for c in ws["channels"]] == [(DEPLOYS, "deploys"), (GENERAL, "general")]
    assert ALICE in ws["channels"][0]["members"]
    assert isinstance(ws["last_event"], int)


def test_a_slash_command_reaches_the_bot_signed_and_its_answers_show(
    demo: DemoWebServer, slack: SlackStandIn, bot: TinyBot
) -> None:
    answer = deploy(demo)

    assert answer == {"kind": "command", "ok": True, "status": 200, "note": "", "sent": True}
    delivery = slack.deliveries[-1]
    assert (delivery.kind, delivery.status, delivery.payload["text"]) == (
        "slash_command",
        200,
        "shop 1.1.0 image=x",
    )
    # the ack is an ephemeral for alice only
    view = get(demo, f"/api/channel?channel={DEPLOYS}&user={ALICE}")
    assert [e["text"] for e in view["ephemerals"]] == ["Deploying shop 1.1.0… :hourglass_flowing_sand:"]
    assert get(demo, f"/api/channel?channel={DEPLOYS}&user={BOB}")["ephemerals"] == []
    # the parent appears, then (gate open) is updated in place and gets a thread
    parent = poll(lambda: get(demo, f"/api/channel?channel={DEPLOYS}")["messages"], what="the parent message")
    assert parent[0]["blocks"][0]["text"]["text"] == "Deploy shop 1.1.0" and "edited" not in parent[0]
    assert "metadata" not in parent[0]
    bot.gate.set()
    assert bot.done.wait(10)
    shown = get(demo, f"/api/channel?channel={DEPLOYS}")["messages"]
    assert shown[0]["ts"] == parent[0]["ts"]
    assert "rolled out" in shown[0]["blocks"][1]["text"]["text"] and shown[0]["edited"]
    assert shown[0]["reply_count"] == 3
    assert shown[1]["subtype"] == "thread_broadcast"  # reply_broadcast shows in the channel too
    thread = get(demo, f"/api/thread?channel={DEPLOYS}&ts={parent[0]['ts']}")["messages"]
    assert thread[0]["ts"] == parent[0]["ts"] and len(thread) == 4
    assert thread[1]["blocks"][0]["text"]["text"] == f"```{SCRIPT_LINE}```"  # raw: the page escapes
    file_id = thread[2]["files"][0]["id"]
    assert get(demo, f"/api/file?id={file_id}") | {"created": 0} == {
        "id": file_id,
        "name": "migrate.log",
        "title": "migrate.log",
        "filetype": "text",
        "pretty_type": "Text",
        "size": len(LOG_TEXT),
        "user": slack.bot_user_id,
        "created": 0,
        "text": LOG_TEXT,
        "binary": False,
        "truncated": False,
    }


def test_clicks_go_to_the_bot_as_block_actions(
    demo: DemoWebServer, slack: SlackStandIn, bot: TinyBot
) -> None:
    bot.gate.set()
    deploy(demo)
    assert bot.done.wait(10)
    reply = slack.thread(DEPLOYS, bot.parents[0])[1]

    answer = post(
        demo,
        "/api/click",
        {"user": BOB, "channel": DEPLOYS, "ts": reply["ts"], "action_id": "rollback", "value": "shop"},
    )

    assert answer == {"kind": "click", "ok": True, "status": 200, "note": "", "sent": True}
    assert slack.deliveries[-1].payload["actions"][0]["action_id"] == "rollback"
    poll(
        lambda: any("requested by <@U0BOB>" in m["text"] for m in slack.thread(DEPLOYS, bot.parents[0])),
        what="the bot's answer to the click",
    )


def test_refusals_keep_the_text_and_say_why(demo: DemoWebServer, slack: SlackStandIn, bot: TinyBot) -> None:
    bot.gate.set()
    deploy(demo)
    assert bot.done.wait(10)
    not_member = post(demo, "/api/send", {"user": CAROL, "channel": GENERAL, "text": "/deploy shop"})
    no_button = post(
        demo, "/api/click", {"user": ALICE, "channel": DEPLOYS, "ts": bot.parents[0], "action_id": "nope"}
    )
    empty = post(demo, "/api/send", {"user": ALICE, "channel": DEPLOYS, "text": "  "})

    assert (not_member["ok"], not_member["sent"]) == (False, False) and "not a member" in not_member["note"]
    assert (no_button["ok"], no_button["sent"]) == (False, False) and "no element" in no_button["note"]
    assert (empty["ok"], empty["sent"]) == (False, False)


def test_a_bot_that_does_not_answer_gets_slackbots_notice(slack: SlackStandIn, sim: Sim) -> None:
    with DemoWebServer(slack, "http://127.0.0.1:9/slack/events", sim.url) as demo:
        answer = post(demo, "/api/send", {"user": ALICE, "channel": DEPLOYS, "text": "/deploy shop"})
        view = get(demo, f"/api/channel?channel={DEPLOYS}&user={ALICE}")

    assert (answer["ok"], answer["status"], answer["sent"]) == (False, 0, True)
    assert [(e["user"], e["text"]) for e in view["ephemerals"]] == [
        ("USLACKBOT", '/deploy failed with the error "dispatch_failed"')
    ]


def test_plain_text_is_posted_as_the_person_and_kept_raw(demo: DemoWebServer, slack: SlackStandIn) -> None:
    answer = post(
        demo, "/api/send", {"user": BOB, "channel": DEPLOYS, "text": "<script>alert(1)</script> *hi*"}
    )

    assert answer["kind"] == "message" and answer["ok"]
    (msg,) = get(demo, f"/api/channel?channel={DEPLOYS}")["messages"]
    assert (msg["user"], msg["text"]) == (BOB, "<script>alert(1)</script> *hi*")


def test_the_event_stream_carries_changes_in_order_and_replays_after_a_reconnect(
    demo: DemoWebServer, bot: TinyBot
) -> None:
    start = get(demo, "/api/workspace")["last_event"]
    stream = EventStream(demo, query=f"?after={start}")
    try:
        assert stream.content_type.startswith("text/event-stream")
        deploy(demo)
        posted = poll(lambda: bot.parents and stream.of("slack", type="message"), what="the parent's event")
        assert (
            posted[0].data["message"]["ts"] == bot.parents[0] and "metadata" not in posted[0].data["message"]
        )
        assert stream.of("slack", type="ephemeral", user=ALICE)
        bot.gate.set()
        changed = poll(lambda: stream.of("slack", type="message_changed"), what="the in-place update")
        assert changed[0].data["message"]["ts"] == bot.parents[0]
        assert bot.done.wait(10)
        poll(lambda: len(stream.of("slack", type="message_replied")) == 3, what="three replies")
        ids = [int(e.id) for e in stream.events]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        ids = [int(e.id) for e in stream.events if e.event == "slack"]
    finally:
        stream.close()

    replay = EventStream(demo, last_event_id=str(ids[2]))
    try:
        poll(
            lambda: [int(e.id) for e in replay.events if e.event == "slack"][:3] == ids[3:6],
            what="the replay",
        )
    finally:
        replay.close()
    stale = EventStream(demo, last_event_id="999999")  # from before a restart: read everything again
    try:
        poll(lambda: stale.of("reset"), what="a reset")
    finally:
        stale.close()


def test_the_cluster_panel_shows_workloads_and_helm_releases_but_no_secret_data(
    demo: DemoWebServer, sim: Sim, namespace: str
) -> None:
    create_deployment(sim, namespace, "web", replicas=2, image="w:1")
    sim.store.create(
        "/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "sh.helm.release.v1.shop.v1",
                "namespace": namespace,
                "labels": {"owner": "helm", "name": "shop", "version": "1", "status": "deployed"},
            },
            "type": "helm.sh/release.v1",
            "data": {"release": "c2VjcmV0LXBheWxvYWQ="},
        },
    )
    stream = EventStream(demo)
    try:

        def ready() -> dict | None:
            for snap in reversed([e.data for e in stream.of("cluster")]):
                ns = next((n for n in snap["namespaces"] if n["name"] == namespace), None)
                if ns and ns["deployments"] and len(ns["pods"]) == 2 and ns["releases"]:
                    return ns
            return None

        ns = poll(ready, what="the deployment and its pods in the cluster panel", timeout=15)
    finally:
        stream.close()
    assert ns["releases"] == [{"name": "shop", "revision": 1, "status": "deployed", "revisions": 1}]
    assert ns["deployments"][0]["desired"] == 2 and ns["deployments"][0]["images"] == ["w:1"]
    assert all(p["owner"].startswith("ReplicaSet/web-") and p["status"] for p in ns["pods"])
    assert ns["replicasets"][0]["owner"] == "Deployment/web"
    with urllib.request.urlopen(demo.url + "api/cluster", timeout=10) as resp:
        raw = resp.read().decode()
    assert "c2VjcmV0" not in raw and namespace in raw


def test_an_unreachable_cluster_is_reported_not_raised() -> None:
    snap = read_cluster(KubeTarget("http://127.0.0.1:9"), timeout=2)

    assert snap["namespaces"] == [] and snap["error"].startswith("cannot reach the API")


def test_kube_target_reads_a_kubeconfig_and_never_shows_the_token(sim: Sim, tmp_path) -> None:
    target = KubeTarget.from_arg(sim.kubeconfig)

    assert target.server == sim.url and target.token == "helmbot-sim-token"
    assert "helmbot-sim-token" not in repr(target)
    bad = tmp_path / "kubeconfig"
    bad.write_text("current-context: nowhere\ncontexts: []\n")
    with pytest.raises(DemoError, match="no context named 'nowhere'"):
        KubeTarget.from_arg(bad)


def test_the_page_and_its_files_are_served_with_a_strict_policy(demo: DemoWebServer) -> None:
    with urllib.request.urlopen(demo.url, timeout=10) as resp:
        page = resp.read().decode()
        policy = resp.headers["Content-Security-Policy"]
    assert '<script src="/static/app.js" defer></script>' in page
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css")):
        with urllib.request.urlopen(demo.url + "static/" + name, timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith(ctype)
    for path in ("static/../server.py", "static/%2e%2e/server.py", "static/nope.js", "api/nope"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(demo.url + path, timeout=10)
        assert err.value.code == 404


def test_posts_from_another_origin_or_not_json_are_refused(demo: DemoWebServer, slack: SlackStandIn) -> None:
    body = {"user": BOB, "channel": DEPLOYS, "text": "hi"}
    cross = request(
        demo, "/api/send", body, headers={"Content-Type": "application/json", "Origin": "http://evil.example"}
    )
    form = request(
        demo, "/api/send", b"user=U0BOB", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    broken = request(demo, "/api/send", b"{", headers={"Content-Type": "application/json"})
    missing = request(demo, "/api/click", {"user": BOB}, headers={"Content-Type": "application/json"})

    assert cross == (403, {"error": "cross-origin requests are refused"})
    assert form[0] == 415 and broken == (400, {"error": "invalid JSON"})
    assert missing == (400, {"error": "missing channel"})
    assert slack.messages(DEPLOYS) == []
