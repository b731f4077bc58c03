"""The demo's web channel (a Slack-like page over the Slack stand-in, with the cluster beside it) and its
terminal twin. Imports from the bot only the stand-ins (bot.sim) and bot.errors."""

from bot.demo.server import DemoWebServer

__all__ = ["DemoWebServer"]
