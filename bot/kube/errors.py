"""Typed Kubernetes API errors, so callers decide retry/relist/abort by type instead of by status code.

Every one is a `HelmbotError`: `user_message()` is what a person reads (`bot.errors.describe_error`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from bot.errors import HelmbotError


class KubeError(HelmbotError):
    """Anything that went wrong talking to (or configuring access to) the API server."""


class KubeConfigError(KubeError):
    """No usable kubeconfig / context / in-cluster environment."""


class ApiConnectionError(KubeError):
    """The API server could not be reached (refused, reset, DNS, TLS, timeout)."""


class ApiError(KubeError):
    """An HTTP error status from the API server (a metav1 Status body when the server sends one)."""

    status: int = 0
    retryable: bool = False

    def __init__(self, status: int, reason: str, message: str, *, retry_after: float | None = None,
                 namespace: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.message = message  # the server's own Status message: names objects, never their contents
        self.retry_after = retry_after
        self.namespace = namespace  # the namespace of the request, None for cluster-wide requests
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")

    def user_message(self) -> str:
        return f"Kubernetes API error {self}"


class Unauthorized(ApiError):
    def user_message(self) -> str:
        return "unauthorized (401): the API server rejected our credentials; check the kubeconfig user/token"


class Forbidden(ApiError):
    def user_message(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"forbidden (403){where}" + (f": {self.message}" if self.message else "")


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class Gone(ApiError):
    """410: the resourceVersion is too old; the caller must relist."""


class TooManyRequests(ApiError):
    retryable = True


class ServerError(ApiError):
    retryable = True


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    429: TooManyRequests,
}


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the API server only sends the delta-seconds form)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def error_from_status(status: int, body: bytes | str | Mapping[str, object] | None = None,
                      headers: Mapping[str, str] | None = None, *, namespace: str | None = None) -> ApiError:
    """Map an HTTP status plus an optional metav1 Status body to the matching ApiError subclass."""
    reason, message = "", ""
    data: object = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body) if body else None
        except ValueError:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            message = text.strip()[:300]
            data = None
    if isinstance(data, Mapping):
        reason = str(data.get("reason") or "")
        message = str(data.get("message") or message)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    retry_after = parse_retry_after((headers or {}).get("Retry-After")) if headers else None
    return cls(status, reason or _default_reason(status), message, retry_after=retry_after,
               namespace=namespace)


def _default_reason(status: int) -> str:
    return {
        401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 410: "Gone",
        429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
    }.get(status, "Error")
