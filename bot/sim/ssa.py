"""Server-side apply and managedFields bookkeeping.

Ownership drives removal: a field the applier owned before, no longer applies, and nobody else owns, is
deleted. That is what makes helm's client-side → server-side migration (managedFields rewritten by a
json-patch) remove stale fields. Field sets are sets of paths; a path is a tuple of FieldsV1 keys
(``f:spec``, ``k:{"name":"web"}``); a list item's own path stands for its ``"."`` entry.
List-map keys are single fields (see `patching.merge_key`); other lists are atomic.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from bot.sim.patching import merge_key
from bot.sim.store import ApiError

Path = tuple[str, ...]
_IGNORED_TOP = {"apiVersion", "kind", "status"}
_IGNORED_META = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
}


def _names(path: Path) -> tuple[str, ...]:
    """Field names along a path (list-item keys skipped), for merge-key lookups."""
    return tuple(p[2:] for p in path if p.startswith("f:"))


def _item_key(key: str, item: dict) -> str:
    return "k:" + json.dumps({key: item.get(key)}, separators=(",", ":"))


# ---- objects and field sets -------------------------------------------------------------------------------


def field_set(obj: dict, *, status: bool = False) -> set[Path]:
    """The leaf paths an object sets (what an applier of `obj` owns)."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key == "status" and status:
            _walk_value(value, ("f:status",), out)
        elif key == "metadata" and isinstance(value, dict):
            for mkey, mval in value.items():
                if mkey not in _IGNORED_META:
                    _walk_value(mval, ("f:metadata", f"f:{mkey}"), out)
        elif key not in _IGNORED_TOP and key != "metadata":
            _walk_value(value, (f"f:{key}",), out)
    return out


def _walk_value(value: Any, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _walk_value(sub, (*path, f"f:{key}"), out)
        return
    key = merge_key(_names(path)) if isinstance(value, list) else None
    if key and value and all(isinstance(x, dict) for x in value):
        for item in value:
            item_path = (*path, _item_key(key, item))
            out.add(item_path)
            for field, sub in item.items():
                _walk_value(sub, (*item_path, f"f:{field}"), out)
        return
    out.add(path)


def fields_to_set(fields: dict, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in (fields or {}).items():
        if key == ".":
            out.add(prefix)
        elif not sub:
            out.add((*prefix, key))
        else:
            out |= fields_to_set(sub, (*prefix, key))
    return out


def set_to_fields(paths: Iterable[Path]) -> dict:
    root: dict = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
        if path and path[-1].startswith("k:"):
            node["."] = {}
    return root


def _lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    cur = obj
    for part in path:
        if part.startswith("f:") and isinstance(cur, dict) and part[2:] in cur:
            cur = cur[part[2:]]
        elif part.startswith("k:") and isinstance(cur, list):
            ((key, want),) = json.loads(part[2:]).items()
            cur = next((x for x in cur if isinstance(x, dict) and x.get(key) == want), None)
            if cur is None:
                return False, None
        else:
            return False, None
    return True, cur


def _delete(obj: dict, path: Path) -> None:
    found, parent = _lookup(obj, path[:-1])
    if not found:
        return
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        ((key, want),) = json.loads(last[2:]).items()
        parent[:] = [x for x in parent if not (isinstance(x, dict) and x.get(key) == want)]
    # Prune containers this removal emptied (but not the top-level sections).
    for depth in range(len(path) - 1, 1, -1):
        found, node = _lookup(obj, path[:depth])
        if found and node in ({}, []):
            _delete_one(obj, path[:depth])
        else:
            break


def _delete_one(obj: dict, path: Path) -> None:
    found, parent = _lookup(obj, path[:-1])
    if found and isinstance(parent, dict) and path[-1].startswith("f:"):
        parent.pop(path[-1][2:], None)


# ---- managedFields ----------------------------------------------------------------------------------------


def _entries(obj: dict | None) -> list[dict]:
    return copy.deepcopy(((obj or {}).get("metadata") or {}).get("managedFields") or [])


def _entry(
    manager: str, operation: str, api_version: str, now: str, paths: set[Path], subresource: str | None
) -> dict:
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": set_to_fields(paths),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def _same(entry: dict, manager: str, operation: str, subresource: str | None) -> bool:
    return (entry.get("manager"), entry.get("operation"), entry.get("subresource")) == (
        manager,
        operation,
        subresource,
    )


def _rebuild(entries: list[dict], owned: list[set[Path]]) -> list[dict]:
    out = []
    for entry, paths in zip(entries, owned, strict=True):
        if paths:
            out.append({**entry, "fieldsV1": set_to_fields(paths)})
    return out


def apply(live: dict | None, applied: dict, *, manager: str, force: bool, now: str) -> dict:
    """The object after `manager` applies `applied` to `live` (None: create). Raises 409 on conflicts."""
    if not isinstance(applied, dict) or not applied.get("kind") or not applied.get("apiVersion"):
        raise ApiError(400, "BadRequest", "apply patch must be an object with apiVersion and kind")
    api_version = applied["apiVersion"]
    new_owned = field_set(applied)
    entries = _entries(live)
    owned = [fields_to_set(e.get("fieldsV1") or {}) for e in entries]
    mine = next((i for i, e in enumerate(entries) if _same(e, manager, "Apply", None)), None)
    previous = owned[mine] if mine is not None else set()
    base = copy.deepcopy(live) if live is not None else {}

    conflicts: list[tuple[str, Path]] = []
    for i, (entry, paths) in enumerate(zip(entries, owned, strict=True)):
        if i == mine or entry.get("subresource") == "status":
            continue
        for path in sorted(new_owned & paths):
            if path[-1].startswith("k:"):  # co-owning a list item's existence never conflicts
                continue
            if _lookup(base, path) != _lookup(applied, path):
                conflicts.append((entry.get("manager", ""), path))
                if force:
                    paths.discard(path)
    if conflicts and not force:
        raise _conflict_error(conflicts, entries, api_version)

    result = _merge(base, applied, ())
    others: set[Path] = set().union(*(p for i, p in enumerate(owned) if i != mine)) if owned else set()
    for path in sorted(previous - new_owned - others, key=len):
        _delete(result, path)

    entry = _entry(manager, "Apply", api_version, now, new_owned, None)
    if mine is not None:
        entries[mine], owned[mine] = entry, new_owned
    else:
        entries.append(entry)
        owned.append(new_owned)
    result.setdefault("metadata", {})["managedFields"] = _rebuild(entries, owned)
    return result


def _conflict_error(conflicts: list[tuple[str, Path]], entries: list[dict], api_version: str) -> ApiError:
    def dotted(path: Path) -> str:
        return "".join(f".{p[2:]}" if p.startswith("f:") else f"[{p[2:]}]" for p in path)

    subs = {e.get("manager"): e.get("subresource") for e in entries}
    causes, lines = [], []
    for mgr, path in conflicts:
        sub = f' with subresource "{subs[mgr]}"' if subs.get(mgr) else ""
        message = f'conflict with "{mgr}"{sub} using {api_version}'
        causes.append({"type": "FieldManagerConflict", "message": message, "field": dotted(path)})
        lines.append(f"{message}: {dotted(path)}")
    plural = "conflict" if len(lines) == 1 else "conflicts"
    summary = f"Apply failed with {len(lines)} {plural}: " + "\n".join(lines)
    return ApiError(409, "Conflict", summary, details={"causes": causes})


def _merge(live: Any, applied: Any, path: Path) -> Any:
    if isinstance(applied, dict) and isinstance(live, dict) and applied:
        out = copy.deepcopy(live)
        for key, value in applied.items():
            if path == () and key == "status":
                continue
            out[key] = _merge(out.get(key), value, (*path, f"f:{key}"))
        return out
    key = merge_key(_names(path)) if isinstance(applied, list) else None
    if key and isinstance(live, list) and all(isinstance(x, dict) for x in applied):
        by_key = {json.dumps(x.get(key)): x for x in live if isinstance(x, dict)}
        merged = [_merge(by_key.pop(json.dumps(x.get(key)), None), x, path) for x in applied]
        return merged + [x for x in live if isinstance(x, dict) and json.dumps(x.get(key)) in by_key]
    return copy.deepcopy(applied)


def record_update(
    old: dict | None, new: dict, *, manager: str, now: str, subresource: str | None = None
) -> None:
    """Give `manager` (operation Update) the fields a non-apply write changed; sets new's managedFields."""
    entries = _entries(old)
    owned = [fields_to_set(e.get("fieldsV1") or {}) for e in entries]
    status = subresource == "status"
    new_paths = field_set(new, status=status)
    old_paths = field_set(old, status=status) if old else set()
    changed = {p for p in new_paths if _lookup(old or {}, p) != _lookup(new, p)}
    gone = old_paths - new_paths
    for paths in owned:
        paths -= changed | gone
    api_version = new.get("apiVersion", "v1")
    mine = next((i for i, e in enumerate(entries) if _same(e, manager, "Update", subresource)), None)
    if changed:
        if mine is None:
            entries.append(_entry(manager, "Update", api_version, now, changed, subresource))
            owned.append(changed)
        else:
            owned[mine] |= changed
            entries[mine]["time"] = now
    new.setdefault("metadata", {})["managedFields"] = _rebuild(entries, owned)
