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
- Pod (pods): hook → current ⇔ Succeeded, failed ⇔ Failed; regular → current ⇔ Ready=True.
- Deployment, ReplicaSet, StatefulSet, DaemonSet, Job: deployments, sets, jobs.
- PersistentVolumeClaim: Bound current, Lost failed, else in_progress (+ warning for WaitForFirstConsumer).
- Service: LoadBalancer without status.loadBalancer.ingress and without spec.externalIPs → in_progress.
- CustomResourceDefinition: NamesAccepted=False failed; Established=True current; Established=False
  failed unless reason Installing; else in_progress.
- PodDisruptionBudget, ConfigMap, Secret: current. CronJob: current (suspended: + warning).
- anything else: Ready condition (True current, False/Unknown in_progress), then status.phase / state /
  health / status word lists (failed, in progress, ready), else current.
A Ready or Stalled condition whose own observedGeneration is below metadata.generation (Flux, cert-manager,
Crossplane write it per condition) describes an older spec: in_progress, whatever it says.

The rules are those of ../shared/docs/rollout-status.md §4/§5. This module dispatches; the rules live
beside it: `pods` (pods and their containers), `deployments` (Deployment, ReplicaSet), `sets`
(StatefulSet, DaemonSet), `jobs`, `simple` (kinds that need no pods) and `generic` (custom resources and
everything else); `objects` reads metadata, conditions, ownership and Events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.core.model.failures import Failure
from bot.core.model.kinds import group_of, is_builtin_group
from bot.core.model.policy import DEFAULT_POLICY, Policy
from bot.core.model.states import State
from bot.core.status.assessment import Assessment
from bot.core.status.custom import assess_by_rules, rules_for
from bot.core.status.deployments import assess_deployment, assess_replica_set
from bot.core.status.generic import assess_generic
from bot.core.status.jobs import assess_job
from bot.core.status.objects import condition, meta, name_of, stale_condition, status_of
from bot.core.status.pods import assess_pod
from bot.core.status.readiness import assess_readiness
from bot.core.status.rollout import Rule
from bot.core.status.sets import assess_daemon_set, assess_stateful_set
from bot.core.status.simple import SIMPLE_RULES

RULES: dict[str, Rule] = {
    "Deployment": assess_deployment,
    "ReplicaSet": assess_replica_set,
    "StatefulSet": assess_stateful_set,
    "DaemonSet": assess_daemon_set,
    "Job": assess_job,
}
HOOK_WAITED_KINDS = frozenset({"Job", "Pod"})  # Helm waits for these hooks; any other is done once created


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


def _same_namespace(other: Mapping[str, Any], namespace: Any) -> bool:
    other_ns = meta(other).get("namespace")
    # cluster-scoped objects (StorageClass) and objects without a namespace are kept
    return not other_ns or not namespace or other_ns == namespace


def _assess(
    obj: Mapping[str, Any], related: list[Mapping[str, Any]], now: datetime, hook: bool, policy: Policy
) -> Assessment:
    kind = str(obj["kind"])
    builtin = is_builtin_group(group_of(str(obj.get("apiVersion") or "")))
    if hook and not (builtin and kind in HOOK_WAITED_KINDS):
        # Helm waits only for Job and Pod hooks (pkg/action/hooks.go; v4: alwaysReady for any other kind).
        return Assessment(State.CURRENT, f"created (Helm waits only for Job and Pod hooks, not a {kind})")
    if meta(obj).get("deletionTimestamp"):
        # Terminating: the object is on its way out, which is neither done nor a failure in itself
        # (a before-hook-creation delete is routine). The tracker decides what a disappearance means.
        return Assessment(State.IN_PROGRESS, f"{kind} {name_of(obj)} is terminating")
    lag = _generation_lag(obj)
    if lag is not None:
        return lag
    readiness = assess_readiness(obj) if not hook else None
    if readiness is not None and readiness.assessment is not None:
        return _warned(readiness.assessment, readiness.warnings)
    result = _by_kind(obj, related, now, hook, policy, builtin)
    return _warned(result, readiness.warnings if readiness is not None else ())


def _by_kind(
    obj: Mapping[str, Any],
    related: list[Mapping[str, Any]],
    now: datetime,
    hook: bool,
    policy: Policy,
    builtin: bool,
) -> Assessment:
    stalled = _stalled_or_reconciling(obj)
    if stalled is not None:
        return stalled
    kind = str(obj["kind"])
    if not builtin:
        # A custom kind may be named like a built-in one (Knative's Service): never judged by its rules.
        return assess_by_rules(obj, rules_for(policy), now, policy) or assess_generic(obj)
    if kind == "Pod":
        return assess_pod(obj, related, now, policy, hook=hook)
    rule = RULES.get(kind)
    if rule is not None:
        return rule(obj, related, now, policy)
    simple = SIMPLE_RULES.get(kind)
    if simple is not None:
        return simple(obj, related)
    return assess_generic(obj)


def _warned(assessment: Assessment, warnings: tuple[str, ...]) -> Assessment:
    return replace(assessment, warnings=(*assessment.warnings, *warnings)) if warnings else assessment


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
    observed = _generation_number(observed)
    if observed is None:
        return None  # not a number (older Argo Rollouts write a spec hash): says nothing about generations
    if observed < generation:
        return Assessment(State.IN_PROGRESS, f"controller has not observed generation {generation} yet")
    return None


def _generation_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _stalled_or_reconciling(obj: Mapping[str, Any]) -> Assessment | None:
    stalled = condition(obj, "Stalled")
    if stalled is not None and stalled.get("status") == "True":
        stale = stale_condition(obj, stalled)
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
