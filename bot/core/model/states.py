"""The closed value sets of tracking: an object's assessed state, a step's and a phase's state, a phase kind.

String enums whose values are the strings stored in a tracker state and shown in summaries, so a stored
state written before these enums existed loads unchanged and `step.state == "pending"` still holds.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class State(str, Enum):  # noqa: UP042 - the contract's type; str() stays "State.X"
    """What `assess()` says about one Kubernetes object."""

    CURRENT = "current"
    IN_PROGRESS = "in_progress"
    FAILED = "failed"


class StepState(StrEnum):
    """One step of a release plan (a hook, a Job, a workload) as the tracker judges it."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    CURRENT = "current"  # a resource is ready
    SUCCEEDED = "succeeded"  # a run-to-completion step (Job, hook Pod) succeeded
    FAILED = "failed"
    UNKNOWN = "unknown"  # deleted before any result was seen
    # A kind the adapter never listed (e.g. RBAC forbids it): counts as done so a release can still succeed,
    # but the verdict names every such step ("not judged: Certificate/x (not watched)").
    UNOBSERVED = "unobserved"
    # Failed, but its chart says to carry on (werf.io/fail-mode: IgnoreAndContinueDeployProcess): done,
    # with a warning.
    IGNORED = "ignored"


DONE_STATES = frozenset({StepState.CURRENT, StepState.SUCCEEDED, StepState.UNOBSERVED, StepState.IGNORED})


class PhaseState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing in it to wait on


class PhaseKind(StrEnum):
    """Helm runs an operation's phases in this order."""

    PRE_HOOKS = "pre_hooks"
    RESOURCES = "resources"
    POST_HOOKS = "post_hooks"
