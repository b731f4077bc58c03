"""Replies and cards as Block Kit: refusals, acknowledgements, help, status, history, plans, preflights and
approval requests. Pure, like render.py: the listeners send what this returns.

Reply texts are the use cases' own words (they may hold our own `<@U…>` and `<#C…>` references); anything
that came from a person or the cluster is escaped, so no reply can ping a channel or smuggle a link.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.app.actions import APPROVAL_PLAN_ACTION, APPROVE_ACTION, CONFIRM_ACTION, REJECT_ACTION
from bot.app.replies import Reply, ReplyKind
from bot.app.views import (
    ApprovalView,
    HelpView,
    HistoryView,
    PlanView,
    PreflightView,
    RevisionLine,
    StatusView,
)
from bot.slack.blocks import (
    Block,
    actions,
    button,
    code_block,
    confirm_dialog,
    context,
    date_token,
    divider,
    escape,
    fit_message,
    header,
    section,
    truncate_mrkdwn,
)

_OUR_REFERENCE = re.compile(r"&lt;(@[UW][A-Z0-9]{2,30}|#[CGD][A-Z0-9]{2,30})&gt;")
_KIND_EMOJI = {
    ReplyKind.REFUSED: "🚫",
    ReplyKind.ACCEPTED: "🚀",
    ReplyKind.WAITING: "⏳",
    ReplyKind.INFO: "💬",
}


def reference_safe(text: str) -> str:
    """Escape everything, then let our own user and channel references through."""
    return _OUR_REFERENCE.sub(lambda m: f"<{m.group(1)}>", escape(text))


def _message(blocks: Sequence[Block | None], text: str) -> dict[str, Any]:
    fitted, fallback = fit_message(blocks, text)
    return {"text": fallback, "blocks": fitted}


def render_reply(reply: Reply) -> dict[str, Any]:
    """`text` and `blocks` for an ephemeral answer (or a message, when `reply.public`)."""
    card = reply.card
    if isinstance(card, HelpView):
        return render_help(card)
    if isinstance(card, StatusView):
        return render_status([card])
    if isinstance(card, tuple) and card and all(isinstance(c, StatusView) for c in card):
        return render_status(list(card))
    if isinstance(card, HistoryView):
        return render_history(card)
    if isinstance(card, PreflightView):
        return render_preflight(card)
    if isinstance(card, PlanView):
        return render_plan(card)
    line = f"{_KIND_EMOJI.get(reply.kind, '')} {reference_safe(reply.text)}".strip()
    return _message([section(truncate_mrkdwn(line, 2900))], line)


def render_help(view: HelpView) -> dict[str, Any]:
    lines = [f"`{escape(usage)}`\n{escape(what)}" for usage, what in view.commands]
    mine = (
        ", ".join(escape(label) for label in view.releases)
        or "none (ask to be added to a release's deployers)"
    )
    return _message(
        [header("helmbot"), section("\n\n".join(lines)), context(f"You may deploy: {mine}")],
        "helmbot commands",
    )


def _status_fields(view: StatusView) -> list[str]:
    fields = [
        f"*Revision*\n{view.revision if view.revision is not None else '—'}",
        f"*Status*\n{escape(view.status or 'unknown')}",
        f"*Chart*\n{escape(view.chart or '—')}",
        f"*App version*\n{escape(view.app_version or '—')}",
    ]
    if view.updated is not None:
        fields.append(f"*Updated*\n{date_token(view.updated, view.updated.strftime('%Y-%m-%d %H:%M UTC'))}")
    where = escape(view.namespace) + (f" on {escape(view.cluster)}" if view.cluster else "")
    fields.append(f"*Namespace*\n{where}")
    return fields


def render_status(views: Sequence[StatusView]) -> dict[str, Any]:
    blocks: list[Block | None] = []
    for view in views:
        blocks.append(header(f"{view.label}"))
        if view.error:
            blocks.append(section(f"⚠️ cannot read the cluster: {escape(view.error)}"))
        blocks.append(section(fields=_status_fields(view)))
        notes = []
        if view.running:
            notes.append(f"⏳ in progress: {reference_safe(view.running)}")
        if view.lock:
            notes.append(f"🔒 lock {reference_safe(view.lock)}")
        if view.last_verdict:
            notes.append(f"last helmbot verdict: {escape(view.last_verdict)}")
        if view.freeze:
            notes.append(f"❄️ deploy freeze: {escape(view.freeze)}")
        if notes:
            blocks.append(context(*notes[:10]))
    names = ", ".join(v.label for v in views)
    return _message(blocks, f"status of {names}")


def _history_line(line: RevisionLine) -> str:
    mark = {"succeeded": "✅", "failed": "❌", "timed_out": "⌛", "running": "⏳", "pending": "⏳"}.get(
        line.outcome or "", "•"
    )
    who = ""
    if line.by:
        who = (
            f" by <@{line.by}>" if re.fullmatch(r"[UW][A-Z0-9]{2,30}", line.by) else f" by {escape(line.by)}"
        )
    when = (
        f" {date_token(line.updated, line.updated.strftime('%Y-%m-%d %H:%M UTC'))}"
        if line.updated is not None
        else ""
    )
    desc = f" — {escape(line.description)}" if line.description else ""
    return (
        f"{mark} *{line.revision}* {escape(line.status)} · {escape(line.chart or '?')} "
        f"(app {escape(line.app_version or '?')}){who}{when}{desc}"
    )


def render_history(view: HistoryView) -> dict[str, Any]:
    lines = [_history_line(line) for line in view.lines] or ["no revisions stored"]
    body = truncate_mrkdwn("\n".join(lines), 2900)
    return _message(
        [
            header(f"History of {view.label}"),
            section(body),
            context("✅ ❌ ⌛ helmbot's verdict · • not followed by helmbot"),
        ],
        f"history of {view.label}",
    )


def render_plan(view: PlanView) -> dict[str, Any]:
    button_ = None
    if view.confirm_value:
        dialog = confirm_dialog(
            f"{view.confirm_label}?",
            "helm runs the plan above now (everything is checked again first).",
            confirm=view.confirm_label[:30],
        )
        button_ = button(
            view.confirm_label, CONFIRM_ACTION, view.confirm_value, style="primary", confirm=dialog
        )
    return _plan_card(view.title, view.lines, view.hazards, button_, "dry run: nothing has run")


def render_preflight(view: PreflightView) -> dict[str, Any]:
    button_ = None
    if view.confirm_value:
        dialog = confirm_dialog(
            view.confirm_label + "?",
            "helm will run now, with the hooks listed above.",
            confirm=view.confirm_label[:30],
            style="danger" if view.danger else None,
        )
        style = "danger" if view.danger else "primary"
        button_ = button(view.confirm_label, CONFIRM_ACTION, view.confirm_value, style=style, confirm=dialog)
    return _plan_card(view.title, view.lines, view.hazards, button_, "dry run: nothing will run")


def _plan_card(
    title: str, lines: Sequence[str], hazards: Sequence[str], action: dict[str, Any] | None, no_action: str
) -> dict[str, Any]:
    """A plan or a preflight: hazards first (what can go wrong), the plan as code, then its button."""
    blocks: list[Block | None] = [header(title)]
    if hazards:
        text = truncate_mrkdwn("\n".join(f"• {escape(h)}" for h in hazards), 2800)
        blocks.append(section("*⚠️ Hazards*\n" + text))
    blocks.append(section(code_block(list(lines), 2900, keep="head")))
    if action is not None:
        blocks.append(actions([action]))
        blocks.append(context("Only you can click this; it expires in 15 minutes."))
    else:
        blocks.append(context(no_action))
    return _message(blocks, title)


def render_approval(view: ApprovalView, *, now: datetime) -> dict[str, Any]:
    who = (
        f"<@{view.requested_by}>"
        if re.fullmatch(r"[UW][A-Z0-9]{2,30}", view.requested_by)
        else escape(view.requested_by)
    )
    approvers = (
        ", ".join(
            f"<@{a}>" if a[:1] in "UW" else f"<!subteam^{a}>" if a[:1] == "S" else escape(a)
            for a in view.approvers
        )
        or "—"
    )
    title = {
        "pending": "Approval needed",
        "approved": "Approved",
        "rejected": "Rejected",
        "expired": "Approval expired",
    }.get(view.status, view.status)
    blocks: list[Block | None] = [
        header(f"{title}: {view.label}"),
        section(f"{who} asks to *{escape(view.what)}* of *{escape(view.label)}* ({escape(view.reason)})."),
        section(
            fields=[
                f"*Approvers*\n{approvers}",
                f"*Expires*\n{date_token(view.expires_at, view.expires_at.strftime('%H:%M UTC'))}",
            ]
        ),
    ]
    if view.status == "pending" and view.expires_at > now:
        reject = confirm_dialog(
            "Reject this request?",
            f"{view.what} of {view.label} will not run.",
            confirm="Reject",
            style="danger",
        )
        blocks.append(
            actions(
                [
                    button("Approve", APPROVE_ACTION, view.approval_id, style="primary"),
                    button("Reject", REJECT_ACTION, view.approval_id, style="danger", confirm=reject),
                    button("View plan", APPROVAL_PLAN_ACTION, view.approval_id),
                ]
            )
        )
        blocks.append(context("A second person must approve; the requester cannot."))
    else:
        by = f" by <@{view.decided_by}>" if view.decided_by else ""
        blocks.append(context(f"{title}{by}."))
    blocks.append(divider())
    return _message(blocks, f"{title}: {view.what} of {view.label}")
