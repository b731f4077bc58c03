"""/promote RELEASE FROM TO: deploy to TO the chart version and allowed values FROM runs now.

"Runs now" is the newest revision of FROM when Helm marked it deployed and helmbot, if it followed it, did
not judge it failed: a revision still rolling out, failed, or judged failed is not promoted (the refusal
names it), so nobody ships to prod what staging could not run. The values are the user-supplied ones of that
revision in Helm's release record (`helm get values --revision N`); only keys the destination lets users set
are carried (the others are named, never shown), each with its type: strings as strings (`--set-string`),
numbers and booleans as such (`--set`). The request then goes through the same checks as `/deploy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.app.commands import CommandError, PromoteCommand
from bot.app.operations import HelmJob
from bot.app.ports import Actor, ClusterPort, HelmPort
from bot.app.requests import CheckedRequest, approval_reason, check_deployer, resolve, target_of
from bot.config import Config, ReleaseSettings
from bot.store import Store


@dataclass(frozen=True)
class Carried:
    """The source's values split the way helm must be given them."""

    values: tuple[tuple[str, str], ...] = ()  # --set: numbers, booleans, null
    string_values: tuple[tuple[str, str], ...] = ()  # --set-string: strings stay strings
    left_out: tuple[str, ...] = ()  # keys not carried (not allowed at the destination, or not expressible)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(sorted(k for k, _ in (*self.values, *self.string_values)))


def flatten_values(values: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Dotted keys (`a.b`, `list[0].c`) to leaves, as allowed_values and `--set` name them."""
    if isinstance(values, Mapping) and values:
        out: list[tuple[str, Any]] = []
        for key, value in values.items():
            out += flatten_values(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(values, list) and values:
        return [pair for i, item in enumerate(values) for pair in flatten_values(item, f"{prefix}[{i}]")]
    return [(prefix, values)] if prefix else []


def carry_values(values: Mapping[str, Any], allows: Callable[[str], bool]) -> Carried:
    typed: list[tuple[str, str]] = []
    strings: list[tuple[str, str]] = []
    left_out: list[str] = []
    for key, value in flatten_values(values):
        if not allows(key):
            left_out.append(key)
        elif isinstance(value, str):
            strings.append((key, value))
        elif isinstance(value, bool):
            typed.append((key, "true" if value else "false"))
        elif value is None:
            typed.append((key, "null"))
        elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            typed.append((key, str(int(value))))
        else:  # a fraction, an empty list or map: --set cannot say it exactly
            left_out.append(key)
    return Carried(tuple(typed), tuple(strings), tuple(left_out))


@dataclass(frozen=True)
class SourceRevision:
    revision: int
    chart_version: str
    deploy_id: str | None  # helmbot's record of it, when helmbot deployed or noticed it


def source_revision(cluster: ClusterPort, store: Store, source: ReleaseSettings) -> SourceRevision:
    """What the source environment runs now; CommandError when that cannot be promoted."""
    target = target_of(source)
    heads = list(cluster.revisions(target.namespace, target.release))
    if not heads or heads[-1].status == "uninstalled":
        raise CommandError(f"{source.label} is not installed: nothing to promote")
    newest = heads[-1]
    if newest.status != "deployed":
        state = "is still in progress" if newest.status.startswith("pending") else f"is {newest.status}"
        raise CommandError(
            f"{source.label} revision {newest.revision} {state}: promote once it runs (Helm status "
            "deployed) and its rollout succeeded"
        )
    record = store.find_deploy(target.cluster, target.namespace, target.release, newest.revision)
    if record is not None and record.status in ("pending", "running"):
        raise CommandError(
            f"{source.label} revision {newest.revision} is still rolling out: promote once it succeeded"
        )
    if record is not None and record.status in ("failed", "timed_out"):
        raise CommandError(
            f"helmbot judged {source.label} revision {newest.revision} {record.status.replace('_', ' ')}: "
            "fix it there before promoting it"
        )
    release = cluster.release(target.namespace, target.release, newest.revision)
    if release is None:
        raise CommandError(f"{source.label} revision {newest.revision} cannot be read: try again")
    return SourceRevision(newest.revision, release.chart_version, record.id if record is not None else None)


def promotion_request(
    config: Config,
    command: PromoteCommand,
    actor: Actor,
    *,
    clusters: Mapping[str, ClusterPort],
    helm_for: Callable[[str], HelmPort],
    store: Store,
    now: datetime,
    ensure_reachable: Callable[[ReleaseSettings], None] = lambda settings: None,
) -> CheckedRequest:
    source = resolve(config, command.release, command.from_environment)
    dest = resolve(config, command.release, command.to_environment)
    check_deployer(dest, actor)
    ensure_reachable(source)
    ensure_reachable(dest)
    running = source_revision(clusters[source.cluster], store, source)
    values = helm_for(source.cluster).get_values(target_of(source), revision=running.revision)
    carried = carry_values(values or {}, dest.allows_value)
    job = HelmJob(
        operation="upgrade",
        chart=dest.chart,
        version=running.chart_version,
        values=carried.values,
        string_values=carried.string_values,
        values_files=tuple(dest.values_files),
        helm_timeout=dest.helm_timeout,
        create_namespace=dest.create_namespace,
    )
    keys = ", ".join(carried.keys) or "no values"
    left = f"; not carried: {', '.join(carried.left_out[:10])}" if carried.left_out else ""
    summary = (
        f"promote {source.label} revision {running.revision} (chart {running.chart_version}; {keys}{left}) "
        f"to {dest.label}"
    )
    promoted_from = {
        "cluster": source.cluster,
        "namespace": source.namespace,
        "release": source.name,
        "environment": source.environment,
        "label": source.label,
        "revision": running.revision,
        "chart_version": running.chart_version,
        "deploy_id": running.deploy_id,
    }
    reason = approval_reason(config, dest, "upgrade", now)
    return CheckedRequest(dest, target_of(dest), job, reason, summary, promoted_from=promoted_from)


__all__ = [
    "Carried",
    "SourceRevision",
    "carry_values",
    "flatten_values",
    "promotion_request",
    "source_revision",
]
