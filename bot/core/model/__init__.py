"""The tracking core's shared vocabulary, each word defined once: states, phase kinds, failures and their
event payloads, the grace policy, durations, JSON-safe values and times, and text helpers.

The bottom layer of bot.core: it imports nothing else from the bot.
"""

from bot.core.model.durations import format_age, format_duration, parse_duration
from bot.core.model.failures import (
    LOG_LINES_SHOWN,
    Failure,
    FailureData,
    VerdictData,
    failure_lines,
    text_lines,
)
from bot.core.model.policy import DEFAULT_POLICY, Policy, policy_from_dict, policy_to_dict
from bot.core.model.states import DONE_STATES, PhaseKind, PhaseState, State, StepState
from bot.core.model.values import api_time, json_safe, parse_time, to_utc
from bot.text import clip, join_lines, one_line, plural

__all__ = [
    "DEFAULT_POLICY",
    "DONE_STATES",
    "LOG_LINES_SHOWN",
    "Failure",
    "FailureData",
    "PhaseKind",
    "PhaseState",
    "Policy",
    "State",
    "StepState",
    "VerdictData",
    "api_time",
    "clip",
    "failure_lines",
    "format_age",
    "format_duration",
    "join_lines",
    "json_safe",
    "one_line",
    "parse_duration",
    "parse_time",
    "plural",
    "policy_from_dict",
    "policy_to_dict",
    "text_lines",
    "to_utc",
]
