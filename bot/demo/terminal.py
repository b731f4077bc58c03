"""The demo's channel in a terminal (`--no-browser`): a live view of the channel's parent messages with their
thread replies, drawn with rich, and a prompt to type into.

At the prompt: `/deploy shop 1.1.0 web.image=…` (any slash command, sent signed to the bot), `:click N` (the
button numbered N; its confirm dialog is asked here), `:user NAME` (act as someone else), `:quit`; anything
else is posted as the current person. On a terminal the view redraws as the channel changes and any key opens
the prompt; piped input is read line by line, the view printed after each line.

Message text is untrusted: it becomes rich `Text` (never markup), so `[bold]` or `<script>` show as typed.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from bot.demo.channel import ChannelActions
from bot.sim.slack import SlackStandIn

SNIPPET_LINES = 6
EMOJI = {
    "white_check_mark": "✅", "x": "❌", "warning": "⚠️", "rocket": "🚀", "hourglass_flowing_sand": "⏳",
    "hourglass": "⌛", "rotating_light": "🚨", "leftwards_arrow_with_hook": "↩️", "lock": "🔒",
    "no_entry": "⛔", "stopwatch": "⏱️", "arrows_counterclockwise": "🔄", "tada": "🎉", "eyes": "👀",
}  # fmt: skip
_ENTITY = re.compile(r"<([^<>\n]+)>")
_MARKS = re.compile(r"(?<![\w*_~])([*_~])(?=\S)([^*_~\n]+?)(?<=\S)\1(?![\w*_~])")


def plain_mrkdwn(text: str, names: dict[str, str]) -> str:
    """Slack mrkdwn read as plain text: mentions and links by name, emphasis marks and fences dropped."""

    def entity(m: re.Match[str]) -> str:
        target, _, label = m.group(1).partition("|")
        if target[:2] in ("@U", "@W"):
            return "@" + (label or names.get(target[1:], target[1:]))
        if target[:2] in ("#C", "#G"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        if target.startswith(("http://", "https://", "mailto:")):
            return f"{label} ({target})" if label and label != target else target
        return m.group(0)

    text = _ENTITY.sub(entity, text.replace("```", ""))
    text = _MARKS.sub(lambda m: m.group(2), text)
    text = re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass(frozen=True)
class Button:
    """A clickable element shown as `[N]` in the view."""

    ts: str
    action_id: str
    value: str | None
    label: str
    confirm: dict[str, Any] | None


def _plain(obj: dict[str, Any] | None) -> str:
    return str((obj or {}).get("text") or "")


def message_lines(msg: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """What a message says, line by line (blocks first, else its text), and its buttons/menus in order."""
    lines: list[str] = []
    elements: list[dict[str, Any]] = []
    for block in msg.get("blocks") or []:
        kind = block.get("type")
        if kind in ("header", "section", "markdown"):
            lines.extend((_plain(block.get("text")) or str(block.get("text") or "")).splitlines())
            for f in block.get("fields") or []:
                lines.append("  " + _plain(f).replace("\n", ": ", 1))
            if block.get("accessory", {}).get("action_id"):
                elements.append(block["accessory"])
        elif kind == "context":
            lines.append(
                " · ".join(_plain(e) or str(e.get("alt_text", "")) for e in block.get("elements") or [])
            )
        elif kind == "divider":
            lines.append("─" * 24)
        elif kind == "actions":
            elements.extend(e for e in block.get("elements") or [] if e.get("action_id"))
        elif kind is not None:
            lines.append(f"[{kind} block]")
    if not msg.get("blocks"):
        lines.extend(str(msg.get("text") or "").splitlines())
    return lines, elements


class ChannelView:
    """Renders one channel for one person; numbers its buttons so the prompt can click them."""

    def __init__(self, actions: ChannelActions, channel: str, user: str) -> None:
        self.actions, self.channel, self.user = actions, channel, user
        self.buttons: list[Button] = []
        self._files: dict[str, list[str]] = {}

    def names(self) -> dict[str, str]:
        names = {u["id"]: u["name"] for u in self.actions.slack.snapshot()["users"]}
        names["USLACKBOT"] = "Slackbot"
        return names

    def render(self) -> RenderableType:
        names = self.names()
        view = self.actions.channel_view(self.channel, self.user)
        self.buttons = []
        entries = [(m["ts"], m) for m in view["messages"]]
        entries += [(e["ts"], e) for e in view["ephemerals"] if not e.get("thread_ts")]
        parts: list[RenderableType] = [
            Text(f"#{self._channel_name()} as {names.get(self.user, self.user)}", "bold")
        ]
        for _, msg in sorted(entries, key=lambda item: float(item[0])):
            parts.append(self._message(msg, names, indent=""))
            if msg.get("reply_count") and msg.get("subtype") != "thread_broadcast":
                for reply in self.actions.thread_view(self.channel, msg["ts"])[1:]:
                    parts.append(self._message(reply, names, indent="  │ "))
                for eph in view["ephemerals"]:
                    if eph.get("thread_ts") == msg["ts"]:
                        parts.append(self._message(eph, names, indent="  │ "))
        if len(parts) == 1:
            parts.append(Text("No messages yet. Type /deploy shop 1.1.0 web.image=…", "dim"))
        return Group(*parts)

    def _channel_name(self) -> str:
        snap = self.actions.slack.snapshot()
        found = next((c for c in snap["channels"] if c["id"] == self.channel), None)
        return str(found.get("name") or self.channel) if found else self.channel

    def _message(self, msg: dict[str, Any], names: dict[str, str], *, indent: str) -> Text:
        ephemeral = msg.get("subtype") == "ephemeral"
        author = (msg.get("bot_profile") or {}).get("name") or names.get(
            msg.get("user", ""), msg.get("user", "")
        )
        when = datetime.fromtimestamp(float(msg["ts"])).strftime("%H:%M:%S")
        out = Text(indent)
        out.append(str(author), "bold cyan" if msg.get("bot_id") or ephemeral else "bold")
        out.append(f"  {when}", "dim")
        if msg.get("edited"):
            out.append("  (edited)", "dim")
        if ephemeral:
            out.append("  only visible to you", "italic dim")
        if msg.get("subtype") == "thread_broadcast":
            out.append("  (also sent to the channel)" if indent else "  replied to a thread", "dim")
        lines, elements = message_lines(msg)
        for line in lines:
            out.append("\n" + indent + "  ")
            out.append(plain_mrkdwn(line, names))
        for f in msg.get("files") or []:
            out.append(f"\n{indent}  📄 {f.get('name', '')}", "bold")
            for line in self._file_lines(str(f.get("id", ""))):
                out.append(f"\n{indent}    ")
                out.append(line, "dim")
        if elements:
            out.append("\n" + indent + "  ")
            for el in elements:
                self.buttons.append(
                    Button(
                        msg["ts"],
                        el["action_id"],
                        el.get("value"),
                        _plain(el.get("text")) or el["action_id"],
                        el.get("confirm"),
                    )
                )
                style = {"primary": "bold green", "danger": "bold red"}.get(str(el.get("style")), "bold")
                out.append(f"[{len(self.buttons)}] ", "dim")
                out.append(self.buttons[-1].label, style)
                out.append("  ")
        if msg.get("reply_count") and not indent and msg.get("subtype") != "thread_broadcast":
            count = msg["reply_count"]
            out.append(f"\n  {count} {'reply' if count == 1 else 'replies'}", "blue")
        return out

    def _file_lines(self, file_id: str) -> list[str]:
        if file_id not in self._files:
            found = self.actions.file_view(file_id)
            text = "" if found is None or found["binary"] else found["text"]
            lines = text.splitlines()
            self._files[file_id] = lines[:SNIPPET_LINES] + (
                [f"… {len(lines) - SNIPPET_LINES} more lines"] if len(lines) > SNIPPET_LINES else []
            )
        return self._files[file_id]


class TerminalChannel:
    """The prompt loop around a ChannelView."""

    def __init__(
        self,
        slack: SlackStandIn,
        bot_url: str,
        channel: str,
        user: str,
        *,
        console: Console | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.actions = ChannelActions(slack, bot_url)
        self.view = ChannelView(self.actions, channel, user)
        self.console = console or Console()
        self.stdin = stdin or sys.stdin
        self._changed = threading.Event()

    def handle(self, line: str, *, ask: Any = None) -> str | None:
        """One line typed at the prompt; what to tell the person (None: quit). `ask(question) -> bool`
        answers a button's confirm dialog (default: the prompt asks)."""
        text = line.strip()
        if text in (":quit", ":q", ":exit"):
            return None
        if text.startswith(":user"):
            return self._switch_user(text.removeprefix(":user").strip())
        if text.startswith(":click"):
            return self._click(text.removeprefix(":click").strip(), ask or self._ask)
        if not text:
            return ""
        outcome = self.actions.send(self.view.user, self.view.channel, line.rstrip("\r\n"))
        return "" if outcome.ok else f"not sent: {outcome.note}" if not outcome.sent else outcome.note

    def _switch_user(self, name: str) -> str:
        users = self.actions.slack.snapshot()["users"]
        found = next((u for u in users if name in (u["id"], u["name"]) and not u["is_bot"]), None)
        if found is None:
            people = ", ".join(u["name"] for u in users if not u["is_bot"])
            return f"no such person {name!r} (people: {people})"
        self.view.user = found["id"]
        return f"now acting as {found['name']}"

    def _click(self, arg: str, ask: Any) -> str:
        self.view.render()  # number the buttons as the person last saw them
        if not arg.isdigit() or not 1 <= int(arg) <= len(self.view.buttons):
            return f"no button [{arg}] (there are {len(self.view.buttons)})"
        button = self.view.buttons[int(arg) - 1]
        if button.confirm:
            question = f"{_plain(button.confirm.get('title'))}: {_plain(button.confirm.get('text'))}"
            if not ask(question):
                return f"{_plain(button.confirm.get('deny')) or 'Cancel'}: nothing sent"
        outcome = self.actions.click(
            self.view.user, self.view.channel, button.ts, button.action_id, button.value
        )
        return "" if outcome.ok else outcome.note

    def _ask(self, question: str) -> bool:
        answer = self.console.input(Text(f"{question} [y/N] ")).strip().lower()
        return answer in ("y", "yes")

    # --- loops ---

    def run(self) -> None:
        unsubscribe = self.actions.slack.subscribe(lambda _event: self._changed.set())
        try:
            if self.stdin.isatty() and self.console.is_terminal:
                self._run_live()
            else:
                self._run_lines()
        finally:
            unsubscribe()

    def _run_lines(self) -> None:
        self.console.print(self.view.render())
        for line in self.stdin:
            said = self.handle(line, ask=lambda q: self.stdin.readline().strip().lower() in ("y", "yes"))
            if said is None:
                return
            if said:
                self.console.print(Text(said, "yellow"))
            self.console.print(self.view.render())

    def _run_live(self) -> None:
        self.console.print(Text("Any key opens the prompt (:help for commands); Ctrl-C quits.", "dim"))
        while True:
            with (
                Live(self.view.render(), console=self.console, auto_refresh=False) as live,
                _keys_unechoed(self.stdin),
            ):
                while not _key_waiting(self.stdin, 0.2):
                    if self._changed.is_set():
                        self._changed.clear()
                        live.update(self.view.render(), refresh=True)
                first = b""
                with contextlib.suppress(OSError):
                    first = os.read(self.stdin.fileno(), 64)  # the key that opened the prompt
            try:
                with _typed_ahead(first.decode("utf-8", "ignore")):
                    line = self.console.input(Text("> ", "bold"))
            except (EOFError, KeyboardInterrupt):
                return
            if line.strip() == ":help":
                self.console.print(Text(__doc__ or "", "dim"))
                continue
            said = self.handle(line)
            if said is None:
                return
            if said:
                self.console.print(Text(said, "yellow"))


@contextlib.contextmanager
def _typed_ahead(keys: str) -> Iterator[None]:
    """The key that opened the prompt starts the line (with readline; without it, it is dropped)."""
    printable = "".join(k for k in keys if k.isprintable())
    try:
        import readline
    except ImportError:
        yield
        return
    readline.set_startup_hook(lambda: readline.insert_text(printable))
    try:
        yield
    finally:
        readline.set_startup_hook(None)


def _key_waiting(stdin: TextIO, timeout: float) -> bool:
    ready, _, _ = select.select([stdin], [], [], timeout)
    return bool(ready)


@contextlib.contextmanager
def _keys_unechoed(stdin: TextIO) -> Iterator[None]:
    """Keys arrive one at a time and are not echoed over the live view (POSIX terminals)."""
    try:
        import termios
        import tty
    except ImportError:  # not POSIX
        yield
        return
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
