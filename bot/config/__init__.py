"""The bot's configuration file: schema, loading with line numbers, validation, freeze windows.

Pure (stdlib, PyYAML, bot.core.durations, bot.errors): it sits below the app layer. `load_config(path)` and
`parse_config(text)` give a `Config` or raise `ConfigError` listing every problem with its key path and line.
"""

from bot.config.cron import CronSchedule
from bot.config.errors import ConfigError, ConfigProblem, UnknownReleaseError
from bot.config.freezes import freeze_active, next_windows
from bot.config.loading import load_config, load_status_rules, parse_config, parse_status_rules
from bot.config.model import (
    DEFAULT_CLUSTER,
    ClusterSettings,
    Config,
    Freeze,
    HelmSettings,
    LeaderElectionSettings,
    LogSettings,
    NoticeRoute,
    NoticeSettings,
    ReleaseDefaults,
    ReleaseSettings,
    SlackSettings,
    StateSettings,
    StatusRule,
)

__all__ = [
    "DEFAULT_CLUSTER", "ClusterSettings", "Config", "ConfigError", "ConfigProblem", "CronSchedule", "Freeze",
    "HelmSettings", "LeaderElectionSettings", "LogSettings", "NoticeRoute", "NoticeSettings",
    "ReleaseDefaults", "ReleaseSettings", "SlackSettings", "StateSettings", "StatusRule",
    "UnknownReleaseError", "freeze_active", "load_config", "load_status_rules", "next_windows",
    "parse_config", "parse_status_rules",
]
