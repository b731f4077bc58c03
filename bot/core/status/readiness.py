"""Helm 4's custom readiness annotations (HIP-0025, helm/helm main pkg/kube/readiness.go):

    helm.sh/readiness-success: '["{.succeeded} >= 1"]'
    helm.sh/readiness-failure: '["{.failed} >= 1"]'

Each is a JSON array of `{<jsonpath>} <op> <value>` expressions; the path is read under `.status` (a path
already starting with `.status` is taken as is); ops `==`, `!=`, `<`, `<=`, `>`, `>=`. Failure expressions
are evaluated first: any that holds fails the object; then any success expression that holds makes it
current; otherwise it is in progress (also while it has no status). Only both annotations together replace
the built-in rules, as in Helm (one alone is ignored, with a warning). Numbers compare numerically, booleans
as booleans, anything else as text; an ordering op on text holds nothing; a field that is absent holds
nothing. An expression that cannot be read is ignored with a warning (`helm lint` reports it too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.model.failures import Failure
from bot.core.model.states import State
from bot.core.status.assessment import Assessment
from bot.core.status.objects import meta, name_of
from bot.core.status.paths import path_values, scalar_text

SUCCESS = "helm.sh/readiness-success"
FAILURE = "helm.sh/readiness-failure"
_OPS = ("==", "!=", "<=", ">=", "<", ">")


@dataclass(frozen=True)
class Readiness:
    assessment: Assessment | None  # None: the annotations do not decide (absent, partial or unreadable)
    warnings: tuple[str, ...] = ()


def assess_readiness(obj: Mapping[str, Any]) -> Readiness:
    annotations = meta(obj).get("annotations")
    if not isinstance(annotations, Mapping) or (SUCCESS not in annotations and FAILURE not in annotations):
        return Readiness(None)
    try:
        success = _expressions(annotations.get(SUCCESS), SUCCESS)
        failure = _expressions(annotations.get(FAILURE), FAILURE)
    except ValueError as exc:
        return Readiness(None, (f"{exc}; judged by the built-in rules",))
    if not success or not failure:
        given = SUCCESS if success else FAILURE
        return Readiness(
            None,
            (
                f"only {given} is set: both readiness annotations are needed (Helm ignores "
                "one alone too); judged by the built-in rules",
            ),
        )
    status = obj.get("status")
    if not isinstance(status, Mapping):
        return Readiness(Assessment(State.IN_PROGRESS, "no status yet (helm.sh/readiness-* annotations)"))
    warnings: list[str] = []
    root = {"status": status}
    for expr in failure:
        if _holds(root, expr, warnings):
            failed = Failure(str(obj.get("kind")), name_of(obj), "ReadinessFailure", f"{FAILURE}: {expr}")
            return Readiness(
                Assessment(State.FAILED, f"{FAILURE} {expr} holds", failures=(failed,)), tuple(warnings)
            )
    for expr in success:
        if _holds(root, expr, warnings):
            return Readiness(Assessment(State.CURRENT, f"{SUCCESS} {expr} holds"), tuple(warnings))
    waiting = " or ".join(success)
    return Readiness(Assessment(State.IN_PROGRESS, f"waiting for {waiting} ({SUCCESS})"), tuple(warnings))


def _expressions(raw: Any, name: str) -> list[str]:
    if raw is None or not str(raw).strip():
        return []
    try:
        parsed = json.loads(str(raw))
    except ValueError:
        raise ValueError(f"{name} is not a JSON array of expressions") from None
    if parsed is None:
        return []
    if not isinstance(parsed, list) or not all(isinstance(e, str) for e in parsed):
        raise ValueError(f"{name} is not a JSON array of expressions")
    exprs = [e.strip() for e in parsed]
    for expr in exprs:
        _parse(expr, name)
    return exprs


def _parse(expr: str, name: str = "") -> tuple[str, str, str]:
    """(path under .status, op, value); ValueError says what is wrong."""
    where = f"{name}: " if name else ""
    close = expr.find("}")
    if not expr.startswith("{") or close < 0:
        raise ValueError(f"{where}expression {expr!r} must start with {{<jsonpath>}}")
    path = expr[1:close].strip()
    rest = expr[close + 1 :].strip()
    op = rest.split(maxsplit=1)[0] if rest else ""
    if op not in _OPS:
        raise ValueError(f"{where}expression {expr!r}: unsupported operator {op!r}")
    value = rest[len(op) :].strip()
    if not path or not value:
        raise ValueError(f"{where}expression {expr!r} needs a path, an operator and a value")
    if path.startswith((".status.", ".status[")):
        pass
    elif path.startswith((".", "[")):
        path = ".status" + path
    else:
        raise ValueError(f"{where}expression {expr!r}: the path must start with . or [")
    return path, op, value


def _holds(root: Mapping[str, Any], expr: str, warnings: list[str]) -> bool:
    path, op, expected = _parse(expr)
    try:
        values = path_values(root, path)
    except ValueError as exc:
        warnings.append(str(exc))
        return False
    if not values:
        return False
    actual = " ".join(scalar_text(v) for v in values).strip()
    expected = _unquote(expected)
    numbers = _number(actual), _number(expected)
    if numbers[0] is not None and numbers[1] is not None:
        return _compare(numbers[0], op, numbers[1])
    flags = _bool(actual), _bool(expected)
    if op in ("==", "!=") and flags[0] is not None and flags[1] is not None:
        return (flags[0] == flags[1]) == (op == "==")
    if op == "==":
        return actual == expected
    if op == "!=":
        return actual != expected
    warnings.append(f"{expr}: {op} needs numbers, found {actual!r}")
    return False


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def _compare(actual: float, op: str, expected: float) -> bool:
    return {
        "==": actual == expected,
        "!=": actual != expected,
        "<": actual < expected,
        "<=": actual <= expected,
        ">": actual > expected,
        ">=": actual >= expected,
    }[op]
