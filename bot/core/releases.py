"""Helm release storage (Secret ``sh.helm.release.v1.NAME.vN``) decoded into typed, frozen objects.

Helm's Secret driver stores ``base64(gzip(json(release)))`` under ``data.release``; the Kubernetes API
base64-encodes Secret data once more. Releases written before compression existed hold plain JSON, so the
gzip magic decides. The chart's values and the user-supplied ``config`` can hold secrets: they are never
kept on a ``Release`` and never quoted in an error.

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
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import yaml

__all__ = [
    "SECRET_TYPE",
    "SYSTEM_LABELS",
    "Hook",
    "HookPhase",
    "HookRun",
    "Release",
    "ReleaseDecodeError",
    "ReleaseStatus",
    "SecretMeta",
    "decode_release_json",
    "decode_release_payload",
    "decode_release_secret",
    "encode_release_payload",
    "latest_revision",
    "parse_manifest",
    "pick_release",
    "release_secret_name",
    "secret_revision",
]

SECRET_TYPE = "helm.sh/release.v1"
SYSTEM_LABELS = frozenset({"name", "owner", "status", "version", "createdAt", "modifiedAt"})
_GZIP_MAGIC = b"\x1f\x8b\x08"
_SECRET_NAME = re.compile(r"^sh\.helm\.release\.v1\.(?P<name>.+)\.v(?P<rev>\d+)$")

# Kinds that live outside any namespace: their manifests must not get the release namespace.
_CLUSTER_SCOPED = frozenset({
    "Namespace", "PriorityClass", "StorageClass", "PersistentVolume", "CustomResourceDefinition",
    "ClusterRole", "ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "IngressClass",
    "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "PodSecurityPolicy",
    "RuntimeClass", "CSIDriver", "CSINode", "VolumeAttachment", "Node", "CertificateSigningRequest",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "FlowSchema",
    "PriorityLevelConfiguration",
})


class ReleaseDecodeError(ValueError):
    """A release record could not be read; the message says which record and what was wrong."""


class ReleaseStatus(StrEnum):
    UNKNOWN = "unknown"
    DEPLOYED = "deployed"
    UNINSTALLED = "uninstalled"
    SUPERSEDED = "superseded"
    FAILED = "failed"
    UNINSTALLING = "uninstalling"
    PENDING_INSTALL = "pending-install"
    PENDING_UPGRADE = "pending-upgrade"
    PENDING_ROLLBACK = "pending-rollback"

    @property
    def pending(self) -> bool:
        return self in (ReleaseStatus.PENDING_INSTALL, ReleaseStatus.PENDING_UPGRADE,
                        ReleaseStatus.PENDING_ROLLBACK)


class HookPhase(StrEnum):
    UNKNOWN = "Unknown"       # also what a never-run hook (Helm writes "") decodes to
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class HookRun:
    started_at: datetime | None = None
    completed_at: datetime | None = None
    phase: HookPhase = HookPhase.UNKNOWN


@dataclass(frozen=True)
class Hook:
    name: str
    kind: str
    api_version: str
    path: str
    events: tuple[str, ...]
    weight: int
    delete_policies: tuple[str, ...]           # Helm's default applied: ("before-hook-creation",)
    last_run: HookRun
    manifest: dict[str, Any] = field(repr=False, compare=False)
    namespace: str = ""
    output_log_policies: tuple[str, ...] = ()

    @property
    def waited(self) -> bool:
        """Helm waits only on Job and Pod hooks; others are done once created."""
        return self.kind in ("Job", "Pod")

    @property
    def deleted_on_success(self) -> bool:
        return "hook-succeeded" in self.delete_policies

    @property
    def deleted_on_failure(self) -> bool:
        return "hook-failed" in self.delete_policies


@dataclass(frozen=True)
class SecretMeta:
    """The storage record around a release: what `kubectl get secret` shows without decoding."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    type: str = SECRET_TYPE
    resource_version: str | None = None
    created_at: datetime | None = None      # from the createdAt label (epoch seconds)
    modified_at: datetime | None = None     # from the modifiedAt label

    @property
    def status(self) -> str | None:
        return self.labels.get("status")

    @property
    def revision(self) -> int | None:
        try:
            return int(self.labels["version"])
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    revision: int
    status: ReleaseStatus
    description: str
    chart_name: str
    chart_version: str
    app_version: str
    first_deployed: datetime | None
    last_deployed: datetime | None
    resources: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    hooks: tuple[Hook, ...] = ()
    deleted: datetime | None = None
    notes: str = field(default="", repr=False)
    labels: Mapping[str, str] = field(default_factory=dict)     # user labels (Helm 4 --labels)
    resource_sources: tuple[str, ...] = field(default=(), repr=False)   # "# Source:" path per resource
    apply_method: str = ""
    secret: SecretMeta | None = field(default=None, compare=False)
    # Documents PyYAML could not load (kept by identity only, see parse_manifest); never quotes values.
    manifest_problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        return release_secret_name(self.name, self.revision)

    def hooks_for(self, event: str) -> tuple[Hook, ...]:
        return tuple(h for h in self.hooks if event in h.events)


# ---------------------------------------------------------------------------------------------------------
# storage encoding


def release_secret_name(name: str, revision: int) -> str:
    return f"sh.helm.release.v1.{name}.v{revision}"


def encode_release_payload(release_json: Mapping[str, Any]) -> str:
    """Helm's own encoding (what the Secret driver puts in data.release before the API's base64)."""
    raw = json.dumps(release_json, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def _b64(text: str | bytes, what: str) -> bytes:
    try:
        data = text.encode("ascii") if isinstance(text, str) else bytes(text)
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise ReleaseDecodeError(f"{what} is not valid base64 ({type(exc).__name__})") from None


def _unwrap(raw: bytes, where: str) -> dict[str, Any]:
    if raw[:3] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ReleaseDecodeError(f"{where}: gzip data is corrupt ({exc.__class__.__name__})") from None
    try:
        doc = json.loads(raw)
    except UnicodeDecodeError:
        raise ReleaseDecodeError(f"{where}: payload is neither gzip nor UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise ReleaseDecodeError(f"{where}: release JSON is invalid ({exc.msg} at char {exc.pos})") from None
    if not isinstance(doc, dict):
        raise ReleaseDecodeError(f"{where}: release JSON is a {type(doc).__name__}, expected an object")
    return doc


def decode_release_payload(payload: bytes | str, *, secret: SecretMeta | None = None) -> Release:
    """Decode Helm's base64 text (what is inside data.release once Kubernetes' base64 is removed)."""
    where = f"release {secret.namespace}/{secret.name}" if secret else "release payload"
    return decode_release_json(_unwrap(_b64(payload, f"{where}: payload"), where), secret=secret, where=where)


def decode_release_secret(secret: Mapping[str, Any]) -> Release:
    """Decode a Secret as the API returns it (``data.release`` = base64(base64(gzip(json))))."""
    if not isinstance(secret, Mapping):
        raise ReleaseDecodeError(f"release secret must be a mapping, got {type(secret).__name__}")
    meta = secret_meta(secret)
    where = f"release secret {meta.namespace}/{meta.name}"
    data = secret.get("data") or {}
    blob = data.get("release") if isinstance(data, Mapping) else None
    if not blob or not isinstance(blob, str | bytes):
        raise ReleaseDecodeError(f"{where}: data.release is missing")
    inner = _b64(blob, f"{where}: data.release")
    if inner[:3] == _GZIP_MAGIC or inner.lstrip()[:1] == b"{":
        # Already Helm's payload (a caller removed one base64 layer, e.g. a decoded client object).
        doc = _unwrap(inner, where)
    else:
        doc = _unwrap(_b64(inner, f"{where}: Helm payload inside data.release"), where)
    return decode_release_json(doc, secret=meta, where=where)


def secret_meta(secret: Mapping[str, Any]) -> SecretMeta:
    md = secret.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (md.get("labels") or {}).items()}
    return SecretMeta(
        name=str(md.get("name") or ""),
        namespace=str(md.get("namespace") or ""),
        labels=labels,
        type=str(secret.get("type") or ""),
        resource_version=md.get("resourceVersion"),
        created_at=_epoch(labels.get("createdAt")),
        modified_at=_epoch(labels.get("modifiedAt")),
    )


def secret_revision(secret: Mapping[str, Any]) -> int | None:
    """Revision of a release Secret from its labels or name, without decoding the payload."""
    md = secret.get("metadata") or {}
    version = (md.get("labels") or {}).get("version")
    if version is not None and str(version).isdigit():
        return int(version)
    m = _SECRET_NAME.match(str(md.get("name") or ""))
    return int(m.group("rev")) if m else None


def latest_revision(secrets: Iterable[Mapping[str, Any]], name: str | None = None) -> int | None:
    revs = [r for s in secrets if (name is None or _secret_release_name(s) == name)
            and (r := secret_revision(s)) is not None]
    return max(revs) if revs else None


def pick_release(secrets: Iterable[Mapping[str, Any]], revision: int | None = None,
                 name: str | None = None) -> Release | None:
    """Decode only the wanted revision (default: the newest); None when it is not stored."""
    candidates = [s for s in secrets if name is None or _secret_release_name(s) == name]
    want = revision if revision is not None else latest_revision(candidates)
    for s in candidates:
        if want is not None and secret_revision(s) == want:
            return decode_release_secret(s)
    return None


def _secret_release_name(secret: Mapping[str, Any]) -> str | None:
    md = secret.get("metadata") or {}
    label = (md.get("labels") or {}).get("name")
    if label:
        return str(label)
    m = _SECRET_NAME.match(str(md.get("name") or ""))
    return m.group("name") if m else None


# ---------------------------------------------------------------------------------------------------------
# release JSON


def decode_release_json(doc: Mapping[str, Any], *, secret: SecretMeta | None = None,
                        where: str = "release") -> Release:
    """Build a Release from Helm's release JSON (``helm status -o json`` has the same shape)."""
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise ReleaseDecodeError(f"{where}: release JSON has no name")
    revision = doc.get("version")
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise ReleaseDecodeError(f"{where}: release JSON has no valid version (revision)")
    where = f"{where} ({name} v{revision})" if where.startswith("release payload") else where
    info = doc.get("info") or {}
    if not isinstance(info, Mapping):
        raise ReleaseDecodeError(f"{where}: info is a {type(info).__name__}, expected an object")
    namespace = doc.get("namespace") or (secret.namespace if secret else "") or ""
    status_text = info.get("status") or "unknown"
    try:
        status = ReleaseStatus(status_text)
    except ValueError:
        raise ReleaseDecodeError(f"{where}: unknown release status {str(status_text)[:40]!r}") from None
    chart = doc.get("chart") or {}
    chart_md = (chart.get("metadata") if isinstance(chart, Mapping) else None) or {}
    problems: list[str] = []
    docs = parse_manifest(str(doc.get("manifest") or ""), namespace, problems)
    hooks_json = doc.get("hooks") or []
    if not isinstance(hooks_json, list):
        raise ReleaseDecodeError(f"{where}: hooks is a {type(hooks_json).__name__}, expected a list")
    hooks = tuple(_decode_hook(h, namespace, where, problems) for h in hooks_json if h)
    labels = {k: v for k, v in (secret.labels.items() if secret else ()) if k not in SYSTEM_LABELS}
    return Release(
        name=name,
        namespace=str(namespace),
        revision=revision,
        status=status,
        description=str(info.get("description") or ""),
        chart_name=str(chart_md.get("name") or ""),
        chart_version=str(chart_md.get("version") or ""),
        app_version=str(chart_md.get("appVersion") or ""),
        first_deployed=_time(info.get("first_deployed"), where, "info.first_deployed"),
        last_deployed=_time(info.get("last_deployed"), where, "info.last_deployed"),
        deleted=_time(info.get("deleted"), where, "info.deleted"),
        notes=str(info.get("notes") or ""),
        resources=tuple(obj for _, obj in docs),
        resource_sources=tuple(src for src, _ in docs),
        hooks=hooks,
        labels=labels,
        apply_method=str(doc.get("apply_method") or ""),
        secret=secret,
        manifest_problems=tuple(problems),
    )


def _decode_hook(h: Any, namespace: str, where: str, problems: list[str]) -> Hook:
    if not isinstance(h, Mapping):
        raise ReleaseDecodeError(f"{where}: a hook is a {type(h).__name__}, expected an object")
    hook_problems: list[str] = []
    docs = parse_manifest(str(h.get("manifest") or ""), namespace, hook_problems)
    problems.extend(f"hook {h.get('name') or '?'} {p}" for p in hook_problems)
    obj = docs[0][1] if docs else {}
    md = obj.get("metadata") or {}
    weight = h.get("weight", 0)
    if isinstance(weight, str):       # defensive: the annotation is a string; Helm stores an int
        weight = _int_or_zero(weight)
    elif isinstance(weight, bool) or not isinstance(weight, int):
        weight = 0
    run = h.get("last_run") or {}
    phase_text = (run.get("phase") or "Unknown") if isinstance(run, Mapping) else "Unknown"
    try:
        phase = HookPhase(phase_text)
    except ValueError:
        phase = HookPhase.UNKNOWN
    hook_name = str(h.get("name") or md.get("name") or "")
    return Hook(
        name=hook_name,
        kind=str(h.get("kind") or obj.get("kind") or ""),
        api_version=str(obj.get("apiVersion") or ""),
        path=str(h.get("path") or ""),
        events=tuple(str(e) for e in h.get("events") or ()),
        weight=weight,
        delete_policies=tuple(str(p) for p in h.get("delete_policies") or ()) or ("before-hook-creation",),
        output_log_policies=tuple(str(p) for p in h.get("output_log_policies") or ()),
        last_run=HookRun(
            started_at=_time(run.get("started_at"), where, f"hook {hook_name} started_at") if run else None,
            completed_at=_time(run.get("completed_at"), where, f"hook {hook_name} completed_at")
            if run else None,
            phase=phase,
        ),
        manifest=obj,
        namespace=str(md.get("namespace") or namespace),
    )


def _int_or_zero(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0


_FRACTION = re.compile(r"(\.\d{1,9})")


def _time(value: Any, where: str, what: str) -> datetime | None:
    """RFC3339 with up to nanoseconds; Go's zero time and "" (Helm 3) mean unset."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ReleaseDecodeError(f"{where}: {what} is not a timestamp")
    text = value.strip()
    text = _FRACTION.sub(lambda m: m.group(1)[:7], text, count=1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ReleaseDecodeError(f"{where}: {what} is not an RFC3339 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed.year <= 1:
        return None
    return parsed


def _epoch(value: str | None) -> datetime | None:
    if value is None or not value.isdigit():
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


# ---------------------------------------------------------------------------------------------------------
# manifest parsing

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


def parse_manifest(manifest: str, namespace: str = "",
                   problems: list[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
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
    chunk: list[str] = []               # lines with their line breaks: a last block scalar keeps its "\n"
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
    if isinstance(value, set | frozenset):                    # !!set: a map of nulls
        return {_json_key(k): None for k in value}
    if isinstance(value, bytes):                               # !!binary: JSON carries bytes as base64
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, date):                                # explicit !!timestamp
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
