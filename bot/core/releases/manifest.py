"""Chart manifests (Helm's rendered YAML, "# Source:" comments included) -> objects as the API got them.

Manifests are read with PyYAML's safe loader (libyaml's CSafeLoader when built in): YAML 1.1, like the
go-yaml v2 behind Kubernetes' ``sigs.k8s.io/yaml`` (the step that turned helm's text into the JSON the API
got), so ``on``/``off``/``yes``/``no`` are booleans and ``010`` is octal in both. Two PyYAML types that
Kubernetes lacks stay strings here: timestamps (``2025-01-02``) and ``=``; keys become strings, as in JSON.
Differences left (values only; identity fields are never affected in a manifest the API accepted): ``y``/``n``
are booleans for Kubernetes, strings here; ``1e3`` is 1000 for Kubernetes, a string here (PyYAML floats need
a dot); ``1:30`` is a string for Kubernetes, 90 here (YAML 1.1 base 60); ``0o17`` is 15 for Kubernetes, a
string here. Duplicate keys: the last wins.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import yaml

# Kinds that live outside any namespace: their manifests must not get the release namespace.
_CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "PriorityClass",
        "StorageClass",
        "PersistentVolume",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleList",
        "ClusterRoleBinding",
        "ClusterRoleBindingList",
        "IngressClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "PodSecurityPolicy",
        "RuntimeClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "Node",
        "CertificateSigningRequest",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "FlowSchema",
        "PriorityLevelConfiguration",
    }
)

_BaseLoader: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
# Implicit types PyYAML has and Kubernetes (sigs.k8s.io/yaml) does not: both stay plain strings.
_KEPT_AS_STRINGS = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"})


class _ManifestLoader(_BaseLoader):
    """PyYAML's safe loader (libyaml when present) without the timestamp and '=' implicit types."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _KEPT_AS_STRINGS]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }


_SEPARATOR = re.compile(r"^---(?:\s.*)?$")
_SOURCE = re.compile(r"^#\s*Source:\s*(?P<path>\S.*?)\s*$")
_TOP_KEY = re.compile(r"^(apiVersion|kind):\s*['\"]?([^'\"#\s]+)")
_MD_KEY = re.compile(r"^\s+(name|namespace):\s*['\"]?([^'\"#\s]+)")


def parse_manifest(
    manifest: str, namespace: str = "", problems: list[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Split Helm's multi-document manifest into (source path, object); empty documents are skipped.

    A document PyYAML cannot load (a custom tag, invalid YAML) does not fail the release: it keeps what a
    line scan finds (apiVersion, kind, metadata name/namespace) and a line is added to ``problems``.
    Objects without a namespace get ``namespace`` unless their kind is cluster-scoped.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    for source, line, text in _documents(manifest):
        objs, problem = _load_objects(text)
        if problem and problems is not None:
            problems.append(f"{source or 'manifest'} (line {line}): {problem}")
        for obj in objs:
            if namespace and obj.get("kind") not in _CLUSTER_SCOPED:
                md = obj.setdefault("metadata", {})
                if isinstance(md, dict) and not md.get("namespace"):
                    md["namespace"] = namespace
            out.append((source, obj))
    return out


def _documents(manifest: str) -> Iterator[tuple[str, int, str]]:
    """(source path, first line number, text) per '---'-separated document, so one bad one stays alone."""
    chunk: list[str] = []  # lines with their line breaks: a last block scalar keeps its "\n"
    first = 1
    for number, line in enumerate([*manifest.splitlines(keepends=True), "---"], 1):
        if not _SEPARATOR.match(line.rstrip("\r\n")):
            chunk.append(line)
            continue
        if any(ln.strip() and not ln.lstrip().startswith("#") for ln in chunk):
            source = next((m.group("path") for ln in chunk if (m := _SOURCE.match(ln.strip()))), "")
            yield source, first, "".join(chunk)
        chunk = []
        first = number + 1


def _load_objects(text: str) -> tuple[list[dict[str, Any]], str | None]:
    try:
        docs = [d for d in yaml.load_all(text, Loader=_ManifestLoader) if d is not None]
        docs = [_json_shape(d, {}) for d in docs]
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        ident = _identity(text)
        kept = "kept apiVersion/kind/name/namespace only" if ident else "skipped"
        return ([ident] if ident else []), f"unreadable YAML ({_yaml_problem(exc)}); {kept}"
    objs = [d for d in docs if isinstance(d, dict) and d]
    others = sorted({type(d).__name__ for d in docs if not isinstance(d, dict)})
    return objs, (f"a document is a {'/'.join(others)}, not an object; skipped" if others else None)


def _yaml_problem(exc: BaseException) -> str:
    """What went wrong, without quoting the document (it may hold values)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at document line {mark.line + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context or type(exc).__name__}{where}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return type(exc).__name__


def _json_shape(value: Any, seen: dict[int, Any]) -> Any:
    """What the API would hold after Kubernetes' YAML-to-JSON step: string keys, no bytes/dates/sets.

    ``seen`` keeps YAML aliases shared (as PyYAML builds them) instead of expanding them.
    """
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if id(value) in seen:
        return seen[id(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        seen[id(value)] = out
        out.update((_json_key(k), _json_shape(v, seen)) for k, v in value.items())
        return out
    if isinstance(value, list):
        items: list[Any] = []
        seen[id(value)] = items
        items.extend(_json_shape(v, seen) for v in value)
        return items
    if isinstance(value, set | frozenset):  # !!set: a map of nulls
        return {_json_key(k): None for k in value}
    if isinstance(value, bytes):  # !!binary: JSON carries bytes as base64
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, date):  # explicit !!timestamp
        return value.isoformat()
    return str(value)


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def _identity(text: str) -> dict[str, Any] | None:
    """Identity fields by a line scan, for a document PyYAML could not load."""
    obj: dict[str, Any] = {}
    md: dict[str, Any] = {}
    in_md = False
    for line in text.splitlines():
        if m := _TOP_KEY.match(line):
            obj.setdefault(m.group(1), m.group(2))
        if line.startswith("metadata:"):
            in_md = True
            continue
        if in_md and line[:1] not in (" ", "\t", "") and not line.startswith("#"):
            in_md = False
        if in_md and (m := _MD_KEY.match(line)) and len(line) - len(line.lstrip()) <= 2:
            md.setdefault(m.group(1), m.group(2))
    if "kind" not in obj:
        return None
    obj["metadata"] = md
    return obj
