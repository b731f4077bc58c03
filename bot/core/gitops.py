"""Is a release owned by a GitOps controller (Flux, Argo CD)? Decided from metadata only, pure.

A `helm upgrade` or `helm rollback` on a release that Flux's helm-controller or Argo CD reconciles is undone
by the controller within its interval, often silently: users then wonder why their fix "did not stick". The
evidence each controller leaves:
- Flux helm-controller labels every object it renders with `helm.toolkit.fluxcd.io/name` and
  `helm.toolkit.fluxcd.io/namespace` (naming its HelmRelease), and a HelmRelease names the Helm release it
  manages (`spec.releaseName`, else `[targetNamespace-]name`, stored in `storageNamespace`, else
  `targetNamespace`, else its own namespace);
- Argo CD marks what it syncs with the `argocd.argoproj.io/instance` label (label tracking) or the
  `argocd.argoproj.io/tracking-id` annotation (`APP:GROUP/KIND:NAMESPACE/NAME`, annotation tracking).
The adapter collects the metadata (the release record's labels, its manifest's objects, a few live objects,
the HelmReleases it may list); this module only reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FLUX = "Flux"
ARGO = "Argo CD"
FLUX_NAME = "helm.toolkit.fluxcd.io/name"
FLUX_NAMESPACE = "helm.toolkit.fluxcd.io/namespace"
ARGO_INSTANCE = "argocd.argoproj.io/instance"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_DEFAULT_INTERVAL = "3m"  # Argo CD's default reconciliation (timeout.reconciliation: 180s)


@dataclass(frozen=True)
class GitOpsOwner:
    """The controller that reconciles a release, and what it calls the release."""

    controller: str  # FLUX | ARGO
    name: str  # the HelmRelease's or the Application's name
    namespace: str | None = None  # the HelmRelease's namespace (Argo: the Application's, when known)
    interval: str | None = None  # the HelmRelease's spec.interval, when known
    suspended: bool = False  # a suspended HelmRelease reverts nothing until it is resumed
    evidence: str = ""  # where it was seen: "labels of Deployment shop-web"

    @property
    def object(self) -> str:
        """ "HelmRelease flux-system/shop", "Argo CD Application shop-prod"."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"HelmRelease {where}" if self.controller == FLUX else f"Argo CD Application {where}"

    @property
    def actor(self) -> str:
        """Who made a revision, for passive notices."""
        if self.controller == FLUX:
            return f"Flux helm-controller ({self.object})"
        return self.object

    def suspend_hint(self) -> str:
        if self.controller == FLUX:
            ns = f" -n {self.namespace}" if self.namespace else ""
            return (f"suspend it first with `flux suspend helmrelease {self.name}{ns}` (and `flux resume "
                    f"helmrelease {self.name}{ns}` once the fix is in Git)")
        app = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return (f"turn off its automated sync first (`argocd app set {app} --sync-policy none`, or in the "
                "Argo CD UI) and put the change in Git")

    def warning(self, operation: str = "deploy") -> str:
        """What a person reads before changing the release by hand anyway."""
        if self.controller == FLUX and self.suspended:
            return (f"{self.object} manages this release but is suspended: it reverts nothing until it is "
                    f"resumed, and then it reapplies what Git says")
        interval = f"within its interval ({self.interval})" if self.interval else "within its interval"
        if self.controller == ARGO:
            interval = (f"at its next sync (every {ARGO_DEFAULT_INTERVAL} by default) if it syncs "
                        "automatically with self-heal")
        return (f"{self.object} manages this release: {self.controller} will revert this {operation} "
                f"{interval}. To make it stick, {self.suspend_hint()}.")


def _mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _meta(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any], str]:
    md = _mapping(obj, "metadata")
    what = f"{obj.get('kind') or 'object'} {md.get('name') or ''}".strip()
    return _mapping(md, "labels"), _mapping(md, "annotations"), what


def owner_from_labels(labels: Mapping[str, Any], annotations: Mapping[str, Any] | None = None, *,
                      where: str = "") -> GitOpsOwner | None:
    """Flux's origin labels, or Argo CD's instance label / tracking annotation, on one object."""
    annotations = annotations or {}
    flux_name = labels.get(FLUX_NAME)
    if isinstance(flux_name, str) and flux_name:
        ns = labels.get(FLUX_NAMESPACE)
        return GitOpsOwner(FLUX, flux_name, ns if isinstance(ns, str) and ns else None,
                           evidence=f"Flux labels on {where}" if where else "Flux labels")
    tracking = annotations.get(ARGO_TRACKING)
    if isinstance(tracking, str) and tracking:
        app = tracking.split(":", 1)[0]
        app_ns, _, app_name = app.rpartition("_")  # apps in any namespace: "NAMESPACE_NAME"
        evidence = f"Argo CD tracking annotation on {where}" if where else "Argo CD annotation"
        return GitOpsOwner(ARGO, app_name or app, app_ns or None, evidence=evidence)
    instance = labels.get(ARGO_INSTANCE)
    if isinstance(instance, str) and instance:
        return GitOpsOwner(ARGO, instance,
                           evidence=f"Argo CD instance label on {where}" if where else "Argo CD label")
    return None


def owner_from_objects(objects: Iterable[Mapping[str, Any]]) -> GitOpsOwner | None:
    """The first owner any of the objects names (the release's manifest, live objects)."""
    for obj in objects:
        if not isinstance(obj, Mapping):
            continue
        labels, annotations, what = _meta(obj)
        owner = owner_from_labels(labels, annotations, where=what)
        if owner is not None:
            return owner
    return None


def helmrelease_names(helmrelease: Mapping[str, Any]) -> tuple[str, str]:
    """(release name, storage namespace) of the Helm release a Flux HelmRelease manages."""
    md, spec = _mapping(helmrelease, "metadata"), _mapping(helmrelease, "spec")
    own_ns = str(md.get("namespace") or "")
    target = str(spec.get("targetNamespace") or "")
    name = str(spec.get("releaseName") or (f"{target}-{md.get('name')}" if target else md.get("name") or ""))
    storage = str(spec.get("storageNamespace") or target or own_ns)
    return name, storage


def owner_from_helmreleases(helmreleases: Iterable[Mapping[str, Any]], release: str,
                            namespace: str) -> GitOpsOwner | None:
    """The HelmRelease that manages `release` stored in `namespace`, if any."""
    for hr in helmreleases:
        if not isinstance(hr, Mapping) or helmrelease_names(hr) != (release, namespace):
            continue
        md, spec = _mapping(hr, "metadata"), _mapping(hr, "spec")
        interval = spec.get("interval")
        return GitOpsOwner(FLUX, str(md.get("name") or ""), str(md.get("namespace") or "") or None,
                           interval=str(interval) if interval else None,
                           suspended=spec.get("suspend") is True,
                           evidence="a HelmRelease names it")
    return None


__all__ = [
    "ARGO",
    "FLUX",
    "GitOpsOwner",
    "helmrelease_names",
    "owner_from_helmreleases",
    "owner_from_labels",
    "owner_from_objects",
]
