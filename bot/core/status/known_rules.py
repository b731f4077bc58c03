"""The built-in status rules for well-known custom resources: data in the shape users write under
`status_rules:` (bot.core.model.status_rules.StatusRule), tried after the users' own rules.

Per kind, the rules are tried in order and the first whose field holds one of its values decides; a kind
with no deciding rule falls back to the generic rules (Ready condition, then status words). A failure reason
an operator may still clear by retrying fails only after `GRACE`. Sources: kubedog's contributed rules
(werf/kubedog pkg/tracker/generic/contrib_resource_status_rules.yaml) and each project's API types, named
per entry.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.model.status_rules import ANY_KIND, StatusRule

GRACE = timedelta(seconds=30)
READY = "status.conditions[Ready].status"
READY_REASON = "status.conditions[Ready].reason"


def _ready_rules(group: str, kind: str, failed_reasons: tuple[str, ...]) -> tuple[StatusRule, ...]:
    """Ready=True current; Ready with a known failure reason failed after the grace; else in progress."""
    return (
        StatusRule(kind, READY_REASON, group, failed=failed_reasons, failed_after=GRACE),
        StatusRule(kind, READY, group, current=("True",), in_progress=("False", "Unknown")),
    )


KNOWN_RULES: tuple[StatusRule, ...] = (
    # cert-manager (cert-manager.io/v1 types_certificate.go, types_issuer.go): a failed issuance sets
    # Issuing=False reason Failed and is retried only after a long back-off.
    StatusRule(
        "Certificate",
        "status.conditions[Issuing].reason",
        "cert-manager.io",
        failed=("Failed",),
        failed_after=GRACE,
    ),
    StatusRule("Certificate", READY, "cert-manager.io", current=("True",), in_progress=("False", "Unknown")),
    *_ready_rules(
        "cert-manager.io",
        "Issuer",
        ("ErrRegisterACMEAccount", "ErrVerifyACMEAccount", "ErrGetKeyPair", "ErrInvalidKeyPair"),
    ),
    *_ready_rules(
        "cert-manager.io",
        "ClusterIssuer",
        ("ErrRegisterACMEAccount", "ErrVerifyACMEAccount", "ErrGetKeyPair", "ErrInvalidKeyPair"),
    ),
    # external-secrets (external-secrets.io/v1 externalsecret_types.go, secretstore_types.go)
    *_ready_rules("external-secrets.io", "ExternalSecret", ("SecretSyncedError",)),
    *_ready_rules(
        "external-secrets.io",
        "SecretStore",
        ("InvalidStoreConfiguration", "InvalidProviderConfig", "ValidationFailed"),
    ),
    *_ready_rules(
        "external-secrets.io",
        "ClusterSecretStore",
        ("InvalidStoreConfiguration", "InvalidProviderConfig", "ValidationFailed"),
    ),
    # Argo Rollouts (argoproj.io/v1alpha1 Rollout status.phase): Degraded after an abort or the progress
    # deadline; Paused waits for a promotion (in progress: a person or a timer resumes it).
    StatusRule(
        "Rollout",
        "status.phase",
        "argoproj.io",
        current=("Healthy",),
        in_progress=("Progressing", "Paused"),
        failed=("Degraded",),
    ),
    # Argo CD Application (gitops-engine pkg/health): status.health.status
    StatusRule(
        "Application",
        "status.health.status",
        "argoproj.io",
        current=("Healthy",),
        in_progress=("Progressing", "Suspended", "Missing", "Unknown"),
        failed=("Degraded",),
        failed_after=GRACE,
    ),
    # Flux (helm-controller api/v2 helmrelease_types.go, kustomize-controller api/v1): kstatus-compliant
    # (Stalled and Reconciling come first); Ready=False names the failed action.
    *_ready_rules(
        "helm.toolkit.fluxcd.io",
        "HelmRelease",
        (
            "InstallFailed",
            "UpgradeFailed",
            "TestFailed",
            "RollbackFailed",
            "UninstallFailed",
            "ArtifactFailed",
            "InitFailed",
            "GetLastReleaseFailed",
        ),
    ),
    *_ready_rules(
        "kustomize.toolkit.fluxcd.io",
        "Kustomization",
        ("ReconciliationFailed", "BuildFailed", "HealthCheckFailed", "ArtifactFailed", "PruneFailed"),
    ),
    # KEDA (keda.sh/v1alpha1 condition_types.go)
    *_ready_rules("keda.sh", "ScaledObject", ("ScaledObjectCheckFailed",)),
    *_ready_rules("keda.sh", "ScaledJob", ("ScaledJobCheckFailed",)),
    # Knative (knative.dev/pkg apis/condition_set.go): Ready=Unknown is in progress, False is a failure.
    *(
        StatusRule(
            kind,
            READY,
            "serving.knative.dev",
            current=("True",),
            in_progress=("Unknown",),
            failed=("False",),
            failed_after=GRACE,
        )
        for kind in ("Service", "Configuration", "Route", "Revision")
    ),
    # Sealed Secrets (kubedog's rule): Synced=True once unsealed.
    StatusRule(
        "SealedSecret",
        "status.conditions[Synced].status",
        "bitnami.com",
        current=("True",),
        in_progress=("False", "Unknown"),
    ),
    # Crossplane claims and managed resources (crossplane-runtime apis/common/v1 condition.go): any kind
    # in any group; Synced=False ReconcileError fails after the grace, Ready decides the rest (generic).
    StatusRule(
        ANY_KIND, "status.conditions[Synced].reason", None, failed=("ReconcileError",), failed_after=GRACE
    ),
)
