"""The helm calls a deploy plan needs: render the new chart locally, read a release's values.

`helm template` renders without the cluster: ``--is-upgrade`` so templates see .Release.IsUpgrade as the
upgrade will, ``--include-crds`` so crds/ shows up, never ``--validate`` (it needs the cluster). One thing
it cannot know is the revision: .Release.Revision is always 1 in its output.

Values read with `helm get values` can hold secrets: they are returned to the caller and never logged or
put in an error (HelmResult.json's errors never quote the output).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from bot.helm.args import HelmArgsError, ValuesPolicy, status_argv, template_argv
from bot.helm.runner import HelmError, HelmRunner

__all__ = ["ChartInfo", "chart_info", "get_values", "get_values_argv", "render_argv", "render_chart"]

_TIMEOUT = timedelta(minutes=2)
_KUBE_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+(\.[0-9]+)?$")


def render_argv(release: str, chart: str, *, namespace: str, version: str | None = None,
                set_values: Mapping[str, str] | None = None, values_files: Sequence[str] = (),
                is_upgrade: bool = False, kube_version: str | None = None,
                policy: ValuesPolicy | None = None,
                set_string_values: Mapping[str, str] | None = None) -> list[str]:
    """`helm template` as a plan needs it (template_argv plus the version, upgrade and CRD flags)."""
    argv = template_argv(release, chart, namespace=namespace, set_values=set_values,
                         values_files=values_files, policy=policy, set_string_values=set_string_values)
    argv += _version_args(version)
    if is_upgrade:
        argv.append("--is-upgrade")
    if kube_version is not None:
        if not _KUBE_VERSION.match(kube_version):
            raise HelmArgsError(f"invalid Kubernetes version {kube_version[:40]!r}: e.g. 1.35 or v1.35.0")
        argv += ["--kube-version", kube_version]
    argv.append("--include-crds")
    return argv


def _version_args(version: str | None) -> list[str]:
    if not version:
        return []
    if version.startswith("-") or any(c in version for c in "\n\r\0 "):
        raise HelmArgsError(f"invalid chart version {version[:40]!r}")
    return ["--version", version]


def render_chart(runner: HelmRunner, release: str, chart: str, *, namespace: str, version: str | None,
                 set_values: Mapping[str, str] | None, values_files: Sequence[str], is_upgrade: bool,
                 kube_version: str | None = None, set_string_values: Mapping[str, str] | None = None) -> str:
    """Every document the chart renders, hooks included (parse with RenderedChart.from_template)."""
    argv = render_argv(release, chart, namespace=namespace, version=version, set_values=set_values,
                       values_files=values_files, is_upgrade=is_upgrade, kube_version=kube_version,
                       policy=runner.policy, set_string_values=set_string_values)
    return runner.run(argv, timeout=_TIMEOUT).stdout


@dataclass(frozen=True)
class ChartInfo:
    name: str
    version: str
    app_version: str


def chart_info(runner: HelmRunner, chart: str, *, version: str | None = None) -> ChartInfo:
    """The chart's name and versions (`helm show chart`), for the plan's "chart 1.0.0 → 1.5.0" line."""
    if not chart or chart.startswith("-") or any(c in chart for c in "\n\r\0"):
        raise HelmArgsError(f"invalid chart {chart[:80]!r}")
    argv = ["show", "chart", chart, *_version_args(version)]
    out = runner.run(argv, timeout=_TIMEOUT).stdout
    try:
        meta = yaml.safe_load(out)
    except yaml.YAMLError:
        meta = None
    if not isinstance(meta, dict):
        raise HelmError("helm show chart printed no chart metadata", argv=argv)
    return ChartInfo(str(meta.get("name") or ""), str(meta.get("version") or ""),
                     str(meta.get("appVersion") or ""))


def get_values_argv(release: str, *, namespace: str, revision: int | None = None,
                    all_values: bool = False) -> list[str]:
    if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int) or revision < 1):
        raise HelmArgsError(f"invalid revision {revision!r}")
    # `helm status` takes the same arguments; its builder validates the release name and namespace
    argv = ["get", "values", *status_argv(release, namespace=namespace, revision=revision)[1:]]
    if all_values:
        argv.append("--all")
    return argv


def get_values(runner: HelmRunner, release: str, *, namespace: str, revision: int | None = None,
               all_values: bool = False) -> dict[str, Any]:
    """The values the user supplied for a revision (``all_values``: merged with the chart's defaults)."""
    result = runner.run(get_values_argv(release, namespace=namespace, revision=revision,
                                        all_values=all_values), timeout=_TIMEOUT)
    values = result.json()
    if values is None:                      # helm prints "null" when nothing was supplied
        return {}
    if not isinstance(values, dict):
        raise HelmError(f"helm get values printed a {type(values).__name__}, expected an object",
                        argv=result.argv, returncode=result.returncode)
    return values
