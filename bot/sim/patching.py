"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic merge patch.

Strategic merge needs the merge key of each list, which depends on the parent (``ports`` is keyed on
``containerPort`` in a container but on ``port`` in a Service); `merge_key` holds that small schema.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.sim.store import ApiError

_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "readinessGates": "conditionType",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "secrets": "name",
}
_PRIMITIVE_MERGE_LISTS = {"finalizers"}


def merge_key(path: tuple[str, ...]) -> str | None:
    """The merge key of the list at `path` (field names only, no indices), or None if it is atomic."""
    if not path:
        return None
    field = path[-1]
    if field == "ports":
        return "containerPort" if len(path) > 1 and path[-2] in _CONTAINER_LISTS else "port"
    if field == "conditions" and path[:1] != ("status",):
        return None
    return _MERGE_KEYS.get(field)


# ---- JSON merge patch -------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# ---- JSON patch -------------------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    cur = doc
    for part in parts[:-1]:
        try:
            cur = cur[int(part)] if isinstance(cur, list) else cur[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(
                422, "Invalid", f"the server rejected our request: path {path!r} not found"
            ) from None
    return cur


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, path)
    try:
        return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ApiError(422, "Invalid", f"the server rejected our request: path {path!r} not found") from None


def _remove(doc: Any, path: str) -> Any:
    value = _get(doc, path)
    parts = _pointer(path)
    parent = _parent(doc, parts, path)
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]
    return value


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    if replace:
        _get(doc, path)
    parent = _parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif replace:
            parent[int(last)] = value
        else:
            parent.insert(int(last), value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", f"the server rejected our request: path {path!r} not found")
    return doc


def json_patch(doc: Any, ops: list) -> Any:
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind in ("move", "copy"):
            value = _remove(doc, op["from"]) if kind == "move" else copy.deepcopy(_get(doc, op["from"]))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"the server rejected our request: test failed at {path!r}")
        else:
            raise ApiError(400, "BadRequest", f"unknown json patch operation {kind!r}")
    return doc


# ---- strategic merge patch --------------------------------------------------------------------------------

_DIRECTIVE_PREFIXES = ("$setElementOrder/", "$deleteFromPrimitiveList/", "$retainKeys/")


def _is_directive(key: str) -> bool:
    return key in ("$patch", "$retainKeys") or key.startswith(_DIRECTIVE_PREFIXES)


def strategic_merge(live: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise ApiError(400, "BadRequest", "strategic merge patch must be a JSON object")
    result = _merge_map(live if isinstance(live, dict) else {}, patch, ())
    return result if result is not None else {}


def _merge_map(live: dict, patch: dict, path: tuple[str, ...]) -> dict | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip(patch)
    out = copy.deepcopy(live)
    for key, value in patch.items():
        if _is_directive(key):
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(out[key] if isinstance(out.get(key), dict) else {}, value, (*path, key))
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        elif isinstance(value, list):
            current = out.get(key)
            out[key] = _merge_list(current if isinstance(current, list) else [], value, (*path, key))
        else:
            out[key] = copy.deepcopy(value)
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [x for x in out.get(field) or [] if x not in value]
        elif key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if isinstance(out.get(field), list):
                out[field] = _order(out[field], value, merge_key((*path, field)))
    if isinstance(patch.get("$retainKeys"), list):
        keep = set(patch["$retainKeys"])
        out = {k: v for k, v in out.items() if k in keep}
    return out


def _merge_list(live: list, patch: list, path: tuple[str, ...]) -> list:
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [_strip(x) for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    key = merge_key(path)
    if key is None:
        if path and path[-1] in _PRIMITIVE_MERGE_LISTS:
            return list(live) + [x for x in patch if x not in live]
        return [_strip(x) if isinstance(x, dict) else copy.deepcopy(x) for x in patch]
    result = copy.deepcopy(live)
    # Deletions first: the item must still carry its key when it is looked up.
    for item in patch:
        if isinstance(item, dict) and item.get("$patch") == "delete":
            result = [x for x in result if not (isinstance(x, dict) and x.get(key) == item.get(key))]
    for item in patch:
        if not isinstance(item, dict) or item.get("$patch") == "delete":
            continue
        idx = next(
            (i for i, x in enumerate(result) if isinstance(x, dict) and x.get(key) == item.get(key)), None
        )
        if idx is None:
            merged = _merge_map({}, item, path)
            if merged is not None:
                result.append(merged)
        else:
            merged = _merge_map(result[idx], item, path)
            if merged is None:
                del result[idx]
            else:
                result[idx] = merged
    return result


def _order(items: list, order: list, key: str | None) -> list:
    def ident(x: Any) -> str:
        return json.dumps(x.get(key) if key and isinstance(x, dict) else x, sort_keys=True)

    rank = {
        ident(o if key is None else {key: o.get(key)} if isinstance(o, dict) else o): i
        for i, o in enumerate(order)
    }
    return sorted(items, key=lambda x: rank.get(ident(x), len(rank)))


def _strip(value: Any) -> Any:
    """A patch fragment without its directives, as content for a new value."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not _is_directive(k) and v is not None}
    if isinstance(value, list):
        return [_strip(x) for x in value if not (isinstance(x, dict) and x.get("$patch") == "delete")]
    return value
