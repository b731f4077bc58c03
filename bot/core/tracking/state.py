"""The release tracker's internal state: plain dataclasses that round-trip through JSON.

`ReleaseTracker.to_state()` / `from_state()` persist exactly this, so a restarted bot resumes without
repeating events. Fields are only ever added with defaults: an older stored state still loads.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from bot.core.model.kinds import kind_key
from bot.core.model.states import DONE_STATES, PhaseKind, PhaseState, StepState
from bot.core.model.values import json_safe, parse_time

STATE_VERSION = 1
STREAM_TAIL = 100  # lines asked for per running hook/migration container
_LATER = {"later": True}  # a field added after version 1: left out of the stored form while at its default


@dataclass(frozen=True)
class LogRequest:
    """A container log the adapter should fetch before the next observe()."""

    pod: str
    container: str
    previous: bool = False  # the last terminated instance (crash loops)
    tail_lines: int = STREAM_TAIL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Point:
    at: datetime
    state: StepState
    ready: int | None = None
    desired: int | None = None


@dataclass
class TrackedStep:
    """The tracker's progress on one step of the plan (a hook, a Job, a workload, any waited resource)."""

    phase: int
    kind: str
    name: str
    wait: bool
    hook: bool
    weight: int = 0
    state: StepState = StepState.PENDING
    reason: str = ""
    ready: int | None = None
    desired: int | None = None
    uid: str | None = None  # the object accepted as this operation's
    created: datetime | None = None  # its creationTimestamp (orders hooks on the API server's clock)
    stale_uids: list[str] = field(default_factory=list)  # objects judged to be a previous run's
    present: bool = False  # this operation's object is in the current view
    applied: bool = False  # release resources: the live object is the tracked revision's
    applied_by: str | None = None  # "deployed", "unchanged", "changed": how that was established
    old_seen: bool = False  # release resources: seen absent or still the previous revision's
    live_seen: bool = False  # release resources: the live object was seen (the two fields below are set)
    first_generation: int | None = None  # its metadata.generation then
    first_helm_apply: datetime | None = None  # Helm's managedFields time then
    first_seen: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    finish_from: str | None = None  # "object", "record" (Helm's last_run) or "observed" (when we saw it)
    terminal_seen: bool = False  # Complete/Failed (Succeeded/Failed pod) seen on the object itself
    from_last_run: bool = False  # judged from the release's hook record
    attempts: int | None = None
    backoff_limit: int | None = None
    last_log_line: str | None = None
    final_logs_asked: bool = False
    progress_emitted: list[Any] | None = None
    ready_emitted: bool = False
    nearing_emitted: bool = False
    warnings_emitted: list[str] = field(default_factory=list)
    gated_emitted: list[Any] | None = None
    gated_emitted_at: datetime | None = None
    points: list[Point] = field(default_factory=list)
    # Added later: written only when set, so a stored state of an older version round-trips unchanged.
    group: str = field(default="", metadata=_LATER)  # API group ("": a built-in kind, as in older states)
    # werf/nelm tracking annotations of its manifest (bot.core.tracking.annotations)
    fail_mode: str = field(default="", metadata=_LATER)
    non_blocking: bool = field(default=False, metadata=_LATER)
    no_activity_seconds: float | None = field(default=None, metadata=_LATER)
    skip_logs: bool = field(default=False, metadata=_LATER)
    log_regex: str | None = field(default=None, metadata=_LATER)
    # last change of state, counters or logs (werf.io/no-activity-timeout), and what it was
    last_activity: datetime | None = field(default=None, metadata=_LATER)
    activity: list[Any] | None = field(default=None, metadata=_LATER)

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def key(self) -> str:
        """The kind's key in a ClusterView: "Service", or "Service.serving.knative.dev"."""
        return kind_key(self.kind, self.group)

    @property
    def holds(self) -> bool:
        """The release waits for it (a waited kind, not werf.io/track-termination-mode NonBlocking)."""
        return self.wait and not self.non_blocking

    @property
    def job_like(self) -> bool:
        """Run-to-completion steps: Jobs, and Pods used as hooks."""
        return self.kind == "Job" or (self.hook and self.kind == "Pod")

    def done(self) -> bool:
        """Done, with evidence that holds in this view (or survives the object's deletion)."""
        if self.state not in DONE_STATES:
            return False
        return self.present or self.state == StepState.UNOBSERVED or self.terminal_seen or self.from_last_run

    def forget_run(self) -> None:
        """The object seen so far was another run's: start over for the next one."""
        self.uid, self.created, self.present = None, None, False
        self.state, self.reason, self.finished_at, self.started_at = StepState.PENDING, "", None, None
        self.finish_from = None
        self.terminal_seen = self.from_last_run = False
        self.attempts, self.last_log_line = None, None
        self.final_logs_asked = self.ready_emitted = self.nearing_emitted = False
        self.progress_emitted = None


@dataclass
class TrackedPhase:
    kind: PhaseKind
    name: str
    state: PhaseState = PhaseState.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass
class FailureRecord:
    key: str
    subject: str
    phase: str | None
    kind: str
    name: str
    reason: str
    message: str
    first_seen: datetime
    pod: str | None = None
    container: str | None = None
    init_container: bool = False
    exit_code: int | None = None
    restarts: int | None = None
    previous: bool = False  # its log is the last terminated instance's (crash loops)
    needs_logs: bool = False
    seen_observe: int = 0  # the observe that recorded it; its logs are asked for after that one
    baseline: list[str] = field(default_factory=list)  # lines held for the container when it was seen
    log_tail: list[str] = field(default_factory=list)
    log_unavailable: str | None = None  # why its log could not be read when the wait gave up
    emitted: bool = False


@dataclass
class Gated:
    workload: str
    job: str | None
    pods: list[str]
    since: datetime


@dataclass
class WarningNote:
    subject: str | None
    message: str


@dataclass
class HookRecord:
    """Helm's `last_run` of one hook in the tracked revision, as last seen."""

    phase: str
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass
class TrackerState:
    namespace: str
    release_name: str
    revision: int
    started_at: datetime
    timeout_seconds: float | None
    helm_timeout_seconds: float
    policy: dict[str, Any]
    started: bool = False
    operation: str | None = None
    chart: str | None = None
    app_version: str | None = None
    release_status: str | None = None
    release_description: str | None = None
    release_failed: bool = False
    last_deployed: datetime | None = None
    hook_records: dict[str, HookRecord] = field(default_factory=dict)  # "Kind/name" -> last_run
    phases: list[TrackedPhase] = field(default_factory=list)
    steps: list[TrackedStep] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)
    warnings: list[WarningNote] = field(default_factory=list)
    gated: list[Gated] = field(default_factory=list)
    logs: dict[str, list[str]] = field(default_factory=dict)  # "pod/container" -> last lines
    pod_jobs: dict[str, str] = field(default_factory=dict)  # pod -> subject of the Job step it runs
    kinds_listed: list[str] = field(default_factory=list)  # kind keys the adapter has ever listed
    log_requests: list[LogRequest] = field(default_factory=list)
    observes: int = 0
    last_observed: datetime | None = None
    first_failure_observe: int | None = None
    verdict: dict[str, Any] | None = None

    def steps_of(self, phase: int) -> list[TrackedStep]:
        return [st for st in self.steps if st.phase == phase]


def dump_state(state: TrackerState) -> dict[str, Any]:
    return {"version": STATE_VERSION, "tracker": json_safe(_dump(state))}


def _dump(value: Any) -> Any:
    """asdict, leaving out the later fields that hold their default (older stored states round-trip)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _dump(getattr(value, f.name))
            for f in fields(value)
            if not (f.metadata.get("later") and getattr(value, f.name) == f.default)
        }
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def load_state(raw: Mapping[str, Any]) -> TrackerState:
    if not isinstance(raw, Mapping) or raw.get("version") != STATE_VERSION:
        found = raw.get("version") if isinstance(raw, Mapping) else type(raw).__name__
        raise ValueError(f"unsupported tracker state version {found!r} (expected {STATE_VERSION})")
    try:
        state: TrackerState = _load(TrackerState, raw["tracker"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"tracker state is malformed: {exc}") from exc
    return state


def _load(cls: type, raw: Mapping[str, Any]) -> Any:
    """Rebuild a state dataclass from its JSON form, guided by the field annotations."""
    hints = get_type_hints(cls)
    kwargs = {f.name: _revive(hints[f.name], raw[f.name]) for f in fields(cls) if f.name in raw}
    return cls(**kwargs)


def _revive(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _revive(inner[0], value) if len(inner) == 1 else value
    if tp is datetime:
        return parse_time(value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    if isinstance(tp, type) and is_dataclass(tp):
        return _load(tp, value)
    if origin is list:
        (item,) = get_args(tp)
        return [_revive(item, v) for v in value]
    if origin is dict:
        _, item = get_args(tp)
        return {k: _revive(item, v) for k, v in value.items()}
    return value
