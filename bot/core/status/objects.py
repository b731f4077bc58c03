"""Reading Kubernetes objects as the API returns them (plain dicts): metadata, conditions, ownership,
label selectors, and the Events about an object.

Every accessor tolerates missing or mistyped fields: `assess()` sees whatever a cluster holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.core.model.policy import Policy
from bot.core.model.states import State
from bot.core.model.values import api_time
from bot.core.status.assessment import Assessment


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    labels = meta(obj).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def spec_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, Mapping) else {}


def status_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("status")
    return s if isinstance(s, Mapping) else {}


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    conditions = status_of(obj).get("conditions")
    if not isinstance(conditions, Sequence):
        return None
    for c in conditions:
        if isinstance(c, Mapping) and c.get("type") == ctype:
            return c
    return None


def condition_is(obj: Mapping[str, Any], ctype: str, value: str = "True") -> bool:
    c = condition(obj, ctype)
    return c is not None and str(c.get("status")) == value


def kind_is(obj: Mapping[str, Any], kind: str) -> bool:
    return obj.get("kind") == kind


def owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    """Controller ownerReference to `owner` (by uid when both have one, else by kind and name)."""
    owner_uid = meta(owner).get("uid")
    for ref in meta(obj).get("ownerReferences") or ():
        if not isinstance(ref, Mapping) or ref.get("kind") != owner.get("kind"):
            continue
        if owner_uid and ref.get("uid"):
            if ref.get("uid") == owner_uid:
                return True
        elif ref.get("name") == name_of(owner):
            return True
    return False


def has_controller(obj: Mapping[str, Any]) -> bool:
    return any(
        isinstance(ref, Mapping) and ref.get("controller") for ref in meta(obj).get("ownerReferences") or ()
    )


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions); an empty or absent selector matches nothing."""
    if not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expr in expressions:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def event_subject(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """involvedObject (core/v1) or regarding (events.k8s.io/v1)."""
    subject = event.get("involvedObject") or event.get("regarding")
    return subject if isinstance(subject, Mapping) else {}


def event_message(event: Mapping[str, Any]) -> str:
    return str(event.get("message") or event.get("note") or "")


def event_first_seen(event: Mapping[str, Any]) -> datetime | None:
    return (
        api_time(event.get("firstTimestamp"))
        or api_time(event.get("deprecatedFirstTimestamp"))
        or api_time(event.get("eventTime"))
        or api_time(meta(event).get("creationTimestamp"))
    )


def event_last_seen(event: Mapping[str, Any]) -> datetime | None:
    """The latest occurrence of an aggregated event (count bumps lastTimestamp / series.lastObservedTime)."""
    series = event.get("series")
    return (
        api_time(series.get("lastObservedTime") if isinstance(series, Mapping) else None)
        or api_time(event.get("lastTimestamp"))
        or api_time(event.get("deprecatedLastTimestamp"))
        or event_first_seen(event)
    )


def events_for(
    obj: Mapping[str, Any], related: Iterable[Mapping[str, Any]], policy: Policy
) -> list[Mapping[str, Any]]:
    """Events about `obj`, oldest first; events from before the object (a previous object with the same
    name, a previous release) or that last occurred before `policy.tracking_started` are left out: a
    recurring event (FailedMount retries) that began just before tracking started still counts."""
    created = api_time(meta(obj).get("creationTimestamp"))
    uid = meta(obj).get("uid")
    found: list[tuple[datetime, Mapping[str, Any]]] = []
    for event in related:
        if event.get("kind") != "Event":
            continue
        subject = event_subject(event)
        if subject.get("kind") != obj.get("kind") or subject.get("name") != name_of(obj):
            continue
        if uid and subject.get("uid") and subject.get("uid") != uid:
            continue
        first = event_first_seen(event)
        if first is None:
            continue
        if created is not None and first < created:
            continue
        last = event_last_seen(event) or first
        if policy.tracking_started is not None and last < policy.tracking_started:
            continue
        found.append((first, event))
    found.sort(key=lambda pair: pair[0])
    return [event for _, event in found]


def stale_condition(obj: Mapping[str, Any], cond: Mapping[str, Any]) -> Assessment | None:
    """A condition written for an older generation (Flux, cert-manager and Crossplane set
    observedGeneration per condition): it says nothing about the current spec yet."""
    generation = meta(obj).get("generation")
    observed = cond.get("observedGeneration")
    if not isinstance(generation, int) or isinstance(generation, bool) or observed is None:
        return None
    if as_int(observed, generation) >= generation:
        return None
    return Assessment(
        State.IN_PROGRESS,
        f"{cond.get('type')} condition is for generation {as_int(observed)}, object is at {generation}",
    )
