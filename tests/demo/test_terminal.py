"""The terminal channel: typed lines go to the bot (signed) or the channel, the view shows parents, thread
replies, ephemerals, files and numbered buttons, and untrusted text stays text."""

from __future__ import annotations

import io

from rich.console import Console

from bot.demo.terminal import TerminalChannel
from bot.sim.slack import SlackStandIn
from tests.demo.conftest import ALICE, BOB, DEPLOYS
from tests.demo.tinybot import SCRIPT_LINE, TinyBot


def terminal(slack: SlackStandIn, bot: TinyBot, lines: str = "") -> tuple[TerminalChannel, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=140, color_system=None, force_terminal=False)
    return TerminalChannel(slack, bot.url, DEPLOYS, ALICE, console=console, stdin=io.StringIO(lines)), out


def shown(term: TerminalChannel) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(term.view.render())
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_a_deploy_and_its_thread_in_the_terminal(slack: SlackStandIn, bot: TinyBot) -> None:
    bot.gate.set()
    term, _ = terminal(slack, bot)

    assert term.handle("/deploy shop 1.1.0 image=x") == ""
    assert bot.done.wait(10)
    view = shown(term)

    assert "only visible to you" in view and "Deploying shop 1.1.0" in view
    assert "Deploy shop 1.1.0" in view and "(edited)" in view and "rolled out ✅" in view
    assert "3 replies" in view and "shop → `staging` by @alice: rolled out ✅" in view  # mrkdwn read plainly
    assert "docs (https://example.invalid/docs)" in view and "Deploying shop 1.1.0… ⏳" in view
    assert any(line.startswith("  │") and SCRIPT_LINE in line for line in view.splitlines())  # a reply
    assert "📄 migrate.log" in view and 'ERROR: relation "orders" already exists' in view
    assert "[1] Roll back" in view and "[2] Logs" in view
    assert view.index("Deploy shop 1.1.0") < view.index("[1] Roll back") < view.index("replied to a thread")

    denied = term.handle(":click 1", ask=lambda question: question.startswith("Roll back shop?") and False)
    assert denied == "Keep it: nothing sent"
    assert term.handle(":user bob") == "now acting as bob"
    assert term.handle(":click 1", ask=lambda question: True) == ""
    assert any("requested by <@U0BOB>" in m["text"] for m in slack.thread(DEPLOYS, bot.parents[0]))
    assert "only visible to you" not in shown(term)  # alice's ack is not bob's


def test_piped_lines_are_read_to_the_end_and_text_stays_text(slack: SlackStandIn, bot: TinyBot) -> None:
    term, out = terminal(
        slack, bot, "[bold]not markup[/bold] <script>x</script>\n:user nobody\n:click 7\n:quit\nlost\n"
    )

    term.run()

    printed = out.getvalue()
    assert "[bold]not markup[/bold] <script>x</script>" in printed
    assert "no such person 'nobody' (people: alice, bob, carol)" in printed
    assert "no button [7] (there are 0)" in printed
    assert [m["text"] for m in slack.messages(DEPLOYS)] == ["[bold]not markup[/bold] <script>x</script>"]
    assert slack.messages(DEPLOYS)[0]["user"] == ALICE and BOB not in printed
