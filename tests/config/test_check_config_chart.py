"""`helmbot check-config` accepts the config file the chart renders into its ConfigMap for every chart/ci
values set (the file the pod reads at /etc/helmbot/config.yaml), and refuses a rendered config whose values
the chart's schema let through but the bot cannot run with, naming the key and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.support import CI_VALUES, render
from tests.config.test_check_config_cli import check_config

SHOP = ["auth.existingSecret=slack", "config.releases[0].name=shop", "config.releases[0].namespace=shop",
        "config.releases[0].chart=./charts/shop", "config.releases[0].channel=C0123456789",
        "config.releases[0].deployers[0]=U0123ABC"]


def _rendered_config(tmp_path: Path, files: list[Path], sets: list[str]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(render(files, sets).one("ConfigMap")["data"]["config.yaml"])
    return path


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_the_config_the_chart_renders_passes(values: Path, tmp_path: Path) -> None:
    out = render([values])
    proc = check_config(str(_rendered_config(tmp_path, [values], [])))
    assert proc.returncode == 0, proc.stderr
    releases = len(out.config["releases"])
    store = "postgresql" if out.config["state"]["url"].startswith("postgres") else "sqlite"
    assert proc.stdout.startswith(f"ok: {releases} release{'s' if releases != 1 else ''} in "), proc.stdout
    assert proc.stdout.rstrip().endswith(f"{out.config['slack']['mode']} mode, {store} store"), proc.stdout


def test_the_defaults_with_one_release_pass(tmp_path: Path) -> None:
    proc = check_config(str(_rendered_config(tmp_path, [], SHOP)))
    assert (proc.returncode, proc.stdout) == (0, "ok: 1 release in 1 cluster, http mode, sqlite store\n")


@pytest.mark.parametrize(("sets", "says"), [
    (["config.releases[0].allowed_values[0]=image tag"],
     'releases[0].allowed_values[0] (line 28): "image tag" is not a valid value key'),
    (["config.releases[0].cluster=prod"],
     'releases[0].cluster (line 29): unknown cluster "prod": there is no clusters: section'),
    (["config.releases[0].protected=true"],
     "releases[0].approvers (line 33): protected: true needs approvers"),
], ids=["bad-value-key", "unknown-cluster", "protected-without-approvers"])
def test_values_the_schema_lets_through_are_refused_with_the_key_and_line(
        tmp_path: Path, sets: list[str], says: str) -> None:
    proc = check_config(str(_rendered_config(tmp_path, [], [*SHOP, *sets])))
    assert proc.returncode == 3 and proc.stdout == ""
    assert says in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
