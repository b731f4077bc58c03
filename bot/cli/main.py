"""`helmbot` command line: a thin dispatcher to the subcommands' modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helmbot", description="Slack ChatOps for Helm releases.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # Each subcommand module registers itself: add_parser(sub) sets `func` to its runner.
    from bot.cli import config_cmd, run_cmd, sim_cmd, watch_cmd
    from bot.demo.cli import add_parser as add_demo_parser

    watch_cmd.add_parser(sub)
    sim_cmd.add_parser(sub)
    config_cmd.add_parser(sub)
    run_cmd.add_parser(sub)
    add_demo_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
