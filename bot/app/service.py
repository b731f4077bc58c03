"""The bot's use cases behind one façade: commands and clicks in, replies out.

The Slack layer calls `command()` and `action()` (within Slack's 3 s: nothing here waits for helm, which runs
on a worker thread) and renders the `Reply`. Every command and click is checked again on its own
(permission, lock, approval state), recorded in the audit log with its outcome, and made idempotent by its
request key, so a repeated or stale click never runs anything twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.app.actions import (
    APPROVAL_PLAN_ACTION,
    APPROVE_ACTION,
    CONFIRM_ACTION,
    LOGS_ACTION,
    REJECT_ACTION,
    ROLLBACK_ACTION,
)
from bot.app.commands import (
    CommandError,
    DeployCommand,
    HelmbotCommand,
    PromoteCommand,
    RollbackCommand,
    parse_deploy,
    parse_helmbot,
    parse_promote,
    parse_rollback,
)
from bot.app.fleet import Fleet
from bot.app.operations import HelmJob, LockHeld, Operations, PendingRelease, job_summary, new_deploy_id
from bot.app.ports import Actor, Clock, ClusterPort
from bot.app.promotion import promotion_request
from bot.app.queries import Queries
from bot.app.replies import Reply, ReplyKind
from bot.app.requests import (
    CheckedRequest,
    approval_reason,
    check_deploy,
    check_deployer,
    check_rollback,
    job_from_dict,
    job_to_dict,
    resolve,
    target_of,
)
from bot.app.views import ApprovalView, PlanView, PreflightView
from bot.config import Config, ReleaseSettings
from bot.core.gitops import GitOpsOwner
from bot.errors import HelmbotError, describe_error
from bot.store import Store
from bot.store.records import Approval, AuditEntry

log = logging.getLogger("helmbot.app")

COMMANDS = ("deploy", "rollback", "promote", "helmbot")
CONFIRM_TTL = timedelta(minutes=15)
CLICK_MEMORY = timedelta(hours=24)


class HelmBot:
    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        clusters: Mapping[str, ClusterPort],
        operations: Operations,
        queries: Queries,
        clock: Clock,
        post_card: Callable[[str, Any], None],
        show_logs: Callable[[str, Actor], Reply] | None = None,
        fleet: Fleet | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clusters = clusters
        self.operations = operations
        self.queries = queries
        self.clock = clock
        self.post_card = post_card  # (channel, view): a card posted in a channel (approval requests)
        self.show_logs = show_logs  # (deploy id, actor): a failed deploy's logs into its thread
        self.fleet = fleet  # which clusters are reachable (None: all are assumed to be)

    # -- entry points -------------------------------------------------------------------------------------

    def command(self, name: str, text: str, actor: Actor, *, request_key: str | None = None) -> Reply:
        """Run a slash command (`name` is one of COMMANDS); never raises for bad input."""
        try:
            if request_key and not self._once(f"command:{request_key}"):
                return Reply.refused("this request was already handled")
            if name == "deploy":
                reply = self.deploy(parse_deploy(text), actor, request_key=request_key)
            elif name == "rollback":
                reply = self.rollback(parse_rollback(text), actor)
            elif name == "promote":
                reply = self.promote(parse_promote(text), actor)
            elif name == "helmbot":
                reply = self.helmbot(parse_helmbot(text), actor)
            else:
                reply = Reply.refused(f"unknown command {name!r}")
        except HelmbotError as exc:
            reply = Reply.refused(describe_error(exc))
        except Exception as exc:
            log.exception("command %s failed", name)
            reply = Reply.refused(describe_error(exc))
        self._audit(actor, f"/{name}", _first_word(text), reply)
        return reply

    def action(self, action_id: str, value: str, actor: Actor, *, request_key: str | None = None) -> Reply:
        """Handle a button click; `value` is a server-side key (a deploy or approval id), never trusted
        parameters."""
        try:
            if request_key and not self._once(f"action:{request_key}"):
                return Reply.refused("this click was already handled")
            handler = {
                ROLLBACK_ACTION: self.click_rollback,
                CONFIRM_ACTION: self.click_confirm,
                APPROVE_ACTION: self.click_approve,
                REJECT_ACTION: self.click_reject,
                APPROVAL_PLAN_ACTION: self.plan_for_approval,
                LOGS_ACTION: self.click_logs,
            }.get(action_id)
            reply = handler(value, actor) if handler else Reply.refused(f"unknown action {action_id!r}")
        except HelmbotError as exc:
            reply = Reply.refused(describe_error(exc))
        except Exception as exc:
            log.exception("action %s failed", action_id)
            reply = Reply.refused(describe_error(exc))
        self._audit(actor, action_id, value[:64], reply)
        return reply

    # -- commands -----------------------------------------------------------------------------------------

    def deploy(self, command: DeployCommand, actor: Actor, *, request_key: str | None = None) -> Reply:
        request = check_deploy(self.config, command, actor, self.clock())
        self._ensure_reachable(request.settings)
        held = self._before_start(request, actor, dry_run=command.dry_run, request_key=request_key)
        return held or self._start(request, actor, request_key or new_deploy_id())

    def _before_start(self, request: CheckedRequest, actor: Actor, *, dry_run: bool,
                      request_key: str | None) -> Reply | None:
        """What stands between a checked deploy and helm, in order: a dry run shows the plan, a GitOps
        owner asks for confirmation, a freeze or a protected release asks for approval; None: go."""
        if dry_run:
            return self._plan_with_deploy_button(request, actor)
        owner = self._gitops_owner(request)
        if owner is not None:
            return self._gitops_confirm(request, actor, owner)
        if request.needs_approval:
            return self._ask_approval(request, actor, request_key)
        return None

    def _plan_with_deploy_button(self, request: CheckedRequest, actor: Actor) -> Reply:
        """The dry run's plan, with a button that deploys exactly this request (checked again when
        clicked: permission, freeze, approval, lock), so nobody retypes the command after reading it."""
        reply = self.queries.plan(request, actor)
        if not isinstance(reply.card, PlanView):
            return reply
        pending = self._pending(request, actor, kind="confirm", reason="confirmation", ttl=CONFIRM_TTL)
        owner = self._gitops_owner(request)
        label = "Ask for approval" if request.needs_approval else "Deploy anyway" if owner else "Deploy this"
        hazards = (owner.warning("deploy"),) if owner is not None else ()
        card = replace(
            reply.card, confirm_value=pending.id, confirm_label=label, hazards=hazards + reply.card.hazards
        )
        return replace(reply, card=card)

    def rollback(self, command: RollbackCommand, actor: Actor) -> Reply:
        request = check_rollback(self.config, command, actor)
        self._ensure_reachable(request.settings)
        preflight = self.queries.rollback_preflight(request)
        if isinstance(preflight, Reply):
            return preflight
        owner = self._gitops_owner(request)
        if owner is not None:  # the preflight's button is the explicit confirmation
            preflight = replace(preflight, hazards=(owner.warning("rollback"), *preflight.hazards))
        if command.dry_run:
            view = PreflightView(preflight.title, preflight.lines, "", hazards=preflight.hazards)
            return Reply.info(view.title, card=view)
        request = replace(
            request,
            job=replace(request.job, revision=preflight.revision),
            summary=f"roll back to revision {preflight.revision}",
        )
        pending = self._pending(request, actor, kind="confirm", reason="confirmation", ttl=CONFIRM_TTL)
        view = PreflightView(
            title=preflight.title,
            lines=preflight.lines,
            confirm_value=pending.id,
            confirm_label=f"Roll back to revision {preflight.revision}" + (" anyway" if owner else ""),
            hazards=preflight.hazards,
        )
        return Reply.info(view.title, card=view, **({"gitops": owner.controller} if owner else {}))

    def promote(self, command: PromoteCommand, actor: Actor) -> Reply:
        request = promotion_request(
            self.config,
            command,
            actor,
            clusters=self.clusters,
            helm_for=self.queries.helm_for,
            store=self.store,
            now=self.clock(),
            ensure_reachable=self._ensure_reachable,
        )
        held = self._before_start(request, actor, dry_run=command.dry_run, request_key=None)
        if held is not None:
            return held
        # stored like any request, so the deploy's card can name (and link) the revision it promotes
        row = self._pending(request, actor, kind="promotion", reason="promotion", ttl=CONFIRM_TTL)
        self.store.decide_approval(row.id, status="approved", decided_by=actor.user_id, now=self.clock())
        return self._start(request, actor, row.id)

    def helmbot(self, command: HelmbotCommand, actor: Actor) -> Reply:
        if command.action == "help":
            return self.queries.help(actor)
        if command.action == "releases":
            return self.queries.release_list(actor)
        assert command.release is not None
        if command.action == "status":
            return self.queries.status(command.release, command.environment)
        return self.queries.history(command.release, command.environment)

    # -- clicks -------------------------------------------------------------------------------------------

    def click_rollback(self, deploy_id: str, actor: Actor) -> Reply:
        """The Roll back button of a deploy's parent message (Slack asked the user to confirm already)."""
        record = self.store.get_deploy(deploy_id)
        if record is None:
            return Reply.refused("that deploy is unknown to helmbot (its record is gone)")
        settings = self.queries.settings_for(record)
        if settings is None:
            return Reply.refused(f"{record.release} is no longer in helmbot's configuration")
        check_deployer(settings, actor)
        self._ensure_reachable(settings)
        current = self.queries.current_revision(record)
        if record.revision is None or current != record.revision:
            now_at = f"revision {current}" if current is not None else "no revision"
            return Reply.refused(
                f"{settings.label} has moved on (it is at {now_at}; this message is about revision "
                f"{record.revision}): nothing was rolled back. Use /rollback {settings.name}"
                + (f" {settings.environment}" if settings.environment else "")
                + " to choose a revision."
            )
        target_revision = self.queries.rollback_target(record)
        if target_revision is None:
            return Reply.refused(f"there is no earlier good revision of {settings.label} to roll back to")
        if not self._once(f"rollback-of:{deploy_id}"):
            return Reply.refused(
                f"a rollback of {settings.label} from this message was already started (or awaits its "
                "confirmation)"
            )
        command = RollbackCommand(settings.name, settings.environment, target_revision)
        request = check_rollback(self.config, command, actor)
        owner = self._gitops_owner(request)
        if owner is not None:
            return self._gitops_confirm(request, actor, owner)
        if request.needs_approval:
            return self._ask_approval(request, actor, f"rollback-of:{deploy_id}")
        return self._start(request, actor, new_deploy_id())

    def click_confirm(self, pending_id: str, actor: Actor) -> Reply:
        """Confirm a request the same person made (a rollback preflight, a dry run's plan, a recovery)."""
        approval = self.store.get_approval(pending_id)
        if approval is None or approval.request.get("kind") != "confirm":
            return Reply.refused("that confirmation is unknown or has expired")
        if approval.requested_by != actor.user_id:
            return Reply.refused("only the person who asked can confirm this")
        request = self._request_of(approval)
        check_deployer(request.settings, actor)
        self._ensure_reachable(request.settings)  # before the request is used up
        decided = self.store.decide_approval(
            pending_id, status="approved", decided_by=actor.user_id, now=self.clock()
        )
        if decided is None:
            current = self.store.get_approval(pending_id)
            state = "expired" if current is not None and current.status == "expired" else "already confirmed"
            return Reply.refused(f"this request is {state}: nothing ran")
        if request.needs_approval:
            return self._ask_approval(request, actor, pending_id)
        return self._start(request, actor, pending_id)

    def plan_for_approval(self, approval_id: str, actor: Actor) -> Reply:
        """The plan of a request waiting for approval, for whoever decides (or asked, or may deploy)."""
        approval = self.store.get_approval(approval_id)
        if approval is None or approval.request.get("kind") != "approval":
            return Reply.refused("that approval request is unknown")
        request = self._request_of(approval)
        settings = request.settings
        if actor.user_id != approval.requested_by and not (
            settings.may_deploy(actor.user_id, actor.groups)
            or settings.may_approve(actor.user_id, actor.groups, None)
        ):
            return Reply.refused(f"only deployers and approvers of {settings.label} may see its plans")
        if request.job.operation == "rollback":
            preflight = self.queries.rollback_preflight(request)
            if isinstance(preflight, Reply):
                return preflight
            return Reply.info(
                preflight.title,
                card=PreflightView(preflight.title, preflight.lines, "", hazards=preflight.hazards),
            )
        return self.queries.plan(request, actor)

    def click_logs(self, deploy_id: str, actor: Actor) -> Reply:
        """Show logs: the failing containers' tails into the deploy's thread, for its deployers and
        approvers (logs can hold what the channel at large should not read)."""
        record = self.store.get_deploy(deploy_id)
        if record is None:
            return Reply.refused("that deploy is unknown to helmbot (its record is gone)")
        settings = self.queries.settings_for(record)
        if settings is not None and not (
            settings.may_deploy(actor.user_id, actor.groups)
            or settings.may_approve(actor.user_id, actor.groups, None)
        ):
            return Reply.refused(f"only deployers and approvers of {settings.label} may read its logs")
        if settings is None and actor.user_id != record.requested_by:
            return Reply.refused(f"{record.release} is not in helmbot's configuration: no logs")
        if self.show_logs is None:
            return Reply.refused("logs cannot be shown by this helmbot")
        return self.show_logs(deploy_id, actor)

    def click_approve(self, approval_id: str, actor: Actor) -> Reply:
        return self._decide(approval_id, actor, "approved")

    def click_reject(self, approval_id: str, actor: Actor) -> Reply:
        return self._decide(approval_id, actor, "rejected")

    def _decide(self, approval_id: str, actor: Actor, status: str) -> Reply:
        approval = self.store.get_approval(approval_id)
        if approval is None or approval.request.get("kind") != "approval":
            return Reply.refused("that approval request is unknown")
        request = self._request_of(approval)
        if actor.user_id == approval.requested_by:
            return Reply.refused("a second person must approve: you asked for this deploy")
        if not request.settings.may_approve(actor.user_id, actor.groups):
            return Reply.refused(f"you are not an approver of {request.settings.label}")
        if status == "approved":
            self._ensure_reachable(request.settings)  # the approval stays pending for later
        decided = self.store.decide_approval(
            approval_id, status=status, decided_by=actor.user_id, now=self.clock()
        )
        if decided is None:
            current = self.store.get_approval(approval_id)
            state = current.status if current is not None else "gone"
            return Reply.refused(f"this request is already {state}")
        self.post_card(decided.channel or request.settings.channel, self._approval_view(decided, request))
        if status == "rejected":
            return Reply.accepted(f"rejected: {request.summary} of {request.settings.label}")
        requester = Actor(user_id=approval.requested_by)
        return self._start(request, requester, approval_id, approved_by=actor.user_id)

    # -- shared steps ---------------------------------------------------------------------------------

    def _start(
        self, request: CheckedRequest, actor: Actor, request_id: str, *, approved_by: str | None = None
    ) -> Reply:
        settings = request.settings
        try:
            record = self.operations.start(
                target=request.target,
                actor=actor,
                job=request.job,
                channel=settings.channel,
                environment=settings.environment,
                request_id=request_id,
                track_timeout=settings.track_timeout,
                chart_label=None,
            )
        except LockHeld as exc:
            return Reply.refused(describe_error(exc))
        except PendingRelease as exc:
            return self._recovery(request, actor, exc)
        what = "rollback" if request.job.operation == "rollback" else "deploy"
        by = f", approved by <@{approved_by}>" if approved_by else ""
        return Reply.accepted(
            f"{what} of {settings.label} started ({request.summary}{by}); follow it in <#{settings.channel}>",
            deploy_id=record.id,
        )

    def _recovery(self, request: CheckedRequest, actor: Actor, exc: PendingRelease) -> Reply:
        """A release stuck in pending-*: say so, and offer the recovery (roll back to the last deployed
        revision) as a button for the person who asked."""
        text = describe_error(exc)
        if exc.recover_to is None or request.job.operation == "rollback":
            return Reply.refused(text, recover_to=exc.recover_to)
        settings = request.settings
        rollback = CheckedRequest(
            settings,
            request.target,
            HelmJob(operation="rollback", revision=exc.recover_to, helm_timeout=settings.helm_timeout),
            None,
            f"roll back to revision {exc.recover_to}",
        )
        pending = self._pending(rollback, actor, kind="confirm", reason="recovery", ttl=CONFIRM_TTL)
        view = PreflightView(
            title=f"{settings.label} is stuck in Helm's {exc.status} state",
            lines=(
                f"Revision {exc.revision} was left {exc.status} by an interrupted helm run: helm refuses "
                "every upgrade until it is resolved.",
                f"Recovery: roll back to revision {exc.recover_to}, the last deployed one (its pre-rollback "
                "hooks run).",
            ),
            confirm_value=pending.id,
            confirm_label=f"Roll back to revision {exc.recover_to}",
        )
        return Reply(ReplyKind.REFUSED, text, card=view, data={"recover_to": exc.recover_to})

    def _pending(
        self, request: CheckedRequest, actor: Actor, *, kind: str, reason: str, ttl: timedelta
    ) -> Approval:
        """A request stored until someone acts on it: "confirm" (its requester's button) or "approval"
        (a second person's)."""
        now = self.clock()
        settings = request.settings
        approval = Approval(
            id=new_deploy_id(),
            cluster=settings.cluster,
            namespace=settings.namespace,
            release=settings.name,
            request={
                "kind": kind,
                "environment": settings.environment,
                "job": job_to_dict(request.job),
                "summary": request.summary,
                "reason": reason,
                **({"promoted_from": request.promoted_from} if request.promoted_from else {}),
            },
            requested_by=actor.user_id,
            approvers=list(settings.approvers),
            status="pending",
            decided_by=None,
            created_at=now,
            expires_at=now + ttl,
            decided_at=None,
            channel=settings.channel,
            message_ts=None,
        )
        return self.store.create_approval(approval)

    def _ask_approval(self, request: CheckedRequest, actor: Actor, request_key: str | None) -> Reply:
        settings = request.settings
        if not settings.approvers:
            return Reply.refused(
                f"{settings.label} needs an approval ({request.needs_approval}) but has no "
                "approvers configured"
            )
        approval = self._pending(
            request,
            actor,
            kind="approval",
            reason=request.needs_approval or "",
            ttl=settings.approval_ttl,
        )
        self.post_card(settings.channel, self._approval_view(approval, request))
        return Reply(
            ReplyKind.WAITING,
            f"{request.summary} of {settings.label} needs an approval "
            f"({request.needs_approval}); an approver was asked in "
            f"<#{settings.channel}>",
            data={"approval_id": approval.id},
        )

    def _approval_view(self, approval: Approval, request: CheckedRequest) -> ApprovalView:
        return ApprovalView(
            approval_id=approval.id,
            label=request.settings.label,
            what=request.summary,
            requested_by=approval.requested_by,
            approvers=tuple(approval.approvers),
            reason=str(approval.request.get("reason") or ""),
            expires_at=approval.expires_at,
            status=approval.status,
            decided_by=approval.decided_by,
        )

    def _request_of(self, approval: Approval) -> CheckedRequest:
        """A stored request as it would run now: today's settings, and whether it needs an approval
        today (None once a second person approved it)."""
        settings = resolve(self.config, approval.release, approval.request.get("environment"))
        job = job_from_dict(approval.request["job"])
        needs = None
        if approval.request.get("kind") == "confirm":
            needs = approval_reason(self.config, settings, job.operation, self.clock())
        promoted = approval.request.get("promoted_from")
        return CheckedRequest(
            settings,
            target_of(settings),
            job,
            needs,
            str(approval.request.get("summary")),
            promoted_from=promoted if isinstance(promoted, dict) else None,
        )

    def _ensure_reachable(self, settings: ReleaseSettings) -> None:
        if self.fleet is not None:
            self.fleet.ensure_reachable(settings)

    def _gitops_owner(self, request: CheckedRequest) -> GitOpsOwner | None:
        """The GitOps controller reconciling the target, if any; unknown (None) when it cannot be read
        (the operation itself then says what is wrong with the cluster)."""
        target = request.target
        try:
            return self.clusters[target.cluster].gitops_owner(target.namespace, target.release)
        except HelmbotError as exc:
            log.warning("cannot tell whether %s is GitOps-managed: %s", target, describe_error(exc))
            return None

    def _gitops_confirm(self, request: CheckedRequest, actor: Actor, owner: GitOpsOwner) -> Reply:
        """A GitOps-managed release: say what the controller will do, run only after an explicit click."""
        rollback = request.job.operation == "rollback"
        operation = "rollback" if rollback else "deploy"
        pending = self._pending(request, actor, kind="confirm", reason="gitops", ttl=CONFIRM_TTL)
        settings = request.settings
        view = PreflightView(
            title=f"{settings.label} is managed by {owner.controller}",
            lines=(
                owner.warning(operation),
                f"Requested: {request.summary}. Nothing has run yet.",
            ),
            confirm_value=pending.id,
            confirm_label=("Roll back anyway" if rollback else "Deploy anyway"),
        )
        return Reply.info(view.title, card=view, gitops=owner.controller, confirm_id=pending.id)

    def expire_approvals(self, now: datetime) -> int:
        """Mark overdue approvals expired and update their cards; returns how many."""
        expired = self.store.expire_approvals(now)
        for approval in expired:
            if approval.request.get("kind") != "approval":
                continue
            try:
                request = self._request_of(approval)
            except CommandError:
                continue
            self.post_card(
                approval.channel or request.settings.channel, self._approval_view(approval, request)
            )
        return len(expired)

    def _once(self, key: str) -> bool:
        return bool(self.store.remember_once(key, now=self.clock(), ttl=CLICK_MEMORY))

    def _audit(self, actor: Actor, action: str, target: str, reply: Reply) -> None:
        """One audit record per command and click: a JSON log line and a row in the store."""
        entry = AuditEntry(
            at=self.clock(),
            actor=actor.user_id,
            action=action,
            target=target,
            outcome=reply.kind.value,
            detail={
                "team": actor.team_id,
                "channel": actor.channel_id,
                "message": reply.text[:300],
                **{k: v for k, v in reply.data.items() if isinstance(v, str | int | None)},
            },
        )
        line = {
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "outcome": entry.outcome,
            "team": actor.team_id,
            "channel": actor.channel_id,
        }
        log.info("audit %s", json.dumps(line, sort_keys=True))
        try:
            self.store.audit(entry)
        except HelmbotError as exc:
            log.warning("audit record not stored: %s", describe_error(exc))


def _first_word(text: str) -> str:
    """The target of a command for the audit log: the release name, never the values."""
    words = (text or "").split()
    return words[0][:64] if words and "=" not in words[0] else ""


__all__ = ["COMMANDS", "HelmBot", "job_summary"]
