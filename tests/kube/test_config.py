"""Kubeconfig loading: every way it can go wrong ends in a one-line KubeConfigError, never a library trace."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.kube.config import default_namespace, load_configuration
from bot.kube.errors import KubeConfigError


def write_kubeconfig(path: Path, server: str = "http://127.0.0.1:1", token: str = "s3cr3t-token") -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sim",
        "clusters": [{"name": "sim", "cluster": {"server": server}},
                     {"name": "other", "cluster": {"server": "http://127.0.0.1:2"}}],
        "users": [{"name": "sim", "user": {"token": token}}],
        "contexts": [{"name": "sim", "context": {"cluster": "sim", "user": "sim"}},
                     {"name": "other", "context": {"cluster": "other", "user": "sim"}}],
    }))
    return path


def test_explicit_kubeconfig_and_context(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config")
    assert load_configuration(str(path)).host == "http://127.0.0.1:1"
    assert load_configuration(str(path), "other").host == "http://127.0.0.1:2"


def test_kubeconfig_env_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_kubeconfig(tmp_path / "config", server="http://127.0.0.1:7")
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert load_configuration().host == "http://127.0.0.1:7"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="does not exist"):
        load_configuration(str(tmp_path / "nope"))


def test_unknown_context_names_it_without_the_token(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "config")
    with pytest.raises(KubeConfigError) as info:
        load_configuration(str(path), "prod")
    assert "prod" in str(info.value)
    assert "s3cr3t-token" not in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["not: [valid", "just a string", "{}"])
def test_garbage_kubeconfig(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(KubeConfigError, match="bad kubeconfig"):
        load_configuration(str(path))


def test_nothing_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeConfigError, match="no kubeconfig found"):
        load_configuration()


def test_namespace_follows_helm_then_the_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_kubeconfig(tmp_path / "config")
    data = yaml.safe_load(path.read_text())
    data["contexts"][1]["context"]["namespace"] = "payments"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.delenv("HELM_NAMESPACE", raising=False)
    assert default_namespace(str(path)) == "default"  # the current context names none
    assert default_namespace(str(path), "other") == "payments"
    monkeypatch.setenv("HELM_NAMESPACE", "shop")
    assert default_namespace(str(path), "other") == "shop"
