"""Text -> Config, or ConfigError with every problem. The only entry points: `load_config`, `parse_config`.

Order: YAML syntax (with line and column), then a sweep for secrets written anywhere, then each section,
then the checks across sections (release clusters, freeze names). Nothing here reads the environment or the
clusters: a config that passes is well-formed, not necessarily reachable.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bot.config.errors import ConfigError, ConfigProblem
from bot.config.freezes_section import read_freezes
from bot.config.model import Config, StatusRule
from bot.config.reading import Field, Problems, looks_secret, read_mapping, secret_key_hint
from bot.config.releases_section import read_defaults, read_releases
from bot.config.sections import (
    read_clusters,
    read_helm,
    read_leader_election,
    read_log,
    read_notices,
    read_slack,
    read_state,
    read_status_rules,
)

__all__ = ["TOP_KEYS", "load_config", "load_status_rules", "parse_config", "parse_status_rules"]

TOP_KEYS = ("slack", "helm", "state", "leader_election", "clusters", "defaults", "notices", "releases",
            "freezes", "status_rules", "log")
MAX_BYTES = 4 * 1024 * 1024   # a config is a few KB; anything this large is the wrong file


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and check a config file; ConfigError (every problem, or why the file cannot be read)."""
    return parse_config(_read_text(path), source=str(path))


def load_status_rules(path: str | os.PathLike[str]) -> tuple[StatusRule, ...]:
    """A file holding only `status_rules:` (as in the config; `helmbot watch --status-rules FILE`)."""
    return parse_status_rules(_read_text(path), source=str(path))


def parse_status_rules(text: str, source: str = "status rules") -> tuple[StatusRule, ...]:
    problems = Problems(lines=text.splitlines())
    root = _compose(text, problems)
    if root is None:
        raise ConfigError(problems.items, source)
    _sweep_secrets(root, problems)
    m = read_mapping(problems, Field(root, ""), ("status_rules",), what="status rules")
    rules = read_status_rules(problems, (m or {}).get("status_rules"))
    if m is not None and "status_rules" not in m:
        problems.add("status_rules", 1, "missing: the file holds a status_rules: list, as in the config")
    if problems.items:
        raise ConfigError(problems.items, source)
    return rules


def _read_text(path: str | os.PathLike[str]) -> str:
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([_whole_file(f"cannot read it: {reason}")], source) from None
    if len(data) > MAX_BYTES:
        raise ConfigError([_whole_file(f"it is larger than {MAX_BYTES // 1024 // 1024} MiB; is it the right "
                                       "file?")], source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([_whole_file(f"it is not UTF-8 text (byte {exc.start})")], source) from None


def parse_config(text: str, source: str = "config") -> Config:
    problems = Problems(lines=text.splitlines())
    root = _compose(text, problems)
    if root is None:
        raise ConfigError(problems.items, source)
    _sweep_secrets(root, problems)
    config = _read(Field(root, ""), problems, source)
    if problems.items or config is None:
        raise ConfigError(problems.items, source)
    return config


def _whole_file(message: str, line: int | None = None) -> ConfigProblem:
    return ConfigProblem("", line, message)


def _compose(text: str, problems: Problems) -> yaml.Node | None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        column = f" at column {int(mark.column) + 1}" if mark is not None else ""
        what = " ".join(" ".join(str(part) for part in (exc.context, exc.problem) if part).split())
        if "\t" in text and "cannot start any token" in what:
            what += " (YAML indents with spaces, not tabs)"
        if "expected a single document" in what:
            what = "one document only: remove the --- and what follows, or merge the documents"
        problems.items.append(_whole_file(f"YAML syntax error{column}: {what}", line))
        return None
    except yaml.YAMLError as exc:   # e.g. a control character (ReaderError, no mark)
        problems.items.append(_whole_file(f"not valid YAML: {' '.join(str(exc).split())[:200]}"))
        return None
    except RecursionError:
        problems.items.append(_whole_file("nested too deeply to be a helmbot configuration"))
        return None
    if root is None:
        problems.items.append(_whole_file(
            "the file is empty" + (" (only comments)" if text.strip() else "")
            + ": start from config/helmbot.minimal.yaml"))
        return None
    if not isinstance(root, yaml.MappingNode):
        problems.items.append(_whole_file(
            "expected settings (slack:, releases:, ...) at the top level, got "
            + ("a list" if isinstance(root, yaml.SequenceNode) else "a single value"),
            int(root.start_mark.line) + 1))
        return None
    return root


def _sweep_secrets(root: yaml.Node, problems: Problems) -> None:
    """A token or URL password anywhere in the file is a problem (and is never quoted back)."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if isinstance(node.value, str) and looks_secret(node.value):
                problems.secret_nodes.add(id(node))
                where = ("set HELMBOT_STATE_PASSWORD (or the whole URL in HELMBOT_STATE_URL) instead"
                         if path == "state.url" else
                         "tokens go in SLACK_BOT_TOKEN, SLACK_APP_TOKEN and SLACK_SIGNING_SECRET")
                kind = "a password in a URL" if "://" in node.value else "a Slack token"
                problems.add(path, int(node.start_mark.line) + 1,
                             f"this looks like {kind}: secrets never live in this file; {where}")
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                if secret_key_hint(name):
                    continue   # the key itself is reported where its mapping is read
                stack.append((value, f"{path}.{name}" if path else name))


def _read(root: Field, problems: Problems, source: str) -> Config | None:
    m = read_mapping(problems, root, TOP_KEYS, what="settings")
    if m is None:
        return None
    clusters = read_clusters(problems, m.get("clusters"))
    state = read_state(problems, m.get("state"))
    defaults = read_defaults(problems, m.get("defaults"), clusters)
    notices = read_notices(problems, m.get("notices"))
    releases = read_releases(problems, m.get("releases"), defaults, clusters)
    if not releases.count and notices.default_channel is None:
        where = m["releases"].line if "releases" in m else root.line
        problems.add("releases", where, "no releases: list the releases helmbot may deploy (or set "
                                            "notices.default_channel for notices only)")
    return Config(
        slack=read_slack(problems, m.get("slack")),
        helm=read_helm(problems, m.get("helm")),
        state=state,
        leader_election=read_leader_election(problems, m.get("leader_election"), state, clusters),
        clusters=clusters,
        defaults=defaults.settings,
        notices=notices,
        releases=releases.releases,
        freezes=read_freezes(problems, m.get("freezes"), releases.names, releases.environments),
        status_rules=read_status_rules(problems, m.get("status_rules")),
        log=read_log(problems, m.get("log")),
        source=source,
    )
