"""From a typed command to a checked request: which release, may this person do it, which values.

Every check runs before anything else happens, and each refusal says what to do instead without echoing a
value: unknown release (with the ones that exist), ambiguous environment, no permission, a value key that is
not allowed (named, with the allowed ones), a deploy freeze.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.app.commands import CommandError, DeployCommand, RollbackCommand
from bot.app.operations import HelmJob
from bot.app.ports import Actor, Target
from bot.config import Config, ConfigError, ReleaseSettings, freeze_active


@dataclass(frozen=True)
class CheckedRequest:
    settings: ReleaseSettings
    target: Target
    job: HelmJob
    needs_approval: str | None = None  # why ("protected release", "deploy freeze: ...") or None
    summary: str = ""  # what it does, without values: "chart 1.5.0, sets image.tag"
    promoted_from: dict[str, Any] | None = None  # a promotion's source revision (bot.app.promotion)


def resolve(config: Config, release: str, environment: str | None) -> ReleaseSettings:
    try:
        return config.find_release(release, environment)
    except ConfigError as exc:
        raise CommandError(exc.user_message()) from None
    except LookupError as exc:
        raise CommandError(str(exc)) from None


def target_of(settings: ReleaseSettings) -> Target:
    return Target(settings.cluster, settings.namespace, settings.name)


def check_deployer(settings: ReleaseSettings, actor: Actor) -> None:
    if not settings.may_deploy(actor.user_id, actor.groups):
        raise CommandError(
            f"you may not deploy or roll back {settings.label}: ask someone in its deployers "
            "list (config: releases[].deployers)"
        )


def check_values(settings: ReleaseSettings, values: Sequence[tuple[str, str]]) -> None:
    refused = [key for key, _ in values if not settings.allows_value(key)]
    if refused:
        allowed = ", ".join(settings.allowed_values) or "none"
        names = ", ".join(refused)
        raise CommandError(
            f"value key{'s' if len(refused) > 1 else ''} {names} "
            f"{'are' if len(refused) > 1 else 'is'} not allowed for {settings.label} "
            f"(allowed: {allowed})"
        )


def describe_deploy(command: DeployCommand, settings: ReleaseSettings) -> str:
    version = command.chart_version or settings.version or "the newest chart"
    parts = [f"chart {version}" if version[0].isdigit() or version.startswith("v") else version]
    if command.values:
        parts.append("sets " + ", ".join(k for k, _ in command.values))
    return ", ".join(parts)


def check_deploy(config: Config, command: DeployCommand, actor: Actor, now: datetime) -> CheckedRequest:
    settings = resolve(config, command.release, command.environment)
    check_deployer(settings, actor)
    check_values(settings, command.values)
    job = HelmJob(
        operation="upgrade",
        chart=settings.chart,
        version=command.chart_version or settings.version,
        values=command.values,
        values_files=tuple(settings.values_files),
        helm_timeout=settings.helm_timeout,
        create_namespace=settings.create_namespace,
        wait=getattr(settings, "wait", False),
    )
    reason = approval_reason(config, settings, "upgrade", now)
    return CheckedRequest(settings, target_of(settings), job, reason, describe_deploy(command, settings))


def approval_reason(config: Config, settings: ReleaseSettings, operation: str, now: datetime) -> str | None:
    """Why this operation needs a second person now ("deploy freeze: ...", "protected release"), or None.
    Asked again whenever a stored request is about to run: a freeze may have begun since it was made.
    Rollbacks stay allowed during a freeze: they are how a bad deploy is undone."""
    if operation != "rollback":
        freeze = freeze_active(config.freezes, settings.name, settings.environment, now)
        if freeze is not None:
            return f"deploy freeze: {freeze.reason}" if freeze.reason else "deploy freeze"
    return "protected release" if settings.protected else None


def check_rollback(config: Config, command: RollbackCommand, actor: Actor) -> CheckedRequest:
    settings = resolve(config, command.release, command.environment)
    check_deployer(settings, actor)
    job = HelmJob(
        operation="rollback",
        revision=command.revision,
        helm_timeout=settings.helm_timeout,
        wait=getattr(settings, "wait", False),
    )
    reason = "protected release" if settings.protected else None
    what = f"roll back to revision {command.revision}" if command.revision else "roll back"
    return CheckedRequest(settings, target_of(settings), job, reason, what)


def job_to_dict(job: HelmJob) -> dict[str, Any]:
    """For a stored pending request (approval, confirmation). Values are kept: they are what will run;
    the store is the bot's own, never shown."""
    return {
        "operation": job.operation,
        "chart": job.chart,
        "version": job.version,
        "values": [list(v) for v in job.values],
        "string_values": [list(v) for v in job.string_values],
        "values_files": list(job.values_files),
        "revision": job.revision,
        "helm_timeout": job.helm_timeout.total_seconds(),
        "create_namespace": job.create_namespace,
        "wait": job.wait,
    }


def job_from_dict(raw: dict[str, Any]) -> HelmJob:
    return HelmJob(
        operation=str(raw["operation"]),
        chart=raw.get("chart"),
        version=raw.get("version"),
        values=tuple((str(k), str(v)) for k, v in raw.get("values") or ()),
        string_values=tuple((str(k), str(v)) for k, v in raw.get("string_values") or ()),
        values_files=tuple(raw.get("values_files") or ()),
        revision=raw.get("revision"),
        helm_timeout=timedelta(seconds=float(raw.get("helm_timeout") or 300)),
        create_namespace=bool(raw.get("create_namespace")),
        wait=bool(raw.get("wait")),
    )
