"""Adapter around the helm CLI: pure argv building (args) and a subprocess runner (runner)."""

import logging

from bot.helm.args import (
    HelmArgsError,
    HelmVersion,
    ValuesPolicy,
    parse_version,
    redact_argv,
    rollback_argv,
    upgrade_argv,
)
from bot.helm.runner import HelmError, HelmNotFound, HelmResult, HelmRunner, HelmTimeout

# Logs go to "helmbot.helm"; the application decides where (see bot/kube/__init__.py).
logging.getLogger("helmbot.helm").addHandler(logging.NullHandler())

__all__ = [
    "HelmArgsError",
    "HelmError",
    "HelmNotFound",
    "HelmResult",
    "HelmRunner",
    "HelmTimeout",
    "HelmVersion",
    "ValuesPolicy",
    "parse_version",
    "redact_argv",
    "rollback_argv",
    "upgrade_argv",
]
