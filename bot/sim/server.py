"""HTTP front of the stand-in: discovery, CRUD, patches, watches, subresources, Status errors.

Threaded stdlib server speaking HTTP/1.1 with hand-written chunked encoding for watches and log follows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from bot.sim import protobuf, registry, ssa, tables, validation
from bot.sim.faults import Faults
from bot.sim.patching import json_patch, merge_patch, strategic_merge
from bot.sim.registry import Resource
from bot.sim.requestlog import ApiRequest, RequestLog, user_of
from bot.sim.selectors import parse_field_selector, parse_label_selector, selector_string
from bot.sim.store import ApiError, Store, fmt_time, not_found

WATCH_BOOKMARK_SECONDS = 5.0
DEFAULT_WATCH_SECONDS = 1800.0


class Route:
    """A parsed resource URL."""

    def __init__(self, res: Resource, version: str, namespace: str | None, name: str | None, sub: str | None):
        self.res, self.version, self.namespace, self.name, self.sub = res, version, namespace, name, sub

    @property
    def key(self) -> str:
        return self.res.key

    @property
    def api_version(self) -> str:
        return f"{self.res.group}/{self.version}" if self.res.group else self.version


def parse_route(path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and registry.find(group, version, rest[2]):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    res = registry.find(group, version, rest[0])
    if res is None or (namespace is not None and not res.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in res.subresources:
        return None
    return Route(res, version, namespace, name, sub)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        store: Store,
        faults: Faults,
        admin: Callable[[str, str, dict], Any] | None = None,
        bookmark_seconds: float = WATCH_BOOKMARK_SECONDS,
        requests: RequestLog | None = None,
    ):
        self.store, self.faults, self.admin = store, faults, admin
        self.requests = requests or RequestLog()
        self.bookmark_seconds = bookmark_seconds
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        self.active_watches = 0  # open watch streams (tests poll this to know a client is watching)
        super().__init__(address, Handler)

    def close_connections(self) -> None:
        self.stopping.set()
        with self.conn_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


def resource_verb(method: str, route: Route, q: dict[str, str]) -> str:
    """The authorization verb of a resource request, as the API server derives it."""
    if method == "GET":
        return "watch" if _truthy(q.get("watch")) else ("get" if route.name else "list")
    if method == "DELETE":
        return "delete" if route.name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]


def _selected_name(q: dict[str, str]) -> str:
    """`fieldSelector=metadata.name=X` names the object of a list/watch (RBAC resourceNames apply)."""
    for term in (q.get("fieldSelector") or "").split(","):
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and key.strip() == "metadata.name" and not key.endswith("!"):
            return value.strip()
    return ""


def api_request(method: str, path: str, q: dict[str, str], route: Route | None, headers: Any) -> ApiRequest:
    user = user_of(headers.get("Authorization"), headers.get("Impersonate-User"))
    agent = headers.get("User-Agent") or ""
    if route is None:
        return ApiRequest(user, method.lower(), path=path, user_agent=agent)
    verb = resource_verb(method, route, q)
    name = route.name or (_selected_name(q) if verb in ("list", "watch") else "")
    return ApiRequest(user, verb, route.res.group, route.version, route.res.plural, route.sub or "",
                      route.namespace or "", name or "", path, agent)


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.conn_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    # ---- plumbing ----------------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self.server.store

    def _send(
        self,
        code: int,
        body: Any,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = (
            body
            if isinstance(body, bytes)
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for text in self._warnings:
            self.send_header("Warning", f"299 - {json.dumps(text)}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, err: ApiError) -> None:
        headers = {}
        retry = (err.details or {}).get("retryAfterSeconds")
        if retry is not None:
            headers["Retry-After"] = str(retry)
        self._send(err.code, err.status(), headers=headers)

    def _body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return chunks
                chunks += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _decode(self, raw: bytes) -> Any:
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            return protobuf.decode(raw)
        if not raw.strip():
            return None
        try:
            if ctype in ("application/apply-patch+yaml", "application/yaml"):
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, "BadRequest", f"error decoding request body: {exc}") from None

    def _wants_table(self) -> bool:
        return "as=Table" in (self.headers.get("Accept") or "")

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _manager(self, q: dict[str, str]) -> str:
        if q.get("fieldManager"):
            return q["fieldManager"]
        agent = self.headers.get("User-Agent") or "unknown"
        return agent.split("/")[0] or "unknown"

    # ---- entry points ------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        q = _query(self.path)
        self._warnings: list[str] = []
        self._request: ApiRequest | None = None
        if self.server.requests.active and not url.path.startswith("/_sim/"):
            route = parse_route(url.path)   # None: discovery, OpenAPI, /version, health (non-resource)
            self._request = api_request(method, url.path, q, route, self.headers)
            self.server.requests.emit(self._request)
        try:
            if url.path.startswith("/_sim/"):
                self._admin(method, url.path)
            elif method == "GET" and self._meta_get(url.path):
                pass
            else:
                route = parse_route(url.path)
                if route is None:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                self._resource(method, route, q)
        except ApiError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the stand-in: report it like an apiserver would
            self._error(ApiError(500, "InternalError", f"Internal error occurred: {exc!r}"))

    def _meta_get(self, path: str) -> bool:
        path = path.rstrip("/") or "/"
        doc: Any = None
        if path == "/version":
            doc = registry.version_info()
        elif path == "/api":
            doc = registry.api_versions()
        elif path == "/apis":
            doc = registry.api_group_list()
        elif path in ("/healthz", "/readyz", "/livez"):
            self._send(200, "ok", content_type="text/plain")
            return True
        elif path == "/openapi/v3":
            doc = registry.openapi_index()
        elif path.startswith("/openapi/v3/"):
            parts = path[len("/openapi/v3/") :].split("/")
            gv = (
                ("", parts[1])
                if parts[0] == "api" and len(parts) == 2
                else ((parts[1], parts[2]) if parts[0] == "apis" and len(parts) == 3 else None)
            )
            doc = registry.openapi_gv_doc(*gv) if gv else None
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        else:
            parts = path.strip("/").split("/")
            if parts[0] == "api" and len(parts) == 2:
                doc = registry.resource_list("", parts[1])
            elif parts[0] == "apis" and len(parts) == 3:
                doc = registry.resource_list(parts[1], parts[2])
            elif parts[0] == "apis" and len(parts) == 2:
                versions = registry.groups().get(parts[1])
                if versions:
                    gvs = [{"groupVersion": f"{parts[1]}/{v}", "version": v} for v in versions]
                    doc = {
                        "kind": "APIGroup",
                        "apiVersion": "v1",
                        "name": parts[1],
                        "versions": gvs,
                        "preferredVersion": gvs[0],
                    }
            else:
                return False
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._send(200, doc)
        return True

    def _admin(self, method: str, path: str) -> None:
        if self.server.admin is None:
            raise ApiError(404, "NotFound", "no admin interface")
        raw = self._body()
        body = json.loads(raw) if raw.strip() else {}
        try:
            result = self.server.admin(method, path, body)
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "BadRequest", str(exc)) from None
        if result is None:
            raise ApiError(404, "NotFound", f"unknown admin endpoint {method} {path}")
        self._send(200, result)

    # ---- resources ---------------------------------------------------------------------------------------

    def _resource(self, method: str, route: Route, q: dict[str, str]) -> None:
        verb = resource_verb(method, route, q)
        body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        injected = self.server.faults.before_request(
            verb, route.key, route.namespace, name=route.name, subresource=route.sub
        )
        if injected is not None:
            raise injected
        if route.sub == "log":
            self._log(route, q)
        elif route.sub == "scale":
            self._scale(method, route, q, body)
        elif verb == "watch":
            self._watch(route, q)
        elif verb == "list":
            self._list(route, q)
        elif verb == "get":
            self._get(route, q)
        elif verb == "create":
            self._create(route, q, body)
        elif verb == "update":
            self._update(route, q, body)
        elif verb == "patch":
            self._patch(route, q, body)
        elif verb == "delete":
            self._delete(route, q, body)
        else:
            self._delete_collection(route, q, body)

    def _out(self, route: Route, obj: dict) -> dict:
        if route.version != route.res.version:
            obj["apiVersion"] = route.api_version
        return obj

    def _respond_obj(self, route: Route, obj: dict, q: dict[str, str], code: int = 200) -> None:
        if self._wants_table():
            self._send(
                code,
                tables.table(
                    route.key,
                    [obj],
                    now=self._now(),
                    resource_version=obj["metadata"].get("resourceVersion", ""),
                    include_object=q.get("includeObject", "Metadata"),
                ),
            )
        else:
            self._send(code, self._out(route, obj))

    def _get(self, route: Route, q: dict[str, str]) -> None:
        assert route.name is not None
        obj = self.store.get(route.key, route.namespace, route.name)
        if obj is None:
            raise not_found(route.key, route.name)
        self._respond_obj(route, obj, q)

    def _filter(self, route: Route, q: dict[str, str]) -> Callable[[dict], bool]:
        labels = parse_label_selector(q.get("labelSelector"))
        fields = parse_field_selector(q.get("fieldSelector"), route.key)
        return lambda obj: labels(obj["metadata"].get("labels") or {}) and fields(obj)

    def _list(self, route: Route, q: dict[str, str]) -> None:
        keep = self._filter(route, q)
        items, rv = self.store.list_with_rv(route.key, route.namespace)
        items = [self._out(route, o) for o in items if keep(o)]
        if self._wants_table():
            self._send(
                200,
                tables.table(
                    route.key,
                    items,
                    now=self._now(),
                    resource_version=str(rv),
                    include_object=q.get("includeObject", "Metadata"),
                ),
            )
            return
        self._send(
            200,
            {
                "kind": route.res.list_kind,
                "apiVersion": route.api_version,
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            },
        )

    def _decoded(self, route: Route, q: dict[str, str], obj: dict, *, apply: bool = False) -> None:
        """The decoder's type and unknown-field checks (main resource only); warnings go out as headers."""
        if route.sub is None:
            self._warnings += validation.check_decoding(
                route.key, obj, field_validation=q.get("fieldValidation"), apply=apply
            )

    def _check(self, route: Route, current: dict | None = None) -> Callable[[dict], None] | None:
        """What the store runs on the defaulted object before storing it: validation, for main resources
        (an update of `current` also checks its immutable fields)."""
        if route.sub is not None:
            return None
        return lambda obj: validation.validate(route.key, obj, old=current)

    def _prepare_body(self, route: Route, body: bytes, q: dict[str, str]) -> dict:
        obj = self._decode(body)
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "request body must be a JSON object")
        self._decoded(route, q, obj)
        meta = obj.setdefault("metadata", {})
        if route.res.namespaced:
            if meta.get("namespace") and route.namespace and meta["namespace"] != route.namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = route.namespace or meta.get("namespace") or "default"
        if route.name and meta.get("name") and meta["name"] != route.name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        if route.name:
            meta["name"] = route.name
        kind = obj.get("kind")
        if kind and kind != route.res.kind and route.sub is None:
            raise ApiError(400, "BadRequest", f"the object's kind {kind} does not match {route.res.kind}")
        return obj

    def _create(self, route: Route, q: dict[str, str], body: bytes) -> None:
        if route.name:
            raise ApiError(
                405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
            )
        obj = self._prepare_body(route, body, q)
        obj.get("metadata", {}).pop("managedFields", None)
        manager, now = self._manager(q), fmt_time(self._now())
        with self.store.lock:
            created = self.store.create(route.key, obj, dry_run=True, check=self._check(route))
            ssa.record_update(None, created, manager=manager, now=now)
            if q.get("dryRun") != "All":
                obj.setdefault("metadata", {})["managedFields"] = created["metadata"]["managedFields"]
                created = self.store.create(route.key, obj)
        self._respond_obj(route, created, q, 201)

    def _write(
        self,
        route: Route,
        q: dict[str, str],
        current: dict | None,
        new: dict,
        *,
        verbatim_fields: bool = False,
    ) -> tuple[dict, int]:
        """Store `new` (an update of `current`, or a create), keeping managedFields up to date."""
        dry = q.get("dryRun") == "All"
        now, manager = fmt_time(self._now()), self._manager(q)
        check = self._check(route, current)
        if current is None:
            ssa.record_update(None, new, manager=manager, now=now)
            return self.store.create(route.key, new, dry_run=dry, check=check), 201
        if not verbatim_fields:
            ssa.record_update(current, new, manager=manager, now=now, subresource=route.sub)
        return self.store.update(route.key, new, subresource=route.sub, dry_run=dry, check=check), 200

    def _update(self, route: Route, q: dict[str, str], body: bytes) -> None:
        assert route.name is not None
        obj = self._prepare_body(route, body, q)
        with self.store.lock:
            current = self.store.get(route.key, route.namespace, route.name)
            if current is None:
                raise not_found(route.key, route.name)
            given = obj["metadata"].get("managedFields")
            verbatim = given is not None and given != current["metadata"].get("managedFields")
            result, code = self._write(route, q, current, obj, verbatim_fields=verbatim)
        self._respond_obj(route, result, q, code)

    def _patch(self, route: Route, q: dict[str, str], body: bytes) -> None:
        assert route.name is not None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        patch = self._decode(body)
        with self.store.lock:
            current = self.store.get(route.key, route.namespace, route.name)
            if ctype == "application/apply-patch+yaml":
                if not isinstance(patch, dict):
                    raise ApiError(400, "BadRequest", "apply patch must be an object")
                if patch.get("kind") and patch["kind"] != route.res.kind and route.sub is None:
                    raise ApiError(
                        400, "BadRequest", f"the applied kind {patch['kind']} does not match {route.res.kind}"
                    )
                patch.setdefault("metadata", {})["name"] = route.name
                if route.res.namespaced:
                    patch["metadata"]["namespace"] = route.namespace
                if current is None and route.sub:
                    raise not_found(route.key, route.name)
                self._decoded(route, q, patch, apply=True)
                new = ssa.apply(
                    current,
                    patch,
                    manager=self._manager(q),
                    force=_truthy(q.get("force")),
                    now=fmt_time(self._now()),
                )
                dry, check = q.get("dryRun") == "All", self._check(route, current)
                if current is None:
                    # an apply that creates is authorized twice, as patch and as create (the API
                    # server's PatchResource: createAuthorizerAttributes)
                    if self._request is not None:
                        self.server.requests.emit(dataclasses.replace(self._request, verb="create"))
                    result, code = self.store.create(route.key, new, dry_run=dry, check=check), 201
                else:
                    result = self.store.update(
                        route.key, new, subresource=route.sub, dry_run=dry, check=check
                    )
                    code = 200
                self._respond_obj(route, result, q, code)
                return
            if current is None:
                raise not_found(route.key, route.name)
            if ctype == "application/json-patch+json":
                new = json_patch(current, patch)
            elif ctype == "application/merge-patch+json":
                new = merge_patch(current, patch)
            elif ctype in ("application/strategic-merge-patch+json", ""):
                new = strategic_merge(current, patch)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format; "
                    f"accepted media types: json-patch, merge-patch, "
                    f"strategic-merge-patch, apply-patch ({ctype})",
                )
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "patch result is not an object")
            self._decoded(route, q, new)
            verbatim = new["metadata"].get("managedFields") != current["metadata"].get("managedFields")
            result, code = self._write(route, q, current, new, verbatim_fields=verbatim)
        self._respond_obj(route, result, q, code)

    def _delete_options(self, q: dict[str, str], body: bytes) -> dict:
        opts = self._decode(body) if body.strip() else {}
        opts = opts if isinstance(opts, dict) else {}
        for key in ("propagationPolicy", "gracePeriodSeconds", "dryRun", "orphanDependents"):
            if key in q and key not in opts:
                opts[key] = q[key]
        if "propagationPolicy" not in opts and _truthy(str(opts.get("orphanDependents", ""))):
            opts["propagationPolicy"] = "Orphan"
        return opts

    def _delete(self, route: Route, q: dict[str, str], body: bytes) -> None:
        assert route.name is not None
        opts = self._delete_options(q, body)
        grace = opts.get("gracePeriodSeconds")
        dry = opts.get("dryRun") in ("All", ["All"])
        result = self.store.delete(
            route.key,
            route.namespace,
            route.name,
            propagation=opts.get("propagationPolicy") or "Background",
            grace_seconds=float(grace) if grace not in (None, "") else None,
            dry_run=dry,
            preconditions=opts.get("preconditions"),
        )
        if result is None:
            raise not_found(route.key, route.name)
        if (
            result["metadata"].get("deletionTimestamp")
            and self.store.get(route.key, route.namespace, route.name) is not None
        ):
            self._send(200, self._out(route, result))
            return
        group, _, plural = route.key.partition("/")
        self._send(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": route.name,
                    "group": group,
                    "kind": plural,
                    "uid": result["metadata"].get("uid"),
                },
            },
        )

    def _delete_collection(self, route: Route, q: dict[str, str], body: bytes) -> None:
        keep = self._filter(route, q)
        opts = self._delete_options(q, body)
        grace = opts.get("gracePeriodSeconds")
        items = [o for o in self.store.list(route.key, route.namespace) if keep(o)]
        for obj in items:
            self.store.delete(
                route.key,
                obj["metadata"].get("namespace"),
                obj["metadata"]["name"],
                propagation=opts.get("propagationPolicy") or "Background",
                grace_seconds=float(grace) if grace not in (None, "") else None,
                dry_run=opts.get("dryRun") in ("All", ["All"]),
            )
        self._send(
            200,
            {
                "kind": route.res.list_kind,
                "apiVersion": route.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": items,
            },
        )

    # ---- subresources ------------------------------------------------------------------------------------

    def _scale_of(self, route: Route, obj: dict) -> dict:
        meta = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": selector_string((obj.get("spec") or {}).get("selector")),
            },
        }

    def _scale(self, method: str, route: Route, q: dict[str, str], body: bytes) -> None:
        assert route.name is not None
        with self.store.lock:
            current = self.store.get(route.key, route.namespace, route.name)
            if current is None:
                raise not_found(route.key, route.name)
            scale = self._scale_of(route, current)
            if method == "GET":
                self._send(200, scale)
                return
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            data = self._decode(body)
            if method == "PUT":
                new_scale = data
            elif ctype == "application/json-patch+json":
                new_scale = json_patch(scale, data)
            else:
                new_scale = merge_patch(scale, data)
            rv = (new_scale.get("metadata") or {}).get("resourceVersion")
            new = dict(
                current,
                spec={
                    **current.get("spec", {}),
                    "replicas": int((new_scale.get("spec") or {}).get("replicas", 0)),
                },
            )
            new["metadata"] = dict(
                current["metadata"], resourceVersion=rv or current["metadata"]["resourceVersion"]
            )
            ssa.record_update(
                current, new, manager=self._manager(q), now=fmt_time(self._now()), subresource="scale"
            )
            result = self.store.update(route.key, new, dry_run=q.get("dryRun") == "All")
        self._send(200, self._scale_of(route, result))

    def _log(self, route: Route, q: dict[str, str]) -> None:
        assert route.name is not None and route.namespace is not None
        pod = self.store.get("/pods", route.namespace, route.name)
        if pod is None:
            raise not_found("/pods", route.name)
        spec = pod.get("spec") or {}
        names = [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]
        container = q.get("container")
        if not container:
            main = [c["name"] for c in spec.get("containers") or []]
            if len(main) != 1:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"a container name must be specified for pod {route.name}, "
                    f"choose one of: [{' '.join(main)}]",
                )
            container = main[0]
        if container not in names:
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {route.name}")
        previous = _truthy(q.get("previous"))
        tail = int(q["tailLines"]) if q.get("tailLines") else None
        lines = self.store.logs.read(route.namespace, route.name, container, previous=previous, tail=tail)
        if lines is None:
            if previous:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'previous terminated container "{container}" in pod "{route.name}" not found',
                )
            state = _container_state(pod, container)
            if "waiting" in state or not state:
                raise ApiError(400, "BadRequest", _waiting_message(pod, container, state))
            lines = []
        if not _truthy(q.get("follow")) or previous:
            self._send(200, "".join(line + "\n" for line in lines), content_type="text/plain")
            return
        self._start_stream("text/plain")
        sent = len(self.store.logs.read(route.namespace, route.name, container) or [])
        self._chunk("".join(line + "\n" for line in lines).encode())
        while not self.server.stopping.is_set() and self._client_alive():
            now_pod = self.store.get("/pods", route.namespace, route.name)
            current = self.store.logs.read(route.namespace, route.name, container)
            if now_pod is None or current is None:
                break
            if len(current) > sent:
                self._chunk("".join(line + "\n" for line in current[sent:]).encode())
                sent = len(current)
            elif _container_done(now_pod, container):
                break
            time.sleep(0.1)
        self._end_stream()

    # ---- watch -------------------------------------------------------------------------------------------

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _client_alive(self) -> bool:
        """False once the client closed its end (readable with no data)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return bool(self.connection.recv(1, socket.MSG_PEEK))
        except (OSError, ValueError):
            return False
        return True

    def _watch(self, route: Route, q: dict[str, str]) -> None:
        with self.server.conn_lock:
            self.server.active_watches += 1
        try:
            self._watch_stream(route, q)
        finally:
            with self.server.conn_lock:
                self.server.active_watches -= 1

    def _watch_stream(self, route: Route, q: dict[str, str]) -> None:
        keep = self._filter(route, q)
        table = self._wants_table()
        include = q.get("includeObject", "Metadata")
        initial = _truthy(q.get("sendInitialEvents"))
        bookmarks = _truthy(q.get("allowWatchBookmarks"))
        rv_param = q.get("resourceVersion") or ""
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else DEFAULT_WATCH_SECONDS
        deadline = time.monotonic() + timeout

        with self.store.lock:
            if initial or rv_param in ("", "0"):
                items, last = self.store.list_with_rv(route.key, route.namespace)
                backlog = [("ADDED", o) for o in items if keep(o)]
            else:
                try:
                    last = int(rv_param)
                except ValueError:
                    raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv_param!r}") from None
                backlog = []
                try:
                    self.store.events_after(last, route.key)
                except ApiError as gone:
                    self._start_stream("application/json")
                    self._send_event("ERROR", gone.status())
                    self._end_stream()
                    return
        self._start_stream("application/json")
        sent = 0

        def faulted() -> bool:
            """True when an injected fault ended the watch (rules are read afresh at every step)."""
            fault = self.server.faults.watch_fault(route.key, route.namespace, sent)
            if fault is not None:
                if fault.kind == "gone":
                    err = ApiError(410, "Expired", f"too old resource version: {last} (injected fault)")
                    self._send_event("ERROR", err.status())
                    self._end_stream()
                else:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                return True
            return False

        def emit(etype: str, obj: dict) -> bool:
            """Send one event; False when a fault ends the watch."""
            nonlocal sent
            if faulted():
                return False
            if etype in ("ADDED", "MODIFIED", "DELETED") and table:
                obj = tables.table(
                    route.key,
                    [obj],
                    now=self._now(),
                    resource_version=obj["metadata"].get("resourceVersion", ""),
                    include_object=include,
                )
            elif etype != "BOOKMARK":
                obj = self._out(route, obj)
            self._send_event(etype, obj)
            sent += 1
            return True

        for etype, obj in backlog:
            if not emit(etype, obj):
                return
        if initial:
            mark = self._bookmark(route, last, initial_end=True)
            if not emit("BOOKMARK", mark):
                return
        every = self.server.bookmark_seconds
        next_bookmark = time.monotonic() + every
        while True:
            if faulted():
                return
            try:
                with self.store.lock:
                    events = self.store.events_after(last, route.key)
                    head = self.store.resource_version
            except ApiError as gone:
                self._send_event("ERROR", gone.status())
                break
            for ev in events:
                if route.namespace and ev.obj["metadata"].get("namespace") != route.namespace:
                    continue
                selected = _selected(ev, keep)
                if selected is not None and not emit(*selected):
                    return
            last = max(last, head)
            now = time.monotonic()
            if now >= deadline or self.server.stopping.is_set() or not self._client_alive():
                break
            if bookmarks and now >= next_bookmark:
                if not emit("BOOKMARK", self._bookmark(route, last)):
                    return
                next_bookmark = now + every
            wake = min(deadline, next_bookmark) if bookmarks else deadline
            self.store.wait_for_change(last, min(1.0, max(0.0, wake - now)))
        self._end_stream()

    def _bookmark(self, route: Route, rv: int, *, initial_end: bool = False) -> dict:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"kind": route.res.kind, "apiVersion": route.api_version, "metadata": meta}

    def _send_event(self, etype: str, obj: dict) -> None:
        self._chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")


def _selected(ev: Any, keep: Callable[[dict], bool]) -> tuple[str, dict] | None:
    """The event a selector watch sends, like the watch cache: leaving the selection is a DELETED (of the
    previous object at the new resourceVersion), entering it an ADDED."""
    now = keep(ev.obj)
    if ev.type != "MODIFIED" or ev.old is None:
        return (ev.type, ev.obj) if now else None
    before = keep(ev.old)
    if now:
        return ("MODIFIED" if before else "ADDED", ev.obj)
    if before:
        rv = ev.obj["metadata"]["resourceVersion"]
        old = dict(ev.old, metadata=dict(ev.old["metadata"], resourceVersion=rv))
        return ("DELETED", old)
    return None


def _container_state(pod: dict, container: str) -> dict:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container:
            return dict(cs.get("state") or {})
    return {}


def _waiting_message(pod: dict, container: str, state: dict) -> str:
    """Why there is no log yet, worded like the kubelet."""
    reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
    if reason == "ImagePullBackOff":
        reason = "trying and failing to pull image"
    elif reason == "ErrImagePull":
        reason = "image can't be pulled"
    return f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: {reason}'


def _container_done(pod: dict, container: str) -> bool:
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container:
            return bool((cs.get("state") or {}).get("terminated"))
    return False


class Server:
    """Start/stop wrapper: the HTTP server on a background thread, restartable on the same port."""

    def __init__(
        self,
        store: Store,
        faults: Faults,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin: Callable[[str, str, dict], Any] | None = None,
        bookmark_seconds: float = WATCH_BOOKMARK_SECONDS,
    ):
        self.store, self.faults, self.host, self.port, self.admin = store, faults, host, port, admin
        self.bookmark_seconds = bookmark_seconds
        self.requests = RequestLog()  # outlives restarts: a recording spans them
        self._httpd: ApiServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._httpd = ApiServer(
            (self.host, self.port),
            self.store,
            self.faults,
            self.admin,
            bookmark_seconds=self.bookmark_seconds,
            requests=self.requests,
        )
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"sim-api-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._httpd = None

    @property
    def active_watches(self) -> int:
        return self._httpd.active_watches if self._httpd else 0

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
