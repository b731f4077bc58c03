"""The simulated kubelet: container scripts, pull/config/mount errors, crash loops, readiness, deletion."""

from __future__ import annotations

import json

import pytest

from bot.sim.controllers import SimOptions
from bot.sim.controllers.scripts import ScriptError, parse_script
from bot.sim.controllers.testing import Harness


def container(
    name: str = "app", image: str = "example/app:1", script: dict | None = None, **extra: object
) -> dict:
    c: dict = {"name": name, "image": image, **extra}
    if script is not None:
        c["env"] = [{"name": "HELMBOT_SIM_SCRIPT", "value": json.dumps(script)}]
    return c


def make_pod(
    h: Harness,
    containers: list[dict],
    *,
    name: str = "p",
    init: list[dict] | None = None,
    restart: str = "Always",
    volumes: list[dict] | None = None,
) -> None:
    spec: dict = {"containers": containers, "restartPolicy": restart}
    if init:
        spec["initContainers"] = init
    if volumes:
        spec["volumes"] = volumes
    h.store.create("/pods", {"metadata": {"name": name, "namespace": "default"}, "spec": spec})


def cstatus(h: Harness, name: str = "p", *, init: bool = False, index: int = 0) -> dict:
    status = h.get("/pods", name)["status"]
    return status["initContainerStatuses" if init else "containerStatuses"][index]


def waiting_reason(h: Harness, name: str = "p", *, init: bool = False) -> str | None:
    return cstatus(h, name, init=init)["state"].get("waiting", {}).get("reason")


def condition(h: Harness, ctype: str, name: str = "p") -> str:
    return next(c["status"] for c in h.get("/pods", name)["status"]["conditions"] if c["type"] == ctype)


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_plain_container_becomes_ready_with_complete_status(h: Harness) -> None:
    make_pod(h, [container()])
    h.run_until(lambda: condition(h, "Ready") == "True", seconds=3, what="pod Ready")
    pod = h.get("/pods", "p")
    status = pod["status"]
    assert pod["spec"]["nodeName"] == "sim-node-1"
    assert status["phase"] == "Running"
    assert status["podIP"] and status["hostIP"] and status["startTime"] and status["qosClass"] == "BestEffort"
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    cs = status["containerStatuses"][0]
    assert cs["image"] == "docker.io/example/app:1" and cs["imageID"].startswith(
        "docker.io/example/app@sha256:"
    )
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
    assert h.reasons("p") == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]


def test_logs_are_written_with_delays_and_job_container_exits(h: Harness) -> None:
    script = {"logs": ["one", {"line": "two", "delay": 1.0}], "exitCode": 0}
    make_pod(h, [container(script=script)], restart="Never")
    h.run_until(lambda: h.store.logs.read("default", "p", "app") == ["one"], seconds=2, what="first line")
    assert h.store.logs.read("default", "p", "app") == ["one"]
    h.run_until(lambda: h.get("/pods", "p")["status"]["phase"] == "Succeeded", seconds=5, what="Succeeded")
    assert h.store.logs.read("default", "p", "app") == ["one", "two"]
    term = cstatus(h)["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"


@pytest.mark.parametrize(
    ("script", "exit_code", "reason"),
    [
        pytest.param({"exitCode": 3, "runSeconds": 0.2}, 3, "Error", id="exit-3"),
        pytest.param({"oom": True, "runSeconds": 0.2}, 137, "OOMKilled", id="oom"),
    ],
)
def test_crash_loop_restarts_with_backoff(h: Harness, script: dict, exit_code: int, reason: str) -> None:
    make_pod(h, [container(script={**script, "logs": ["boom"]})])
    h.run_until(lambda: waiting_reason(h) == "CrashLoopBackOff", seconds=5, what="CrashLoopBackOff")
    cs = cstatus(h)
    assert cs["restartCount"] >= 1 and not cs["ready"]
    assert cs["lastState"]["terminated"]["exitCode"] == exit_code
    assert cs["lastState"]["terminated"]["reason"] == reason
    assert h.get("/pods", "p")["status"]["phase"] == "Running"
    assert h.store.logs.read("default", "p", "app", previous=True) == ["boom"]
    h.run_until(lambda: cstatus(h)["restartCount"] >= 4, seconds=30, what="4 restarts")
    backoffs = [e for e in h.events("p", "BackOff")]
    assert backoffs and backoffs[0]["type"] == "Warning" and backoffs[0]["count"] >= 2
    assert "Back-off restarting failed container app" in backoffs[0]["message"]


@pytest.mark.parametrize(
    ("image", "script", "fragment"),
    [
        pytest.param("registry.invalid/shop:1", None, "no such host", id="invalid-registry"),
        pytest.param("example/app:missing", {"pull": "notFound"}, "not found", id="tag-not-found"),
    ],
)
def test_image_pull_failure_backs_off(h: Harness, image: str, script: dict | None, fragment: str) -> None:
    make_pod(h, [container(image=image, script=script)])
    h.run_until(lambda: waiting_reason(h) == "ErrImagePull", seconds=3, what="ErrImagePull")
    assert fragment in cstatus(h)["state"]["waiting"]["message"]
    h.run_until(lambda: waiting_reason(h) == "ImagePullBackOff", seconds=3, what="ImagePullBackOff")
    assert h.get("/pods", "p")["status"]["phase"] == "Pending"
    failed = [e["message"] for e in h.events("p", "Failed")]
    assert any(m.startswith(f'Failed to pull image "{image}"') for m in failed)
    assert "Error: ImagePullBackOff" in failed
    h.run_for(5)
    assert waiting_reason(h) in ("ErrImagePull", "ImagePullBackOff")
    assert next(e for e in h.events("p", "Pulling"))["count"] >= 2


def test_missing_secret_env_gives_create_container_config_error_then_recovers(h: Harness) -> None:
    env = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    make_pod(h, [container(env=env)])
    h.run_until(lambda: waiting_reason(h) == "CreateContainerConfigError", seconds=3, what="config error")
    assert cstatus(h)["state"]["waiting"]["message"] == 'secret "db" not found'
    assert any(e["message"] == 'Error: secret "db" not found' for e in h.events("p", "Failed"))
    h.store.create(
        "/secrets", {"metadata": {"name": "db", "namespace": "default"}, "data": {"password": "eA=="}}
    )
    h.run_until(lambda: condition(h, "Ready") == "True", seconds=5, what="recovered")


def test_missing_configmap_volume_fails_mount_until_it_appears(h: Harness) -> None:
    volumes = [{"name": "config", "configMap": {"name": "hazard-config"}}]
    make_pod(h, [container()], volumes=volumes)
    h.run_for(4)
    assert waiting_reason(h) == "ContainerCreating"
    assert h.get("/pods", "p")["status"]["phase"] == "Pending"
    mounts = h.events("p", "FailedMount")
    assert mounts[0]["type"] == "Warning" and mounts[0]["count"] >= 2
    assert (
        mounts[0]["message"]
        == 'MountVolume.SetUp failed for volume "config" : configmap "hazard-config" not found'
    )
    h.store.create("/configmaps", {"metadata": {"name": "hazard-config", "namespace": "default"}, "data": {}})
    h.run_until(lambda: condition(h, "Ready") == "True", seconds=10, what="mounted")


def test_init_container_waits_for_job_k8s_wait_for_pattern(h: Harness) -> None:
    init = [container("wait", "groundnuty/k8s-wait-for:v2.0", args=["job-wr", "migrate"])]
    make_pod(h, [container()], init=init)
    h.run_for(2)
    status = h.get("/pods", "p")["status"]
    assert status["phase"] == "Pending"
    assert "running" in cstatus(h, init=True)["state"]
    assert waiting_reason(h) == "PodInitializing"
    assert condition(h, "Initialized") == "False"
    h.store.create(
        "batch/jobs",
        {
            "metadata": {"name": "migrate", "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container("m")]}}},
        },
    )
    h.run_until(lambda: condition(h, "Ready") == "True", seconds=10, what="app Ready after the Job")
    assert cstatus(h, init=True)["state"]["terminated"]["reason"] == "Completed"


def test_wait_until_gate_opens_on_configmap_value(h: Harness) -> None:
    gate = {"waitUntil": {"configMap": "gate", "key": "safe", "equals": "true"}}
    make_pod(h, [container(script=gate)], restart="Never")
    h.run_for(2)
    assert "running" in cstatus(h)["state"]
    h.store.create(
        "/configmaps", {"metadata": {"name": "gate", "namespace": "default"}, "data": {"safe": "no"}}
    )
    h.run_for(1)
    assert "running" in cstatus(h)["state"]
    h.store.mutate("/configmaps", "default", "gate", lambda o: o["data"].update(safe="true"))
    h.run_until(lambda: h.get("/pods", "p")["status"]["phase"] == "Succeeded", seconds=3, what="gate open")


def test_never_ready_container_reports_unhealthy(h: Harness) -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8080}}
    make_pod(h, [container(script={"neverReady": True}, readinessProbe=probe)])
    h.run_for(4)
    assert h.get("/pods", "p")["status"]["phase"] == "Running" and condition(h, "Ready") == "False"
    unhealthy = h.events("p", "Unhealthy")
    assert unhealthy and unhealthy[0]["message"].startswith("Readiness probe failed")


def test_failing_init_container_with_restart_never_fails_the_pod(h: Harness) -> None:
    make_pod(h, [container()], init=[container("init", script={"exitCode": 2})], restart="Never")
    h.run_until(lambda: h.get("/pods", "p")["status"]["phase"] == "Failed", seconds=5, what="pod Failed")


def test_deleted_pod_is_stopped_then_removed(h: Harness) -> None:
    make_pod(h, [container()])
    h.run_until(lambda: condition(h, "Ready") == "True", seconds=3, what="Ready")
    h.store.delete("/pods", "default", "p")
    h.tick()
    assert h.get("/pods", "p")["metadata"].get("deletionTimestamp")
    assert "Killing" in h.reasons("p")
    h.run_until(lambda: h.store.get("/pods", "default", "p") is None, seconds=3, what="pod removed")


def test_missing_pvc_keeps_pod_unschedulable(h: Harness) -> None:
    make_pod(h, [container()], volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    h.run_for(1)
    cond = next(c for c in h.get("/pods", "p")["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert 'persistentvolumeclaim "data" not found' in cond["message"]
    h.store.create(
        "/persistentvolumeclaims",
        {
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    h.run_until(lambda: condition(h, "Ready") == "True", seconds=5, what="Ready after PVC bound")
    assert h.get("/persistentvolumeclaims", "data")["status"]["phase"] == "Bound"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{not json", id="bad-json"),
        pytest.param('{"bogus": 1}', id="unknown-key"),
        pytest.param('{"exitCode": 300}', id="exit-code-range"),
        pytest.param('{"pull": "sometimes"}', id="pull-value"),
    ],
)
def test_bad_scripts_are_rejected(text: str) -> None:
    with pytest.raises(ScriptError):
        parse_script(text)


def test_bad_script_surfaces_as_create_container_error(h: Harness) -> None:
    c = container()
    c["env"] = [{"name": "HELMBOT_SIM_SCRIPT", "value": "{oops"}]
    make_pod(h, [c])
    h.run_until(lambda: waiting_reason(h) == "CreateContainerError", seconds=3, what="CreateContainerError")


def test_options_shorten_backoffs() -> None:
    h = Harness(SimOptions(crash_backoff=0.2, crash_backoff_max=0.2, seed=1))
    make_pod(h, [container(script={"exitCode": 1, "runSeconds": 0.1})])
    h.run_until(lambda: cstatus(h)["restartCount"] >= 5, seconds=5, what="fast restarts")


# ---- events name the container; the scheduler writes events.k8s.io-style events ---------------------------


def test_container_events_carry_field_path(h: Harness) -> None:
    probe = {"httpGet": {"path": "/healthz", "port": 8080}}
    make_pod(
        h,
        [container("web", "example/web:1", script={"neverReady": True}, readinessProbe=probe)],
        init=[container("wait")],
    )
    h.run_until(lambda: h.events("p", "Unhealthy"), seconds=5, what="Unhealthy")
    h.store.delete("/pods", "default", "p")
    h.tick()
    paths: dict[tuple[str, str], str | None] = {}
    for e in h.events("p"):
        ref = e["involvedObject"]
        paths[(e["reason"], ref.get("fieldPath", "").split("{")[-1].rstrip("}"))] = ref.get("fieldPath")
    for reason in ("Pulling", "Pulled", "Created", "Started"):
        assert paths[(reason, "wait")] == "spec.initContainers{wait}"
        assert paths[(reason, "web")] == "spec.containers{web}"
    assert paths[("Unhealthy", "web")] == "spec.containers{web}"
    assert paths[("Killing", "web")] == "spec.containers{web}"
    scheduled = h.events("p", "Scheduled")[0]
    assert "fieldPath" not in scheduled["involvedObject"]


@pytest.mark.parametrize(
    ("script", "image", "reasons"),
    [
        pytest.param({"exitCode": 1, "runSeconds": 0.1}, "example/app:1", ("BackOff",), id="crash-loop"),
        pytest.param(None, "registry.invalid/app:1", ("Failed", "BackOff"), id="pull-failure"),
    ],
)
def test_failure_events_name_the_container(
    h: Harness, script: dict | None, image: str, reasons: tuple[str, ...]
) -> None:
    make_pod(h, [container("web", image=image, script=script)])
    h.run_until(lambda: h.events("p", "BackOff"), seconds=5, what="BackOff")
    for reason in reasons:
        assert {e["involvedObject"].get("fieldPath") for e in h.events("p", reason)} == {
            "spec.containers{web}"
        }


def test_scheduler_events_are_events_k8s_io_style(h: Harness) -> None:
    make_pod(h, [container()], volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    h.run_for(4)  # FailedScheduling retried with back-off: one event, counted in its series
    failed = h.events("p", "FailedScheduling")
    assert len(failed) == 1
    assert failed[0]["action"] == "Scheduling" and failed[0]["reportingComponent"] == "default-scheduler"
    assert failed[0]["eventTime"] and failed[0]["series"]["count"] >= 2
    assert not failed[0].get("firstTimestamp") and not failed[0].get("count")
    h.store.create(
        "/persistentvolumeclaims",
        {
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    h.run_until(lambda: h.events("p", "Scheduled"), seconds=5, what="Scheduled")
    scheduled = h.events("p", "Scheduled")[0]
    assert scheduled["action"] == "Binding" and scheduled["eventTime"]
    assert scheduled["reportingComponent"] == "default-scheduler" and scheduled["type"] == "Normal"
    assert scheduled["message"] == "Successfully assigned default/p to sim-node-1"


# ---- pod conditions as pkg/kubelet/status/generate.go writes them ----------------------------------------


def conditions(h: Harness, name: str = "p") -> dict[str, tuple[str, str | None]]:
    return {c["type"]: (c["status"], c.get("reason")) for c in h.get("/pods", name)["status"]["conditions"]}


def test_running_pod_conditions_have_no_reasons_once_initialized(h: Harness) -> None:
    make_pod(h, [container()], init=[container("wait")])
    h.run_until(lambda: cstatus(h, init=True)["state"].get("running"), seconds=3, what="init running")
    assert conditions(h)["Initialized"] == ("False", "ContainersNotInitialized")
    assert conditions(h)["Ready"] == ("False", "ContainersNotReady")
    h.run_until(lambda: condition(h, "Ready") == "True", seconds=5, what="Ready")
    assert conditions(h)["Initialized"] == ("True", None)
    assert conditions(h)["Ready"] == ("True", None)
    assert cstatus(h, init=True)["ready"] is True  # a completed init container counts as ready


@pytest.mark.parametrize(
    ("exit_code", "phase", "ready_reason"),
    [
        pytest.param(0, "Succeeded", "PodCompleted", id="succeeded"),
        pytest.param(1, "Failed", "PodFailed", id="failed"),
    ],
)
def test_terminal_pod_conditions(h: Harness, exit_code: int, phase: str, ready_reason: str) -> None:
    make_pod(h, [container(script={"exitCode": exit_code})], init=[container("wait")], restart="Never")
    h.run_until(lambda: h.get("/pods", "p")["status"]["phase"] == phase, seconds=5, what=phase)
    conds = conditions(h)
    assert conds["Ready"] == ("False", ready_reason) and conds["ContainersReady"] == ("False", ready_reason)
    assert conds["Initialized"] == ("True", "PodCompleted" if phase == "Succeeded" else None)
    assert not any(c.get("message") for c in h.get("/pods", "p")["status"]["conditions"])


def test_failed_init_container_leaves_the_pod_uninitialized(h: Harness) -> None:
    make_pod(h, [container()], init=[container("init", script={"exitCode": 2})], restart="Never")
    h.run_until(lambda: h.get("/pods", "p")["status"]["phase"] == "Failed", seconds=5, what="pod Failed")
    assert conditions(h)["Initialized"] == ("False", "ContainersNotInitialized")
    assert conditions(h)["Ready"] == ("False", "PodFailed")
    assert cstatus(h, init=True)["ready"] is False
