"""`helmbot sim kube`: placeholder until the stand-in lands (issue 3)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sim", help="local stand-ins (Kubernetes API) for tests and demos")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise SystemExit("helmbot sim is not implemented yet")
