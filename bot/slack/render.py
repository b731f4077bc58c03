"""A deploy's Slack messages as pure functions of plain data: the parent card updated in place, the thread
replies worth a notification, the closing timeline, and logs on request.

What people asked of deploy bots (shared/docs/landscape.md §2): one message updated instead of many, who
deployed and what changed, the real reason and the hook's log when it fails, and less noise. So the parent
carries the whole current picture; the thread gets milestones only (a phase done, a Job done, a hook near
Helm's timeout, a warning, a failure with its log, the verdict); only the final failure is broadcast.

Inputs are what the tracker and the store already hold (TrackSummary, TrackEvent, DeployCard): never chart
values or anything secret. Every message goes through `fit_message`, so no input can make Slack refuse it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.app.actions import LOGS_ACTION, PLAN_ACTION, ROLLBACK_ACTION
from bot.core.durations import format_duration
from bot.core.events import EventType, Outcome, TrackEvent
from bot.core.summary import JobSummary, TrackSummary, WorkloadSummary
from bot.core.timeline import render_timeline
from bot.slack.blocks import (
    SECTION_TEXT,
    Block,
    actions,
    button,
    clean,
    code_block,
    confirm_dialog,
    context,
    date_token,
    divider,
    escape,
    fit_message,
    fits_code_block,
    header,
    inline_code,
    lines_within,
    mention,
    one_line,
    section,
    truncate_plain,
)

INLINE_LOG_LINES = 30  # more than this in a reply and the full log goes to a file
BROADCAST_LOG_LINES = 10  # lines of the first failure's log in the broadcast verdict
LAST_LINE_SHOWN = 150  # characters of a Job's last log line on the card
LIST_LINE = 400  # characters of one line in a list (a workload, a warning, a failure)
GATED_REMINDER = timedelta(minutes=5)  # pods still gated: a thread reply at most this often
GATED_HEARTBEAT = timedelta(seconds=60)  # how often the tracker re-sends PODS_GATED (bot.core.tracking)
TIMELINE_WIDTH = 32
TIMELINE_SECTIONS = 8

RUNNING, SUCCEEDED, FAILED, TIMED_OUT = "running", Outcome.SUCCEEDED.value, Outcome.FAILED.value, "timed_out"
STATUS_EMOJI = {RUNNING: "⏳", SUCCEEDED: "✅", FAILED: "❌", TIMED_OUT: "⌛"}
STATUS_WORD = {RUNNING: "In progress", SUCCEEDED: "Succeeded", FAILED: "Failed", TIMED_OUT: "Timed out"}
PHASE_EMOJI = {"succeeded": "✅", "running": "⏳", "failed": "❌", "skipped": "⏭", "pending": "▫️"}
STEP_EMOJI = {
    "current": "✅", "succeeded": "✅", "in_progress": "⏳", "running": "⏳", "failed": "❌",
    "pending": "▫️", "unknown": "❔", "unobserved": "👁",
}
_STEP_ORDER = {"failed": 0, "in_progress": 1, "running": 1, "pending": 2, "unknown": 3, "unobserved": 4}
_JOB_KINDS = ("Job/", "Pod/")
_ROLLBACK_TO = re.compile(r"^Rollback to (\d+)\b")
_CHART = re.compile(r"^(?P<name>.+?)-(?P<version>v?\d[0-9A-Za-z.+-]*)$")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._]+")


@dataclass(frozen=True)
class DeployCard:
    """What the parent message says about a deploy besides the tracker's picture; the adapter builds it
    from the stored deploy record. `rollback_target` is None when no Roll back button should be offered
    (nothing to restore, or this revision is no longer the current one)."""

    deploy_id: str
    release_label: str  # "shop" or "shop (prod)"
    namespace: str
    operation: str  # install | upgrade | rollback | uninstall
    origin: str  # slack | passive | catchup
    requested_by: str  # a Slack user ID, or an actor text ("Flux helm-controller")
    started_at: datetime
    revision: int | None = None
    previous_revision: int | None = None
    cluster: str | None = None  # None when helmbot knows only one cluster
    chart_from: str | None = None  # "shop-1.0.0"
    chart_to: str | None = None
    app_from: str | None = None
    app_to: str | None = None
    description: str | None = None  # Helm's description of the revision
    dry_run: bool = False
    rollback_target: int | None = None
    logs_available: bool = False
    approved_by: str | None = None  # the second person who approved it (protected releases, freezes)
    promoted_from: str | None = None  # "shop (staging) revision 7"; a promotion's source
    promoted_link: str | None = None  # the permalink of the source revision's message, when there is one


@dataclass(frozen=True)
class LogFile:
    """A log too long for a message: the caller uploads it (files_upload_v2) into the deploy's thread."""

    filename: str
    content: str
    title: str


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification fallback (mrkdwn, escaped)
    blocks: list[Block] = field(default_factory=list)
    broadcast: bool = False  # a thread reply also shown in the channel (the final failure only)
    unfurl: bool = False
    file: LogFile | None = None  # a longer log than the message shows: upload it into the thread too

    def to_payload(self) -> dict[str, Any]:
        """chat.postMessage / chat.update arguments (without channel, ts and thread_ts)."""
        payload: dict[str, Any] = {
            "text": self.text, "blocks": self.blocks,
            "unfurl_links": self.unfurl, "unfurl_media": self.unfurl,
        }
        if self.broadcast:
            payload["reply_broadcast"] = True
        return payload


def _message(blocks: Sequence[Block | None], text: str, **kwargs: Any) -> SlackMessage:
    fitted, fallback = fit_message(blocks, text)
    return SlackMessage(fallback, fitted, **kwargs)


# --- the parent card -------------------------------------------------------------------------------------


def deploy_status(summary: TrackSummary | None) -> str:
    """running, succeeded, failed or timed_out (the verdict's outcome once there is one)."""
    if summary is None or summary.verdict is None:
        return RUNNING
    return summary.verdict.outcome if summary.verdict.outcome in STATUS_EMOJI else FAILED


def render_parent(card: DeployCard, summary: TrackSummary | None, *, now: datetime) -> SlackMessage:
    status = deploy_status(summary)
    title = _title(card, summary, status)
    blocks: list[Block | None] = [header(title), _who_and_what(card, summary)]
    verdict = _verdict_section(summary)
    blocks.append(verdict)
    blocks.append(divider())
    blocks.append(section(_phases_text(card, summary, now)))
    if summary is not None:
        blocks.append(_jobs_section(summary, now))
        blocks.append(_gated_section(summary, now))
        blocks.append(_workloads_section(summary))
        blocks.append(_list_section("⚠️ *Warnings*", summary.warnings, "⚠️"))
        if status != SUCCEEDED:
            blocks.append(_list_section("❌ *What failed*", summary.failures, "•"))
    blocks.append(context(*_footer(card, summary, now)))
    blocks.append(actions(_buttons(card, status), block_id=f"helmbot_actions:{card.deploy_id}"))
    reason = one_line(summary.verdict.reason) if summary and summary.verdict else _progress_word(summary)
    return _message(blocks, escape(f"{title}: {reason}" if reason else title))


def _title(card: DeployCard, summary: TrackSummary | None, status: str) -> str:
    return f"{'📝' if card.dry_run else STATUS_EMOJI[status]} {_headline(card, summary, status)}"


def _headline(card: DeployCard, summary: TrackSummary | None, status: str) -> str:
    """"shop upgraded to revision 7" (the verdict in words, no emoji)."""
    label = one_line(card.release_label) or "release"
    if card.dry_run:
        return f"Dry run of {label} {one_line(card.operation)}: nothing was changed"
    revision = card.revision if card.revision is not None else (summary.revision if summary else None)
    rev = f"revision {revision}" if revision is not None else "a new revision"
    restored = _restored_revision(card, summary)
    words = {
        "install": (f"Installing {label} ({rev})", f"{label} installed ({rev})",
                    f"{label} install failed ({rev})", f"{label} install timed out ({rev})"),
        "upgrade": (f"Upgrading {label} to {rev}", f"{label} upgraded to {rev}",
                    f"{label} upgrade to {rev} failed", f"{label} upgrade to {rev} timed out"),
        "rollback": (f"Rolling back {label}{restored} ({rev})", f"{label} rolled back{restored} ({rev})",
                     f"{label} rollback{restored} failed ({rev})",
                     f"{label} rollback{restored} timed out ({rev})"),
        "uninstall": (f"Uninstalling {label}", f"{label} uninstalled", f"{label} uninstall failed",
                      f"{label} uninstall timed out"),
    }
    op = one_line(card.operation) or "deploy"
    generic = (f"{label} {op} ({rev})", f"{label} {op} succeeded ({rev})", f"{label} {op} failed ({rev})",
               f"{label} {op} timed out ({rev})")
    running, succeeded, failed, timed_out = words.get(card.operation, generic)
    return {RUNNING: running, SUCCEEDED: succeeded, FAILED: failed, TIMED_OUT: timed_out}[status]


def _restored_revision(card: DeployCard, summary: TrackSummary | None) -> str:
    """" to revision 3" when Helm's description says which revision a rollback restores."""
    for text in (card.description, summary.release_description if summary else None):
        match = _ROLLBACK_TO.match(text or "")
        if match:
            return f" to revision {match.group(1)}"
    return ""


def _who_and_what(card: DeployCard, summary: TrackSummary | None) -> Block:
    who = mention(one_line(card.requested_by)) if card.requested_by.strip() else "someone"
    past = {"install": "Installed", "upgrade": "Upgraded", "rollback": "Rolled back",
            "uninstall": "Uninstalled"}.get(card.operation, "Changed")
    if card.origin == "passive":
        line = f"{past} outside helmbot by {who}"
    elif card.origin == "catchup":
        line = f"Requested by {who} · caught up after a restart"
    else:
        line = f"Requested by {who}"
    if card.approved_by:
        line += f" · approved by {mention(one_line(card.approved_by))}"
    if card.promoted_from:
        source = escape(one_line(card.promoted_from))
        link = card.promoted_link or ""
        safe = link.startswith("https://") and not any(c in link for c in "<>| \n")
        line += f" · promoted from <{link}|{source}>" if safe else f" · promoted from {source}"
    if card.dry_run:
        line += " · dry run"
    chart_to = card.chart_to or (summary.chart if summary else None)
    app_to = card.app_to or (summary.app_version if summary else None)
    fields = []
    chart = _change(*_chart_parts(card.chart_from, chart_to))
    if chart:
        fields.append(f"*Chart*\n{chart}")
    app = _change(None, card.app_from, app_to)
    if app:
        fields.append(f"*App version*\n{app}")
    revision = card.revision if card.revision is not None else (summary.revision if summary else None)
    if revision is not None:
        previous = f"{card.previous_revision} → " if card.previous_revision is not None else ""
        fields.append(f"*Revision*\n{previous}{revision}")
    where = escape(one_line(card.namespace))
    if card.cluster:
        where += f" · cluster {escape(one_line(card.cluster))}"
    fields.append(f"*Namespace*\n{where}")
    return section(line, fields=fields)


def _chart_parts(chart_from: str | None, chart_to: str | None) -> tuple[str | None, str | None, str | None]:
    """("shop", "1.4.2", "1.5.0") when both name the same chart; else the whole references."""
    a, b = _CHART.match(chart_from or ""), _CHART.match(chart_to or "")
    if a and b and a["name"] == b["name"]:
        return a["name"], a["version"], b["version"]
    if b and not chart_from:
        return b["name"], None, b["version"]
    return None, chart_from, chart_to


def _change(name: str | None, before: str | None, after: str | None) -> str:
    """"shop 1.4.2 → 1.5.0", "1.5.0 (unchanged)", "1.5.0"; "" when nothing is known."""
    prefix = f"{escape(one_line(name))} " if name else ""
    old, new = escape(one_line(before or "")), escape(one_line(after or ""))
    if old and new and old != new:
        return f"{prefix}{old} → {new}"
    if new:
        return f"{prefix}{new}{' (unchanged)' if old == new else ''}"
    return f"{prefix}{old}" if old else ""


def _verdict_section(summary: TrackSummary | None) -> Block | None:
    if summary is None or summary.verdict is None:
        return None
    status = deploy_status(summary)
    text = f"{STATUS_EMOJI[status]} *{STATUS_WORD[status]}:* {escape(one_line(summary.verdict.reason))}"
    if summary.verdict.not_judged:
        text += "\n👁 Not judged: " + escape(", ".join(one_line(n) for n in summary.verdict.not_judged))
    return section(text)


def _progress_word(summary: TrackSummary | None) -> str:
    if summary is None or summary.operation is None:
        return "waiting for Helm to store the release"
    running = [p.name for p in summary.phases if p.state == "running"]
    return f"{running[0]} running" if running else "in progress"


def _phases_text(card: DeployCard, summary: TrackSummary | None, now: datetime) -> str:
    if summary is None or summary.operation is None:
        revision = card.revision if card.revision is not None else "the new revision"
        return f"*Progress*\n⏳ waiting for Helm to store {escape(card.release_label)} revision {revision}"
    lines = ["*Progress*"]
    for phase in summary.phases:
        name = "resources and rollout" if phase.kind == "resources" else phase.name
        line = f"{PHASE_EMOJI.get(phase.state, '▫️')} {escape(one_line(name))}"
        if phase.state == "skipped":
            line += " (nothing to run)"
        elif phase.state == "pending":
            line += " (pending)"
        elif phase.started_at is not None:
            end = phase.finished_at or (summary.verdict.at if summary.verdict else now)
            took = _age(end - phase.started_at)
            line += f" · {took}" if phase.finished_at else f" · {took} so far"
            if phase.state == "failed":
                line += " · failed"
        lines.append(line)
    return lines_within(lines, SECTION_TEXT, line_limit=LIST_LINE)


def _jobs_section(summary: TrackSummary, now: datetime) -> Block | None:
    if not summary.jobs:
        return None
    lines = [_job_line(job, summary, now) for job in _by_state(summary.jobs)]
    return _lines_block("*Hooks and Jobs*", lines)


def _job_line(job: JobSummary, summary: TrackSummary, now: datetime) -> str:
    role = f"{job.phase.removesuffix('s')}" if job.hook and job.phase else "Job of the chart"
    line = f"{STEP_EMOJI.get(job.state, '▫️')} {escape(job.kind)}/{escape(job.name)} ({escape(role)})"
    running_for = _job_running_for(job, summary, now)
    if job.state in ("in_progress", "running"):
        line += f" running {_age(running_for)}" if running_for is not None else " running"
        if job.attempts and job.attempts > 1:
            line += f", attempt {job.attempts}"
    elif job.state == "succeeded":
        line += f" succeeded in {_age(running_for)}" if running_for is not None else " succeeded"
    elif job.state == "failed":
        line += " failed" + (f": {escape(one_line(job.reason))}" if job.reason else "")
    elif job.state == "unknown":
        line += " (gone before its result was seen)"
    else:
        line += f" {escape(job.state)}"
    if job.last_log_line and job.state in ("in_progress", "running", "failed"):
        line += f": last line {inline_code(job.last_log_line, LAST_LINE_SHOWN)}"
    return line


def _job_running_for(job: JobSummary, summary: TrackSummary, now: datetime) -> timedelta | None:
    if job.duration_seconds is not None and job.state not in ("in_progress", "running"):
        return timedelta(seconds=job.duration_seconds)
    if job.started_at is None:
        return None if job.duration_seconds is None else timedelta(seconds=job.duration_seconds)
    end = job.finished_at or (summary.verdict.at if summary.verdict else now)
    return end - job.started_at


def _gated_section(summary: TrackSummary, now: datetime) -> Block | None:
    if not summary.gated:
        return None
    jobs = {job.name: job for job in summary.jobs}
    lines = []
    for gated in summary.gated:
        count = len(gated.pods)
        pods = f"{count} pod{'' if count == 1 else 's'} of {escape(gated.workload)}"
        job = jobs.get(gated.job or "")
        if gated.job is None:
            lines.append(f"⏸ {pods} waiting in Init since {_age(now - gated.since)}")
            continue
        line = f"⏸ {pods} waiting on Job/{escape(gated.job)}"
        if job is not None and job.state in ("in_progress", "running"):
            running_for = _job_running_for(job, summary, now)
            if running_for is not None:
                line += f", running {_age(running_for)}"
            if job.last_log_line:
                line += f": last line {inline_code(job.last_log_line, LAST_LINE_SHOWN)}"
        elif job is not None and job.state == "succeeded":
            line += " (it has finished; the pods have yet to notice)"
        lines.append(line)
    return _lines_block(None, lines)


def _workloads_section(summary: TrackSummary) -> Block | None:
    if not summary.workloads:
        return None
    done = sum(1 for w in summary.workloads if w.state == "current")
    title = f"*Workloads* ({done} of {len(summary.workloads)} ready)"
    lines = [_workload_line(w) for w in _by_state(summary.workloads)]
    return _lines_block(title, lines)


def _workload_line(workload: WorkloadSummary) -> str:
    line = f"{STEP_EMOJI.get(workload.state, '▫️')} {escape(workload.kind)}/{escape(workload.name)}"
    if workload.desired is not None:
        line += f" {workload.ready or 0}/{workload.desired} ready"
    if workload.reason and workload.state != "current":
        line += f" · {escape(one_line(workload.reason))}"
    elif workload.state == "unobserved":
        line += " · not watched"
    return line


def _lines_block(title: str | None, lines: Sequence[str]) -> Block:
    """One section of lines (a title first), cut after the last whole line that fits, "… and N more"."""
    everything = [title, *lines] if title else list(lines)
    return section(lines_within(everything, SECTION_TEXT, line_limit=LIST_LINE))


def _by_state(items: Sequence[Any]) -> list[Any]:
    """What needs attention first: failed, then in progress, then the rest (stable within each)."""
    return sorted(items, key=lambda item: _STEP_ORDER.get(item.state, 9))


def _list_section(title: str, items: Sequence[str], bullet: str) -> Block | None:
    if not items:
        return None
    lines = [f"{bullet} {escape(one_line(item))}" for item in items]
    return _lines_block(title, lines)


def _footer(card: DeployCard, summary: TrackSummary | None, now: datetime) -> list[str]:
    started = card.started_at
    end = summary.verdict.at if summary is not None and summary.verdict is not None else now
    parts = [
        f"Started {date_token(started, started.strftime('%Y-%m-%d %H:%M UTC'))}",
        f"{'took' if summary is not None and summary.verdict else 'elapsed'} {_age(end - started)}",
        f"deploy {inline_code(card.deploy_id, 80)}",
    ]
    elements = [" · ".join(parts)]
    if card.description:
        elements.append(f"Helm: {escape(truncate_plain(one_line(card.description), 500))}")
    return elements


def _buttons(card: DeployCard, status: str) -> list[dict[str, Any]]:
    """Roll back once there is a verdict and a target: red (with a red confirm) after a failure or a
    timeout; after a success a plain button, still behind a confirm (a regression seen minutes after a
    green deploy is the most common reason to roll back, but a red button on a green card invites a
    mis-click). None while in progress or for a dry run. Show logs when there are logs; View plan for a
    dry run."""
    out = []
    if card.dry_run:
        out.append(button("View plan", PLAN_ACTION, card.deploy_id))
    elif card.rollback_target is not None and status != RUNNING:
        bad = status in (FAILED, TIMED_OUT)
        target = card.rollback_target
        where = f"{one_line(card.release_label)} in {one_line(card.namespace)}"
        if card.cluster:
            where += f" on {one_line(card.cluster)}"
        current = f"revision {card.revision}" if card.revision is not None else "this revision"
        dialog = confirm_dialog(
            f"Roll back {one_line(card.release_label)}?",
            f"helm rollback {where} to revision {target}. This creates a new revision with the contents "
            f"of revision {target}; {current} stays in the history.",
            confirm=f"Roll back to {target}",
            deny="Cancel",
            style="danger" if bad else None,
        )
        out.append(button(f"Roll back to revision {target}", ROLLBACK_ACTION, card.deploy_id,
                          style="danger" if bad else None, confirm=dialog))
    if card.logs_available:
        out.append(button("Show logs", LOGS_ACTION, card.deploy_id))
    return out


# --- thread replies --------------------------------------------------------------------------------------


def render_thread_reply(
    card: DeployCard, event: TrackEvent, *, now: datetime, earlier: Sequence[TrackEvent] = ()
) -> SlackMessage | None:
    """The reply an event deserves in the deploy's thread, or None when it is noise (progress counts, log
    lines and phase starts are on the card already; a gated-pods reminder comes every few minutes, not
    every minute). `earlier`: this deploy's events already rendered (at least those of the same observe),
    so a failed Job's pod, reported right after the Job with the same log, is not told twice. `now` is
    unused today but keeps the renderers' signatures alike."""
    del now
    etype = event.type
    if etype is EventType.PHASE_FINISHED:
        return _phase_finished(event)
    if etype is EventType.RESOURCE_READY and (event.subject or "").startswith(_JOB_KINDS):
        return _simple(f"✅ {escape(event.message)}")
    if etype is EventType.PODS_GATED:
        return _gated_reply(event)
    if etype is EventType.HOOK_NEARING_TIMEOUT:
        return _nearing_timeout(event)
    if etype is EventType.WARNING:
        return _simple(f"⚠️ {escape(event.message)}")
    if etype is EventType.FAILURE:
        return _failure_reply(card, event, earlier)
    if etype is EventType.VERDICT:
        return _verdict_reply(card, event)
    return None


def _simple(text: str) -> SlackMessage:
    return _message([section(text)], text)


def _phase_finished(event: TrackEvent) -> SlackMessage | None:
    if event.data.get("state") != "succeeded":
        return None  # a failed phase is told by its FAILURE and the verdict
    seconds = event.data.get("duration_seconds")
    took = f" in {_age(timedelta(seconds=float(seconds)))}" if isinstance(seconds, int | float) else ""
    return _simple(f"✅ {escape(event.phase or 'phase')} finished{took}")


def _gated_reply(event: TrackEvent) -> SlackMessage | None:
    """The first report of a group of gated pods, then a reminder every GATED_REMINDER of the Job's
    running time; not the tracker's every-minute heartbeat, nor a group shrinking after the Job is done."""
    running = event.data.get("job_running_seconds")
    if not event.data.get("heartbeat"):
        if event.data.get("job") and running is None:
            return None  # the Job has finished; its own reply said so
        return _simple(f"⏸ {escape(event.message)}")
    if not isinstance(running, int | float):
        return None
    step, window = GATED_REMINDER.total_seconds(), GATED_HEARTBEAT.total_seconds()
    if int(running // step) == int((running - window) // step):
        return None
    return _simple(f"⏸ Still waiting: {escape(event.message)}")


def _nearing_timeout(event: TrackEvent) -> SlackMessage:
    elapsed = event.data.get("elapsed_seconds")
    limit = event.data.get("helm_timeout_seconds")
    text = f"⏰ {escape(event.message)}"
    if isinstance(elapsed, int | float) and isinstance(limit, int | float):
        left = timedelta(seconds=max(0.0, float(limit) - float(elapsed)))
        text += f": Helm gives up in about {_age(left)} and marks the release failed"
    return _simple(text)


def failure_headline(failure: Mapping[str, Any]) -> str:
    """"Job/shop-migrate failed: BackoffLimitExceeded" in mrkdwn, from a FAILURE event's data."""
    kind, name = one_line(failure.get("kind") or "?"), one_line(failure.get("name") or "?")
    if kind == "Release":
        return f"Release {escape(name)}: {escape(one_line(failure.get('message') or failure.get('reason')))}"
    return f"*{escape(kind)}/{escape(name)}* failed: *{escape(one_line(failure.get('reason') or 'failed'))}*"


def failure_facts(failure: Mapping[str, Any]) -> str:
    """Pod, container, exit code and restarts on one line ("" when none is known)."""
    facts = []
    pod, name = failure.get("pod"), failure.get("name")
    if pod and pod != name:
        facts.append(f"pod {inline_code(pod, 120)}")
    container = failure.get("container")
    if container:
        kind = "init container" if failure.get("init_container") else "container"
        facts.append(f"{kind} {inline_code(container, 120)}")
    if failure.get("exit_code") is not None:
        facts.append(f"exit code {escape(failure['exit_code'])}")
    restarts = failure.get("restarts")
    if isinstance(restarts, int) and restarts:
        facts.append(f"{restarts} restart{'' if restarts == 1 else 's'}")
    return " · ".join(facts)


def _failure_text(failure: Mapping[str, Any]) -> str:
    lines = [f"❌ {failure_headline(failure)}"]
    facts = failure_facts(failure)
    if facts:
        lines.append(facts)
    message = one_line(failure.get("message") or "")
    if message and failure.get("kind") != "Release":
        lines.append(f"> {escape(message)}")
    unavailable = one_line(failure.get("log_unavailable") or "")
    if unavailable:
        lines.append(f"Logs unavailable: {escape(unavailable)}")
    return "\n".join(lines)


def _log_lines(value: object) -> list[str]:
    if isinstance(value, str):
        return value.splitlines()
    if isinstance(value, Sequence):
        return [str(v) for v in value]
    return []


def _failure_reply(card: DeployCard, event: TrackEvent, earlier: Sequence[TrackEvent]) -> SlackMessage | None:
    failure = event.data
    told = [e.data for e in earlier if e.type is EventType.FAILURE]
    pod, container = failure.get("pod"), failure.get("container")
    if failure.get("kind") == "Pod" and any(
        t.get("kind") != "Pod" and t.get("pod") == pod and t.get("container") == container for t in told
    ):
        return None  # a failed Job's last pod: the Job's reply named it, with its exit code and log
    blocks: list[Block | None] = [section(_failure_text(failure))]
    shown_before = any(t.get("pod") == pod and t.get("container") == container and t.get("log_tail")
                       for t in told)
    tail = [] if shown_before else _log_lines(failure.get("log_tail"))
    file = None
    if tail:
        where = "/".join(one_line(p) for p in (failure.get("pod"), failure.get("container")) if p)
        shown = tail[-INLINE_LOG_LINES:]
        block_text = code_block(shown, SECTION_TEXT - 200)
        cut = len(tail) > len(shown) or not fits_code_block(shown, SECTION_TEXT - 200)
        label = f"Last {len(shown)} log line{'' if len(shown) == 1 else 's'}"
        if where:
            label += f" of {inline_code(where, 200)}"
        blocks.append(section(f"{label}:\n{block_text}"))
        if cut:
            file = _log_file(card, one_line(failure.get("pod") or "pod"),
                             one_line(failure.get("container") or "container"), tail)
            note = f"The full log ({len(tail)} lines) is attached as {escape(file.filename)}."
            blocks.append(context(note))
    text = f"❌ {one_line(failure.get('kind') or '?')}/{one_line(failure.get('name') or '?')} failed: " \
           f"{one_line(failure.get('reason') or 'failed')}"
    return _message(blocks, escape(text), file=file)


def _verdict_reply(card: DeployCard, event: TrackEvent) -> SlackMessage:
    outcome = str(event.data.get("outcome") or "")
    status = outcome if outcome in (SUCCEEDED, FAILED, TIMED_OUT) else FAILED
    reason = one_line(event.data.get("reason") or event.message)
    title = _headline(card, None, status)
    head = f"{STATUS_EMOJI[status]} *{escape(title)}*\n{escape(reason)}"
    blocks: list[Block | None] = [section(head)]
    if status == SUCCEEDED:
        not_judged = [one_line(n) for n in event.data.get("not_judged") or ()]
        if not_judged:
            blocks.append(context("👁 Not judged: " + escape(", ".join(not_judged))))
        return _message(blocks, escape(f"{STATUS_EMOJI[status]} {title}: {reason}"))
    failures = [f for f in event.data.get("failures") or () if isinstance(f, Mapping)]
    if len(failures) > 1:
        lines = [f"• {failure_headline(f)}" for f in failures]
        blocks.append(_lines_block("*Failures*", lines))
    if failures:
        first = failures[0]
        facts = failure_facts(first)
        if facts:
            blocks.append(context(facts))
        tail = _log_lines(first.get("log_tail"))[-BROADCAST_LOG_LINES:]
        if tail:
            blocks.append(section(f"Last log lines:\n{code_block(tail, 1500, line_limit=200)}"))
    still = [one_line(s) for s in event.data.get("in_progress") or ()]
    if status == TIMED_OUT and still:
        lines = [f"⏳ {escape(s)}" for s in still]
        blocks.append(_lines_block("*Still in progress*", lines))
    if card.rollback_target is not None and not card.dry_run:
        blocks.append(context(f"*Roll back to revision {card.rollback_target}* is on the deploy message "
                              f"at the top of this thread."))
    return _message(blocks, escape(f"{STATUS_EMOJI[status]} {title}: {reason}"), broadcast=True)


# --- the timeline and logs -------------------------------------------------------------------------------


def render_timeline_reply(card: DeployCard, summary: TrackSummary, *, now: datetime) -> SlackMessage | None:
    """The rollout as bars (bot.core.timeline) in code blocks; None when nothing was seen to draw.
    Many lanes are split over several sections, then cut with "… N more"."""
    lines = render_timeline(summary, width=TIMELINE_WIDTH, now=now)
    if not lines:
        return None
    status = deploy_status(summary)
    title = (f"🕒 *Rollout timeline* of {escape(one_line(card.release_label))} revision {summary.revision} "
             f"({STATUS_WORD[status].lower()})")
    axis, lanes, legend = lines[0], lines[1:-1], lines[-1]
    blocks: list[Block | None] = [section(title)]
    chunks = _chunks(lanes, SECTION_TEXT - 400)
    shown = chunks[:TIMELINE_SECTIONS]
    for index, chunk in enumerate(shown):
        body = [axis, *chunk] if index == 0 else list(chunk)
        if index == len(shown) - 1:
            hidden = sum(len(c) for c in chunks[TIMELINE_SECTIONS:])
            body += [f"… {hidden} more", legend] if hidden else [legend]
        blocks.append(section(code_block(body, SECTION_TEXT, keep="head", line_limit=400,
                                         omitted="… {n} more lines")))
    return _message(blocks, escape(f"Rollout timeline of {one_line(card.release_label)} "
                                   f"revision {summary.revision}"))


def _chunks(lines: Sequence[str], size: int) -> list[list[str]]:
    out: list[list[str]] = [[]]
    used = 0
    for line in lines:
        length = min(len(escape(line)), 400) + 1
        if out[-1] and used + length > size:
            out.append([])
            used = 0
        out[-1].append(line)
        used += length
    return out


def render_logs_reply(
    card: DeployCard, pod: str, container: str, lines: Sequence[str], *, now: datetime
) -> SlackMessage | LogFile:
    """A "Show logs" answer: up to 30 short lines inline, anything longer as a file for the caller to
    upload (files_upload_v2) into the thread."""
    del now
    where = f"{one_line(pod)}/{one_line(container)}"
    if not lines:
        return _simple(f"📄 No log lines from {inline_code(where, 200)} yet.")
    if len(lines) > INLINE_LOG_LINES or not fits_code_block(lines, SECTION_TEXT - 300):
        return _log_file(card, pod, container, lines)
    block_text = code_block(lines, SECTION_TEXT - 300)
    label = f"📄 Last {len(lines)} log line{'' if len(lines) == 1 else 's'} of {inline_code(where, 200)}"
    return _message([section(f"{label}:\n{block_text}")], escape(f"Log of {where}"))


def _log_file(card: DeployCard, pod: str, container: str, lines: Sequence[str]) -> LogFile:
    label = one_line(card.release_label) or "release"
    revision = f"rev{card.revision}" if card.revision is not None else ""
    parts = (_FILENAME_UNSAFE.sub("-", part).strip("-.") for part in (label, revision, pod, container))
    stem = "-".join(part for part in parts if part)
    stem = stem[:180] or "log"
    title = truncate_plain(f"{label} revision {card.revision}: {one_line(pod)}/{one_line(container)}", 250)
    content = "\n".join(clean(line).replace("\n", " ") for line in lines) + "\n"
    return LogFile(filename=f"{stem}.log", content=content, title=title)


def _age(value: timedelta) -> str:
    """Whole seconds, never negative ("2m14s")."""
    return format_duration(timedelta(seconds=max(0, int(value.total_seconds()))))
