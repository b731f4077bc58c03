"""`helmbot check-config PATH`: check a configuration file and name every mistake with its key and line.

Exit codes: 0 the file is usable (a one-line summary on stdout), 3 it is not (every problem, one per line,
on stderr; with `--output json` a single JSON object on stdout either way), 4 internal error.
Meant for editors, CI and a Helm chart's pre-install check: it reads no environment and reaches no cluster.
"""

from __future__ import annotations

import argparse
import json
import sys

from bot.cli.watch_cmd import _usage_error
from bot.config import Config, ConfigError, load_config
from bot.errors import describe_error, exit_code_for

EXIT_OK = 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser(
        "check-config", help="check a configuration file and name every mistake with its line",
        description="Check a helmbot configuration file. Exit codes: 0 usable, 3 problems found (each named "
                    "with its key path and line), 4 internal error.")
    p.add_argument("path", metavar="PATH", help="the configuration file (YAML)")
    p.add_argument("-o", "--output", choices=("text", "json"), default="text",
                   help="text: a summary or one problem per line; json: one object on stdout")
    p.set_defaults(func=run)
    # Usage errors exit 3 like every other error of ours (argparse's own 2), as `watch` does.
    p.error = _usage_error.__get__(p)  # type: ignore[method-assign,unused-ignore]


def run(args: argparse.Namespace) -> int:
    as_json = args.output == "json"
    try:
        config = load_config(args.path)
    except ConfigError as exc:
        if as_json:
            _print_json({"ok": False, "path": args.path, "problems": [p.to_dict() for p in exc.problems]})
        else:
            count = len(exc.problems)
            print(f"{args.path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
            for problem in exc.problems:
                print(str(problem), file=sys.stderr)
        return exit_code_for(exc)
    except Exception as exc:  # a bug of ours: one line, no traceback
        if as_json:
            _print_json({"ok": False, "path": args.path, "error": describe_error(exc)})
        else:
            print(f"helmbot check-config: {describe_error(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    if as_json:
        _print_json(_ok_object(args.path, config))
    else:
        print(f"ok: {config.summary()}")
    return EXIT_OK


def _ok_object(path: str, config: Config) -> dict[str, object]:
    return {
        "ok": True, "path": path, "summary": config.summary(), "releases": len(config.releases),
        "clusters": len(config.clusters), "mode": config.slack.mode, "store": config.state.kind,
        "config": config.redacted_dict(),
    }


def _print_json(obj: dict[str, object]) -> None:
    print(json.dumps(obj, ensure_ascii=False))
