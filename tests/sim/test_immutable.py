"""Immutable fields, as a real apiserver enforces them on update: every rule through each way of writing
(PUT, merge / strategic / JSON patch, server-side apply), then the real kubectl and helm on the stand-in."""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sim.patching import merge_patch
from tests.polling import poll

CHART = str(Path(__file__).parent / "charts" / "migrate")
MANAGER = "immutable-test"
MIGRATE = "registry.example/shop/migrate"


# ---- HTTP ---------------------------------------------------------------------------------------------

def _call(sim: Any, method: str, path: str, body: Any = None, ctype: str = "application/json",
          query: str = "") -> tuple[int, dict]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(f"{sim.url}{path}?fieldManager={MANAGER}{query}", data=data, method=method,
                                 headers={"Content-Type": ctype, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _json_patch(current: Any, patch: dict, prefix: str = "") -> list[dict]:
    """The JSON patch (RFC 6902) that writes what the merge patch `patch` writes (lists as a whole)."""
    ops: list[dict] = []
    for key, value in patch.items():
        path = f"{prefix}/{key.replace('~', '~0').replace('/', '~1')}"
        here = current.get(key) if isinstance(current, dict) else None
        if value is None:
            if here is not None:
                ops.append({"op": "remove", "path": path})
        elif isinstance(value, dict) and isinstance(here, dict):
            ops += _json_patch(here, value, path)
        else:
            ops.append({"op": "add", "path": path, "value": value})
    return ops


def _write(sim: Any, method: str, path: str, manifest: dict, patch: dict) -> tuple[int, dict]:
    """Apply `patch` (a merge patch) to the stored object the way `method` writes."""
    if method == "apply":
        desired = merge_patch(copy.deepcopy(manifest), patch)
        return _call(sim, "PATCH", path, yaml.safe_dump(desired).encode(), "application/apply-patch+yaml",
                     "&force=true")
    code, current = _call(sim, "GET", path)
    assert code == 200, current
    if method == "put":
        body = merge_patch(current, patch)
        body["metadata"].pop("resourceVersion")  # unconditional: controllers keep writing status
        return _call(sim, "PUT", path, body)
    if method == "json":
        return _call(sim, "PATCH", path, _json_patch(current, patch), "application/json-patch+json")
    ctype = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json"}
    return _call(sim, "PATCH", path, patch, ctype[method])


# ---- the objects --------------------------------------------------------------------------------------

def _pod(image: str = "registry.example/app:1", restart: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "app", "image": image}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": {"app": "x"}}, "spec": spec}


def _job(**spec: Any) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
            "spec": {"backoffLimit": 0, "template": _pod(restart="Never"), **spec}}


def _workload(kind: str, **spec: Any) -> dict:
    body: dict = {"selector": {"matchLabels": {"app": "x"}}, "template": _pod(), **spec}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web"}, "spec": body}


def _statefulset(**spec: Any) -> dict:
    claim = {"metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    return _workload("StatefulSet", serviceName="web", volumeClaimTemplates=[claim], **spec)


def _service(**spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}], **spec}}


def _pvc(size: str = "2Gi") -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                     "resources": {"requests": {"storage": size}}}}


def _configmap(immutable: bool = True) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "a"},
            "immutable": immutable}


def _secret(immutable: bool = False) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "token"}, "type": "Opaque",
            "data": {"key": "YQ=="}, "immutable": immutable}


_PATHS = {"Job": "/apis/batch/v1/namespaces/{ns}/jobs",
          "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
          "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
          "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
          "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
          "Service": "/api/v1/namespaces/{ns}/services", "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
          "Secret": "/api/v1/namespaces/{ns}/secrets",
          "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims"}
_STORE_KEYS = {"Job": "batch/jobs", "Deployment": "apps/deployments", "ReplicaSet": "apps/replicasets",
               "DaemonSet": "apps/daemonsets", "StatefulSet": "apps/statefulsets", "Service": "/services",
               "ConfigMap": "/configmaps", "Secret": "/secrets",
               "PersistentVolumeClaim": "/persistentvolumeclaims"}
_IMAGE_2 = {"spec": {"template": {"spec": {"containers": [{"name": "app",
                                                             "image": "registry.example/app:2"}]}}}}
_NEW_SELECTOR = {"spec": {"selector": {"matchLabels": {"app": "y"}},
                          "template": {"metadata": {"labels": {"app": "y"}}}}}
_SELECTOR_REFUSED = (("spec.selector", "FieldValueInvalid",
                      'Invalid value: {"matchLabels":{"app":"y"}}: field is immutable'),)
_TEMPLATE_REFUSED = (("spec.template", "FieldValueInvalid",
                      'Invalid value: {"labels":{…}: field is immutable'),)
_STATEFULSET_MSG = (
    "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
    "are forbidden")
_IMMUTABLE_SET = "Forbidden: field is immutable when `immutable` is set"


@dataclass(frozen=True)
class Case:
    manifest: dict
    patch: dict
    refused: tuple[tuple[str, str, str], ...] = ()  # (field, reason, message or its "prefix…suffix")
    bound: bool = False  # wait until the PVC is Bound before writing


REFUSED: dict[str, Case] = {
    "job-template-image": Case(_job(), _IMAGE_2, _TEMPLATE_REFUSED),
    "job-completions": Case(_job(), {"spec": {"completions": 3}}, (
        ("spec.completions", "FieldValueInvalid", "Invalid value: 3: field is immutable"),)),
    "job-completion-mode": Case(_job(), {"spec": {"completionMode": "Indexed"}}, (
        ("spec.completionMode", "FieldValueInvalid", 'Invalid value: "Indexed": field is immutable'),)),
    "job-suspended-image": Case(_job(suspend=True), _IMAGE_2, _TEMPLATE_REFUSED),
    "job-indexed-completions-alone": Case(
        _job(completionMode="Indexed", completions=2, parallelism=2), {"spec": {"completions": 3}}, (
            ("spec.completions", "FieldValueInvalid",
             "Invalid value: 3: can only be modified in tandem with spec.parallelism"),)),
    "deployment-selector": Case(_workload("Deployment"), _NEW_SELECTOR, _SELECTOR_REFUSED),
    "replicaset-selector": Case(_workload("ReplicaSet"), _NEW_SELECTOR, _SELECTOR_REFUSED),
    "daemonset-selector": Case(_workload("DaemonSet"), _NEW_SELECTOR, _SELECTOR_REFUSED),
    "statefulset-selector": Case(_statefulset(), _NEW_SELECTOR, (
        ("spec", "FieldValueForbidden", _STATEFULSET_MSG.removeprefix("spec: ")),)),
    "statefulset-volume-claim-size": Case(_statefulset(), {"spec": {"volumeClaimTemplates": [
        {"metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}}]}}, (
        ("spec", "FieldValueForbidden", _STATEFULSET_MSG.removeprefix("spec: ")),)),
    "statefulset-service-name": Case(_statefulset(), {"spec": {"serviceName": "other"}}, (
        ("spec", "FieldValueForbidden", _STATEFULSET_MSG.removeprefix("spec: ")),)),
    "service-cluster-ip": Case(_service(), {"spec": {"clusterIP": "10.96.200.200"}}, (
        ("spec.clusterIPs[0]", "FieldValueInvalid",
         'Invalid value: ["10.96.200.200"]: may not change once set'),)),
    "pvc-storage-class": Case(_pvc(), {"spec": {"storageClassName": "fast"}}, (
        ("spec", "FieldValueForbidden",
         "Forbidden: spec is immutable after creation except resources.requests and "
         "volumeAttributesClassName for bound claims\n…"),), bound=True),
    "pvc-shrink-below-capacity": Case(_pvc("2Gi"), {"spec": {"resources": {"requests": {"storage": "1G"}}}}, (
        ("spec.resources.requests.storage", "FieldValueForbidden",
         "Forbidden: field can not be less than status.capacity"),), bound=True),
    "configmap-immutable-data": Case(_configmap(), {"data": {"mode": "b"}},
                                     (("data", "FieldValueForbidden", _IMMUTABLE_SET),)),
    "configmap-immutable-unset": Case(_configmap(), {"immutable": False},
                                      (("immutable", "FieldValueForbidden", _IMMUTABLE_SET),)),
    "secret-immutable-data": Case(_secret(immutable=True), {"data": {"key": "Yg=="}}, (
        ("data", "FieldValueForbidden", _IMMUTABLE_SET),)),
    "secret-type": Case(_secret(), {"type": "example.com/token"}, (
        ("type", "FieldValueInvalid", 'Invalid value: "example.com/token": field is immutable'),)),
}

ALLOWED: dict[str, Case] = {
    "job-parallelism-and-deadline": Case(_job(), {"spec": {"parallelism": 2, "activeDeadlineSeconds": 60},
                                                  "metadata": {"labels": {"team": "a"}}}),
    "job-suspended-scheduling-directives": Case(_job(suspend=True), {"spec": {"template": {
        "metadata": {"annotations": {"queue": "b"}, "labels": {"app": "x", "queue": "b"}},
        "spec": {"nodeSelector": {"disk": "ssd"},
                 "tolerations": [{"key": "batch", "operator": "Exists"}]}}}}),
    "job-indexed-completions-in-tandem": Case(_job(completionMode="Indexed", completions=2, parallelism=2),
                                              {"spec": {"completions": 3, "parallelism": 3}}),
    "deployment-template-and-replicas": Case(_workload("Deployment"), merge_patch(
        copy.deepcopy(_IMAGE_2), {"spec": {"replicas": 3}})),
    "statefulset-mutable-fields": Case(_statefulset(), merge_patch(copy.deepcopy(_IMAGE_2), {"spec": {
        "replicas": 2, "minReadySeconds": 5, "revisionHistoryLimit": 3,
        "updateStrategy": {"type": "OnDelete"},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"}}})),
    "service-target-port": Case(_service(), {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
    "service-to-external-name": Case(_service(), {"spec": {"type": "ExternalName",
                                                           "externalName": "db.example.com", "ports": None,
                                                           "selector": None}}),
    "pvc-expand": Case(_pvc("1Gi"), {"spec": {"resources": {"requests": {"storage": "3Gi"}}}}, bound=True),
    "configmap-immutable-labels": Case(_configmap(), {"metadata": {"labels": {"team": "a"}}}),
    "configmap-mutable-data": Case(_configmap(immutable=False), {"data": {"mode": "b"}}),
    "secret-set-immutable": Case(_secret(), {"immutable": True}),
}
METHODS = ("put", "merge", "strategic", "json", "apply")


def _create(sim: Any, namespace: str, case: Case) -> tuple[str, dict]:
    kind = case.manifest["kind"]
    base = _PATHS[kind].format(ns=namespace)
    code, created = _call(sim, "POST", base, case.manifest)
    assert code == 201, created
    name = case.manifest["metadata"]["name"]
    if case.bound:
        poll(lambda: (sim.store.get("/persistentvolumeclaims", namespace, name) or {}).get("status", {})
             .get("phase") == "Bound", timeout=10, what="the PVC to bind")
    return f"{base}/{name}", created


def _desired_state(obj: dict) -> dict:
    """What a write sets, without what controllers write meanwhile (status, revision annotations)."""
    return {k: v for k, v in obj.items() if k not in ("status", "metadata")}


def _matches(message: str, expected: str) -> bool:
    """`expected` may elide a middle part with "…" (long rendered values)."""
    head, _, tail = expected.partition("…")
    return message.startswith(head) and message.endswith(tail) if _ else message == expected


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(REFUSED))
def test_an_immutable_change_is_refused_with_the_apiservers_status(sim, namespace, name: str,
                                                                   method: str) -> None:
    case = REFUSED[name]
    path, _ = _create(sim, namespace, case)
    kind, obj_name = case.manifest["kind"], case.manifest["metadata"]["name"]
    stored = _desired_state(sim.store.get(_STORE_KEYS[kind], namespace, obj_name))

    code, status = _write(sim, method, path, case.manifest, case.patch)

    assert code == 422, status
    assert status["kind"] == "Status" and status["reason"] == "Invalid" and status["status"] == "Failure"
    group = case.manifest["apiVersion"].rpartition("/")[0]
    assert status["details"]["kind"] == kind and status["details"]["group"] == group
    assert status["details"]["name"] == obj_name
    causes = status["details"]["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [(f, r) for f, r, _ in case.refused]
    for cause, (_, _, message) in zip(causes, case.refused, strict=True):
        assert _matches(cause["message"], message), cause["message"]
    what = f"{kind}.{group}" if group else kind
    first = case.refused[0]
    assert status["message"].startswith(f'{what} "{obj_name}" is invalid: {first[0]}: ')
    assert _desired_state(sim.store.get(_STORE_KEYS[kind], namespace, obj_name)) == stored, "nothing written"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(ALLOWED))
def test_a_mutable_change_is_written(sim, namespace, name: str, method: str) -> None:
    case = ALLOWED[name]
    path, created = _create(sim, namespace, case)
    code, result = _write(sim, method, path, case.manifest, case.patch)
    assert code == 200, result
    assert result["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]


def test_the_job_template_message_prints_the_new_template_as_the_apiserver_does(sim, namespace) -> None:
    path, _ = _create(sim, namespace, Case(_job(), {}))
    code, status = _write(sim, "merge", path, _job(), _IMAGE_2)
    assert code == 422
    message = status["message"]
    assert message.startswith(
        'Job.batch "migrate" is invalid: spec.template: Invalid value: {"labels":{"app":"x",')
    assert '"Spec":{"Containers":[{"Name":"app","Image":"registry.example/app:2"' in message
    assert message.endswith("}: field is immutable")


def test_a_service_leaving_node_port_drops_its_node_ports(sim, namespace) -> None:
    path, created = _create(sim, namespace, Case(_service(type="NodePort"), {}))
    code, updated = _write(sim, "merge", path, _service(), {"spec": {"type": "ClusterIP"}})
    assert code == 200, updated
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert "nodePort" in created["spec"]["ports"][0] and "nodePort" not in updated["spec"]["ports"][0]


def test_a_put_without_the_allocated_cluster_ip_keeps_it(sim, namespace) -> None:
    path, created = _create(sim, namespace, Case(_service(type="NodePort"), {}))
    code, updated = _call(sim, "PUT", path, dict(_service(type="NodePort"),
                                                 metadata={"name": "web", "labels": {"v": "2"}}))
    assert code == 200, updated
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert updated["spec"]["clusterIPs"] == created["spec"]["clusterIPs"]
    assert updated["spec"]["ports"][0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]


def test_status_and_controller_writes_are_not_checked(sim, namespace) -> None:
    _create(sim, namespace, Case(_job(), {}))
    image = "registry.example/app:9"

    def retemplate(job: dict) -> None:
        job["spec"]["template"]["spec"]["containers"][0]["image"] = image

    sim.store.mutate("batch/jobs", namespace, "migrate", retemplate)
    job = sim.store.get("batch/jobs", namespace, "migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == image
    status_path = _PATHS["Job"].format(ns=namespace) + "/migrate/status"
    code, result = _call(sim, "PATCH", status_path, {"status": {"active": 0}}, "application/merge-patch+json")
    assert code == 200, result


# ---- the real kubectl and helm ------------------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.parametrize("server_side", [False, True], ids=["client-side-apply", "server-side-apply"])
def test_kubectl_apply_shows_the_invalid_job(sim, namespace, tmp_path, server_side: bool) -> None:
    manifest = tmp_path / "job.yaml"
    manifest.write_text(yaml.safe_dump(_job()))
    flags = ["--server-side"] if server_side else []
    sim.kubectl("apply", "-n", namespace, "-f", str(manifest), *flags)
    sim.kubectl("apply", "-n", namespace, "-f", str(manifest), *flags)  # unchanged: no false alarm
    manifest.write_text(yaml.safe_dump(merge_patch(_job(), _IMAGE_2)))
    proc = sim.kubectl("apply", "-n", namespace, "-f", str(manifest), *flags, check=False)
    assert proc.returncode != 0
    assert 'The Job "migrate" is invalid: spec.template: Invalid value: {' in proc.stderr, proc.stderr
    assert "field is immutable" in proc.stderr


def _images(sim: Any, namespace: str) -> list[str]:
    job = sim.store.get("batch/jobs", namespace, "shop-migrate")
    return [c["image"] for c in job["spec"]["template"]["spec"]["containers"]]


@pytest.mark.e2e
@pytest.mark.parametrize("apply_flags", [(), ("--server-side=false",)], ids=["server-side-apply",
                                                                               "client-side-apply"])
def test_helm_upgrade_of_a_plain_fixed_name_job_with_a_new_image_fails(sim, namespace,
                                                                       apply_flags: tuple[str, ...]) -> None:
    sim.helm("install", "shop", CHART, "-n", namespace, "--set", f"image={MIGRATE}:1")
    sim.helm("upgrade", "shop", CHART, "-n", namespace, "--set", f"image={MIGRATE}:1", *apply_flags)
    proc = sim.helm("upgrade", "shop", CHART, "-n", namespace, "--set", f"image={MIGRATE}:2", *apply_flags,
                    check=False)
    assert proc.returncode != 0, proc.stdout
    assert 'Job.batch "shop-migrate" is invalid: spec.template: Invalid value: ' in proc.stderr, proc.stderr
    assert "field is immutable" in proc.stderr
    assert _images(sim, namespace) == [f"{MIGRATE}:1"]
    history = sim.helm("history", "shop", "-n", namespace, "-o", "json")
    assert [r["status"] for r in json.loads(history.stdout)] == ["superseded", "deployed", "failed"]


@pytest.mark.e2e
def test_helm_upgrade_of_a_hook_job_recreated_before_the_hook_passes(sim, namespace) -> None:
    sim.helm("install", "shop", CHART, "-n", namespace, "--set", "hook=true",
             "--set", f"image={MIGRATE}:1")
    sim.helm("upgrade", "shop", CHART, "-n", namespace, "--set", "hook=true",
             "--set", f"image={MIGRATE}:2")
    assert _images(sim, namespace) == [f"{MIGRATE}:2"]

