"""The service-level sections: slack, helm, state, leader_election, clusters, notices, status_rules, log.

Each reader takes the section's field (None when absent), records problems and returns the settings with
defaults for whatever was missing or wrong (the caller raises if any problem was recorded).
"""

from __future__ import annotations

import re
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

from bot.config.model import (
    DEFAULT_CLUSTER,
    ClusterSettings,
    HelmSettings,
    LeaderElectionSettings,
    LogSettings,
    NoticeRoute,
    NoticeSettings,
    SlackSettings,
    StateSettings,
    StatusRule,
)
from bot.config.names import (
    check_channel_id,
    check_dns_label,
    check_label_key,
    check_label_value,
    check_team_id,
)
from bot.config.reading import (
    Field,
    Problems,
    checked,
    checked_list,
    quote,
    read_bool,
    read_choice,
    read_duration,
    read_int,
    read_list,
    read_mapping,
    read_text,
    suggest,
)
from bot.core.durations import format_duration
from bot.core.model.status_rules import ANY_KIND

T = TypeVar("T")

NOTICE_MODES = ("all", "failures", "mute")
COMMANDS = ("deploy", "rollback", "helmbot", "promote")
_COMMAND = re.compile(r"/[a-z0-9][a-z0-9_.-]{0,30}")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_-]+(\[[A-Za-z0-9_.-]+\])?")
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")  # Zalando's "postgresql" is a real kind


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def read_slack(problems: Problems, f: Field | None) -> SlackSettings:
    base = SlackSettings()
    m = read_mapping(problems, f, ("mode", "api_url", "port", "host", "team_id", "commands")) \
        if f is not None and not f.is_null else {}
    if m is None:
        return base
    mode = _or(read_choice(problems, m.get("mode"), ("http", "socket")), "http")
    port: int | None = base.port
    port_field = m.get("port")
    if port_field is not None and port_field.is_null:
        if mode == "http":
            problems.at(port_field, "http mode needs a port: Slack sends its requests to /slack/events on it")
        port = None
    elif port_field is not None:
        port = read_int(problems, port_field, low=0, high=65535)
    return SlackSettings(
        mode=mode, api_url=_api_url(problems, m.get("api_url")) or base.api_url, port=port,
        host=_or(read_text(problems, m.get("host")), base.host),
        team_id=checked(problems, m.get("team_id"), check_team_id),
        commands=_commands(problems, m.get("commands"), dict(base.commands)))


def _api_url(problems: Problems, f: Field | None) -> str | None:
    url = read_text(problems, f, what="a URL")
    if url is None or f is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        problems.at(f, f"{quote(url)} is not an http(s) URL like https://slack.com/api/")
        return None
    return url if url.endswith("/") else url + "/"


def _commands(problems: Problems, f: Field | None, commands: dict[str, str]) -> dict[str, str]:
    m = read_mapping(problems, f, COMMANDS, what="command renames") if f is not None and not f.is_null else {}
    seen: dict[str, str] = {}
    for key, value_field in (m or {}).items():
        name = read_text(problems, value_field, what="a slash command like /deploy")
        if name is None:
            continue
        if not _COMMAND.fullmatch(name):
            problems.at(value_field, f"{quote(name)} is not a slash command: a '/' and up to 31 lower-case "
                                     "letters, digits, '-', '_' or '.' (e.g. /deploy-prod)")
            continue
        commands[key] = name
    for key, name in commands.items():
        if name in seen and m:
            other = seen[name]
            where = m.get(key) or m.get(other)
            if where is not None:
                problems.at(where, f"{name} is both the {other} and the {key} command")
        seen.setdefault(name, key)
    return commands


STATE_SCHEMES = ("sqlite", "postgresql", "postgres")
SQLITE_EXAMPLE = StateSettings().url


def read_state(problems: Problems, f: Field | None) -> StateSettings:
    m = read_mapping(problems, f, ("url",)) if f is not None and not f.is_null else {}
    url_field = (m or {}).get("url")
    url = read_text(problems, url_field, what="a URL")
    if url is None or url_field is None:
        return StateSettings()
    parts = urlsplit(url)
    if parts.scheme not in STATE_SCHEMES:
        problems.at(url_field, f"{quote(url)} is not a state URL: use sqlite:///PATH or "
                               "postgresql://USER@HOST:5432/DB")
        return StateSettings()
    if parts.scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            problems.at(url_field, "a SQLite URL is sqlite:///PATH: sqlite:////ABSOLUTE/PATH (e.g. "
                                   f"{SQLITE_EXAMPLE}) or sqlite:///RELATIVE/PATH")
        return StateSettings(url)
    if parts.password is not None or any(k.lower() == "password" for k, _ in parse_qsl(parts.query)):
        problems.at(url_field, "a password in state.url is refused: remove it and set HELMBOT_STATE_PASSWORD "
                               "(or the whole URL in HELMBOT_STATE_URL) from a Secret")
        return StateSettings()
    if not parts.hostname:
        problems.at(url_field, "a PostgreSQL URL needs a host: postgresql://USER@HOST:5432/DB")
    return StateSettings(url)


LEADER_KEYS = ("cluster", "namespace", "lease_name", "lease_duration", "renew_deadline", "retry_period")
_JITTER = 1.2   # client-go's leader election: renew_deadline must exceed retry_period * JitterFactor


def read_leader_election(problems: Problems, f: Field | None, state: StateSettings,
                         clusters: dict[str, ClusterSettings]) -> LeaderElectionSettings:
    base = LeaderElectionSettings()
    m = read_mapping(problems, f, LEADER_KEYS) if f is not None and not f.is_null else {}
    m = m or {}
    cluster = checked(problems, m.get("cluster"), lambda t: check_dns_label(t, "cluster name"))
    if cluster is not None and cluster not in clusters:
        problems.at(m["cluster"], unknown_cluster(cluster, clusters))
        cluster = None
    durations = {key: _or(read_duration(problems, m.get(key)), getattr(base, key))
                 for key in ("lease_duration", "renew_deadline", "retry_period")}
    lease, renew, retry = durations["lease_duration"], durations["renew_deadline"], durations["retry_period"]
    where = m.get("renew_deadline") or m.get("lease_duration") or m.get("retry_period")
    if where is not None and not lease > renew > retry * _JITTER:
        problems.at(where, f"needs lease_duration ({format_duration(lease)}) > renew_deadline "
                           f"({format_duration(renew)}) > 1.2 x retry_period ({format_duration(retry)})")
    return LeaderElectionSettings(
        enabled=state.kind == "postgresql", cluster=cluster or next(iter(clusters)),
        namespace=_or(checked(problems, m.get("namespace"), lambda t: check_dns_label(t, "namespace")),
                      base.namespace),
        lease_name=_or(checked(problems, m.get("lease_name"), lambda t: check_dns_label(t, "lease name")),
                       base.lease_name),
        lease_duration=lease, renew_deadline=renew, retry_period=retry)


def unknown_cluster(name: str, clusters: dict[str, ClusterSettings]) -> str:
    known = ", ".join(clusters)
    if list(clusters) == [DEFAULT_CLUSTER] and name != DEFAULT_CLUSTER:
        return f'unknown cluster "{name}": there is no clusters: section, so the only cluster is "default"'
    return f'unknown cluster "{name}"{suggest(name, clusters)}; the clusters are: {known}'


def read_clusters(problems: Problems, f: Field | None) -> dict[str, ClusterSettings]:
    default = {DEFAULT_CLUSTER: ClusterSettings(DEFAULT_CLUSTER)}
    if f is None or f.is_null:
        return default
    m = read_mapping(problems, f, None, what="cluster names")
    if m is None:
        return default
    if not m and not f.node.value:
        problems.at(f, "no clusters: list at least one, or leave clusters: out to use $KUBECONFIG or the "
                       "in-cluster service account")
        return default
    clusters: dict[str, ClusterSettings] = {}
    for name, value in m.items():
        problem = check_dns_label(name, "cluster name")
        if problem:
            problems.at(value, problem)
        settings = read_mapping(problems, value, ("kubeconfig", "context")) if not value.is_null else {}
        settings = settings or {}
        kubeconfig = read_text(problems, settings.get("kubeconfig"), what="a kubeconfig path")
        context = read_text(problems, settings.get("context"), what="a context name")
        clusters[name] = ClusterSettings(name, kubeconfig, context,
                                         in_cluster=kubeconfig is None and context is None)
    return clusters or default   # none readable: each is a problem already


def read_notices(problems: Problems, f: Field | None) -> NoticeSettings:
    m = read_mapping(problems, f, ("enabled", "namespaces", "default_channel", "routes")) \
        if f is not None and not f.is_null else {}
    m = m or {}
    routes = [_route(problems, item) for item in read_list(problems, m.get("routes"), what="routes") or []]
    return NoticeSettings(
        enabled=_or(read_bool(problems, m.get("enabled")), True),
        namespaces=_or(checked_list(problems, m.get("namespaces"), lambda t: check_dns_label(t, "namespace"),
                                    what="namespace names"), ()),
        default_channel=checked(problems, m.get("default_channel"), check_channel_id),
        routes=tuple(r for r in routes if r is not None))


def _route(problems: Problems, f: Field) -> NoticeRoute | None:
    m = read_mapping(problems, f, ("namespace", "labels", "channel", "mode"), what="a route")
    if m is None:
        return None
    if "channel" not in m and "mode" not in m:
        problems.at(f, "a route needs a channel, a mode (all, failures, mute), or both")
    labels: dict[str, str] = {}
    label_fields = read_mapping(problems, m["labels"], None, what="labels") \
        if "labels" in m and not m["labels"].is_null else {}
    for key, value in (label_fields or {}).items():
        text = read_text(problems, value, what="a label value") if not value.is_null else ""
        problem = check_label_key(key) or (check_label_value(text) if text is not None else None)
        if problem:
            problems.at(value, problem)
        elif text is not None:
            labels[key] = text
    return NoticeRoute(
        namespace=checked(problems, m.get("namespace"), lambda t: check_dns_label(t, "namespace")),
        labels=labels, channel=checked(problems, m.get("channel"), check_channel_id),
        mode=_or(read_choice(problems, m.get("mode"), NOTICE_MODES), "all"))


STATUS_RULE_KEYS = ("kind", "group", "field", "current", "in_progress", "failed", "failed_after")


def read_status_rules(problems: Problems, f: Field | None) -> tuple[StatusRule, ...]:
    """Rules in file order; several per kind are tried in that order (one per field)."""
    rules: list[StatusRule] = []
    seen: dict[tuple[str | None, str, str], int] = {}
    for item in read_list(problems, f, what="status rules") or []:
        m = read_mapping(problems, item, STATUS_RULE_KEYS, what="a status rule")
        if m is None:
            continue
        kind = checked(problems, m.get("kind"), lambda t: None if t == ANY_KIND or _KIND.fullmatch(t) else
                       f"{quote(t)} is not a kind (e.g. Certificate, or * for every custom kind)")
        path = checked(problems, m.get("field"), lambda t: None if all(
            _PATH_SEGMENT.fullmatch(s) for s in t.split(".")) else f"{quote(t)} is not a field path "
                                                                  "(e.g. status.phase)")
        for key, hint in (("kind", "e.g. Certificate"), ("field", "e.g. status.phase")):
            if key not in m:
                problems.add(item.key(key), item.line, f"missing ({hint})")
        group = read_text(problems, m.get("group"), what="an API group")
        states = {key: tuple(str(v) for v in (_texts(problems, m.get(key)) or ()))
                  for key in ("current", "in_progress", "failed")}
        if not any(states.values()):
            problems.at(item, "a status rule needs values under current, in_progress or failed")
        failed_after = read_duration(problems, m.get("failed_after"), allow_zero=True)
        if kind and path:
            if (group, kind, path) in seen:
                problems.at(item, f"a second rule for {kind} and {path} (first at line "
                                  f"{seen[(group, kind, path)]})")
            seen.setdefault((group, kind, path), item.line)
            rules.append(StatusRule(kind=kind, field=path, group=group, failed_after=failed_after, **states))
    return tuple(rules)


def _texts(problems: Problems, f: Field | None) -> list[str] | None:
    items = read_list(problems, f, what="values")
    if items is None:
        return None
    return [t for t in (read_text(problems, i) for i in items) if t is not None]


def read_log(problems: Problems, f: Field | None) -> LogSettings:
    m = read_mapping(problems, f, ("format", "level")) if f is not None and not f.is_null else {}
    m = m or {}
    return LogSettings(
        format=_or(read_choice(problems, m.get("format"), ("text", "json")), "text"),
        level=_or(read_choice(problems, m.get("level"), ("debug", "info", "warning", "error")), "info"))


def read_helm(problems: Problems, f: Field | None) -> HelmSettings:
    m = read_mapping(problems, f, ("binary", "max_history")) if f is not None and not f.is_null else {}
    m = m or {}
    return HelmSettings(
        binary=_or(read_text(problems, m.get("binary"), what="a path or a command name"), "helm"),
        max_history=_or(read_int(problems, m.get("max_history"), low=0, high=10_000), 10))

