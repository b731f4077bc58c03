"""`helmbot watch` error paths in-process: every error is one line and an exit code that is not "failed"."""

from __future__ import annotations

import json
from typing import Any

import pytest

import bot.kube.releases
from bot.cli.main import main


def run(sim: Any, namespace: str, *args: str) -> int:
    return main(["watch", "shop", "--namespace", namespace, "--kubeconfig", str(sim.kubeconfig), *args])


def test_an_unexpected_exception_is_an_internal_error_not_a_failed_release(
        sim: Any, namespace: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("revision\nsecond line")   # stands in for a bug anywhere under `watch`

    monkeypatch.setattr(bot.kube.releases, "find_latest_revision", broken)
    assert run(sim, namespace) == 4
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "helmbot watch: error: internal error: RuntimeError: revision / second line "
        "(a helmbot bug; please report it)"]

    assert run(sim, namespace, "--output", "json") == 4
    out, err = capsys.readouterr()
    message = err.strip().split(": error: ", 1)[1]
    assert json.loads(out) == {"type": "error", "exit_code": 4, "message": message}


def test_json_consumers_see_why_there_is_no_verdict(sim: Any, namespace: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sim, namespace, "--output", "json") == 3
    out, err = capsys.readouterr()
    message = f'release "shop" not found in namespace "{namespace}"'
    assert err == f"helmbot watch: error: {message}\n"
    assert json.loads(out) == {"type": "error", "message": message, "exit_code": 3}


@pytest.mark.parametrize("value", ["soon", "-5s"])
def test_bad_heartbeat_is_a_usage_error(sim: Any, namespace: str, capsys: pytest.CaptureFixture[str],
                                        value: str) -> None:
    assert run(sim, namespace, f"--heartbeat={value}") == 3
    assert "--heartbeat" in capsys.readouterr().err
