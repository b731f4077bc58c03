"""Failure isolation: one object (or one controller) that raises must not stop the simulated cluster."""

from __future__ import annotations

import logging

import pytest

from bot.sim.controllers.testing import Harness

LOGGER = "bot.sim.controllers"


def web(name: str, replicas: object = 1) -> dict:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "example/web:1"}]},
            },
        },
    }


def corrupt(h: Harness, key: str, name: str, fn: object) -> None:
    """Write a value the API would reject, the way a state file from an older build can hold one:
    through snapshot()/restore(), which loads objects as they are."""
    state = h.store.snapshot()
    obj = next(o for o in state["objects"][key] if o["metadata"]["name"] == name)
    fn(obj)  # type: ignore[operator]
    h.store.restore(state)


def uid(h: Harness, key: str, name: str) -> str:
    return str(h.get(key, name)["metadata"]["uid"])


def available(h: Harness, name: str) -> bool:
    return (h.get("apps/deployments", name).get("status") or {}).get("availableReplicas") == 1


def pod_ready(h: Harness, name: str) -> bool:
    conds = (h.get("/pods", name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def job_complete(h: Harness, name: str) -> bool:
    conds = (h.get("batch/jobs", name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Complete" and c["status"] == "True" for c in conds)


def test_a_bad_object_is_isolated_logged_once_backed_off_and_retried_when_fixed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness()
    h.store.create("apps/deployments", web("bad"))
    h.store.create("apps/deployments", web("good"))
    h.store.create(
        "batch/jobs",
        {
            "metadata": {"name": "migrate", "namespace": "default"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "example/m:1"}]}
                }
            },
        },
    )
    h.store.create(
        "/pods",
        {
            "metadata": {"name": "solo", "namespace": "default"},
            "spec": {"containers": [{"name": "a", "image": "x:1"}]},
        },
    )
    h.store.create(
        "/pods",
        {
            "metadata": {"name": "broken", "namespace": "default"},
            "spec": {"containers": [{"name": "a", "image": "x:1"}]},
        },
    )
    corrupt(h, "apps/deployments", "bad", lambda o: o["spec"].update(replicas="three"))
    corrupt(h, "/pods", "broken", lambda o: o["spec"].update(containers="oops"))
    bad_uid, broken_uid = uid(h, "apps/deployments", "bad"), uid(h, "/pods", "broken")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        # every other object progresses: the Deployment and ReplicaSet controllers, the Job controller
        # and the kubelet all keep working while the bad Deployment and the broken pod fail every sync
        h.run_until(
            lambda: available(h, "good") and job_complete(h, "migrate") and pod_ready(h, "solo"),
            seconds=10,
            what="the healthy objects progressing",
        )
        h.run_for(8)

    deployments, kubelet = h.controllers.deployments.guard, h.controllers.kubelet.guard
    assert "ValueError" in deployments.failing[bad_uid].error
    assert "AttributeError" in kubelet.failing[broken_uid].error
    # backed off: ~10 simulated seconds at 0.1 s per tick is 100 ticks, but only a handful of attempts
    assert 3 <= deployments.failing[bad_uid].attempts <= 6
    # logged once per object and error, not once per tick
    bad_logs = [r for r in caplog.records if bad_uid in r.getMessage()]
    broken_logs = [r for r in caplog.records if broken_uid in r.getMessage()]
    assert len(bad_logs) == 1 and "deployment-controller" in bad_logs[0].getMessage()
    assert len(broken_logs) == 1 and bad_logs[0].exc_info is not None and broken_logs[0].exc_info
    assert h.get("apps/deployments", "bad").get("status", {}).get("observedGeneration") is None

    # fixed (a new resourceVersion): retried at once, not after the back-off
    h.store.mutate("apps/deployments", "default", "bad", lambda o: o["spec"].update(replicas=1))
    h.tick()
    assert bad_uid not in deployments.failing
    assert h.get("apps/deployments", "bad")["status"]["observedGeneration"] == 2
    h.run_until(lambda: available(h, "bad"), seconds=5, what="the fixed Deployment rolled out")


def test_a_controller_that_raises_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def tick(self) -> None:
            raise RuntimeError("informer cache lost")

    h = Harness()
    h.controllers.all.insert(0, Broken())
    h.store.create("apps/deployments", web("good"))
    with caplog.at_level(logging.WARNING, logger="bot.sim.controllers.runtime"):
        h.run_until(lambda: available(h, "good"), seconds=5, what="the Deployment rolled out")
    failures = [r for r in caplog.records if "informer cache lost" in r.getMessage()]
    assert len(failures) == 1  # once, not every tick
