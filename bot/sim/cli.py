"""`helmbot sim kube`: run the stand-in in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import tempfile
import threading
from pathlib import Path

from bot.sim.cluster import Cluster
from bot.sim.faults import FaultRule


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        default=None,
        help="where to write a kubeconfig for the stand-in (default: a temp file)",
    )
    parser.add_argument("--namespace", default="default", help="the kubeconfig context's namespace")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help='inject a fault, e.g. "error:500;verbs=create;resources=secrets;times=1" '
        "(see bot/sim/faults.py); repeatable",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="load objects from this JSON file at start and save them there at exit",
    )
    parser.add_argument("--no-controllers", action="store_true", help="serve the API only")
    parser.add_argument("--pod-grace-seconds", type=float, default=1.0)


def run(args: argparse.Namespace) -> int:
    try:
        faults = [FaultRule.parse(spec) for spec in args.fault]
    except ValueError as exc:
        raise SystemExit(f"helmbot sim kube: bad --fault: {exc}") from None
    # Ctrl-C and SIGTERM only ask to stop: a signal landing between start and the wait (e.g. while the
    # kubeconfig path is printed) must still stop the cluster cleanly, not kill the process mid-way.
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    cluster = Cluster(
        args.port,
        host=args.host,
        faults=faults,
        controllers=not args.no_controllers,
        pod_grace_seconds=args.pod_grace_seconds,
        state_file=args.state_file,
    )
    try:
        cluster.start()
    except OSError as exc:
        raise SystemExit(f"helmbot sim kube: cannot listen on {args.host}:{args.port}: {exc}") from None
    out = args.kubeconfig_out or Path(tempfile.mkdtemp(prefix="helmbot-sim-")) / "kubeconfig"
    cluster.write_kubeconfig(out, namespace=args.namespace)
    print(f"Kubernetes stand-in listening on {cluster.url}", flush=True)
    print(f"kubeconfig: {out}", flush=True)
    print(f"  export KUBECONFIG={out}", flush=True)
    try:
        done.wait()
    finally:
        cluster.stop()
    return 0
