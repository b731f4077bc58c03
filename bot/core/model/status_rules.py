"""A status rule: for one kind of custom resource, which values of one field mean current, in progress or
failed (the shape of kubedog's contributed rules, `contrib_resource_status_rules.yaml`, plus a grace).

The built-in table (bot.core.status.known_rules) and the rules users add in the configuration
(`status_rules:`) are both data of this shape; `Policy.status_rules` carries the users' ones to `assess()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

ANY_KIND = "*"


@dataclass(frozen=True)
class StatusRule:
    """`field` is a dotted path; `conditions[Ready]` picks the condition of that type, so
    `status.conditions[Ready].status` and `status.conditions[Ready].reason` read one condition. The value
    found (compared case-insensitively) decides if it is in one of the lists; otherwise the next rule for
    the kind is tried, then the generic rules. A `failed` value fails only once it has lasted
    `failed_after` (from the condition's lastTransitionTime), so an operator's transient error can clear.

    `kind` "*" matches every custom kind (a convention a family of operators shares, like Crossplane's
    Synced condition); `group` None matches any group."""

    kind: str
    field: str
    group: str | None = None
    current: tuple[str, ...] = ()
    in_progress: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    failed_after: timedelta | None = None

    def matches(self, kind: str, group: str) -> bool:
        return self.kind in (kind, ANY_KIND) and (self.group is None or self.group == group)

    def state_of(self, value: str) -> str | None:
        """ "current", "in_progress", "failed" or None for a value the rule does not name."""
        folded = value.casefold()
        for state, values in (
            ("failed", self.failed),
            ("current", self.current),
            ("in_progress", self.in_progress),
        ):
            if any(folded == v.casefold() for v in values):
                return state
        return None


def rule_to_dict(rule: StatusRule) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": rule.kind,
        "field": rule.field,
        "group": rule.group,
        "current": list(rule.current),
        "in_progress": list(rule.in_progress),
        "failed": list(rule.failed),
    }
    if rule.failed_after is not None:
        out["failed_after_seconds"] = rule.failed_after.total_seconds()
    return out


def rule_from_dict(raw: Mapping[str, Any]) -> StatusRule:
    after = raw.get("failed_after_seconds")
    return StatusRule(
        kind=str(raw["kind"]),
        field=str(raw["field"]),
        group=None if raw.get("group") is None else str(raw["group"]),
        current=tuple(map(str, raw.get("current") or ())),
        in_progress=tuple(map(str, raw.get("in_progress") or ())),
        failed=tuple(map(str, raw.get("failed") or ())),
        failed_after=None if after is None else timedelta(seconds=float(after)),
    )
