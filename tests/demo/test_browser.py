"""The demo page in a real headless Chromium (Debian's, driven by Playwright): a slash command typed into the
box, its ephemeral ack, the parent appearing and then updating in place, the thread, a confirm dialog, the
user switcher, and untrusted text shown as text. Screenshots go to tests/demo/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.demo import DemoWebServer
from bot.sim.slack import SlackStandIn
from tests.conftest import Sim
from tests.demo.browser import open_page, shot
from tests.demo.conftest import ALICE, BOB, DEPLOYS, GENERAL, create_deployment
from tests.demo.tinybot import SCRIPT_LINE, TinyBot
from tests.polling import poll

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def page(browser, demo: DemoWebServer) -> Iterator[object]:
    yield from open_page(browser, demo.url)


def test_a_deploy_seen_from_the_page(page, slack: SlackStandIn, bot: TinyBot) -> None:
    page.evaluate("window.__sameDocument = 42")
    box = page.locator("#composer-input")
    expect(box).to_be_focused()
    box.fill("/deploy shop 1.1.0 image=x")
    expect(page.locator("#composer-hint")).to_contain_text("/deploy RELEASE")
    box.press("Enter")

    ack = page.locator("#messages .msg.ephemeral")
    expect(ack).to_contain_text("Deploying shop 1.1.0")
    expect(ack).to_contain_text("Only visible to you")
    parent_ts = poll(lambda: bot.parents, what="the bot's parent message")[0]
    parent = page.locator(f'#messages .msg[data-ts="{parent_ts}"]')
    expect(parent.locator(".b-header")).to_have_text("Deploy shop 1.1.0")
    expect(parent).to_contain_text("starting")
    expect(parent.locator("strong", has_text="shop")).to_be_visible()
    expect(parent.locator("code", has_text="staging")).to_be_visible()
    expect(parent.locator(".mention")).to_have_text("@alice")
    expect(parent.locator(".b-field")).to_have_count(2)
    expect(parent.locator("a", has_text="docs")).to_have_attribute("href", "https://example.invalid/docs")
    shot(page, "deploy-1-started")

    bot.gate.set()
    expect(parent).to_contain_text("rolled out ✅")  # the same element, updated in place
    expect(parent.locator(".edited")).to_have_text(" (edited)")
    expect(parent.locator(".replies-link")).to_have_text("3 replies")
    broadcast = page.locator("#messages .msg", has_text="shop is live")
    expect(broadcast).to_contain_text("replied to a thread")
    expect(broadcast).to_contain_text("✅ shop is live")  # :white_check_mark: shortcode
    assert page.evaluate("window.__sameDocument") == 42  # no reload happened
    shot(page, "deploy-2-rolled-out")

    parent.locator(".replies-link").click()
    thread = page.locator("#thread-pane")
    expect(thread).to_be_visible()
    expect(thread.locator(".thread-divider")).to_have_text("3 replies")
    expect(thread.locator("pre.code-block").first).to_have_text(SCRIPT_LINE)  # untrusted text shown as text
    expect(thread.locator(".file-name")).to_have_text("migrate.log")
    expect(thread.locator(".file pre")).to_contain_text(SCRIPT_LINE)
    expect(thread.locator(".msg", has_text="shop is live")).to_contain_text("Also sent to the channel")
    assert page.evaluate("window.__xss") is None
    assert page.locator("script").count() == 1  # only app.js

    page.select_option("#user-select", BOB)  # act as the approver
    expect(ack).to_have_count(0)  # alice's ephemeral is not bob's
    rollback = thread.get_by_role("button", name="Roll back")
    clicks_before = len([d for d in slack.deliveries if d.kind == "block_actions"])
    rollback.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#modal-title")).to_have_text("Roll back shop?")
    expect(dialog.locator("#modal-text")).to_have_text("This rolls shop back to revision 1.")
    expect(page.locator("#modal-confirm")).to_be_focused()
    shot(page, "deploy-3-confirm")
    page.keyboard.press("Escape")  # denied: nothing is sent
    expect(dialog).to_be_hidden()
    assert len([d for d in slack.deliveries if d.kind == "block_actions"]) == clicks_before

    rollback.click()
    page.locator("#modal-confirm").click()
    expect(thread).to_contain_text("Rollback of shop requested by @bob")
    expect(parent.locator(".replies-link")).to_have_text("4 replies")
    delivered = [d for d in slack.deliveries if d.kind == "block_actions"]
    assert delivered[-1].payload["user"]["id"] == BOB and delivered[-1].status == 200
    shot(page, "deploy-4-rolled-back")

    page.keyboard.press("Escape")
    expect(thread).to_be_hidden()


def test_untrusted_and_formatted_text(page, slack: SlackStandIn) -> None:
    page.locator("#composer-input").fill("<script>window.__xss = 2</script> <img src=x onerror=alert(1)>")
    page.locator("#composer-input").press("Enter")
    web = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
    web.chat_postMessage(
        channel=DEPLOYS,
        text=(
            "*bold* _italic_ ~gone~ `code` <@U0ALICE> <#C0GENERAL> <https://example.invalid/x|a link> "
            "<javascript:alert(1)|bad> :white_check_mark: ✅ &lt;b&gt;not bold&lt;/b&gt;"
            "\n```line 1\nline 2```"
        ),
    )

    mine = page.locator("#messages .msg", has_text="window.__xss = 2")
    expect(mine).to_contain_text("<script>window.__xss = 2</script> <img src=x onerror=alert(1)>")
    expect(mine.locator("img")).to_have_count(0)
    formatted = page.locator("#messages .msg", has_text="italic")
    expect(formatted.locator("strong")).to_have_text("bold")
    expect(formatted.locator("em")).to_have_text("italic")
    expect(formatted.locator("s")).to_have_text("gone")
    expect(formatted.locator("code")).to_have_text("code")
    expect(formatted.locator(".mention")).to_have_text("@alice")
    expect(formatted.locator(".channel-ref")).to_have_text("#general")
    expect(formatted.locator("a")).to_have_count(1)  # javascript: is not a link
    expect(formatted.locator("a")).to_have_attribute("href", "https://example.invalid/x")
    expect(formatted).to_contain_text("<javascript:alert(1)|bad>")
    expect(formatted).to_contain_text("✅ ✅ <b>not bold</b>")
    expect(formatted.locator("pre.code-block")).to_have_text("line 1\nline 2")
    assert page.evaluate("window.__xss") is None
    shot(page, "formatting")

    formatted.locator(".channel-ref").click()  # a channel link opens the channel
    expect(page.locator("#channel-title")).to_have_text("#general")
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#channel-title")).to_have_text("#deploys")
    assert slack.messages(GENERAL) == [] and slack.messages(DEPLOYS)[0]["user"] == ALICE


def test_the_cluster_panel_follows_the_cluster(page, sim: Sim, namespace: str) -> None:
    create_deployment(sim, namespace, "api", replicas=1, image="a")
    panel = page.locator(f'#cluster-body section[aria-label="namespace {namespace}"]')
    deployments = panel.locator("table", has=page.locator("caption", has_text="Deployments"))
    pods = panel.locator("table", has=page.locator("caption", has_text="Pods"))
    expect(deployments.locator("tbody tr")).to_have_count(1)
    expect(pods.locator("tbody tr")).to_have_count(1)

    def scale(obj: dict) -> None:
        obj["spec"]["replicas"] = 3

    sim.store.mutate("apps/deployments", namespace, "api", scale)
    expect(pods.locator("tbody tr")).to_have_count(3)  # live: no reload, no click
    expect(deployments.locator("tbody tr td").first).to_have_text("3/3", timeout=20_000)
    shot(page, "cluster")
