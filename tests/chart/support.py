"""Rendering the chart with the real helm, and checking objects against the Kubernetes JSON schemas."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from bot.sim.binaries import ensure_binaries

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "chart"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE, NAMESPACE = "hb", "bots"
# Kubernetes 1.35, as the real kubectl/helm here and the stand-in; kubernetes-validate ships the schemas.
KUBE_VERSION = "1.35.0"
READ_VERBS = frozenset({"get", "list", "watch"})
# Values that satisfy the chart's required token checks without naming a real Secret.
TOKENS = ("auth.botToken=xoxb-test", "auth.signingSecret=test-signing-secret")


# kubernetes-validate ships only built-in kinds. The ServiceMonitor is checked against the part of
# prometheus-operator's CRD (monitoring.coreos.com/v1) the chart uses: field names and types as in the CRD.
_PROM_DURATION = "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
_LABEL_SELECTOR = {"type": "object", "additionalProperties": False, "properties": {
    "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
    "matchExpressions": {"type": "array"}}}
SERVICE_MONITOR_SUBSET: dict[str, Any] = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {"type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
                 "properties": {
                     "selector": _LABEL_SELECTOR,
                     "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                         "any": {"type": "boolean"},
                         "matchNames": {"type": "array", "items": {"type": "string"}}}},
                     "endpoints": {"type": "array", "minItems": 1, "items": {
                         "type": "object", "additionalProperties": False, "properties": {
                             "port": {"type": "string"}, "path": {"type": "string"},
                             "interval": {"type": "string", "pattern": _PROM_DURATION},
                             "scrapeTimeout": {"type": "string"}, "scheme": {"type": "string"}}}}}}}}


def helm_bin() -> str:
    return str(ensure_binaries().helm)


def run_helm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm_bin(), *args], capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


def value_args(files: Iterable[Path | str] = (), sets: Iterable[str] = ()) -> list[str]:
    out: list[str] = []
    for f in files:
        out += ["-f", str(f)]
    for s in sets:
        out += ["--set", s]
    return out


@dataclass(frozen=True)
class Rendered:
    objects: tuple[dict[str, Any], ...]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert len(found) == 1, f"expected one {kind}, got {len(found)}"
        return found[0]

    def kinds(self) -> set[str]:
        return {o["kind"] for o in self.objects}

    @property
    def container(self) -> dict[str, Any]:
        return self.one("Deployment")["spec"]["template"]["spec"]["containers"][0]

    @property
    def env(self) -> dict[str, Any]:
        return {e["name"]: e.get("value", e.get("valueFrom")) for e in self.container["env"]}

    @property
    def config(self) -> dict[str, Any]:
        """The bot's config file as the pod reads it."""
        loaded = yaml.safe_load(self.one("ConfigMap")["data"]["config.yaml"])
        assert isinstance(loaded, dict)
        return loaded

    def rules_by_namespace(self) -> dict[str | None, list[dict[str, Any]]]:
        """Rules granted per namespace (None: cluster-wide), from the Roles/ClusterRoles actually bound."""
        roles = {(r["metadata"].get("namespace"), r["metadata"]["name"]): r
                 for r in self.of_kind("Role") + self.of_kind("ClusterRole")}
        out: dict[str | None, list[dict[str, Any]]] = {}
        for binding in self.of_kind("RoleBinding") + self.of_kind("ClusterRoleBinding"):
            ns = binding["metadata"].get("namespace")
            ref = binding["roleRef"]
            role = roles[(ns if ref["kind"] == "Role" else None, ref["name"])]
            out.setdefault(ns, []).extend(role["rules"])
        return out


class RenderError(AssertionError):
    pass


@functools.lru_cache(maxsize=64)
def _render(args: tuple[str, ...]) -> Rendered:
    proc = run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
    if proc.returncode != 0:
        raise RenderError(proc.stderr.strip())
    return Rendered(tuple(d for d in yaml.safe_load_all(proc.stdout) if d))


def render(files: Iterable[Path | str] = (), sets: Iterable[str] = ()) -> Rendered:
    return _render(tuple(value_args(files, sets)))


def render_error(files: Iterable[Path | str] = (), sets: Iterable[str] = ()) -> str:
    """helm's error for values the chart must refuse."""
    proc = run_helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *value_args(files, sets))
    assert proc.returncode != 0, f"helm rendered values it should refuse: {list(sets)}"
    return proc.stderr


def schema_problem(obj: Mapping[str, Any]) -> str | None:
    """None when `obj` is valid against the strict Kubernetes schema of its kind, else a one-line reason."""
    if obj.get("apiVersion") == "monitoring.coreos.com/v1":
        errors = sorted(jsonschema.Draft7Validator(SERVICE_MONITOR_SUBSET).iter_errors(dict(obj)), key=str)
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            return f"{obj['kind']} {obj['metadata']['name']}: {where}: {errors[0].message}"
        return None
    try:
        kubernetes_validate.validate(dict(obj), KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{obj['kind']} {obj['metadata']['name']}: {where}: {exc.message}"
    return None


def verbs(rules: Iterable[Mapping[str, Any]]) -> set[str]:
    return {v for rule in rules for v in rule["verbs"]}
