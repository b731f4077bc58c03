"""`helmbot demo --tour`: the stories of our users, played in the demo's channel through the real bot.

Every action goes where a person's would: slash commands and clicks through `ChannelActions` (signed by the
Slack stand-in, exactly as from the page), the "CI" upgrade through the real helm. A tour guide (a person in
the workspace) narrates in the channel, so the page and the terminal show the tour alike. Waits poll what the
channel shows, with deadlines; a story that does not end as told is said so in the channel, and the tour goes
on with the next (or, `strict`, raises TourError: the tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.demo.channel import ChannelActions
from bot.demo.errors import DemoError
from bot.demo.helm_tool import HelmTool
from bot.demo.workspace import ALICE, BOB, DEPLOYS, GUIDE
from bot.sim.slack import SlackStandIn, message_text

WAIT = 90.0  # seconds a step may take before the story is called off
FAIL_LINE = 'relation "orders" already exists'


class TourError(DemoError):
    """A story did not end the way the tour tells it."""


class TourStopped(Exception):
    """The demo is stopping: the tour ends where it is."""


text_of = message_text   # everything a person reads in a message


def key_of(message: dict[str, Any]) -> str:
    """The bot's key for a message it posted (`parent:<deploy id>`, `approval:<id>`), from its metadata."""
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("key") or "")


def button_ids(message: dict[str, Any]) -> set[str]:
    return {
        str(element.get("action_id"))
        for block in message.get("blocks") or []
        for element in block.get("elements") or []
        if element.get("type") == "button"
    }


class Tour:
    def __init__(
        self,
        slack: SlackStandIn,
        bot_url: str,
        helm: HelmTool,
        *,
        channel: str = DEPLOYS,
        pace: float = 2.5,
        strict: bool = False,
        stop: threading.Event | None = None,
    ) -> None:
        self.slack, self.helm, self.channel = slack, helm, channel
        self.actions = ChannelActions(slack, bot_url)
        self.pace, self.strict = pace, strict
        self.stop = stop or threading.Event()

    # -- the building blocks of a story ---------------------------------------------------------------

    def say(self, text: str, *, pause: float = 1.0) -> None:
        """The guide narrates (a message in the channel), then gives people time to read."""
        self.slack.post(GUIDE.id, self.channel, text)
        self.pause(pause)

    def pause(self, factor: float = 1.0) -> None:
        if self.stop.wait(self.pace * factor):
            raise TourStopped

    def command(self, user: str, text: str) -> None:
        outcome = self.actions.send(user, self.channel, text)
        if not outcome.ok:
            raise TourError(f"{text.split()[0]} was not answered: {outcome.note}")

    def click(self, user: str, message: dict[str, Any], action_id: str) -> None:
        outcome = self.actions.click(user, self.channel, message["ts"], action_id)
        if not outcome.ok:
            raise TourError(f"the click on {action_id} was not answered: {outcome.note}")

    def wait(self, found: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = found()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TourError(f"waited {timeout:.0f}s for {what}")
            if self.stop.wait(0.2):
                raise TourStopped

    def bot_messages(self, prefix: str) -> list[dict[str, Any]]:
        """The bot's top-level messages whose key starts with `prefix`, oldest first."""
        return [
            m
            for m in self.slack.messages(self.channel, include_replies=False)
            if key_of(m).startswith(prefix) and m.get("subtype") != "thread_broadcast"
        ]

    def new_message(self, prefix: str, seen: int, what: str) -> dict[str, Any]:
        messages: list[dict[str, Any]] = self.wait(lambda: self.bot_messages(prefix)[seen:], what)
        return messages[0]

    def until_says(self, message: dict[str, Any], words: str, what: str) -> dict[str, Any]:
        """The message as it is once it says `words` (the bot edits it in place)."""

        def now() -> dict[str, Any] | None:
            current = self.slack.message(self.channel, message["ts"])
            return current if current and words in text_of(current) else None

        found: dict[str, Any] = self.wait(now, what)
        return found

    def thread_says(self, message: dict[str, Any], words: str, what: str) -> None:
        def found() -> bool:
            return any(words in text_of(m) for m in self.slack.thread(self.channel, message["ts"]))

        self.wait(found, what)

    def deploy(self, user: str, text: str, words: str, what: str) -> tuple[dict[str, Any], float]:
        """A command that starts a deploy; its parent message once it says `words`, and how long that took."""
        seen = len(self.bot_messages("parent:"))
        started = time.monotonic()
        self.command(user, text)
        parent = self.new_message("parent:", seen, f"the message of {what}")
        parent = self.until_says(parent, words, f"{what} to say {words}")
        return parent, time.monotonic() - started

    # -- playing --------------------------------------------------------------------------------------

    def run(self, stories: Sequence[Story] | None = None) -> list[str]:
        """Every story in order; the titles of those that did not end as told."""
        chosen = list(stories if stories is not None else STORIES)
        missed: list[str] = []
        self.say(
            f"*Welcome to the helmbot tour.* {len(chosen)} short stories, each played through the real bot: "
            "commands typed and buttons clicked by the people of this workspace, the cluster on the right. "
            "Everything here is a stand-in (Slack, Kubernetes) except helm and helmbot themselves.",
            pause=1.5,
        )
        for number, story in enumerate(chosen, 1):
            try:
                self.say(f"*{number}/{len(chosen)} · {story.title}*\n{story.intro}", pause=1.5)
                story.play(self)
            except TourStopped:
                return missed
            except DemoError as exc:  # a wait that ran out, helm refusing the CI upgrade, ...
                if self.strict:
                    raise
                missed.append(story.title)
                self.say(f":warning: this story did not end as told ({exc}); on to the next.", pause=0.5)
        self.say(
            "*That was the tour.* The channel is yours now: type `/deploy shop 1.2.0 web.replicas=5`, "
            "`/deploy shop migration.fail=true`, `/rollback shop`, `/helmbot status shop` or "
            '`/helmbot history shop`, and switch "Acting as" to see what bob or carol may do.',
            pause=0,
        )
        return missed


@dataclass(frozen=True)
class Story:
    title: str
    intro: str
    play: Callable[[Tour], None]


def healthy_upgrade(tour: Tour) -> None:
    parent, took = tour.deploy(
        ALICE.id, "/deploy shop 1.1.0 migration.durationSeconds=4", "Succeeded", "the upgrade to 1.1.0"
    )
    tour.thread_says(parent, "timeline", "the rollout timeline in the thread")
    tour.say(
        f"Succeeded in {took:.0f}s, and only once the new pods were ready. The thread has each step: the "
        "backup and migration Jobs, the rollout, and a timeline."
    )


def failing_migration(tour: Tour) -> None:
    parent, _ = tour.deploy(
        ALICE.id, "/deploy shop 1.2.0 migration.fail=true", "Failed", "the upgrade to 1.2.0"
    )
    tour.thread_says(parent, FAIL_LINE, "the migration's log line in the thread")
    tour.say(
        "Failed, with the migration's own log line, before any new pod served traffic. The message offers "
        "*Roll back* (and *Show logs*)."
    )


def rollback(tour: Tour) -> None:
    failed = tour.bot_messages("parent:")[-1]
    if "helmbot_rollback" not in button_ids(failed):
        raise TourError("the last deploy has no Roll back button")
    seen = len(tour.bot_messages("parent:"))
    tour.say("bob clicks *Roll back* and confirms the dialog.", pause=1)
    tour.click(BOB.id, failed, "helmbot_rollback")
    parent = tour.new_message("parent:", seen, "the rollback's message")
    parent = tour.until_says(parent, "Succeeded", "the rollback to succeed")
    tour.thread_says(parent, "shop-restore", "the restore hook in the thread")
    tour.say("Rolled back. The chart's pre-rollback hook (`shop-restore`) ran and is in the thread.")


def crash_loop(tour: Tour) -> None:
    _, took = tour.deploy(ALICE.id, "/deploy shop 1.3.0 web.crash=true", "Failed", "the upgrade to 1.3.0")
    tour.say(
        f"Caught in {took:.0f}s: the new pods crash-loop, named with their exit code and last log lines. "
        "`helm upgrade --wait` can call this a success (a pod that flaps through Ready counts) or sit out "
        "its whole 5 minute timeout; a phase-polling script sees `Running` and says nothing."
    )


def outside_upgrade(tour: Tour) -> None:
    seen = len(tour.bot_messages("parent:"))
    tour.helm.run(
        "upgrade", "shop", "demo/shop", "--version", "1.3.0", "--namespace", "shop",
        "--reset-values", "--description", "Upgrade by CI pipeline #4711",
    )  # fmt: skip
    parent = tour.new_message("parent:", seen, "the notice of the CI upgrade")
    tour.until_says(parent, "Succeeded", "the CI upgrade to succeed")
    tour.say(
        "CI ran helm itself, without the bot. helmbot noticed the new revision, announced it and followed it "
        "to its verdict, like its own deploys."
    )


def hazard_plan(tour: Tour) -> None:
    def plan() -> bool:
        return any("Hazards" in text_of(e) for e in tour.slack.ephemerals(tour.channel, ALICE.id))

    tour.command(ALICE.id, "/deploy hazard --dry-run")
    tour.wait(plan, "the plan with its hazards")
    tour.say(
        "The plan (only alice sees it: act as alice) compares what would change and flags the trap: chart "
        "2.0.0 turns a ConfigMap into a hook, so Helm would delete it and the new pods could not mount it. "
        "Nothing ran."
    )


def protected_release(tour: Tour) -> None:
    seen_cards = len(tour.bot_messages("approval:"))
    seen = len(tour.bot_messages("parent:"))
    tour.command(ALICE.id, "/deploy ledger 1.1.0")
    card = tour.new_message("approval:", seen_cards, "the approval request")
    tour.say("alice may not approve her own deploy; bob, the approver, reads the card and clicks *Approve*.")
    tour.click(BOB.id, card, "helmbot_approve")
    parent = tour.new_message("parent:", seen, "the approved deploy")
    tour.until_says(parent, "Succeeded", "the approved deploy to succeed")
    tour.say("Deployed after bob's approval; the card says who approved.")


STORIES: tuple[Story, ...] = (
    Story(
        "A healthy upgrade",
        "alice deploys shop 1.1.0. Its migration is a Job in the release; the new web pods wait in `Init` "
        "until it is done (Helm calls the release deployed long before). Watch the message update in place, "
        "the thread fill and the pods on the right.",
        healthy_upgrade,
    ),
    Story(
        "A failing migration",
        "alice deploys 1.2.0, whose migration fails.",
        failing_migration,
    ),
    Story(
        "Roll back from the button",
        "The rollback runs the chart's restore hook and is followed like any deploy.",
        rollback,
    ),
    Story(
        "A crash loop, caught in seconds",
        "alice deploys 1.3.0 with a web container that crashes shortly after it starts.",
        crash_loop,
    ),
    Story(
        "An upgrade made by CI",
        "A pipeline runs `helm upgrade shop` itself (1.3.0 with its default values), outside the bot.",
        outside_upgrade,
    ),
    Story(
        "A hazard flagged before deploy",
        "alice asks for the plan of `hazard` 1.0.0 → 2.0.0 with `--dry-run`.",
        hazard_plan,
    ),
    Story(
        "A protected release waits for approval",
        "`ledger` is protected: every deploy needs a second person.",
        protected_release,
    ),
)
