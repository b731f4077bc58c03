"""`helmbot sim slack`: run the Slack stand-in in the foreground until Ctrl-C/SIGTERM.

The bot token and signing secret come from the environment only (the same variables the bot reads), so
both sides share them without printing them anywhere.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from bot.sim.slack import SlackStandIn


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--signing-secret-env",
        default="SLACK_SIGNING_SECRET",
        metavar="VAR",
        help="environment variable holding the signing secret (default: %(default)s)",
    )
    parser.add_argument(
        "--bot-token-env",
        default="SLACK_BOT_TOKEN",
        metavar="VAR",
        help="environment variable holding the bot token (default: %(default)s)",
    )
    parser.add_argument(
        "--app-token-env",
        default="SLACK_APP_TOKEN",
        metavar="VAR",
        help="environment variable holding the app-level token, if any (default: %(default)s)",
    )
    parser.add_argument("--team-id", default="T0HELMBOT")
    parser.add_argument(
        "--state-out",
        type=Path,
        default=None,
        help="write the workspace (channels, messages, files) as JSON here at exit",
    )
    parser.add_argument(
        "--rate-limits", action="store_true", help="enforce Slack's rate limits (429 with Retry-After)"
    )


def _secret(var: str, what: str) -> str:
    value = os.environ.get(var, "")
    if not value:
        raise SystemExit(f"helmbot sim slack: set ${var} to the {what} the bot uses (it is never printed)")
    return value


def run(args: argparse.Namespace) -> int:
    signing_secret = _secret(args.signing_secret_env, "signing secret")
    bot_token = _secret(args.bot_token_env, "bot token (xoxb-...)")
    app_token = os.environ.get(args.app_token_env) or None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    standin = SlackStandIn(
        args.port,
        args.host,
        signing_secret=signing_secret,
        bot_token=bot_token,
        app_token=app_token,
        team_id=args.team_id,
        rate_limits=args.rate_limits,
        state_out=args.state_out,
    )
    try:
        standin.start()
    except OSError as exc:
        raise SystemExit(f"helmbot sim slack: cannot listen on {args.host}:{args.port}: {exc}") from None
    print(f"Slack stand-in listening on {standin.url}", flush=True)
    print(f"Web API: {standin.api_url}", flush=True)
    print(f"control: {standin.url}_sim/ (see docs/sim-slack.md)", flush=True)
    try:
        done.wait()
    finally:
        standin.stop()
    return 0
