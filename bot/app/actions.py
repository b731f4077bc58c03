"""The ids of helmbot's buttons, shared by the use cases (which handle them) and the Slack layer (which puts
them on cards). A button's value is always a server-side key, never parameters to trust."""

ROLLBACK_ACTION = "helmbot_rollback"  # value: deploy id (the parent of a finished deploy)
LOGS_ACTION = "helmbot_logs"  # value: deploy id
CONFIRM_ACTION = "helmbot_confirm"  # value: id of a stored request waiting for its requester's confirmation
APPROVE_ACTION = "helmbot_approve"  # value: approval id
REJECT_ACTION = "helmbot_reject"  # value: approval id
APPROVAL_PLAN_ACTION = "helmbot_approval_plan"  # value: approval id
PLAN_ACTION = "helmbot_plan"  # value: deploy id of a dry-run card (no handler: dry runs reply with the plan)
