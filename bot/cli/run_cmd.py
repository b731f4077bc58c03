"""`helmbot run --config PATH`: the Slack bot (HTTP or Socket Mode), until SIGTERM or Ctrl-C.

A bad configuration is refused like `check-config` refuses it (every problem with its key and line, exit
3); missing tokens are named (never shown). SIGTERM stops it in order within a few seconds: no new
requests, running ticks finish, the outbox drains briefly, the leader Lease is handed over.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading

from bot.cli.watch_cmd import _usage_error
from bot.config import ConfigError, load_config
from bot.errors import describe_error, exit_code_for

log = logging.getLogger("helmbot")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "run",
        help="run the Slack bot",
        description="Run the Slack bot. Tokens come from the environment: SLACK_BOT_TOKEN, "
        "SLACK_SIGNING_SECRET (HTTP mode), SLACK_APP_TOKEN (Socket Mode).",
    )
    p.add_argument("--config", required=True, metavar="PATH", help="the configuration file (YAML)")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="text or json lines on stderr (default: the config's log.format)",
    )
    p.add_argument("--log-level", default=None, help="debug, info, warning (default: the config's log.level)")
    p.set_defaults(func=run)
    p.error = _usage_error.__get__(p)  # type: ignore[method-assign,unused-ignore]


def run(args: argparse.Namespace) -> int:
    from bot.cli.logging_setup import setup_logging

    env = dict(os.environ)
    secrets = [
        env.get(k)
        for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "HELMBOT_STATE_PASSWORD")
    ]
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"helmbot run: {args.config} has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return exc.exit_code
    setup_logging(
        fmt=args.log_format or config.log.format, level=args.log_level or config.log.level, secrets=secrets
    )
    stop = threading.Event()
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # operators: `kill -USR1` dumps every thread
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    from bot.runtime.bot import BotRuntime

    runtime = None
    try:
        runtime = BotRuntime(config, env=env).build().start()
        log.info("helmbot is running: %s", config.summary())
        stop.wait()
        log.info("stopping")
        return 0
    except Exception as exc:
        code = exit_code_for(exc)
        if code == 4:
            log.exception("internal error")
        print(f"helmbot run: {describe_error(exc)}", file=sys.stderr)
        return code
    finally:
        if runtime is not None:
            runtime.stop()
