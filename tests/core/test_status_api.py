"""The public surface of bot.core.status: types, defaults, input validation, shared pre-checks."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.status import DEFAULT_POLICY, Assessment, Failure, Policy, State, assess

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_state_values_are_the_contract_strings() -> None:
    assert [s.value for s in State] == ["current", "in_progress", "failed"]
    assert State("failed") is State.FAILED
    assert State.CURRENT == "current"


def test_dataclasses_are_frozen_with_contract_defaults() -> None:
    failure = Failure("Pod", "web-1", "CrashLoopBackOff")
    assert (failure.message, failure.container, failure.init_container) == ("", None, False)
    assert (failure.exit_code, failure.restarts) == (None, None)
    a = Assessment(State.CURRENT, "ok")
    assert (a.failures, a.ready, a.desired, a.warnings, a.waiting) == ((), None, None, (), ())
    with pytest.raises(FrozenInstanceError):
        a.reason = "x"  # type: ignore[misc]
    assert DEFAULT_POLICY.config_error_grace == timedelta(seconds=45)
    assert DEFAULT_POLICY.unschedulable_grace == timedelta(seconds=60)
    assert replace(DEFAULT_POLICY, config_error_grace=timedelta(seconds=1)) == Policy(
        config_error_grace=timedelta(seconds=1)
    )


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("Deployment", id="string"),
        pytest.param({"metadata": {"name": "x"}}, id="no-kind"),
        pytest.param({"kind": "Pod"}, id="no-metadata"),
    ],
)
def test_bad_objects_raise_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError):
        assess(bad, now=NOW)  # type: ignore[arg-type]


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess({"kind": "ConfigMap", "metadata": {"name": "c"}}, now=datetime(2025, 1, 1))


def test_now_defaults_to_the_clock() -> None:
    assert assess({"kind": "ConfigMap", "metadata": {"name": "c"}}).state is State.CURRENT
