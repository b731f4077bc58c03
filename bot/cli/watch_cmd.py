"""`helmbot watch`: follow a Helm release's hooks and rollout to a verdict, without Slack (CI, terminals).

Exit codes: 0 succeeded, 1 failed (diagnosis printed), 2 timed out, 3 usage, connection or API error (one
line on stderr, no traceback), 4 internal error (a helmbot bug: one line asking for a report), 5 (only with
`--strict`) succeeded but some object was not judged (a kind that could not be watched), 130 interrupted.
Only a verdict gives 0, 1, 2 or 5: no exception, expected or not, ever exits 1 ("failed"). Transient API
errors (429, 5xx, dropped connections) are retried within `--timeout`, the first reads included; an API
server that cannot be reached at all (a wrong kubeconfig) is given 10 s.
With `--output json` an error also ends stdout with `{"type": "error", "message": ..., "exit_code": N}`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from datetime import timedelta
from typing import NoReturn, Protocol, TextIO

from bot.cli.errors import UsageError
from bot.core.durations import parse_duration
from bot.core.events import Outcome, TrackEvent
from bot.core.status import Policy
from bot.core.summary import TrackSummary
from bot.errors import EXIT_USAGE, describe_error, exit_code_for

EXIT_OK, EXIT_FAILED, EXIT_TIMED_OUT, EXIT_INTERRUPTED = 0, 1, 2, 130  # errors: bot.errors.exit_code_for
EXIT_NOT_JUDGED = 5   # --strict: succeeded, but not every object was judged
RELEASE_APPEAR_WAIT = 30.0   # seconds a release named with --revision may take to appear at all


class Renderer(Protocol):
    def event(self, event: TrackEvent) -> None: ...
    def summary(self, summary: TrackSummary) -> None: ...
    def close(self) -> None: ...


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "watch", help="follow a Helm release's hooks and rollout to a verdict",
        description="Follow a Helm release's hooks and rollout until it succeeds, fails or times out. "
                    "Exit codes: 0 succeeded, 1 failed, 2 timed out, 3 usage, connection or API error, "
                    "4 internal error.")
    p.add_argument("release", help="Helm release name")
    p.add_argument("-n", "--namespace", default=None,
                   help="the release's namespace (default: $HELM_NAMESPACE, else the kubeconfig context's, "
                        "else default)")
    p.add_argument("--revision", type=int, default=None,
                   help="revision to follow (default: the newest stored revision); it may be one helm is "
                        "about to write")
    p.add_argument("--timeout", default="10m", help="give up after this long, exit 2 (default: 10m)")
    p.add_argument("--helm-timeout", default="5m",
                   help="the --timeout given to helm, for the hook-nearing-timeout warning (default: 5m)")
    p.add_argument("--config-error-grace", default=None,
                   help="how long a missing ConfigMap/Secret may be fixed before it counts as failed "
                        "(default: 45s)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text",
                   help="text: live view on a terminal, else timestamped lines; json: one event per line")
    p.add_argument("--heartbeat", default="30s",
                   help="plain text output: after this long without a line, print what is still in progress "
                        "(default: 30s; 0 disables)")
    p.add_argument("--strict", action="store_true",
                   help="exit 5 instead of 0 when the release succeeded but some object was not judged "
                        "(no permission to watch its kind, or a kind the API server does not serve)")
    p.add_argument("--status-rules", default=None, metavar="FILE",
                   help="extra status rules for custom resources: a YAML file with a status_rules: list, "
                        "as in the bot's configuration (docs/config.md)")
    p.add_argument("--kubeconfig", default=None,
                   help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
    p.add_argument("--context", default=None, help="kubeconfig context (default: the current context)")
    p.set_defaults(func=run)
    # Usage errors are exit 3 like every other error of ours (argparse's own default is 2 = "timed out").
    p.error = _usage_error.__get__(p)  # type: ignore[method-assign,unused-ignore]


def _usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def _duration(flag: str, text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    if value <= timedelta(0):
        raise UsageError(f"invalid {flag} {text!r}: must be positive")
    return value


def _heartbeat(text: str) -> timedelta | None:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--heartbeat: {exc}") from None
    return value if value > timedelta(0) else None


def _renderer(output: str, out: TextIO, heartbeat: timedelta | None) -> Renderer:
    if output == "json":
        from bot.cli.render_json import JsonRenderer

        return JsonRenderer(out)
    if out.isatty():
        from bot.cli.render_live import LiveRenderer

        return LiveRenderer(out)
    from bot.cli.render_text import TextRenderer

    return TextRenderer(out, heartbeat=heartbeat)


def exit_code(verdict: TrackEvent | None, *, strict: bool = False) -> int:
    outcome = verdict.outcome if verdict is not None else None
    if strict and verdict is not None and outcome is Outcome.SUCCEEDED and verdict.data.get("not_judged"):
        return EXIT_NOT_JUDGED
    return {Outcome.SUCCEEDED: EXIT_OK, Outcome.FAILED: EXIT_FAILED,
            Outcome.TIMED_OUT: EXIT_TIMED_OUT}.get(outcome, EXIT_INTERRUPTED) if outcome else EXIT_INTERRUPTED


def run(args: argparse.Namespace) -> int:
    json_output = getattr(args, "output", None) == "json"
    try:
        return _watch(args)
    except KeyboardInterrupt:
        print("helmbot watch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # never a traceback, never exit 1 ("the release failed"): 3 ours, 4 a bug
        return _fail(describe_error(exc, internal_detail=True), exit_code_for(exc), json_output)


def _fail(message: str, code: int, json_output: bool = False) -> int:
    print(f"helmbot watch: error: {message}", file=sys.stderr)
    if json_output:
        # JSON consumers read stdout only: the last object says why there is no verdict.
        try:
            sys.stdout.write(json.dumps({"type": "error", "message": message, "exit_code": code},
                                        separators=(",", ":"), sort_keys=True) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass  # stdout is gone (a closed pipe): stderr and the exit code still say it
    return code


def _watch(args: argparse.Namespace) -> int:
    if args.revision is not None and args.revision < 1:
        raise UsageError(f"invalid --revision {args.revision}: revisions start at 1")
    timeout = _duration("--timeout", args.timeout)
    helm_timeout = _duration("--helm-timeout", args.helm_timeout)
    heartbeat = _heartbeat(args.heartbeat)
    policy = Policy()
    if args.config_error_grace is not None:
        policy = dataclasses.replace(
            policy, config_error_grace=_duration("--config-error-grace", args.config_error_grace))
    if args.status_rules is not None:
        from bot.config import load_status_rules

        policy = dataclasses.replace(policy, status_rules=load_status_rules(args.status_rules))

    from bot.kube.client import new_client
    from bot.kube.config import default_namespace
    from bot.kube.informer import InformerRegistry
    from bot.kube.releases import find_latest_revision
    from bot.kube.runner import run_tracker

    client = new_client(args.kubeconfig, args.context)
    if args.namespace is None:
        args.namespace = default_namespace(args.kubeconfig, args.context)
    try:
        # Also our connectivity/permission probe: unknown release, 401, 403 and unreachable fail here, fast;
        # transient errors (429, 5xx) are retried within --timeout. With --revision the caller may have
        # started helm a moment ago: give its first record a little time (a revision newer than the stored
        # ones is waited for by the tracker, within --timeout).
        wait = min(RELEASE_APPEAR_WAIT, timeout.total_seconds()) if args.revision is not None else 0.0
        latest = find_latest_revision(
            client, args.namespace, args.release, wait=wait, patience=timeout.total_seconds(),
            on_wait=lambda: _note(f"waiting up to {wait:g}s for release {args.release} to appear in "
                                  f"namespace {args.namespace} (revision {args.revision})"))
        revision = args.revision if args.revision is not None else latest
        if revision > latest:
            _note(f"revision {revision} of {args.release} is not stored yet (newest: {latest}); waiting for "
                  f"helm to write it (up to {args.timeout})")
        renderer = _renderer(args.output, sys.stdout, heartbeat)
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        registry = InformerRegistry(client)
        try:
            verdict = run_tracker(registry, namespace=args.namespace, release=args.release, revision=revision,
                                  timeout=timeout, helm_timeout=helm_timeout, policy=policy,
                                  on_event=renderer.event, on_summary=renderer.summary, stop=stop)
        finally:
            renderer.close()
            registry.close()
            signal.signal(signal.SIGTERM, previous)
    finally:
        client.close()
    code = exit_code(verdict, strict=args.strict)
    if code == EXIT_NOT_JUDGED and verdict is not None:
        _note("--strict: not every object was judged: " + "; ".join(map(str, verdict.data["not_judged"])))
    return code


def _note(message: str) -> None:
    """A line about what the command itself is doing, on stderr (stdout carries the events)."""
    print(f"helmbot watch: {message}", file=sys.stderr, flush=True)
