"""Store semantics without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.sim.store import ApiError, Store
from tests.polling import poll


def _deploy(name: str = "web", replicas: int = 1) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }


@pytest.fixture
def store() -> Store:
    return Store(pod_grace_seconds=0.2)


def test_create_sets_bookkeeping_and_defaults(store: Store) -> None:
    obj = store.create("apps/deployments", _deploy())
    meta = obj["metadata"]
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    assert meta["uid"] and meta["generation"] == 1 and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) == store.resource_version
    assert obj["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert obj["spec"]["progressDeadlineSeconds"] == 600 and obj["spec"]["revisionHistoryLimit"] == 10
    container = obj["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent" and container["terminationMessagePolicy"] == "File"
    with pytest.raises(ApiError) as err:
        store.create("apps/deployments", _deploy())
    assert err.value.code == 409 and err.value.reason == "AlreadyExists"


def test_missing_namespace_is_404_and_defaults_exist(store: Store) -> None:
    assert store.get("/namespaces", None, "default") is not None
    assert store.get("/namespaces", None, "kube-system") is not None
    with pytest.raises(ApiError) as err:
        store.create("/configmaps", {"metadata": {"name": "x", "namespace": "nope"}})
    assert err.value.code == 404
    store.create("/namespaces", {"metadata": {"name": "nope"}})
    store.create("/configmaps", {"metadata": {"name": "x", "namespace": "nope"}})
    assert store.get("/serviceaccounts", "nope", "default") is not None


def test_generation_only_on_spec_change_and_status_kept(store: Store) -> None:
    store.create("apps/deployments", _deploy())
    done = store.mutate(
        "apps/deployments",
        "default",
        "web",
        lambda o: o["status"].update(observedGeneration=1, replicas=1),
        subresource="status",
    )
    assert done is not None and done["metadata"]["generation"] == 1 and done["status"]["replicas"] == 1
    obj = store.get("apps/deployments", "default", "web")
    assert obj is not None
    obj["status"] = {"replicas": 99}
    obj["metadata"]["labels"]["x"] = "y"
    updated = store.update("apps/deployments", obj)
    assert updated["metadata"]["generation"] == 1 and updated["status"]["replicas"] == 1
    obj = updated
    obj["spec"]["replicas"] = 3
    updated = store.update("apps/deployments", obj)
    assert updated["metadata"]["generation"] == 2
    stale = dict(obj, metadata={**obj["metadata"], "resourceVersion": "1"})
    with pytest.raises(ApiError) as err:
        store.update("apps/deployments", stale)
    assert err.value.code == 409


def test_mutate_without_change_writes_nothing(store: Store) -> None:
    store.create("/configmaps", {"metadata": {"name": "a"}, "data": {"k": "v"}})
    rv = store.resource_version
    store.mutate("/configmaps", "default", "a", lambda o: None)
    assert store.resource_version == rv
    assert store.mutate("/configmaps", "default", "missing", lambda o: None) is None


def test_list_labels_and_events_after(store: Store) -> None:
    rv0 = store.resource_version
    store.create("/configmaps", {"metadata": {"name": "a", "labels": {"app": "x"}}})
    store.create("/configmaps", {"metadata": {"name": "b", "labels": {"app": "y"}}})
    assert [o["metadata"]["name"] for o in store.list("/configmaps", "default", labels={"app": "y"})] == ["b"]
    events = store.events_after(rv0, "/configmaps")
    assert [(e.type, e.obj["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")]


def test_history_is_bounded_and_old_rv_is_gone() -> None:
    store = Store(history=5)
    rv0 = store.resource_version
    for i in range(10):
        store.create("/configmaps", {"metadata": {"name": f"c{i}"}})
    with pytest.raises(ApiError) as err:
        store.events_after(rv0)
    assert err.value.code == 410 and err.value.reason == "Expired"
    assert len(store.events_after(store.resource_version - 3)) == 3


def test_graceful_pod_deletion(store: Store) -> None:
    store.create("/pods", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    store.logs.append("default", "p", "c", "hello")
    pending = store.delete("/pods", "default", "p")
    assert pending is not None and pending["metadata"]["deletionTimestamp"]
    assert store.get("/pods", "default", "p") is not None
    poll(lambda: store.get("/pods", "default", "p") is None)
    assert store.logs.read("default", "p", "c") is None


def test_finalizers_block_removal(store: Store) -> None:
    store.create("/configmaps", {"metadata": {"name": "f", "finalizers": ["example.com/x"]}})
    store.delete("/configmaps", "default", "f")
    obj = store.get("/configmaps", "default", "f")
    assert obj is not None and obj["metadata"]["deletionTimestamp"]
    store.mutate("/configmaps", "default", "f", lambda o: o["metadata"].pop("finalizers"))
    assert store.get("/configmaps", "default", "f") is None


def _owned(store: Store, owner: dict, name: str) -> dict:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return store.create("/configmaps", {"metadata": {"name": name, "ownerReferences": [ref]}})


@pytest.mark.parametrize("propagation", ["Background", "Foreground", "Orphan"])
def test_owner_reference_gc(store: Store, propagation: str) -> None:
    owner = store.create("apps/deployments", _deploy())
    _owned(store, owner, "child")
    store.delete("apps/deployments", "default", "web", propagation=propagation)
    child = store.get("/configmaps", "default", "child")
    assert store.get("apps/deployments", "default", "web") is None
    if propagation == "Orphan":
        assert child is not None and "ownerReferences" not in child["metadata"]
    else:
        assert child is None


def test_foreground_waits_for_graceful_dependents(store: Store) -> None:
    owner = store.create(
        "batch/jobs",
        {
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                }
            },
        },
    )
    ref = {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": owner["metadata"]["uid"]}
    store.create(
        "/pods",
        {
            "metadata": {"name": "j-1", "ownerReferences": [ref]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    store.delete("batch/jobs", "default", "j", propagation="Foreground")
    job = store.get("batch/jobs", "default", "j")
    assert job is not None and "foregroundDeletion" in job["metadata"]["finalizers"]
    poll(lambda: store.get("batch/jobs", "default", "j") is None)
    assert store.get("/pods", "default", "j-1") is None


def test_job_defaults_and_selector(store: Store) -> None:
    job = store.create(
        "batch/jobs",
        {
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
                }
            },
        },
    )
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["completions"], spec["parallelism"]) == (6, 1, 1)
    assert spec["template"]["metadata"]["labels"]["job-name"] == "j"
    assert spec["selector"]["matchLabels"] == {"batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}


def test_service_cluster_ip_allocation(store: Store) -> None:
    a = store.create("/services", {"metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}})
    b = store.create("/services", {"metadata": {"name": "b"}, "spec": {"ports": [{"port": 80}]}})
    assert a["spec"]["clusterIP"] != b["spec"]["clusterIP"]
    assert a["spec"]["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}


def test_record_event_aggregates_and_has_v1_view(store: Store) -> None:
    spec = {"containers": [{"name": "c", "image": "x"}]}
    pod = store.create("/pods", {"metadata": {"name": "p"}, "spec": spec})
    store.record_event(pod, "BackOff", "Back-off restarting", type="Warning")
    store.record_event(pod, "BackOff", "Back-off restarting", type="Warning")
    events = store.list("/events", "default")
    assert len(events) == 1 and events[0]["count"] == 2
    assert events[0]["involvedObject"]["uid"] == pod["metadata"]["uid"]
    v1 = store.list("events.k8s.io/events", "default")[0]
    assert v1["apiVersion"] == "events.k8s.io/v1" and v1["regarding"]["name"] == "p" and v1["note"]


def test_listeners_and_logbook(store: Store) -> None:
    seen: list[tuple[str, str]] = []
    store.add_listener(lambda t, k, o: seen.append((t, k)))
    store.create("/configmaps", {"metadata": {"name": "a"}})
    assert seen == [("ADDED", "/configmaps")]
    store.logs.append("ns", "p", "c", "one")
    store.logs.append("ns", "p", "c", "two")
    assert store.logs.read("ns", "p", "c", tail=1) == ["two"]
    store.logs.restart("ns", "p", "c")
    assert store.logs.read("ns", "p", "c", previous=True) == ["one", "two"]
    assert store.logs.read("ns", "p", "c") == []


def test_reset_keeps_rv_monotonic(store: Store) -> None:
    store.create("/configmaps", {"metadata": {"name": "a"}})
    rv = store.resource_version
    store.reset()
    assert store.get("/configmaps", "default", "a") is None
    assert store.resource_version > rv
    with pytest.raises(ApiError):
        store.events_after(rv - 1)


def test_fake_clock_is_used() -> None:
    class Fixed:
        def now(self) -> datetime:
            return datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

    store = Store(clock=Fixed())
    obj = store.create("/configmaps", {"metadata": {"name": "a"}})
    assert obj["metadata"]["creationTimestamp"] == "2030-01-02T03:04:05Z"


def _pod(name: str, namespace: str = "default", **meta: object) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, **meta},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


def test_force_delete_still_honours_finalizers(store: Store) -> None:
    store.create("/pods", _pod("held", finalizers=["example.com/hold"]))
    store.delete("/pods", "default", "held")
    forced = store.delete("/pods", "default", "held", grace_seconds=0)
    assert forced is not None and store.get("/pods", "default", "held") is not None  # the finalizer holds it
    store.mutate("/pods", "default", "held", lambda o: o["metadata"].pop("finalizers"))
    assert store.get("/pods", "default", "held") is None  # grace is over: gone as soon as it is unfinalized
    store.create("/pods", _pod("direct", finalizers=["example.com/hold"]))
    store.delete("/pods", "default", "direct", grace_seconds=0)
    store.mutate("/pods", "default", "direct", lambda o: o["metadata"].pop("finalizers"))
    assert store.get("/pods", "default", "direct") is None
    store.create("/pods", _pod("free"))
    store.delete("/pods", "default", "free")
    store.delete("/pods", "default", "free", grace_seconds=0)
    assert store.get("/pods", "default", "free") is None


def test_namespace_terminates_while_its_pods_do(store: Store) -> None:
    store.create("/namespaces", {"metadata": {"name": "doomed"}})
    store.create("/pods", _pod("p", "doomed"))
    store.create("/configmaps", {"metadata": {"name": "c", "namespace": "doomed"}})
    terminating = store.delete("/namespaces", None, "doomed")
    assert terminating is not None and terminating["status"] == {"phase": "Terminating"}
    assert store.get("/namespaces", None, "doomed")["status"]["phase"] == "Terminating"
    assert store.get("/configmaps", "doomed", "c") is None
    assert store.get("/pods", "doomed", "p")["metadata"]["deletionTimestamp"]
    with pytest.raises(ApiError) as err:
        store.create("/configmaps", {"metadata": {"name": "late", "namespace": "doomed"}})
    assert err.value.code == 403 and "because it is being terminated" in err.value.message
    poll(lambda: store.get("/namespaces", None, "doomed") is None, timeout=5, what="the namespace to go")
    assert store.get("/pods", "doomed", "p") is None


def test_generation_only_for_kinds_with_spec(store: Store) -> None:
    assert "generation" not in store.create("/configmaps", {"metadata": {"name": "c"}})["metadata"]
    updated = store.mutate("/configmaps", "default", "c", lambda o: o.update(data={"a": "1"}))
    assert updated is not None and "generation" not in updated["metadata"]
    assert "generation" not in store.get("/serviceaccounts", "default", "default")["metadata"]
    assert store.create("/pods", _pod("g"))["metadata"]["generation"] == 1


def test_a_crd_makes_its_kind_served_until_deleted() -> None:
    """As an API server: once a CustomResourceDefinition exists, its kind can be stored and listed."""
    from bot.sim import registry

    store = Store()
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.example.org"},
        "spec": {"group": "example.org", "scope": "Namespaced",
                 "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"status": {}}}]},
    }
    assert registry.find("example.org", "v1", "gizmos") is None
    store.create(registry.CRD_KEY, crd)
    try:
        res = registry.find("example.org", "v1", "gizmos")
        assert res is not None and res.kind == "Gizmo" and res.namespaced and "status" in res.subresources
        store.create("example.org/gizmos", {"apiVersion": "example.org/v1", "kind": "Gizmo",
                                            "metadata": {"name": "g", "namespace": "default"}})
        assert [g["metadata"]["name"] for g in store.list("example.org/gizmos", "default")] == ["g"]
    finally:
        store.delete(registry.CRD_KEY, None, "gizmos.example.org")
    assert registry.find("example.org", "v1", "gizmos") is None
    store.create(registry.CRD_KEY, crd)  # served again: the old objects went with the CRD
    try:
        assert store.list("example.org/gizmos", "default") == []
    finally:
        store.delete(registry.CRD_KEY, None, "gizmos.example.org")
