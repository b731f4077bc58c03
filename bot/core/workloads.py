"""Workload rules (first version: kstatus-like counters; pod-level causes follow)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.core.status import Assessment, Policy, State, spec_of, status_of

Rule = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]], datetime, Policy], Assessment]


def _assess_deployment(
    dep: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> Assessment:
    desired = spec_of(dep).get("replicas", 1)
    st = status_of(dep)
    ready = st.get("readyReplicas", 0)
    if (
        st.get("updatedReplicas", 0) == desired
        and st.get("availableReplicas", 0) == desired
        and ready == desired
        and st.get("replicas", 0) == desired
    ):
        return Assessment(State.CURRENT, f"{ready}/{desired} new pods ready", ready=ready, desired=desired)
    return Assessment(State.IN_PROGRESS, f"{ready}/{desired} pods ready", ready=ready, desired=desired)


RULES: dict[str, Rule] = {"Deployment": _assess_deployment}
