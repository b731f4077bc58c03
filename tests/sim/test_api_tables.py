"""Server-side Table rows, as kubectl prints them."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.sim import tables

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _cells(key: str, obj: dict) -> dict[str, object]:
    table = tables.table(key, [obj], now=NOW)
    return {c["name"]: v for c, v in zip(table["columnDefinitions"], table["rows"][0]["cells"], strict=True)}


def test_pod_restarts_say_when_and_wide_columns() -> None:
    terminated = {"terminated": {"exitCode": 1, "finishedAt": "2026-01-02T03:04:00Z"}}
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2026-01-02T03:00:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "readinessGates": [{"conditionType": "x/ok"}]},
        "status": {
            "phase": "Running",
            "nominatedNodeName": "node-2",
            "conditions": [{"type": "x/ok", "status": "True"}],
            "containerStatuses": [
                {"name": "a", "restartCount": 2, "lastState": terminated, "ready": True},
                {"name": "b", "restartCount": 1, "lastState": {"terminated": {
                    "exitCode": 1, "finishedAt": "2026-01-02T03:03:00Z"}}},
            ],
        },
    }
    cells = _cells("/pods", pod)
    assert cells["Restarts"] == "3 (5s ago)"
    assert (cells["Nominated Node"], cells["Readiness Gates"]) == ("node-2", "1/1")
    pod["status"]["containerStatuses"] = [{"name": "a", "restartCount": 0}]
    pod["spec"].pop("readinessGates")
    cells = _cells("/pods", pod)
    assert (cells["Restarts"], cells["Readiness Gates"], cells["Ready"]) == ("0", "<none>", "0/2")


def test_replicaset_selector_and_daemonset_node_selector() -> None:
    template = {"spec": {"nodeSelector": {"kubernetes.io/os": "linux", "disk": "ssd"},
                         "containers": [{"name": "agent", "image": "agent:1"}]}}
    spec = {"selector": {"matchLabels": {"app": "agent"}}, "template": template}
    meta = {"name": "x", "creationTimestamp": "2026-01-02T03:00:00Z"}
    ds = _cells("apps/daemonsets", {"metadata": meta, "spec": spec, "status": {}})
    assert ds["Node Selector"] == "disk=ssd,kubernetes.io/os=linux" and ds["Selector"] == "app=agent"
    rs = _cells("apps/replicasets", {"metadata": meta, "spec": spec, "status": {}})
    assert (rs["Selector"], rs["Images"]) == ("app=agent", "agent:1")
