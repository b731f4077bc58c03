"""`helmbot watch`: placeholder until the tracker lands (issue 2)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("watch", help="follow a Helm release's hooks and rollout to a verdict")
    p.add_argument("release")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise SystemExit("helmbot watch is not implemented yet")
