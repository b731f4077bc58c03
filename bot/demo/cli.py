"""`helmbot demo`: the whole bot on this machine, no Slack and no cluster, shown in a browser or a terminal.

Starts the stand-ins and the bot (bot/demo/stack.py), serves the Slack-like page (bot/demo/server.py) or
draws the channel in the terminal (`--no-browser`), and optionally plays the tour (`--tour`). Ctrl-C or
SIGTERM stops everything; the temporary directory goes with it (it is kept, and named, if the demo failed).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import socket
import sys
import tempfile
import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from bot.demo.errors import DemoError
from bot.errors import describe_error, exit_code_for

if TYPE_CHECKING:
    from bot.demo.tour import Tour

log = logging.getLogger("helmbot.demo")

DEFAULT_PORT = 8321
TRY = """\
  Type in the message box (you act as alice; "Acting as" switches to bob, the approver, or carol):
    /deploy shop 1.1.0 migration.durationSeconds=4   migration Job, new pods gated in Init, then ready
    /deploy shop 1.2.0 migration.fail=true           failing migration; click Roll back and confirm
    /deploy shop web.crash=true                      a crash loop, caught in seconds
    /deploy shop 1.1.0 web.image=registry.invalid/shop/web:1.1.0    an image that cannot be pulled
    /rollback shop  ·  /helmbot status shop  ·  /helmbot history shop
    /deploy hazard --dry-run                         the plan flags a ConfigMap turned into a hook
    /deploy ledger 1.1.0                             protected: act as bob to approve
  The stories, played for you: helmbot demo --tour"""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "demo",
        help="the whole bot on this machine: no Slack, no cluster, shown in a browser",
        description="Start stand-ins for Kubernetes and Slack, the bot, and a local page that behaves like a "
        "Slack channel, with the example releases installed. Ctrl-C stops everything.",
    )
    p.add_argument("--port", type=_port, default=None, help=f"the page's port (default {DEFAULT_PORT})")
    p.add_argument("--host", default="127.0.0.1", help="the page's address (default 127.0.0.1)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--no-browser", action="store_true", help="the channel in this terminal instead")
    p.add_argument("--tour", action="store_true", help="play the stories of helmbot's users")
    p.add_argument("--pace", type=float, default=2.5, help="seconds between the tour's steps (default 2.5)")
    p.set_defaults(func=run)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535; 0: any free port)")
    return int(text)


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the page's server binds
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _page_port(host: str, port: int | None) -> int:
    """The port asked for, if free (a DemoError otherwise, before anything starts); else the usual one, or
    any free one when the usual one is taken (another demo?)."""
    if port is None:
        return DEFAULT_PORT if _free(host, DEFAULT_PORT) else 0
    if not _free(host, port):
        raise DemoError(f"cannot listen on {host}:{port}: it is in use (--port picks another; 0: any)")
    return port


def _interrupt(*_: Any) -> NoReturn:
    raise KeyboardInterrupt


def _log_to(path: Path) -> logging.Handler:
    """The bot's and the stand-ins' logs go to a file: the terminal belongs to the demo."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    return handler


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    # Imported here: every other helmbot command builds this parser, and the bot is heavy to import.
    from bot.demo.server import DemoWebServer
    from bot.demo.stack import DemoStack
    from bot.demo.terminal import TerminalChannel
    from bot.demo.tour import Tour
    from bot.demo.workspace import ALICE

    out = out or sys.stdout
    try:
        port = _page_port(args.host, args.port)
    except (DemoError, OSError) as exc:  # OSError: an unknown --host
        print(f"helmbot demo: {describe_error(exc, internal_detail=True)}", file=out)
        return exit_code_for(exc) if isinstance(exc, DemoError) else 3
    workdir = Path(tempfile.mkdtemp(prefix="helmbot-demo-"))
    handler = _log_to(workdir / "demo.log")
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background, where SIGINT is ignored

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    stack = DemoStack(workdir=workdir, with_guide=args.tour, progress=lambda s: say(f"helmbot demo: {s}"))
    web: DemoWebServer | None = None
    stop = threading.Event()
    failed = False
    try:
        say(f"helmbot demo: its files and logs are in {workdir} (removed when it stops)")
        stack.start()
        tour = Tour(stack.standin(), stack.bot_url, stack.helm, pace=args.pace, stop=stop)
        if args.no_browser:
            say("helmbot demo is running here. :click N clicks button [N], :user bob acts as bob, :quit.")
            if args.tour:
                _play(tour, lambda: True)
            TerminalChannel(stack.standin(), stack.bot_url, stack.channel, ALICE.id).run()
            return 0
        web = DemoWebServer(stack.standin(), stack.bot_url, stack.kubeconfig, port, args.host).start()
        say(f"\nhelmbot demo is running: {web.url}\n{TRY}\n  Ctrl-C stops everything.")
        if args.tour:
            say("The tour starts as soon as the page is open.")
            listening = web.feed
            _play(tour, lambda: listening.listeners > 0)
        if args.open:
            webbrowser.open(web.url)
        threading.Event().wait()  # until Ctrl-C or SIGTERM
        return 0
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        failed = True
        say(f"helmbot demo: {describe_error(exc, internal_detail=True)}")
        say(f"helmbot demo: the logs are in {workdir / 'demo.log'}")
        return exit_code_for(exc)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the clean-up short
        say("helmbot demo: stopping")
        stop.set()
        if web is not None:
            web.stop()
        stack.stop()
        logging.getLogger().removeHandler(handler)
        handler.close()
        if not failed:
            shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        say("helmbot demo: stopped")


def _play(tour: Tour, ready: Any) -> threading.Thread:
    """The tour on its own thread, once `ready()` (someone is looking)."""

    def play() -> None:
        try:
            while not ready():
                if tour.stop.wait(0.3):
                    return
            tour.run()
        except Exception:
            log.exception("the tour stopped")

    thread = threading.Thread(target=play, name="demo-tour", daemon=True)
    thread.start()
    return thread
