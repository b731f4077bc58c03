"""Helm release storage (Secret ``sh.helm.release.v1.NAME.vN``) decoded into typed, frozen objects.

Helm's Secret driver stores ``base64(gzip(json(release)))`` under ``data.release``; the Kubernetes API
base64-encodes Secret data once more. Releases written before compression existed hold plain JSON, so the
gzip magic decides. The chart's values and the user-supplied ``config`` can hold secrets: they are never
kept on a ``Release`` and never quoted in an error.
"""

from __future__ import annotations

import base64
import binascii
import copy
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Any

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
    docs = parse_manifest(doc.get("manifest") or "", namespace)
    hooks_json = doc.get("hooks") or []
    if not isinstance(hooks_json, list):
        raise ReleaseDecodeError(f"{where}: hooks is a {type(hooks_json).__name__}, expected a list")
    hooks = tuple(_decode_hook(h, namespace, where) for h in hooks_json if h)
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
    )


def _decode_hook(h: Any, namespace: str, where: str) -> Hook:
    if not isinstance(h, Mapping):
        raise ReleaseDecodeError(f"{where}: a hook is a {type(h).__name__}, expected an object")
    docs = parse_manifest(h.get("manifest") or "", namespace)
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

_SEPARATOR = re.compile(r"^---(?:\s.*)?$")
_SOURCE = re.compile(r"^#\s*Source:\s*(?P<path>\S.*?)\s*$")


def parse_manifest(manifest: str, namespace: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Split Helm's multi-document manifest into (source path, object); empty documents are skipped."""
    out: list[tuple[str, dict[str, Any]]] = []
    chunk: list[str] = []

    def flush() -> None:
        text = "\n".join(chunk)
        chunk.clear()
        source = ""
        for line in text.splitlines():
            m = _SOURCE.match(line.strip())
            if m:
                source = m.group("path")
                break
        obj = _load_object(text)
        if not obj:
            return
        if namespace and obj.get("kind") not in _CLUSTER_SCOPED:
            md = obj.setdefault("metadata", {})
            if isinstance(md, dict) and not md.get("namespace"):
                md["namespace"] = namespace
        out.append((source, obj))

    for line in manifest.splitlines():
        if _SEPARATOR.match(line):
            flush()
        else:
            chunk.append(line)
    flush()
    return out


def _load_object(text: str) -> dict[str, Any] | None:
    try:
        value = load_yaml(text)
    except YamlError:
        return _head(text)
    return value if isinstance(value, dict) and value else None


_TOP_KEY = re.compile(r"^(apiVersion|kind):\s*['\"]?([^'\"#\s]+)")
_MD_KEY = re.compile(r"^\s+(name|namespace):\s*['\"]?([^'\"#\s]+)")


def _head(text: str) -> dict[str, Any] | None:
    """Fallback for YAML this small loader does not understand: identity fields only."""
    obj: dict[str, Any] = {}
    md: dict[str, Any] = {}
    in_md = False
    for line in text.splitlines():
        if m := _TOP_KEY.match(line):
            obj[m.group(1)] = m.group(2)
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


# --- a small YAML loader for rendered Kubernetes manifests (bot.core is stdlib-only) ----------------------


class YamlError(ValueError):
    pass


def load_yaml(text: str) -> Any:
    """Block mappings/sequences, flow collections, quoted/plain/block scalars; no anchors or tags."""
    return _Yaml(text).document()


_KEY_SPLIT = re.compile(r":(?:\s|$)")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_OCT = re.compile(r"^0o?[0-7]+$")
_FLOAT = re.compile(r"^[-+]?(?:\d[\d_]*)?\.?\d+(?:[eE][-+]?\d+)?$|^[-+]?\d+\.\d*(?:[eE][-+]?\d+)?$")
_FOLD = re.compile(r"[ \t]*\n(?:[ \t]*\n)*[ \t]*")


def _fold(m: re.Match[str]) -> str:
    """A single line break folds to a space; each further (empty) line keeps one newline."""
    return "\n" * (m.group(0).count("\n") - 1) or " "

_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
            "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0"}


def _scalar(token: str) -> Any:
    t = token.strip()
    if t in ("", "~", "null", "Null", "NULL"):
        return None
    if t in ("true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"):
        return True
    if t in ("false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"):
        return False
    if _INT.match(t):
        return int(t.replace("_", ""))
    if _HEX.match(t):
        return int(t, 16)
    if _OCT.match(t) and len(t) > 1:
        return int(t.replace("0o", "0"), 8)
    if _FLOAT.match(t) and not t.lstrip("+-").isdigit():
        return float(t.replace("_", ""))
    if t in (".inf", ".Inf", "+.inf"):
        return float("inf")
    if t in ("-.inf", "-.Inf"):
        return float("-inf")
    if t in (".nan", ".NaN"):
        return float("nan")
    if t[:1] in ("&", "*", "!", "|", ">", "%", "@", "`"):
        raise YamlError(f"unsupported YAML construct {t[:1]!r}")
    return t


def _tagged(tag: str, value: Any) -> Any:
    """Apply a standard YAML tag (!!str, !!int, ...); other tags are not supported."""
    if tag in ("!!str", "!!binary", "!"):
        return value if isinstance(value, str) else "" if value is None else str(value)
    if tag in ("!!map", "!!seq", "!!omap", "!!set"):
        return value
    if tag == "!!null":
        return None
    resolved = _scalar(value) if isinstance(value, str) else value
    if tag == "!!int" and isinstance(resolved, int) and not isinstance(resolved, bool):
        return resolved
    if tag == "!!float" and isinstance(resolved, int | float) and not isinstance(resolved, bool):
        return float(resolved)
    if tag == "!!bool" and isinstance(resolved, bool):
        return resolved
    raise YamlError(f"unsupported tag {tag[:20]!r}")


def _strip_comment(text: str) -> str:
    """Remove a trailing comment, respecting quotes ('' and \\" are escapes, not ends)."""
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if quote == '"' and ch == "\\":
                i += 1
            elif ch == quote:
                if quote == "'" and text[i + 1:i + 2] == "'":
                    i += 1
                else:
                    quote = ""
        elif ch in ('"', "'") and (i == 0 or text[i - 1] in " \t[{,:-?"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
        i += 1
    return text.rstrip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blank(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


class _Yaml:
    def __init__(self, text: str) -> None:
        self.lines = [ln.rstrip("\r") for ln in text.replace("\t", "  ").splitlines()]
        self.final_break = text.endswith("\n")
        if "..." in self.lines:                  # document end marker
            self.lines = self.lines[: self.lines.index("...")]
            self.final_break = True
        self.anchors: dict[str, Any] = {}
        self.pos = 0

    def document(self) -> Any:
        self._skip()
        if self.pos >= len(self.lines):
            return None
        value = self.node(0)
        self._skip()
        if self.pos < len(self.lines):
            raise YamlError(f"unexpected content at line {self.pos + 1}")
        return value

    def _skip(self) -> None:
        while self.pos < len(self.lines) and _blank(self.lines[self.pos]):
            self.pos += 1

    def _peek(self) -> tuple[int, str] | None:
        self._skip()
        if self.pos >= len(self.lines):
            return None
        line = self.lines[self.pos]
        return _indent(line), line.strip()

    def node(self, min_indent: int) -> Any:
        peek = self._peek()
        if peek is None or peek[0] < min_indent:
            return None
        ind, content = peek
        if content == "-" or content.startswith("- "):
            return self.seq(ind)
        if self._split_key(content) is not None:
            return self.map(ind)
        self.pos += 1
        return self.inline(_strip_comment(content), ind - 1)

    def _split_key(self, content: str) -> tuple[Any, str] | None:
        if content[:1] in ('"', "'"):
            i = self._quote_end(content)
            rest = content[i + 1:] if i != -1 else ""
            if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
                return self.quoted(content[: i + 1]), rest[1:].strip()
            return None
        if content[:1] in ("[", "{", "#"):
            return None
        m = _KEY_SPLIT.search(content)
        if not m:
            return None
        key = content[: m.start()].strip()
        if " #" in key:
            return None
        return _scalar(key) if key else None, content[m.end():].strip()

    def map(self, ind: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        while (peek := self._peek()) is not None:
            cur, content = peek
            if cur < ind:
                break
            if cur > ind:
                raise YamlError(f"bad indentation at line {self.pos + 1}")
            if content == "-" or content.startswith("- "):
                break
            split = self._split_key(content)
            if split is None:
                raise YamlError(f"expected a 'key: value' at line {self.pos + 1}")
            key, rest = split
            if isinstance(key, list | dict):
                raise YamlError(f"complex key at line {self.pos + 1}")
            self.pos += 1
            value = self.value(_strip_comment(rest), ind, allow_same_indent_seq=True)
            if key == "<<" and isinstance(value, dict):
                out.update({k: v for k, v in value.items() if k not in out})
            else:
                out[key] = value
        return out

    def value(self, rest: str, ind: int, *, allow_same_indent_seq: bool) -> Any:
        if rest[:1] == "!":
            tag, _, rest = rest.partition(" ")
            rest = rest.strip()
            if rest and rest[0] not in "\"'|>[{&*!":
                return _tagged(tag, self.inline(rest, ind, raw=True))
            return _tagged(tag, self.value(rest, ind, allow_same_indent_seq=allow_same_indent_seq))
        if rest[:1] == "&":
            name, _, rest = rest[1:].partition(" ")
            value = self.value(rest.strip(), ind, allow_same_indent_seq=allow_same_indent_seq)
            self.anchors[name] = value
            return value
        if rest[:1] == "*":
            if rest[1:] not in self.anchors:
                raise YamlError(f"unknown alias {rest[:40]!r}")
            return copy.deepcopy(self.anchors[rest[1:]])
        if not rest:
            peek = self._peek()
            if peek is None:
                return None
            nxt, content = peek
            if nxt > ind:
                return self.node(nxt)
            if allow_same_indent_seq and nxt == ind and (content == "-" or content.startswith("- ")):
                return self.seq(ind)
            return None
        return self.inline(rest, ind)

    def seq(self, ind: int) -> list[Any]:
        out: list[Any] = []
        while (peek := self._peek()) is not None:
            cur, content = peek
            if cur != ind or not (content == "-" or content.startswith("- ")):
                if cur > ind:
                    raise YamlError(f"bad indentation at line {self.pos + 1}")
                break
            item = content[1:].lstrip(" ")
            if not item or item.startswith("#"):
                self.pos += 1
                out.append(self.value("", ind, allow_same_indent_seq=False))
                continue
            col = ind + len(content) - len(item)
            if item[:1] in ("&", "*", "!"):
                self.pos += 1
                out.append(self.value(_strip_comment(item), ind, allow_same_indent_seq=False))
            elif item == "-" or item.startswith("- ") or self._split_key(item) is not None:
                self.lines[self.pos] = " " * col + item      # re-read the item as a nested block
                out.append(self.node(col))
            else:
                self.pos += 1
                out.append(self.inline(_strip_comment(item), ind))
        return out

    def inline(self, rest: str, ind: int, *, raw: bool = False) -> Any:
        """A value on the rest of a line, plus continuation lines for block/quoted/plain scalars."""
        if rest[:1] in ("|", ">"):
            return self.block_scalar(rest, ind)
        if rest[:1] in ("[", "{"):
            text = rest
            while True:
                try:
                    value, end = self.flow(text, 0)
                except YamlError:
                    if self.pos >= len(self.lines) or (
                            self.lines[self.pos].strip() and _indent(self.lines[self.pos]) <= ind):
                        raise
                    text += "\n" + self.lines[self.pos].strip()
                    self.pos += 1
                    continue
                if text[end:].strip():
                    raise YamlError(f"trailing text after flow collection near line {self.pos}")
                return value
        if rest[:1] in ('"', "'"):
            text = rest
            while not self._closed(text):
                if self.pos >= len(self.lines):
                    raise YamlError("unterminated quoted string")
                text += "\n" + self.lines[self.pos].strip()
                self.pos += 1
            end = self._quote_end(text)
            if _strip_comment(text[end + 1:]).strip():
                raise YamlError(f"trailing text after quoted string near line {self.pos}")
            return self.quoted(text[: end + 1])
        parts = [rest]
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if _blank(line) or _indent(line) <= ind:
                break
            parts.append(_strip_comment(line.strip()))
            self.pos += 1
        return _scalar(parts[0]) if len(parts) == 1 and not raw else " ".join(parts)

    @staticmethod
    def _quote_end(text: str) -> int:
        q = text[0]
        i = 1
        while i < len(text):
            if q == '"' and text[i] == "\\":
                i += 2
                continue
            if text[i] == q:
                if q == "'" and text[i + 1:i + 2] == "'":
                    i += 2
                    continue
                return i
            i += 1
        return -1

    def _closed(self, text: str) -> bool:
        return self._quote_end(text) != -1

    @staticmethod
    def quoted(text: str) -> str:
        q, body = text[0], text[1:-1]
        if q == "'":
            return _FOLD.sub(_fold, body).replace("''", "'")
        out: list[str] = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\n":             # a line break inside the quotes folds like in plain text
                m = _FOLD.match(body, i)
                while out and out[-1] in " \t":
                    out.pop()
                out.append(_fold(m) if m else " ")
                i = m.end() if m else i + 1
                continue
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            nxt = body[i + 1:i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt in ("x", "u", "U"):
                width = {"x": 2, "u": 4, "U": 8}[nxt]
                try:
                    out.append(chr(int(body[i + 2:i + 2 + width], 16)))
                except ValueError:
                    raise YamlError("bad escape in double-quoted string") from None
                i += 2 + width
            elif nxt == "\n":         # escaped line break: joins lines without a space
                i += 2
                while i < len(body) and body[i] in " \t":
                    i += 1
            else:
                raise YamlError("bad escape in double-quoted string")
        return "".join(out)

    def flow(self, text: str, i: int) -> tuple[Any, int]:
        i = self._ws(text, i)
        if i >= len(text):
            raise YamlError("unterminated flow collection")
        ch = text[i]
        if ch in "[{":
            close = "]" if ch == "[" else "}"
            items: list[Any] = []
            mapping: dict[Any, Any] = {}
            i += 1
            while True:
                i = self._ws(text, i)
                if i >= len(text):
                    raise YamlError("unterminated flow collection")
                if text[i] == close:
                    return (items if ch == "[" else mapping), i + 1
                key, i = self.flow(text, i)
                i = self._ws(text, i)
                if i < len(text) and text[i] == ":":
                    val, i = self.flow(text, i + 1)
                    if ch == "[":
                        items.append({key: val})
                    else:
                        mapping[key] = val
                elif ch == "[":
                    items.append(key)
                else:
                    mapping[key] = None
                i = self._ws(text, i)
                if i < len(text) and text[i] == ",":
                    i += 1
                elif i < len(text) and text[i] != close:
                    raise YamlError("expected ',' in flow collection")
        if ch in "\"'":
            end = self._quote_end(text[i:])
            if end == -1:
                raise YamlError("unterminated quoted string")
            return self.quoted(text[i:i + end + 1]), i + end + 1
        j = i
        while j < len(text) and text[j] not in ",]}" and not (
            text[j] == ":" and (j + 1 >= len(text) or text[j + 1] in " \n,]}")
        ):
            j += 1
        return _scalar(_FOLD.sub(" ", text[i:j])), j

    @staticmethod
    def _ws(text: str, i: int) -> int:
        while i < len(text) and text[i] in " \t\n":
            i += 1
        return i

    def block_scalar(self, header: str, ind: int) -> str:
        m = re.match(r"^([|>])([-+]?)([1-9]?)([-+]?)\s*(?:#.*)?$", header)
        if not m:
            raise YamlError(f"bad block scalar header near line {self.pos}")
        style, chomp, explicit = m.group(1), m.group(2) or m.group(4), m.group(3)
        raw: list[str] = []
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if line.strip() and _indent(line) <= ind:
                break
            raw.append(line)
            self.pos += 1
        content_indent = ind + int(explicit) if explicit else next(
            (_indent(ln) for ln in raw if ln.strip()), ind + 1)
        body = [ln[content_indent:] if ln.strip() else "" for ln in raw]
        while body and not body[-1] and chomp != "+":
            body.pop()
        trailing = 0
        if chomp == "+":
            while body and not body[-1]:
                body.pop()
                trailing += 1
        if style == "|":
            text = "\n".join(body)
        else:
            lead = next((k for k, ln in enumerate(body) if ln), len(body))
            folded = body[lead:]
            text = "\n" * lead + (folded[0] if folded else "")
            for prev, ln in pairwise(folded):
                if not ln:
                    text += "\n"
                elif not prev:
                    text += ("\n" if ln.startswith(" ") else "") + ln
                elif prev.startswith(" ") or ln.startswith(" "):
                    text += "\n" + ln
                else:
                    text += " " + ln
        if not body:
            return "\n" * trailing if chomp == "+" else ""
        if chomp == "-" or (self.pos >= len(self.lines) and not self.final_break and raw[-1].strip()):
            return text
        return text + "\n" + ("\n" * trailing if chomp == "+" else "")
