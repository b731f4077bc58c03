"""Helm's Secret storage: ``data.release`` = base64 (the API's) of base64(gzip(json(release))) (Helm's).

Releases written before compression existed hold plain JSON, so the gzip magic decides. Revisions and
release names are read from labels or the Secret's name without decoding the payload, so only the
wanted revision is ever decoded.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from bot.core.releases.decoding import decode_release_json, epoch_time
from bot.core.releases.records import Release, ReleaseDecodeError, SecretMeta

_GZIP_MAGIC = b"\x1f\x8b\x08"
_SECRET_NAME = re.compile(r"^sh\.helm\.release\.v1\.(?P<name>.+)\.v(?P<rev>\d+)$")


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
        created_at=epoch_time(labels.get("createdAt")),
        modified_at=epoch_time(labels.get("modifiedAt")),
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
    revs = [
        r
        for s in secrets
        if (name is None or _secret_release_name(s) == name) and (r := secret_revision(s)) is not None
    ]
    return max(revs) if revs else None


def pick_release(
    secrets: Iterable[Mapping[str, Any]], revision: int | None = None, name: str | None = None
) -> Release | None:
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
