"""PVC, Service, CRD, PDB, ConfigMap, Secret, CronJob and custom resources."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.status import Assessment, Failure, State, assess
from tests.core.k8s_objects import (
    at,
    cond,
    config_map,
    crd,
    cron_job,
    custom_resource,
    event,
    pdb,
    pvc,
    secret,
    service,
    storage_class,
)


def check(obj: dict[str, Any], related: tuple | list = ()) -> Assessment:
    return assess(obj, related=tuple(related), now=at(10))


@pytest.mark.parametrize(
    ("obj", "state", "reason"),
    [
        pytest.param(pvc(), State.CURRENT, "Bound", id="pvc-bound"),
        pytest.param(
            pvc(phase="Pending"), State.IN_PROGRESS, "Pending: waiting for a volume", id="pvc-pending"
        ),
        pytest.param(pvc(phase="Lost"), State.FAILED, "Lost", id="pvc-lost"),
        pytest.param(service(), State.CURRENT, "ClusterIP", id="service-cluster-ip"),
        pytest.param(service(type="ExternalName"), State.CURRENT, "ExternalName", id="service-external-name"),
        pytest.param(
            service(type="LoadBalancer"),
            State.IN_PROGRESS,
            "LoadBalancer: waiting for an ingress address",
            id="lb-without-ingress",
        ),
        pytest.param(
            service(type="LoadBalancer", ingress=[{"ip": "203.0.113.7", "ipMode": "VIP"}]),
            State.CURRENT,
            "LoadBalancer ready at 203.0.113.7",
            id="lb-with-ingress",
        ),
        pytest.param(
            service(type="LoadBalancer", external_ips=["198.51.100.4"]),
            State.CURRENT,
            "externalIPs",
            id="lb-with-external-ips",
        ),
        pytest.param(crd(), State.CURRENT, "Established", id="crd-established"),
        pytest.param(
            crd(names_accepted=("False", "ListKindConflict"), established=("False", "NotAccepted")),
            State.FAILED,
            "NamesAccepted=False: ListKindConflict",
            id="crd-names-not-accepted",
        ),
        pytest.param(
            crd(established=("False", "Installing")),
            State.IN_PROGRESS,
            "not established yet (Installing)",
            id="crd-installing",
        ),
        pytest.param(
            crd(established=("False", "NotAccepted")),
            State.IN_PROGRESS,
            "not established yet (NotAccepted)",
            id="crd-not-established-names-being-checked",
        ),
        pytest.param(crd(established=None), State.IN_PROGRESS, "established", id="crd-no-conditions-yet"),
        pytest.param(pdb(), State.CURRENT, "exists", id="pdb"),
        pytest.param(config_map(), State.CURRENT, "exists", id="configmap"),
        pytest.param(secret(), State.CURRENT, "exists", id="secret"),
        pytest.param(cron_job(), State.CURRENT, "scheduled (0 3 * * *)", id="cronjob"),
    ],
)
def test_builtin_kinds(obj: dict[str, Any], state: State, reason: str) -> None:
    result = check(obj)
    assert result.state is state, result
    assert reason in result.reason


def test_suspended_cronjob_is_current_with_a_warning() -> None:
    result = check(cron_job(suspend=True))
    assert (result.state, result.warnings) == (State.CURRENT, ("suspended: no Jobs are scheduled",))


@pytest.mark.parametrize(
    ("related", "warned"),
    [
        pytest.param([storage_class(binding_mode="WaitForFirstConsumer")], True, id="named-class-wffc"),
        pytest.param([storage_class(binding_mode="Immediate")], False, id="named-class-immediate"),
        pytest.param([storage_class("other", binding_mode="WaitForFirstConsumer")], False, id="other-class"),
        pytest.param([], False, id="class-not-visible"),
    ],
)
def test_pending_pvc_warns_when_its_class_waits_for_a_consumer(related: list, warned: bool) -> None:
    result = check(pvc(phase="Pending"), related)
    assert result.state is State.IN_PROGRESS
    assert bool(result.warnings) is warned


def test_pending_pvc_without_class_uses_the_default_class() -> None:
    claim = pvc(phase="Pending", storage_class=None)
    result = check(claim, [storage_class("local", binding_mode="WaitForFirstConsumer", default=True)])
    assert result.warnings


def test_pending_pvc_warns_from_the_wait_for_first_consumer_event() -> None:
    claim = pvc(phase="Pending")
    ev = event(
        claim,
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
        type="Normal",
        component="persistentvolume-controller",
        first=at(1),
    )
    assert check(claim, [ev]).warnings


# ------------------------------------------------------------------------------------------- custom resources


@pytest.mark.parametrize(
    ("obj", "state", "reason"),
    [
        pytest.param(
            custom_resource(
                conditions=[cond("Stalled", "True", "InvalidSpec", "spec.size must be positive")]
            ),
            State.FAILED,
            "Stalled: InvalidSpec: spec.size must be positive",
            id="stalled",
        ),
        pytest.param(
            custom_resource(conditions=[cond("Reconciling", "True", "Progressing", "creating 2 replicas")]),
            State.IN_PROGRESS,
            "reconciling: creating 2 replicas",
            id="reconciling",
        ),
        pytest.param(
            custom_resource(conditions=[cond("Ready", "True", "Succeeded")]),
            State.CURRENT,
            "Ready",
            id="ready-true",
        ),
        pytest.param(
            custom_resource(conditions=[cond("Ready", "False", "IssuerNotReady", "issuer not found")]),
            State.IN_PROGRESS,
            "Ready=False: issuer not found",
            id="ready-false",
        ),
        pytest.param(
            custom_resource(conditions=[cond("Ready", "Unknown")]),
            State.IN_PROGRESS,
            "Ready=Unknown",
            id="ready-unknown",
        ),
        pytest.param(
            custom_resource(status={"phase": "Failed", "message": "bucket name taken"}),
            State.FAILED,
            "status.phase is Failed: bucket name taken",
            id="unknown-cr-phase-failed",
        ),
        pytest.param(
            custom_resource(status={"state": "CreateFailed"}),
            State.FAILED,
            "CreateFailed",
            id="state-create-failed",
        ),
        pytest.param(
            custom_resource(status={"phase": "Provisioning"}),
            State.IN_PROGRESS,
            "Provisioning",
            id="phase-provisioning",
        ),
        pytest.param(
            custom_resource(status={"phase": "Running"}), State.CURRENT, "Running", id="phase-running"
        ),
        pytest.param(
            custom_resource(status={"health": {"status": "Degraded"}, "sync": {"status": "Synced"}}),
            State.FAILED,
            "status.health.status is Degraded",
            id="argo-style-health-degraded",
        ),
        pytest.param(
            custom_resource(status={"phase": "Whatever"}),
            State.CURRENT,
            "no readiness signal",
            id="unknown-word",
        ),
        pytest.param(custom_resource(), State.CURRENT, "no readiness signal", id="no-status"),
        pytest.param(
            custom_resource(generation=2, observed_generation=1, conditions=[cond("Ready")]),
            State.IN_PROGRESS,
            "controller has not observed generation 2",
            id="generation-lag",
        ),
        pytest.param(
            custom_resource(generation=5, conditions=[cond("Ready")]),
            State.CURRENT,
            "Ready",
            id="no-observed-generation-skips-the-check",
        ),
    ],
)
def test_custom_resources(obj: dict[str, Any], state: State, reason: str) -> None:
    result = check(obj)
    assert result.state is state, result
    assert reason in result.reason


@pytest.mark.parametrize(
    ("obj", "state", "reason"),
    [
        pytest.param(
            custom_resource(generation=2, conditions=[cond("Ready", "True", observed_generation=1)]),
            State.IN_PROGRESS,
            "Ready condition is for generation 1, object is at 2",
            id="ready-true-for-an-older-generation",
        ),
        pytest.param(
            custom_resource(generation=2, conditions=[cond("Ready", "True", observed_generation=2)]),
            State.CURRENT,
            "Ready",
            id="ready-true-for-this-generation",
        ),
        pytest.param(
            custom_resource(
                generation=3,
                observed_generation=3,  # status-level says seen; the condition itself lags (cert-manager)
                conditions=[cond("Ready", "True", "Ready", observed_generation=2)],
            ),
            State.IN_PROGRESS,
            "Ready condition is for generation 2, object is at 3",
            id="status-observed-but-condition-stale",
        ),
        pytest.param(
            custom_resource(
                generation=2,
                conditions=[cond("Stalled", "True", "InvalidSpec", "bad", observed_generation=1)],
            ),
            State.IN_PROGRESS,
            "Stalled condition is for generation 1, object is at 2",
            id="stalled-for-an-older-generation-does-not-fail",
        ),
        pytest.param(
            custom_resource(
                generation=2,
                conditions=[cond("Stalled", "True", "InvalidSpec", "bad", observed_generation=2)],
            ),
            State.FAILED,
            "Stalled: InvalidSpec: bad",
            id="stalled-for-this-generation-fails",
        ),
    ],
)
def test_custom_resource_conditions_carry_their_own_generation(
    obj: dict[str, Any], state: State, reason: str
) -> None:
    result = check(obj)
    assert result.state is state, result
    assert reason in result.reason


def test_unknown_cr_failure_is_structured() -> None:
    result = check(
        custom_resource("Bucket", "assets", status={"phase": "Failed", "message": "bucket name taken"})
    )
    assert result.failures == (Failure("Bucket", "assets", "Failed", "bucket name taken"),)


def test_stalled_wins_over_ready() -> None:
    obj = custom_resource(conditions=[cond("Ready", "True"), cond("Stalled", "True", "Blocked")])
    assert check(obj).state is State.FAILED
