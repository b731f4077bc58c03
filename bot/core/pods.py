"""Pod rules (first version: phase and Ready only; container-level causes follow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.core.status import Assessment, Failure, Policy, State, condition_is, name_of, status_of


def assess_pod(
    pod: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy, *, hook: bool
) -> Assessment:
    phase = status_of(pod).get("phase") or "Pending"
    if phase == "Succeeded":
        return Assessment(State.CURRENT, "Succeeded")
    if phase == "Failed":
        reason = str(status_of(pod).get("reason") or "Failed")
        return Assessment(State.FAILED, reason, failures=(Failure("Pod", name_of(pod), reason),))
    if not hook and condition_is(pod, "Ready"):
        return Assessment(State.CURRENT, "Ready")
    return Assessment(State.IN_PROGRESS, phase)
