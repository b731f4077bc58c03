"""Helpers shared by the controllers: time stamps, owner references, conditions, pod state, hashing."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from bot.sim.store import Store, fmt_time

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet


def ts(t: datetime) -> str:
    return fmt_time(t)


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def seconds_since(value: str | None, now: datetime) -> float:
    t = parse_ts(value)
    return (now - t).total_seconds() if t else 0.0


def later(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def template_hash(template: dict, collision: int = 0) -> str:
    """A stable, label-safe hash of a pod template (like pod-template-hash / controller-revision-hash)."""
    blob = json.dumps(template, sort_keys=True, separators=(",", ":")) + f"#{collision}"
    n = int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big")
    out = []
    for _ in range(10):
        n, r = divmod(n, len(SAFE_ALPHABET))
        out.append(SAFE_ALPHABET[r])
    return "".join(out)


def random_suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(n))


def owner_ref(owner: dict) -> dict:
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: dict, owner_uid: str) -> bool:
    return any(
        r.get("uid") == owner_uid and r.get("controller")
        for r in obj["metadata"].get("ownerReferences") or []
    )


def owned(store: Store, key: str, owner: dict) -> list[dict]:
    meta = owner["metadata"]
    return [o for o in store.list(key, meta.get("namespace")) if controlled_by(o, meta["uid"])]


def by_creation(objs: Iterable[dict]) -> list[dict]:
    return sorted(objs, key=lambda o: (o["metadata"].get("creationTimestamp", ""), o["metadata"]["name"]))


def get_condition(obj: dict, ctype: str) -> dict | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def condition_true(obj: dict, ctype: str) -> bool:
    cond = get_condition(obj, ctype)
    return bool(cond and cond.get("status") == "True")


def set_condition(
    status: dict,
    ctype: str,
    cstatus: str,
    reason: str,
    message: str,
    now: datetime,
    *,
    update_time: bool = False,
    bump_update: bool = True,
) -> None:
    """Upsert a condition; lastTransitionTime changes only when the status flips (as the API conventions say).

    `update_time` adds lastUpdateTime (Deployments); `bump_update` refreshes it even if nothing else changed.
    """
    conds: list[dict] = status.setdefault("conditions", [])
    for cond in conds:
        if cond.get("type") == ctype:
            flipped = cond.get("status") != cstatus
            changed = flipped or cond.get("reason") != reason or cond.get("message") != message
            if flipped:
                cond["lastTransitionTime"] = ts(now)
            if update_time and (changed or bump_update):
                cond["lastUpdateTime"] = ts(now)
            cond.update(status=cstatus, reason=reason, message=message)
            return
    cond = {"type": ctype, "status": cstatus}
    if update_time:
        cond["lastUpdateTime"] = ts(now)
    cond.update(lastTransitionTime=ts(now), reason=reason, message=message)
    conds.append(cond)


def remove_condition(status: dict, ctype: str) -> None:
    if "conditions" in status:
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != ctype]
        if not status["conditions"]:
            del status["conditions"]


def int_or_percent(value: object, total: int, *, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        frac = int(value[:-1]) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(value)  # type: ignore[call-overload]


# ---- pods -------------------------------------------------------------------------------------------------


def is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: dict) -> bool:
    return not is_terminating(pod) and not is_terminal(pod)


def pod_ready(pod: dict) -> bool:
    return condition_true(pod, "Ready")


def pod_available(pod: dict, min_ready_seconds: int, now: datetime) -> bool:
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    cond = get_condition(pod, "Ready") or {}
    return seconds_since(cond.get("lastTransitionTime"), now) >= min_ready_seconds


def event(
    store: Store,
    obj: dict,
    reason: str,
    message: str,
    *,
    warning: bool = False,
    component: str = "kubelet",
    field_path: str | None = None,
    action: str | None = None,
) -> None:
    """Record an Event; `action` writes it events.k8s.io-style (eventTime, series), as the scheduler does."""
    store.record_event(
        obj,
        reason,
        message,
        type="Warning" if warning else "Normal",
        component=component,
        field_path=field_path,
        new_style=action is not None,
        action=action,
    )


def backoff(base: float, cap: float, attempt: int) -> float:
    """attempt 1 -> base, 2 -> 2*base, ... capped."""
    return min(cap, base * (2 ** max(0, attempt - 1)))
