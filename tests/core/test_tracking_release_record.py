"""What Helm's release record says: deleted under us, already superseded when we look, multi-line texts."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.core.events import EventType, Outcome
from bot.core.releases import Release
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import hook_job, manifest_deployment, of_type, release, tracker, view


def _rel(status: str, revision: int = 1, **kw: Any) -> Release:
    return release(revision, status, manifest=[manifest_deployment("shop-web", 2)], **kw)


def _rolling() -> list[dict[str, Any]]:
    dep = k.deployment("shop-web", replicas=2, updated=1, ready=0, available=0, status_replicas=1)
    rs = k.replica_set_for(dep, ready=0, replicas=1)
    return [dep, rs, k.pod_for(rs, "p0", containers=[k.waiting("shop-web", "ContainerCreating")])]


def test_release_record_deleted_after_it_was_seen_fails() -> None:
    t = tracker(timeout=timedelta(minutes=5))
    t.observe(view(_rel("pending-install"), *_rolling()), k.at(0))
    gone = replace(view(None, *_rolling()), secrets_fresh=True)
    ev = t.observe(gone, k.at(4))
    [failure] = of_type(ev, EventType.FAILURE)
    assert failure.data["reason"] == "ReleaseDeleted"
    assert failure.message == (
        'release record deleted (uninstalled?); last seen pending-install: "Initial install underway"'
    )
    assert ev[-1].outcome is Outcome.FAILED
    assert ev[-1].message.startswith(
        "install of shop revision 1 failed: release record deleted (uninstalled?)"
    )


def test_release_missing_from_a_stale_secret_view_is_not_a_deletion() -> None:
    t = tracker(timeout=timedelta(minutes=5))
    t.observe(view(_rel("pending-install"), *_rolling()), k.at(0))
    # the Secret watch is behind: the adapter cannot say whether the record exists (secrets_fresh=False)
    for second in (4, 30, 90):
        assert of_type(t.observe(view(None, *_rolling()), k.at(second)), EventType.FAILURE) == []
    assert not t.done


def test_release_not_there_yet_is_waited_for_even_with_a_fresh_secret_view() -> None:
    t = tracker(timeout=timedelta(seconds=60))
    assert t.observe(replace(view(None), secrets_fresh=True), k.at(5)) == []
    ev = t.observe(replace(view(None), secrets_fresh=True), k.at(61))
    assert ev[-1].outcome is Outcome.TIMED_OUT


def test_watching_a_revision_that_succeeded_and_was_superseded() -> None:
    hooks = [
        hook_job(
            "shop-migrate",
            events=["pre-install"],
            phase="Succeeded",
            started_at=k.at(-50),
            completed_at=k.at(-40),
        )
    ]
    t = tracker(1)
    # the objects now belong to revision 2: not looked at
    ev = t.observe(
        view(_rel("superseded", hooks=hooks, description="Install complete"), *_rolling()), k.at(0)
    )
    assert [e.type for e in ev] == [EventType.TRACKING_STARTED, EventType.VERDICT]
    assert ev[0].data["plan"] == [] and "already superseded" in ev[0].message
    assert ev[-1].outcome is Outcome.SUCCEEDED
    assert ev[-1].message == "revision 1 succeeded and was superseded by a later revision"
    assert t.log_requests() == []
    assert t.summary().jobs == () and t.summary().workloads == ()


def test_superseded_rollback_and_upgrade_descriptions_count_as_success() -> None:
    for revision, description in ((3, "Rollback to 1"), (2, "Upgrade complete")):
        t = tracker(revision)
        ev = t.observe(view(_rel("superseded", revision, description=description)), k.at(0))
        assert ev[-1].outcome is Outcome.SUCCEEDED, description


def test_superseded_revision_whose_hook_failed_is_a_failure() -> None:
    hooks = [hook_job("shop-migrate", events=["pre-upgrade"], phase="Failed", started_at=k.at(-50))]
    t = tracker(2)
    ev = t.observe(view(_rel("superseded", 2, hooks=hooks, description="Upgrade complete")), k.at(0))
    assert ev[-1].outcome is Outcome.FAILED
    assert "hook Job/shop-migrate failed" in ev[-1].message


def test_superseded_revision_with_a_failed_description_quotes_it() -> None:
    t = tracker(2)
    description = 'Upgrade "shop" failed: context deadline exceeded'
    ev = t.observe(view(_rel("superseded", 2, description=description)), k.at(0))
    assert ev[-1].outcome is Outcome.FAILED
    assert ev[-1].data["failures"][0]["reason"] == "ReleaseFailed"
    assert description in ev[-1].message


def test_superseded_before_it_finished_is_a_failure() -> None:
    t = tracker(2)
    ev = t.observe(view(_rel("superseded", 2, description="Preparing upgrade")), k.at(0))
    assert ev[-1].outcome is Outcome.FAILED
    assert (
        ev[-1].data["failures"][0]["message"]
        == 'revision 2 is superseded before it finished: "Preparing upgrade"'
    )


def test_superseded_while_tracked_after_helm_said_complete() -> None:
    """A quick second upgrade replaced the revision before we saw it deployed: Helm's word stands, and
    what we could not judge any more is named."""
    t = tracker(1)
    t.observe(view(_rel("pending-install"), *_rolling()), k.at(0))
    ev = t.observe(view(_rel("superseded", description="Install complete"), *_rolling()), k.at(5))
    assert ev[-1].outcome is Outcome.SUCCEEDED
    assert ev[-1].data["not_judged"] == ["Deployment/shop-web (superseded before it was judged)"]


def test_multi_line_description_gives_one_line_messages_and_keeps_the_original() -> None:
    description = (
        'Upgrade "shop" failed: resource not ready, name: shop-web, Updated: 1/3\ncontext deadline exceeded'
    )
    t = tracker(2)
    t.observe(view(_rel("pending-upgrade", 2)), k.at(0))
    ev = t.observe(view(_rel("failed", 2, description=description)), k.at(300))
    [failure] = of_type(ev, EventType.FAILURE)
    assert "\n" not in failure.message and "Updated: 1/3 context deadline exceeded" in failure.message
    assert failure.data["message"] == f'Helm marked the release failed: "{description}"'
    verdict = ev[-1]
    assert "\n" not in verdict.message and "\n" not in verdict.data["reason"]
    assert "\n" in verdict.data["failures"][0]["message"]
    assert all("\n" not in line for line in t.summary().failures)


def test_a_multi_line_progress_reason_keeps_its_original_in_data() -> None:
    cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "shop-tls"},
        "spec": {},
    }
    rel = release(1, "pending-install", manifest=[cert])
    live = k.custom_resource(
        "Certificate",
        "shop-tls",
        api_version="cert-manager.io/v1",
        conditions=[k.cond("Ready", "False", "Failed", "order failed:\n  429 rate limited")],
    )
    t = tracker()
    ev = t.observe(view(rel, live, kinds=("Certificate.cert-manager.io",)), k.at(1))
    [progress] = of_type(ev, EventType.RESOURCE_PROGRESS)
    assert progress.message == "shop-tls: Ready=False (Failed): order failed: 429 rate limited"
    original = "shop-tls: Ready=False (Failed): order failed:\n  429 rate limited"
    assert progress.data["original_message"] == original
