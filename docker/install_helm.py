"""Fetch helm's official release archive, check its sha256, install the binary (the image's builder stage).

Written in Python so the builder needs nothing beyond the python image (no curl). The checksum is never
optional: anything but 64 hex digits (a placeholder, an empty build arg) stops the build with a message.
Usage: install_helm.py VERSION ARCH SHA256 DEST [--url URL]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

RELEASE_URL = "https://get.helm.sh/helm-{version}-linux-{arch}.tar.gz"
SHA256_RE = re.compile(r"[0-9a-f]{64}")


class InstallError(Exception):
    pass


def check_sha256_arg(sha256: str) -> str:
    value = sha256.strip().lower()
    if not SHA256_RE.fullmatch(value):
        raise InstallError(
            f"HELM_SHA256 must be the 64-hex-digit sha256 of the release archive, got {sha256!r}: take it "
            "from helm's release notes or https://get.helm.sh/helm-VERSION-linux-ARCH.tar.gz.sha256sum"
        )
    return value


def verified(archive: bytes, sha256: str, source: str) -> bytes:
    actual = hashlib.sha256(archive).hexdigest()
    if actual != sha256:
        raise InstallError(f"sha256 mismatch for {source}: expected {sha256}, got {actual}")
    return archive


def extract_helm(archive: bytes, arch: str, dest: Path) -> None:
    member = f"linux-{arch}/helm"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        try:
            info = tar.getmember(member)
        except KeyError:
            raise InstallError(f"{member} is not in the archive") from None
        if not info.isfile():
            raise InstallError(f"{member} in the archive is not a regular file")
        data = tar.extractfile(info)
        assert data is not None
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data.read())
    dest.chmod(0o755)


def install(version: str, arch: str, sha256: str, dest: Path, url: str | None = None) -> None:
    expected = check_sha256_arg(sha256)
    source = url or RELEASE_URL.format(version=version, arch=arch)
    with urllib.request.urlopen(source, timeout=120) as response:  # https, or a test's file://
        archive = response.read()
    extract_helm(verified(archive, expected, source), arch, dest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("arch")
    parser.add_argument("sha256")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--url", help="archive URL (default: helm's official release URL)")
    args = parser.parse_args(argv)
    try:
        install(args.version, args.arch, args.sha256, args.dest, args.url)
    except InstallError as exc:
        print(f"install_helm: error: {exc}", file=sys.stderr)
        return 1
    print(f"install_helm: helm {args.version} ({args.arch}) installed at {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
