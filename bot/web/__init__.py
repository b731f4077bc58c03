"""The bot's HTTP endpoints: Slack events, probes and metrics on one port."""
