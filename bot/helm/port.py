"""The application's HelmPort on the helm CLI: one runner per cluster (its kubeconfig and context).

Argument lists only; values never reach a log line (the runner redacts `--set` values from anything it
logs or raises). helm's own --timeout bounds each hook; the process gets a generous multiple of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from bot.helm.args import ValuesPolicy
from bot.helm.preview import ChartInfo, chart_info, get_values, render_chart
from bot.helm.runner import HelmRunner


class TargetLike(Protocol):
    @property
    def cluster(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def release(self) -> str: ...


class HelmCli:
    def __init__(self, helm: str | os.PathLike[str], *, kubeconfig: str | None = None,
                 kube_context: str | None = None, helm_home: str | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        # Values were checked against the release's allow-list before they got here; the runner's policy
        # only has to let them through as --set arguments.
        self.runner = HelmRunner(helm, kubeconfig=kubeconfig, kube_context=kube_context, helm_home=helm_home,
                                 env=env, policy=ValuesPolicy(keys=("*",), files=("*",)))

    def upgrade(self, target: TargetLike, *, chart: str, version: str | None, values: Mapping[str, str],
                values_files: Sequence[str], timeout: timedelta, description: str,
                create_namespace: bool, wait: bool, string_values: Mapping[str, str] | None = None) -> None:
        self.runner.upgrade(target.release, chart, target.namespace, timeout=timeout, version=version,
                            wait=wait, install=True, create_namespace=create_namespace,
                            set_values=dict(values), set_string_values=dict(string_values or {}),
                            values_files=list(values_files), description=description)

    def rollback(self, target: TargetLike, *, revision: int | None, timeout: timedelta, wait: bool) -> None:
        self.runner.rollback(target.release, target.namespace, revision, timeout=timeout, wait=wait)

    def render(self, target: TargetLike, *, chart: str, version: str | None, values: Mapping[str, str],
               values_files: Sequence[str], is_upgrade: bool,
               string_values: Mapping[str, str] | None = None) -> str:
        return render_chart(self.runner, target.release, chart, namespace=target.namespace, version=version,
                            set_values=dict(values), values_files=list(values_files), is_upgrade=is_upgrade,
                            set_string_values=dict(string_values or {}))

    def get_values(self, target: TargetLike, *, revision: int | None = None) -> dict[str, Any]:
        return get_values(self.runner, target.release, namespace=target.namespace, revision=revision)

    def chart_info(self, target: TargetLike, *, chart: str, version: str | None) -> ChartInfo:
        return chart_info(self.runner, chart, version=version)
