"""Is a Kubernetes object current, still in progress, or failed? (the public entry point)

`assess()` takes one object exactly as the API returns it, plus whatever related objects the caller saw
(ReplicaSets, Pods, Events, ControllerRevisions, StorageClasses), and answers early and correctly:

- generation first: a status that describes an older spec never makes an object current;
- "current" means finished (a running Job or a hook Pod that still runs is not current), unlike kstatus;
- pod-level causes (CrashLoopBackOff, image pull, config errors, unschedulable, missing ConfigMap/Secret
  mounts) fail a workload minutes before its own progress deadline, but only for pods of the *new*
  revision: old ReplicaSet pods neither count as progress nor fail a rollout;
- grace periods (`Policy`) apply to causes an operator may still fix (a Secret created a bit later).

Order of the checks (every kind): deletionTimestamp → in_progress "terminating" (deletion is routine, e.g. a
before-hook-creation delete; the tracker decides what a disappearance means) → generation (observedGeneration
< generation → in_progress; missing observedGeneration counts as 0 for the built-in controllers, is skipped
for custom resources) → Stalled=True failed / Reconciling=True in_progress → the kind's rule:
- Pod (bot.core.pods): hook → current ⇔ Succeeded, failed ⇔ Failed; regular → current ⇔ Ready=True.
- Deployment, ReplicaSet, StatefulSet, DaemonSet, Job: bot.core.workloads.
- PersistentVolumeClaim: Bound current, Lost failed, else in_progress (+ warning for WaitForFirstConsumer).
- Service: LoadBalancer without status.loadBalancer.ingress and without spec.externalIPs → in_progress.
- CustomResourceDefinition: NamesAccepted=False failed; Established=True current; Established=False
  failed unless reason Installing; else in_progress.
- PodDisruptionBudget, ConfigMap, Secret: current. CronJob: current (suspended: + warning).
- anything else: Ready condition (True current, False/Unknown in_progress), then status.phase / state /
  health / status word lists (failed, in progress, ready), else current.
A Ready or Stalled condition whose own observedGeneration is below metadata.generation (Flux, cert-manager,
Crossplane write it per condition) describes an older spec: in_progress, whatever it says.

The rules are those of ../shared/docs/rollout-status.md §4/§5; the kind-specific ones live in
`bot.core.pods` (pods and their containers) and `bot.core.workloads` (Deployment, ReplicaSet,
StatefulSet, DaemonSet, Job). This module holds the data types, the shared helpers, the kinds that need
no pods, and the generic rules for custom resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

__all__ = ["DEFAULT_POLICY", "Assessment", "Failure", "Policy", "State", "assess"]


class State(str, Enum):  # noqa: UP042 - the contract's type; str() stays "State.X"
    CURRENT = "current"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"


@dataclass(frozen=True)
class Failure:
    """One concrete cause, enough for a Slack thread reply and for fetching the failing container's log."""

    kind: str
    name: str
    reason: str
    message: str = ""
    container: str | None = None
    init_container: bool = False
    exit_code: int | None = None
    restarts: int | None = None


@dataclass(frozen=True)
class Assessment:
    state: State
    reason: str
    failures: tuple[Failure, ...] = ()
    ready: int | None = None
    desired: int | None = None
    warnings: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """Grace periods for causes an operator may still fix; tests and the demo shorten them.

    `tracking_started`: events last seen before it are ignored (a previous release's FailedMount must not
    fail this one); events created before the object itself are always ignored.
    """

    config_error_grace: timedelta = timedelta(seconds=45)
    unschedulable_grace: timedelta = timedelta(seconds=60)
    tracking_started: datetime | None = None


DEFAULT_POLICY = Policy()


def assess(
    obj: Mapping[str, Any],
    *,
    related: Iterable[Mapping[str, Any]] = (),
    now: datetime | None = None,
    hook: bool = False,
    policy: Policy = DEFAULT_POLICY,
) -> Assessment:
    """Assess one object. `related` may hold anything from the namespace; only what belongs is used.

    `hook=True` judges a Pod as a Helm hook (done only when Succeeded). Raises ValueError on input that is
    not a Kubernetes object or on a naive `now`.
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f"assess() needs a Kubernetes object as a dict, got {type(obj).__name__}")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ValueError("assess() needs an object with a 'kind' (as the API returns it)")
    if not isinstance(obj.get("metadata"), Mapping):
        raise ValueError(f"{kind} has no metadata")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if isinstance(related, (str, bytes, Mapping)):
        raise ValueError("related must be a sequence of objects, not a single object or string")
    namespace = obj["metadata"].get("namespace")
    others = [r for r in related if isinstance(r, Mapping) and r is not obj and _same_namespace(r, namespace)]
    return _assess(obj, others, now, hook, policy)


# ----------------------------------------------------------------------------------------------------
# shared helpers (used by bot.core.pods and bot.core.workloads; not part of the public API)


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 Time or MicroTime → aware datetime; None (ignored) for absent or malformed values."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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
        parse_time(event.get("firstTimestamp"))
        or parse_time(event.get("deprecatedFirstTimestamp"))
        or parse_time(event.get("eventTime"))
        or parse_time(meta(event).get("creationTimestamp"))
    )


def event_last_seen(event: Mapping[str, Any]) -> datetime | None:
    """The latest occurrence of an aggregated event (count bumps lastTimestamp / series.lastObservedTime)."""
    series = event.get("series")
    return (
        parse_time(series.get("lastObservedTime") if isinstance(series, Mapping) else None)
        or parse_time(event.get("lastTimestamp"))
        or parse_time(event.get("deprecatedLastTimestamp"))
        or event_first_seen(event)
    )


def events_for(
    obj: Mapping[str, Any], related: Iterable[Mapping[str, Any]], policy: Policy
) -> list[Mapping[str, Any]]:
    """Events about `obj`, oldest first; events from before the object (a previous object with the same
    name, a previous release) or that last occurred before `policy.tracking_started` are left out: a
    recurring event (FailedMount retries) that began just before tracking started still counts."""
    created = parse_time(meta(obj).get("creationTimestamp"))
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


def format_age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# ----------------------------------------------------------------------------------------------------
# dispatch


def _same_namespace(other: Mapping[str, Any], namespace: Any) -> bool:
    other_ns = meta(other).get("namespace")
    # cluster-scoped objects (StorageClass) and objects without a namespace are kept
    return not other_ns or not namespace or other_ns == namespace


def _assess(
    obj: Mapping[str, Any], related: list[Mapping[str, Any]], now: datetime, hook: bool, policy: Policy
) -> Assessment:
    # Imported here because those modules import the types above (they are this module's parts).
    from bot.core import pods, workloads

    kind = str(obj["kind"])
    if meta(obj).get("deletionTimestamp"):
        # Terminating: the object is on its way out, which is neither done nor a failure in itself
        # (a before-hook-creation delete is routine). The tracker decides what a disappearance means.
        return Assessment(State.IN_PROGRESS, f"{kind} {name_of(obj)} is terminating")
    lag = _generation_lag(obj)
    if lag is not None:
        return lag
    stalled = _stalled_or_reconciling(obj)
    if stalled is not None:
        return stalled
    if kind == "Pod":
        return pods.assess_pod(obj, related, now, policy, hook=hook)
    rule = workloads.RULES.get(kind)
    if rule is not None:
        return rule(obj, related, now, policy)
    simple = _SIMPLE_RULES.get(kind)
    if simple is not None:
        return simple(obj, related)
    return _assess_generic(obj)


_CONTROLLERS_WITH_OBSERVED_GENERATION = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})


def _generation_lag(obj: Mapping[str, Any]) -> Assessment | None:
    generation = meta(obj).get("generation")
    observed = status_of(obj).get("observedGeneration")
    if not isinstance(generation, int) or isinstance(generation, bool):
        return None
    if observed is None:
        # Built-in controllers always write observedGeneration; its absence means "not seen yet".
        # Many custom resources never write it, so for them the check is skipped (as kstatus does).
        if obj.get("kind") not in _CONTROLLERS_WITH_OBSERVED_GENERATION:
            return None
        observed = 0
    if as_int(observed) < generation:
        return Assessment(State.IN_PROGRESS, f"controller has not observed generation {generation} yet")
    return None


def _stale_condition(obj: Mapping[str, Any], cond: Mapping[str, Any]) -> Assessment | None:
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


def _stalled_or_reconciling(obj: Mapping[str, Any]) -> Assessment | None:
    stalled = condition(obj, "Stalled")
    if stalled is not None and stalled.get("status") == "True":
        stale = _stale_condition(obj, stalled)
        if stale is not None:
            return stale
        reason = str(stalled.get("reason") or "Stalled")
        message = str(stalled.get("message") or "")
        kind, name = str(obj["kind"]), name_of(obj)
        text = f"Stalled: {reason}" + (f": {message}" if message else "")
        return Assessment(State.FAILED, text, failures=(Failure(kind, name, reason, message),))
    reconciling = condition(obj, "Reconciling")
    if reconciling is not None and reconciling.get("status") == "True":
        detail = str(reconciling.get("message") or reconciling.get("reason") or "")
        return Assessment(State.IN_PROGRESS, "reconciling" + (f": {detail}" if detail else ""))
    return None


# ----------------------------------------------------------------------------------------------------
# kinds that need no pods


def _assess_pvc(pvc: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> Assessment:
    phase = status_of(pvc).get("phase") or "Pending"
    if phase == "Bound":
        return Assessment(State.CURRENT, "Bound")
    if phase == "Lost":
        failure = Failure("PersistentVolumeClaim", name_of(pvc), "Lost", "the bound PersistentVolume is gone")
        return Assessment(State.FAILED, "Lost: the bound PersistentVolume is gone", failures=(failure,))
    warnings: tuple[str, ...] = ()
    if _waits_for_first_consumer(pvc, related):
        warnings = ("WaitForFirstConsumer: the volume is bound only once a pod uses the claim",)
    return Assessment(State.IN_PROGRESS, f"{phase}: waiting for a volume", warnings=warnings)


def _waits_for_first_consumer(pvc: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> bool:
    class_name = spec_of(pvc).get("storageClassName")
    for sc in related:
        if sc.get("kind") != "StorageClass" or sc.get("volumeBindingMode") != "WaitForFirstConsumer":
            continue
        is_default = meta(sc).get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        if name_of(sc) == class_name or (class_name is None and is_default == "true"):
            return True
    # Without the StorageClass, the PV controller's event says the same.
    return any(e.get("reason") == "WaitForFirstConsumer" for e in events_for(pvc, related, DEFAULT_POLICY))


def _assess_service(svc: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> Assessment:
    spec = spec_of(svc)
    svc_type = spec.get("type") or "ClusterIP"
    if svc_type != "LoadBalancer":
        return Assessment(State.CURRENT, svc_type)
    ingress = (status_of(svc).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        first = ingress[0]
        address = first.get("ip") or first.get("hostname") or "an address"
        return Assessment(State.CURRENT, f"LoadBalancer ready at {address}")
    if spec.get("externalIPs"):
        return Assessment(State.CURRENT, f"LoadBalancer with externalIPs {', '.join(spec['externalIPs'])}")
    return Assessment(State.IN_PROGRESS, "LoadBalancer: waiting for an ingress address")


def _assess_crd(crd: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> Assessment:
    names = condition(crd, "NamesAccepted")
    if names is not None and names.get("status") == "False":
        return _condition_failure(crd, names, "NamesNotAccepted")
    established = condition(crd, "Established")
    if established is not None and established.get("status") == "True":
        return Assessment(State.CURRENT, "Established")
    if (
        established is not None
        and established.get("status") == "False"
        and established.get("reason") != ("Installing")
    ):
        return _condition_failure(crd, established, "NotEstablished")
    return Assessment(State.IN_PROGRESS, "waiting for the CRD to be established")


def _condition_failure(obj: Mapping[str, Any], cond: Mapping[str, Any], fallback: str) -> Assessment:
    reason = str(cond.get("reason") or fallback)
    message = str(cond.get("message") or "")
    text = f"{cond.get('type')}={cond.get('status')}: {reason}" + (f": {message}" if message else "")
    failure = Failure(str(obj["kind"]), name_of(obj), reason, message)
    return Assessment(State.FAILED, text, failures=(failure,))


def _assess_cronjob(cronjob: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> Assessment:
    if spec_of(cronjob).get("suspend") is True:
        return Assessment(State.CURRENT, "suspended", warnings=("suspended: no Jobs are scheduled",))
    return Assessment(State.CURRENT, f"scheduled ({spec_of(cronjob).get('schedule', '?')})")


def _assess_always_current(obj: Mapping[str, Any], related: Sequence[Mapping[str, Any]]) -> Assessment:
    return Assessment(State.CURRENT, "exists")


_SIMPLE_RULES = {
    "PersistentVolumeClaim": _assess_pvc,
    "Service": _assess_service,
    "CustomResourceDefinition": _assess_crd,
    "CronJob": _assess_cronjob,
    "PodDisruptionBudget": _assess_always_current,
    "ConfigMap": _assess_always_current,
    "Secret": _assess_always_current,
}


# ----------------------------------------------------------------------------------------------------
# custom resources and everything else

_FAILED_WORDS = frozenset(
    {"failed", "failure", "error", "errored", "abort", "aborted", "rejected", "degraded"}
)
_PROGRESS_WORDS = frozenset(
    {
        "pending", "creating", "updating", "waiting", "progressing", "inprogress", "unknown", "provisioning",
        "deploying", "starting", "initializing", "reconciling", "scheduling", "deleting", "terminating",
        "suspended", "missing", "notready", "unavailable", "upgrading", "installing", "queued",
    }
)  # fmt: skip
_READY_WORDS = frozenset(
    {
        "ready", "success", "succeeded", "successful", "complete", "completed", "finished", "done",
        "available", "running", "ok", "active", "healthy", "bound", "established", "deployed", "synced",
        "online", "up", "valid", "issued",
    }
)  # fmt: skip


def _status_words(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value) for status.phase / state / health / status (string, or health.status as Argo CD)."""
    status = status_of(obj)
    found = []
    for field in ("phase", "state", "health", "status", "currentPhase", "currentState", "currentHealth"):
        value = status.get(field)
        if isinstance(value, Mapping):
            value = value.get("status")
            field = f"{field}.status"
        if isinstance(value, str) and value.strip():
            found.append((field, value.strip()))
    return found


def _word_state(value: str) -> State | None:
    word = re.sub(r"[\s_-]", "", value.lower())
    if word in _FAILED_WORDS or word.endswith("failed") or word.endswith("error"):
        return State.FAILED
    if word in _PROGRESS_WORDS:
        return State.IN_PROGRESS
    if word in _READY_WORDS:
        return State.CURRENT
    return None


def _assess_generic(obj: Mapping[str, Any]) -> Assessment:
    kind, name = str(obj["kind"]), name_of(obj)
    ready = condition(obj, "Ready")
    if ready is not None:
        stale = _stale_condition(obj, ready)
        if stale is not None:
            return stale
        detail = str(ready.get("message") or ready.get("reason") or "")
        suffix = f": {detail}" if detail else ""
        if ready.get("status") == "True":
            return Assessment(State.CURRENT, "Ready" + suffix)
        return Assessment(State.IN_PROGRESS, f"Ready={ready.get('status') or 'Unknown'}{suffix}")
    for field, value in _status_words(obj):
        state = _word_state(value)
        if state is None:
            continue
        text = f"status.{field} is {value}"
        message = status_of(obj).get("message") or status_of(obj).get("reason")
        if isinstance(message, str) and message:
            text += f": {message}"
        if state is State.FAILED:
            failure = Failure(kind, name, value, str(message or ""))
            return Assessment(State.FAILED, text, failures=(failure,))
        return Assessment(state, text)
    return Assessment(State.CURRENT, "exists (no readiness signal)")
