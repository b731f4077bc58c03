"""Validation like a real apiserver: an invalid chart fails here as on a cluster, nothing invalid is stored.

Two stages, as in the apiserver:

1. Decoding (`check_decoding`): JSON types the Go structs cannot hold (`replicas: three`, a bool label, a
   number in ConfigMap data) and unknown top-level/metadata fields. Create/update/patch get client-go's
   decoder texts (400 ``X in version "v1" cannot be handled as a X: json: cannot unmarshal ...``,
   unknown fields ``strict decoding error: unknown field "bogus"`` with ``fieldValidation=Strict``, else
   dropped with a warning); server-side apply gets structured-merge-diff's ``failed to create typed patch
   object`` (a 500 in 1.35, unknown fields always rejected).
2. Validation (`validate`, after defaulting): 422 Invalid with ``details.causes`` — names, labels, pod
   templates, selectors, Service ports, ConfigMap/Secret keys; on updates also the immutable fields
   (`immutability.update_causes`: Job template/selector, workload selectors, StatefulSet spec, Service
   clusterIPs, PVC spec, immutable ConfigMaps/Secrets).

Proportionate on purpose: the core kinds and the fields charts get wrong, not the whole OpenAPI schema.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from bot.sim import immutability, registry
from bot.sim.selectors import match_label_selector
from bot.sim.store import ApiError

# ---- decoding: types ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TypeProblem:
    go_path: str  # Go's path: struct type + JSON path without list indexes ("DeploymentSpec.spec.replicas")
    smd_path: str  # structured-merge-diff's path (".spec.replicas", '.spec.containers[name="web"].image')
    want: str  # "string", "int32", "int64", "bool"
    value: Any


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _fits(value: Any, want: str) -> bool:
    if value is None:
        return True  # JSON null leaves the Go zero value
    if want == "string":
        return isinstance(value, str)
    if want == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


class _Walker:
    """Collects values whose JSON type does not fit the Go field."""

    def __init__(self) -> None:
        self.problems: list[TypeProblem] = []

    def scalar(self, struct: str, path: str, smd: str, value: Any, want: str) -> None:
        if not _fits(value, want):
            self.problems.append(TypeProblem(f"{struct}.{path}", smd, want, value))

    def fields(self, struct: str, path: str, smd: str, obj: Any, spec: dict[str, str]) -> None:
        if not isinstance(obj, dict):
            return
        for name, want in spec.items():
            if name in obj:
                self.scalar(struct, f"{path}.{name}" if path else name, f"{smd}.{name}", obj[name], want)

    def string_map(self, struct: str, path: str, smd: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self.scalar(struct, path, f"{smd}.{k}", v, "string")
        elif value is not None:
            self.problems.append(TypeProblem(f"{struct}.{path}", smd, "map", value))

    def string_list(self, struct: str, path: str, smd: str, value: Any) -> None:
        if isinstance(value, list):
            for i, v in enumerate(value):
                self.scalar(struct, path, f"{smd}[{i}]", v, "string")

    def meta(self, path: str, smd: str, meta: Any) -> None:
        if isinstance(meta, dict):
            self.fields("ObjectMeta", path, smd, meta, {"name": "string", "namespace": "string",
                                                        "generateName": "string"})
            for field in ("labels", "annotations"):
                self.string_map("ObjectMeta", f"{path}.{field}" if path else field, f"{smd}.{field}",
                                meta.get(field))

    def selector(self, path: str, smd: str, sel: Any) -> None:
        if isinstance(sel, dict):
            labels = sel.get("matchLabels")
            self.string_map("LabelSelector", f"{path}.matchLabels", f"{smd}.matchLabels", labels)

    def probe(self, path: str, smd: str, probe: Any) -> None:
        if not isinstance(probe, dict):
            return
        ints = ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold")
        self.fields("Probe", path, smd, probe, dict.fromkeys(ints, "int32"))
        exec_ = probe.get("exec")
        if isinstance(exec_, dict):
            command = exec_.get("command")
            self.string_list("ExecAction", f"{path}.exec.command", f"{smd}.exec.command", command)

    def container(self, path: str, smd: str, c: Any) -> None:
        if not isinstance(c, dict):
            return
        self.fields("Container", path, smd, c, {"name": "string", "image": "string",
                                                "imagePullPolicy": "string"})
        for field in ("command", "args"):
            self.string_list("Container", f"{path}.{field}", f"{smd}.{field}", c.get(field))
        for i, env in enumerate(c.get("env") or [] if isinstance(c.get("env"), list) else []):
            if isinstance(env, dict):
                key = f'[name="{env["name"]}"]' if isinstance(env.get("name"), str) else f"[{i}]"
                env_fields = {"name": "string", "value": "string"}
                self.fields("EnvVar", f"{path}.env", f"{smd}.env{key}", env, env_fields)
        for i, port in enumerate(c.get("ports") or [] if isinstance(c.get("ports"), list) else []):
            self.fields("ContainerPort", f"{path}.ports", f"{smd}.ports[{i}]", port,
                        {"containerPort": "int32", "hostPort": "int32", "name": "string"})
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            self.probe(f"{path}.{probe}", f"{smd}.{probe}", c.get(probe))

    def pod_spec(self, path: str, smd: str, spec: Any) -> None:
        if not isinstance(spec, dict):
            return
        self.fields("PodSpec", path, smd, spec, {"terminationGracePeriodSeconds": "int64",
                                                 "activeDeadlineSeconds": "int64", "restartPolicy": "string",
                                                 "serviceAccountName": "string"})
        self.string_map("PodSpec", f"{path}.nodeSelector", f"{smd}.nodeSelector", spec.get("nodeSelector"))
        for field in ("initContainers", "containers"):
            items = spec.get(field)
            if isinstance(items, list):
                for i, c in enumerate(items):
                    key = f'[name="{c["name"]}"]' if isinstance(c, dict) and isinstance(c.get("name"), str) \
                        else f"[{i}]"
                    self.container(f"{path}.{field}", f"{smd}.{field}{key}", c)

    def template(self, path: str, smd: str, template: Any) -> None:
        if isinstance(template, dict):
            self.meta(f"{path}.metadata", f"{smd}.metadata", template.get("metadata"))
            self.pod_spec(f"{path}.spec", f"{smd}.spec", template.get("spec"))

    def job_spec(self, struct: str, path: str, smd: str, spec: Any) -> None:
        if not isinstance(spec, dict):
            return
        self.fields(struct, path, smd, spec, {
            "parallelism": "int32", "completions": "int32", "backoffLimit": "int32",
            "activeDeadlineSeconds": "int64", "ttlSecondsAfterFinished": "int32", "suspend": "bool"})
        self.selector(f"{path}.selector", f"{smd}.selector", spec.get("selector"))
        self.template(f"{path}.template", f"{smd}.template", spec.get("template"))


def _walk(key: str, obj: dict) -> list[TypeProblem]:
    w = _Walker()
    w.meta("metadata", ".metadata", obj.get("metadata"))
    spec = obj.get("spec")
    kind = registry.resource(key).kind if key in registry.BY_KEY else ""
    if key in ("apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets"):
        struct = f"{kind}Spec"
        w.fields(struct, "spec", ".spec", spec, {"replicas": "int32", "minReadySeconds": "int32",
                                                 "revisionHistoryLimit": "int32", "paused": "bool",
                                                 "progressDeadlineSeconds": "int32", "serviceName": "string"})
        if isinstance(spec, dict):
            w.selector("spec.selector", ".spec.selector", spec.get("selector"))
            w.template("spec.template", ".spec.template", spec.get("template"))
    elif key == "/pods":
        w.pod_spec("spec", ".spec", spec)
    elif key == "batch/jobs":
        w.job_spec("JobSpec", "spec", ".spec", spec)
    elif key == "batch/cronjobs" and isinstance(spec, dict):
        w.fields("CronJobSpec", "spec", ".spec", spec, {
            "schedule": "string", "startingDeadlineSeconds": "int64", "suspend": "bool",
            "successfulJobsHistoryLimit": "int32", "failedJobsHistoryLimit": "int32"})
        job_template = spec.get("jobTemplate")
        if isinstance(job_template, dict):
            w.job_spec("JobSpec", "spec.jobTemplate.spec", ".spec.jobTemplate.spec", job_template.get("spec"))
    elif key == "/services" and isinstance(spec, dict):
        w.fields("ServiceSpec", "spec", ".spec", spec, {"type": "string", "clusterIP": "string"})
        w.string_map("ServiceSpec", "spec.selector", ".spec.selector", spec.get("selector"))
        ports = spec.get("ports")
        for i, port in enumerate(ports if isinstance(ports, list) else []):
            w.fields("ServicePort", "spec.ports", f".spec.ports[{i}]", port,
                     {"port": "int32", "nodePort": "int32", "name": "string", "protocol": "string"})
    elif key == "/configmaps":
        w.string_map("ConfigMap", "data", ".data", obj.get("data"))
        w.string_map("ConfigMap", "binaryData", ".binaryData", obj.get("binaryData"))
    elif key == "/secrets":
        w.string_map("Secret", "data", ".data", obj.get("data"))
        w.string_map("Secret", "stringData", ".stringData", obj.get("stringData"))
    return w.problems


def _go_value(value: Any) -> str:
    """structured-merge-diff's rendering of an unexpected value."""
    if isinstance(value, bool):
        return f"&value.valueUnstructured{{Value:{'true' if value else 'false'}}}"
    if isinstance(value, int | float):
        return f"&value.valueUnstructured{{Value:{value}}}"
    return _json_type(value)


# ---- decoding: unknown fields ------------------------------------------------------------------------------

_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
    "ownerReferences", "finalizers", "managedFields"})
_BASE = frozenset({"apiVersion", "kind", "metadata"})
_SPEC_STATUS = _BASE | {"spec", "status"}
_TOP_FIELDS: dict[str, frozenset[str]] = {
    "/configmaps": _BASE | {"data", "binaryData", "immutable"},
    "/secrets": _BASE | {"data", "stringData", "type", "immutable"},
    "/serviceaccounts": _BASE | {"secrets", "imagePullSecrets", "automountServiceAccountToken"},
    "/endpoints": _BASE | {"subsets"},
    "/events": _BASE | {"involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
                        "count", "type", "eventTime", "series", "action", "related", "reportingComponent",
                        "reportingInstance"},
    "events.k8s.io/events": _BASE | {"eventTime", "series", "reportingController", "reportingInstance",
                                     "action", "reason", "regarding", "related", "note", "type",
                                     "deprecatedSource", "deprecatedFirstTimestamp",
                                     "deprecatedLastTimestamp", "deprecatedCount"},
    "apps/controllerrevisions": _BASE | {"data", "revision"},
    "rbac.authorization.k8s.io/roles": _BASE | {"rules"},
    "rbac.authorization.k8s.io/clusterroles": _BASE | {"rules", "aggregationRule"},
    "rbac.authorization.k8s.io/rolebindings": _BASE | {"subjects", "roleRef"},
    "rbac.authorization.k8s.io/clusterrolebindings": _BASE | {"subjects", "roleRef"},
}


def unknown_fields(key: str, obj: dict) -> list[str]:
    """Unknown top-level and metadata fields, as dotted paths."""
    allowed = _TOP_FIELDS.get(key, _SPEC_STATUS)
    out = [k for k in obj if k not in allowed]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        out += [f"metadata.{k}" for k in meta if k not in _META_FIELDS]
    return out


def _drop(obj: dict, paths: list[str]) -> None:
    for path in paths:
        head, _, rest = path.partition(".")
        if rest:
            obj.get(head, {}).pop(rest, None)
        else:
            obj.pop(head, None)


def check_decoding(key: str, obj: dict, *, field_validation: str | None, apply: bool = False) -> list[str]:
    """Raise what the apiserver's decoder raises for `obj` (a body or a patch result); return warnings.

    Unknown fields are removed from `obj` when only warned about or ignored, as the Go structs drop them.
    """
    res = registry.resource(key)
    gvk = f"{res.api_version}, Kind={res.kind}"
    problems = _walk(key, obj)
    unknown = unknown_fields(key, obj)
    if apply:
        meta = obj.get("metadata") or {}
        ident = f"{meta.get('namespace', '') if res.namespaced else ''}/{meta.get('name', '')}"
        if problems or unknown:
            if unknown:
                detail = f".{unknown[0]}: field not declared in schema"
            else:
                p = problems[0]
                want = "numeric (int or float)" if p.want in ("int32", "int64") else p.want
                detail = f"{p.smd_path}: expected {want}, got {_go_value(p.value)}"
            raise ApiError(500, "", f"failed to create typed patch object ({ident}; {gvk}): {detail}")
        return []
    prefix = f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
    if problems:
        p = problems[0]
        got = _json_type(p.value)
        if got == "number" and p.want in ("int32", "int64"):
            got = f"number {json.dumps(p.value)}"
        want = "map[string]string" if p.want == "map" else p.want
        detail = f"json: cannot unmarshal {got} into Go struct field {p.go_path} of type {want}"
        raise ApiError(400, "BadRequest", prefix + detail)
    if not unknown:
        return []
    mode = (field_validation or "Warn").capitalize()
    texts = [f'unknown field "{u}"' for u in unknown]
    if mode == "Strict":
        raise ApiError(400, "BadRequest", f"{prefix}strict decoding error: {', '.join(texts)}")
    _drop(obj, unknown)
    return texts if mode == "Warn" else []


# ---- validation --------------------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")

LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                 "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                 "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
NAME_PART_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                 "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
                 "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                   "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                   "'my_value',  or '12345', regex used for validation is "
                   "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
                  "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                  "'[-._a-zA-Z0-9]+')")
PORT_MSG = "must be between 1 and 65535, inclusive"
NOT_NEGATIVE_MSG = "must be greater than or equal to 0"
SELECTOR_MSG = "`selector` does not match template `labels`"

# metadata.name rules: DNS-1123 subdomain unless listed.
_NAME_RULES: dict[str, str] = {
    "/namespaces": "label", "/services": "dns1035",
    "rbac.authorization.k8s.io/roles": "path", "rbac.authorization.k8s.io/clusterroles": "path",
    "rbac.authorization.k8s.io/rolebindings": "path", "rbac.authorization.k8s.io/clusterrolebindings": "path",
}
_WORKLOADS = ("apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets")


def go_repr(value: Any) -> str:
    """A value as Go's %#v prints it in field errors."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        inner = ",".join(f"{json.dumps(str(k))}:{json.dumps(str(v))}" for k, v in sorted(value.items()))
        return f"map[string]string{{{inner}}}"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


class Errors:
    """A field.ErrorList."""

    def __init__(self) -> None:
        self.causes: list[dict[str, str]] = []

    def add(self, reason: str, field: str, message: str) -> None:
        self.causes.append({"reason": reason, "message": message, "field": field})

    def required(self, field: str, detail: str = "") -> None:
        self.add("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))

    def invalid(self, field: str, value: Any, detail: str) -> None:
        self.add("FieldValueInvalid", field, f"Invalid value: {go_repr(value)}: {detail}")

    def duplicate(self, field: str, value: Any) -> None:
        self.add("FieldValueDuplicate", field, f"Duplicate value: {go_repr(value)}")

    def unsupported(self, field: str, value: Any, supported: tuple[str, ...]) -> None:
        values = ", ".join(json.dumps(s) for s in supported)
        self.add("FieldValueNotSupported", field,
                 f"Unsupported value: {go_repr(value)}: supported values: {values}")

    def dns(self, field: str, value: str, rule: str) -> None:
        if rule == "path":
            if value in (".", "..") or "/" in value or "%" in value:
                self.invalid(field, value, "may not contain '/' or '%'")
            return
        pattern, msg, limit = {
            "label": (_DNS1123_LABEL, LABEL_MSG, 63),
            "dns1035": (_DNS1035_LABEL, DNS1035_MSG, 63),
            "subdomain": (_DNS1123_SUBDOMAIN, SUBDOMAIN_MSG, 253),
        }[rule]
        if len(value) > limit:
            self.invalid(field, value, f"must be no more than {limit} characters")
        if not pattern.match(value):
            self.invalid(field, value, msg)


def _qualified_name(errs: Errors, field: str, key: str) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        errs.invalid(field, key, f"prefix part {SUBDOMAIN_MSG}")
    if not name:
        errs.invalid(field, key, "name part must be non-empty")
    elif len(name) > 63:
        errs.invalid(field, key, "name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME.match(name):
        errs.invalid(field, key, NAME_PART_MSG)


def _labels(errs: Errors, field: str, labels: Any) -> None:
    for k, v in (labels or {}).items() if isinstance(labels, dict) else ():
        _qualified_name(errs, field, k)
        if len(v) > 63:
            errs.invalid(field, v, "must be no more than 63 characters")
        elif not _LABEL_VALUE.match(v):
            errs.invalid(field, v, LABEL_VALUE_MSG)


def _meta(errs: Errors, key: str, meta: dict, path: str = "metadata") -> None:
    _labels(errs, f"{path}.labels", meta.get("labels"))
    for k in meta.get("annotations") or {}:
        _qualified_name(errs, f"{path}.annotations", k)


def _port(errs: Errors, field: str, value: Any, *, required: bool = True) -> None:
    if value is None or value == 0:
        if required:
            errs.required(field)
        return
    if not 1 <= int(value) <= 65535:
        errs.invalid(field, int(value), PORT_MSG)


def _non_negative(errs: Errors, spec: dict, path: str, *fields: str) -> None:
    for name in fields:
        value = spec.get(name)
        if value is not None and int(value) < 0:
            errs.invalid(f"{path}.{name}", int(value), NOT_NEGATIVE_MSG)


def _containers(errs: Errors, spec: dict, path: str, seen: set[str], field: str) -> None:
    items = spec.get(field) or []
    if field == "containers" and not items:
        errs.required(f"{path}.containers")
    for i, c in enumerate(items):
        at = f"{path}.{field}[{i}]"
        name = c.get("name") or ""
        if not name:
            errs.required(f"{at}.name")
        else:
            errs.dns(f"{at}.name", name, "label")
            if name in seen:
                errs.duplicate(f"{at}.name", name)
            seen.add(name)
        if not (c.get("image") or "").strip():
            errs.required(f"{at}.image")
        port_names: set[str] = set()
        for j, port in enumerate(c.get("ports") or []):
            _port(errs, f"{at}.ports[{j}].containerPort", port.get("containerPort"))
            if port.get("hostPort"):
                _port(errs, f"{at}.ports[{j}].hostPort", port.get("hostPort"))
            if port.get("name"):
                if port["name"] in port_names:
                    errs.duplicate(f"{at}.ports[{j}].name", port["name"])
                port_names.add(port["name"])
        for j, env in enumerate(c.get("env") or []):
            if not env.get("name"):
                errs.required(f"{at}.env[{j}].name")


def _pod_spec(errs: Errors, spec: dict | None, path: str, *, restart: tuple[str, ...] | None = None) -> None:
    spec = spec or {}
    seen: set[str] = set()
    _containers(errs, spec, path, seen, "initContainers")
    _containers(errs, spec, path, seen, "containers")
    policy = spec.get("restartPolicy") or "Always"  # the apiserver defaults it before validating
    if restart is not None and policy not in restart:
        errs.unsupported(f"{path}.restartPolicy", policy, restart)
    _non_negative(errs, spec, path, "terminationGracePeriodSeconds")


def _template(errs: Errors, spec: dict, path: str, *, restart: tuple[str, ...] | None = None) -> dict:
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.required(f"{path}.template")
        return {}
    meta = template.get("metadata") or {}
    _meta(errs, "/pods", meta, f"{path}.template.metadata")
    _pod_spec(errs, template.get("spec"), f"{path}.template.spec", restart=restart)
    return template


def _selector_matches(errs: Errors, spec: dict, template: dict, path: str, *, required: bool = True) -> None:
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        if required:
            errs.required(f"{path}.selector")
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if template and not match_label_selector(selector, labels):
        errs.invalid(f"{path}.template.metadata.labels", labels, SELECTOR_MSG)


def _workload(errs: Errors, key: str, obj: dict) -> None:
    spec = obj.get("spec") or {}
    _non_negative(errs, spec, "spec", "replicas", "minReadySeconds", "revisionHistoryLimit")
    template = _template(errs, spec, "spec", restart=("Always",))
    _selector_matches(errs, spec, template, "spec")


def _job_spec(errs: Errors, spec: dict, path: str, *, selector: bool) -> None:
    _non_negative(errs, spec, path, "parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished")
    template = _template(errs, spec, path, restart=("OnFailure", "Never"))
    if selector:
        _selector_matches(errs, spec, template, path, required=False)


def _service(errs: Errors, obj: dict) -> None:
    spec = obj.get("spec") or {}
    stype = spec.get("type", "ClusterIP")
    supported = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
    if stype not in supported:
        errs.unsupported("spec.type", stype, supported)
    ports = spec.get("ports") or []
    if not ports and stype not in ("ExternalName",) and spec.get("clusterIP") != "None":
        errs.required("spec.ports")
    names: set[str] = set()
    for i, port in enumerate(ports):
        at = f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.required(f"{at}.name")
        elif name:
            if name in names:
                errs.duplicate(f"{at}.name", name)
            names.add(name)
        _port(errs, f"{at}.port", port.get("port"))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            _port(errs, f"{at}.targetPort", target, required=False)
        elif isinstance(target, str) and (len(target) > 15 or not _IANA_SVC_NAME.match(target)):
            errs.invalid(f"{at}.targetPort", target, "must contain only alpha-numeric characters (a-z, 0-9), "
                         "and hyphens (-)" if len(target) <= 15 else "must be no more than 15 characters")
        protocol = port.get("protocol", "TCP")
        if protocol not in ("TCP", "UDP", "SCTP"):
            errs.unsupported(f"{at}.protocol", protocol, ("SCTP", "TCP", "UDP"))


def _data_keys(errs: Errors, obj: dict, *fields: str) -> None:
    for field in fields:
        for k in obj.get(field) or {}:
            if len(k) > 253:
                errs.invalid(f"{field}[{k}]", k, "must be no more than 253 characters")
            elif not _CONFIG_KEY.match(k):
                errs.invalid(f"{field}[{k}]", k, CONFIG_KEY_MSG)


def _secret_data(errs: Errors, obj: dict) -> None:
    for k, v in (obj.get("data") or {}).items():
        try:
            base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            errs.invalid(f"data[{k}]", "<secret contents redacted>", "illegal base64 data")


def causes(key: str, obj: dict) -> list[dict[str, str]]:
    """The validation errors for `obj` (defaulted, as about to be stored) as Status causes."""
    errs = Errors()
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    if name:
        errs.dns("metadata.name", name, _NAME_RULES.get(key, "subdomain"))
    if key == "batch/cronjobs" and len(name) > 52:
        errs.invalid("metadata.name", name, "must be no more than 52 characters")
    _meta(errs, key, meta)
    if key in _WORKLOADS:
        _workload(errs, key, obj)
    elif key == "/pods":
        _pod_spec(errs, obj.get("spec"), "spec")
    elif key == "batch/jobs":
        spec = obj.get("spec") or {}
        _job_spec(errs, spec, "spec", selector=bool(spec.get("manualSelector")))
    elif key == "batch/cronjobs":
        spec = obj.get("spec") or {}
        if not spec.get("schedule"):
            errs.required("spec.schedule")
        _non_negative(errs, spec, "spec", "successfulJobsHistoryLimit", "failedJobsHistoryLimit")
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        _job_spec(errs, job_spec, "spec.jobTemplate.spec", selector=False)
    elif key == "/services":
        _service(errs, obj)
    elif key == "/configmaps":
        _data_keys(errs, obj, "data", "binaryData")
        duplicated = set(obj.get("data") or {}) & set(obj.get("binaryData") or {})
        for k in sorted(duplicated):
            errs.invalid(f"data[{k}]", k, "duplicate of key present in binaryData")
    elif key == "/secrets":
        _data_keys(errs, obj, "data")
        _secret_data(errs, obj)
    return errs.causes


def validate(key: str, obj: dict, *, old: dict | None = None) -> None:
    """Raise 422 Invalid, with the apiserver's message and `details.causes`, if `obj` is invalid.

    `old` (the stored object) makes it an update: the immutable-field rules of `immutability` apply too.
    """
    found = causes(key, obj)
    if old is not None:
        changed = immutability.update_causes(key, obj, old)
        found = changed + found if key in immutability.UPDATE_FIRST else found + changed
    if not found:
        return
    res = registry.resource(key)
    what = f"{res.kind}.{res.group}" if res.group else res.kind
    name = (obj.get("metadata") or {}).get("name") or ""
    texts = list(dict.fromkeys(f"{c['field']}: {c['message']}" for c in found))  # as ToAggregate dedups
    joined = texts[0] if len(texts) == 1 else f"[{', '.join(texts)}]"
    raise ApiError(422, "Invalid", f'{what} "{name}" is invalid: {joined}',
                   details={"name": name, "group": res.group, "kind": res.kind, "causes": found})
