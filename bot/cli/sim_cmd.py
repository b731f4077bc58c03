"""`helmbot sim kube|slack`: the Kubernetes API stand-in (bot/sim) or the Slack one (bot/sim/slack)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from bot.sim import cli as sim_cli
    from bot.sim.slack import cli as slack_cli

    p = sub.add_parser("sim", help="local stand-ins (Kubernetes API, Slack) for tests and demos")
    sim_sub = p.add_subparsers(dest="sim_command", metavar="STANDIN")
    sim_sub.required = True
    kube = sim_sub.add_parser("kube", help="run a Kubernetes API stand-in until Ctrl-C")
    sim_cli.add_arguments(kube)
    kube.set_defaults(func=run)
    slack = sim_sub.add_parser("slack", help="run a Slack stand-in (Web API + signed requests) until Ctrl-C")
    slack_cli.add_arguments(slack)
    slack.set_defaults(func=slack_cli.run)


def run(args: argparse.Namespace) -> int:
    from bot.sim import cli as sim_cli

    return sim_cli.run(args)
