"""Builders for Helm release JSON and release Secrets, shaped exactly as helm v4 writes them.

The shapes were checked against `helm install --dry-run=client -o json` (helm v4.1.4) and helm's Secret
driver: ``data.release`` is ``base64(gzip(json))`` and the API base64-encodes Secret data once more;
labels ``name/owner/status/version`` plus ``createdAt`` (on create) or ``modifiedAt`` (on update).
Other engineers' tests import these; keep the signatures stable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from bot.core.releases import SECRET_TYPE, encode_release_payload, release_secret_name

T0 = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def rfc3339(t: datetime) -> str:
    """Go's time.RFC3339Nano as helm writes it: nanoseconds, trailing zeros trimmed, Z for UTC."""
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond:06d}{317:03d}".rstrip("0") if t.microsecond else ""
    off = t.utcoffset() or timedelta(0)
    if off == timedelta(0):
        zone = "Z"
    else:
        mins = int(off.total_seconds() // 60)
        sign = "+" if mins >= 0 else "-"
        zone = f"{sign}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"
    return f"{base}{'.' + frac if frac else ''}{zone}"


def deployment(name: str, *, replicas: int = 1, image: str = "nginx:1.27", namespace: str | None = None,
               labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    sel = {"app.kubernetes.io/name": name}
    md: dict[str, Any] = {"name": name, "labels": dict(labels or sel)}
    if namespace:
        md["namespace"] = namespace
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": md,
        "spec": {"replicas": replicas, "selector": {"matchLabels": sel},
                 "template": {"metadata": {"labels": sel},
                              "spec": {"containers": [{"name": "web", "image": image}]}}},
    }


def service(name: str, *, type: str = "ClusterIP") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type, "ports": [{"port": 80, "targetPort": "http", "name": "http"}],
                     "selector": {"app.kubernetes.io/name": name}}}


def configmap(name: str, data: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": dict(data or {"a": "b"})}


def job(name: str, *, image: str = "busybox:1.36", command: Sequence[str] = ("true",),
        backoff_limit: int = 0, annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if annotations:
        md["annotations"] = dict(annotations)
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": md,
        "spec": {"backoffLimit": backoff_limit,
                 "template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "main", "image": image,
                                                       "command": list(command)}]}}},
    }


class _NoAliasDumper(yaml.SafeDumper):
    """Helm's rendered manifests never use anchors; shared dicts must not produce them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(obj: Mapping[str, Any]) -> str:
    return yaml.dump(dict(obj), Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False).rstrip("\n")


def render_manifest(objects: Iterable[Mapping[str, Any]], chart: str = "app") -> str:
    """Helm's manifest text: '---\\n# Source: CHART/templates/FILE\\n' before each document."""
    docs = []
    for obj in objects:
        kind = str(obj.get("kind", "object")).lower()
        name = str((obj.get("metadata") or {}).get("name", "x"))
        docs.append(f"---\n# Source: {chart}/templates/{kind}-{name}.yaml\n{_dump(obj)}")
    return "\n".join(docs)


def hook(name: str, *, kind: str = "Job", events: Sequence[str] = ("pre-upgrade",), weight: int | str = 0,
         delete_policies: Sequence[str] | None = None, output_log_policies: Sequence[str] | None = None,
         phase: str = "", started_at: datetime | None = None, completed_at: datetime | None = None,
         manifest: Mapping[str, Any] | None = None, chart: str = "app") -> dict[str, Any]:
    """One entry of the release's `hooks` list, as helm stores it (weight an int, omitted when 0)."""
    annotations = {"helm.sh/hook": ",".join(events), "helm.sh/hook-weight": str(weight)}
    if delete_policies:
        annotations["helm.sh/hook-delete-policy"] = ",".join(delete_policies)
    if output_log_policies:
        annotations["helm.sh/hook-output-log-policy"] = ",".join(output_log_policies)
    if manifest is None:
        obj = job(name, annotations=annotations) if kind == "Job" else {
            "apiVersion": "v1", "kind": kind, "metadata": {"name": name, "annotations": annotations}}
    else:
        obj = dict(manifest)
    h: dict[str, Any] = {
        "name": name, "kind": kind, "path": f"{chart}/templates/{name}.yaml", "manifest": _dump(obj),
        "events": list(events), "last_run": {"phase": phase},
    }
    if started_at:
        h["last_run"]["started_at"] = rfc3339(started_at)
    if completed_at:
        h["last_run"]["completed_at"] = rfc3339(completed_at)
    w = int(weight)
    if w:
        h["weight"] = w
    if delete_policies:
        h["delete_policies"] = list(delete_policies)
    if output_log_policies:
        h["output_log_policies"] = list(output_log_policies)
    return h


def release_json(name: str, revision: int = 1, status: str = "deployed", *,
                 manifest_objects: Iterable[Mapping[str, Any]] = (), hooks: Iterable[Mapping[str, Any]] = (),
                 description: str | None = None, namespace: str = "default", chart_name: str = "app",
                 chart_version: str = "0.1.0", app_version: str = "1.0.0",
                 first_deployed: datetime = T0, last_deployed: datetime | None = None,
                 config: Mapping[str, Any] | None = None, notes: str = "") -> dict[str, Any]:
    """The release JSON helm stores (keys and omitempty rules as in helm v4 pkg/release/v1)."""
    if description is None:
        description = {1: "Install complete"}.get(revision, "Upgrade complete")
    info: dict[str, Any] = {
        "first_deployed": rfc3339(first_deployed),
        "last_deployed": rfc3339(last_deployed or first_deployed + timedelta(minutes=revision - 1)),
        "description": description,
        "status": status,
    }
    if notes:
        info["notes"] = notes
    doc: dict[str, Any] = {
        "name": name,
        "info": info,
        "chart": {
            "metadata": {"name": chart_name, "version": chart_version, "description": "test chart",
                         "apiVersion": "v2", "appVersion": app_version, "type": "application"},
            "lock": None, "templates": [], "values": {"replicaCount": 1}, "schema": None, "files": [],
        },
        "manifest": render_manifest(manifest_objects, chart_name),
        "hooks": list(hooks),
        "version": revision,
        "namespace": namespace,
        "apply_method": "ssa",
    }
    if config:
        doc["config"] = dict(config)
    if not doc["hooks"]:
        del doc["hooks"]
    return doc


def secret_from_release_json(doc: Mapping[str, Any], *, created_at: datetime = T0,
                             modified_at: datetime | None = None, labels: Mapping[str, str] | None = None,
                             resource_version: str = "1", gzip: bool = True) -> dict[str, Any]:
    """Wrap release JSON into the Secret the API returns (data values base64-encoded by Kubernetes)."""
    payload = encode_release_payload(doc) if gzip else base64.b64encode(json.dumps(doc).encode()).decode()
    lbl = dict(labels or {})
    lbl.update({"name": doc["name"], "owner": "helm", "status": doc["info"]["status"],
                "version": str(doc["version"])})
    lbl["createdAt"] = str(int(created_at.timestamp()))
    if modified_at is not None:
        lbl["modifiedAt"] = str(int(modified_at.timestamp()))
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": release_secret_name(doc["name"], doc["version"]),
            "namespace": doc["namespace"],
            "labels": lbl,
            "resourceVersion": resource_version,
            "creationTimestamp": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "type": SECRET_TYPE,
        "data": {"release": base64.b64encode(payload.encode()).decode()},
    }


def release_secret(name: str, revision: int = 1, status: str = "deployed", *,
                   manifest_objects: Iterable[Mapping[str, Any]] = (),
                   hooks: Iterable[Mapping[str, Any]] = (),
                   description: str | None = None, namespace: str = "default", chart_name: str = "app",
                   chart_version: str = "0.1.0", app_version: str = "1.0.0",
                   first_deployed: datetime = T0, last_deployed: datetime | None = None,
                   config: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None,
                   modified_at: datetime | None = None, gzip: bool = True) -> dict[str, Any]:
    """A release Secret as the Kubernetes API returns it."""
    doc = release_json(name, revision, status, manifest_objects=manifest_objects, hooks=hooks,
                       description=description, namespace=namespace, chart_name=chart_name,
                       chart_version=chart_version, app_version=app_version,
                       first_deployed=first_deployed, last_deployed=last_deployed, config=config)
    return secret_from_release_json(doc, created_at=last_deployed or first_deployed, modified_at=modified_at,
                                    labels=labels, gzip=gzip)
