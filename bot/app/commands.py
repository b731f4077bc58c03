"""Slash-command text → typed requests. Pure: no config, no I/O.

Slack sends the text as typed, with `&`, `<` and `>` HTML-escaped and, on some clients, quotes turned into
typographic ones. Whatever arrives, the result is either a typed command or a `CommandError` whose message is
safe to show: it names keys and arguments but never echoes a value (a user may paste a secret by mistake).
Which positional argument is an environment and which a chart version is decided here too: environment names
never look like versions (the config refuses such names), so no lookup is needed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from bot.errors import HelmbotError

MAX_TEXT = 2000
MAX_VALUE = 1024
MAX_VALUES = 20

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_ENVIRONMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_VERSION = re.compile(r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z][0-9A-Za-z.+-]*)?$")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/\[\]]{0,199}$")
_REVISION = re.compile(r"^[1-9]\d{0,8}$")
_QUOTES = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'", "\u00a0": " "}
)

DEPLOY_USAGE = "/deploy RELEASE [ENVIRONMENT] [CHART_VERSION] [key=value ...] [--dry-run]"
ROLLBACK_USAGE = "/rollback RELEASE [ENVIRONMENT] [REVISION] [--dry-run]"
PROMOTE_USAGE = "/promote RELEASE FROM_ENVIRONMENT TO_ENVIRONMENT [--dry-run]"
HELMBOT_USAGE = "/helmbot status|history RELEASE [ENVIRONMENT] · /helmbot releases · /helmbot help"
HELMBOT_ACTIONS = ("status", "history", "releases", "help")


class CommandError(HelmbotError):
    """A command that cannot run as typed; the message is shown to the user who typed it."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        self.usage = usage
        super().__init__(message)

    def user_message(self) -> str:
        text = str(self)
        return f"{text} (usage: {self.usage})" if self.usage else text


@dataclass(frozen=True)
class DeployCommand:
    release: str
    environment: str | None = None
    chart_version: str | None = None
    values: tuple[tuple[str, str], ...] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class RollbackCommand:
    release: str
    environment: str | None = None
    revision: int | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class PromoteCommand:
    release: str
    from_environment: str
    to_environment: str
    dry_run: bool = False


@dataclass(frozen=True)
class HelmbotCommand:
    action: str  # one of HELMBOT_ACTIONS
    release: str | None = None
    environment: str | None = None


Command = DeployCommand | RollbackCommand | PromoteCommand | HelmbotCommand


def looks_like_version(token: str) -> bool:
    return bool(_VERSION.match(token))


def is_environment_name(token: str) -> bool:
    return bool(_ENVIRONMENT.match(token)) and not looks_like_version(token)


def _shown(token: str) -> str:
    """An argument as it may be echoed: never the value side of key=value, never long."""
    if "=" in token:
        return token.split("=", 1)[0] + "=…"
    return token if len(token) <= 40 else token[:39] + "…"


def tokenize(text: str, usage: str) -> list[str]:
    if not isinstance(text, str):
        raise CommandError("the command text is missing", usage)
    if len(text) > MAX_TEXT:
        raise CommandError(
            f"the command text is too long ({len(text)} characters; at most {MAX_TEXT})", usage
        )
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").translate(_QUOTES)
    if any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in text):
        raise CommandError("the command text contains control characters", usage)
    try:
        tokens = shlex.split(text, comments=False, posix=True)
    except ValueError:
        raise CommandError("unbalanced quotes in the command text", usage) from None
    return tokens


def _flags(tokens: list[str], allowed: tuple[str, ...], usage: str) -> tuple[list[str], set[str]]:
    rest: list[str] = []
    flags: set[str] = set()
    for token in tokens:
        if token.startswith("-") and not _VERSION.match(token):
            if token not in allowed:
                known = ", ".join(allowed) or "none"
                raise CommandError(f"unknown option {_shown(token)!r} (options: {known})", usage)
            flags.add(token)
        else:
            rest.append(token)
    return rest, flags


def _release(tokens: list[str], usage: str) -> str:
    if not tokens:
        raise CommandError("name the release", usage)
    name = tokens[0]
    if "=" in name or len(name) > 53 or not _NAME.match(name):
        raise CommandError(f"{_shown(name)!r} is not a release name", usage)
    return name


def _environment(token: str, usage: str) -> str:
    if not is_environment_name(token):
        raise CommandError(f"{_shown(token)!r} is not an environment name", usage)
    return token


def _value(token: str, seen: set[str], usage: str) -> tuple[str, str]:
    key, value = token.split("=", 1)
    if not _KEY.match(key):
        raise CommandError(f"{_shown(key)!r} is not a value key (use dotted names like image.tag)", usage)
    if key in seen:
        raise CommandError(f"value key {key!r} is given twice", usage)
    if len(value) > MAX_VALUE:
        raise CommandError(f"the value of {key!r} is too long (at most {MAX_VALUE} characters)", usage)
    if any(c in value for c in "\n\r\t"):
        raise CommandError(f"the value of {key!r} must be one line", usage)
    seen.add(key)
    return key, value


def parse_deploy(text: str) -> DeployCommand:
    usage = DEPLOY_USAGE
    tokens, flags = _flags(tokenize(text, usage), ("--dry-run",), usage)
    release = _release(tokens, usage)
    positionals: list[str] = []
    values: list[tuple[str, str]] = []
    seen: set[str] = set()
    for token in tokens[1:]:
        if "=" in token:
            values.append(_value(token, seen, usage))
        elif values:
            raise CommandError(
                f"{_shown(token)!r} after the values: put the environment and version first", usage
            )
        else:
            positionals.append(token)
    if len(values) > MAX_VALUES:
        raise CommandError(f"too many values ({len(values)}; at most {MAX_VALUES})", usage)
    environment: str | None = None
    version: str | None = None
    for token in positionals:  # either order: a version never looks like an environment name
        if looks_like_version(token) and version is None:
            version = token
        elif is_environment_name(token) and environment is None:
            environment = token
        elif looks_like_version(token) or is_environment_name(token):
            raise CommandError(f"unexpected argument {_shown(token)!r}", usage)
        else:
            raise CommandError(
                f"{_shown(token)!r} is neither an environment nor a chart version (e.g. 1.4.2)", usage
            )
    return DeployCommand(release, environment, version, tuple(values), "--dry-run" in flags)


def parse_rollback(text: str) -> RollbackCommand:
    usage = ROLLBACK_USAGE
    tokens, flags = _flags(tokenize(text, usage), ("--dry-run",), usage)
    release = _release(tokens, usage)
    environment: str | None = None
    revision: int | None = None
    for token in tokens[1:]:
        if _REVISION.match(token) and revision is None:
            revision = int(token)
        elif environment is None and revision is None and "=" not in token:
            environment = _environment(token, usage)
        else:
            raise CommandError(f"unexpected argument {_shown(token)!r}", usage)
    return RollbackCommand(release, environment, revision, "--dry-run" in flags)


def parse_promote(text: str) -> PromoteCommand:
    usage = PROMOTE_USAGE
    tokens, flags = _flags(tokenize(text, usage), ("--dry-run",), usage)
    release = _release(tokens, usage)
    if len(tokens) != 3:
        raise CommandError(
            "name the release, the environment to promote from and the one to promote to", usage
        )
    source, target = (_environment(t, usage) for t in tokens[1:])
    if source == target:
        raise CommandError("promote from one environment to another", usage)
    return PromoteCommand(release, source, target, "--dry-run" in flags)


def parse_helmbot(text: str) -> HelmbotCommand:
    usage = HELMBOT_USAGE
    tokens, _ = _flags(tokenize(text, usage), (), usage)
    if not tokens:
        return HelmbotCommand("help")
    action = tokens[0].lower()
    if action not in HELMBOT_ACTIONS:
        raise CommandError(f"unknown subcommand {_shown(tokens[0])!r}", usage)
    if action in ("help", "releases"):
        if len(tokens) > 1:
            raise CommandError(f"unexpected argument {_shown(tokens[1])!r}", usage)
        return HelmbotCommand(action)
    release = _release(tokens[1:], usage)
    if len(tokens) > 3:
        raise CommandError(f"unexpected argument {_shown(tokens[3])!r}", usage)
    environment = _environment(tokens[2], usage) if len(tokens) == 3 else None
    return HelmbotCommand(action, release, environment)
