"""The object store: CRUD with apiserver bookkeeping, deletion/GC, and the event log that watches replay.

Objects are plain dicts as the API returns them. Every write replaces the stored dict (never mutates it), so
the event history can share them; callers always get deep copies. See docs/sim.md "Store interface".
"""

from __future__ import annotations

import builtins
import copy
import itertools
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.sim import registry
from bot.sim.defaults import apply_defaults, keep_allocated

Listener = Callable[[str, str, dict], None]
Check = Callable[[dict], None]
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class ApiError(Exception):
    """An error the server turns into a metav1 Status response."""

    def __init__(self, code: int, reason: str, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            out["details"] = self.details
        return out


def not_found(key: str, name: str) -> ApiError:
    group, _, plural = key.partition("/")
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    what = f"{plural}.{group}" if group else plural
    return ApiError(404, "NotFound", f'{what} "{name}" not found', details=details)


def conflict(key: str, name: str, message: str) -> ApiError:
    group, _, plural = key.partition("/")
    what = f"{plural}.{group}" if group else plural
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {what} "{name}": {message}',
                    details={"name": name, "group": group, "kind": plural})


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def fmt_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_micro(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: str  # storage key ("/events" for both Event views)
    obj: dict  # shared, never mutate
    old: dict | None = None  # the object before a MODIFIED (selector watches need both), shared


class LogBook:
    """Container logs, kept apart from objects (the kubelet controller writes, `pods/log` reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str, str], list[str]] = {}
        self._previous: dict[tuple[str, str, str], list[str]] = {}

    def append(self, namespace: str, pod: str, container: str, line: str) -> None:
        with self._lock:
            self._current.setdefault((namespace, pod, container), []).append(line)

    def restart(self, namespace: str, pod: str, container: str) -> None:
        with self._lock:
            key = (namespace, pod, container)
            self._previous[key] = self._current.pop(key, [])
            self._current[key] = []

    def read(self, namespace: str, pod: str, container: str, *, previous: bool = False,
             tail: int | None = None) -> list[str] | None:
        with self._lock:
            lines = (self._previous if previous else self._current).get((namespace, pod, container))
            if lines is None:
                return None
            return list(lines[-tail:] if tail is not None and tail > 0 else ([] if tail == 0 else lines))

    def drop_pod(self, namespace: str, pod: str) -> None:
        with self._lock:
            for book in (self._current, self._previous):
                for key in [k for k in book if k[:2] == (namespace, pod)]:
                    del book[key]

    def clear(self) -> None:
        with self._lock:
            self._current.clear()
            self._previous.clear()


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _without_rv(obj: dict) -> dict:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


class Store:
    """Thread-safe object store with a global resourceVersion counter and a bounded event history."""

    def __init__(self, *, clock: Clock | None = None, pod_grace_seconds: float = 1.0, history: int = 5000):
        self.lock = threading.RLock()
        self.logs = LogBook()
        self.clock: Clock = clock or SystemClock()
        self.pod_grace_seconds = pod_grace_seconds
        self._changed = threading.Condition(self.lock)
        self._history: deque[WatchEvent] = deque(maxlen=history)
        self._listeners: list[Listener] = []
        self._listeners.append(self._serve_crds)
        self._timers: set[threading.Timer] = set()
        self._rv = 0
        self.reset()

    # ---- bookkeeping ---------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every object (a restart losing state). The RV counter stays monotonic; old RVs get 410."""
        with self.lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            for crd in getattr(self, "_objects", {}).get(registry.CRD_KEY, {}).values():
                registry.serve_crd("DELETED", crd)
            self._objects: dict[str, dict[tuple[str, str], dict]] = {}
            self._history.clear()
            # Watches from an RV below the floor get 410; after a reset even the last RV is stale.
            self._floor = self._rv + 1 if self._rv else 0
            self._ips = itertools.count(10)
            self._node_ports = itertools.count(30000)
            self._event_index: dict[tuple, tuple[str, str]] = {}
            self._grace_over: set[str] = set()  # pods past their grace period (removed once unfinalized)
            self.logs.clear()
            for ns in INITIAL_NAMESPACES:
                self.create("/namespaces", {"metadata": {"name": ns}})
            self._changed.notify_all()

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def _now(self) -> datetime:
        return self.clock.now()

    def _bump(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _emit(self, etype: str, key: str, obj: dict, old: dict | None = None) -> None:
        self._history.append(WatchEvent(self._rv, etype, key, obj, old))
        if len(self._history) == self._history.maxlen:
            self._floor = max(self._floor, self._history[0].rv - 1)
        self._changed.notify_all()
        for fn in list(self._listeners):
            fn(etype, key, copy.deepcopy(obj))

    def add_listener(self, fn: Listener) -> None:
        with self.lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self.lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _serve_crds(self, event_type: str, key: str, obj: dict) -> None:
        """A CRD's kind is served while it exists; deleting it deletes its objects, as on a real server."""
        if key != registry.CRD_KEY:
            return
        registry.serve_crd(event_type, obj)
        served = registry.resource_from_crd(obj)
        if event_type == "DELETED" and served is not None and served.key not in registry.BY_KEY:
            self._objects.pop(served.key, None)

    @staticmethod
    def storage_key(key: str) -> str:
        return registry.STORAGE_ALIASES.get(key, key)

    def _bucket(self, key: str) -> dict[tuple[str, str], dict]:
        if key not in registry.BY_KEY:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({key})")
        return self._objects.setdefault(self.storage_key(key), {})

    @staticmethod
    def _ns(key: str, namespace: str | None) -> str:
        return (namespace or "") if registry.resource(key).namespaced else ""

    # ---- reads ---------------------------------------------------------------------------------------------

    def get(self, key: str, namespace: str | None, name: str) -> dict | None:
        with self.lock:
            obj = self._bucket(key).get((self._ns(key, namespace), name))
            return self._view(key, copy.deepcopy(obj)) if obj is not None else None

    def list(self, key: str, namespace: str | None = None, *,
             labels: dict[str, str] | None = None) -> builtins.list[dict]:
        return self.list_with_rv(key, namespace, labels=labels)[0]

    def list_with_rv(self, key: str, namespace: str | None = None, *,
                     labels: dict[str, str] | None = None) -> tuple[builtins.list[dict], int]:
        """Objects sorted by (namespace, name), and the RV the list is consistent with."""
        with self.lock:
            bucket = self._bucket(key)
            out = []
            for (ns, _name), obj in sorted(bucket.items()):
                if namespace and ns != namespace:
                    continue
                obj_labels = obj["metadata"].get("labels") or {}
                if labels and any(obj_labels.get(k) != v for k, v in labels.items()):
                    continue
                out.append(self._view(key, copy.deepcopy(obj)))
            return out, self._rv

    def _view(self, key: str, obj: dict) -> dict:
        if key == "events.k8s.io/events":
            return event_to_v1(obj)
        return obj

    def events_after(self, rv: int, key: str | None = None) -> builtins.list[WatchEvent]:
        """Events with RV > rv (optionally for one resource, converted to its view); 410 Gone if too old."""
        with self.lock:
            if rv < self._floor:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({self._floor + 1})")
            storage = self.storage_key(key) if key else None
            out = []
            for ev in self._history:
                if ev.rv <= rv or (storage and ev.key != storage):
                    continue
                if key == "events.k8s.io/events":
                    old = event_to_v1(copy.deepcopy(ev.old)) if ev.old is not None else None
                    ev = WatchEvent(ev.rv, ev.type, key, event_to_v1(copy.deepcopy(ev.obj)), old)
                out.append(ev)
            return out

    def wait_for_change(self, rv: int, timeout: float) -> bool:
        """Block until the store's RV passes `rv` (or it was reset), up to `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._rv > rv or self._floor > rv, timeout=timeout)

    # ---- writes --------------------------------------------------------------------------------------------

    def _defaults(self, key: str, obj: dict, *, creating: bool) -> None:
        apply_defaults(self.storage_key(key), obj, creating=creating,
                       allocate_ip=self._allocate_ip,
                       allocate_node_port=lambda: next(self._node_ports), now=fmt_time(self._now()))

    def _allocate_ip(self) -> str:
        n = next(self._ips)
        return f"10.96.{n // 250}.{n % 250 + 1}"

    def create(self, key: str, obj: dict, *, dry_run: bool = False, check: Check | None = None) -> dict:
        """`check` sees the defaulted object before it is stored (the server's validation) and may raise."""
        res = registry.resource(key)
        if key == "events.k8s.io/events":
            return event_to_v1(self.create("/events", event_from_v1(obj), dry_run=dry_run))
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        with self.lock:
            bucket = self._bucket(key)
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise ApiError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value",
                                   details={"kind": res.kind, "causes": [
                                       {"reason": "FieldValueRequired", "message": "Required value",
                                        "field": "metadata.name"}]})
                meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
            name = meta["name"]
            if res.namespaced:
                ns = meta.get("namespace") or "default"
                meta["namespace"] = ns
                namespace_obj = self._objects.get("/namespaces", {}).get(("", ns))
                if namespace_obj is None:
                    raise not_found("/namespaces", ns)
                if namespace_obj["metadata"].get("deletionTimestamp"):
                    raise ApiError(403, "Forbidden", f'{res.plural} "{name}" is forbidden: unable to create '
                                   f"new content in namespace {ns} because it is being terminated")
            else:
                meta.pop("namespace", None)
                ns = ""
            if (ns, name) in bucket:
                group = f".{res.group}" if res.group else ""
                raise ApiError(409, "AlreadyExists", f'{res.plural}{group} "{name}" already exists',
                               details={"name": name, "group": res.group, "kind": res.plural})
            obj["apiVersion"], obj["kind"] = res.api_version, res.kind
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = fmt_time(self._now())
            if res.generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(field, None)
            self._defaults(key, obj, creating=True)
            if check is not None:
                check(obj)
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return obj
            meta["resourceVersion"] = self._bump()
            bucket[(ns, name)] = obj
            self._emit("ADDED", key, obj)
            if key == "/namespaces":
                self.create("/serviceaccounts", {"metadata": {"name": "default", "namespace": name}})
            return copy.deepcopy(obj)

    def update(self, key: str, obj: dict, *, subresource: str | None = None, dry_run: bool = False,
               check: Check | None = None) -> dict:
        if key == "events.k8s.io/events":
            return event_to_v1(self.update("/events", event_from_v1(obj), subresource=subresource))
        res = registry.resource(key)
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        with self.lock:
            ns = self._ns(key, meta.get("namespace"))
            current = self._bucket(key).get((ns, name))
            if current is None:
                raise not_found(key, name)
            rv = meta.get("resourceVersion")
            if rv and str(rv) != current["metadata"]["resourceVersion"]:
                raise conflict(key, name, "the object has been modified; please apply your changes to the "
                                          "latest version and try again")
            if subresource == "status":
                new = copy.deepcopy(current)
                if "status" in obj:
                    new["status"] = copy.deepcopy(obj["status"])
            else:
                new = copy.deepcopy(obj)
                new["apiVersion"], new["kind"] = res.api_version, res.kind
                new_meta = new.setdefault("metadata", {})
                cur_meta = current["metadata"]
                for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                              "deletionGracePeriodSeconds", "namespace"):
                    if field in cur_meta:
                        new_meta[field] = cur_meta[field]
                    else:
                        new_meta.pop(field, None)
                if "managedFields" not in new_meta and "managedFields" in cur_meta:
                    new_meta["managedFields"] = copy.deepcopy(cur_meta["managedFields"])
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
                keep_allocated(self.storage_key(key), new, current)
                self._defaults(key, new, creating=False)
                if res.generation and _spec_part(new) != _spec_part(current):
                    new_meta["generation"] = int(cur_meta.get("generation", 1)) + 1
                if check is not None:
                    check(new)
            return self._write(key, ns, name, current, new, dry_run=dry_run)

    def _write(self, key: str, ns: str, name: str, current: dict, new: dict, *,
               dry_run: bool = False) -> dict:
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current or dry_run:
            return copy.deepcopy(new)
        new["metadata"]["resourceVersion"] = self._bump()
        self._bucket(key)[(ns, name)] = new
        self._emit("MODIFIED", key, new, current)
        self._maybe_finalize(key, ns, name)
        return copy.deepcopy(new)

    def mutate(self, key: str, namespace: str | None, name: str, fn: Callable[[dict], None], *,
               subresource: str | None = None) -> dict | None:
        with self.lock:
            current = self._bucket(key).get((self._ns(key, namespace), name))
            if current is None:
                return None
            obj = copy.deepcopy(current)
            fn(obj)
            obj["metadata"].pop("resourceVersion", None)
            return self.update(key, obj, subresource=subresource)

    # ---- deletion and garbage collection -------------------------------------------------------------------

    def delete(self, key: str, namespace: str | None, name: str, *, propagation: str = "Background",
               grace_seconds: float | None = None, dry_run: bool = False,
               preconditions: dict | None = None) -> dict | None:
        """Start deleting; returns the object as it now is (with deletionTimestamp) or as it was removed."""
        with self.lock:
            ns = self._ns(key, namespace)
            current = self._bucket(key).get((ns, name))
            if current is None:
                return None
            for field in ("uid", "resourceVersion"):
                want = (preconditions or {}).get(field)
                if want and want != current["metadata"].get(field):
                    raise conflict(key, name, f"Precondition failed: {field}: {want}")
            if dry_run:
                return copy.deepcopy(current)
            if current["metadata"].get("deletionTimestamp"):
                if self.storage_key(key) == "/pods" and grace_seconds == 0:
                    # force delete: the grace period is over, finalizers still hold the pod
                    self._grace_over.add(current["metadata"]["uid"])
                    self._maybe_finalize(key, ns, name, grace_over=True)
                    left = self._bucket(key).get((ns, name))
                    return copy.deepcopy(left) if left is not None else copy.deepcopy(current)
                return copy.deepcopy(current)
            if propagation == "Orphan":
                self._orphan_dependents(current["metadata"]["uid"])
            storage = self.storage_key(key)
            if storage == "/pods":
                grace = self.pod_grace_seconds if grace_seconds is None else grace_seconds
            else:
                grace = 0
            finalizers = list(current["metadata"].get("finalizers") or [])
            if propagation == "Foreground" and self._dependents(current["metadata"]["uid"]):
                finalizers.append("foregroundDeletion")
            if storage == "/namespaces":
                return self._delete_namespace(name, current)
            if grace <= 0 and not finalizers:
                removed = self._remove(key, ns, name)
                return removed
            new = copy.deepcopy(current)
            new["metadata"]["deletionTimestamp"] = fmt_time(self._now() + timedelta(seconds=grace))
            new["metadata"]["deletionGracePeriodSeconds"] = int(grace)
            new["metadata"]["finalizers"] = finalizers
            if not finalizers:
                del new["metadata"]["finalizers"]
            if storage == "/pods" and grace <= 0:
                self._grace_over.add(new["metadata"]["uid"])
            result = self._write(key, ns, name, current, new)
            if grace > 0:
                self._schedule(grace, key, ns, name, new["metadata"]["uid"])
            if "foregroundDeletion" in finalizers:
                for dep_key, dep in self._dependents(current["metadata"]["uid"]):
                    self.delete(dep_key, dep["metadata"].get("namespace"), dep["metadata"]["name"],
                                propagation="Foreground")
            return result

    def _schedule(self, grace: float, key: str, ns: str, name: str, uid: str) -> None:
        def fire() -> None:
            with self.lock:
                self._timers.discard(timer)
                obj = self._bucket(key).get((ns, name))
                if obj is not None and obj["metadata"]["uid"] == uid:
                    self._maybe_finalize(key, ns, name, grace_over=True)

        timer = threading.Timer(grace, fire)
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _maybe_finalize(self, key: str, ns: str, name: str, *, grace_over: bool = False) -> None:
        obj = self._bucket(key).get((ns, name))
        if obj is None or not obj["metadata"].get("deletionTimestamp") or obj["metadata"].get("finalizers"):
            return
        if key == "/namespaces":  # goes once empty (_maybe_remove_namespace)
            return
        if grace_over:
            self._grace_over.add(obj["metadata"]["uid"])
        elif self.storage_key(key) == "/pods" and obj["metadata"]["uid"] not in self._grace_over:
            return
        self._remove(key, ns, name)

    def _remove(self, key: str, ns: str, name: str) -> dict:
        obj = copy.deepcopy(self._bucket(key).pop((ns, name)))
        obj["metadata"]["resourceVersion"] = self._bump()
        self._emit("DELETED", key, obj)
        uid = obj["metadata"]["uid"]
        if self.storage_key(key) == "/pods":
            self.logs.drop_pod(ns, name)
            self._grace_over.discard(uid)
        for dep_key, dep in self._dependents(uid):  # background GC: owner is gone
            if not any(ref.get("uid") != uid for ref in dep["metadata"]["ownerReferences"]):
                self.delete(dep_key, dep["metadata"].get("namespace"), dep["metadata"]["name"])
        for ref in obj["metadata"].get("ownerReferences") or []:  # a foreground owner may be done now
            self._release_foreground_owner(ref.get("uid", ""))
        if ns and registry.resource(key).namespaced:
            self._maybe_remove_namespace(ns)
        return copy.deepcopy(obj)

    def _release_foreground_owner(self, uid: str) -> None:
        for owner_key, owner in self._all():
            meta = owner["metadata"]
            if meta["uid"] == uid and "foregroundDeletion" in (meta.get("finalizers") or []):
                if not self._dependents(uid):
                    self.mutate(owner_key, meta.get("namespace"), meta["name"],
                                lambda o: o["metadata"]["finalizers"].remove("foregroundDeletion"))
                return

    def _all(self) -> Iterable[tuple[str, dict]]:
        for key, bucket in list(self._objects.items()):
            for obj in list(bucket.values()):
                yield key, obj

    def _dependents(self, uid: str) -> builtins.list[tuple[str, dict]]:
        return [(key, obj) for key, obj in self._all()
                if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])]

    def _orphan_dependents(self, uid: str) -> None:
        for key, dep in self._dependents(uid):
            def strip(o: dict) -> None:
                refs = [r for r in o["metadata"]["ownerReferences"] if r.get("uid") != uid]
                if refs:
                    o["metadata"]["ownerReferences"] = refs
                else:
                    del o["metadata"]["ownerReferences"]
            self.mutate(key, dep["metadata"].get("namespace"), dep["metadata"]["name"], strip)

    def _delete_namespace(self, name: str, current: dict) -> dict:
        """Terminating while its contents go (pods gracefully, finalizers honoured), removed once empty."""
        new = copy.deepcopy(current)
        new["metadata"]["deletionTimestamp"] = fmt_time(self._now())
        new["status"] = {"phase": "Terminating"}
        result = self._write("/namespaces", "", name, current, new)
        for key, bucket in list(self._objects.items()):
            if registry.resource(key).namespaced:
                for ns, obj_name in [k for k in bucket if k[0] == name]:
                    obj = bucket.get((ns, obj_name))
                    if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                        self.delete(key, ns, obj_name)
        self._maybe_remove_namespace(name)
        left = self._objects["/namespaces"].get(("", name))
        return copy.deepcopy(left) if left is not None else result

    def _maybe_remove_namespace(self, name: str) -> None:
        ns_obj = self._objects.get("/namespaces", {}).get(("", name))
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
            return
        for key, bucket in self._objects.items():
            if registry.resource(key).namespaced and any(k[0] == name for k in bucket):
                return
        self._remove("/namespaces", "", name)

    # ---- events --------------------------------------------------------------------------------------------

    def record_event(self, involved: dict, reason: str, message: str, *, type: str = "Normal",
                     component: str = "kubelet", field_path: str | None = None, new_style: bool = False,
                     action: str | None = None) -> None:
        """An Event about `involved`, aggregated like a real cluster.

        `field_path` names the container (`spec.containers{web}`), as the kubelet does. `new_style` writes it
        the way events.k8s.io/v1 clients (the 1.35 scheduler) do: `eventTime` + `action`, no first/last
        timestamps, repeats counted in `series` instead of `count`.
        """
        meta = involved.get("metadata", {})
        ref = {"apiVersion": involved.get("apiVersion", "v1"), "kind": involved.get("kind", ""),
               "name": meta.get("name", ""), "namespace": meta.get("namespace", ""),
               "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
        if field_path:
            ref["fieldPath"] = field_path
        ns = meta.get("namespace") or "default"
        now = self._now()
        agg = (ref["uid"], ref["kind"], ref["name"], ns, reason, message, type, component, field_path or "")
        with self.lock:
            existing = self._event_index.get(agg)
            if existing and self.get("/events", *existing) is not None:
                def bump(ev: dict) -> None:
                    if new_style:
                        series = ev.get("series") or {"count": 1}
                        ev["series"] = {"count": int(series.get("count", 1)) + 1,
                                        "lastObservedTime": fmt_micro(now)}
                    else:
                        ev["count"] = int(ev.get("count", 1)) + 1
                        ev["lastTimestamp"] = fmt_time(now)
                self.mutate("/events", existing[0], existing[1], bump)
                return
            name = f"{ref['name']}.{secrets.token_hex(8)}"
            event: dict[str, Any] = {"metadata": {"name": name, "namespace": ns},
                     "involvedObject": ref, "reason": reason, "message": message, "type": type,
                     "source": {"component": component}, "reportingComponent": component,
                     "reportingInstance": component}
            if new_style:
                event.update({"eventTime": fmt_micro(now), "action": action or reason, "source": {},
                              "firstTimestamp": None, "lastTimestamp": None})
            else:
                event.update({"firstTimestamp": fmt_time(now), "lastTimestamp": fmt_time(now), "count": 1})
            created = self.create("/events", event)
            self._event_index[agg] = (ns, created["metadata"]["name"])

    # ---- persistence (optional state file) -----------------------------------------------------------------

    def snapshot(self) -> dict:
        with self.lock:
            return {"resourceVersion": self._rv,
                    "objects": {key: list(bucket.values()) for key, bucket in self._objects.items()}}

    def restore(self, state: dict) -> None:
        with self.lock:
            self.reset()
            self._objects = {
                key: {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objs}
                for key, objs in state["objects"].items()}
            for crd in self._objects.get(registry.CRD_KEY, {}).values():
                registry.serve_crd("ADDED", crd)
            self._rv = max(self._rv, int(state.get("resourceVersion", 0))) + 1
            self._floor = self._rv
            self._changed.notify_all()


# ---- core/v1 Event <-> events.k8s.io/v1 Event ------------------------------------------------------------

def event_to_v1(ev: dict) -> dict:
    meta = ev.get("metadata", {})
    out: dict[str, Any] = {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta,
        "eventTime": ev.get("eventTime") or _micro(ev.get("firstTimestamp") or meta.get("creationTimestamp")),
        "reason": ev.get("reason"), "note": ev.get("message"), "type": ev.get("type"),
        "regarding": ev.get("involvedObject", {}), "action": ev.get("action") or ev.get("reason"),
        "reportingController": ev.get("reportingComponent") or ev.get("source", {}).get("component", ""),
        "reportingInstance": ev.get("reportingInstance") or "",
        "deprecatedSource": ev.get("source", {}), "deprecatedFirstTimestamp": ev.get("firstTimestamp"),
        "deprecatedLastTimestamp": ev.get("lastTimestamp"), "deprecatedCount": ev.get("count"),
    }
    if ev.get("related"):
        out["related"] = ev["related"]
    if ev.get("series"):
        out["series"] = ev["series"]
    return {k: v for k, v in out.items() if v is not None}


def event_from_v1(ev: dict) -> dict:
    return {k: v for k, v in {
        "metadata": ev.get("metadata", {}), "involvedObject": ev.get("regarding", {}),
        "reason": ev.get("reason"),
        "message": ev.get("note"), "type": ev.get("type"), "eventTime": ev.get("eventTime"),
        "reportingComponent": ev.get("reportingController"), "reportingInstance": ev.get("reportingInstance"),
        "action": ev.get("action"), "related": ev.get("related"),
        "source": ev.get("deprecatedSource") or {"component": ev.get("reportingController", "")},
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": ev.get("deprecatedCount"),
    }.items() if v is not None}


def _micro(ts: str | None) -> str | None:
    return ts.replace("Z", ".000000Z") if ts else None
