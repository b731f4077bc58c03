"""Hook hazards: what Helm will do to a release that its users rarely expect, decided from two manifests.

Each rule compares the current release (its manifest and Helm's record of its hooks) with the chart about
to be applied, and names the Helm behaviour it comes from (docs/plans.md has the full list):

- resource-becomes-hook: upgrade prunes objects that left the manifest (pkg/kube/client.go update:
  ``originals.Difference(targets)`` is deleted unless the live object says ``helm.sh/resource-policy: keep``)
  and hooks are never in the manifest, so an object turned into a hook is deleted by this very upgrade.
- hook-becomes-resource: hook objects carry no ownership metadata; a chart resource that already exists
  without it fails the upgrade (pkg/action/validate.go existingResourceConflict).
- hook-job-name-repeats: only ``before-hook-creation`` deletes a previous hook object before the new one
  is created (pkg/action/hooks.go); otherwise client-side apply fails with "already exists" and server-side
  apply (Helm 4) patches the old Job (a changed pod template is immutable; an unchanged one is not re-run).
- job-template-changes: a Job's pod template is immutable; Helm updates release Jobs in place.
- hook-near-timeout / hook-waits-for-release: Helm waits for each Job/Pod hook at most --timeout, and runs
  pre-hooks before any release resource exists.
- hook-weight-not-integer, crd-in-templates, resource-removed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from bot.core.durations import format_duration
from bot.core.planning import Operation, hook_events
from bot.core.releases import Hook, HookPhase, Release
from bot.core.rendered import (
    KEEP_ANNOTATION,
    WEIGHT_ANNOTATION,
    ObjectKey,
    RenderedChart,
    annotations_of,
    go_atoi,
    object_key,
    pod_references,
    pod_spec,
    subject,
)

__all__ = ["HAZARD_CODES", "SHORT_HELM_TIMEOUT", "Hazard", "find_hazards", "hook_key", "left_behind"]

Severity = Literal["danger", "warning"]

HAZARD_CODES = (
    "resource-becomes-hook", "hook-becomes-resource", "hook-job-name-repeats", "job-template-changes",
    "hook-waits-for-release", "hook-near-timeout", "resource-removed", "crd-in-templates",
    "hook-weight-not-integer",
)
# Helm's default --timeout: a hook that waits for something else has little room below it.
SHORT_HELM_TIMEOUT = timedelta(minutes=5)
_DATA_KINDS = frozenset({"PersistentVolumeClaim", "PersistentVolume", "CustomResourceDefinition",
                         "Namespace"})
_WAIT_IMAGE = re.compile(r"wait-?for", re.IGNORECASE)
_WAIT_WORD = re.compile(r"(?<![a-z])(wait|until)(?![a-z])|wait-|wait_|rollout status", re.IGNORECASE)


@dataclass(frozen=True)
class Hazard:
    code: str
    severity: Severity
    subject: str          # "ConfigMap/hazard-config"
    message: str          # what Helm will do, and what breaks; never values
    fix: str


def hook_key(hook: Hook) -> ObjectKey:
    return (hook.api_version.rpartition("/")[0], hook.kind, hook.namespace, hook.name)


def left_behind(hook: Hook) -> str | None:
    """Why Helm's record says this hook's object is still in the cluster (None: deleted or never run)."""
    if hook.kind == "CustomResourceDefinition":
        return None                                   # Helm never deletes CRD hooks, nor creates them anew
    run = hook.last_run
    if run.phase is HookPhase.SUCCEEDED and "hook-succeeded" not in hook.delete_policies:
        return "succeeded and was kept (no hook-succeeded delete policy)"
    if run.phase is HookPhase.FAILED and "hook-failed" not in hook.delete_policies:
        return "failed and was kept (no hook-failed delete policy)"
    if run.phase in (HookPhase.RUNNING, HookPhase.UNKNOWN) and run.started_at and not run.completed_at:
        return "was interrupted while running, so no delete policy ran"
    return None


def _policies(hook: Hook) -> str:
    return ",".join(p or '""' for p in hook.delete_policies) or "none"


def _fmt(td: timedelta) -> str:
    return format_duration(timedelta(seconds=round(td.total_seconds())))


@dataclass(frozen=True)
class _Context:
    operation: Operation
    current: Release | None
    new: RenderedChart
    helm_timeout: timedelta | None

    @property
    def events(self) -> tuple[str, str]:
        return hook_events(self.operation)

    @property
    def server_side(self) -> bool:
        """Helm 4 applies with server-side apply when the release was (--server-side=auto)."""
        return self.current is not None and self.current.apply_method == "ssa"

    def runs(self, hook: Hook) -> str | None:
        """The event of this operation the hook runs on, if any."""
        return next((e for e in self.events if e in hook.events), None)

    def users(self, kind: str, name: str, namespace: str) -> list[str]:
        """Workloads (and hook Jobs/Pods) of the new chart whose pods need kind/name."""
        found: list[str] = []
        for obj in (*self.new.resources, *(h.manifest for h in self.new.hooks)):
            spec = pod_spec(obj)
            if spec is None or (obj.get("metadata") or {}).get("namespace", namespace) != namespace:
                continue
            vias = [r.via + (" (optional)" if r.optional else "") for r in pod_references(spec)
                    if r.kind == kind and r.name == name]
            if vias:
                found.append(f"{subject(obj)} ({', '.join(dict.fromkeys(vias))})")
        return found

    def recorded(self) -> dict[ObjectKey, Hook]:
        return {hook_key(h): h for h in (self.current.hooks if self.current else ())}


def find_hazards(operation: Operation, current: Release | None, new: RenderedChart, *,
                 helm_timeout: timedelta | None = None) -> list[Hazard]:
    """Every hazard of applying ``new`` over ``current`` (None: a fresh install), dangers first."""
    ctx = _Context(Operation(operation), current, new, helm_timeout)
    found: list[Hazard] = [
        *_resource_becomes_hook(ctx), *_hook_becomes_resource(ctx), *_hook_name_repeats(ctx),
        *_job_template_changes(ctx), *_hook_waits(ctx), *_resource_removed(ctx), *_crd_in_templates(ctx),
        *_weight_not_integer(ctx),
    ]
    order = {code: i for i, code in enumerate(HAZARD_CODES)}
    return sorted(found, key=lambda h: (h.severity != "danger", order.get(h.code, 99), h.subject))


# ---------------------------------------------------------------------------------------------------------
# rules


def _resource_becomes_hook(ctx: _Context) -> Iterable[Hazard]:
    if ctx.current is None:
        return
    current = {object_key(obj): obj for obj in ctx.current.resources}
    op = ctx.operation.value
    pre, post = ctx.events
    for hook in ctx.new.hooks:
        if hook_key(hook) not in current:
            continue
        subj = f"{hook.kind}/{hook.name}"
        keep = str(annotations_of(hook.manifest).get(KEEP_ANNOTATION, "")).strip() == "keep"
        succeeded_deletes = "hook-succeeded" in hook.delete_policies
        policy = f"delete policy {_policies(hook)}"
        if pre in hook.events:
            if keep and not succeeded_deletes:
                continue       # the live object now says keep: the prune leaves it alone
            if "before-hook-creation" not in hook.delete_policies and not ctx.server_side:
                fate = (f"creating the {pre} hook fails ({hook.kind} \"{hook.name}\" already exists: the "
                        f"release's own object is still there), so the {op} fails before any resource "
                        "changes")
            elif succeeded_deletes:
                fate = (f"the {pre} hook re-creates it and Helm deletes it as soon as the {pre} hooks "
                        "succeed "
                        f"({policy}); after the {op} it is gone, and every later {op} deletes it again")
            else:
                fate = (f"the {pre} hook re-creates it ({policy}), then the {op} deletes it because it is no "
                        f"longer in the release manifest (hooks never are); it is gone after this {op}")
        elif post in hook.events:
            fate = (f"the {op} deletes it because it is no longer in the release manifest, and the {post} "
                    "hook "
                    f"creates it again only after the resources are applied and waited for: pods started in "
                    f"between cannot use it and a --wait {op} times out")
            if succeeded_deletes:
                fate += f"; then Helm deletes it again ({policy})"
        else:
            fate = (f"the {op} deletes it because it is no longer in the release manifest, and no hook "
                    "re-creates "
                    f"it during an {op} (it is a {', '.join(hook.events)} hook)")
        users = ctx.users(hook.kind, hook.name, hook.namespace)
        one = len(users) == 1
        symptom = "FailedMount" if hook.kind in ("ConfigMap", "Secret") else "they stay Pending"
        broken = (f" {', '.join(users)} need{'s' if one else ''} it: {'its' if one else 'their'} new pods "
                  f"cannot start ({symptom})." if users else "")
        yield Hazard(
            "resource-becomes-hook", "danger", subj,
            f"{subj} is a release resource in revision {ctx.current.revision} and the new chart renders it "
            "as a "
            f"{', '.join(hook.events)} hook: {fate}.{broken}",
            f"Keep {subj} a plain resource (remove its helm.sh/hook annotations); if a hook needs such an "
            "object, "
            f"give the hook its own name. If it already happened, upgrading once more re-creates it "
            f"(hooks are never pruned).")


def _hook_becomes_resource(ctx: _Context) -> Iterable[Hazard]:
    if ctx.current is None:
        return
    recorded = ctx.recorded()
    for obj in ctx.new.resources:
        hook = recorded.get(object_key(obj))
        why = left_behind(hook) if hook is not None else None
        if hook is None or why is None:
            continue
        subj = subject(obj)
        ns = hook.namespace or ctx.current.namespace
        yield Hazard(
            "hook-becomes-resource", "danger", subj,
            f"{subj} was a {', '.join(hook.events)} hook: Helm's record says it {why}, so it is still in the "
            "cluster without Helm's ownership annotations. The new chart makes it a release resource, and "
            "the "
            f"{ctx.operation.value} fails before it starts: {subj} exists and cannot be imported into the "
            f"current release: invalid ownership metadata.",
            f"Delete it first (kubectl delete {hook.kind.lower()} {hook.name} -n {ns}), or let Helm adopt it "
            f"with --take-ownership.")


def _hook_name_repeats(ctx: _Context) -> Iterable[Hazard]:
    recorded = ctx.recorded()
    for hook in ctx.new.hooks:
        event = ctx.runs(hook)
        if event is None or "before-hook-creation" in hook.delete_policies:
            continue
        subj = f"{hook.kind}/{hook.name}"
        immutable = hook.kind in ("Job", "Pod")
        old = recorded.get(hook_key(hook))
        why = left_behind(old) if old is not None else None
        fix = (f'Add before-hook-creation to its helm.sh/hook-delete-policy (e.g. "before-hook-creation,'
               f'hook-succeeded"): Helm then deletes a leftover {hook.kind} just before creating the new '
               'one.')
        if why is not None and old is not None:
            plural = f"{hook.kind.lower()}s" + (".batch" if hook.kind == "Job" else "")
            if not ctx.server_side:
                result = f'so this {event} hook fails at once: {plural} "{hook.name}" already exists'
            elif not immutable:
                continue       # server-side apply updates a leftover ConfigMap/Secret/... in place
            elif _template(old.manifest) != _template(hook.manifest):
                result = (f"Helm 4 applies the new {hook.kind} over it, and its pod template changed, so "
                          "the API "
                          f"server refuses it (field is immutable) and the {event} hooks fail")
            else:
                outcome = ("the old failure fails this one at once" if old.last_run.phase is HookPhase.FAILED
                           else "it does not run again")
                result = (f"Helm 4 applies the same {hook.kind} over it and waits on the old one's result: "
                          f"{outcome}")
            yield Hazard(
                "hook-job-name-repeats", "danger", subj,
                f"{subj} ({event} hook, delete policy {_policies(hook)}): Helm's record says the previous "
                "run "
                f"{why}; {result}.",
                f"Delete it before deploying (kubectl delete {hook.kind.lower()} {hook.name} -n "
                f"{hook.namespace}). {fix}")
        elif immutable:
            leaves = ("a failed or interrupted run" if "hook-succeeded" in hook.delete_policies
                      and "hook-failed" not in hook.delete_policies else
                      "an interrupted run" if "hook-succeeded" in hook.delete_policies else "every run")
            yield Hazard(
                "hook-job-name-repeats", "warning", subj,
                f"{subj} ({event} hook, delete policy {_policies(hook)}) has no before-hook-creation: "
                f"{leaves} leaves the {hook.kind} behind under the same name, and the next deploy then fails "
                f"({hook.kind} names are fixed; a {hook.kind}'s pod template is immutable).",
                fix)


def _template(obj: Mapping[str, Any]) -> Any:
    spec = obj.get("spec") or {}
    return spec if obj.get("kind") == "Pod" else (spec.get("template") if isinstance(spec, Mapping) else None)


def _job_template_changes(ctx: _Context) -> Iterable[Hazard]:
    if ctx.current is None:
        return
    current = {object_key(o): o for o in ctx.current.resources if o.get("kind") == "Job"}
    for obj in ctx.new.resources:
        old = current.get(object_key(obj))
        if old is None or _template(old) == _template(obj):
            continue
        subj = subject(obj)
        yield Hazard(
            "job-template-changes", "danger", subj,
            f"{subj} is a release resource with a fixed name and its pod template changes: Helm updates it "
            "in "
            f"place and the API server refuses (spec.template: field is immutable), so the "
            f"{ctx.operation.value} fails.",
            "Make it a hook with the before-hook-creation delete policy (Helm then deletes the old Job "
            "first), "
            f"or put the revision in its name (e.g. {subj.split('/', 1)[1]}-r{{{{ .Release.Revision }}}}).")


def _hook_waits(ctx: _Context) -> Iterable[Hazard]:
    timeout = ctx.helm_timeout
    recorded = ctx.recorded()
    later = {object_key(o) for o in ctx.new.resources}
    pre = ctx.events[0]
    for hook in ctx.new.hooks:
        event = ctx.runs(hook)
        if event is None or hook.kind not in ("Job", "Pod"):
            continue
        subj = f"{hook.kind}/{hook.name}"
        spec = pod_spec(hook.manifest) or {}
        waits = _waiting_containers(spec)
        if event == pre:
            for ctr, target in waits:
                if target is not None and (("batch", "Job", hook.namespace, target) in later):
                    yield Hazard(
                        "hook-waits-for-release", "danger", subj,
                        f"{subj} is a {event} hook whose container {ctr} waits for Job/{target}, which is a "
                        f"release resource: Helm creates it only after the {event} hooks have finished, so "
                        "the "
                        f"hook can never finish"
                        + (f" and the {ctx.operation.value} fails after helm_timeout ({_fmt(timeout)})."
                           if timeout else "."),
                        f"Make it a post-{event.split('-', 1)[1]} hook, or wait for something that exists "
                        f"before the release resources are applied.")
        if timeout is None:
            continue
        reasons: list[str] = []
        severity: Severity = "warning"
        old = recorded.get(hook_key(hook))
        took = (old.last_run.completed_at - old.last_run.started_at
                if old and old.last_run.started_at and old.last_run.completed_at else None)
        if took is not None and took > timeout / 2:
            reasons.append(f"last run took {_fmt(took)}")
            severity = "danger" if took >= timeout else severity
        deadline = (hook.manifest.get("spec") or {}).get("activeDeadlineSeconds") if hook.kind == "Job" else 0
        if type(deadline) is int and deadline > timeout.total_seconds():
            reasons.append(f"activeDeadlineSeconds is {deadline} ({_fmt(timedelta(seconds=deadline))})")
        if waits and took is None and timeout <= SHORT_HELM_TIMEOUT:
            reasons.append(f"container {waits[0][0]} waits for something else to become ready")
        if not reasons:
            continue
        need = max(timeout * 2, timedelta(minutes=math.ceil(2 * (took or timedelta()).total_seconds() / 60)))
        yield Hazard(
            "hook-near-timeout", severity, subj,
            f"{subj} ({event} hook): {'; '.join(reasons)}; helm_timeout is {_fmt(timeout)}. Helm gives each "
            f"hook helm_timeout to finish and fails the {ctx.operation.value} when it runs out.",
            f"Raise helm_timeout for this release (e.g. {_fmt(need)}), or make the hook finish sooner.")


def _waiting_containers(spec: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(container name, the Job it waits for when known) for containers that wait on something else."""
    found: list[tuple[str, str | None]] = []
    for group in ("initContainers", "containers"):
        for ctr in spec.get(group) or ():
            if not isinstance(ctr, Mapping):
                continue
            words = [str(w) for w in (*(ctr.get("command") or ()), *(ctr.get("args") or ()))]
            if _WAIT_IMAGE.search(str(ctr.get("image") or "")):
                # groundnuty/k8s-wait-for: args [job|job-wr|pod|pod-r|service, target]
                target = words[1] if len(words) >= 2 and words[0].startswith("job") else None
                found.append((str(ctr.get("name")), target))
            elif any(_WAIT_WORD.search(w) for w in words):
                found.append((str(ctr.get("name")), None))
    return found


def _resource_removed(ctx: _Context) -> Iterable[Hazard]:
    if ctx.current is None:
        return
    staying = {object_key(o) for o in ctx.new.resources} | {hook_key(h) for h in ctx.new.hooks}
    for obj in ctx.current.resources:
        # a Job or Pod of an earlier revision (a name with the revision in it) is meant to go away
        if object_key(obj) in staying or obj.get("kind") in ("Job", "Pod"):
            continue
        if str(annotations_of(obj).get(KEEP_ANNOTATION, "")).strip() == "keep":
            continue
        subj = subject(obj)
        kind = str(obj.get("kind"))
        data = kind in _DATA_KINDS
        loses = {
            "PersistentVolumeClaim": ", and the volume's data with it when its reclaim policy is Delete",
            "CustomResourceDefinition": f", and every {_crd_kind(obj)} object in the cluster with it",
            "Namespace": ", and everything in it",
            "PersistentVolume": ", and possibly its data",
        }.get(kind, "")
        md = obj.get("metadata") or {}
        ns = f" -n {md.get('namespace')}" if md.get("namespace") else ""
        yield Hazard(
            "resource-removed", "danger" if data else "warning", subj,
            f"{subj} is in revision {ctx.current.revision} and not in the new chart: Helm deletes it "
            "during the "
            f"{ctx.operation.value}{loses}.",
            f"If it must stay, annotate the live object first (kubectl annotate {kind.lower()} "
            f"{md.get('name')}"
            f"{ns} helm.sh/resource-policy=keep); Helm reads that from the cluster. If the chart still "
            "defines "
            f"it, check its helm.sh/hook annotation: Helm silently drops a document naming an unknown event.")


def _crd_kind(obj: Mapping[str, Any]) -> str:
    names = (obj.get("spec") or {}).get("names") or {}
    return str(names.get("kind") or "custom resource") if isinstance(names, Mapping) else "custom resource"


def _crd_in_templates(ctx: _Context) -> Iterable[Hazard]:
    for obj, source in zip(ctx.new.resources, ctx.new.resource_sources, strict=False):
        if obj.get("kind") != "CustomResourceDefinition" or "/crds/" in f"/{source}":
            continue
        subj = subject(obj)
        where = f" ({source})" if source else ""
        yield Hazard(
            "crd-in-templates", "warning", subj,
            f"{subj} is rendered from templates/{where}, so Helm manages it like any release resource: it is "
            f"updated on every {ctx.operation.value}, and deleted with every {_crd_kind(obj)} object in the "
            f"cluster if it ever leaves the chart or the release is uninstalled.",
            "Move it to the chart's crds/ directory (installed before everything else, never upgraded or "
            "deleted by Helm) or manage it outside the release; meanwhile annotate it "
            "helm.sh/resource-policy: keep.")


def _weight_not_integer(ctx: _Context) -> Iterable[Hazard]:
    for hook in ctx.new.hooks:
        notes = annotations_of(hook.manifest)
        if WEIGHT_ANNOTATION not in notes:
            continue
        text = str(notes[WEIGHT_ANNOTATION])
        if go_atoi(text) is not None:
            continue
        subj = f"{hook.kind}/{hook.name}"
        yield Hazard(
            "hook-weight-not-integer", "warning", subj,
            f"{subj} has helm.sh/hook-weight {text!r}, which is not an integer (Helm uses strconv.Atoi: no "
            f"spaces, no decimals): Helm runs it at weight 0, which may be before the hooks it depends on.",
            f'Write the weight as a quoted integer, e.g. "helm.sh/hook-weight": "{_weight_hint(text)}".')


def _weight_hint(text: str) -> str:
    m = re.search(r"[+-]?\d+", text)
    return m.group(0) if m else "0"
