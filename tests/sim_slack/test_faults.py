"""Injected faults and rate limits as the SDK sees them: 429 + Retry-After, 5xx, API errors, resets."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.sim.slack import SlackStandIn
from tests.sim_slack.conftest import ALICE, BOT_TOKEN, DEPLOYS

QUICK = FixedValueRetryIntervalCalculator(0.05)


def sdk(standin: SlackStandIn, *handlers) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=standin.api_url, timeout=10, retry_handlers=list(handlers))


def test_429_carries_retry_after_and_the_sdk_retry_handler_honours_it(standin: SlackStandIn) -> None:
    standin.fault("chat.postMessage", 429, retry_after=1)
    with pytest.raises(SlackApiError) as caught:
        sdk(standin).chat_postMessage(channel=DEPLOYS, text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert caught.value.response.headers["Retry-After"] == "1"

    standin.fault("chat.postMessage", 429, retry_after=1)
    started = time.monotonic()
    posted = sdk(standin, RateLimitErrorRetryHandler(max_retry_count=2)).chat_postMessage(
        channel=DEPLOYS, text="y"
    )
    assert posted["ok"] and time.monotonic() - started >= 1.0  # slept Retry-After before the retry
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 429, 200]
    assert [m["text"] for m in standin.messages(DEPLOYS)] == ["y"]


def test_server_errors_api_errors_and_times(standin: SlackStandIn) -> None:
    standin.fault("chat.update", 503, times=2)
    standin.fault("conversations.info", error="fatal_error")
    client = sdk(standin, ServerErrorRetryHandler(max_retry_count=2, interval_calculator=QUICK))
    posted = client.chat_postMessage(channel=DEPLOYS, text="x")
    assert client.chat_update(channel=DEPLOYS, ts=posted["ts"], text="y")["ok"]
    assert [c.status for c in standin.calls_to("chat.update")] == [503, 503, 200]
    with pytest.raises(SlackApiError) as caught:
        client.conversations_info(channel=DEPLOYS)
    assert (caught.value.response.status_code, caught.value.response["error"]) == (200, "fatal_error")
    assert client.conversations_info(channel=DEPLOYS)["ok"]  # the fault fired once
    assert standin.faults.list() == []


def test_a_connection_reset(standin: SlackStandIn) -> None:
    standin.fault("chat.postMessage", "reset")
    with pytest.raises(OSError):  # ConnectionResetError, or URLError around it
        sdk(standin).chat_postMessage(channel=DEPLOYS, text="lost")
    standin.fault("chat.postMessage", "reset")
    assert sdk(standin, ConnectionErrorRetryHandler(interval_calculator=QUICK)).chat_postMessage(
        channel=DEPLOYS, text="kept"
    )["ok"]
    assert [c.status for c in standin.calls_to("chat.postMessage")] == ["reset", "reset", 200]
    assert [m["text"] for m in standin.messages(DEPLOYS)] == ["kept"]


def test_a_storm_rate_limits_every_nth_call_until_cleared(standin: SlackStandIn) -> None:
    standin.storm(3, retry_after=0)
    client = sdk(standin)
    answers = []
    for i in range(7):
        try:
            client.chat_postEphemeral(channel=DEPLOYS, user=ALICE, text=str(i))
            answers.append(200)
        except SlackApiError as exc:
            answers.append(exc.response.status_code)
    assert answers == [200, 200, 429, 200, 200, 429, 200]
    standin.clear_faults()
    assert client.auth_test()["ok"]


def test_realistic_rate_limits_on_a_clock() -> None:
    now = [1_800_000_000.0]
    with SlackStandIn(bot_token=BOT_TOKEN, rate_limits=True, clock=lambda: now[0]) as standin:
        standin.add_channel(DEPLOYS, "deploys", bot_member=True)
        standin.add_channel("C0OTHER", "other", bot_member=True)
        client = sdk(standin)
        for _ in range(3):  # a small burst is allowed
            client.chat_postMessage(channel=DEPLOYS, text="burst")
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="#deploys", text="too fast")  # the same channel by name
        assert (
            caught.value.response.status_code == 429 and caught.value.response.headers["Retry-After"] == "1"
        )
        assert client.chat_postMessage(channel="C0OTHER", text="another channel")["ok"]
        now[0] += 1.0
        ts = client.chat_postMessage(channel=DEPLOYS, text="one per second")["ts"]

        for i in range(50):  # chat.update: Tier 3, 50 a minute per channel
            now[0] += 0.1
            client.chat_update(channel=DEPLOYS, ts=ts, text=str(i))
        with pytest.raises(SlackApiError) as caught:
            client.chat_update(channel=DEPLOYS, ts=ts, text="51st")
        assert caught.value.response.status_code == 429
        assert int(caught.value.response.headers["Retry-After"]) == 56  # until the oldest leaves the minute
        now[0] += 56
        assert client.chat_update(channel=DEPLOYS, ts=ts, text="later")["ok"]


def test_rate_limits_are_off_by_default(standin: SlackStandIn) -> None:
    client = sdk(standin)
    assert all(client.chat_postMessage(channel=DEPLOYS, text=str(i))["ok"] for i in range(10))


def test_fault_rules_are_checked() -> None:
    standin = SlackStandIn()
    with pytest.raises(ValueError):
        standin.fault("chat.postMessage", 99)
    with pytest.raises(ValueError):
        standin.fault("chat.postMessage", 200)
    with pytest.raises(ValueError):
        standin.fault("chat.postMessage", 429, times=0)
