"""Reading a YAML node tree with the key path and line of every value, collecting problems instead of
stopping at the first.

PyYAML's `compose` keeps each node's position (`start_mark`) and the raw scalar text, so a value is read as
written ("1.10" stays "1.10", not the float 1.1) and a duplicate key is still visible (the constructor would
silently keep the last one). Readers return None after recording a problem, so a bad value never causes a
second, confusing problem further on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import yaml

from bot.config.errors import ConfigProblem
from bot.core.durations import DurationTooLong, format_duration, parse_duration

_STR, _INT, _FLOAT, _BOOL, _NULL, _MERGE = (
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "merge"))
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}
# Slack tokens (xoxb-, xoxp-, xapp-, ...) and URL credentials are never repeated in a message.
_SECRET_LOOKING = re.compile(r"xox[a-z]-|xapp-|://[^/@\s]*:[^/@\s]*@", re.IGNORECASE)


def quote(value: str, limit: int = 40) -> str:
    """A value as a problem message shows it: double-quoted, short, and never a token."""
    if _SECRET_LOOKING.search(value):
        return "(a secret-looking value, not shown)"
    shown = value if len(value) <= limit else value[: limit - 1] + "…"
    return '"' + shown.replace('"', '\\"') + '"'


def looks_secret(value: str) -> bool:
    return bool(_SECRET_LOOKING.search(value))


def scrub(message: str) -> str:
    """Last line of defence: a token or URL password that reached a message is cut out of it."""
    message = re.sub(r"(xox[a-z]-|xapp-)[\w.-]*", "(a token, not shown)", message, flags=re.IGNORECASE)
    return re.sub(r"(://[^/@\s:]*):[^/@\s]*@", r"\1:(not shown)@", message)


_SECRET_KEYS = {
    "bot_token": "SLACK_BOT_TOKEN", "token": "SLACK_BOT_TOKEN", "slack_bot_token": "SLACK_BOT_TOKEN",
    "signing_secret": "SLACK_SIGNING_SECRET (http mode)", "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "app_token": "SLACK_APP_TOKEN (socket mode)", "slack_app_token": "SLACK_APP_TOKEN",
    "password": "HELMBOT_STATE_PASSWORD",
}


def secret_key_hint(key: str) -> str | None:
    """The message for a key that would hold a secret: where that secret goes instead."""
    lowered = key.lower()
    env = _SECRET_KEYS.get(lowered)
    if env is None and any(word in lowered for word in ("token", "secret", "password")):
        env = "an environment variable (from a Kubernetes Secret)"
    if env is None:
        return None
    return f'secrets never live in this file: remove "{key}" and set {env} in the environment instead'


@dataclass(frozen=True)
class Field:
    """A node and where it is: its key path and 1-based line."""

    node: yaml.Node
    path: str

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == _NULL

    @property
    def text(self) -> str:
        """The raw scalar text ("" for anything else)."""
        return str(self.node.value) if isinstance(self.node, yaml.ScalarNode) else ""


@dataclass
class Problems:
    items: list[ConfigProblem] = field(default_factory=list)
    # Scalars already reported as secrets: readers skip them rather than quote or judge them again.
    secret_nodes: set[int] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)   # the file's text, for hints about what YAML saw

    def add(self, path: str, line: int | None, message: str) -> None:
        self.items.append(ConfigProblem(path, line, scrub(message)))

    def at(self, f: Field, message: str) -> None:
        self.add(f.path, f.line, message)


def comment_hint(problems: Problems, f: Field | None) -> str:
    """For a value YAML read as null: was it `key: #deploys`, a comment?"""
    if f is None or not f.is_null or not 0 < f.line <= len(problems.lines):
        return ""
    after_key = problems.lines[f.line - 1].partition(":")[2].strip()
    return " (a # starts a YAML comment: quote the value)" if after_key.startswith("#") else ""


def kind_of(node: yaml.Node) -> str:
    """What a person would call this node, for "expected X, got Y"."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return {
        _NULL: "nothing (null)", _BOOL: f"true/false ({node.value})", _INT: f"a number ({node.value})",
        _FLOAT: f"a number ({node.value})",
    }.get(node.tag, f"text ({quote(str(node.value))})")


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' for a near miss, else ''."""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f' (did you mean "{close[0]}"?)' if close else ""


def read_mapping(
    problems: Problems, f: Field, known: Sequence[str] | None, *, what: str = "",
    explain: Callable[[str], str | None] | None = None,
) -> dict[str, Field] | None:
    """The mapping's values by key. Duplicate and unknown keys are problems (the unknown one with a "did you
    mean"); `known` None: the keys are names the user chooses (clusters, labels). `explain(key)` may word a
    known mistake better (the default: a secret's key says where the secret goes instead)."""
    if not isinstance(f.node, yaml.MappingNode):
        problems.at(f, f"expected a mapping{' of ' + what if what else ''}, got {kind_of(f.node)}")
        return None
    values: dict[str, Field] = {}
    first_line: dict[str, int] = {}
    for key_node, value_node in f.node.value:
        line = int(key_node.start_mark.line) + 1
        if key_node.tag == _MERGE:
            problems.add(f.path, line, "YAML merge keys (<<) are not supported here; write the keys out "
                                       "(release settings shared by all releases go under defaults:)")
            continue
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _NULL:
            problems.add(f.path, line, f"a key must be a name, got {kind_of(key_node)}")
            continue
        key = str(key_node.value)
        path = f.key(key)
        if key in first_line:
            problems.add(path, line, f'duplicate key "{key}" (first at line {first_line[key]}); YAML keeps '
                                     "only one of them, so remove the other")
            continue
        first_line[key] = line
        if known is not None and key not in known:
            special = explain(key) if explain else secret_key_hint(key)
            problems.add(path, line, special or f'unknown key "{key}"{suggest(key, known)}')
            continue
        values[key] = Field(value_node, path)
    return values


def read_list(problems: Problems, f: Field | None, *, what: str = "") -> list[Field] | None:
    """A list's items (None when absent, null or not a list: the last is a problem)."""
    if f is None or f.is_null:
        return None
    if not isinstance(f.node, yaml.SequenceNode):
        hint = f"; write [{f.text}]" if isinstance(f.node, yaml.ScalarNode) and f.text else ""
        problems.at(f, f"expected a list{' of ' + what if what else ''}, got {kind_of(f.node)}{hint}")
        return None
    return [Field(item, f"{f.path}[{i}]") for i, item in enumerate(f.node.value)]


def read_text(problems: Problems, f: Field | None, *, what: str = "text") -> str | None:
    """A scalar's text as written (numbers and true/false included: `version: 1.10` is "1.10")."""
    if f is None or f.is_null or id(f.node) in problems.secret_nodes:
        return None
    if not isinstance(f.node, yaml.ScalarNode):
        problems.at(f, f"expected {what}, got {kind_of(f.node)}")
        return None
    value = str(f.node.value).strip()
    if not value:
        problems.at(f, f"expected {what}, got an empty text")
        return None
    return value


def read_int(problems: Problems, f: Field | None, *, low: int, high: int) -> int | None:
    text = read_text(problems, f, what="a whole number")
    if text is None or f is None:
        return None
    digits = text.replace("_", "")
    if not re.fullmatch(r"[+-]?\d+", digits):
        problems.at(f, f"expected a whole number, got {kind_of(f.node)}")
        return None
    if len(digits.lstrip("+-0")) > len(str(high)):
        problems.at(f, f"{quote(text)} is out of range ({low} to {high})")
        return None
    value = int(digits)
    if not low <= value <= high:
        problems.at(f, f"{value} is out of range ({low} to {high})")
        return None
    return value


def read_bool(problems: Problems, f: Field | None) -> bool | None:
    text = read_text(problems, f, what="true or false")
    if text is None or f is None:
        return None
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    problems.at(f, f"expected true or false, got {kind_of(f.node)}")
    return None


def read_choice(problems: Problems, f: Field | None, choices: Sequence[str]) -> str | None:
    text = read_text(problems, f, what="one of " + ", ".join(choices))
    if text is None or f is None:
        return None
    if text.lower() in choices:
        return text.lower()
    problems.at(f, f"{quote(text)} is not one of {', '.join(choices)}{suggest(text, choices)}")
    return None


MAX_DURATION = timedelta(days=366)   # longer is a typo, and would overflow date arithmetic


def read_duration(problems: Problems, f: Field | None, *, allow_zero: bool = False) -> timedelta | None:
    text = read_text(problems, f, what="a duration (e.g. 90s, 5m, 1h30m)")
    if text is None or f is None:
        return None
    try:
        value = parse_duration(text)
    except DurationTooLong:
        value = MAX_DURATION * 2
    except ValueError as exc:
        problems.at(f, str(exc))
        return None
    if value > MAX_DURATION:
        problems.at(f, f"{quote(text)} is longer than a year")
        return None
    if not allow_zero and value <= timedelta(0):
        problems.at(f, f"must be longer than {format_duration(value)}")
        return None
    return value


def checked(problems: Problems, f: Field | None, check: Callable[[str], str | None], *,
            what: str = "text") -> str | None:
    """read_text, then a shape check (names.check_*) whose message becomes the problem."""
    text = read_text(problems, f, what=what)
    if text is None or f is None:
        return None
    message = check(text)
    if message:
        problems.at(f, message)
        return None
    return text


def checked_list(problems: Problems, f: Field | None, check: Callable[[str], str | None], *,
                 what: str) -> tuple[str, ...] | None:
    """A list whose every entry passes `check`; None when absent or when any entry is bad (a problem)."""
    items = read_list(problems, f, what=what)
    if items is None:
        return None
    values = [checked(problems, item, check, what=what) for item in items]
    return None if None in values else tuple(v for v in values if v is not None)
