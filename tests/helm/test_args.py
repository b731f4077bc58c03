from __future__ import annotations

from datetime import timedelta

import pytest

from bot.helm.args import (
    HelmArgsError,
    HelmVersion,
    ValuesPolicy,
    history_argv,
    parse_version,
    redact_argv,
    rollback_argv,
    status_argv,
    template_argv,
    timeout_arg,
    upgrade_argv,
    version_argv,
)

POLICY = ValuesPolicy(keys=("image.tag", "replicaCount", "*.image.tag"),
                      files=("/etc/helmbot/values/*.yaml",))


def test_upgrade_helm4() -> None:
    argv = upgrade_argv("shop", "oci://registry/charts/shop", namespace="prod", version="1.2.3",
                        timeout="10m", wait=True, wait_for_jobs=True,
                        set_string_values={"image.tag": "v2"}, policy=POLICY,
                        values_files=["/etc/helmbot/values/prod.yaml"], description="by @alice via Slack",
                        labels={"helmbot/request": "r-42"})
    assert argv == [
        "upgrade", "shop", "oci://registry/charts/shop", "--install", "--namespace", "prod",
        "--version", "1.2.3", "--timeout", "10m", "--wait", "--wait-for-jobs",
        "--values", "/etc/helmbot/values/prod.yaml", "--set-string", "image.tag=v2",
        "--description", "by @alice via Slack", "--labels", "helmbot/request=r-42",
    ]


def test_rollback_on_failure_helm4_vs_atomic_helm3() -> None:
    v4 = upgrade_argv("shop", "./chart", namespace="prod", rollback_on_failure=True, wait_for_jobs=True,
                      timeout=timedelta(seconds=90))
    assert "--rollback-on-failure" in v4 and "--atomic" not in v4 and "--wait" not in v4
    assert v4[v4.index("--timeout") + 1] == "1m30s"
    assert "--wait-for-jobs" in v4
    v3 = upgrade_argv("shop", "./chart", namespace="prod", helm_major=3, rollback_on_failure=True)
    assert "--atomic" in v3 and "--rollback-on-failure" not in v3
    legacy = upgrade_argv("shop", "./chart", namespace="prod", rollback_on_failure=True, wait="legacy")
    assert legacy[-2:] == ["--rollback-on-failure", "--wait=legacy"]


def test_wait_strategies() -> None:
    assert "--wait=hookOnly" in upgrade_argv("a", "c", namespace="n", wait="hookOnly")
    no_wait = upgrade_argv("a", "c", namespace="n", wait=False)
    assert not any(a.startswith("--wait") for a in no_wait)
    with pytest.raises(HelmArgsError, match="needs helm 4"):
        upgrade_argv("a", "c", namespace="n", wait="watcher", helm_major=3)
    with pytest.raises(HelmArgsError, match="unknown wait strategy"):
        upgrade_argv("a", "c", namespace="n", wait="forever")
    with pytest.raises(HelmArgsError, match="--wait-for-jobs needs --wait"):
        upgrade_argv("a", "c", namespace="n", wait=False, wait_for_jobs=True)
    with pytest.raises(HelmArgsError, match="labels need helm 4"):
        upgrade_argv("a", "c", namespace="n", helm_major=3, labels={"a": "b"})


def test_values_allow_list() -> None:
    argv = upgrade_argv("a", "c", namespace="n", policy=POLICY, set_values={"replicaCount": "3",
                                                                           "worker.image.tag": "a,b\\c"})
    assert argv[-4:] == ["--set", "replicaCount=3", "--set", "worker.image.tag=a\\,b\\\\c"]
    with pytest.raises(HelmArgsError, match=r"'resources\.limits\.cpu' is not in the allow-list"):
        upgrade_argv("a", "c", namespace="n", policy=POLICY, set_values={"resources.limits.cpu": "2"})
    with pytest.raises(HelmArgsError, match="invalid value key"):
        upgrade_argv("a", "c", namespace="n", policy=POLICY, set_values={"image.tag,evil=1": "x"})
    with pytest.raises(HelmArgsError, match="no values allow-list"):
        upgrade_argv("a", "c", namespace="n", set_values={"image.tag": "x"})
    with pytest.raises(HelmArgsError, match=r"values file '/tmp/x\.yaml' is not in the allow-list"):
        upgrade_argv("a", "c", namespace="n", policy=POLICY, values_files=["/tmp/x.yaml"])


@pytest.mark.parametrize("name", ["--kubeconfig=/x", "Shop", "a_b", "", "x" * 54, "-x"])
def test_flag_injection_and_bad_names_rejected(name: str) -> None:
    with pytest.raises(HelmArgsError, match="invalid release name"):
        upgrade_argv(name, "./chart", namespace="prod")


def test_bad_namespace_chart_version() -> None:
    with pytest.raises(HelmArgsError, match="invalid namespace"):
        status_argv("shop", namespace="--all-namespaces")
    with pytest.raises(HelmArgsError, match="invalid chart"):
        upgrade_argv("shop", "--post-renderer=/bin/sh", namespace="prod")
    with pytest.raises(HelmArgsError, match="invalid chart version"):
        upgrade_argv("shop", "./c", namespace="prod", version="-1")


def test_rollback() -> None:
    assert rollback_argv("shop", 3, namespace="prod", timeout="5m", wait=True) == [
        "rollback", "shop", "3", "--namespace", "prod", "--timeout", "5m", "--wait"]
    assert rollback_argv("shop", namespace="prod", wait=False, no_hooks=True) == [
        "rollback", "shop", "--namespace", "prod", "--no-hooks"]
    for bad in (0, -1, True):
        with pytest.raises(HelmArgsError, match="invalid revision"):
            rollback_argv("shop", bad, namespace="prod")  # type: ignore[arg-type]


def test_status_history_template_version() -> None:
    assert status_argv("shop", namespace="prod", revision=2) == [
        "status", "shop", "--namespace", "prod", "--output", "json", "--revision", "2"]
    assert history_argv("shop", namespace="prod", max_revisions=5) == [
        "history", "shop", "--namespace", "prod", "--output", "json", "--max", "5"]
    assert template_argv("shop", "./c") == ["template", "shop", "./c", "--namespace", "default"]
    assert version_argv() == ["version", "--short"]


def test_timeout_arg() -> None:
    assert timeout_arg("300") == "5m"
    assert timeout_arg("1.5h") == "1h30m"
    assert timeout_arg(timedelta(seconds=72)) == "1m12s"
    with pytest.raises(HelmArgsError, match="positive"):
        timeout_arg("0s")
    with pytest.raises(ValueError, match="unknown unit"):
        timeout_arg("5x")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("v4.1.4+g05fa379", HelmVersion(4, 1, 4)),
        ("v3.14.2+gc309b6f\n", HelmVersion(3, 14, 2)),
        ('version.BuildInfo{Version:"v3.9.0", GitCommit:"7ceeda6c"}', HelmVersion(3, 9, 0)),
        ("v4.0.0-rc.1+gabc", HelmVersion(4, 0, 0)),
    ],
)
def test_parse_version(text: str, version: HelmVersion) -> None:
    assert parse_version(text) == version
    assert str(version).startswith("v")


def test_parse_version_error() -> None:
    with pytest.raises(HelmArgsError, match="cannot read a helm version"):
        parse_version("command not found")
    assert HelmVersion(3, 14, 2) < HelmVersion(4, 0, 0)


def test_redact_argv() -> None:
    argv = ["helm", "upgrade", "x", "c", "--set", "db.password=hunter2,image.tag=v1",
            "--set-string=token=abc", "--set-json", 'cfg={"k": 1}', "--timeout", "5m"]
    assert redact_argv(argv) == ["helm", "upgrade", "x", "c", "--set", "db.password=***,image.tag=***",
                                 "--set-string=token=***", "--set-json", "cfg=***", "--timeout", "5m"]
