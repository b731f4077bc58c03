"""Is a Kubernetes object current, still in progress, or failed? (see `dispatch` for the rules)"""

from bot.core.model.failures import Failure
from bot.core.model.policy import DEFAULT_POLICY, Policy
from bot.core.model.states import State
from bot.core.status.assessment import Assessment
from bot.core.status.dispatch import assess

__all__ = ["DEFAULT_POLICY", "Assessment", "Failure", "Policy", "State", "assess"]
