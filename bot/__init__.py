"""helmbot: Slack ChatOps for Helm releases."""

__version__ = "0.1.0"
