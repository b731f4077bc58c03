"""Injected faults: error responses, dropped watches, 410 Gone mid-watch, latency.

A rule as a CLI spec: ``KIND[:VALUE][;key=value]...``. KINDs: ``error:CODE`` (500, 429, 403, 401, ...;
``retry_after=S`` for 429), ``drop-watch``, ``gone``, ``latency:SECONDS``. Keys: ``verbs=get,list``,
``resources=pods,apps/deployments``, ``namespace=ns``, ``times=N`` (then the rule is spent), ``after=N``
(watch rules: after N events), ``every=N`` (error and latency rules: only every Nth matching request, so
a share of requests fails, deterministically). Examples: ``error:500;verbs=create;resources=secrets;times=1``,
``error:429;retry_after=2``, ``drop-watch;after=3;resources=jobs``, ``gone;after=5``,
``latency:0.2;verbs=list``. As JSON (``POST /_sim/faults``): ``{"kind": "error", "code": 500}``.
Restarts are a `Cluster` operation (``Cluster.restart(keep_state=...)`` or ``POST /_sim/restart``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

from bot.sim.store import ApiError

KINDS = ("error", "drop-watch", "gone", "latency")
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass
class FaultRule:
    kind: str
    code: int = 500
    verbs: list[str] = field(default_factory=list)  # empty: any
    resources: list[str] = field(default_factory=list)  # plural ("pods") or store key ("apps/deployments")
    namespace: str | None = None
    times: int | None = None  # remaining firings; None: unlimited
    retry_after: int = 1
    after: int = 0
    seconds: float = 0.0
    every: int = 1  # error/latency rules fire on every Nth matching request only
    seen: int = 0  # matching requests so far (for `every`)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.every < 1:
            raise ValueError(f"every must be at least 1, got {self.every}")

    def matches(self, verb: str, key: str, namespace: str | None) -> bool:
        plural = key.partition("/")[2]
        return (
            (not self.verbs or verb in self.verbs)
            and (not self.resources or key in self.resources or plural in self.resources)
            and (self.namespace is None or self.namespace == namespace)
            and (self.times is None or self.times > 0)
        )

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        head, *options = [p.strip() for p in spec.split(";") if p.strip()]
        kind, _, value = head.partition(":")
        rule = cls(kind=kind)
        if value:
            if kind == "error":
                rule.code = int(value)
            elif kind == "latency":
                rule.seconds = float(value)
            else:
                raise ValueError(f"fault {kind!r} takes no value: {spec!r}")
        for opt in options:
            name, _, val = opt.partition("=")
            if name in ("verbs", "resources"):
                setattr(rule, name, [v for v in val.split(",") if v])
            elif name == "namespace":
                rule.namespace = val
            elif name in ("times", "retry_after", "after", "code", "every"):
                setattr(rule, name, int(val))
            elif name == "seconds":
                rule.seconds = float(val)
            else:
                raise ValueError(f"unknown fault option {name!r} in {spec!r}")
        rule.__post_init__()
        return rule

    @classmethod
    def from_dict(cls, data: dict) -> FaultRule:
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class WatchFault:
    kind: str  # "drop-watch" | "gone"
    after: int


SERVICE_ACCOUNT = "system:serviceaccount:default:helmbot"


def _forbidden(
    verb: str, key: str, namespace: str | None, name: str | None, subresource: str | None
) -> ApiError:
    """An RBAC denial as the apiserver words it."""
    group, _, plural = key.partition("/")
    what = f"{plural}.{group}" if group else plural
    subject = f'{what} "{name}"' if name else what
    resource = f"{plural}/{subresource}" if subresource else plural
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{SERVICE_ACCOUNT}" cannot {verb} resource "{resource}" '
               f'in API group "{group}" {where}')
    details: dict = {"group": group, "kind": plural}
    if name:
        details["name"] = name
    return ApiError(403, "Forbidden", message, details=details)


class Faults:
    """The active rules; thread-safe. `times` counts down when a rule fires; spent rules are dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule | str | dict) -> FaultRule:
        if isinstance(rule, str):
            rule = FaultRule.parse(rule)
        elif isinstance(rule, dict):
            rule = FaultRule.from_dict(rule)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def _take(self, rule: FaultRule) -> None:
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0 and rule in self._rules:
                self._rules.remove(rule)

    def before_request(self, verb: str, key: str, namespace: str | None, *, name: str | None = None,
                       subresource: str | None = None) -> ApiError | None:
        """Sleep for latency rules; return the injected error, if any."""
        delay, error = 0.0, None
        with self._lock:
            for rule in list(self._rules):
                if rule.kind not in ("latency", "error") or not rule.matches(verb, key, namespace):
                    continue
                if rule.kind == "error" and error is not None:
                    continue
                rule.seen += 1
                if rule.seen % rule.every:
                    continue
                if rule.kind == "latency":
                    delay += rule.seconds
                    self._take(rule)
                else:
                    self._take(rule)
                    reason = _REASONS.get(rule.code, "InternalError")
                    if rule.code == 403:
                        error = _forbidden(verb, key, namespace, name, subresource)
                        continue
                    details = {"retryAfterSeconds": rule.retry_after} if rule.code == 429 else None
                    error = ApiError(
                        rule.code, reason, f"injected fault: {reason} ({verb} {key})", details=details
                    )
        if delay:
            time.sleep(delay)
        return error

    def watch_fault(self, key: str, namespace: str | None, sent: int) -> WatchFault | None:
        """The watch rule that fires now for a stream that has sent `sent` events (consumed when it fires).

        Called on every step of every open watch, so rules added at run time reach watches already open.
        """
        with self._lock:
            for rule in list(self._rules):
                if rule.kind in ("drop-watch", "gone") and rule.matches("watch", key, namespace) \
                        and sent >= rule.after:
                    self._take(rule)
                    return WatchFault(rule.kind, rule.after)
        return None
