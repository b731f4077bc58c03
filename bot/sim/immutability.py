"""Update validation like a real apiserver (1.35): the rules that compare the new object with the stored one.

Immutable fields are where charts break on upgrade on a real cluster (a plain Job whose image changed, a
Deployment whose selector changed, a StatefulSet whose volumeClaimTemplates grew), so the stand-in refuses
them with the apiserver's words. The rules and their exceptions follow kubernetes/kubernetes:
`ValidateJobSpecUpdate` (+ the job strategy's options), the apps strategies' selector check and
`ValidateStatefulSetUpdate`, `ValidateServiceUpdate`, `ValidatePersistentVolumeClaimUpdate`,
`ValidateConfigMapUpdate` and `ValidateSecretUpdate`.

Values are rendered as apimachinery 1.33+ does (`field.Error.ErrorBody`): strings quoted, numbers and
booleans bare, anything else as JSON; a pod template is the apiserver's internal struct as JSON (Go field
names), where fields never set are left out rather than printed as null.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

IMMUTABLE = "field is immutable"
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
MAY_NOT_CHANGE = "may not change once set"
STATEFULSET_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
    "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
PVC_FORBIDDEN = ("spec is immutable after creation except resources.requests and volumeAttributesClassName "
                 "for bound claims")
PVC_SHRINK = "field can not be less than status.capacity"

# StatefulSet spec fields an update may change (everything else is Forbidden).
_STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                        "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
# Job spec fields that never change after creation, besides selector, template and completions.
_JOB_IMMUTABLE = ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy")
_SELECTOR_IMMUTABLE = ("apps/deployments", "apps/replicasets", "apps/daemonsets")
# Validation order as in the apiserver: these kinds report update errors before the object's own.
UPDATE_FIRST = frozenset({"/services", "/configmaps", "/secrets"})


# ---- values ------------------------------------------------------------------------------------------------

def render(value: Any) -> str:
    """A bad value as `field.Error.ErrorBody` prints it (apimachinery 1.33+)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


_MAP_FIELDS = frozenset({"labels", "annotations", "nodeSelector", "matchLabels", "limits", "requests",
                         "overhead", "data", "volumeAttributes", "parameters"})
_GO_NAMES = {"dnsPolicy": "DNSPolicy", "dnsConfig": "DNSConfig", "os": "OS", "tty": "TTY",
             "seLinuxOptions": "SELinuxOptions", "seLinuxChangePolicy": "SELinuxChangePolicy",
             "fsGroup": "FSGroup", "fsGroupChangePolicy": "FSGroupChangePolicy", "iscsi": "ISCSI",
             "nfs": "NFS", "rbd": "RBD", "csi": "CSI", "fc": "FC", "cephfs": "CephFS",
             "awsElasticBlockStore": "AWSElasticBlockStore", "gcePersistentDisk": "GCEPersistentDisk",
             "hostIP": "HostIP", "podIP": "PodIP", "apiVersion": "APIVersion", "uid": "UID"}
_OBJECT_META_ORDER = ("name", "generateName", "namespace", "uid", "labels", "annotations", "ownerReferences",
                      "finalizers")


# Field order of the internal structs printed most (core.PodSpec, core.Container); others keep their order.
_POD_SPEC_ORDER = (
    "volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy",
    "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector",
    "serviceAccountName", "automountServiceAccountToken", "nodeName", "securityContext", "imagePullSecrets",
    "hostname", "subdomain",
    "setHostnameAsFQDN", "affinity", "schedulerName", "tolerations", "hostAliases", "priorityClassName",
    "priority", "preemptionPolicy", "dnsConfig", "readinessGates", "runtimeClassName", "overhead",
    "enableServiceLinks", "topologySpreadConstraints", "os", "schedulingGates", "resourceClaims", "resources")
_CONTAINER_ORDER = (
    "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "resizePolicy",
    "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe",
    "lifecycle", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext",
    "stdin", "stdinOnce", "tty")
_V1_ONLY = frozenset({"serviceAccount"})  # deprecated v1 aliases the internal struct does not have


def _go_name(key: str) -> str:
    return _GO_NAMES.get(key) or key[:1].upper() + key[1:]


def _ordered(value: dict, order: tuple[str, ...]) -> list[str]:
    known = [k for k in order if k in value]
    return known + [k for k in value if k not in order and k not in _V1_ONLY]


def _internal(value: Any, key: str = "", order: tuple[str, ...] = ()) -> Any:
    """A versioned (v1) value as the apiserver's internal Go struct marshals: Go field names, maps sorted."""
    if isinstance(value, list):
        item_order = _CONTAINER_ORDER if key in ("containers", "initContainers") else ()
        return [_internal(v, order=item_order) for v in value]
    if not isinstance(value, dict):
        return value
    if key in _MAP_FIELDS:
        return {k: _internal(value[k]) for k in sorted(value)}
    return {_go_name(k): _internal(value[k], k) for k in _ordered(value, order)}


def render_template(template: Any) -> str:
    """A pod template as the apiserver prints `core.PodTemplateSpec`: ObjectMeta inline (JSON names), then
    `"Spec"` with Go field names."""
    if not isinstance(template, dict):
        return render(template)
    meta = template.get("metadata") or {}
    out: dict[str, Any] = {}
    for k in _OBJECT_META_ORDER:
        if meta.get(k):
            out[k] = {n: meta[k][n] for n in sorted(meta[k])} if isinstance(meta[k], dict) else meta[k]
    out["Spec"] = _internal(template.get("spec") or {}, order=_POD_SPEC_ORDER)
    return json.dumps(out, separators=(",", ":"))


def render_selector(selector: Any) -> str:
    """A metav1.LabelSelector as JSON, in its struct's field order."""
    if not isinstance(selector, dict):
        return render(selector)
    out: dict[str, Any] = {}
    if selector.get("matchLabels"):
        out["matchLabels"] = {k: selector["matchLabels"][k] for k in sorted(selector["matchLabels"])}
    if selector.get("matchExpressions"):
        out["matchExpressions"] = selector["matchExpressions"]
    return json.dumps(out, separators=(",", ":"))


def semantic(value: Any) -> Any:
    """`apiequality.Semantic.DeepEqual`'s view: unset, null, empty maps and empty lists are all the same."""
    if isinstance(value, dict):
        kept = {k: semantic(v) for k, v in value.items()}
        kept = {k: v for k, v in kept.items() if v is not None}
        return kept or None
    if isinstance(value, list):
        return [semantic(v) for v in value] or None
    return value


def same(a: Any, b: Any) -> bool:
    return semantic(a) == semantic(b)


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 10**-3,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(text: Any) -> float | None:
    """A resource.Quantity's value (`1Gi`, `500M`, `1.5`), or None when it is not one."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    match = _QUANTITY.match(str(text or "").strip())
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:
        return None


# ---- errors ------------------------------------------------------------------------------------------------

class UpdateErrors:
    """Status causes, built like field.Invalid / field.Forbidden."""

    def __init__(self) -> None:
        self.causes: list[dict[str, str]] = []

    def invalid(self, field: str, shown: str, detail: str) -> None:
        self.causes.append({"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {detail}",
                            "field": field})

    def forbidden(self, field: str, detail: str) -> None:
        self.causes.append({"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}",
                            "field": field})

    def immutable(self, field: str, new: Any, old: Any, shown: str | None = None) -> None:
        """`ValidateImmutableField`: Invalid with the NEW value when it differs semantically."""
        if not same(new, old):
            self.invalid(field, render(new) if shown is None else shown, IMMUTABLE)


# ---- rules -------------------------------------------------------------------------------------------------

def _spec(obj: dict) -> dict:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _scheduling_free(template: Any) -> dict:
    """A Job's pod template without what a suspended, never-started Job may change (scheduling directives)."""
    out: dict = copy.deepcopy(template) if isinstance(template, dict) else {}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("labels", None)
        meta.pop("annotations", None)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    for key in ("nodeSelector", "tolerations", "schedulingGates"):
        spec.pop(key, None)
    affinity = spec.get("affinity")
    if isinstance(affinity, dict):
        affinity.pop("nodeAffinity", None)
    return out


def _job(errs: UpdateErrors, new: dict, old: dict) -> None:
    spec, old_spec = _spec(new), _spec(old)
    completions, old_completions = spec.get("completions"), old_spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        errs.immutable("spec.completions", completions, old_completions)
    elif completions not in (old_completions, None) and completions != spec.get("parallelism"):
        errs.invalid("spec.completions", render(completions),
                     "can only be modified in tandem with spec.parallelism")
    errs.immutable("spec.selector", spec.get("selector"), old_spec.get("selector"),
                   render_selector(spec.get("selector")))
    template, old_template = spec.get("template"), old_spec.get("template")
    suspended = bool(old_spec.get("suspend")) and not (old.get("status") or {}).get("startTime")
    compared = (_scheduling_free(template), _scheduling_free(old_template)) if suspended \
        else (template, old_template)
    if not same(*compared):
        errs.invalid("spec.template", render_template(template), IMMUTABLE)
    for name in _JOB_IMMUTABLE:
        errs.immutable(f"spec.{name}", spec.get(name), old_spec.get(name))


def _statefulset(errs: UpdateErrors, new: dict, old: dict) -> None:
    spec = {k: v for k, v in _spec(new).items() if k not in _STATEFULSET_MUTABLE}
    old_spec = {k: v for k, v in _spec(old).items() if k not in _STATEFULSET_MUTABLE}
    if not same(spec, old_spec):
        errs.forbidden("spec", STATEFULSET_FORBIDDEN)


def _needs_cluster_ip(spec: dict) -> bool:
    return spec.get("type", "ClusterIP") != "ExternalName"


def _service(errs: UpdateErrors, new: dict, old: dict) -> None:
    """`validateUpgradeDowngradeClusterIPs` and the load balancer class rule."""
    spec, old_spec = _spec(new), _spec(old)
    if _needs_cluster_ip(spec) and _needs_cluster_ip(old_spec):
        ips, old_ips = list(spec.get("clusterIPs") or []), list(old_spec.get("clusterIPs") or [])
        headless = spec.get("clusterIP") == "None" and old_spec.get("clusterIP") == "None"
        if not headless:
            shown = render(ips or None)
            if len(ips) == len(old_ips):
                for i, ip in enumerate(old_ips):
                    if ip != ips[i]:
                        errs.invalid(f"spec.clusterIPs[{i}]", shown, MAY_NOT_CHANGE)
            elif len(ips) < len(old_ips):
                if not ips:
                    errs.invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset")
                elif ips[0] != old_ips[0]:
                    errs.invalid("spec.clusterIPs[0]", shown, MAY_NOT_CHANGE)
                if len(ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
                    errs.invalid("spec.clusterIPs[0]", shown,
                                 "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary "
                                 "clusterIP")
            elif old_ips and ips[0] != old_ips[0]:
                errs.invalid("spec.clusterIPs[0]", shown, MAY_NOT_CHANGE)
    if spec.get("type") == "LoadBalancer" and old_spec.get("type") == "LoadBalancer" \
            and spec.get("loadBalancerClass") != old_spec.get("loadBalancerClass"):
        errs.invalid("spec.loadBalancerClass", render(spec.get("loadBalancerClass")), MAY_NOT_CHANGE)


def _storage(spec: dict) -> Any:
    return ((spec.get("resources") or {}).get("requests") or {}).get("storage")


def _pvc(errs: UpdateErrors, new: dict, old: dict) -> None:
    spec, old_spec = copy.deepcopy(_spec(new)), copy.deepcopy(_spec(old))
    if not old_spec.get("volumeName"):
        spec.pop("volumeName", None)  # binding sets volumeName once
        old_spec.pop("volumeName", None)
    bound = (new.get("status") or {}).get("phase") == "Bound"
    for s in (spec, old_spec):
        s.pop("volumeAttributesClassName", None)
        requests = (s.get("resources") or {}).get("requests")
        if bound and isinstance(requests, dict):
            requests.pop("storage", None)  # expansion: compared below
    if not same(spec, old_spec):
        errs.forbidden("spec", f"{PVC_FORBIDDEN}\n{_pvc_diff(old_spec, spec)}")
    size, old_size = quantity(_storage(_spec(new))), quantity(_storage(_spec(old)))
    capacity = quantity(((old.get("status") or {}).get("capacity") or {}).get("storage")) or 0.0
    if size is not None and old_size is not None and size < old_size and size <= capacity:
        errs.forbidden("spec.resources.requests.storage", PVC_SHRINK)


def _pvc_diff(old: dict, new: dict) -> str:
    """A short go-cmp style diff of the two specs (the apiserver appends cmp.Diff to the message)."""
    lines = ["  core.PersistentVolumeClaimSpec{"]
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key), new.get(key)
        if same(a, b):
            continue
        if a is not None:
            lines.append(f"- \t{_go_name(key)}: {render(a)},")
        if b is not None:
            lines.append(f"+ \t{_go_name(key)}: {render(b)},")
    lines.append("  }")
    return "\n".join(lines)


def _immutable_data(errs: UpdateErrors, new: dict, old: dict, fields: tuple[str, ...]) -> None:
    if old.get("immutable") is not True:
        return
    if new.get("immutable") is not True:
        errs.forbidden("immutable", IMMUTABLE_WHEN_SET)
    for name in fields:
        if new.get(name) != old.get(name):
            errs.forbidden(name, IMMUTABLE_WHEN_SET)


def update_causes(key: str, new: dict, old: dict) -> list[dict[str, str]]:
    """The apiserver's update-only validation errors for replacing `old` by `new` (both defaulted)."""
    errs = UpdateErrors()
    if key == "batch/jobs":
        _job(errs, new, old)
    elif key in _SELECTOR_IMMUTABLE:
        selector = _spec(new).get("selector")
        errs.immutable("spec.selector", selector, _spec(old).get("selector"), render_selector(selector))
    elif key == "apps/statefulsets":
        _statefulset(errs, new, old)
    elif key == "/services":
        _service(errs, new, old)
    elif key == "/persistentvolumeclaims":
        _pvc(errs, new, old)
    elif key == "/configmaps":
        _immutable_data(errs, new, old, ("data", "binaryData"))
    elif key == "/secrets":
        errs.immutable("type", new.get("type"), old.get("type"))
        _immutable_data(errs, new, old, ("data",))
    return errs.causes
