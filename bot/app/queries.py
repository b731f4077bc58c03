"""Read-only answers: status, history, help, the release list, a deploy's plan and a rollback's preflight.

They read Helm's records through the cluster port (the shared Secret informer, no helm process) and
helmbot's own records from the store, and they never show a chart value: plans list changed keys, with
values only for keys the release lets users set.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bot.app.commands import CommandError
from bot.app.ports import Actor, Clock, ClusterPort, HelmPort, Target
from bot.app.replies import Reply
from bot.app.requests import CheckedRequest, resolve, target_of
from bot.app.views import HelpView, HistoryView, PlanView, RevisionLine, StatusView
from bot.config import Config, ReleaseSettings, freeze_active
from bot.core.plans import (
    RenderedChart,
    default_rollback_target,
    plan_deploy,
    plan_lines,
    plan_rollback,
    preflight_lines,
)
from bot.core.releases import Release
from bot.errors import HelmbotError, describe_error
from bot.store import Store
from bot.store.records import DeployRecord

log = logging.getLogger("helmbot.app")

HELP = (
    (
        "/deploy RELEASE [ENV] [VERSION] [key=value ...] [--dry-run]",
        "helm upgrade --install, then follow hooks and rollout to a verdict",
    ),
    ("/rollback RELEASE [ENV] [REVISION]", "roll back (default: the last good revision), after a preflight"),
    (
        "/promote RELEASE FROM_ENV TO_ENV [--dry-run]",
        "deploy to TO_ENV the chart version and allowed values FROM_ENV runs now",
    ),
    ("/helmbot status RELEASE [ENV]", "the release's current revision, what runs, who holds it"),
    ("/helmbot history RELEASE [ENV]", "revisions with who deployed them and helmbot's verdict"),
    ("/helmbot releases", "the releases you may deploy"),
)


@dataclass(frozen=True)
class Preflight:
    title: str
    lines: tuple[str, ...]
    revision: int
    hazards: tuple[str, ...] = ()


class Queries:
    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        clusters: Mapping[str, ClusterPort],
        helm_for: Callable[[str], HelmPort],
        clock: Clock,
        cluster_problem: Callable[[str], str | None] = lambda name: None,
    ) -> None:
        self.config = config
        self.store = store
        self.clusters = clusters
        self.helm_for = helm_for
        self.clock = clock
        self.cluster_problem = cluster_problem  # why a cluster cannot be read now (bot.app.fleet)

    def settings_for(self, record: DeployRecord) -> ReleaseSettings | None:
        for settings in self.config.releases:
            if (settings.cluster, settings.namespace, settings.name) == (
                record.cluster,
                record.namespace,
                record.release,
            ):
                return settings
        return None

    def _history(self, target: Target) -> list[Release]:
        cluster = self.clusters[target.cluster]
        out = []
        for head in cluster.revisions(target.namespace, target.release):
            release = cluster.release(target.namespace, target.release, head.revision)
            if release is not None:
                out.append(release)
        return out

    def current_revision(self, record: DeployRecord) -> int | None:
        """The release's newest stored revision (what a Roll back button would roll back from)."""
        heads = list(self.clusters[record.cluster].revisions(record.namespace, record.release))
        return heads[-1].revision if heads else None

    def rollback_target(self, record: DeployRecord) -> int | None:
        """The last good revision before the deploy's (a Roll back button restores it)."""
        target = Target(record.cluster, record.namespace, record.release)
        history = self._history(target)
        upto = [r for r in history if record.revision is None or r.revision <= record.revision]
        # the newest of `upto` (the deploy's own) is never the target
        return default_rollback_target(upto, bad=self._judged_bad(target))

    def _judged_bad(self, target: Target) -> set[int]:
        """Revisions helmbot followed to a failed or timed-out verdict."""
        return {r.revision for r in self.store.recent_deploys(*_key(target), limit=100)
                if r.revision is not None and r.status in ("failed", "timed_out")}

    # -- views --------------------------------------------------------------------------------------------

    def help(self, actor: Actor) -> Reply:
        mine = tuple(s.label for s in self.config.releases if s.may_deploy(actor.user_id, actor.groups))
        return Reply.info("helmbot commands", card=HelpView(HELP, mine))

    def release_list(self, actor: Actor) -> Reply:
        lines = []
        for s in self.config.releases:
            may = "you may deploy" if s.may_deploy(actor.user_id, actor.groups) else "read only"
            lines.append(
                f"{s.label}: {s.namespace}"
                + (f" on {s.cluster}" if len(self.config.clusters) > 1 else "")
                + f" · <#{s.channel}> · {may}"
            )
        return Reply.info("releases helmbot manages", card=PlanView("Releases", tuple(lines)))

    def status(self, release: str, environment: str | None) -> Reply:
        if environment is None:
            matches = [s for s in self.config.releases if s.name == release]
            if len(matches) > 1:
                views = tuple(self._status_view(s) for s in matches)
                return Reply.info(f"status of {release}", card=views)
        settings = resolve(self.config, release, environment)
        return Reply.info(f"status of {settings.label}", card=self._status_view(settings))

    def _status_view(self, settings: ReleaseSettings) -> StatusView:
        target = target_of(settings)
        cluster_name = settings.cluster if len(self.config.clusters) > 1 else None
        base = StatusView(
            label=settings.label,
            namespace=settings.namespace,
            cluster=cluster_name,
            revision=None,
            status=None,
            chart=None,
            app_version=None,
            updated=None,
        )
        freeze = freeze_active(self.config.freezes, settings.name, settings.environment, self.clock())
        freeze_text = (freeze.reason or "deploy freeze") if freeze is not None else None
        problem = self.cluster_problem(target.cluster)
        if problem is not None:  # answer at once: the other environments are still worth reading
            return replace(base, freeze=freeze_text, error=problem)
        try:
            heads = list(self.clusters[target.cluster].revisions(target.namespace, target.release))
        except HelmbotError as exc:
            return replace(base, freeze=freeze_text, error=describe_error(exc))
        lock = self.store.get_lock(*_key(target))
        lock_text = f"held by <@{lock.holder}> since {lock.since:%H:%M} UTC" if lock is not None else None
        recent = self.store.recent_deploys(*_key(target), limit=5)
        running = next((r for r in recent if r.status in ("pending", "running")), None)
        finished = next((r for r in recent if r.status not in ("pending", "running")), None)
        running_text = (
            f"{running.operation} to revision {running.revision or '…'} by "
            f"{_who(running.requested_by)}, {_age(self.clock(), running.created_at)} in"
            if running is not None
            else None
        )
        verdict = (
            f"revision {finished.revision}: {finished.status.replace('_', ' ')}"
            if finished is not None
            else None
        )
        if not heads:
            return replace(
                base, status="not installed", running=running_text, lock=lock_text, freeze=freeze_text
            )
        newest = heads[-1]
        release = self.clusters[target.cluster].release(target.namespace, target.release, newest.revision)
        return replace(
            base,
            revision=newest.revision,
            status=newest.status,
            chart=f"{release.chart_name}-{release.chart_version}" if release else None,
            app_version=release.app_version if release else None,
            updated=release.last_deployed if release else None,
            running=running_text,
            lock=lock_text,
            last_verdict=verdict,
            freeze=freeze_text,
        )

    def history(self, release: str, environment: str | None) -> Reply:
        settings = resolve(self.config, release, environment)
        target = target_of(settings)
        problem = self.cluster_problem(target.cluster)
        if problem is not None:
            raise CommandError(f"{settings.label}: {problem}")
        ours = {r.revision: r for r in self.store.recent_deploys(*_key(target), limit=50)}
        lines = []
        for rel in reversed(self._history(target)[-20:]):
            record = ours.get(rel.revision)
            lines.append(
                RevisionLine(
                    revision=rel.revision,
                    status=str(rel.status.value if hasattr(rel.status, "value") else rel.status),
                    chart=f"{rel.chart_name}-{rel.chart_version}",
                    app_version=rel.app_version,
                    updated=rel.last_deployed,
                    description=rel.description,
                    by=record.requested_by if record is not None else None,
                    outcome=record.status if record is not None else None,
                    deploy_id=record.id if record is not None else None,
                )
            )
        return Reply.info(
            f"history of {settings.label}", card=HistoryView(settings.label, settings.namespace, tuple(lines))
        )

    # -- plans ----------------------------------------------------------------------------------------

    def plan(self, request: CheckedRequest, actor: Actor) -> Reply:
        """The dry run: render the chart with helm and compare it with the current release."""
        settings, target, job = request.settings, request.target, request.job
        helm = self.helm_for(target.cluster)
        history = self._history(target)
        current = history[-1] if history else None
        chart = job.chart or settings.chart
        try:
            info = helm.chart_info(target, chart=chart, version=job.version)
            text = helm.render(
                target,
                chart=chart,
                version=job.version,
                values=dict(job.values),
                values_files=list(job.values_files),
                is_upgrade=current is not None,
                string_values=dict(job.string_values),
            )
            values_from = helm.get_values(target) if current is not None else None
            rendered = RenderedChart.from_template(
                text, namespace=target.namespace, chart_name=info.name, chart_version=info.version
            )
            values_to = copy.deepcopy(values_from or {})  # the command's values go on a copy, nested too
            for key, value in (*job.values, *job.string_values):
                _set_dotted(values_to, key, value)
            plan = plan_deploy(
                current,
                rendered,
                chart_version_to=info.version,
                app_version_to=info.app_version,
                values_from=values_from,
                values_to=values_to,
                shown_keys=settings.allows_value,
                helm_timeout=settings.helm_timeout,
                install=current is None,
                release=target.release,
                namespace=target.namespace,
            )
        except HelmbotError as exc:
            return Reply.refused(f"cannot plan {settings.label}: {describe_error(exc)}")
        lines = tuple(plan_lines(plan))
        hazards = tuple(f"{h.message} — {h.fix}" for h in plan.hazards)
        return Reply.info(
            f"plan for {settings.label}",
            card=PlanView(f"Plan for {settings.label}: {request.summary}", lines, hazards),
        )

    def rollback_preflight(self, request: CheckedRequest) -> Preflight | Reply:
        settings, target, job = request.settings, request.target, request.job
        history = self._history(target)
        if not history:
            return Reply.refused(f"{settings.label} is not installed: nothing to roll back")
        current = history[-1]
        revision = (job.revision if job.revision is not None
                    else default_rollback_target(history, bad=self._judged_bad(target)))
        if revision is None:
            return Reply.refused(f"there is no earlier good revision of {settings.label} to roll back to")
        target_release = next((r for r in history if r.revision == revision), None)
        if target_release is None:
            known = ", ".join(str(r.revision) for r in history[-10:])
            return Reply.refused(f"{settings.label} has no revision {revision} (stored: {known})")
        if revision == current.revision:
            return Reply.refused(f"revision {revision} is the current one")
        helm = self.helm_for(target.cluster)
        values_from: dict[str, Any] | None
        try:
            values_from = helm.get_values(target)
            values_to = helm.get_values(target, revision=revision)
        except HelmbotError as exc:
            log.warning("rollback preflight without values: %s", describe_error(exc))
            values_from, values_to = None, {}
        preflight = plan_rollback(
            current,
            target_release,
            values_from=values_from,
            values_to=values_to,
            shown_keys=settings.allows_value,
            helm_timeout=settings.helm_timeout,
        )
        return Preflight(
            title=f"Roll back {settings.label} from revision {current.revision} to {revision}?",
            lines=tuple(preflight_lines(preflight)),
            revision=revision,
            hazards=tuple(f"{h.message} — {h.fix}" for h in preflight.hazards),
        )


def _key(target: Target) -> tuple[str, str, str]:
    return target.cluster, target.namespace, target.release


def _who(requested_by: str | None) -> str:
    if requested_by and requested_by[:1] in "UW" and requested_by[1:].isalnum():
        return f"<@{requested_by}>"
    return requested_by or "someone"


def _age(now: datetime, since: datetime) -> str:
    from bot.core.durations import format_duration

    return format_duration(max(now - since, now - now))


def _set_dotted(values: dict[str, object], key: str, value: object) -> None:
    node = values
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
