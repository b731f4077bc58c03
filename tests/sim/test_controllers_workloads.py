"""Deployments (paced rolling updates, Recreate, deadlines, paused), StatefulSets and DaemonSets."""

from __future__ import annotations

import json

import pytest

from bot.sim.controllers import SimOptions
from bot.sim.controllers.testing import Harness


def template(image: str = "example/web:1", script: dict | None = None) -> dict:
    c: dict = {"name": "web", "image": image}
    if script is not None:
        c["env"] = [{"name": "HELMBOT_SIM_SCRIPT", "value": json.dumps(script)}]
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [c]}}


def make(h: Harness, key: str, name: str = "web", **spec: object) -> None:
    body = {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec}
    h.store.create(key, {"metadata": {"name": name, "namespace": "default"}, "spec": body})


def set_image(h: Harness, key: str, image: str, script: dict | None = None) -> None:
    h.store.mutate(key, "default", "web", lambda o: o["spec"].update(template=template(image, script)))


def reason(obj: dict, ctype: str) -> str | None:
    return next((c["reason"] for c in obj["status"].get("conditions", []) if c["type"] == ctype), None)


def deployment_done(h: Harness) -> bool:
    d = h.get("apps/deployments", "web")
    st, want = d["status"], d["spec"]["replicas"]
    return (
        st.get("observedGeneration") == d["metadata"]["generation"]
        and st.get("updatedReplicas") == want
        and st.get("replicas") == want
        and st.get("availableReplicas") == want
        and reason(d, "Progressing") == "NewReplicaSetAvailable"
    )


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_deployment_creates_replicaset_and_pods(h: Harness) -> None:
    make(h, "apps/deployments", replicas=3)
    h.run_until(lambda: deployment_done(h), seconds=5, what="rollout")
    d = h.get("apps/deployments", "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    (rs,) = h.store.list("apps/replicasets", "default")
    pth = rs["metadata"]["labels"]["pod-template-hash"]
    assert (
        rs["metadata"]["name"] == f"web-{pth}"
        and rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    )
    assert rs["status"] == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "observedGeneration": 1,
    }
    assert len(h.pods(**{"pod-template-hash": pth})) == 3
    assert reason(d, "Available") == "MinimumReplicasAvailable"
    scaling = [e["message"] for e in h.events("web", "ScalingReplicaSet")]
    assert scaling == [f"Scaled up replica set web-{pth} from 0 to 3"]


@pytest.mark.parametrize(
    ("surge", "unavailable", "max_pods", "min_available"),
    [
        pytest.param(1, 0, 5, 4, id="surge-1"),
        pytest.param(0, 1, 4, 3, id="unavailable-1"),
        pytest.param("25%", "25%", 5, 3, id="default-25%"),
    ],
)
def test_rolling_update_is_paced(
    h: Harness, surge: object, unavailable: object, max_pods: int, min_available: int
) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    make(h, "apps/deployments", replicas=4, strategy=strategy)
    h.run_until(lambda: deployment_done(h), seconds=5, what="first rollout")
    set_image(h, "apps/deployments", "example/web:2", {"readySeconds": 0.5})
    seen_pods, seen_available, steps = 0, 99, 0
    while not deployment_done(h):
        h.tick()
        steps += 1
        assert steps < 300, "rollout did not finish"
        live = [p for p in h.pods() if not p["metadata"].get("deletionTimestamp")]
        seen_pods = max(seen_pods, len(live))
        seen_available = min(
            seen_available, h.get("apps/deployments", "web")["status"].get("availableReplicas", 0)
        )
    assert seen_pods <= max_pods and seen_available >= min_available
    assert steps > 10  # several steps, not all at once
    d = h.get("apps/deployments", "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert "Killing" in [e["reason"] for e in h.events()]


def test_old_pods_terminate_before_they_vanish(h: Harness) -> None:
    make(h, "apps/deployments", replicas=1)
    h.run_until(lambda: deployment_done(h), seconds=5, what="first rollout")
    set_image(h, "apps/deployments", "example/web:2")
    h.run_until(
        lambda: any(p["metadata"].get("deletionTimestamp") for p in h.pods()),
        seconds=5,
        what="a Terminating old pod",
    )
    d = h.get("apps/deployments", "web")
    assert reason(d, "Progressing") != "NewReplicaSetAvailable"
    h.run_until(lambda: deployment_done(h), seconds=5, what="second rollout")


def test_recreate_scales_old_to_zero_first(h: Harness) -> None:
    make(h, "apps/deployments", replicas=2, strategy={"type": "Recreate"})
    h.run_until(lambda: deployment_done(h), seconds=5, what="first rollout")
    set_image(h, "apps/deployments", "example/web:2")
    while not deployment_done(h):
        h.tick()
        images = {p["spec"]["containers"][0]["image"] for p in h.pods()}
        assert len(images) <= 1, "old and new pods overlap under Recreate"


def test_crash_looping_rollout_exceeds_progress_deadline(h: Harness) -> None:
    make(h, "apps/deployments", replicas=2, progressDeadlineSeconds=3)
    h.run_until(lambda: deployment_done(h), seconds=5, what="first rollout")
    set_image(h, "apps/deployments", "example/web:2", {"exitCode": 1, "runSeconds": 0.2})
    h.run_until(
        lambda: reason(h.get("apps/deployments", "web"), "Progressing") == "ProgressDeadlineExceeded",
        seconds=20,
        what="ProgressDeadlineExceeded",
    )
    d = h.get("apps/deployments", "web")
    cond = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert cond["status"] == "False" and "has timed out progressing" in cond["message"]
    assert d["status"]["availableReplicas"] >= 1  # old pods keep serving
    assert d["status"]["unavailableReplicas"] >= 1


def test_paused_deployment_does_not_roll(h: Harness) -> None:
    make(h, "apps/deployments", replicas=1)
    h.run_until(lambda: deployment_done(h), seconds=5, what="first rollout")
    h.store.mutate(
        "apps/deployments",
        "default",
        "web",
        lambda o: o["spec"].update(paused=True, template=template("example/web:2")),
    )
    h.run_for(2)
    d = h.get("apps/deployments", "web")
    assert reason(d, "Progressing") == "DeploymentPaused"
    assert len(h.store.list("apps/replicasets", "default")) == 1


def test_rollback_reuses_old_replicaset_with_new_revision(h: Harness) -> None:
    make(h, "apps/deployments", replicas=1)
    h.run_until(lambda: deployment_done(h), seconds=5, what="v1")
    set_image(h, "apps/deployments", "example/web:2")
    h.run_until(lambda: deployment_done(h), seconds=5, what="v2")
    set_image(h, "apps/deployments", "example/web:1")
    h.run_until(lambda: deployment_done(h), seconds=5, what="back to v1")
    rss = h.store.list("apps/replicasets", "default")
    assert len(rss) == 2
    revs = {
        r["spec"]["template"]["spec"]["containers"][0]["image"]: r["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"
        ]
        for r in rss
    }
    assert revs == {"example/web:1": "3", "example/web:2": "2"}


def test_scale_down_deletes_pods(h: Harness) -> None:
    make(h, "apps/deployments", replicas=3)
    h.run_until(lambda: deployment_done(h), seconds=5, what="rollout")
    h.store.mutate("apps/deployments", "default", "web", lambda o: o["spec"].update(replicas=1))
    h.run_until(lambda: deployment_done(h) and len(h.pods()) == 1, seconds=5, what="scaled down")
    assert "SuccessfulDelete" in [e["reason"] for e in h.events()]


def sts_done(h: Harness) -> bool:
    s = h.get("apps/statefulsets", "web")
    st = s["status"]
    return (
        st.get("observedGeneration") == s["metadata"]["generation"]
        and st.get("readyReplicas") == 3
        and st.get("updatedReplicas") == 3
        and st.get("currentRevision") == st.get("updateRevision")
    )


def test_statefulset_ordered_creation_and_rolling_update(h: Harness) -> None:
    claims = [
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
    ]
    make(h, "apps/statefulsets", replicas=3, serviceName="web", volumeClaimTemplates=claims)
    h.tick(2)
    assert [p["metadata"]["name"] for p in h.pods()] == ["web-0"]  # web-1 waits for web-0 to be Ready
    h.run_until(lambda: sts_done(h), seconds=10, what="sts ready")
    assert {p["metadata"]["name"] for p in h.pods()} == {"web-0", "web-1", "web-2"}
    assert h.get("/persistentvolumeclaims", "data-web-0")["status"]["phase"] == "Bound"
    first = h.get("apps/statefulsets", "web")["status"]["updateRevision"]
    assert h.store.get("apps/controllerrevisions", "default", first) is not None
    set_image(h, "apps/statefulsets", "example/web:2")
    h.run_until(
        lambda: h.get("apps/statefulsets", "web")["status"]["updateRevision"] != first,
        seconds=2,
        what="new revision",
    )
    deleted = []
    while not sts_done(h):
        h.tick()
        deleted += [
            p["metadata"]["name"]
            for p in h.pods()
            if p["metadata"].get("deletionTimestamp") and p["metadata"]["name"] not in deleted
        ]
        assert len(deleted) < 10
    assert deleted == ["web-2", "web-1", "web-0"]
    assert h.get("apps/statefulsets", "web")["status"]["currentRevision"] != first


def test_statefulset_partition_and_on_delete(h: Harness) -> None:
    make(
        h,
        "apps/statefulsets",
        replicas=3,
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
    )
    h.run_until(lambda: sts_done(h), seconds=10, what="sts ready")
    set_image(h, "apps/statefulsets", "example/web:2")
    h.run_until(
        lambda: h.get("apps/statefulsets", "web")["status"].get("updatedReplicas") == 1,
        seconds=10,
        what="partitioned update",
    )
    h.run_for(2)
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in h.pods()}
    assert images == {"web-0": "example/web:1", "web-1": "example/web:1", "web-2": "example/web:2"}


def test_daemonset_one_pod_per_node_and_rolling_update() -> None:
    h = Harness(SimOptions(nodes=("n1", "n2", "n3"), seed=1))
    make(h, "apps/daemonsets")

    def ds_ok() -> bool:
        d = h.get("apps/daemonsets", "web")
        st = d["status"]
        return (
            st.get("observedGeneration") == d["metadata"]["generation"]
            and st["desiredNumberScheduled"] == 3
            and st.get("updatedNumberScheduled") == 3
            and st.get("numberAvailable") == 3
        )

    h.run_until(ds_ok, seconds=5, what="ds ready")
    assert sorted(p["spec"]["nodeName"] for p in h.pods()) == ["n1", "n2", "n3"]
    set_image(h, "apps/daemonsets", "example/web:2")
    max_down = 0
    h.tick()
    while not ds_ok():
        h.tick()
        max_down = max(max_down, h.get("apps/daemonsets", "web")["status"].get("numberUnavailable", 0))
    assert max_down == 1
    assert {p["spec"]["containers"][0]["image"] for p in h.pods()} == {"example/web:2"}


@pytest.mark.parametrize(
    ("key", "trigger"),
    [
        pytest.param("apps/deployments", "apps/replicasets", id="deployment"),
        pytest.param("apps/replicasets", "/pods", id="replicaset"),
        pytest.param("apps/statefulsets", "/pods", id="statefulset"),
        pytest.param("apps/daemonsets", "/pods", id="daemonset"),
    ],
)
def test_observed_generation_is_the_synced_one(h: Harness, key: str, trigger: str) -> None:
    """A spec change landing while the controller syncs must stay unobserved: otherwise kstatus would see
    observedGeneration == generation with counts of the old template and call the rollout Current."""
    make(h, key, replicas=1)
    fired: list[bool] = []

    def patch_during_sync(etype: str, changed_key: str, obj: dict) -> None:
        if changed_key == trigger and etype == "ADDED" and not fired:
            fired.append(True)
            h.store.mutate(
                key, "default", "web", lambda o: o["spec"].update(template=template("example/web:2"))
            )

    h.store.add_listener(patch_during_sync)
    h.tick()
    assert fired
    obj = h.get(key, "web")
    assert obj["metadata"]["generation"] == 2
    assert obj["status"]["observedGeneration"] == 1
    h.tick()
    assert h.get(key, "web")["status"]["observedGeneration"] == 2
