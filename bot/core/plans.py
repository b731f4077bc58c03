"""What a deploy or a rollback will do, before anything runs: versions, values, hooks, resources, hazards.

Pure: the caller renders the chart (bot.helm.preview) and reads the releases; this module compares them.
Values are shown only for keys the user may set (a release's ``allowed_values``): chart values can hold
secrets, and a plan goes to Slack. A hidden value is never kept on a plan object, so logging one is safe.

Helm's hook order (pkg/action/hooks.go ``hookByWeight`` after pkg/release/v1/util/kind_sorter.go): weight,
then name, then kind in install order for hooks of the same name — the kind only breaks ties of equal names.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from bot.core.hazards import Hazard, find_hazards
from bot.core.planning import Operation, hook_events, kind_rank, sort_hooks
from bot.core.planning import sort_hooks as helm_hook_order  # the one hook order (older name, kept)
from bot.core.releases import Hook, Release, ReleaseStatus
from bot.core.rendered import KEEP_ANNOTATION, ObjectKey, RenderedChart, annotations_of, object_key
from bot.errors import HelmbotError

__all__ = [
    "DeployPlan",
    "HookStep",
    "PlanError",
    "ResourceChange",
    "RollbackPreflight",
    "ValueChange",
    "base_release",
    "default_rollback_target",
    "diff_values",
    "helm_hook_order",
    "plan_deploy",
    "plan_lines",
    "plan_rollback",
    "preflight_lines",
    "shown_by_patterns",
]

ShownKeys = Callable[[str], bool]
_VALUE_LIMIT = 60
_UNESCAPED_DOT = re.compile(r"(?<!\\)\.")


class PlanError(HelmbotError):
    """The operation cannot be planned (e.g. an upgrade of a release that does not exist)."""


# ---------------------------------------------------------------------------------------------------------
# values


@dataclass(frozen=True)
class ValueChange:
    key: str                                      # dotted, "." inside a key escaped as "\." (as --set does)
    change: Literal["added", "removed", "changed"]
    before: str | None = None                     # compact JSON, only for shown keys
    after: str | None = None
    hidden: bool = False

    @property
    def text(self) -> str:
        if self.hidden:
            return f"{self.key}: {self.change} (value hidden)"
        if self.change == "added":
            return f"{self.key}: added {self.after}"
        if self.change == "removed":
            return f"{self.key}: removed (was {self.before})"
        return f"{self.key}: {self.before} → {self.after}"


def shown_by_patterns(patterns: Iterable[str]) -> ShownKeys:
    """A release's allowed_values as a predicate: a glob matches a key and everything under it."""
    pats = tuple(patterns)

    def shown(key: str) -> bool:
        parts = _UNESCAPED_DOT.split(key)
        prefixes = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        return any(fnmatch.fnmatchcase(p, pat) for p in prefixes for pat in pats)

    return shown


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        key = prefix + str(k).replace(".", "\\.")
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def diff_values(values_from: Mapping[str, Any] | None, values_to: Mapping[str, Any],
                shown_keys: ShownKeys) -> tuple[ValueChange, ...]:
    """Leaf-by-leaf changes; a value is kept (as text) only when ``shown_keys(key)`` says so."""
    before, after = _flatten(values_from or {}), _flatten(values_to)
    changes: list[ValueChange] = []
    for key in sorted(before.keys() | after.keys()):
        if key in before and key in after and before[key] == after[key]:
            continue
        change: Literal["added", "removed", "changed"] = (
            "added" if key not in before else "removed" if key not in after else "changed")
        if not shown_keys(key):
            changes.append(ValueChange(key, change, hidden=True))
            continue
        changes.append(ValueChange(key, change, before=_show(before[key]) if key in before else None,
                                   after=_show(after[key]) if key in after else None))
    return tuple(changes)


# ---------------------------------------------------------------------------------------------------------
# hooks and resources


@dataclass(frozen=True)
class HookStep:
    event: str                     # "pre-upgrade"
    position: int                  # 1-based within its event
    hook: Hook

    @property
    def subject(self) -> str:
        return f"{self.hook.kind}/{self.hook.name}"

    @property
    def weight(self) -> int:
        return self.hook.weight

    @property
    def delete_policies(self) -> tuple[str, ...]:
        return self.hook.delete_policies

    @property
    def note(self) -> str:
        """What its delete policy does to the evidence (a Job's or Pod's logs)."""
        if self.hook.kind not in ("Job", "Pod"):
            return ""
        notes = []
        if "hook-succeeded" in self.delete_policies:
            notes.append("deleted as soon as it succeeds, logs included")
        if "hook-failed" in self.delete_policies:
            notes.append("deleted when it fails: its logs are lost")
        if "before-hook-creation" in self.delete_policies:
            notes.append(f"replaces the previous run's {self.hook.kind}")
        return "; ".join(notes)

    @property
    def text(self) -> str:
        note = f" — {self.note}" if self.note else ""
        policies = ",".join(p or '""' for p in self.delete_policies) or "none"
        return f"{self.position}. {self.subject} (weight {self.weight}, delete: {policies}){note}"


def _hook_steps(hooks: Sequence[Hook], operation: Operation) -> tuple[HookStep, ...]:
    steps: list[HookStep] = []
    for event in hook_events(operation):
        ordered = sort_hooks(h for h in hooks if event in h.events)
        steps += [HookStep(event, i, h) for i, h in enumerate(ordered, 1)]
    return tuple(steps)


@dataclass(frozen=True)
class ResourceChange:
    kind: str
    name: str
    namespace: str
    change: Literal["added", "removed", "changed", "unchanged"]
    note: str = ""                 # "now a pre-upgrade hook", "kept: helm.sh/resource-policy keep"

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"


def _resource_changes(current: Sequence[dict[str, Any]], new: RenderedChart) -> tuple[ResourceChange, ...]:
    old: dict[ObjectKey, dict[str, Any]] = {object_key(o): o for o in current}
    hooks = {(h.api_version.rpartition("/")[0], h.kind, h.namespace, h.name): h for h in new.hooks}
    out: list[ResourceChange] = []
    seen: set[ObjectKey] = set()
    for obj in new.resources:
        key = object_key(obj)
        seen.add(key)
        change: Literal["added", "changed", "unchanged"] = (
            "added" if key not in old else "unchanged" if old[key] == obj else "changed")
        out.append(ResourceChange(key[1], key[3], key[2], change))
    for key, obj in old.items():
        if key in seen:
            continue
        note = ""
        if key in hooks:
            note = f"now a {','.join(hooks[key].events)} hook"
        elif str(annotations_of(obj).get(KEEP_ANNOTATION, "")).strip() == "keep":
            note = "kept in the cluster (helm.sh/resource-policy: keep), no longer managed"
        out.append(ResourceChange(key[1], key[3], key[2], "removed", note))
    return tuple(sorted(out, key=lambda c: (kind_rank(c.kind), c.name)))


def _counts(changes: Sequence[ResourceChange]) -> dict[str, int]:
    return {c: sum(1 for r in changes if r.change == c) for c in ("added", "changed", "removed", "unchanged")}


# ---------------------------------------------------------------------------------------------------------
# deploy


@dataclass(frozen=True)
class DeployPlan:
    release: str
    namespace: str
    operation: Operation                     # INSTALL or UPGRADE
    revision_from: int | None                # the release Helm upgrades from; None for an install
    chart_name: str
    chart_version_from: str | None
    chart_version_to: str
    app_version_from: str | None
    app_version_to: str
    values: tuple[ValueChange, ...]
    hooks: tuple[HookStep, ...]              # pre-event hooks then post-event hooks, in Helm's order
    resources: tuple[ResourceChange, ...]
    hazards: tuple[Hazard, ...]
    helm_timeout: timedelta
    problems: tuple[str, ...] = ()           # documents of the render that could not be read

    @property
    def resource_counts(self) -> dict[str, int]:
        return _counts(self.resources)

    @property
    def dangers(self) -> tuple[Hazard, ...]:
        return tuple(h for h in self.hazards if h.severity == "danger")


def base_release(releases: Iterable[Release]) -> Release | None:
    """The release `helm upgrade` diffs against (pkg/action/upgrade.go prepareUpgrade): the newest revision
    when it is deployed (or failed/superseded with nothing deployed), else the last deployed one; None when
    nothing is stored or the newest is uninstalled (then `upgrade --install` installs)."""
    ordered = sorted(releases, key=lambda r: r.revision)
    if not ordered or ordered[-1].status is ReleaseStatus.UNINSTALLED:
        return None
    last = ordered[-1]
    if last.status is ReleaseStatus.DEPLOYED or last.status.pending:
        return last
    deployed = [r for r in ordered if r.status is ReleaseStatus.DEPLOYED]
    return deployed[-1] if deployed else last


def plan_deploy(current: Release | None, rendered: RenderedChart, *, chart_version_to: str,
                app_version_to: str, values_from: Mapping[str, Any] | None, values_to: Mapping[str, Any],
                shown_keys: ShownKeys, helm_timeout: timedelta, install: bool, release: str = "",
                namespace: str = "") -> DeployPlan:
    """The plan of `helm upgrade [--install]` of ``rendered`` over ``current`` (see base_release).

    ``--install`` on a release that does not exist (or is uninstalled) is an install: install hooks run.
    """
    if current is not None and current.status is ReleaseStatus.UNINSTALLED and install:
        current = None
    if current is None and not install:
        raise PlanError(f"release {release or '?'} does not exist: it can only be installed")
    if current is not None and current.status.pending:
        raise PlanError(f"release {current.name} has an operation in progress (revision {current.revision} "
                        f"is {current.status.value}): helm refuses to upgrade it until that finishes")
    operation = Operation.INSTALL if current is None else Operation.UPGRADE
    hazards = find_hazards(operation, current, rendered, helm_timeout=helm_timeout)
    return DeployPlan(
        release=current.name if current else release,
        namespace=current.namespace if current else namespace,
        operation=operation,
        revision_from=current.revision if current else None,
        chart_name=rendered.chart_name or (current.chart_name if current else ""),
        chart_version_from=current.chart_version if current else None,
        chart_version_to=chart_version_to,
        app_version_from=current.app_version if current else None,
        app_version_to=app_version_to,
        values=diff_values(values_from, values_to, shown_keys),
        hooks=_hook_steps(rendered.hooks, operation),
        resources=_resource_changes(current.resources if current else (), rendered),
        hazards=tuple(hazards),
        helm_timeout=helm_timeout,
        problems=rendered.problems,
    )


# ---------------------------------------------------------------------------------------------------------
# rollback


@dataclass(frozen=True)
class RollbackPreflight:
    release: str
    namespace: str
    revision_from: int
    target_revision: int
    target_status: ReleaseStatus
    target_description: str
    chart_name_from: str
    chart_name_to: str
    chart_version_from: str
    chart_version_to: str
    app_version_from: str
    app_version_to: str
    values: tuple[ValueChange, ...]
    hooks: tuple[HookStep, ...]              # the target chart's pre-rollback then post-rollback hooks
    resources: tuple[ResourceChange, ...]
    hazards: tuple[Hazard, ...]

    @property
    def resource_counts(self) -> dict[str, int]:
        return _counts(self.resources)


def plan_rollback(current: Release, target: Release, *, values_from: Mapping[str, Any] | None,
                  values_to: Mapping[str, Any], shown_keys: ShownKeys,
                  helm_timeout: timedelta | None = None) -> RollbackPreflight:
    """What `helm rollback NAME target.revision` will do: it re-applies the target's manifest and runs the
    target's rollback hooks (pkg/action/rollback.go copies its Hooks into the new revision)."""
    if target.name != current.name or target.namespace != current.namespace:
        raise PlanError(f"revision {target.revision} belongs to {target.namespace}/{target.name}, "
                        f"not {current.namespace}/{current.name}")
    if current.status.pending:
        raise PlanError(f"release {current.name} has an operation in progress (revision {current.revision} "
                        f"is {current.status.value})")
    new = RenderedChart.from_release(target)
    return RollbackPreflight(
        release=current.name, namespace=current.namespace, revision_from=current.revision,
        target_revision=target.revision, target_status=target.status,
        target_description=target.description,
        chart_name_from=current.chart_name, chart_name_to=target.chart_name,
        chart_version_from=current.chart_version, chart_version_to=target.chart_version,
        app_version_from=current.app_version, app_version_to=target.app_version,
        values=diff_values(values_from, values_to, shown_keys),
        hooks=_hook_steps(target.hooks, Operation.ROLLBACK),
        resources=_resource_changes(current.resources, new),
        hazards=tuple(find_hazards(Operation.ROLLBACK, current, new, helm_timeout=helm_timeout)),
    )


_NOT_GOOD = ("preparing upgrade", "initial install underway")


def _good(status: str, description: str) -> bool:
    """Deployed, or superseded after a successful deploy (Helm also supersedes failed revisions: a failed
    rollback marks the revision it left 'superseded', and an upgrade supersedes a failed base; their
    descriptions still say 'failed')."""
    desc = description.strip().lower()
    return status in ("deployed", "superseded") and "failed" not in desc and not desc.startswith(_NOT_GOOD)


def default_rollback_target(releases: Iterable[Release | Mapping[str, Any]],
                            bad: Collection[int] = ()) -> int | None:
    """The last good revision before the newest one (releases, or `helm history -o json` entries).
    `bad`: revisions known to have failed although Helm kept them as deployed or superseded (helm without
    --wait marks a release deployed before its pods run; helmbot's verdict knows better)."""
    entries: list[tuple[int, str, str]] = []
    for r in releases:
        if isinstance(r, Release):
            entries.append((r.revision, r.status.value, r.description))
        else:
            entries.append((int(r.get("revision") or r.get("version") or 0), str(r.get("status") or ""),
                            str(r.get("description") or "")))
    if not entries:
        return None
    newest = max(rev for rev, _, _ in entries)
    good = [rev for rev, status, desc in entries if rev < newest and rev not in bad and _good(status, desc)]
    return max(good) if good else None


# ---------------------------------------------------------------------------------------------------------
# text


def _arrow(before: str | None, after: str) -> str:
    return after if not before or before == after else f"{before} → {after}"


def _value_lines(values: Sequence[ValueChange]) -> list[str]:
    return [f"  {v.text}" for v in values] if values else ["  (no changes)"]


def _hook_lines(steps: Sequence[HookStep], events: Sequence[str]) -> list[str]:
    lines: list[str] = []
    for event in events:
        mine = [s for s in steps if s.event == event]
        lines.append(f"{event} hooks:" + ("" if mine else " none"))
        lines += [f"  {s.text}" for s in mine]
    return lines


def _resource_lines(changes: Sequence[ResourceChange]) -> list[str]:
    counts = _counts(changes)
    lines = [f"resources: {counts['added']} added, {counts['changed']} changed, {counts['removed']} removed, "
             f"{counts['unchanged']} unchanged"]
    for change in ("added", "changed", "removed"):
        names = [c.subject + (f" ({c.note})" if c.note else "") for c in changes if c.change == change]
        if names:
            lines.append(f"  {change}: {', '.join(names)}")
    return lines


def _hazard_lines(hazards: Sequence[Hazard]) -> list[str]:
    if not hazards:
        return ["hazards: none found"]
    lines = [f"hazards: {len(hazards)}"]
    for h in hazards:
        lines.append(f"  {h.severity.upper()} {h.code} {h.subject}: {h.message}")
        lines.append(f"    fix: {h.fix}")
    return lines


def plan_lines(plan: DeployPlan) -> list[str]:
    """The plan as text, one line each (terminals, tests, the Slack layer's fallback text)."""
    revision = f"revision {plan.revision_from} → {plan.revision_from + 1}" if plan.revision_from else "new"
    lines = [
        f"{plan.operation.value} {plan.namespace}/{plan.release} ({revision}): chart {plan.chart_name} "
        f"{_arrow(plan.chart_version_from, plan.chart_version_to)}, app "
        f"{_arrow(plan.app_version_from, plan.app_version_to)}",
        "values:", *_value_lines(plan.values),
        *_hook_lines(plan.hooks, hook_events(plan.operation)[:1]),
        *_resource_lines(plan.resources),
        *_hook_lines(plan.hooks, hook_events(plan.operation)[1:]),
        *_hazard_lines(plan.hazards),
    ]
    lines += [f"unreadable: {p}" for p in plan.problems]
    return lines


def preflight_lines(pre: RollbackPreflight) -> list[str]:
    desc = f" ({pre.target_description})" if pre.target_description else ""
    chart = (f"{pre.chart_name_from} {pre.chart_version_from} → {pre.chart_name_to} {pre.chart_version_to}"
             if pre.chart_name_from != pre.chart_name_to
             else f"{pre.chart_name_to} {_arrow(pre.chart_version_from, pre.chart_version_to)}")
    return [
        f"rollback {pre.namespace}/{pre.release} from revision {pre.revision_from} to revision "
        f"{pre.target_revision}, {pre.target_status.value}{desc}",
        f"chart {chart}, app {_arrow(pre.app_version_from, pre.app_version_to)}",
        "values:", *_value_lines(pre.values),
        *_hook_lines(pre.hooks, hook_events(Operation.ROLLBACK)[:1]),
        *_resource_lines(pre.resources),
        *_hook_lines(pre.hooks, hook_events(Operation.ROLLBACK)[1:]),
        *_hazard_lines(pre.hazards),
    ]
