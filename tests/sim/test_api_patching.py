"""Patch, apply and protobuf semantics without HTTP (the parts helm and kubectl lean on)."""

from __future__ import annotations

import pytest

from bot.sim import protobuf, ssa
from bot.sim.patching import json_patch, merge_patch, strategic_merge
from bot.sim.store import ApiError

POD_SPEC = {
    "containers": [
        {
            "name": "web",
            "image": "nginx:1",
            "ports": [{"containerPort": 80}, {"containerPort": 81}],
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        }
    ]
}


def test_strategic_merge_keys_directives_and_deletes() -> None:
    live = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": POD_SPEC}
    patch = {
        "metadata": {"labels": {"b": None}},
        "spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [
                {
                    "name": "web",
                    "$setElementOrder/env": [{"name": "C"}, {"name": "A"}],
                    "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}],
                    "ports": [{"containerPort": 81, "$patch": "delete"}],
                }
            ],
        },
    }
    out = strategic_merge(live, patch)
    container = out["spec"]["containers"][0]
    assert out["metadata"]["labels"] == {"a": "1"}
    assert [e["name"] for e in container["env"]] == ["C", "A"]
    assert container["ports"] == [{"containerPort": 80}] and container["image"] == "nginx:1"
    service = strategic_merge(
        {"spec": {"ports": [{"port": 80, "name": "a"}]}}, {"spec": {"ports": [{"port": 80, "name": "b"}]}}
    )
    assert service["spec"]["ports"] == [{"port": 80, "name": "b"}]  # Service ports keyed on `port`
    replaced = strategic_merge({"spec": {"x": 1, "y": 2}}, {"spec": {"$patch": "replace", "z": 3}})
    assert replaced["spec"] == {"z": 3}
    retained = strategic_merge(
        {"spec": {"type": "A", "old": 1}}, {"spec": {"$retainKeys": ["type"], "type": "B"}}
    )
    assert retained["spec"] == {"type": "B"}


def test_merge_and_json_patch() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {"a": {"c": 2, "d": 3}}
    doc = {"metadata": {"labels": {"x/y": "1"}}, "items": [1, 2]}
    out = json_patch(
        doc,
        [
            {"op": "remove", "path": "/metadata/labels/x~1y"},
            {"op": "add", "path": "/items/-", "value": 3},
            {"op": "replace", "path": "/items/0", "value": 0},
        ],
    )
    assert out == {"metadata": {"labels": {}}, "items": [0, 2, 3]}
    with pytest.raises(ApiError) as err:
        json_patch(doc, [{"op": "test", "path": "/items/0", "value": 9}])
    assert err.value.code == 422


def _applied(env: list[dict], replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "web", "image": "nginx", "env": env}]}},
        },
    }


def test_apply_removes_only_fields_it_alone_owned() -> None:
    first = ssa.apply(
        None,
        _applied([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
        manager="helm",
        force=False,
        now="t",
    )
    second = ssa.apply(first, _applied([{"name": "A", "value": "1"}]), manager="helm", force=False, now="t")
    assert second["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    # A field someone else also owns survives the applier dropping it.
    scaled = dict(second, spec={**second["spec"], "replicas": 4})
    ssa.record_update(second, scaled, manager="kubectl-scale", now="t", subresource="scale")
    with pytest.raises(ApiError) as err:
        ssa.apply(
            scaled, _applied([{"name": "A", "value": "1"}], replicas=2), manager="helm", force=False, now="t"
        )
    assert (
        err.value.code == 409
        and 'conflict with "kubectl-scale" with subresource "scale"' in err.value.message
    )
    forced = ssa.apply(
        scaled, _applied([{"name": "A", "value": "1"}], replicas=2), manager="helm", force=True, now="t"
    )
    assert forced["spec"]["replicas"] == 2
    assert [m["manager"] for m in forced["metadata"]["managedFields"]] == ["helm"]


def test_fields_v1_round_trip() -> None:
    fields = {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}},
    }
    assert ssa.set_to_fields(ssa.fields_to_set(fields)) == fields


def test_protobuf_secret_and_delete_options() -> None:
    body = protobuf.encode_secret("s", "ns", {"k": b"\x00\x01"}, labels={"owner": "helm"})
    secret = protobuf.decode(body)
    assert secret["kind"] == "Secret" and secret["metadata"] == {
        "name": "s",
        "namespace": "ns",
        "labels": {"owner": "helm"},
    }
    assert secret["data"] == {"k": "AAE="}
    type_meta = protobuf.field_bytes(1, "v1") + protobuf.field_bytes(2, "DeleteOptions")
    options = protobuf.field_bytes(4, "Foreground")
    raw = protobuf.MAGIC + protobuf.field_bytes(1, type_meta) + protobuf.field_bytes(2, options)
    assert protobuf.decode(raw)["propagationPolicy"] == "Foreground"
    pod_meta = protobuf.field_bytes(1, "v1") + protobuf.field_bytes(2, "Pod")
    with pytest.raises(ApiError) as err:
        protobuf.decode(protobuf.MAGIC + protobuf.field_bytes(1, pod_meta))
    assert err.value.code == 415
