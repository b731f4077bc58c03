"""The import contracts (pyproject.toml) hold, and they break on a back-arrow or a cycle.

Each case copies the `bot` package and pyproject.toml into a temporary directory, adds one import there,
and runs lint-imports on the copy: the real tree is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__", "charts"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, statement: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = tree / module.replace(".", "/") / "__init__.py"
    path.write_text(path.read_text() + f"\n\ndef _added() -> None:\n    {statement}  # noqa\n")


def test_the_contracts_hold_for_the_tree_as_it_is(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        # a cycle between siblings that no layers contract names (inside bot.core.releases)
        ("bot.core.releases.records", "import bot.core.releases.storage",
         "no import cycles between sibling modules"),
        # the cycle status.py used to hide in a function: a pod rule's helper reaching back to the dispatch
        ("bot.core.status.objects", "import bot.core.status.dispatch", "bot.core.status: dispatch"),
        # back-arrows across the bot's layers: the core reaching for an adapter, errors for the core
        ("bot.core.model.values", "import bot.kube.client", "the bot is layered"),
        ("bot.errors", "import bot.core.events", "the bot is layered"),
        # adapters are independent of each other
        ("bot.helm.runner", "import bot.kube.errors", "the bot is layered"),
        # inside the core: the vocabulary never imports the rules built on it
        ("bot.core.model.states", "import bot.core.tracking", "bot.core is layered"),
        # only entry points may import the Kubernetes stand-in
        ("bot.kube.runner", "import bot.sim.cluster", "only entry points"),
    ],
)
def test_a_back_arrow_or_a_cycle_breaks_the_build(tree: Path, module: str, statement: str,
                                                  broken: str) -> None:
    add_import(tree, module, statement)
    result = lint(tree)
    assert result.returncode != 0
    assert "Broken contracts" in result.stdout, result.stdout
    report = " ".join(result.stdout.split("Broken contracts", 1)[1].split())  # lint-imports wraps names
    assert broken in report, result.stdout
