"""Custom resources and every kind without a rule of its own: a Ready condition, else the words of
status.phase / state / health / status (Argo CD, Flux, cert-manager, Crossplane and most operators write one).

A Ready or Stalled condition whose own observedGeneration is below metadata.generation (Flux, cert-manager,
Crossplane write it per condition) describes an older spec: in_progress, whatever it says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.core.model.failures import Failure
from bot.core.model.states import State
from bot.core.status.assessment import Assessment
from bot.core.status.objects import condition, name_of, stale_condition, status_of

_FAILED_WORDS = frozenset(
    {"failed", "failure", "error", "errored", "abort", "aborted", "rejected", "degraded"}
)
_PROGRESS_WORDS = frozenset(
    {
        "pending", "creating", "updating", "waiting", "progressing", "inprogress", "unknown", "provisioning",
        "deploying", "starting", "initializing", "reconciling", "scheduling", "deleting", "terminating",
        "suspended", "missing", "notready", "unavailable", "upgrading", "installing", "queued",
    }
)  # fmt: skip
_READY_WORDS = frozenset(
    {
        "ready", "success", "succeeded", "successful", "complete", "completed", "finished", "done",
        "available", "running", "ok", "active", "healthy", "bound", "established", "deployed", "synced",
        "online", "up", "valid", "issued",
    }
)  # fmt: skip


def _status_words(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value) for status.phase / state / health / status (string, or health.status as Argo CD)."""
    status = status_of(obj)
    found = []
    for field in ("phase", "state", "health", "status", "currentPhase", "currentState", "currentHealth"):
        value = status.get(field)
        if isinstance(value, Mapping):
            value = value.get("status")
            field = f"{field}.status"
        if isinstance(value, str) and value.strip():
            found.append((field, value.strip()))
    return found


def _word_state(value: str) -> State | None:
    word = re.sub(r"[\s_-]", "", value.lower())
    if word in _FAILED_WORDS or word.endswith("failed") or word.endswith("error"):
        return State.FAILED
    if word in _PROGRESS_WORDS:
        return State.IN_PROGRESS
    if word in _READY_WORDS:
        return State.CURRENT
    return None


def assess_generic(obj: Mapping[str, Any]) -> Assessment:
    kind, name = str(obj["kind"]), name_of(obj)
    ready = condition(obj, "Ready")
    if ready is not None:
        stale = stale_condition(obj, ready)
        if stale is not None:
            return stale
        detail = str(ready.get("message") or ready.get("reason") or "")
        suffix = f": {detail}" if detail else ""
        if ready.get("status") == "True":
            return Assessment(State.CURRENT, "Ready" + suffix)
        return Assessment(State.IN_PROGRESS, f"Ready={ready.get('status') or 'Unknown'}{suffix}")
    for field, value in _status_words(obj):
        state = _word_state(value)
        if state is None:
            continue
        text = f"status.{field} is {value}"
        message = status_of(obj).get("message") or status_of(obj).get("reason")
        if isinstance(message, str) and message:
            text += f": {message}"
        if state is State.FAILED:
            failure = Failure(kind, name, value, str(message or ""))
            return Assessment(State.FAILED, text, failures=(failure,))
        return Assessment(state, text)
    return Assessment(State.CURRENT, "exists (no readiness signal)")
