"""Field paths into an object: the dotted form of status rules (`status.conditions[Ready].status`) and the
JSONPath subset Helm's readiness annotations and kubedog's rules use (`.status.conditions[?(@.type=="Ready")]
.status`, `[0]`, `[*]`, `['key']`).

`[Ready]` (a bare word) is short for `[?(@.type=="Ready")]`: the condition of that type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9_\-/$]+")
_FILTER = re.compile(r"""\?\(\s*@\.([A-Za-z0-9_\-]+)\s*==\s*(?:"([^"]*)"|'([^']*)'|([^\s)]+))\s*\)""")


@dataclass(frozen=True)
class _Step:
    key: str | None = None  # a field of a mapping
    index: int | None = None  # an element of a list
    every: bool = False  # [*]
    where: tuple[str, str] | None = None  # [?(@.k==v)]: list elements whose field k equals v


def parse_path(path: str) -> tuple[_Step, ...]:
    """Raises ValueError naming the path and what is wrong with it."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == ".":
            pos += 1
            continue
        if char == "[":
            end = text.find("]", pos)
            if end < 0:
                raise ValueError(f"invalid field path {path!r}: missing ]")
            steps.append(_bracket(path, text[pos + 1 : end].strip()))
            pos = end + 1
            continue
        match = _NAME.match(text, pos)
        if match is None:
            raise ValueError(f"invalid field path {path!r}: unexpected {char!r}")
        steps.append(_Step(key=match.group(0)))
        pos = match.end()
    if not steps:
        raise ValueError(f"invalid field path {path!r}: empty")
    return tuple(steps)


def _bracket(path: str, inner: str) -> _Step:
    if inner == "*":
        return _Step(every=True)
    if inner.lstrip("-").isdigit():
        return _Step(index=int(inner))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Step(key=inner[1:-1])
    found = _FILTER.fullmatch(inner)
    if found is not None:
        field, *values = found.groups()
        return _Step(where=(field, next(v for v in values if v is not None)))
    if _NAME.fullmatch(inner):
        return _Step(where=("type", inner))
    raise ValueError(f"invalid field path {path!r}: cannot read [{inner}]")


def path_values(root: Any, path: str | Sequence[_Step]) -> list[Any]:
    """Every value the path reaches (none: the field is absent)."""
    steps = parse_path(path) if isinstance(path, str) else path
    nodes = [root]
    for step in steps:
        nodes = [child for node in nodes for child in _children(node, step)]
    return nodes


def _children(node: Any, step: _Step) -> list[Any]:
    if step.key is not None:
        return [node[step.key]] if isinstance(node, Mapping) and step.key in node else []
    items = list(node.values()) if isinstance(node, Mapping) else node
    if not isinstance(items, list):
        return []
    if step.every:
        return items
    if step.index is not None:
        return [items[step.index]] if -len(items) <= step.index < len(items) else []
    assert step.where is not None
    field, wanted = step.where
    return [i for i in items if isinstance(i, Mapping) and str(i.get(field)) == wanted]


def parent_path(path: str) -> tuple[_Step, ...]:
    """The path without its last step (the condition a `conditions[Ready].reason` field lies in)."""
    return parse_path(path)[:-1]


def scalar_text(value: Any) -> str:
    """A value as a string, the way kubectl's JSONPath prints it (true/false, 3, 1.5, text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
