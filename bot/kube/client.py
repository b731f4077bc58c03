"""Raw JSON access to the API server through `kubernetes.client.ApiClient`.

We deliberately bypass the generated pydantic models: they reject objects with missing "required" fields,
cost memory per object, and the tracker wants plain dicts as the API returns them anyway.
Every HTTP request is counted (per verb and kind) so the benchmark can report API load per tracked release.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client import ApiClient

from bot.kube.config import load_configuration
from bot.kube.errors import ApiConnectionError, error_from_status

log = logging.getLogger("helmbot.kube")
Lines = list[str]  # (the `list` verb below shadows the builtin inside the class body)


@dataclass(frozen=True)
class ResourceType:
    kind: str
    api_prefix: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return "" if self.api_prefix.startswith("/api/") else self.api_prefix.split("/")[2]

    @property
    def api_version(self) -> str:
        return self.api_prefix.removeprefix("/apis/").removeprefix("/api/")

    @property
    def display(self) -> str:
        """"Certificate.cert-manager.io" (kubectl's form), "Pod" for the core group."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def collection_path(self, namespace: str | None) -> str:
        if namespace is None or not self.namespaced:
            return f"{self.api_prefix}/{self.plural}"
        return f"{self.api_prefix}/namespaces/{namespace}/{self.plural}"


RESOURCES: dict[str, ResourceType] = {
    r.kind: r
    for r in (
        ResourceType("Pod", "/api/v1", "pods"),
        ResourceType("Service", "/api/v1", "services"),
        ResourceType("PersistentVolumeClaim", "/api/v1", "persistentvolumeclaims"),
        ResourceType("Event", "/api/v1", "events"),
        ResourceType("Secret", "/api/v1", "secrets"),
        ResourceType("ConfigMap", "/api/v1", "configmaps"),
        ResourceType("Deployment", "/apis/apps/v1", "deployments"),
        ResourceType("ReplicaSet", "/apis/apps/v1", "replicasets"),
        ResourceType("StatefulSet", "/apis/apps/v1", "statefulsets"),
        ResourceType("DaemonSet", "/apis/apps/v1", "daemonsets"),
        ResourceType("Job", "/apis/batch/v1", "jobs"),
        ResourceType("Lease", "/apis/coordination.k8s.io/v1", "leases"),
    )
}


KindOrType = str | ResourceType   # a built-in kind by name, or one resolved through discovery


def resource(kind: KindOrType) -> ResourceType:
    if isinstance(kind, ResourceType):
        return kind
    try:
        return RESOURCES[kind]
    except KeyError:
        raise ValueError(f"unsupported kind {kind!r}") from None


class RequestCounter:
    """Thread-safe count of API requests, keyed by (verb, kind); shared by all users of one client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, verb: str, kind: str) -> None:
        with self._lock:
            self._counts[(verb, kind)] += 1

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f"{verb} {kind}": n for (verb, kind), n in sorted(self._counts.items())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class WatchStream:
    """Iterator over one watch's events; `close()` may be called from another thread to unblock it."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buf = b""
        try:
            for chunk in self._response.stream(65536, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield _decode_event(line)
            if buf.strip():
                yield _decode_event(buf)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if not self._closed:
                raise ApiConnectionError(f"watch stream broken: {exc}") from exc
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # best effort; the connection is discarded anyway
            self._response.shutdown()  # unblocks a reader stuck in another thread
        self._response.release_conn()


def _decode_event(line: bytes) -> dict[str, Any]:
    event = json.loads(line)
    if not isinstance(event, dict) or "type" not in event:
        raise ValueError("malformed watch event")
    return event


class KubeClient:
    """Minimal JSON client: list, get, watch, logs. Errors are `bot.kube.errors` types, never ApiException."""

    def __init__(self, api_client: ApiClient, *, counter: RequestCounter | None = None,
                 request_timeout: float = 30.0) -> None:
        self.api_client = api_client
        self.counter = counter or RequestCounter()
        self.request_timeout = request_timeout

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def close(self) -> None:
        self.api_client.close()

    # -- low level -------------------------------------------------------------------------------------

    def _send(self, verb: str, kind: str, path: str, query: Mapping[str, Any] | None, *,
              accept: str = "application/json", timeout: float | tuple[float, float] | None = None,
              namespace: str | None = None, http_method: str = "GET",
              json_body: Mapping[str, Any] | None = None) -> urllib3.BaseHTTPResponse:
        """One HTTP request; returns the unread urllib3 response on 2xx, raises a typed error otherwise."""
        self.counter.add(verb, kind)
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        header_params = {"Accept": accept}
        if json_body is not None:
            header_params["Content-Type"] = "application/json"
        method, url, headers, body, post = self.api_client.param_serialize(
            method=http_method, resource_path=path, query_params=params, header_params=header_params,
            body=dict(json_body) if json_body is not None else None, auth_settings=["BearerToken"],
        )
        try:
            rest = self.api_client.call_api(method, url, headers, body, post,
                                            _request_timeout=timeout or self.request_timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiConnectionError(f"cannot reach the API server at {self.host}: {_short(exc)}") from exc
        except Exception as exc:  # ApiException(status=0) for TLS problems, and the like
            raise ApiConnectionError(f"cannot reach the API server at {self.host}: {_short(exc)}") from exc
        response = rest.response
        if not 200 <= response.status <= 299:
            try:
                data = response.read()
            except (urllib3.exceptions.HTTPError, OSError):
                data = b""
            finally:
                response.release_conn()
            raise error_from_status(response.status, data, dict(response.headers), namespace=namespace)
        return response

    def _json(self, verb: str, kind: str, path: str, query: Mapping[str, Any] | None = None, *,
              namespace: str | None = None, http_method: str = "GET",
              json_body: Mapping[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        response = self._send(verb, kind, path, query, namespace=namespace, http_method=http_method,
                              json_body=json_body, timeout=timeout)
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiConnectionError(f"connection lost reading {path}: {_short(exc)}") from exc
        finally:
            response.release_conn()
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise ApiConnectionError(f"the API server sent invalid JSON for {path}") from exc
        if not isinstance(obj, dict):
            raise ApiConnectionError(f"the API server sent unexpected JSON for {path}")
        return obj

    # -- verbs -----------------------------------------------------------------------------------------

    def list(self, kind: KindOrType, namespace: str | None, *, label_selector: str | None = None,
             field_selector: str | None = None, resource_version: str | None = None,
             limit: int | None = None) -> dict[str, Any]:
        """The raw XList: `items` plus `metadata.resourceVersion` to start a watch from."""
        query = {"labelSelector": label_selector, "fieldSelector": field_selector,
                 "resourceVersion": resource_version, "limit": limit}
        rt = resource(kind)
        return self._json("list", rt.kind, rt.collection_path(namespace), query,
                          namespace=_scope(rt, namespace))

    def get(self, kind: KindOrType, namespace: str | None, name: str) -> dict[str, Any]:
        rt = resource(kind)
        return self._json("get", rt.kind, f"{rt.collection_path(namespace)}/{name}",
                          namespace=_scope(rt, namespace))

    def create(self, kind: KindOrType, namespace: str | None, obj: Mapping[str, Any]) -> dict[str, Any]:
        """POST a new object; Conflict (409) when it exists."""
        rt = resource(kind)
        return self._json("create", rt.kind, rt.collection_path(namespace), namespace=_scope(rt, namespace),
                          http_method="POST", json_body=obj)

    def replace(self, kind: KindOrType, namespace: str | None, obj: Mapping[str, Any]) -> dict[str, Any]:
        """PUT an object; with metadata.resourceVersion set, Conflict (409) when someone changed it since."""
        rt = resource(kind)
        name = (obj.get("metadata") or {}).get("name")
        return self._json("replace", rt.kind, f"{rt.collection_path(namespace)}/{name}",
                          namespace=_scope(rt, namespace), http_method="PUT", json_body=obj)

    def discover(self, api_version: str, *, timeout: float | None = None) -> dict[str, Any]:
        """The APIResourceList of one group/version ("v1", "apps/v1", "cert-manager.io/v1"); `timeout`
        bounds a health probe more tightly than the client's default."""
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        return self._json("discover", api_version, path, timeout=timeout)

    def watch(self, kind: KindOrType, namespace: str | None, *, resource_version: str | None,
              label_selector: str | None = None, timeout_seconds: int = 300,
              allow_bookmarks: bool = True) -> WatchStream:
        """Open a watch from `resource_version`; the server ends it after `timeout_seconds`."""
        query = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                 "allowWatchBookmarks": "true" if allow_bookmarks else None,
                 "timeoutSeconds": timeout_seconds}
        # The read timeout outlives the server-side timeout, so a silent dead connection is still noticed.
        rt = resource(kind)
        response = self._send("watch", rt.kind, rt.collection_path(namespace), query,
                              timeout=(10.0, timeout_seconds + 30.0), namespace=_scope(rt, namespace))
        return WatchStream(response)

    def read_log(self, namespace: str, pod: str, container: str, *, previous: bool = False,
                 tail_lines: int | None = None) -> Lines:
        query = {"container": container, "previous": "true" if previous else None, "tailLines": tail_lines}
        response = self._send("log", "Pod", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query,
                              accept="text/plain", namespace=namespace)
        try:
            text = response.read().decode("utf-8", "replace")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiConnectionError(f"connection lost reading logs of {pod}/{container}: {_short(exc)}"
                                     ) from exc
        finally:
            response.release_conn()
        return text.splitlines()


def new_client(kubeconfig: str | None = None, context: str | None = None, *,
               counter: RequestCounter | None = None) -> KubeClient:
    """A client for the kubeconfig (default: $KUBECONFIG, ~/.kube/config, then in-cluster) and context."""
    configuration = load_configuration(kubeconfig, context)
    log.info("Kubernetes API at %s%s", configuration.host, f" (context {context})" if context else "")
    return KubeClient(ApiClient(configuration=configuration), counter=counter)


def _scope(rt: ResourceType, namespace: str | None) -> str | None:
    """The namespace a request is about (None: cluster-wide), so an error can say where it was refused."""
    return namespace if rt.namespaced else None


def _short(exc: BaseException) -> str:
    """The innermost reason, without urllib3's pool/object reprs (one line, for stderr)."""
    inner: BaseException = exc
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        inner = reason
    text = str(inner).split("\n")[0]
    if "Connection refused" in text:
        return "connection refused"
    if ": " in text and "object at 0x" in text:
        text = text.rsplit(": ", 1)[-1]
    return text[:200]
