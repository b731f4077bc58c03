"""Pods and their containers: the causes that fail a rollout minutes before its own deadline would.

Rules (../shared/docs/rollout-status.md §4.5, §4.6), for regular and init containers alike:

- ContainerCreating / PodInitializing: transient.
- CrashLoopBackOff (also Init:CrashLoopBackOff): failed at once; the text names the container, its
  restart count and the last exit (lastState.terminated: Error 1, OOMKilled 137).
- ImagePullBackOff, ErrImageNeverPull, InvalidImageName: failed at once. ErrImagePull: failed only when
  the registry's answer is permanent (not found, manifest unknown, unauthorized, denied); otherwise the
  next state (ImagePullBackOff or a running container) decides.
- CreateContainerConfigError / CreateContainerError: failed after `Policy.config_error_grace`, because an
  operator may still create the Secret or ConfigMap. The grace is measured from the first kubelet
  "Failed" Warning event about that container when there is one (the moment the error was first seen),
  else from the pod's Ready condition's lastTransitionTime (when it last stopped being ready), else from
  the pod's creationTimestamp. A pure function has no memory of earlier observations, so "two
  consecutive observations" is not used.
- Unschedulable (PodScheduled=False, reason Unschedulable): failed after `Policy.unschedulable_grace`
  from that condition's lastTransitionTime, unless cluster-autoscaler announced a scale-up
  (TriggeredScaleUp), which can take minutes: then it stays in progress.
- FailedMount Warning events saying a ConfigMap or Secret is "not found": failed after
  `config_error_grace` from the event's first timestamp, while the pod has not started.
- A container (init or not) terminated with exit code ≠ 0 under restartPolicy Never: failed (for a
  Job's pod this is a retry, not a failure of the Job; the Job rules decide).
- Running with failing readiness: in progress; the text quotes the kubelet's latest `Unhealthy` event
  ("Readiness probe failed: HTTP probe failed with statuscode: 503").

Container events are pinned to their container by `involvedObject.fieldPath` (`spec.containers{web}`,
`spec.initContainers{init}`); an event without a fieldPath is pinned only on a pod with a single container,
since with several it could be any of them. Events written events.k8s.io-style (eventTime, series, null
firstTimestamp) count the same as core/v1 ones (bot.core.status.objects.event_first_seen / event_last_seen).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.core.model.durations import format_age
from bot.core.model.failures import Failure
from bot.core.model.policy import Policy
from bot.core.model.states import State
from bot.core.model.values import api_time
from bot.core.status.assessment import Assessment
from bot.core.status.objects import (
    condition,
    condition_is,
    event_first_seen,
    event_last_seen,
    event_message,
    event_subject,
    events_for,
    meta,
    name_of,
    spec_of,
    status_of,
)
from bot.text import plural

TRANSIENT_WAITING = frozenset({"ContainerCreating", "PodInitializing"})
IMMEDIATE_WAITING = frozenset({"ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"})
CONFIG_WAITING = frozenset({"CreateContainerConfigError", "CreateContainerError"})
# Registry answers that another pull attempt will not change.
_PERMANENT_PULL = re.compile(
    r"not found|manifest unknown|unauthorized|pull access denied|access denied|denied|"
    r"repository does not exist|invalid reference format",
    re.IGNORECASE,
)
_MISSING_VOLUME_SOURCE = re.compile(r'(configmap|secret) "([^"]+)" not found', re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """A cause plus the short text that names it (without the pod's name)."""

    failure: Failure
    text: str


@dataclass(frozen=True)
class PodFindings:
    """What one pod shows. `stuck`: causes that will not resolve by themselves (they fail a workload);
    `terminal`: the pod ended unsuccessfully (a Job retries it; a standalone pod has failed);
    `unready`: one Finding per container holding the pod back (for a deadline's failures and logs);
    `brief`: the pod's state in a few words, kubectl-like ("CrashLoopBackOff", "Init:ContainerCreating",
    "not ready: Readiness probe failed: ...")."""

    name: str
    stuck: tuple[Finding, ...]
    terminal: Finding | None
    notes: tuple[str, ...]
    ready: bool
    gated_in_init: bool
    succeeded: bool
    unready: tuple[Finding, ...] = ()
    brief: str = ""


def assess_pod(
    pod: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy, *, hook: bool
) -> Assessment:
    """A hook pod is done only when Succeeded; a regular pod when Ready (or Succeeded)."""
    found = analyze_pod(pod, related, now, policy)
    waiting = (found.name,) if found.gated_in_init else ()
    if found.succeeded:
        return Assessment(State.CURRENT, "Succeeded")
    if found.terminal is not None:
        return Assessment(State.FAILED, found.terminal.text, failures=(found.terminal.failure,))
    if found.stuck:
        return Assessment(
            State.FAILED,
            _join_texts([f.text for f in found.stuck]),
            failures=tuple(f.failure for f in found.stuck),
            waiting=waiting,
        )
    if found.ready and not hook:
        return Assessment(State.CURRENT, "Ready")
    phase = status_of(pod).get("phase") or "Pending"
    detail = "; ".join(found.notes)
    if hook and not detail:
        detail = "hook pod has not finished" if phase == "Running" else ""
    return Assessment(State.IN_PROGRESS, f"{phase}: {detail}" if detail else phase, waiting=waiting)


def analyze_pod(
    pod: Mapping[str, Any], related: Sequence[Mapping[str, Any]], now: datetime, policy: Policy
) -> PodFindings:
    name = name_of(pod)
    status = status_of(pod)
    phase = status.get("phase") or "Pending"
    events = events_for(pod, related, policy)
    stuck: list[Finding] = []
    notes: list[str] = []

    if phase == "Unknown":
        notes.append("phase Unknown (the node stopped reporting)")
    _scheduling(pod, events, now, policy, stuck, notes)

    init_specs = {c.get("name"): c for c in spec_of(pod).get("initContainers") or ()}
    terminal: Finding | None = None
    unready: list[Finding] = []
    groups = ((True, status.get("initContainerStatuses")), (False, status.get("containerStatuses")))
    for init, statuses in groups:
        for cs in statuses or ():
            spec = init_specs.get(cs.get("name"), {}) if init else {}
            restart_policy = spec.get("restartPolicy") or spec_of(pod).get("restartPolicy") or "Always"
            ended = _container(pod, cs, init, restart_policy, events, now, policy, stuck, notes)
            if ended is not None and terminal is None:
                terminal = ended
            holding = _holding_back(pod, cs, init, spec, events)
            if holding is not None:
                unready.append(holding)

    mount_note = ""
    if not _started(pod):
        before = len(notes)
        _missing_mounts(pod, events, now, policy, stuck, notes)
        mount_note = notes[before] if len(notes) > before else ""

    if phase == "Failed" and terminal is None:
        reason = str(status.get("reason") or "Failed")
        message = str(status.get("message") or "")
        text = f"{reason}: {message}" if message else reason
        terminal = Finding(Failure("Pod", name, reason, message), text)

    ready = condition_is(pod, "Ready")
    if not ready and not unready and phase not in ("Succeeded", "Failed"):
        # Not ready without a container to blame (not scheduled, no statuses yet): the pod itself.
        scheduled = condition(pod, "PodScheduled")
        unscheduled = scheduled is not None and scheduled.get("status") == "False"
        why = str(scheduled.get("reason") or "NotScheduled") if scheduled and unscheduled else "NotReady"
        detail = str(scheduled.get("message") or "") if scheduled and unscheduled else phase
        unready.append(Finding(Failure("Pod", name, why, detail), f"pod {why}: {detail}"))
    first_stuck = stuck[0].failure if stuck else (terminal.failure if terminal else None)
    if first_stuck is not None:
        brief = ("Init:" if first_stuck.init_container else "") + first_stuck.reason
    else:
        brief = mount_note or _kubectl_status(pod, unready)
    return PodFindings(
        name=name,
        stuck=tuple(stuck),
        terminal=terminal,
        notes=tuple(notes),
        ready=ready,
        gated_in_init=_gated_in_init(pod),
        succeeded=phase == "Succeeded",
        unready=tuple(unready),
        brief=brief,
    )


def _kubectl_status(pod: Mapping[str, Any], unready: Sequence[Finding]) -> str:
    """The pod's state in a few words, from the first container holding it back (kubectl's STATUS)."""
    status = status_of(pod)
    scheduled = condition(pod, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        return str(scheduled.get("reason") or "not scheduled")
    if status.get("phase") == "Unknown":
        return "Unknown"
    for f in unready:
        failure = f.failure
        if failure.container is None:
            continue
        if failure.reason == "NotReady":
            return "not ready" + (f": {failure.message}" if failure.message else "")
        return ("Init:" if failure.init_container else "") + failure.reason
    return str(status.get("phase") or "Pending")


def _holding_back(
    pod: Mapping[str, Any],
    cs: Mapping[str, Any],
    init: bool,
    spec: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
) -> Finding | None:
    """A container that keeps the pod from being ready: a main container not ready, or an init container
    (not a ready sidecar) that has not finished; reason = its waiting/terminated reason, else NotReady
    with the latest probe failure as the message."""
    cname = str(cs.get("name") or "?")
    state = cs.get("state") or {}
    terminated = state.get("terminated")
    if init:
        if isinstance(terminated, Mapping) and terminated.get("exitCode") == 0:
            return None
        if spec.get("restartPolicy") == "Always" and cs.get("ready"):
            return None  # a native sidecar that runs and is ready
    elif cs.get("ready"):
        return None
    restarts = cs.get("restartCount") if isinstance(cs.get("restartCount"), int) else None
    label = f"init container {cname}" if init else f"container {cname}"
    waiting = state.get("waiting")
    if isinstance(waiting, Mapping):
        reason = str(waiting.get("reason") or "Waiting")
        message = str(waiting.get("message") or "")
        failure = Failure("Pod", name_of(pod), reason, message, cname, init, None, restarts)
        return Finding(failure, f"{label} {reason}" + (f": {message}" if message else ""))
    if isinstance(terminated, Mapping):
        reason = str(terminated.get("reason") or "Terminated")
        code = terminated.get("exitCode") if isinstance(terminated.get("exitCode"), int) else None
        failure = Failure("Pod", name_of(pod), reason, "", cname, init, code, restarts)
        return Finding(failure, f"{label} {reason}" + (f", exit {code}" if code is not None else ""))
    if init and isinstance(state.get("running"), Mapping):
        failure = Failure("Pod", name_of(pod), "Running", "", cname, init, None, restarts)
        return Finding(failure, f"{label} running")
    probe = probe_failure(pod, cname, init, events)
    failure = Failure("Pod", name_of(pod), "NotReady", probe, cname, init, None, restarts)
    return Finding(failure, f"{label} not ready" + (f": {probe}" if probe else ""))


def container_events(
    pod: Mapping[str, Any], cname: str, init: bool, events: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The events about one container: its fieldPath, or none at all on a pod with a single container."""
    field_path = f"spec.initContainers{{{cname}}}" if init else f"spec.containers{{{cname}}}"
    spec = spec_of(pod)
    sole = len(spec.get("containers") or ()) + len(spec.get("initContainers") or ()) <= 1
    found = []
    for event in events:
        path = event_subject(event).get("fieldPath")
        if path == field_path or (not path and sole):
            found.append(event)
    return found


_PROBE_FAILED = ("Readiness probe failed", "Startup probe failed", "Liveness probe failed")


def probe_failure(pod: Mapping[str, Any], cname: str, init: bool, events: Sequence[Mapping[str, Any]]) -> str:
    """The latest `Unhealthy` probe failure of the container ("Readiness probe failed: ..."), or ""."""
    latest: tuple[Any, str] | None = None
    for event in container_events(pod, cname, init, events):
        if event.get("type") != "Warning" or event.get("reason") != "Unhealthy":
            continue
        message = event_message(event).strip()
        if not message.startswith(_PROBE_FAILED):
            continue
        seen = event_last_seen(event)
        if seen is not None and (latest is None or seen >= latest[0]):
            latest = (seen, message)
    return latest[1] if latest else ""


def _container(
    pod: Mapping[str, Any],
    cs: Mapping[str, Any],
    init: bool,
    restart_policy: str,
    events: Sequence[Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    stuck: list[Finding],
    notes: list[str],
) -> Finding | None:
    """Classify one container status; returns a Finding when the container ended for good."""
    pod_name = name_of(pod)
    cname = str(cs.get("name") or "?")
    label = f"init container {cname}" if init else f"container {cname}"
    prefix = "Init:" if init else ""
    restarts = cs.get("restartCount") if isinstance(cs.get("restartCount"), int) else None
    state = cs.get("state") or {}
    image = str(cs.get("image") or "")

    def failure(reason: str, message: str = "", exit_code: int | None = None) -> Failure:
        return Failure("Pod", pod_name, reason, message, cname, init, exit_code, restarts)

    waiting = state.get("waiting")
    if isinstance(waiting, Mapping):
        reason = str(waiting.get("reason") or "Waiting")
        message = str(waiting.get("message") or "")
        if reason in TRANSIENT_WAITING:
            notes.append(f"{label} {reason}")
        elif reason == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            code = last.get("exitCode") if isinstance(last.get("exitCode"), int) else None
            last_reason = str(last.get("reason") or "")
            text = f"{prefix}CrashLoopBackOff: {label} restarted {plural(restarts or 0, 'time')}"
            if code is not None:
                text += f", last exit {code}"
                if last_reason and last_reason not in ("Error", "Completed"):
                    text += f" ({last_reason})"
            detail = str(last.get("message") or last_reason or message)
            stuck.append(Finding(failure("CrashLoopBackOff", detail.strip(), code), text))
        elif reason in IMMEDIATE_WAITING:
            what = {
                "ImagePullBackOff": f'cannot pull image "{image}"',
                "ErrImageNeverPull": f'image "{image}" is not present and imagePullPolicy is Never',
                "InvalidImageName": f'has an invalid image name "{image}"',
            }[reason]
            stuck.append(Finding(failure(reason, message), f"{prefix}{reason}: {label} {what}"))
        elif reason == "ErrImagePull":
            permanent = _PERMANENT_PULL.search(message)
            if permanent:
                text = f'{prefix}ErrImagePull: {label} image "{image}": {permanent.group(0).lower()}'
                stuck.append(Finding(failure(reason, message), text))
            else:
                notes.append(f"{label} ErrImagePull (retrying)" + (f": {message}" if message else ""))
        elif reason in CONFIG_WAITING:
            since = _config_error_since(pod, cname, init, events)
            age = now - since if since else timedelta(0)
            text = f"{prefix}{reason}: {label}" + (f": {message}" if message else "")
            if since is None or age >= policy.config_error_grace:
                stuck.append(Finding(failure(reason, message), text))
            else:
                notes.append(f"{text} (for {format_age(age)})")
        else:
            notes.append(f"{label} waiting: {reason}" + (f": {message}" if message else ""))
        return None

    terminated = state.get("terminated")
    if isinstance(terminated, Mapping):
        code = terminated.get("exitCode") if isinstance(terminated.get("exitCode"), int) else None
        if code == 0:
            if not init and restart_policy == "Always":
                notes.append(f"{label} exited 0, restarting")
            return None
        reason = str(terminated.get("reason") or "Error")
        text = f"{prefix}{reason}: {label} exited {code}"
        detail = str(terminated.get("message") or reason)
        if restart_policy == "Never":
            return Finding(failure(reason, detail.strip(), code), text)
        notes.append(f"{text}, restarting")
        return None

    running = state.get("running")
    if isinstance(running, Mapping) and not cs.get("ready"):
        if init:
            notes.append(f"{label} running")
        else:
            probe = probe_failure(pod, cname, init, events)
            word = "starting" if cs.get("started") is False else "not ready"
            notes.append(f"{label} {word}" + (f": {probe}" if probe else ""))
    return None


def _scheduling(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    stuck: list[Finding],
    notes: list[str],
) -> None:
    scheduled = condition(pod, "PodScheduled")
    if scheduled is None or scheduled.get("status") != "False":
        return
    reason = str(scheduled.get("reason") or "")
    message = str(scheduled.get("message") or "")
    if reason != "Unschedulable":
        notes.append(f"not scheduled ({reason})" if reason else "not scheduled yet")
        return
    since = api_time(scheduled.get("lastTransitionTime")) or api_time(meta(pod).get("creationTimestamp"))
    age = now - since if since else timedelta(0)
    if any(e.get("reason") == "TriggeredScaleUp" for e in events):
        notes.append(f"Unschedulable for {format_age(age)}, cluster-autoscaler is adding a node")
        return
    text = "Unschedulable" + (f": {message}" if message else "")
    if since is None or age >= policy.unschedulable_grace:
        stuck.append(Finding(Failure("Pod", name_of(pod), "Unschedulable", message), text))
    else:
        notes.append(f"{text} (for {format_age(age)})")


def _missing_mounts(
    pod: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    stuck: list[Finding],
    notes: list[str],
) -> None:
    """FailedMount for a ConfigMap/Secret that does not exist; the first such event starts the grace."""
    first: datetime | None = None
    missing: list[str] = []
    for event in events:
        if event.get("type") != "Warning" or event.get("reason") != "FailedMount":
            continue
        for source, source_name in _MISSING_VOLUME_SOURCE.findall(event_message(event)):
            item = f'{source.lower()} "{source_name}" not found'
            if item not in missing:
                missing.append(item)
                seen = event_first_seen(event)
                if seen is not None and (first is None or seen < first):
                    first = seen
    if not missing:
        return
    message = ", ".join(missing)
    age = now - first if first else timedelta(0)
    if age >= policy.config_error_grace:
        stuck.append(Finding(Failure("Pod", name_of(pod), "FailedMount", message), f"FailedMount: {message}"))
    else:
        notes.append(f"FailedMount: {message} (for {format_age(age)})")


def _config_error_since(
    pod: Mapping[str, Any], cname: str, init: bool, events: Sequence[Mapping[str, Any]]
) -> datetime | None:
    for event in container_events(pod, cname, init, events):  # oldest first
        if event.get("type") != "Warning" or event.get("reason") != "Failed":
            continue
        message = event_message(event)
        if message.startswith("Error:") and "ImagePull" not in message:
            return event_first_seen(event)
    ready = condition(pod, "Ready")
    return (api_time(ready.get("lastTransitionTime")) if ready else None) or api_time(
        meta(pod).get("creationTimestamp")
    )


def _started(pod: Mapping[str, Any]) -> bool:
    """Has any main container run? (a mount failure blocks all of them)."""
    status = status_of(pod)
    if status.get("phase") in ("Running", "Succeeded", "Failed"):
        return True
    for cs in status.get("containerStatuses") or ():
        state = cs.get("state") or {}
        if "running" in state or "terminated" in state:
            return True
    return False


def _gated_in_init(pod: Mapping[str, Any]) -> bool:
    """Held in Init: an init container (not a sidecar) still runs or waits, and no main container started."""
    init_specs = spec_of(pod).get("initContainers") or ()
    if not init_specs or status_of(pod).get("phase") not in (None, "Pending"):
        return False
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    for cs in status_of(pod).get("containerStatuses") or ():
        state = cs.get("state") or {}
        if "running" in state or "terminated" in state:
            return False
    statuses = status_of(pod).get("initContainerStatuses")
    if not statuses:
        return not condition_is(pod, "Initialized")
    for cs in statuses:
        if cs.get("name") in sidecars:
            continue
        terminated = (cs.get("state") or {}).get("terminated")
        if not (isinstance(terminated, Mapping) and terminated.get("exitCode") == 0):
            return True
    return False


def _join_texts(texts: Sequence[str]) -> str:
    if len(texts) <= 2:
        return "; ".join(texts)
    return f"{texts[0]}; {texts[1]} (and {len(texts) - 2} more)"
