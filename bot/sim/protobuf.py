"""Decoding the protobuf request bodies client-go's typed clients send (helm's release storage does).

Envelope: ``k8s\\x00`` + runtime.Unknown{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw}. Field numbers follow
k8s.io/api generated.proto. Only the kinds typed clients actually POST/PUT here are covered.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from bot.sim.store import ApiError

MAGIC = b"k8s\x00"
Decoder = Callable[[bytes], dict]


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) pairs; value is an int for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            yield number, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            yield number, int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == 5:
            yield number, int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _s(v: int | bytes) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _b(v: int | bytes) -> bytes:
    return v if isinstance(v, bytes) else b""


def _map_entry(buf: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for n, v in fields(buf):
        if n == 1:
            key = _s(v)
        elif n == 2:
            value = _b(v)
    return key, value


def _time(buf: bytes) -> str:
    seconds = dict(fields(buf)).get(1, 0)
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_ref(buf: bytes) -> dict:
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion", 6: "controller", 7: "blockOwnerDeletion"}
    return {names[n]: (bool(v) if n in (6, 7) else _s(v)) for n, v in fields(buf) if n in names}


def object_meta(buf: bytes) -> dict:
    meta: dict[str, Any] = {}
    strings = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    for n, v in fields(buf):
        if n in strings:
            meta[strings[n]] = _s(v)
        elif n == 7:
            meta["generation"] = v
        elif n in (8, 9):
            meta["creationTimestamp" if n == 8 else "deletionTimestamp"] = _time(_b(v))
        elif n in (11, 12):
            key, value = _map_entry(_b(v))
            meta.setdefault("labels" if n == 11 else "annotations", {})[key] = value.decode()
        elif n == 13:
            meta.setdefault("ownerReferences", []).append(_owner_ref(_b(v)))
        elif n == 14:
            meta.setdefault("finalizers", []).append(_s(v))
    return meta


def _secret(buf: bytes) -> dict:
    out: dict[str, Any] = {}
    for n, v in fields(buf):
        if n == 1:
            out["metadata"] = object_meta(_b(v))
        elif n in (2, 4):
            key, value = _map_entry(_b(v))
            if n == 2:
                out.setdefault("data", {})[key] = base64.b64encode(value).decode()
            else:
                out.setdefault("stringData", {})[key] = value.decode()
        elif n == 3:
            out["type"] = _s(v)
        elif n == 5:
            out["immutable"] = bool(v)
    return out


def _configmap(buf: bytes) -> dict:
    out: dict[str, Any] = {}
    for n, v in fields(buf):
        if n == 1:
            out["metadata"] = object_meta(_b(v))
        elif n in (2, 3):
            key, value = _map_entry(_b(v))
            if n == 2:
                out.setdefault("data", {})[key] = value.decode()
            else:
                out.setdefault("binaryData", {})[key] = base64.b64encode(value).decode()
        elif n == 4:
            out["immutable"] = bool(v)
    return out


def _namespace(buf: bytes) -> dict:
    out: dict[str, Any] = {}
    for n, v in fields(buf):
        if n == 1:
            out["metadata"] = object_meta(_b(v))
        elif n == 2:
            finalizers = [_s(f) for fn, f in fields(_b(v)) if fn == 1]
            out["spec"] = {"finalizers": finalizers} if finalizers else {}
    return out


def _delete_options(buf: bytes) -> dict:
    out: dict[str, Any] = {}
    for n, v in fields(buf):
        if n == 1:
            out["gracePeriodSeconds"] = int(v) if isinstance(v, int) else 0
        elif n == 2:
            pre = {({1: "uid", 2: "resourceVersion"}[pn]): _s(pv) for pn, pv in fields(_b(v)) if pn in (1, 2)}
            out["preconditions"] = pre
        elif n == 3:
            out["orphanDependents"] = bool(v)
        elif n == 4:
            out["propagationPolicy"] = _s(v)
        elif n == 5:
            out.setdefault("dryRun", []).append(_s(v))
    return out


DECODERS: dict[str, Decoder] = {
    "Secret": _secret,
    "ConfigMap": _configmap,
    "Namespace": _namespace,
    "DeleteOptions": _delete_options,
}


def decode(body: bytes) -> dict:
    """A protobuf-encoded object as its JSON form; 415 for kinds this stand-in cannot decode."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s envelope")
    try:
        api_version = kind = ""
        raw = b""
        for n, v in fields(body[len(MAGIC) :]):
            if n == 1:
                type_meta = {tn: _s(tv) for tn, tv in fields(_b(v))}
                api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
            elif n == 2:
                raw = _b(v)
        decoder = DECODERS.get(kind)
        if decoder is None:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the stand-in cannot decode protobuf {kind or 'objects'}; send JSON instead",
            )
        obj = decoder(raw)
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise ApiError(400, "BadRequest", f"malformed protobuf body: {exc}") from None
    obj.setdefault("metadata", {})
    if kind != "DeleteOptions":
        obj["apiVersion"], obj["kind"] = api_version, kind
    return obj


# ---- encoding (for tests and fixtures: build what client-go would send) ------------------------------------


def _key(number: int, wire: int) -> bytes:
    return _enc_varint((number << 3) | wire)


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(number, 2) + _enc_varint(len(data)) + data


def encode_secret(
    name: str,
    namespace: str,
    data: dict[str, bytes],
    *,
    labels: dict[str, str] | None = None,
    secret_type: str = "Opaque",
) -> bytes:
    meta = field_bytes(1, name) + field_bytes(3, namespace)
    for k, v in (labels or {}).items():
        meta += field_bytes(11, field_bytes(1, k) + field_bytes(2, v))
    secret = field_bytes(1, meta)
    for k, b in data.items():
        secret += field_bytes(2, field_bytes(1, k) + field_bytes(2, b))
    secret += field_bytes(3, secret_type)
    type_meta = field_bytes(1, "v1") + field_bytes(2, "Secret")
    return MAGIC + field_bytes(1, type_meta) + field_bytes(2, secret)
