"""The Job controller (+ TTL): retries, deadlines, 1.31+ condition pairs, suspend, image-pull hangs."""

from __future__ import annotations

import json

import pytest

from bot.sim.controllers.testing import Harness


def make_job(
    h: Harness,
    name: str = "migrate",
    *,
    script: dict | None = None,
    image: str = "example/migrate:1",
    restart: str = "Never",
    **spec: object,
) -> None:
    c: dict = {"name": "migrate", "image": image}
    if script is not None:
        c["env"] = [{"name": "HELMBOT_SIM_SCRIPT", "value": json.dumps(script)}]
    h.store.create(
        "batch/jobs",
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": restart, "containers": [c]}}, **spec},
        },
    )


def conds(h: Harness, name: str = "migrate") -> dict[str, str]:
    job = h.store.get("batch/jobs", "default", name)
    assert job is not None
    return {
        c["type"]: c.get("reason", "")
        for c in job.get("status", {}).get("conditions", [])
        if c["status"] == "True"
    }


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_successful_job_completes_in_two_steps(h: Harness) -> None:
    make_job(h, script={"logs": ["Applying migration 0001_initial... OK"], "runSeconds": 0.5})
    h.run_until(lambda: "SuccessCriteriaMet" in conds(h), seconds=5, what="SuccessCriteriaMet")
    h.run_until(lambda: "Complete" in conds(h), seconds=5, what="Complete")
    job = h.get("batch/jobs", "migrate")
    st = job["status"]
    assert st["succeeded"] == 1 and "active" not in st and st["ready"] == 0 and st["terminating"] == 0
    assert st["startTime"] and st["completionTime"]
    assert conds(h) == {"SuccessCriteriaMet": "CompletionsReached", "Complete": "CompletionsReached"}
    pod = h.pods(**{"job-name": "migrate"})[0]
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "migrate"
    assert pod["metadata"]["labels"]["controller-uid"] == job["metadata"]["uid"]
    assert h.store.logs.read("default", pod["metadata"]["name"], "migrate") == [
        "Applying migration 0001_initial... OK"
    ]
    assert h.reasons("migrate") == ["SuccessfulCreate", "Completed"]


@pytest.mark.parametrize("backoff_limit", [0, 2])
def test_failing_job_retries_then_fails_with_backoff_limit(h: Harness, backoff_limit: int) -> None:
    make_job(
        h,
        script={"exitCode": 1, "runSeconds": 0.2, "logs": ["ERROR: relation users already exists"]},
        backoffLimit=backoff_limit,
    )
    h.run_until(lambda: "Failed" in conds(h), seconds=30, what="Failed")
    assert conds(h) == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    job = h.get("batch/jobs", "migrate")
    assert job["status"]["failed"] == backoff_limit + 1
    pods = h.pods(**{"job-name": "migrate"})
    assert len(pods) == backoff_limit + 1 and all(p["status"]["phase"] == "Failed" for p in pods)
    assert all(h.store.logs.read("default", p["metadata"]["name"], "migrate") for p in pods)
    warn = h.events("migrate", "BackoffLimitExceeded")
    assert (
        warn
        and warn[0]["type"] == "Warning"
        and warn[0]["message"] == "Job has reached the specified backoff limit"
    )


def test_retry_succeeds_after_failed_runs_with_on_failure(h: Harness) -> None:
    make_job(h, script={"exitCode": 1, "failRuns": 1, "runSeconds": 0.2}, restart="OnFailure", backoffLimit=3)
    h.run_until(lambda: "Complete" in conds(h), seconds=20, what="Complete")
    pod = h.pods(**{"job-name": "migrate"})[0]
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 1


def test_active_deadline_fails_a_slow_job(h: Harness) -> None:
    make_job(h, script={"runSeconds": 60}, activeDeadlineSeconds=2)
    h.run_until(lambda: "Failed" in conds(h), seconds=10, what="DeadlineExceeded")
    assert conds(h)["Failed"] == "DeadlineExceeded"
    assert (
        h.events("migrate", "DeadlineExceeded")[0]["message"]
        == "Job was active longer than specified deadline"
    )


def test_image_pull_failure_never_fails_the_job(h: Harness) -> None:
    make_job(h, image="registry.invalid/migrate:1", backoffLimit=0)
    h.run_for(20)
    assert conds(h) == {}
    job = h.get("batch/jobs", "migrate")
    assert job["status"]["active"] == 1 and "failed" not in job["status"]


def test_ttl_after_finished_deletes_job_and_pods(h: Harness) -> None:
    make_job(h, ttlSecondsAfterFinished=1)
    h.run_until(lambda: "Complete" in conds(h), seconds=5, what="Complete")
    h.run_until(
        lambda: h.store.get("batch/jobs", "default", "migrate") is None, seconds=5, what="TTL deletion"
    )
    h.run_until(lambda: not h.pods(**{"job-name": "migrate"}), seconds=5, what="pods gone")


def test_suspend_and_resume(h: Harness) -> None:
    make_job(h, script={"runSeconds": 1}, suspend=True)
    h.run_for(1)
    assert conds(h) == {"Suspended": "JobSuspended"} and not h.pods()
    assert "startTime" not in h.get("batch/jobs", "migrate")["status"]
    h.store.mutate("batch/jobs", "default", "migrate", lambda o: o["spec"].update(suspend=False))
    h.run_until(lambda: "Complete" in conds(h), seconds=5, what="Complete after resume")
    assert "Resumed" in h.reasons("migrate")
