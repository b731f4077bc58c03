"""`defaults:` and `releases:`: each release key is read by one reader whether it is written on the release
or under defaults, then a release's effective values are checked together (who may deploy and approve,
which cluster, timeouts), then the releases against each other (unique targets, environments)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.config.model import ClusterSettings, ReleaseDefaults, ReleaseSettings
from bot.config.names import (
    check_channel_id,
    check_dns_label,
    check_environment,
    check_release_name,
    check_user_or_group_id,
    check_value_glob,
)
from bot.config.reading import (
    Field,
    Problems,
    checked,
    checked_list,
    comment_hint,
    read_bool,
    read_choice,
    read_duration,
    read_list,
    read_mapping,
    read_text,
)
from bot.config.sections import NOTICE_MODES, unknown_cluster
from bot.core.durations import format_duration

DURATION_KEYS = ("helm_timeout", "track_timeout", "poll_interval", "approval_ttl", "config_error_grace")
# Keys a release may leave to `defaults:` (an extension of the design: shared deployers, channel, ...).
SHARED_KEYS = ("cluster", "namespace", "channel", "allowed_values", "deployers", "protected", "approvers",
               "notices", "create_namespace")
RELEASE_ONLY_KEYS = ("name", "environment", "chart", "version", "values_files")
RELEASE_KEYS = (
    "name", "environment", "cluster", "namespace", "chart", "version", "values_files", "channel",
    "allowed_values", "deployers", "protected", "approvers", *DURATION_KEYS, "notices", "create_namespace")
DEFAULT_KEYS = DURATION_KEYS + SHARED_KEYS

_WHO = 'user IDs (U0123ABC), user group IDs (S0123ABC) or "*" for everyone'


def _chart(text: str) -> str | None:
    if any(c.isspace() for c in text):
        return "a chart reference has no spaces: a path (./charts/shop), repo/chart, or oci://host/path"
    if text.startswith("oci://") and "/" not in text.removeprefix("oci://").strip("/"):
        return "an OCI chart reference is oci://REGISTRY/PATH/CHART"
    return None


def _deployers(problems: Problems, f: Field) -> tuple[str, ...] | None:
    who = checked_list(problems, f, lambda t: check_user_or_group_id(t, allow_everyone=True), what=_WHO)
    if who == ():
        problems.at(f, f"empty: nobody could deploy; list {_WHO}")
        return None
    return who


def _approvers(problems: Problems, f: Field) -> tuple[str, ...] | None:
    return checked_list(problems, f, lambda t: check_user_or_group_id(t, allow_everyone=False),
                        what="user IDs (U0123ABC) or user group IDs (S0123ABC)")


Reader = Callable[[Problems, Field], Any]
READERS: dict[str, Reader] = {
    "name": lambda p, f: checked(p, f, check_release_name, what="a release name"),
    "environment": lambda p, f: checked(p, f, check_environment, what="an environment name"),
    "cluster": lambda p, f: checked(p, f, lambda t: check_dns_label(t, "cluster name")),
    "namespace": lambda p, f: checked(p, f, lambda t: check_dns_label(t, "namespace")),
    "chart": lambda p, f: checked(p, f, _chart, what="a chart reference"),
    "version": lambda p, f: read_text(p, f, what="a chart version"),
    "values_files": lambda p, f: checked_list(p, f, lambda t: None, what="file paths"),
    "channel": lambda p, f: checked(p, f, check_channel_id, what="a channel ID"),
    "allowed_values": lambda p, f: checked_list(p, f, check_value_glob, what="value keys"),
    "deployers": _deployers,
    "protected": read_bool,
    "approvers": _approvers,
    "notices": lambda p, f: read_choice(p, f, NOTICE_MODES),
    "create_namespace": read_bool,
    **{key: read_duration for key in DURATION_KEYS},
}


@dataclass(frozen=True)
class Written:
    """A value as read, and where it was written (on the release or under defaults)."""

    value: Any
    field: Field


def _read_all(problems: Problems, m: dict[str, Field]) -> dict[str, Written]:
    written: dict[str, Written] = {}
    for key, f in m.items():
        value = READERS[key](problems, f)
        if value is not None:
            written[key] = Written(value, f)
    return written


@dataclass
class DefaultsRead:
    settings: ReleaseDefaults = field(default_factory=ReleaseDefaults)
    written: dict[str, Written] = field(default_factory=dict)     # valid values
    present: set[str] = field(default_factory=set)                # keys written, valid or not


def read_defaults(problems: Problems, f: Field | None, clusters: dict[str, ClusterSettings]) -> DefaultsRead:
    m = read_mapping(problems, f, DEFAULT_KEYS) if f is not None and not f.is_null else {}
    written = _read_all(problems, m or {})
    cluster = written.get("cluster")
    if cluster is not None and cluster.value not in clusters:
        problems.at(cluster.field, unknown_cluster(cluster.value, clusters))
        del written["cluster"]
    base = ReleaseDefaults()
    settings = ReleaseDefaults(**{
        k: written[k].value if k in written else getattr(base, k) for k in DURATION_KEYS})
    _check_timeouts(problems, written, settings, "defaults")
    return DefaultsRead(settings, written, set(m or {}))


def _check_timeouts(problems: Problems, written: dict[str, Written], values: Any, where: str) -> None:
    """A tracker that stops before helm gives up reports timed_out on a deploy that may still succeed."""
    track, helm = values.track_timeout, values.helm_timeout
    w = written.get("track_timeout") or written.get("helm_timeout")
    if w is not None and track < helm:
        problems.at(w.field, f"track_timeout ({format_duration(track)}) is shorter than helm_timeout "
                       f"({format_duration(helm)}) in {where}: helmbot would stop following before helm "
                       "gives up")


@dataclass
class ReleasesRead:
    releases: tuple[ReleaseSettings, ...] = ()
    names: set[str] = field(default_factory=set)           # as written, also of releases with problems
    environments: set[str] = field(default_factory=set)
    count: int = 0                                          # entries written, valid or not


def read_releases(problems: Problems, f: Field | None, defaults: DefaultsRead,
                  clusters: dict[str, ClusterSettings]) -> ReleasesRead:
    result = ReleasesRead()
    built: list[tuple[ReleaseSettings, Field, dict[str, Written]]] = []
    for item in read_list(problems, f, what="releases") or []:
        result.count += 1
        m = read_mapping(problems, item, RELEASE_KEYS, what="release settings")
        if m is None:
            continue
        own = _read_all(problems, m)
        for key, collected in (("name", result.names), ("environment", result.environments)):
            if key in m and m[key].text:
                collected.add(m[key].text.strip())
        release = _build_release(problems, item, m, own, defaults, clusters)
        if release is not None:
            built.append((release, item, own))
    _check_unique(problems, built)
    result.releases = tuple(r for r, _, _ in built)
    return result


@dataclass
class _Entry:
    """One `releases:` item being checked: what it says, and what defaults: add."""

    item: Field
    m: dict[str, Field]
    own: dict[str, Written]
    defaults: DefaultsRead

    def effective(self, key: str) -> Written | None:
        return self.own.get(key) or self.defaults.written.get(key)

    def bad(self, key: str) -> bool:
        """Written (here, or under defaults when not here) with a value already reported as wrong."""
        if key in self.m:
            return key not in self.own and not self.m[key].is_null
        return key in self.defaults.present and key not in self.defaults.written


_REQUIRED = (
    ("name", "the Helm release name", False),
    ("chart", "the chart to install: a path, repo/chart or oci:// reference", False),
    ("channel", "the channel ID (C0123ABC) its messages go to", True),
    ("deployers", f"who may /deploy and /rollback: {_WHO}", True),
)


def _build_release(problems: Problems, item: Field, m: dict[str, Field], own: dict[str, Written],
                   defaults: DefaultsRead, clusters: dict[str, ClusterSettings]) -> ReleaseSettings | None:
    """The release with defaults applied, or None when anything about it is wrong (each a problem)."""
    entry = _Entry(item, m, own, defaults)
    complete = all([_check_required(problems, entry), _check_cluster(problems, entry, clusters),
                    _check_approval(problems, entry)])
    # A key written with a bad value (already reported) leaves the release out of the checks across releases.
    if not complete or any(entry.bad(key) for key in m):
        return None
    values = {key: w.value for key, w in {**defaults.written, **own}.items()}
    for key in DURATION_KEYS:
        values.setdefault(key, getattr(defaults.settings, key))
    values.setdefault("cluster", next(iter(clusters)))
    release = ReleaseSettings(**values)
    if "track_timeout" in own or "helm_timeout" in own:
        _check_timeouts(problems, own, release, release.label)
    return release


def _check_required(problems: Problems, entry: _Entry) -> bool:
    complete = True
    for key, hint, shared in _REQUIRED:
        if entry.effective(key) is not None:
            continue
        complete = False
        written = entry.m.get(key)
        if (written is None or written.is_null) and not (shared and key in entry.defaults.present):
            also = f" (here or as defaults.{key})" if shared else ""
            line = written.line if written is not None else entry.item.line
            problems.add(entry.item.key(key), line, f"missing{also}: {hint}{comment_hint(problems, written)}")
    return complete


def _check_cluster(problems: Problems, entry: _Entry, clusters: dict[str, ClusterSettings]) -> bool:
    cluster = entry.effective("cluster")
    if cluster is not None and cluster.value not in clusters:
        if cluster.field.path.startswith("releases"):   # defaults.cluster is reported once, there
            problems.at(cluster.field, unknown_cluster(cluster.value, clusters))
        return False
    if cluster is None and entry.bad("cluster"):
        return False
    if cluster is None and len(clusters) > 1:
        problems.add(entry.item.key("cluster"), entry.item.line,
                     f"missing: there are several clusters ({', '.join(clusters)}); say which (here or as "
                     "defaults.cluster)")
        return False
    return True


def _check_approval(problems: Problems, entry: _Entry) -> bool:
    """A protected release needs someone other than the requester to approve."""
    if entry.bad("approvers") or entry.bad("deployers") or entry.bad("protected"):
        return False
    protected, approvers = entry.effective("protected"), entry.effective("approvers")
    if protected is None or not protected.value:
        return True
    if approvers is None or not approvers.value:
        where = entry.own.get("approvers") or entry.own.get("protected") or protected
        problems.add(entry.item.key("approvers"), where.field.line,
                     "protected: true needs approvers (a second person must approve each deploy); list user "
                     "or user group IDs here or as defaults.approvers")
        return False
    deployers = entry.effective("deployers")
    only = approvers.value[0]
    sole = tuple(approvers.value) == (only,) and only[0] in "UW"   # one person, not a group
    if sole and deployers is not None and tuple(deployers.value) == (only,):
        problems.add(entry.item.key("approvers"), approvers.field.line,
                     f"{only} is the only deployer and the only approver: nobody else could approve (nobody "
                     "approves their own deploy)")
        return False
    return True


def _check_unique(problems: Problems, built: list[tuple[ReleaseSettings, Field, dict[str, Written]]]) -> None:
    first_target: dict[tuple[str, str, str], int] = {}
    by_name: dict[str, list[tuple[ReleaseSettings, Field, dict[str, Written]]]] = {}
    for release, item, own in built:
        line = first_target.setdefault(release.key, item.line)
        if line != item.line:
            cluster, namespace, name = release.key
            problems.add(item.path, item.line,
                         f'the same release as line {line} ("{name}" in namespace {namespace} of cluster '
                         f"{cluster}): each Helm release may be listed once")
            continue
        by_name.setdefault(release.name, []).append((release, item, own))
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        lines = ", ".join(str(item.line) for _, item, _ in group)
        seen: dict[str, int] = {}
        for release, item, own in group:
            env = release.environment
            if env is None:
                problems.add(item.key("environment"), item.line,
                             f'"{name}" is listed {len(group)} times (lines {lines}): give each an '
                             "environment (e.g. staging, prod) so that commands can tell them apart")
            elif env in seen:
                problems.at(own["environment"].field,
                            f'"{name}" has environment "{env}" twice (also line {seen[env]})')
            else:
                seen[env] = item.line

