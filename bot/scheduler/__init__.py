"""APScheduler wiring: the bot's background work (tracker ticks, release detection, approvals, resume)."""

from bot.scheduler.ticks import ApsTickScheduler

__all__ = ["ApsTickScheduler"]
