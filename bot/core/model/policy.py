"""Grace periods for causes an operator may still fix, and their JSON form (kept in a tracker's state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from bot.core.model.status_rules import StatusRule, rule_from_dict, rule_to_dict
from bot.core.model.values import json_safe, parse_time


@dataclass(frozen=True)
class Policy:
    """Grace periods for causes an operator may still fix; tests and the demo shorten them.

    `tracking_started`: events last seen before it are ignored (a previous release's FailedMount must not
    fail this one); events created before the object itself are always ignored.
    `status_rules`: the users' rules for custom resources (config `status_rules:`), tried before the
    built-in table (bot.core.status.known_rules).
    """

    config_error_grace: timedelta = timedelta(seconds=45)
    unschedulable_grace: timedelta = timedelta(seconds=60)
    tracking_started: datetime | None = None
    status_rules: tuple[StatusRule, ...] = ()


DEFAULT_POLICY = Policy()


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(policy):
        value = getattr(policy, f.name)
        if f.name == "status_rules":
            out[f.name] = [rule_to_dict(rule) for rule in value]
            continue
        out[f.name] = {"seconds": value.total_seconds()} if isinstance(value, timedelta) else json_safe(value)
    return out


def policy_from_dict(raw: Mapping[str, Any]) -> Policy:
    kwargs: dict[str, Any] = {}
    for f in fields(Policy):
        if f.name not in raw:
            continue
        value = raw[f.name]
        if f.name == "status_rules":
            value = tuple(rule_from_dict(rule) for rule in value or ())
        elif isinstance(value, Mapping) and "seconds" in value:
            value = timedelta(seconds=value["seconds"])
        elif isinstance(value, str) and isinstance(f.default, datetime | type(None)):
            value = parse_time(value)
        kwargs[f.name] = value
    return Policy(**kwargs)
