"""The kube error mapping: HTTP status + metav1 Status body -> typed error, as callers branch on types."""

from __future__ import annotations

import json

import pytest

from bot.kube.errors import (
    ApiError,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
    error_from_status,
    parse_retry_after,
)


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                       "reason": reason, "message": message}).encode()


@pytest.mark.parametrize(("code", "cls"), [
    (401, Unauthorized), (403, Forbidden), (404, NotFound), (409, Conflict), (410, Gone),
    (429, TooManyRequests), (500, ServerError), (503, ServerError), (422, ApiError),
])
def test_status_codes_map_to_types(code: int, cls: type[ApiError]) -> None:
    err = error_from_status(code, status_body(code, "SomeReason", "some message"))
    assert type(err) is cls
    assert err.status == code
    assert err.reason == "SomeReason"
    assert err.message == "some message"
    assert str(err) == f"{code} SomeReason: some message"


def test_retryable_only_for_transient_errors() -> None:
    assert error_from_status(429).retryable
    assert error_from_status(500).retryable
    assert not error_from_status(403).retryable
    assert not error_from_status(410).retryable


def test_retry_after_header_is_honoured() -> None:
    err = error_from_status(429, status_body(429, "TooManyRequests", "slow down"), {"Retry-After": "3"})
    assert isinstance(err, TooManyRequests)
    assert err.retry_after == 3.0
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-2") == 0.0


def test_non_json_body_keeps_a_short_message() -> None:
    err = error_from_status(502, b"<html>bad gateway</html>")
    assert isinstance(err, ServerError)
    assert err.message == "<html>bad gateway</html>"
    assert err.reason == "Error"


def test_watch_error_event_object_maps_like_a_response() -> None:
    # A watch ERROR event carries the Status object itself, already decoded.
    err = error_from_status(410, {"kind": "Status", "code": 410, "reason": "Expired",
                                  "message": "too old resource version: 1 (50)"})
    assert isinstance(err, Gone)
    assert err.reason == "Expired"
