"""Custom resources with a status rule: the users' rules (config `status_rules:`, via Policy) first, then
the built-in table of well-known kinds (known_rules). The first rule whose field holds one of its values
decides; none does: the generic rules judge the object.

The text names the condition the field lies in ("Ready=False (SecretSyncedError): could not get secret
data from provider") or the field and its value ("status.phase is Degraded: ..."). A failed value with
`failed_after` stays in progress until it has lasted that long, measured from the condition's (or the
field's parent's) lastTransitionTime, else from when tracking started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.core.model.durations import format_age, format_duration
from bot.core.model.failures import Failure
from bot.core.model.kinds import group_of
from bot.core.model.policy import Policy
from bot.core.model.states import State
from bot.core.model.status_rules import StatusRule
from bot.core.model.values import api_time
from bot.core.status.assessment import Assessment
from bot.core.status.known_rules import KNOWN_RULES
from bot.core.status.objects import name_of, stale_condition, status_of
from bot.core.status.paths import parse_path, path_values, scalar_text


def rules_for(policy: Policy) -> tuple[StatusRule, ...]:
    return (*policy.status_rules, *KNOWN_RULES)


def assess_by_rules(
    obj: Mapping[str, Any], rules: Sequence[StatusRule], now: datetime, policy: Policy
) -> Assessment | None:
    kind, group = str(obj.get("kind")), group_of(str(obj.get("apiVersion") or ""))
    for rule in rules:
        if not rule.matches(kind, group):
            continue
        try:
            steps = parse_path(rule.field)
        except ValueError:
            continue  # the configuration checks paths; an unreadable one decides nothing
        values = path_values(obj, steps)
        if not values or isinstance(values[0], Mapping | list):
            continue
        value = scalar_text(values[0])
        state = rule.state_of(value)
        if state is None:
            continue
        parents = path_values(obj, steps[:-1])
        parent = parents[0] if parents and isinstance(parents[0], Mapping) else {}
        cond = parent if "type" in parent and "status" in parent else None
        if cond is not None:
            stale = stale_condition(obj, cond)
            if stale is not None:
                return stale
        text, reason, message = _describe(obj, rule, value, cond)
        if state == "current":
            return Assessment(State.CURRENT, text)
        if state == "in_progress":
            return Assessment(State.IN_PROGRESS, text)
        since = api_time(parent.get("lastTransitionTime")) or policy.tracking_started
        if rule.failed_after is not None and since is not None and now - since < rule.failed_after:
            return Assessment(State.IN_PROGRESS, _grace_text(text, now - since, rule.failed_after))
        failure = Failure(kind, name_of(obj), reason, message)
        return Assessment(State.FAILED, text, failures=(failure,))
    return None


def _describe(
    obj: Mapping[str, Any], rule: StatusRule, value: str, cond: Mapping[str, Any] | None
) -> tuple[str, str, str]:
    """(text, failure reason, failure message)."""
    if cond is not None:
        reason = str(cond.get("reason") or "")
        message = str(cond.get("message") or "")
        text = f"{cond.get('type')}={cond.get('status')}" + (f" ({reason})" if reason else "")
        return text + (f": {message}" if message else ""), reason or value, message
    raw = status_of(obj).get("message")
    message = raw if isinstance(raw, str) else ""
    text = f"{rule.field} is {value}" + (f": {message}" if message else "")
    return text, value, message


def _grace_text(text: str, age: timedelta, grace: timedelta) -> str:
    return f"{text} (for {format_age(age)}; counts as failed after {format_duration(grace)})"
