"""TrackEvent is what every renderer and the store consume: JSON-safe, exact round trip, loud on bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.events import EventType, Outcome, TrackEvent

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _event(**overrides: object) -> TrackEvent:
    fields: dict[str, object] = {
        "type": EventType.FAILURE,
        "at": T0,
        "release": "shop",
        "namespace": "prod",
        "revision": 4,
        "message": "Pod shop-web-abc: CrashLoopBackOff",
        "phase": "resources",
        "subject": "Deployment/shop-web",
        "data": {"kind": "Pod", "exit_code": 1, "log_tail": ("boom", "panic")},
    }
    fields.update(overrides)
    return TrackEvent(**fields)  # type: ignore[arg-type]


def test_values_are_lower_snake_case() -> None:
    assert EventType.PODS_GATED.value == "pods_gated"
    assert EventType.HOOK_NEARING_TIMEOUT.value == "hook_nearing_timeout"
    assert [o.value for o in Outcome] == ["succeeded", "failed", "timed_out"]


def test_to_dict_is_json_and_round_trips() -> None:
    event = _event()
    raw = event.to_dict()
    assert json.loads(json.dumps(raw)) == raw
    assert raw["type"] == "failure"
    assert raw["at"] == "2025-03-01T12:00:00+00:00"
    assert raw["data"]["log_tail"] == ["boom", "panic"]
    assert TrackEvent.from_dict(json.loads(json.dumps(raw))) == event


def test_time_is_normalised_to_utc_and_naive_time_rejected() -> None:
    cet = timezone(timedelta(hours=1))
    assert _event(at=datetime(2025, 3, 1, 13, 0, tzinfo=cet)).at == T0
    with pytest.raises(ValueError, match="naive"):
        _event(at=datetime(2025, 3, 1, 12, 0))


def test_data_that_is_not_json_safe_is_rejected() -> None:
    with pytest.raises(TypeError, match="not JSON-safe"):
        _event(data={"obj": object()})
    with pytest.raises(TypeError, match="key"):
        _event(data={1: "x"})


def test_outcome_only_on_verdict() -> None:
    assert _event().outcome is None
    verdict = _event(type=EventType.VERDICT, data={"outcome": "timed_out", "reason": "x", "failures": []})
    assert verdict.outcome is Outcome.TIMED_OUT


def test_from_dict_names_missing_field() -> None:
    raw = _event().to_dict()
    del raw["release"]
    with pytest.raises(ValueError, match="release"):
        TrackEvent.from_dict(raw)


def test_message_is_always_one_line() -> None:
    event = _event(message='Helm marked the release failed: "Updated: 1/3\n\tcontext deadline exceeded"  ')
    assert event.message == 'Helm marked the release failed: "Updated: 1/3 context deadline exceeded"'
    assert TrackEvent.from_dict(event.to_dict()) == event


def test_failure_and_verdict_payloads_are_typed_views_of_the_data() -> None:
    data = {"kind": "Job", "name": "migrate", "reason": "BackoffLimitExceeded", "log_tail": ["boom"]}
    failure = _event(type=EventType.FAILURE, data=data)
    assert failure.failure is not None and failure.failure["reason"] == "BackoffLimitExceeded"
    assert failure.verdict_data is None
    verdict = _event(type=EventType.VERDICT, data={"outcome": "failed", "reason": "x", "failures": [],
                                                    "duration_seconds": 1.0})
    assert verdict.verdict_data is not None and verdict.verdict_data["outcome"] == "failed"
    assert verdict.failure is None and verdict.outcome is Outcome.FAILED
