"""The configuration as the bot uses it: frozen dataclasses with every default applied (a release's unset
keys already hold `defaults:` or the built-in value), durations as timedelta.

Built only by `bot.config.loading` from a file that passed every check, so the invariants hold: at least one
cluster, every release's cluster exists, release targets are unique, a release name that appears twice has a
distinct environment in each entry.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit, urlunsplit

from bot.config.cron import CronSchedule
from bot.config.errors import UnknownReleaseError
from bot.config.names import value_key_matches
from bot.config.reading import scrub
from bot.core.durations import format_duration
from bot.core.model.status_rules import StatusRule  # the tracking core's type: config rules are its data

__all__ = [
    "DEFAULT_CLUSTER", "ClusterSettings", "Config", "Freeze", "HelmSettings", "LeaderElectionSettings",
    "LogSettings", "NoticeRoute", "NoticeSettings", "ReleaseDefaults", "ReleaseSettings", "SlackSettings",
    "StateSettings", "StatusRule",
]

DEFAULT_CLUSTER = "default"
EVERYONE = "*"


@dataclass(frozen=True)
class SlackSettings:
    mode: str = "http"                          # "http" | "socket"
    api_url: str = "https://slack.com/api/"     # always ends with "/" (WebClient joins method names to it)
    port: int | None = 3000                     # 0: any free port; None (socket mode only): no listener
    host: str = "0.0.0.0"
    team_id: str | None = None
    commands: Mapping[str, str] = field(default_factory=lambda: {
        "deploy": "/deploy", "rollback": "/rollback", "helmbot": "/helmbot", "promote": "/promote"})

    @property
    def token_env(self) -> tuple[str, ...]:
        """The environment variables holding this mode's secrets."""
        second = "SLACK_APP_TOKEN" if self.mode == "socket" else "SLACK_SIGNING_SECRET"
        return ("SLACK_BOT_TOKEN", second)


@dataclass(frozen=True)
class HelmSettings:
    binary: str = "helm"
    max_history: int = 10                       # helm --history-max (0: unlimited)


STATE_URL_ENV = "HELMBOT_STATE_URL"
STATE_PASSWORD_ENV = "HELMBOT_STATE_PASSWORD"


@dataclass(frozen=True)
class StateSettings:
    url: str = "sqlite:////var/lib/helmbot/helmbot.db"   # absolute: four slashes (SQLAlchemy)

    @property
    def kind(self) -> str:
        """"sqlite" or "postgresql"."""
        return "sqlite" if self.url.startswith("sqlite:") else "postgresql"

    def effective_url(self, env: Mapping[str, str]) -> str:
        """The URL to connect with: $HELMBOT_STATE_URL wins over the file; $HELMBOT_STATE_PASSWORD is put
        into a PostgreSQL URL that has none. The result holds a secret: never log it."""
        url = env.get(STATE_URL_ENV) or self.url
        password = env.get(STATE_PASSWORD_ENV)
        if not password or url.startswith("sqlite:"):
            return url
        parts = urlsplit(url)
        if parts.password is not None:
            return url
        user, _, host = parts.netloc.rpartition("@")
        if not user:
            return url   # no user to attach a password to: let the driver say so (PGUSER etc.)
        netloc = f"{user}:{url_quote(password, safe='')}@{host}"
        return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class LeaderElectionSettings:
    enabled: bool = False                       # derived: on exactly when the state is PostgreSQL
    cluster: str = DEFAULT_CLUSTER              # where the Lease lives (default: the first cluster)
    namespace: str = "default"
    lease_name: str = "helmbot-leader"
    lease_duration: timedelta = timedelta(seconds=15)
    renew_deadline: timedelta = timedelta(seconds=10)
    retry_period: timedelta = timedelta(seconds=2)


@dataclass(frozen=True)
class ClusterSettings:
    """How to reach one cluster. `kubeconfig`/`context` None and `in_cluster` False (the implicit "default"
    cluster): $KUBECONFIG or ~/.kube/config, else the in-cluster service account, like helm itself.
    `in_cluster` True (a listed cluster with neither key): the pod's service account only."""

    name: str
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False


@dataclass(frozen=True)
class NoticeRoute:
    """Where passive notices of matching releases go. Unset matchers match everything."""

    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    channel: str | None = None                  # None: the release's own channel (or default_channel)
    mode: str = "all"                           # "all" | "failures" | "mute"

    def matches(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if self.namespace is not None and self.namespace != namespace:
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True)
class NoticeSettings:
    enabled: bool = True
    namespaces: tuple[str, ...] = ()
    default_channel: str | None = None
    routes: tuple[NoticeRoute, ...] = ()

    def route_for(
        self, namespace: str, labels: Mapping[str, str], release: ReleaseSettings | None
    ) -> tuple[str | None, str]:
        """(channel, mode) for a passive notice: the first matching route, else the release's own channel
        and `notices`, else default_channel. A None channel means: not announced."""
        own_channel = release.channel if release else self.default_channel
        own_mode = release.notices if release else "all"
        if not self.enabled:
            return None, "mute"
        for route in self.routes:
            if route.matches(namespace, labels):
                return (route.channel or own_channel), route.mode
        return own_channel, own_mode


@dataclass(frozen=True)
class ReleaseDefaults:
    """`defaults:`: the values a release gets for the keys it does not set (also used for releases helmbot
    notices but that are not in `releases:`)."""

    helm_timeout: timedelta = timedelta(minutes=5)
    track_timeout: timedelta = timedelta(minutes=30)
    poll_interval: timedelta = timedelta(seconds=2)
    approval_ttl: timedelta = timedelta(minutes=30)
    config_error_grace: timedelta = timedelta(seconds=45)


@dataclass(frozen=True)
class ReleaseSettings:
    name: str
    chart: str
    channel: str
    deployers: tuple[str, ...]
    cluster: str = DEFAULT_CLUSTER
    namespace: str = "default"
    environment: str | None = None
    version: str | None = None
    values_files: tuple[str, ...] = ()
    allowed_values: tuple[str, ...] = ()
    protected: bool = False
    approvers: tuple[str, ...] = ()
    helm_timeout: timedelta = timedelta(minutes=5)
    track_timeout: timedelta = timedelta(minutes=30)
    poll_interval: timedelta = timedelta(seconds=2)
    approval_ttl: timedelta = timedelta(minutes=30)
    config_error_grace: timedelta = timedelta(seconds=45)
    notices: str = "all"                        # "all" | "failures" | "mute"
    create_namespace: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """(cluster, namespace, name): what the store and the lock are keyed by."""
        return (self.cluster, self.namespace, self.name)

    @property
    def label(self) -> str:
        """How people call it: "shop", or "shop (staging)" when it has an environment."""
        return f"{self.name} ({self.environment})" if self.environment else self.name

    def allows_value(self, key: str) -> bool:
        """May /deploy set this value key? A listed key (or glob) allows itself and everything under it."""
        return any(value_key_matches(pattern, key) for pattern in self.allowed_values)

    def may_deploy(self, user_id: str, user_groups: Iterable[str] = ()) -> bool:
        """/deploy and /rollback: "*", the user, or one of the user's groups is among the deployers."""
        return EVERYONE in self.deployers or _member(self.deployers, user_id, user_groups)

    def may_approve(
        self, user_id: str, user_groups: Iterable[str] = (), requested_by: str | None = None
    ) -> bool:
        """An approver, and a second person: nobody approves their own request."""
        if requested_by is not None and user_id == requested_by:
            return False
        return _member(self.approvers, user_id, user_groups)


def _member(ids: tuple[str, ...], user_id: str, user_groups: Iterable[str]) -> bool:
    return user_id in ids or any(group in ids for group in user_groups)


@dataclass(frozen=True)
class Freeze:
    """A time when /deploy is refused: a date range [start, end) or, every time `cron` fires (UTC), for
    `duration`. It applies to releases whose name is in `releases` and whose environment is in
    `environments`; an empty list places no limit (both empty: every release)."""

    reason: str = "deploy freeze"
    environments: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    cron: CronSchedule | None = None
    duration: timedelta | None = None

    def applies_to(self, release: str, environment: str | None) -> bool:
        if self.releases and release not in self.releases:
            return False
        return not self.environments or environment in self.environments

    def window_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window [start, end) that contains `now` (aware), or None. Of overlapping cron windows, the
        one that ends last (the latest start: all have the same duration)."""
        if now.tzinfo is None:
            raise ValueError("a naive datetime: pass an aware one (UTC)")
        if self.start is not None and self.end is not None:
            return (self.start, self.end) if self.start <= now < self.end else None
        if self.cron is None or self.duration is None:
            return None
        fired = self.cron.last_fire(now, not_before=now - self.duration)
        if fired is None or now >= fired + self.duration:
            return None
        return fired, fired + self.duration


@dataclass(frozen=True)
class LogSettings:
    format: str = "text"                        # "text" | "json"
    level: str = "info"


@dataclass(frozen=True)
class Config:
    slack: SlackSettings = field(default_factory=SlackSettings)
    helm: HelmSettings = field(default_factory=HelmSettings)
    state: StateSettings = field(default_factory=StateSettings)
    leader_election: LeaderElectionSettings = field(default_factory=LeaderElectionSettings)
    clusters: Mapping[str, ClusterSettings] = field(
        default_factory=lambda: {DEFAULT_CLUSTER: ClusterSettings(DEFAULT_CLUSTER)})
    defaults: ReleaseDefaults = field(default_factory=ReleaseDefaults)
    notices: NoticeSettings = field(default_factory=NoticeSettings)
    releases: tuple[ReleaseSettings, ...] = ()
    freezes: tuple[Freeze, ...] = ()
    status_rules: tuple[StatusRule, ...] = ()
    log: LogSettings = field(default_factory=LogSettings)
    source: str = field(default="config", compare=False)

    def find_release(self, name: str, environment: str | None = None) -> ReleaseSettings:
        """The release a command names. UnknownReleaseError (safe to show) when there is none, or when the
        name is in several environments and none (or an unknown one) is given; it lists the choices."""
        name_l = name.strip().lower()
        env_l = environment.strip().lower() if environment else None
        same_name = [r for r in self.releases if r.name == name_l]
        if not same_name:
            names = sorted({r.name for r in self.releases})
            close = difflib.get_close_matches(name_l, names, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else (
                f" (known: {', '.join(names)})" if names else " (no releases are configured)")
            raise UnknownReleaseError(f'no release "{_short(name)}" in the configuration{hint}')
        environments = [r.environment for r in same_name if r.environment]
        if env_l is None:
            if len(same_name) == 1:
                return same_name[0]
            raise UnknownReleaseError(
                f'"{name_l}" is in several environments ({", ".join(environments)}); say which, '
                f"e.g. {name_l} {environments[0]}")
        for release in same_name:
            if release.environment == env_l:
                return release
        known = f"its environments: {', '.join(environments)}" if environments else "it has no environments"
        raise UnknownReleaseError(f'"{name_l}" has no environment "{_short(environment or "")}" ({known})')

    def releases_in(self, cluster: str) -> tuple[ReleaseSettings, ...]:
        return tuple(r for r in self.releases if r.cluster == cluster)

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.environment for r in self.releases if r.environment))

    def summary(self) -> str:
        """"3 releases in 2 clusters, http mode, sqlite store"."""
        releases, clusters = len(self.releases), len(self.clusters)
        return (f"{releases} release{'s' if releases != 1 else ''} in {clusters} "
                f"cluster{'s' if clusters != 1 else ''}, {self.slack.mode} mode, {self.state.kind} store")

    def redacted_dict(self) -> dict[str, Any]:
        """The effective configuration as plain JSON-able data, for logging at startup. Nothing secret lives
        in the file; the state URL is still scrubbed in case of one."""
        data = _plain(self)
        assert isinstance(data, dict)
        data.pop("source", None)
        data["state"]["url"] = scrub(self.state.url)
        data["state"]["kind"] = self.state.kind
        return data


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, CronSchedule):
            return value.text
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
