"""The verdict: failed as soon as a failure is reported, succeeded once Helm's record and this view agree,
timed out after the tracker's own timeout; and the warning before a hook hits helm's --timeout.

Success needs the release present and `deployed`, every waited resource current *in this view*, and every
waited hook succeeded; an empty or partial view (a lost watch) never flips anything either way. A waited
kind the adapter never listed (RBAC) is "unobserved": success stays possible, but the verdict says
"not judged: Certificate/x (not watched)" (data `not_judged`). A revision already superseded at the first
view is judged from Helm's description and hook records only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.events import EventType, Outcome
from bot.core.model.failures import VerdictData
from bot.core.model.states import StepState
from bot.core.releases import Release, ReleaseStatus
from bot.core.tracking.failures import superseded_result
from bot.core.tracking.run import Run
from bot.core.tracking.state import FailureRecord
from bot.core.tracking.text import (
    failed_message,
    failure_data,
    failure_line,
    nearing_timeout_line,
    succeeded_reason,
    timed_out_reason,
)
from bot.text import one_line

NEARING_FRACTION = 0.8  # warn once when a hook has used this much of helm's --timeout


def all_done(run: Run) -> bool:
    return all(st.done() for st in run.s.steps if st.holds)


def decide(run: Run, release: Release | None, now: datetime) -> None:
    s = run.s
    failures = [f for f in s.failures if f.emitted]
    if failures and all(f.emitted for f in s.failures):
        verdict(run, Outcome.FAILED, now, failure_line(failures[0]), failures)
        return
    if s.failures:
        return  # a failure waits (briefly) for the log lines that cover it
    if (
        release is not None
        and release.status is ReleaseStatus.SUPERSEDED
        and superseded_result(run, release)[0]
    ):
        reason = f"revision {s.revision} succeeded and was superseded by a later revision"
        succeed(run, now, reason, unjudged_steps(run, unfinished="superseded before it was judged"))
        return
    if release is not None and release.status is ReleaseStatus.DEPLOYED and all_done(run):
        succeed(run, now, succeeded_reason(s, now - s.started_at), unjudged_steps(run))
        return
    check_timeout(run, now, still=still_in_progress(run))


def unjudged_steps(run: Run, unfinished: str | None = None) -> list[str]:
    """Waited steps a success does not vouch for: kinds never watched (RBAC may forbid a CRD's kind),
    and, when given, steps not yet done (with why)."""
    out = []
    for st in run.s.steps:
        if not st.wait:
            continue
        if st.state == StepState.UNOBSERVED:
            out.append(f"{st.subject} (not watched)")
        elif unfinished and not st.done():
            out.append(f"{st.subject} ({unfinished})")
    return out


def succeed(run: Run, now: datetime, reason: str, unjudged: list[str]) -> None:
    if unjudged:
        reason += "; not judged: " + ", ".join(unjudged)
    verdict(run, Outcome.SUCCEEDED, now, reason, [], not_judged=unjudged)


def still_in_progress(run: Run) -> list[str]:
    s = run.s
    still = [f"{st.subject} ({st.reason or st.state})" for st in s.steps if st.holds and not st.done()]
    if s.release_status and s.release_status != ReleaseStatus.DEPLOYED.value:
        still.append(f"release status {s.release_status}")
    return still


def check_timeout(run: Run, now: datetime, still: list[str]) -> None:
    s = run.s
    if s.timeout_seconds is None or now - s.started_at < timedelta(seconds=s.timeout_seconds):
        return
    reason = timed_out_reason(timedelta(seconds=s.timeout_seconds), still)
    verdict(run, Outcome.TIMED_OUT, now, reason, [], in_progress=still)


def verdict(
    run: Run,
    outcome: Outcome,
    now: datetime,
    reason: str,
    failures: list[FailureRecord],
    *,
    not_judged: list[str] | None = None,
    in_progress: list[str] | None = None,
) -> None:
    s = run.s
    message = reason if outcome is not Outcome.FAILED else failed_message(s, reason)
    data: VerdictData = {
        "outcome": outcome.value,
        "reason": one_line(reason),
        "failures": [failure_data(f) for f in failures],
        "duration_seconds": (now - s.started_at).total_seconds(),
    }
    if not_judged is not None:
        data["not_judged"] = not_judged
    if in_progress is not None:
        data["in_progress"] = in_progress
    event = run.emit(EventType.VERDICT, now, message, data=data)
    s.verdict = event.to_dict()


def nearing_timeout(run: Run, now: datetime) -> None:
    s = run.s
    limit = timedelta(seconds=s.helm_timeout_seconds)
    for step in s.steps:
        if not step.hook or not step.job_like or step.state != StepState.IN_PROGRESS or step.nearing_emitted:
            continue
        since = step.started_at or step.first_seen
        if since is None or now - since < limit * NEARING_FRACTION:
            continue
        step.nearing_emitted = True
        run.emit(
            EventType.HOOK_NEARING_TIMEOUT,
            now,
            nearing_timeout_line(step.name, now - since, limit),
            step=step,
            data={
                "elapsed_seconds": (now - since).total_seconds(),
                "helm_timeout_seconds": s.helm_timeout_seconds,
            },
        )
