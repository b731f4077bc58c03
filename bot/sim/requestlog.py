"""Who asked the stand-in for what: one `ApiRequest` per request, as the API server's authorizer sees it.

The attributes are Kubernetes' request attributes (verb, API group, resource, subresource, namespace, name,
or a non-resource path), so a test can check them against RBAC rules, count them, or assert what a client
never does. Recording is opt-in and costs nothing while no one listens:

    with cluster.requests.recording(user="system:serviceaccount:bots:helmbot") as seen:
        ...                             # run the client
    seen.requests                       # the ApiRequests made as that user, in order

The stand-in does not authenticate; it names the caller from what the kubeconfig of
`Cluster.kubeconfig(user=NAME)` makes each client send: Go clients (helm, kubectl) never send a bearer token
over plain HTTP, but they do send the kubeconfig's `as: NAME` as `Impersonate-User: NAME` (the user an API
server then authorizes); the Python client ignores `as` and sends the token `helmbot-sim-token:NAME`. The
default kubeconfig's token `helmbot-sim-token` is user `helmbot-sim`; a request with neither is anonymous.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

TOKEN = "helmbot-sim-token"
DEFAULT_USER = "helmbot-sim"
ANONYMOUS = "system:anonymous"


def token_for(user: str | None) -> str:
    return TOKEN if not user or user == DEFAULT_USER else f"{TOKEN}:{user}"


def user_of(authorization: str | None, impersonate: str | None = None) -> str:
    """The caller named by the `Impersonate-User` header, else by `Authorization: Bearer ...`."""
    if impersonate:
        return impersonate
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN):
        return ANONYMOUS
    rest = token[len(TOKEN):]
    return rest[1:] if rest.startswith(":") and len(rest) > 1 else DEFAULT_USER


@dataclass(frozen=True)
class ApiRequest:
    """One request's authorization attributes (k8s.io/apiserver RequestInfo + the user)."""

    user: str
    verb: str                       # get list watch create update patch delete deletecollection (resources);
                                    # the lower-cased HTTP method for non-resource paths
    group: str = ""                 # "" is the core group
    version: str = ""
    resource: str = ""              # plural; "" for a non-resource request
    subresource: str = ""           # "log", "status", "scale", ...
    namespace: str = ""             # "" for cluster-scoped resources and cluster-wide lists
    name: str = ""                  # from the path, or a list/watch's `fieldSelector=metadata.name=X`
    path: str = ""                  # the URL path
    user_agent: str = ""

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)

    @property
    def client(self) -> str:
        """The program that sent it, from its User-Agent (`helm`, `kubectl`, `OpenAPI-Generator`, ...)."""
        return self.user_agent.split("/")[0].strip() or "unknown"

    def describe(self) -> str:
        if not self.is_resource:
            return f"{self.verb} {self.path}"
        res = f"{self.group or 'core'}/{self.resource}" + (f"/{self.subresource}" if self.subresource else "")
        where = f" in {self.namespace}" if self.namespace else " (cluster)"
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {res}{named}{where}"


@dataclass
class Recording:
    """The requests seen while a `recording()` block ran (those of one user, when it named one)."""

    user: str | None
    requests: list[ApiRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, request: ApiRequest) -> None:
        if self.user is None or request.user == self.user:
            with self._lock:
                self.requests.append(request)

    def snapshot(self) -> list[ApiRequest]:
        with self._lock:
            return list(self.requests)


Listener = Callable[[ApiRequest], None]


class RequestLog:
    """Fan-out of every request to its listeners; free when there are none."""

    def __init__(self) -> None:
        self._listeners: tuple[Listener, ...] = ()
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._listeners)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every request from now on (on the server's threads: keep it quick).
        Returns the function that stops it."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

        def stop() -> None:
            with self._lock:
                self._listeners = tuple(x for x in self._listeners if x is not listener)

        return stop

    @contextmanager
    def recording(self, user: str | None = None) -> Iterator[Recording]:
        rec = Recording(user)
        stop = self.listen(rec.add)
        try:
            yield rec
        finally:
            stop()

    def emit(self, request: ApiRequest) -> None:
        for listener in self._listeners:
            listener(request)
