"""The subset match that decides whether a live object is the tracked revision's (bot.core.manifest_match)."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest

from bot.core.tracking.manifest_match import matches_manifest, parse_quantity
from tests.core import k8s_objects as k


def _manifest() -> dict[str, Any]:
    """What a chart renders: no server defaults, quantities and ports as written."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "helm.sh/chart": "shop-1.2.0"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "envoy:1.30", "args": ["--port", "9901"]},
                        {
                            "name": "web",
                            "image": k.IMAGE,
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "8080"}},
                            "resources": {"requests": {"cpu": 0.5, "memory": "1024Mi"}},
                            "env": None,
                        },
                    ],
                    "volumes": [],
                },
            },
        },
    }


def _live() -> dict[str, Any]:
    """The same as the API server returns it: defaults added, canonical quantities, extra labels."""
    dep = k.deployment("web", replicas=3, labels={"app": "web"})
    dep["metadata"]["labels"]["helm.sh/chart"] = "shop-1.2.0"
    dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = "1"
    web = k.container(
        "web",
        k.IMAGE,
        ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        readinessProbe={"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}},
        resources={"requests": {"cpu": "500m", "memory": "1Gi"}},
    )
    sidecar = k.container("sidecar", "envoy:1.30", args=["--port", "9901"])
    dep["spec"]["template"]["spec"]["containers"] = [web, sidecar]  # another order
    return dep


def test_live_object_with_server_defaults_matches_its_manifest() -> None:
    assert matches_manifest(_live(), _manifest())


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["spec"]["template"]["spec"]["containers"][1].update(image="shop/web:0.9"),
        lambda d: d["spec"]["template"]["spec"]["containers"][1]["args"].append("--debug"),
        lambda d: d["spec"]["template"]["spec"]["containers"].pop(1),
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"].update(cpu="1"),
        lambda d: d["metadata"]["labels"].update({"helm.sh/chart": "shop-1.1.0"}),
        lambda d: d["spec"].update(replicas=2),
        lambda d: d["spec"]["template"]["spec"].update(volumes=[{"name": "x", "emptyDir": {}}]),
    ],
)
def test_a_difference_in_what_the_manifest_sets_is_not_a_match(change: Any) -> None:
    live = _live()
    change(live)
    assert not matches_manifest(live, _manifest())


def test_null_and_empty_maps_in_a_manifest_leave_fields_to_the_server() -> None:
    manifest = copy.deepcopy(_manifest())
    manifest["spec"]["template"]["metadata"]["annotations"] = {}
    manifest["spec"]["paused"] = None
    assert matches_manifest(_live(), manifest)


def test_booleans_are_not_numbers() -> None:
    manifest, live = _manifest(), _live()
    manifest["spec"]["paused"] = True
    live["spec"]["paused"] = 1
    assert not matches_manifest(live, manifest)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        (0.5, Fraction(1, 2)),
        ("1Gi", 1024**3),
        ("1024Mi", 1024**3),
        ("2", 2),
        ("1e3", 1000),
        ("1k", 1000),
        ("100n", Fraction(1, 10**7)),
        ("abc", None),
        (True, None),
    ],
)
def test_parse_quantity(text: Any, value: Any) -> None:
    assert parse_quantity(text) == value
