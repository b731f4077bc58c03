"""Validation as a real apiserver does it: the rules, then each case through the real kubectl and helm."""

from __future__ import annotations

import copy

import pytest

from bot.sim import validation
from bot.sim.store import ApiError


def _deployment(**spec_changes: object) -> dict:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    obj["spec"].update(spec_changes)  # type: ignore[attr-defined]
    return obj


def _invalid(key: str, obj: dict) -> ApiError:
    with pytest.raises(ApiError) as err:
        validation.validate(key, obj)
    assert err.value.code == 422 and err.value.reason == "Invalid"
    return err.value


def _causes(err: ApiError) -> list[dict]:
    return list((err.details or {}).get("causes") or [])


def _pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def test_valid_objects_pass() -> None:
    validation.validate("apps/deployments", _deployment())
    validation.validate("/configmaps", {"metadata": {"name": "a.b-c"}, "data": {"x.y_z": "1"}})
    assert validation.check_decoding("apps/deployments", _deployment(), field_validation="Strict") == []


def test_selector_must_match_the_template() -> None:
    obj = _deployment(selector={"matchLabels": {"app": "web"}})
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    err = _invalid("apps/deployments", obj)
    assert err.message == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"x"}: `selector` does not match template `labels`'
    )
    assert err.details == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: map[string]string{"app":"x"}: `selector` does not match '
                "template `labels`",
                "field": "spec.template.metadata.labels",
            }
        ],
    }
    no_selector = _deployment()
    del no_selector["spec"]["selector"]
    assert "spec.selector: Required value" in _invalid("apps/deployments", no_selector).message


def test_names_per_kind() -> None:
    err = _invalid("/configmaps", {"metadata": {"name": "Bad_Name"}})
    assert err.message.startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 '
        "subdomain must consist of"
    )
    assert "DNS-1035 label" in _invalid("/services", {"metadata": {"name": "9web"}, "spec": {
        "ports": [{"port": 80}]}}).message
    assert "RFC 1123 label" in _invalid("/namespaces", {"metadata": {"name": "a.b"}}).message
    validation.validate("rbac.authorization.k8s.io/clusterroles", {"metadata": {"name": "system:helm"}})


def test_containers_and_pod_templates() -> None:
    empty = _deployment()
    _pod_spec(empty)["containers"] = []
    assert _causes(_invalid("apps/deployments", empty)) == [
        {"reason": "FieldValueRequired", "message": "Required value",
         "field": "spec.template.spec.containers"}
    ]
    broken = _deployment()
    _pod_spec(broken)["containers"] = [{"name": "web"}, {"name": "web", "image": "x"}, {"image": "y"}]
    fields = {(c["field"], c["message"]) for c in _causes(_invalid("apps/deployments", broken))}
    assert fields == {
        ("spec.template.spec.containers[0].image", "Required value"),
        ("spec.template.spec.containers[1].name", 'Duplicate value: "web"'),
        ("spec.template.spec.containers[2].name", "Required value"),
    }
    job = {"metadata": {"name": "j"}, "spec": {"template": {"spec": {
        "restartPolicy": "Always", "containers": [{"name": "c", "image": "busybox"}]}}}}
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", ' \
        '"Never"' in _invalid("batch/jobs", job).message
    ports = _deployment()
    _pod_spec(ports)["containers"][0]["ports"] = [{"containerPort": 70000}]
    assert "containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive" in _invalid(
        "apps/deployments", ports
    ).message
    negative = _deployment(replicas=-1)
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in _invalid(
        "apps/deployments", negative
    ).message


def test_service_ports_labels_and_data_keys() -> None:
    svc = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}, {"port": 0, "name": "b"}]}}
    fields = {c["field"] for c in _causes(_invalid("/services", svc))}
    assert fields == {"spec.ports[0].name", "spec.ports[1].port"}
    labelled = {"metadata": {"name": "c", "labels": {"app": "no spaces"}}}
    assert "a valid label must be an empty string" in _invalid("/configmaps", labelled).message
    keyed = {"metadata": {"name": "c"}, "data": {"bad key": "v"}}
    message = _invalid("/configmaps", keyed).message
    assert 'data[bad key]: Invalid value: "bad key": a valid config key' in message


@pytest.mark.parametrize(
    ("key", "obj", "text"),
    [
        ("apps/deployments", _deployment(replicas="three"),
         "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
        ("/configmaps", {"metadata": {"name": "c"}, "data": {"a": 1}},
         "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"),
        ("/configmaps", {"metadata": {"name": "c", "labels": {"app": True}}},
         "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string"),
    ],
)
def test_decoder_type_errors(key: str, obj: dict, text: str) -> None:
    with pytest.raises(ApiError) as err:
        validation.check_decoding(key, obj, field_validation="Strict")
    assert err.value.code == 400 and err.value.message.endswith(text)
    assert " in version \"v1\" cannot be handled as a " in err.value.message


def test_exec_command_and_apply_wording() -> None:
    obj = _deployment()
    _pod_spec(obj)["containers"][0]["livenessProbe"] = {"exec": {"command": [True]}}
    with pytest.raises(ApiError) as err:
        validation.check_decoding("apps/deployments", copy.deepcopy(obj), field_validation=None)
    assert "cannot unmarshal bool into Go struct field ExecAction.spec.template.spec.containers" \
        ".livenessProbe.exec.command of type string" in err.value.message
    with pytest.raises(ApiError) as err:
        validation.check_decoding("apps/deployments", obj, field_validation="Strict", apply=True)
    assert err.value.code == 500 and err.value.message == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="web"].livenessProbe.exec.command[0]: expected string, '
        "got &value.valueUnstructured{Value:true}"
    )


def test_unknown_fields_strict_warn_ignore() -> None:
    def cm() -> dict:
        return {"metadata": {"name": "c", "bogus2": 1}, "bogus": True, "data": {}}

    with pytest.raises(ApiError) as err:
        validation.check_decoding("/configmaps", cm(), field_validation="Strict")
    assert err.value.code == 400 and err.value.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "bogus", unknown field "metadata.bogus2"'
    )
    warned = cm()
    assert validation.check_decoding("/configmaps", warned, field_validation=None) == [
        'unknown field "bogus"',
        'unknown field "metadata.bogus2"',
    ]
    assert warned == {"metadata": {"name": "c"}, "data": {}}  # dropped, as the Go structs drop them
    assert validation.check_decoding("/configmaps", cm(), field_validation="Ignore") == []
    with pytest.raises(ApiError) as err:
        validation.check_decoding("/configmaps", cm(), field_validation="Ignore", apply=True)
    assert err.value.message == (
        "failed to create typed patch object (/c; v1, Kind=ConfigMap): "  # no namespace given
        ".bogus: field not declared in schema"
    )


# ---- through the real clients ------------------------------------------------------------------------------

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: {label}}}
    spec:
      containers: {containers}
"""
CONTAINERS = "[{name: web, image: 'nginx:1.27'}]"


def _apply(sim, namespace: str, manifest: str, *extra: str) -> str:
    proc = sim.kubectl("apply", "-n", namespace, *extra, "-f", "-", input=manifest, check=False)
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


@pytest.mark.e2e
def test_kubectl_sees_the_server_errors(sim, namespace) -> None:
    def deploy(name: str = "web", replicas: str = "1", label: str = "web", containers: str = CONTAINERS,
               ) -> str:
        return DEPLOYMENT.format(name=name, replicas=replicas, label=label, containers=containers)

    err = _apply(sim, namespace, deploy(name="Bad_Name"))
    assert 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' in err, err
    err = _apply(sim, namespace, deploy(label="x"))
    assert (
        'The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"x"}: `selector` does not match template `labels`' in err
    ), err
    assert "spec.template.spec.containers: Required value" in _apply(sim, namespace, deploy(containers="[]"))
    err = _apply(sim, namespace, deploy(containers="[{name: web}]"))
    assert "spec.template.spec.containers[0].image: Required value" in err, err
    err = _apply(sim, namespace, deploy(replicas="three"))
    assert "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32" in err
    probe = "[{name: web, image: x, livenessProbe: {exec: {command: [true]}}}]"
    err = _apply(sim, namespace, deploy(containers=probe))
    assert "cannot unmarshal bool into Go struct field ExecAction" in err, err
    # kubectl reads `y` as a bool (YAML 1.1); the server refuses it, so no client ever sees a bool label
    err = _apply(sim, namespace, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {app: y}}\n")
    assert "cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string" in err, err
    err = _apply(sim, namespace, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: 1}\n")
    assert "cannot unmarshal number into Go struct field ConfigMap.data of type string" in err, err
    bogus = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbogus: 1\n"
    assert 'strict decoding error: unknown field "bogus"' in _apply(sim, namespace, bogus)
    err = _apply(sim, namespace, bogus, "--server-side")
    assert ".bogus: field not declared in schema" in err, err
    warned = sim.kubectl("apply", "-n", namespace, "--validate=warn", "-f", "-", input=bogus)
    assert 'unknown field "bogus"' in warned.stderr and "configmap/c created" in warned.stdout
    assert "bogus" not in sim.store.get("/configmaps", namespace, "c")
    assert sim.store.get("apps/deployments", namespace, "web") is None


@pytest.mark.e2e
def test_helm_install_of_an_invalid_chart_fails_with_the_server_message(sim, namespace, tmp_path) -> None:
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("label: web\n")
    (chart / "templates" / "deployment.yaml").write_text(
        DEPLOYMENT.format(name="{{ .Release.Name }}", replicas=1, label="{{ .Values.label }}",
                          containers=CONTAINERS)
    )
    failed = sim.helm("install", "bad", str(chart), "-n", namespace, "--set", "label=other", check=False)
    assert failed.returncode != 0
    assert 'Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value: ' \
        'map[string]string{"app":"other"}: `selector` does not match template `labels`' in failed.stderr, \
        failed.stderr
    assert sim.store.get("apps/deployments", namespace, "bad") is None
    (chart / "templates" / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  port: {{ .Values.port }}\n"
    )
    failed = sim.helm("install", "bad2", str(chart), "-n", namespace, "--set", "port=80", check=False)
    assert failed.returncode != 0
    assert "failed to create typed patch object" in failed.stderr and ".data.port: expected string" in \
        failed.stderr, failed.stderr
