"""The fleet: which clusters helmbot can reach right now, and what their releases' channels are told.

One unreachable cluster degrades only its own releases: commands on them are refused at once (instead of
waiting on a dead API server), `/helmbot status` says why, `/readyz` names it, and each affected channel
reads one notice when it goes and one when it is back. Releases on other clusters carry on untouched: every
cluster has its own client, informers, locks and scans, and nothing here waits on one cluster for another.

A cluster that was reachable counts as unreachable after `failures_to_degrade` failed checks in a row (one
dropped probe is not an outage worth a message); one that has never answered since the start counts as
unreachable after its first failed check (there is nothing to carry on from).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from bot.app.commands import CommandError
from bot.app.ports import Clock, ClusterPort
from bot.config import Config, ReleaseSettings
from bot.core.durations import format_duration
from bot.errors import HelmbotError, describe_error
from bot.store import Store
from bot.store.records import OutboxMessage
from bot.text import one_line

log = logging.getLogger("helmbot.app")

DOWN, UP = "down", "up"


@dataclass(frozen=True)
class ClusterHealth:
    """What the last checks of one cluster said."""

    name: str
    reachable: bool = True  # as far as helmbot knows (True until checks say otherwise)
    checked: bool = False  # at least one check has finished
    problem: str | None = None  # the last failure, one line
    failures: int = 0  # failed checks in a row
    failing_since: datetime | None = None  # the first failure of the current streak
    since: datetime | None = None  # unreachable since (set while not reachable)


def next_health(
    state: ClusterHealth, problem: str | None, now: datetime, *, failures_to_degrade: int = 2
) -> tuple[ClusterHealth, str | None]:
    """The state after one check (`problem` None: it answered) and the transition it makes: DOWN, UP or
    None."""
    if problem is None:
        return ClusterHealth(state.name, reachable=True, checked=True), (UP if not state.reachable else None)
    failures = state.failures + 1
    first = state.failing_since or now
    failing = replace(state, checked=True, problem=problem, failures=failures, failing_since=first)
    if state.reachable and (failures >= failures_to_degrade or not state.checked):
        return replace(failing, reachable=False, since=first), DOWN
    return failing, None


class ClusterUnreachable(CommandError):
    """A command on a release whose cluster cannot be reached right now."""


class Fleet:
    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        clusters: Mapping[str, ClusterPort],
        clock: Clock,
        wake_delivery: Callable[[], None] = lambda: None,
        failures_to_degrade: int = 2,
    ) -> None:
        self.config = config
        self.store = store
        self.clusters = clusters
        self.clock = clock
        self.wake_delivery = wake_delivery
        self.failures_to_degrade = failures_to_degrade
        self._health = {name: ClusterHealth(name) for name in clusters}
        self._announced: dict[str, ClusterHealth] = {}  # outages this process told the channels about

    # -- reading ------------------------------------------------------------------------------------------

    def health(self, name: str) -> ClusterHealth:
        return self._health.get(name) or ClusterHealth(name)

    def problem(self, name: str) -> str | None:
        """Why releases on `name` cannot be served now, as a person reads it; None when it is reachable."""
        state = self.health(name)
        if state.reachable:
            return None
        since = f" since {state.since:%H:%M} UTC" if state.since is not None else ""
        return f"cluster {name} cannot be reached{since} ({one_line(state.problem or 'no answer')})"

    def ensure_reachable(self, settings: ReleaseSettings) -> None:
        """Refuse at once a command on a release whose cluster is down (waiting would help nobody)."""
        problem = self.problem(settings.cluster)
        if problem is not None:
            others = " Releases on other clusters are not affected." if len(self.clusters) > 1 else ""
            raise ClusterUnreachable(
                f"{settings.label}: {problem}; nothing was changed, try again once it is back.{others}"
            )

    def readiness(self) -> dict[str, str | None]:
        """`kubernetes:NAME` -> None (reachable, or not checked yet) or the problem."""
        return {f"kubernetes:{name}": self.problem(name) for name in self.clusters}

    # -- checking -------------------------------------------------------------------------------------------

    def check(self, name: str, *, announce: bool) -> ClusterHealth:
        """Probe one cluster once; with `announce` (the leader), tell the channels of its releases that it is
        down (once per outage, also an outage that began before this replica led) and, after such a notice,
        that it is back."""
        try:
            self.clusters[name].check()
            problem = None
        except HelmbotError as exc:
            problem = describe_error(exc)
        before = self.health(name)
        after, transition = next_health(
            before, problem, self.clock(), failures_to_degrade=self.failures_to_degrade
        )
        self._health[name] = after
        if transition == DOWN:
            log.warning("cluster %s unreachable: %s (its releases wait, other clusters carry on)",
                        name, problem)
        elif transition == UP:
            log.info("cluster %s reachable again", name)
        if announce:
            if not after.reachable and name not in self._announced:
                self._announced[name] = after
                self._announce(name, DOWN, after)
            elif after.reachable and name in self._announced:
                self._announce(name, UP, self._announced.pop(name))
        return after

    def _announce(self, name: str, transition: str, outage: ClusterHealth) -> None:
        """One message per channel of the cluster's releases; keyed by the outage, so a repeat enqueues
        nothing twice."""
        by_channel: dict[str, list[str]] = {}
        for settings in self.config.releases:
            if settings.cluster == name:
                by_channel.setdefault(settings.channel, []).append(settings.label)
        if not by_channel:
            return
        now = self.clock()
        since = outage.since or now
        episode = f"{name}:{since:%Y%m%dT%H%M%S}"
        for channel, labels in sorted(by_channel.items()):
            if transition == DOWN:
                text = _down_text(name, outage, labels)
            else:
                text = _up_text(name, since, now, labels)
            self.store.enqueue(
                OutboxMessage(
                    key=f"notice:cluster-{transition}:{episode}:{channel}",
                    channel=channel,
                    kind="post",
                    payload={"text": text},
                    created_at=now,
                )
            )
        self.wake_delivery()


def _names(labels: list[str]) -> str:
    shown = ", ".join(labels[:10])
    return shown + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")


def _down_text(name: str, state: ClusterHealth, labels: list[str]) -> str:
    since = f" since {state.since:%H:%M} UTC" if state.since is not None else ""
    return (
        f":warning: Cluster *{name}* cannot be reached{since} ({one_line(state.problem or 'no answer')}). "
        f"Until it is back, helmbot cannot deploy, roll back or follow {_names(labels)}; "
        "releases on other clusters are not affected."
    )


def _up_text(name: str, since: datetime, now: datetime, labels: list[str]) -> str:
    return (
        f":white_check_mark: Cluster *{name}* is reachable again (after {format_duration(now - since)}): "
        f"{_names(labels)} can be deployed again, and what changed meanwhile is announced as usual."
    )


__all__ = ["DOWN", "UP", "ClusterHealth", "ClusterUnreachable", "Fleet", "next_health"]
