"""A stored deploy record as the parent card's facts: who, what changed, where, and what a Roll back
button would restore (only while the revision is the release's current one and a good one exists)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from bot.app.queries import Queries
from bot.config import Config
from bot.errors import HelmbotError
from bot.kube.cluster import KubeCluster
from bot.slack.render import DeployCard
from bot.store.records import DeployRecord

FINISHED_BADLY = ("failed", "timed_out")


class CardMaker:
    def __init__(
        self,
        *,
        config: Config,
        queries: Queries,
        clusters: Mapping[str, KubeCluster],
        permalink: Callable[[str, str], str | None] = lambda channel, ts: None,
        cluster_problem: Callable[[str], str | None] = lambda name: None,
    ) -> None:
        self.config = config
        self.queries = queries
        self.clusters = clusters
        self.permalink = permalink  # (channel, ts) -> a link to a posted message (chat.getPermalink)
        self.cluster_problem = cluster_problem  # a card of a cluster that is down is drawn without asking it
        self._links: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def label(self, record: DeployRecord) -> str:
        settings = self.queries.settings_for(record)
        if settings is not None:
            return settings.label
        return f"{record.release} ({record.environment})" if record.environment else record.release

    def card_for(self, record: DeployRecord) -> DeployCard:
        return DeployCard(
            deploy_id=record.id,
            release_label=self.label(record),
            namespace=record.namespace,
            operation=record.operation,
            origin=record.origin,
            requested_by=record.requested_by or "someone",
            started_at=record.created_at,
            revision=record.revision,
            previous_revision=record.previous_revision,
            cluster=record.cluster if len(self.config.clusters) > 1 else None,
            chart_from=record.chart_from,
            chart_to=record.chart,
            app_from=record.app_from,
            app_to=record.app_version,
            description=record.description,
            rollback_target=self._rollback_target(record),
            logs_available=record.status in FINISHED_BADLY and bool(_captured_logs(record)),
            approved_by=self._approver(record),
            **self._promotion(record),
        )

    def _promotion(self, record: DeployRecord) -> dict[str, Any]:
        """A promotion's source, "shop (staging) revision 7", linked to that revision's own message."""
        if record.origin != "slack" or not record.request_id:
            return {}
        request = self.queries.store.get_approval(record.request_id)
        source = request.request.get("promoted_from") if request is not None else None
        if not isinstance(source, dict):
            return {}
        text = f"{source.get('label') or source.get('release')} revision {source.get('revision')}"
        origin = self.queries.store.find_deploy(
            str(source.get("cluster")), str(source.get("namespace")), str(source.get("release")),
            int(source.get("revision") or 0),
        )
        link = None
        if origin is not None and origin.channel and origin.parent_ts:
            key = (origin.channel, origin.parent_ts)
            with self._lock:
                link = self._links.get(key)
            if link is None:
                link = self.permalink(*key)
                if link is not None:
                    with self._lock:
                        self._links[key] = link
        return {"promoted_from": text, "promoted_link": link}

    def _approver(self, record: DeployRecord) -> str | None:
        """Who approved the request this deploy ran for (its request id is the approval's id)."""
        if record.origin != "slack" or not record.request_id:
            return None
        approval = self.queries.store.get_approval(record.request_id)
        if approval is None or approval.status != "approved" or approval.request.get("kind") != "approval":
            return None
        return approval.decided_by

    def _rollback_target(self, record: DeployRecord) -> int | None:
        if record.revision is None or record.status in ("pending", "running"):
            return None
        if self.queries.settings_for(record) is None:
            return None  # not a release helmbot may deploy: no button
        if self.cluster_problem(record.cluster) is not None:
            return None  # unreachable: no button now (the delivery worker must not wait on a dead cluster)
        try:
            heads = list(self.clusters[record.cluster].revisions(record.namespace, record.release))
        except (HelmbotError, KeyError):
            return None
        if not heads or heads[-1].revision != record.revision:
            return None  # superseded: rolling back "from here" would undo a later deploy
        try:
            return self.queries.rollback_target(record)
        except HelmbotError:
            return None


def _captured_logs(record: DeployRecord) -> dict[str, list[str]]:
    state = record.tracker_state or {}
    tracker = state.get("tracker") if isinstance(state, dict) else None
    logs = tracker.get("logs") if isinstance(tracker, dict) else None
    return logs if isinstance(logs, dict) else {}


def captured_logs(record: DeployRecord) -> dict[str, list[str]]:
    """ "pod/container" -> the last lines the tracker captured (they outlive a hook deleted by its policy);
    the failing containers first, and only those when the deploy has any."""
    logs = {
        str(k): [str(line) for line in v] for k, v in _captured_logs(record).items() if isinstance(v, list)
    }
    failing = [where for where in failing_containers(record) if where in logs]
    return {where: logs[where] for where in failing} if failing else logs


def failing_containers(record: DeployRecord) -> list[str]:
    """ "pod/container" of each failure the deploy's events name (FAILURE events and the verdict's list),
    first seen first."""
    found: list[str] = []
    for event in record.last_events or []:
        data = event.get("data") if isinstance(event, dict) else None
        if not isinstance(data, dict):
            continue
        failures = data.get("failures") if event.get("type") == "verdict" else [data]
        if event.get("type") not in ("failure", "verdict") or not isinstance(failures, list):
            continue
        for failure in failures:
            if isinstance(failure, dict) and failure.get("pod") and failure.get("container"):
                where = f"{failure['pod']}/{failure['container']}"
                if where not in found:
                    found.append(where)
    return found
