"""`helmbot sim slack` in its own process, driven over the `/_sim/` control API like the demo will."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sim.slack import SlackStandIn
from tests.sim_slack.conftest import ALICE, DEPLOYS

SECRET_ENV = {"HB_TEST_SIGNING": "cli-signing-secret-value", "HB_TEST_TOKEN": "xoxb-cli-token-value"}


def control(base: str, verb: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}_sim/{path}", data=data, method=verb, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_control_api_sets_up_reads_and_injects(standin: SlackStandIn) -> None:
    base = standin.url
    assert control(base, "POST", "users", {"id": "U0CAROL", "name": "carol"})[0] == 200
    status, channel = control(
        base, "POST", "channels", {"id": "C0OPS", "name": "ops", "members": ["U0CAROL"], "bot_member": True}
    )
    assert status == 200 and channel["is_member"] is True
    assert (
        control(base, "POST", "usergroups", {"id": "S0OPS", "handle": "ops", "users": ["U0CAROL"]})[0] == 200
    )
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    parent = client.chat_postMessage(channel="C0OPS", text="parent")
    client.chat_postMessage(channel="C0OPS", text="reply", thread_ts=parent["ts"])
    _, human = control(base, "POST", "messages", {"user": "U0CAROL", "channel": "C0OPS", "text": "hi"})

    assert [m["text"] for m in control(base, "GET", "messages?channel=C0OPS")[1]] == ["parent", "reply", "hi"]
    assert [m["text"] for m in control(base, "GET", "messages?channel=C0OPS&include_replies=false")[1]] == [
        "parent",
        "hi",
    ]
    assert len(control(base, "GET", f"thread?channel=C0OPS&ts={parent['ts']}")[1]) == 2
    assert control(base, "GET", f"message?channel=C0OPS&ts={human['ts']}")[1]["user"] == "U0CAROL"
    assert control(base, "GET", "message?channel=C0OPS&ts=1.000001")[0] == 404

    assert control(base, "POST", "faults", {"method": "chat.postMessage", "error": "is_archived"})[0] == 200
    assert control(base, "GET", "faults")[1][0]["status"] == 200
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="C0OPS", text="refused")
    assert control(base, "POST", "faults", {"method": "x", "bogus": 1})[0] == 400
    calls = control(base, "GET", "calls?method=chat.postMessage")[1]
    assert [c["error"] for c in calls] == [None, None, "is_archived"]
    assert all("token" not in c["args"] for c in calls)

    upload = client.files_upload_v2(content="abc", filename="a.txt", channel="C0OPS")
    assert control(base, "GET", f"files/{upload['file']['id']}")[1]["content"] == "abc"

    assert (
        control(
            base,
            "POST",
            "click",
            {
                "url": "http://127.0.0.1:9/",
                "user": "U0CAROL",
                "channel": "C0OPS",
                "message_ts": parent["ts"],
                "action_id": "x",
            },
        )[0]
        == 400
    )
    assert control(base, "GET", "nowhere")[0] == 404


def test_events_long_poll(standin: SlackStandIn) -> None:
    seq = control(standin.url, "GET", "events")[1][-1]["seq"]
    client = WebClient(token=standin.bot_token, base_url=standin.api_url)
    timer = threading.Timer(0.2, lambda: client.chat_postMessage(channel=DEPLOYS, text="later"))
    timer.start()
    try:
        _, events = control(standin.url, "GET", f"events?after={seq}&wait=10")
    finally:
        timer.join()
    assert [(e["type"], e["message"]["text"]) for e in events] == [("message", "later")]


def test_helmbot_sim_slack_runs_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    env = {**os.environ, **SECRET_ENV}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "sim",
            "slack",
            "--signing-secret-env",
            "HB_TEST_SIGNING",
            "--bot-token-env",
            "HB_TEST_TOKEN",
            "--state-out",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("Slack stand-in listening on http://127.0.0.1:"), first
        base = first.rsplit(" ", 1)[-1].strip()
        control(base, "POST", "users", {"id": ALICE, "name": "alice"})
        control(
            base,
            "POST",
            "channels",
            {"id": DEPLOYS, "name": "deploys", "members": [ALICE], "bot_member": True},
        )
        client = WebClient(token=SECRET_ENV["HB_TEST_TOKEN"], base_url=base + "api/")
        client.chat_postMessage(channel=DEPLOYS, text="from another process")
        # a slash command to nowhere: the stand-in reports it as Slack would show it
        status, answer = control(
            base,
            "POST",
            "slash_command",
            {
                "url": "http://127.0.0.1:9/slack/events",
                "user": ALICE,
                "channel": DEPLOYS,
                "command": "/deploy",
                "text": "shop",
            },
        )
        assert status == 200 and answer["status"] == 0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    for secret in SECRET_ENV.values():
        assert secret not in first + out + err
    saved = json.loads(state.read_text())
    assert [m["text"] for m in saved["messages"][DEPLOYS]] == ["from another process"]
    assert saved["ephemerals"][0]["text"].startswith("/deploy failed with the error")


def test_helmbot_sim_slack_needs_its_secrets_from_the_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HB_NOPE_TOKEN", "HB_NOPE_SECRET")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "sim",
            "slack",
            "--signing-secret-env",
            "HB_NOPE_SECRET",
            "--bot-token-env",
            "HB_NOPE_TOKEN",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode != 0 and "set $HB_NOPE_SECRET" in done.stderr
