"""KubeCluster.gitops_owner against the stand-in: the marks GitOps controllers leave, read from the release
record, a few live objects and the Flux HelmReleases (when the CRD is served), with a handful of requests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.gitops import ARGO, FLUX
from bot.kube.client import KubeClient
from bot.kube.cluster import KubeCluster
from bot.kube.informer import InformerRegistry
from tests.core.release_fixtures import deployment, release_secret

HELMRELEASE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "helmreleases.helm.toolkit.fluxcd.io"},
    "spec": {
        "group": "helm.toolkit.fluxcd.io",
        "scope": "Namespaced",
        "names": {"plural": "helmreleases", "singular": "helmrelease", "kind": "HelmRelease"},
        "versions": [{"name": "v2", "served": True, "storage": True}],
    },
}


@pytest.fixture
def cluster(client: KubeClient) -> Iterator[KubeCluster]:
    kube = KubeCluster("test", client, registry=InformerRegistry(client))
    yield kube
    kube.registry.close()


def install(sim: Any, namespace: str, live: dict[str, Any]) -> None:
    """A release whose record names one Deployment (no marks), and that Deployment as it is live."""
    manifest = deployment("shop-web")
    secret = release_secret("shop", 1, "deployed", manifest_objects=[manifest], namespace=namespace)
    for key in ("resourceVersion", "creationTimestamp"):
        secret["metadata"].pop(key, None)
    sim.store.create("/secrets", secret)
    obj = copy.deepcopy(live)
    obj["metadata"]["namespace"] = namespace
    sim.store.create("apps/deployments", obj)


def test_no_marks_and_no_flux_means_no_owner(sim: Any, namespace: str, cluster: KubeCluster) -> None:
    install(sim, namespace, deployment("shop-web"))
    before = cluster.client.counter.total
    assert cluster.gitops_owner(namespace, "shop") is None
    assert cluster.client.counter.total - before <= 6  # the record, discovery, one live object


def test_argo_cd_tracking_on_a_live_object(sim: Any, namespace: str, cluster: KubeCluster) -> None:
    live = deployment("shop-web")
    live["metadata"]["annotations"] = {
        "argocd.argoproj.io/tracking-id": "argocd_shop-prod:apps/Deployment:x/y"
    }
    install(sim, namespace, live)
    owner = cluster.gitops_owner(namespace, "shop")
    assert owner is not None and owner.controller == ARGO
    assert owner.object == "Argo CD Application argocd/shop-prod"
    assert "argocd app set argocd/shop-prod --sync-policy none" in owner.warning()


def test_a_helmrelease_naming_the_release(sim: Any, namespace: str, cluster: KubeCluster) -> None:
    install(sim, namespace, deployment("shop-web"))
    sim.store.create("apiextensions.k8s.io/customresourcedefinitions", copy.deepcopy(HELMRELEASE_CRD))
    try:
        sim.store.create(
            "helm.toolkit.fluxcd.io/helmreleases",
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "shop", "namespace": namespace},
                "spec": {"interval": "5m", "chart": {"spec": {"chart": "shop"}}},
            },
        )
        owner = cluster.gitops_owner(namespace, "shop")
        assert owner is not None and owner.controller == FLUX and owner.interval == "5m"
        assert owner.object == f"HelmRelease {namespace}/shop"
        assert cluster.gitops_owner(namespace, "other") is None  # it names "shop" only
    finally:
        sim.store.delete(
            "apiextensions.k8s.io/customresourcedefinitions", None, HELMRELEASE_CRD["metadata"]["name"]
        )
