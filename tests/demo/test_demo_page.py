"""`helmbot demo` as its users see it: the page in a real headless Chromium over the whole demo (the real bot
in HTTP mode, the real helm, the Slack and Kubernetes stand-ins). Typed commands and clicks go through the
page, signed to the bot as Slack sends them; the page follows by server-sent events, never a reload.
Screenshots go to tests/demo/artifacts/demo-*.png."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.demo import DemoWebServer
from bot.demo.stack import DemoStack
from bot.demo.tour import FAIL_LINE, key_of
from tests.demo.browser import open_page, shot
from tests.polling import poll

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.e2e

VERDICT_MS = 90_000  # a deploy's whole run, on a busy 2-core machine


@pytest.fixture(scope="module")
def stack() -> Iterator[DemoStack]:
    with DemoStack() as demo:
        yield demo


@pytest.fixture
def page(browser: Any, stack: DemoStack) -> Iterator[Any]:
    with DemoWebServer(stack.standin(), stack.bot_url, stack.kubeconfig, poll_interval=0.3) as web:
        yield from open_page(browser, web.url)


def parents(stack: DemoStack) -> list[dict[str, Any]]:
    return [
        m
        for m in stack.standin().messages(stack.channel, include_replies=False)
        if key_of(m).startswith("parent:") and m.get("subtype") != "thread_broadcast"
    ]


def type_command(page: Any, text: str) -> None:
    box = page.locator("#composer-input")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")  # sent, and the bot answered (else the text stays for another try)


def new_parent(page: Any, stack: DemoStack, seen: int) -> Any:
    """The page's element for the bot's next deploy message."""
    ts = poll(lambda: [m["ts"] for m in parents(stack)[seen:]], what="the deploy's message", timeout=60)[0]
    return page.locator(f'#messages > .msg[data-ts="{ts}"]')


def open_thread(page: Any, parent: Any) -> Any:
    parent.locator(".replies-link").click()
    thread = page.locator("#thread-pane")
    expect(thread).to_be_visible()
    return thread


def test_deploy_then_a_failing_migration_rolled_back_from_its_button(page: Any, stack: DemoStack) -> None:
    page.evaluate("window.__sameDocument = 42")
    cluster = page.locator('#cluster-body section[aria-label="namespace shop"]')
    expect(cluster.locator("table", has=page.locator("caption", has_text="Pods"))).to_contain_text("Running")

    # a healthy upgrade: a migration Job in the release, the new web pods gated in Init until it is done
    seen = len(parents(stack))
    type_command(page, "/deploy shop 1.1.0 migration.durationSeconds=4")
    expect(page.locator("#messages .msg.ephemeral")).to_contain_text("deploy of shop started")
    parent = new_parent(page, stack, seen)
    expect(parent).to_contain_text("shop")
    expect(cluster).to_contain_text("Init:0/1", timeout=30_000)  # the side panel: pods waiting in Init
    shot(page, "demo-1-deploy-in-progress")
    expect(parent).to_contain_text("Succeeded", timeout=VERDICT_MS)  # the same element, edited in place
    expect(parent.locator(".edited")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") == 42  # no reload
    thread = open_thread(page, parent)
    expect(thread).to_contain_text("shop-migrate-r2")
    expect(thread).to_contain_text("timeline", timeout=30_000)
    shot(page, "demo-2-deploy-succeeded")
    page.keyboard.press("Escape")

    # a failing migration: its log line in the thread, and a Roll back button on the message
    seen = len(parents(stack))
    type_command(page, "/deploy shop 1.2.0 migration.fail=true")
    failed = new_parent(page, stack, seen)
    expect(failed).to_contain_text("Failed", timeout=VERDICT_MS)
    thread = open_thread(page, failed)
    expect(thread).to_contain_text(FAIL_LINE, timeout=30_000)
    page.keyboard.press("Escape")
    shot(page, "demo-3-migration-failed")

    # Roll back: the confirm dialog, then the rollback, followed like a deploy, with the restore hook
    seen = len(parents(stack))
    failed.get_by_role("button", name=re.compile("Roll back")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("revision 2")
    shot(page, "demo-4-confirm-rollback")
    page.locator("#modal-confirm").click()
    expect(dialog).to_be_hidden()
    rolled = new_parent(page, stack, seen)
    expect(rolled).to_contain_text("Succeeded", timeout=VERDICT_MS)
    expect(rolled).to_contain_text("rolled back to revision 2")
    thread = open_thread(page, rolled)
    expect(thread).to_contain_text("shop-restore", timeout=30_000)
    shot(page, "demo-5-rolled-back")

    history = json.loads(stack.helm.run("history", "shop", "--namespace", "shop", "--output", "json"))
    assert [r["chart"] for r in history] == ["shop-1.0.0", "shop-1.1.0", "shop-1.2.0", "shop-1.1.0"]
    assert history[-1]["status"] == "deployed" and history[-1]["description"] == "Rollback to 2"
