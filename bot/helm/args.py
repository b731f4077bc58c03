"""Pure argument-list building for the helm CLI (no I/O), for helm 3 and helm 4 flag names.

Every user-controlled piece is validated so that it can only ever be the argument it is meant to be:
a release name such as ``--kubeconfig=/x`` is rejected, values must match an allow-list, and values
passed with ``--set`` are redacted from anything we log or raise.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core.durations import format_duration, parse_duration
from bot.errors import HelmbotError

__all__ = [
    "SET_FLAGS",
    "HelmArgsError",
    "HelmVersion",
    "ValuesPolicy",
    "history_argv",
    "parse_version",
    "redact_argv",
    "rollback_argv",
    "status_argv",
    "template_argv",
    "timeout_arg",
    "upgrade_argv",
    "version_argv",
]

SET_FLAGS = ("--set", "--set-string", "--set-json", "--set-literal", "--set-file")
_RELEASE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_VALUE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/\[\]]*$")
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


class HelmArgsError(HelmbotError, ValueError):
    """A request cannot be turned into a safe helm command line; the message says why (names keys and
    flags, quotes no value beyond a short, cut prefix of a name)."""


@dataclass(frozen=True, order=True)
class HelmVersion:
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str) -> HelmVersion:
    """`helm version --short` ("v4.1.4+g05fa379") or the long BuildInfo form."""
    m = _VERSION.search(text or "")
    if not m:
        raise HelmArgsError(f"cannot read a helm version from {text.strip()[:80]!r}")
    return HelmVersion(int(m.group(1)), int(m.group(2)), int(m.group(3)))


@dataclass(frozen=True)
class ValuesPolicy:
    """Which values a chat user may override: glob patterns over dotted keys and values-file paths."""

    keys: Collection[str] = ()            # e.g. ("image.tag", "replicaCount", "*.image.tag")
    files: Collection[str] = ()           # e.g. ("/etc/helmbot/values/*.yaml")

    def check_key(self, key: str) -> None:
        if not _VALUE_KEY.match(key):
            raise HelmArgsError(f"invalid value key {key[:60]!r}: use dotted names like image.tag")
        if not any(fnmatch.fnmatchcase(key, pat) for pat in self.keys):
            raise HelmArgsError(f"value key {key!r} is not in the allow-list")

    def check_file(self, path: str) -> None:
        if path.startswith("-") or not any(fnmatch.fnmatchcase(path, pat) for pat in self.files):
            raise HelmArgsError(f"values file {path[:120]!r} is not in the allow-list")


def _release(name: str) -> str:
    if not isinstance(name, str) or len(name) > 53 or not _RELEASE.match(name):
        raise HelmArgsError(f"invalid release name {str(name)[:60]!r}: lowercase letters, digits, '-', '.'; "
                            "at most 53 characters")
    return name


def _namespace(ns: str) -> str:
    if not isinstance(ns, str) or len(ns) > 63 or not _NAMESPACE.match(ns):
        raise HelmArgsError(f"invalid namespace {str(ns)[:70]!r}")
    return ns


def _plain(what: str, value: str) -> str:
    if not value or value.startswith("-") or any(c in value for c in "\n\r\0"):
        raise HelmArgsError(f"invalid {what} {value[:80]!r}")
    return value


def timeout_arg(timeout: timedelta | str | int | float) -> str:
    """Go duration text for --timeout (helm rejects a bare number)."""
    td = timeout if isinstance(timeout, timedelta) else parse_duration(timeout)
    if td <= timedelta(0):
        raise HelmArgsError("timeout must be positive")
    return format_duration(td)


def _escape_set_value(value: str) -> str:
    # helm's strvals parser splits on ',' and treats '\' as an escape
    return value.replace("\\", "\\\\").replace(",", "\\,")


def _values_args(set_values: Mapping[str, str], set_string_values: Mapping[str, str],
                 values_files: Sequence[str], policy: ValuesPolicy | None) -> list[str]:
    if (set_values or set_string_values or values_files) and policy is None:
        raise HelmArgsError("values were given but no values allow-list is configured")
    out: list[str] = []
    for path in values_files:
        assert policy is not None
        policy.check_file(path)
        out += ["--values", path]
    for flag, mapping in (("--set", set_values), ("--set-string", set_string_values)):
        for key, value in mapping.items():
            assert policy is not None
            policy.check_key(key)
            out += [flag, f"{key}={_escape_set_value(str(value))}"]
    return out


def _wait_args(major: int, wait: bool | str, wait_for_jobs: bool) -> list[str]:
    out: list[str] = []
    if isinstance(wait, str):
        if major < 4:
            raise HelmArgsError(f"wait strategy {wait!r} needs helm 4")
        if wait not in ("watcher", "legacy", "hookOnly"):
            raise HelmArgsError(f"unknown wait strategy {wait!r} (watcher, legacy, hookOnly)")
        out.append(f"--wait={wait}")
    elif wait:
        out.append("--wait")
    if wait_for_jobs:
        if not wait:
            raise HelmArgsError("--wait-for-jobs needs --wait")
        out.append("--wait-for-jobs")
    return out


def upgrade_argv(release: str, chart: str, *, namespace: str, helm_major: int = 4, version: str | None = None,
                 timeout: timedelta | str | None = None, wait: bool | str = True, wait_for_jobs: bool = False,
                 rollback_on_failure: bool = False, install: bool = True, create_namespace: bool = False,
                 set_values: Mapping[str, str] | None = None,
                 set_string_values: Mapping[str, str] | None = None,
                 values_files: Sequence[str] = (), policy: ValuesPolicy | None = None,
                 description: str | None = None, labels: Mapping[str, str] | None = None,
                 reuse_values: bool = False) -> list[str]:
    """`helm upgrade --install RELEASE CHART ...` (without the binary)."""
    argv = ["upgrade", _release(release), _plain("chart", chart)]
    if install:
        argv.append("--install")
    argv += ["--namespace", _namespace(namespace)]
    if create_namespace:
        argv.append("--create-namespace")
    if version:
        argv += ["--version", _plain("chart version", version)]
    if timeout is not None:
        argv += ["--timeout", timeout_arg(timeout)]
    if rollback_on_failure:
        # helm 4 renamed --atomic; both imply waiting (helm 4: the watcher strategy unless one is named)
        argv.append("--rollback-on-failure" if helm_major >= 4 else "--atomic")
        if isinstance(wait, str):
            argv += _wait_args(helm_major, wait, False)
        if wait_for_jobs:
            argv.append("--wait-for-jobs")
    else:
        argv += _wait_args(helm_major, wait, wait_for_jobs)
    if reuse_values:
        argv.append("--reuse-values")
    argv += _values_args(set_values or {}, set_string_values or {}, values_files, policy)
    if description:
        argv += ["--description", description.replace("\n", " ")[:200]]
    if labels:
        if helm_major < 4:
            raise HelmArgsError("release labels need helm 4")
        for k, v in labels.items():
            if not re.match(r"^[A-Za-z0-9][-A-Za-z0-9_./]*$", k) or not re.match(r"^[-A-Za-z0-9_.]*$", v):
                raise HelmArgsError(f"invalid release label {k[:40]!r}={v[:40]!r}")
        argv += ["--labels", ",".join(f"{k}={v}" for k, v in labels.items())]
    return argv


def rollback_argv(release: str, revision: int | None = None, *, namespace: str, helm_major: int = 4,
                  timeout: timedelta | str | None = None, wait: bool | str = True,
                  wait_for_jobs: bool = False, no_hooks: bool = False,
                  cleanup_on_fail: bool = False) -> list[str]:
    """`helm rollback RELEASE [REVISION]`; without a revision helm goes back to the previous one."""
    argv = ["rollback", _release(release)]
    if revision is not None:
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
            raise HelmArgsError(f"invalid revision {revision!r}")
        argv.append(str(revision))
    argv += ["--namespace", _namespace(namespace)]
    if timeout is not None:
        argv += ["--timeout", timeout_arg(timeout)]
    argv += _wait_args(helm_major, wait, wait_for_jobs)
    if no_hooks:
        argv.append("--no-hooks")
    if cleanup_on_fail:
        argv.append("--cleanup-on-fail")
    return argv


def status_argv(release: str, *, namespace: str, revision: int | None = None) -> list[str]:
    argv = ["status", _release(release), "--namespace", _namespace(namespace), "--output", "json"]
    if revision is not None:
        argv += ["--revision", str(int(revision))]
    return argv


def history_argv(release: str, *, namespace: str, max_revisions: int | None = None) -> list[str]:
    argv = ["history", _release(release), "--namespace", _namespace(namespace), "--output", "json"]
    if max_revisions is not None:
        argv += ["--max", str(int(max_revisions))]
    return argv


def template_argv(release: str, chart: str, *, namespace: str = "default",
                  set_values: Mapping[str, str] | None = None, values_files: Sequence[str] = (),
                  policy: ValuesPolicy | None = None,
                  set_string_values: Mapping[str, str] | None = None) -> list[str]:
    """`helm template` renders locally (no cluster): used to preview and in tests."""
    return ["template", _release(release), _plain("chart", chart), "--namespace", _namespace(namespace),
            *_values_args(set_values or {}, set_string_values or {}, values_files, policy)]


def version_argv() -> list[str]:
    return ["version", "--short"]


def redact_argv(argv: Sequence[str]) -> list[str]:
    """Replace the values of --set-style flags with '***' (keys stay, for debugging)."""
    out: list[str] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            out.append(_redact_assignments(arg))
            redact_next = False
        elif arg in SET_FLAGS:
            out.append(arg)
            redact_next = True
        elif arg.startswith(tuple(f + "=" for f in SET_FLAGS)):
            flag, _, rest = arg.partition("=")
            out.append(f"{flag}={_redact_assignments(rest)}")
        else:
            out.append(arg)
    return out


def _redact_assignments(text: str) -> str:
    parts = re.split(r"(?<!\\),", text)
    return ",".join(p.split("=", 1)[0] + "=***" if "=" in p else "***" for p in parts)
