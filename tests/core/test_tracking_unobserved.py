"""Kinds the adapter never watched (RBAC may forbid a CRD's kind): visible, never silently "done"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.core.events import Outcome
from bot.core.releases import Release
from tests.core import k8s_objects as k
from tests.core.test_tracking_support import KINDS, manifest_deployment, release, tracker, view

CERT_MANIFEST = {
    "apiVersion": "cert-manager.io/v1",
    "kind": "Certificate",
    "metadata": {"name": "shop-tls"},
    "spec": {"secretName": "shop-tls", "dnsNames": ["shop.example.com"], "issuerRef": {"name": "le"}},
}
CERT = "Certificate.cert-manager.io"  # a custom kind is keyed by kind and group in a view


def _rel(status: str = "pending-install") -> Release:
    return release(1, status, manifest=[manifest_deployment("shop-web", 2), CERT_MANIFEST])


def _web() -> list[dict[str, Any]]:
    dep = k.deployment("shop-web", replicas=2)
    rs = k.replica_set_for(dep)
    return [dep, rs, *(k.pod_for(rs, f"p{i}", containers=[k.running("shop-web")]) for i in range(2))]


def _cert(ready: bool) -> dict[str, Any]:
    condition = (
        k.cond("Ready", "True", "Ready", "Certificate is up to date", observed_generation=1)
        if ready
        else k.cond("Ready", "False", "Issuing", "Issuing certificate as Secret does not exist")
    )
    return k.custom_resource(
        "Certificate",
        "shop-tls",
        api_version="cert-manager.io/v1",
        conditions=[condition],
        observed_generation=1,
    )


def test_success_names_a_waited_kind_that_was_never_watched() -> None:
    t = tracker()
    t.observe(view(_rel()), k.at(0))
    ev = t.observe(view(_rel("deployed"), *_web()), k.at(20))
    verdict = ev[-1]
    assert verdict.outcome is Outcome.SUCCEEDED
    assert verdict.message == (
        "install of shop revision 1 succeeded in 20s; not judged: Certificate/shop-tls (not watched)"
    )
    assert verdict.data["not_judged"] == ["Certificate/shop-tls (not watched)"]
    summary = t.summary()
    assert {w.name: w.state for w in summary.workloads} == {"shop-web": "current", "shop-tls": "unobserved"}
    assert summary.verdict is not None
    assert summary.verdict.not_judged == ("Certificate/shop-tls (not watched)",)


def test_a_clean_success_says_nothing_was_left_unjudged() -> None:
    t = tracker()
    ev = t.observe(view(_rel("deployed"), *_web(), _cert(True), kinds=(*KINDS, CERT)), k.at(5))
    assert ev[-1].outcome is Outcome.SUCCEEDED and ev[-1].data["not_judged"] == []
    assert "not judged" not in ev[-1].message


def test_a_watched_kind_must_be_current() -> None:
    t = tracker(timeout=timedelta(minutes=1))
    kinds = (*KINDS, CERT)
    ev = t.observe(view(_rel("deployed"), *_web(), _cert(False), kinds=kinds), k.at(5))
    assert not t.done
    ev = t.observe(view(_rel("deployed"), *_web(), _cert(False), kinds=kinds), k.at(61))
    assert ev[-1].outcome is Outcome.TIMED_OUT
    assert "Certificate/shop-tls (Ready=False (Issuing): Issuing certificate" in ev[-1].data["reason"]


def test_a_kind_watched_later_is_judged_from_then_on() -> None:
    """The adapter may start a kind's watch after the first views: "unobserved" is not final."""
    t = tracker()
    t.observe(view(_rel()), k.at(0))
    assert {w.name: w.state for w in t.summary().workloads}["shop-tls"] == "unobserved"
    kinds = (*KINDS, CERT)
    ev = t.observe(view(_rel("deployed"), *_web(), _cert(False), kinds=kinds), k.at(10))
    assert not t.done and ev
    assert {w.name: w.state for w in t.summary().workloads}["shop-tls"] == "in_progress"
    # its watch breaks for a view: still not done
    assert t.observe(view(_rel("deployed"), *_web()), k.at(12)) == [] and not t.done
    ev = t.observe(view(_rel("deployed"), *_web(), _cert(True), kinds=kinds), k.at(15))
    assert ev[-1].outcome is Outcome.SUCCEEDED and ev[-1].data["not_judged"] == []
