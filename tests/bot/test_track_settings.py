"""The runtime hands the configuration's `status_rules:` to every tracker it starts."""

from __future__ import annotations

from types import SimpleNamespace

from bot.config import StatusRule, parse_config
from bot.runtime.bot import BotRuntime

CONFIG = """releases:
  - {name: shop, namespace: shop, chart: x, channel: C0123ABC, deployers: ['*']}
status_rules:
  - {kind: postgresql, group: acid.zalan.do, field: status.PostgresClusterStatus, current: [Running]}
"""
ENV = {"SLACK_BOT_TOKEN": "xoxb-1-2-abc", "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef"}


def test_config_status_rules_reach_the_trackers_policy() -> None:
    config = parse_config(CONFIG)
    runtime = BotRuntime(config, env=ENV)
    runtime.queries = SimpleNamespace(settings_for=lambda record: None)  # type: ignore[assignment]
    settings = runtime._track_settings(SimpleNamespace())  # type: ignore[arg-type]
    assert settings.policy.status_rules == (
        StatusRule("postgresql", "status.PostgresClusterStatus", "acid.zalan.do", current=("Running",)),)
    assert settings.policy.config_error_grace == config.defaults.config_error_grace
