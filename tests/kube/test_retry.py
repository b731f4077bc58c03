"""Which API errors are waited out, and for how long (no server needed: the errors are the client's types)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bot.kube.errors import (
    ApiConnectionError,
    Forbidden,
    NotFound,
    ServerError,
    TooManyRequests,
    Unauthorized,
)
from bot.kube.retry import Backoff, is_transient, retrying

FAST = Backoff(initial=0.01, maximum=0.02)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        pytest.param(TooManyRequests(429, "TooManyRequests", "slow down", retry_after=0.01), True, id="429"),
        *(pytest.param(ServerError(code, "Error", ""), True, id=str(code)) for code in (500, 502, 503, 504)),
        pytest.param(ServerError(501, "NotImplemented", ""), False, id="501"),
        pytest.param(ApiConnectionError("connection reset by peer"), True, id="connection-reset"),
        pytest.param(Unauthorized(401, "Unauthorized", ""), False, id="401"),
        pytest.param(Forbidden(403, "Forbidden", "pods is forbidden"), False, id="403"),
        pytest.param(NotFound(404, "NotFound", ""), False, id="404"),
    ],
)
def test_transient_errors(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def _failing(*errors: Exception) -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "answer"

    return calls, call


def test_transient_errors_are_retried_until_an_answer() -> None:
    calls, call = _failing(ServerError(500, "InternalError", ""),
                           TooManyRequests(429, "x", "", retry_after=0.01), ApiConnectionError("reset"))
    assert retrying(call, deadline=time.monotonic() + 5, what="test", backoff=FAST) == "answer"
    assert len(calls) == 4


def test_final_errors_and_the_deadline_end_the_retries() -> None:
    calls, call = _failing(Forbidden(403, "Forbidden", "no"))
    with pytest.raises(Forbidden):
        retrying(call, deadline=time.monotonic() + 5, what="test", backoff=FAST)
    assert len(calls) == 1
    calls, call = _failing(*[ServerError(503, "ServiceUnavailable", "")] * 1000)
    with pytest.raises(ServerError):
        retrying(call, deadline=time.monotonic() + 0.2, what="test", backoff=FAST)
    assert 1 < len(calls) < 1000


def test_a_server_never_reached_gets_less_patience_than_one_that_answers_with_errors() -> None:
    _, call = _failing(*[ApiConnectionError("connection refused")] * 1000)
    started = time.monotonic()
    with pytest.raises(ApiConnectionError):
        retrying(call, deadline=started + 30, what="test", backoff=FAST, unreachable_for=0.2)
    assert time.monotonic() - started < 5
    calls, call = _failing(ServerError(500, "InternalError", ""), *[ApiConnectionError("reset")] * 20)
    answer = retrying(call, deadline=time.monotonic() + 30, what="test", backoff=FAST, unreachable_for=0.0)
    assert answer == "answer"
    assert len(calls) == 22
