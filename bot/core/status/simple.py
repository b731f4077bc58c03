"""Kinds that need no pods: PersistentVolumeClaim, Service, CustomResourceDefinition, CronJob, and the
kinds that are done once they exist (PodDisruptionBudget, ConfigMap, Secret)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.core.model.failures import Failure
from bot.core.model.policy import DEFAULT_POLICY
from bot.core.model.states import State
from bot.core.status.assessment import Assessment
from bot.core.status.objects import condition, events_for, meta, name_of, spec_of, status_of

SimpleRule = Callable[[Mapping[str, Any], Sequence[Mapping[str, Any]]], Assessment]


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
    """NamesAccepted=False (a name conflict) fails; Established=True is current; Established=False is the
    API server still installing it (reason Installing, or NotAccepted before the names are checked): in
    progress, as Helm's legacy checker waits (kstatus would fail a reason other than Installing)."""
    names = condition(crd, "NamesAccepted")
    if names is not None and names.get("status") == "False":
        return _condition_failure(crd, names, "NamesNotAccepted")
    established = condition(crd, "Established")
    if established is not None and established.get("status") == "True":
        return Assessment(State.CURRENT, "Established")
    if established is not None and established.get("status") == "False":
        reason = str(established.get("reason") or "")
        return Assessment(State.IN_PROGRESS, "not established yet" + (f" ({reason})" if reason else ""))
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


SIMPLE_RULES: dict[str, SimpleRule] = {
    "PersistentVolumeClaim": _assess_pvc,
    "Service": _assess_service,
    "CustomResourceDefinition": _assess_crd,
    "CronJob": _assess_cronjob,
    "PodDisruptionBudget": _assess_always_current,
    "ConfigMap": _assess_always_current,
    "Secret": _assess_always_current,
}
