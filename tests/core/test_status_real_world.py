"""The classes the upstream trackers' own tests showed `assess` missing, one parametrized test per class,
on objects shaped as the API returns them. Each case names the upstream rule it follows.

Sources (../shared/docs/rollout-status.md): Helm `pkg/action/hooks.go` + `pkg/kube/statuswait.go` (hooks),
Helm `pkg/kube/ready.go` (legacy ReadyChecker: Job and StatefulSet counters, paused Deployments, CRDs),
kstatus `pkg/kstatus/status/core.go` (Job Suspended, CRD conditions), kubedog
`pkg/tracker/generic/contrib_resource_status_rules.yaml` and each operator's API types (custom resources),
Helm main `pkg/kube/readiness.go` (HIP-0025 readiness annotations), werf/nelm
`werf.io/failures-allowed-per-replica`.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from bot.core.model.status_rules import StatusRule
from bot.core.status import Assessment, Policy, State, assess
from tests.core.k8s_objects import (
    T0,
    at,
    cond,
    config_map,
    crd,
    custom_resource,
    deployment,
    job,
    pod,
    pod_for,
    replica_set_for,
    running,
    secret,
    stateful_set,
    terminated,
    waiting,
)

POLICY = Policy(config_error_grace=timedelta(seconds=45), tracking_started=T0)
Obj = dict[str, Any]


def check(obj: Obj, related: tuple | list = (), *, now_s: float = 10, hook: bool = False,
          policy: Policy = POLICY) -> Assessment:
    return assess(obj, related=tuple(related), now=at(now_s), hook=hook, policy=policy)


def annotated(obj: Obj, **annotations: str) -> Obj:
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("annotations", {}).update(annotations)
    return out


def without(obj: Obj, *status_keys: str) -> Obj:
    out = copy.deepcopy(obj)
    for key in status_keys:
        out["status"].pop(key, None)
    return out


def service_account(name: str = "migrate") -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": "default", "uid": "sa-1",
                         "creationTimestamp": "2025-01-01T12:00:00Z"}}


def crash_looping_deployment(restarts: int, **annotations: str) -> tuple[Obj, tuple[Obj, ...]]:
    """Revision 2 of "web" (1 replica): its new pod crash-loops, the old one still serves."""
    dep = annotated(deployment(replicas=1, revision=2, updated=1, ready=0, available=0, status_replicas=2),
                    **annotations)
    new_rs = replica_set_for(dep, created=at(1))
    old_rs = replica_set_for(dep, revision=1, replicas=1, created=at(-3600))
    crash = waiting("web", "CrashLoopBackOff", restarts=restarts, last_exit_code=1)
    return dep, (new_rs, old_rs, pod_for(new_rs, "n0", containers=[crash]),
                 pod_for(old_rs, "o0", containers=[running()], created=at(-3600)))


# ---------------------------------------------------------------------------------------- Helm's hooks

@pytest.mark.parametrize(
    ("obj", "state"),
    [
        # Helm waits only for Job and Pod hooks; every other kind is done once created
        # (v3 pkg/kube/client.go watchUntilReady; v4 statuswait.go: alwaysReady for other hook kinds).
        pytest.param(config_map("pre-config"), State.CURRENT, id="configmap-hook-done-once-created"),
        pytest.param(secret("pre-secret"), State.CURRENT, id="secret-hook-done-once-created"),
        pytest.param(service_account(), State.CURRENT, id="serviceaccount-hook-done-once-created"),
        pytest.param(deployment(ready=0, available=0, updated=0), State.CURRENT,
                     id="deployment-annotated-as-hook-not-waited-on"),
        pytest.param(crd(established=("False", "Installing")), State.CURRENT, id="crd-hook-not-waited-on"),
        # Job and Pod hooks are waited on: running is not done (hooks.go; v4 job/pod status readers).
        pytest.param(job(active=1), State.IN_PROGRESS, id="job-hook-running-is-not-done"),
        pytest.param(pod("hook-pod", containers=[running()]), State.IN_PROGRESS,
                     id="pod-hook-ready-is-not-done"),
        pytest.param(pod("hook-pod", containers=[terminated("web", 0, "Completed")], phase="Succeeded"),
                     State.CURRENT, id="pod-hook-succeeded"),
    ],
)
def test_hooks_follow_helm(obj: Obj, state: State) -> None:
    result = check(obj, hook=True)
    assert result.state is state, result
    if obj["kind"] not in ("Job", "Pod"):
        assert result.reason.startswith("created (Helm waits only for Job and Pod hooks")


def test_a_crash_looping_deployment_hook_neither_fails_nor_waits() -> None:
    dep, related = crash_looping_deployment(restarts=5)
    assert check(dep, related).state is State.FAILED  # as a release resource it fails
    assert check(dep, related, hook=True).state is State.CURRENT  # as a hook Helm ignores it


# ---------------------------------------------------------------------- status written by counters only

def _counters_job(**kw: Any) -> Obj:
    """A Job as an older API server writes it: counters, no conditions, no startTime."""
    return without(job(started=None, **kw), "ready", "terminating", "uncountedTerminatedPods")


@pytest.mark.parametrize(
    ("obj", "state", "reason"),
    [
        # Helm pkg/kube/ready.go jobReady: succeeded >= completions is ready.
        pytest.param(_counters_job(active=0, succeeded=1), State.CURRENT,
                     "completed: 1/1 succeeded (status counters)", id="job-completed-by-counters"),
        pytest.param(_counters_job(completions=3, parallelism=3, active=1, succeeded=2), State.IN_PROGRESS,
                     None, id="job-2-of-3-completions"),
        # completions: null (a work queue): one success and nothing running left.
        pytest.param(_counters_job(completions=None, parallelism=2, active=0, succeeded=1), State.CURRENT,
                     "completed: 1 succeeded (status counters)", id="job-null-completions-done"),
        pytest.param(_counters_job(completions=None, parallelism=2, active=1, succeeded=1),
                     State.IN_PROGRESS, None, id="job-null-completions-still-running"),
        # jobReady: failed > backoffLimit is an error.
        pytest.param(_counters_job(backoff_limit=2, active=0, failed=3), State.FAILED,
                     "BackoffLimitExceeded: failed 3 of 3 attempts (status counters)",
                     id="job-failed-beyond-backoff-limit"),
        pytest.param(_counters_job(backoff_limit=2, active=1, failed=2), State.IN_PROGRESS, None,
                     id="job-retrying-within-backoff-limit"),
    ],
)
def test_jobs_decided_by_counters(obj: Obj, state: State, reason: str | None) -> None:
    result = check(obj)
    assert result.state is state, result
    assert "waiting for the Job to start" not in result.reason
    if reason is not None:
        assert result.reason == reason


def _revisionless(**kw: Any) -> Obj:
    """A StatefulSet status as an older API server writes it: replica counters, no revisions."""
    return without(stateful_set(**kw), "currentRevision", "updateRevision", "updatedReplicas",
                   "currentReplicas")


@pytest.mark.parametrize(
    ("obj", "state"),
    [
        # kstatus core.go / Helm ready.go: replicas and readyReplicas against spec.replicas.
        pytest.param(_revisionless(), State.CURRENT, id="sts-all-ready"),
        pytest.param(_revisionless(ready=2), State.IN_PROGRESS, id="sts-one-not-ready"),
        pytest.param(_revisionless(status_replicas=2, ready=2), State.IN_PROGRESS, id="sts-one-missing"),
    ],
)
def test_stateful_sets_without_revisions_decided_by_replica_counters(obj: Obj, state: State) -> None:
    assert check(obj).state is state


# ---------------------------------------------------------------------------- asked but not yet done

def test_a_suspend_not_yet_confirmed_is_in_progress() -> None:
    """kstatus core.go: Suspended=True with spec.suspend=true is Current; the request alone is not."""
    asked = check(job(suspend=True, suspended_confirmed=False, active=1))
    assert asked.state is State.IN_PROGRESS
    assert asked.reason == "suspend requested; waiting for the controller to confirm"
    done = check(job(suspend=True, active=0))
    assert (done.state, done.warnings) == (State.CURRENT, ("suspended: the Job runs no pods",))


@pytest.mark.parametrize(
    ("restarts", "warning_tail"),
    [
        pytest.param(None, "", id="paused-before-any-rollout"),
        pytest.param(5, "; pod web-", id="paused-mid-rollout-with-a-crash-looping-new-pod"),
    ],
)
def test_a_paused_deployment_is_done_with_a_warning(restarts: int | None, warning_tail: str) -> None:
    """Helm v4 statuswait.go drops paused Deployments from the wait; v3 ready.go counts them ready."""
    if restarts is None:
        dep, related = deployment(paused=True, updated=0, ready=0, available=0), ()
    else:
        dep, related = crash_looping_deployment(restarts)
        dep["spec"]["paused"] = True
    result = check(dep, related)
    assert result.state is State.CURRENT
    (warning,) = result.warnings
    assert warning.startswith("paused: not rolled out until the Deployment is resumed" + warning_tail)


# ------------------------------------------------------------------------------------ transient states

@pytest.mark.parametrize(
    ("obj", "state"),
    [
        # The API server writes Established=False/Installing (NotAccepted before the names are checked)
        # while it installs a CRD; Helm ready.go waits, kstatus would fail NotAccepted.
        pytest.param(crd(established=("False", "Installing")), State.IN_PROGRESS, id="crd-installing"),
        pytest.param(crd(established=("False", "NotAccepted")), State.IN_PROGRESS,
                     id="crd-names-being-checked"),
        pytest.param(crd(names_accepted=("False", "NameConflict"), established=("False", "NotAccepted")),
                     State.FAILED, id="crd-name-conflict-fails"),
        pytest.param(crd(), State.CURRENT, id="crd-established"),
    ],
)
def test_crds_being_installed_are_in_progress(obj: Obj, state: State) -> None:
    assert check(obj).state is state


# ------------------------------------------------------------------------- well-known custom resources

def _cr(kind: str, api_version: str, *conditions: Obj, status: Obj | None = None) -> Obj:
    return custom_resource(kind, "main", api_version=api_version, status=status,
                           conditions=list(conditions) if conditions else None)


NO_SECRET = cond("Ready", "False", "DoesNotExist", "Issuing certificate as Secret does not exist")
SYNC_ERROR = cond("Ready", "False", "SecretSyncedError", "could not get secret data from provider",
                  since=at(0))


@pytest.mark.parametrize(
    ("obj", "now_s", "state", "reason"),
    [
        # external-secrets externalsecret_types.go: Ready=False SecretSyncedError fails after the grace.
        pytest.param(_cr("ExternalSecret", "external-secrets.io/v1", SYNC_ERROR), 10, State.IN_PROGRESS,
                     "Ready=False (SecretSyncedError): could not get secret data from provider (for 10s; "
                     "counts as failed after 30s)", id="externalsecret-sync-error-within-grace"),
        pytest.param(_cr("ExternalSecret", "external-secrets.io/v1", SYNC_ERROR), 31, State.FAILED,
                     "Ready=False (SecretSyncedError): could not get secret data from provider",
                     id="externalsecret-sync-error-after-grace"),
        pytest.param(_cr("ExternalSecret", "external-secrets.io/v1beta1",
                         cond("Ready", "True", "SecretSynced", "secret synced")), 10, State.CURRENT,
                     "Ready=True (SecretSynced): secret synced", id="externalsecret-synced"),
        pytest.param(_cr("SecretStore", "external-secrets.io/v1",
                         cond("Ready", "False", "InvalidProviderConfig", "unable to access vault")), 60,
                     State.FAILED, None, id="secretstore-invalid-provider"),
        # cert-manager types_certificate.go: Issuing=False/Failed is a failed issuance; Ready=False while
        # issuing is progress.
        pytest.param(_cr("Certificate", "cert-manager.io/v1",
                         NO_SECRET, cond("Issuing", "True", "DoesNotExist", "Issuing certificate")), 10,
                     State.IN_PROGRESS, None, id="certificate-issuing"),
        pytest.param(_cr("Certificate", "cert-manager.io/v1",
                         NO_SECRET, cond("Issuing", "False", "Failed", "The certificate request failed")),
                     60, State.FAILED, "Issuing=False (Failed): The certificate request failed",
                     id="certificate-issuance-failed"),
        # Argo Rollouts status.phase (observedGeneration may be a spec hash in older versions).
        pytest.param(_cr("Rollout", "argoproj.io/v1alpha1",
                         status={"phase": "Degraded", "message": "RolloutAborted: metric error-rate failed",
                                 "observedGeneration": "7f9c8d6b5"}), 10, State.FAILED,
                     "status.phase is Degraded: RolloutAborted: metric error-rate failed",
                     id="rollout-degraded"),
        pytest.param(_cr("Rollout", "argoproj.io/v1alpha1",
                         status={"phase": "Paused", "observedGeneration": "1"}), 10, State.IN_PROGRESS,
                     "status.phase is Paused", id="rollout-paused-at-a-step"),
        pytest.param(_cr("Rollout", "argoproj.io/v1alpha1", status={"phase": "Healthy"}), 10, State.CURRENT,
                     None, id="rollout-healthy"),
        # Flux: Ready=False with the failed action's reason (helm-controller helmrelease_types.go).
        pytest.param(_cr("HelmRelease", "helm.toolkit.fluxcd.io/v2",
                         cond("Ready", "False", "UpgradeFailed", "Helm upgrade failed: timed out")), 60,
                     State.FAILED, None, id="helmrelease-upgrade-failed"),
        pytest.param(_cr("Kustomization", "kustomize.toolkit.fluxcd.io/v1",
                         cond("Ready", "False", "DependencyNotReady", "dependency 'infra' is not ready")), 60,
                     State.IN_PROGRESS, None, id="kustomization-waiting-for-a-dependency"),
        # KEDA condition_types.go
        pytest.param(_cr("ScaledObject", "keda.sh/v1alpha1",
                         cond("Ready", "False", "ScaledObjectCheckFailed",
                              "ScaledObject doesn't have correct scaleTargetRef specification")),
                     60, State.FAILED, None,
                     id="scaledobject-check-failed"),
        # Knative condition_set.go: Unknown is progress, False a failure (after the grace).
        pytest.param(_cr("Service", "serving.knative.dev/v1", cond("Ready", "Unknown", "RevisionMissing")),
                     10, State.IN_PROGRESS, None, id="knative-service-deploying"),
        pytest.param(_cr("Service", "serving.knative.dev/v1",
                         cond("Ready", "False", "RevisionFailed", "Revision \"hello-00002\" failed")), 60,
                     State.FAILED, None, id="knative-service-revision-failed"),
        # Crossplane claims (crossplane-runtime condition.go): any kind, Synced=False ReconcileError.
        pytest.param(_cr("PostgreSQLInstance", "database.example.org/v1alpha1",
                         cond("Synced", "False", "ReconcileError", "cannot compose resources"),
                         cond("Ready", "False", "Creating")), 60, State.FAILED, None,
                     id="crossplane-claim-reconcile-error"),
        pytest.param(_cr("PostgreSQLInstance", "database.example.org/v1alpha1",
                         cond("Synced", "True", "ReconcileSuccess"), cond("Ready", "True", "Available")), 60,
                     State.CURRENT, None, id="crossplane-claim-ready"),
    ],
)
def test_well_known_custom_resources(obj: Obj, now_s: float, state: State, reason: str | None) -> None:
    result = check(obj, now_s=now_s)
    assert result.state is state, result
    if reason is not None:
        assert result.reason == reason
    if state is State.FAILED:
        assert result.failures and result.failures[0].kind == obj["kind"]


def test_a_knative_service_is_not_judged_as_a_core_service() -> None:
    """Kind "Service" in group serving.knative.dev: the core Service rule (type ClusterIP: current)
    must not decide it."""
    knative = _cr("Service", "serving.knative.dev/v1", cond("Ready", "Unknown", "IngressNotConfigured"))
    assert check(knative).state is State.IN_PROGRESS


def test_users_rules_come_before_the_built_in_table_and_cover_new_kinds() -> None:
    users = Policy(tracking_started=T0, status_rules=(
        StatusRule("ExternalSecret", "status.conditions[Ready].reason", "external-secrets.io",
                   in_progress=("SecretSyncedError",)),
        StatusRule("postgresql", "status.PostgresClusterStatus", "acid.zalan.do", current=("Running",),
                   in_progress=("Creating", "Updating"), failed=("CreateFailed", "UpdateFailed")),
    ))
    external = _cr("ExternalSecret", "external-secrets.io/v1", SYNC_ERROR)
    assert check(external, now_s=600).state is State.FAILED  # the built-in rule
    assert check(external, now_s=600, policy=users).state is State.IN_PROGRESS  # overridden
    zalando = _cr("postgresql", "acid.zalan.do/v1", status={"PostgresClusterStatus": "CreateFailed"})
    assert check(zalando).state is State.CURRENT  # no rule: exists, no readiness signal
    result = check(zalando, policy=users)
    assert (result.state, result.reason) == (State.FAILED, "status.PostgresClusterStatus is CreateFailed")


def test_a_condition_written_for_an_older_generation_decides_nothing() -> None:
    stale = custom_resource("ExternalSecret", api_version="external-secrets.io/v1", generation=3,
                            conditions=[cond("Ready", "True", "SecretSynced", observed_generation=2)])
    assert check(stale).state is State.IN_PROGRESS


# ------------------------------------------------------------ tracking annotations charts already carry

READINESS = {"helm.sh/readiness-success": '["{.succeeded} >= 1"]',
             "helm.sh/readiness-failure": '["{.failed} >= 1"]'}


@pytest.mark.parametrize(
    ("obj", "state", "reason"),
    [
        # Helm main pkg/kube/readiness.go: failure expressions first, then success, else pending.
        pytest.param(annotated(job(active=0, succeeded=1), **READINESS), State.CURRENT,
                     "helm.sh/readiness-success {.succeeded} >= 1 holds", id="job-success-expression"),
        pytest.param(annotated(job(active=1, failed=1, succeeded=1), **READINESS), State.FAILED,
                     "helm.sh/readiness-failure {.failed} >= 1 holds", id="failure-wins-over-success"),
        pytest.param(annotated(job(active=1), **READINESS), State.IN_PROGRESS,
                     "waiting for {.succeeded} >= 1 (helm.sh/readiness-success)", id="neither-holds"),
        pytest.param(annotated(_cr("Widget", "example.com/v1", status={"phase": "Ready"}),
                               **{"helm.sh/readiness-success": '["{.status.phase} == \\"Ready\\""]',
                                  "helm.sh/readiness-failure": "[\"{.phase} == 'Failed'\"]"}),
                     State.CURRENT, None, id="custom-resource-phase-with-status-prefix"),
        pytest.param(annotated(_cr("Widget", "example.com/v1", cond("Ready", "False", "Broken")),
                               **{"helm.sh/readiness-success":
                                  '["{.conditions[?(@.type==\\"Ready\\")].status} == True"]',
                                  "helm.sh/readiness-failure":
                                  '["{.conditions[?(@.type==\\"Ready\\")].reason} == Broken"]'}),
                     State.FAILED, None, id="jsonpath-filter-on-conditions"),
        pytest.param(annotated(deployment(), **{"helm.sh/readiness-success": '["{.readyReplicas} > 5"]',
                                                "helm.sh/readiness-failure": '["{.phase} == Failed"]'}),
                     State.IN_PROGRESS, None, id="replaces-the-built-in-rule"),
    ],
)
def test_helm_readiness_annotations(obj: Obj, state: State, reason: str | None) -> None:
    result = check(obj)
    assert result.state is state, result
    if reason is not None:
        assert result.reason == reason


@pytest.mark.parametrize(
    ("annotations", "warning"),
    [
        pytest.param({"helm.sh/readiness-success": '["{.succeeded} >= 1"]'},
                     "only helm.sh/readiness-success is set", id="one-alone-is-ignored-as-in-helm"),
        pytest.param({"helm.sh/readiness-success": "succeeded==1", "helm.sh/readiness-failure": "[]"},
                     "helm.sh/readiness-success is not a JSON array", id="not-json"),
        pytest.param({"helm.sh/readiness-success": '["{.succeeded} ~ 1"]',
                      "helm.sh/readiness-failure": '["{.failed} >= 1"]'},
                     "unsupported operator '~'", id="bad-operator"),
    ],
)
def test_unusable_readiness_annotations_fall_back_with_a_warning(annotations: dict[str, str],
                                                                 warning: str) -> None:
    result = check(annotated(job(active=0, succeeded=1, conditions=[cond("Complete", "True")]),
                             **annotations))
    assert result.state is State.CURRENT and result.reason.startswith("completed")
    assert any(warning in w for w in result.warnings), result.warnings


@pytest.mark.parametrize(
    ("annotation", "restarts", "state"),
    [
        # werf/nelm: N failures per replica are allowed (1 replica here); helmbot without it allows none.
        pytest.param(None, 1, State.FAILED, id="no-annotation-first-crash-loop-fails"),
        pytest.param("3", 2, State.IN_PROGRESS, id="2-restarts-of-3-allowed"),
        pytest.param("3", 3, State.IN_PROGRESS, id="3-restarts-of-3-allowed"),
        pytest.param("3", 4, State.FAILED, id="4-restarts-beyond-3-allowed"),
        pytest.param("0", 1, State.FAILED, id="zero-allowed"),
        pytest.param("many", 1, State.FAILED, id="unreadable-value-ignored"),
    ],
)
def test_werf_failures_allowed_per_replica(annotation: str | None, restarts: int, state: State) -> None:
    extra = {"werf.io/failures-allowed-per-replica": annotation} if annotation is not None else {}
    dep, related = crash_looping_deployment(restarts, **extra)
    result = check(dep, related)
    assert result.state is state, result
    if state is State.IN_PROGRESS:
        assert "of 3 allowed by werf.io/failures-allowed-per-replica" in result.reason


def test_failures_allowed_do_not_cover_an_image_that_cannot_be_pulled() -> None:
    dep, related = crash_looping_deployment(1, **{"werf.io/failures-allowed-per-replica": "5"})
    new_pod = related[2]
    new_pod["status"]["containerStatuses"] = [waiting("web", "ImagePullBackOff", "Back-off pulling image")]
    assert check(dep, related).state is State.FAILED
