"""Label and field selectors, in their query-string form and as LabelSelector objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from bot.sim.store import ApiError

Matcher = Callable[[Mapping[str, str]], bool]
_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./:-]*)\s*$")


def _split(expr: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def _requirement(term: str) -> Matcher:
    eq = _EQ_RE.match(term)
    if eq:
        key, op, value = eq.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    found = _SET_RE.match(term)
    if not found:
        raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    neg, key, op, values = found.groups()
    if op:
        allowed = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    if neg:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def parse_label_selector(expr: str | None) -> Matcher:
    terms = [_requirement(t) for t in _split(expr or "")]
    return lambda labels: all(t(labels) for t in terms)


def match_label_selector(selector: Mapping | None, labels: Mapping[str, str] | None) -> bool:
    """A metav1.LabelSelector (matchLabels/matchExpressions) against labels. An empty selector matches all."""
    labels = labels or {}
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In":
            ok = labels.get(key) in values
        elif op == "NotIn":
            ok = labels.get(key) not in values
        elif op in ("Exists", "DoesNotExist"):
            ok = (key in labels) == (op == "Exists")
        else:
            ok = False
        if not ok:
            return False
    return True


def selector_string(selector: Mapping | None) -> str:
    """A LabelSelector as the query-string form (used for Scale.status.selector)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or []))
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": f"{key}",
                "DoesNotExist": f"!{key}",
            }.get(op, "")
        )
    return ",".join(p for p in parts if p)


def _field_value(obj: Mapping, path: str) -> str:
    cur: object = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


_EVENT_FIELDS = frozenset(
    [f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion",
                                     "fieldPath")]
    + ["reason", "reportingComponent", "source", "type"]
)
# Field labels each kind supports besides metadata.name and metadata.namespace (as the apiserver has them).
FIELD_LABELS: dict[str, frozenset[str]] = {
    "/pods": frozenset({"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                        "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP",
                        "status.podIPs", "status.nominatedNodeName"}),
    "/events": _EVENT_FIELDS,
    "events.k8s.io/events": frozenset(
        [f"regarding.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion",
                                    "fieldPath")]
        + ["reason", "reportingController", "type"]
    ),
    "/secrets": frozenset({"type"}),
    "/namespaces": frozenset({"status.phase"}),
    "/nodes": frozenset({"spec.unschedulable"}),
    "/services": frozenset({"spec.clusterIP", "spec.type"}),
    "/persistentvolumeclaims": frozenset({"spec.volumeName"}),
    "apps/replicasets": frozenset({"status.replicas"}),
    "batch/jobs": frozenset({"status.successful"}),
}
_FIELD_ALIASES = {("/events", "source"): "source.component"}


def parse_field_selector(expr: str | None, key: str | None = None) -> Callable[[Mapping], bool]:
    """A fieldSelector; with `key` (a store key), a field the kind lacks is a 400, as on a cluster."""
    terms: list[tuple[str, bool, str]] = []
    for term in _split(expr or ""):
        found = _EQ_RE.match(term)
        if not found:
            raise ApiError(400, "BadRequest", f"invalid field selector: {term!r}")
        path, op, value = found.groups()
        known = ("metadata.name", "metadata.namespace", *FIELD_LABELS.get(key or "", ()))
        if key is not None and path not in known:
            raise ApiError(400, "BadRequest", f"field label not supported: {path}")
        terms.append((_FIELD_ALIASES.get((key or "", path), path), op == "!=", value))
    return lambda obj: all(
        (_field_value(obj, p) != v) if neg else (_field_value(obj, p) == v) for p, neg, v in terms
    )
