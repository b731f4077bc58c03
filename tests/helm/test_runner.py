"""The runner against the real helm v4 binary: commands that need no cluster, and failure paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.helm.args import HelmVersion, ValuesPolicy, template_argv
from bot.helm.runner import HelmError, HelmNotFound, HelmRunner, HelmTimeout, helm_message

CHART_YAML = "apiVersion: v2\nname: tiny\nversion: 0.3.0\nappVersion: \"2.0\"\n"
TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cfg
data:
  tag: {{ .Values.image.tag | quote }}
{{- if .Values.explode }}
{{ fail (printf "refusing to render with token %s" .Values.token) }}
{{- end }}
"""


@pytest.fixture(scope="module")
def helm_path() -> Path:
    try:
        from bot.sim.binaries import ensure_binaries

        return ensure_binaries().helm
    except Exception as exc:  # pragma: no cover - depends on the binary cache
        pytest.skip(f"real helm unavailable: {exc}")


@pytest.fixture
def runner(helm_path: Path, tmp_path: Path) -> HelmRunner:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    return HelmRunner(helm_path, kubeconfig=kubeconfig, helm_home=tmp_path / "helm", inherit_env=False,
                      policy=ValuesPolicy(keys=("image.tag", "explode", "token")))


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text(CHART_YAML)
    (root / "values.yaml").write_text("image:\n  tag: latest\nexplode: false\ntoken: none\n")
    (root / "templates" / "cm.yaml").write_text(TEMPLATE)
    return root


def test_version(runner: HelmRunner) -> None:
    v = runner.version()
    assert v >= HelmVersion(3, 0, 0)
    assert v == HelmVersion(4, 1, 4)        # the pinned binary from bot.sim.binaries
    assert runner.version() is v            # probed once


def test_template(runner: HelmRunner, chart: Path) -> None:
    policy = ValuesPolicy(keys=("image.tag",))
    result = runner.run(template_argv("shop", str(chart), namespace="prod", set_values={"image.tag": "v2"},
                                      policy=policy))
    [doc] = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert doc["metadata"]["name"] == "shop-cfg" and doc["data"]["tag"] == "v2"
    assert result.returncode == 0 and result.argv[0].endswith("helm")
    assert "image.tag=***" in result.argv


def test_nonexistent_chart_is_a_clear_error(runner: HelmRunner, tmp_path: Path) -> None:
    with pytest.raises(HelmError) as err:
        runner.run(template_argv("shop", str(tmp_path / "nope")))
    assert err.value.message == f'path "{tmp_path / "nope"}" not found'
    assert str(err.value) == f"helm template failed: {err.value.message}"
    assert err.value.returncode == 1


def test_values_are_redacted_from_errors(runner: HelmRunner, chart: Path) -> None:
    argv = template_argv("shop", str(chart), set_values={"explode": "true", "token": "s3cr3t-t0ken"},
                         policy=runner.policy)
    with pytest.raises(HelmError) as err:
        runner.run(argv)
    text = f"{err.value} {err.value.stderr} {err.value.argv}"
    assert "refusing to render with token ***" in err.value.message
    assert "s3cr3t-t0ken" not in text
    assert "token=***" in err.value.argv


def test_upgrade_without_cluster_reports_helms_message(runner: HelmRunner, chart: Path) -> None:
    with pytest.raises(HelmError) as err:
        runner.upgrade("shop", str(chart), "prod", timeout="30s", wait=True, set_values={"image.tag": "v9"})
    assert "kubernetes cluster unreachable" in err.value.message
    assert "--timeout" in err.value.argv and "30s" in err.value.argv
    assert "--wait" in err.value.argv and "image.tag=***" in err.value.argv


def test_status_of_missing_release_without_cluster(runner: HelmRunner) -> None:
    with pytest.raises(HelmError, match="helm status failed: kubernetes cluster unreachable"):
        runner.status("shop", "prod")


def test_run_refuses_a_shell_string(runner: HelmRunner) -> None:
    with pytest.raises(TypeError, match="never a shell string"):
        runner.run("version --short")  # type: ignore[arg-type]


def test_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(HelmNotFound, match="helm binary not found"):
        HelmRunner(tmp_path / "no-helm").run(["version"])


def test_process_timeout() -> None:
    # a real process that outlives its deadline (/bin/sleep stands in for a hung helm)
    with pytest.raises(HelmTimeout, match="did not finish within 200ms"):
        HelmRunner("/bin/sleep").run(["5"], timeout=0.2)


def test_helm_message() -> None:
    stderr = "level=WARN msg=\"something\"\nError: UPGRADE FAILED: pre-upgrade hooks failed: job x failed\n"
    assert helm_message(stderr) == "UPGRADE FAILED: pre-upgrade hooks failed: job x failed"
    assert helm_message("plain failure\nmore") == "plain failure"
    assert helm_message("") == "no error message"
