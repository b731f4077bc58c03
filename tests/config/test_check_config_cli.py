"""`helmbot check-config` as users and CI run it: the installed entry point in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELMBOT = Path(sys.executable).parent / "helmbot"

BAD = """\
slack:
  mode: sockt
releases:
  - name: shop
    chart: ./charts/shop
    channel: C0123ABC
    deployers: [U0123ABC]
    allowed_values: [image, replicas, "image tag"]
    chanel: C0123ABC
"""


def check_config(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HELMBOT), "check-config", *args], capture_output=True, text=True, timeout=60)


def test_the_example_passes() -> None:
    proc = check_config(str(ROOT / "config" / "helmbot.example.yaml"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, "ok: 3 releases in 2 clusters, http mode, sqlite store\n", "")


def test_the_minimal_config_passes() -> None:
    proc = check_config(str(ROOT / "config" / "helmbot.minimal.yaml"))
    assert (proc.returncode, proc.stdout) == (0, "ok: 1 release in 1 cluster, http mode, sqlite store\n")


def test_problems_one_per_line_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "helmbot.yaml"
    path.write_text(BAD)
    proc = check_config(str(path))
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"{path}: 3 problems",
        'slack.mode (line 2): "sockt" is not one of http, socket (did you mean "socket"?)',
        'releases[0].allowed_values[2] (line 8): "image tag" is not a valid value key: use dotted names of '
        "letters, digits, '_' and '-', with * or ? as wildcards (e.g. image.tag, *.image.tag)",
        'releases[0].chanel (line 9): unknown key "chanel" (did you mean "channel"?)',
    ]


def test_json_output(tmp_path: Path) -> None:
    path = tmp_path / "helmbot.yaml"
    path.write_text(BAD)
    proc = check_config(str(path), "--output", "json")
    assert proc.returncode == 3 and proc.stderr == ""
    result = json.loads(proc.stdout)
    assert result["ok"] is False
    assert [(p["path"], p["line"]) for p in result["problems"]] == [
        ("slack.mode", 2), ("releases[0].allowed_values[2]", 8), ("releases[0].chanel", 9)]

    ok = check_config(str(ROOT / "config" / "helmbot.minimal.yaml"), "-o", "json")
    data = json.loads(ok.stdout)
    assert ok.returncode == 0
    assert (data["ok"], data["releases"], data["clusters"], data["mode"], data["store"]) == (
        True, 1, 1, "http", "sqlite")
    assert data["config"]["releases"][0]["deployers"] == ["U0123ABC", "U0456DEF"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "the file: cannot read it: No such file or directory"),
        (b"", "the file: the file is empty"),
        (b"\xff\xfe\x00bad", "the file: it is not UTF-8 text"),
        (b"releases: [\n", "the file (line 2): YAML syntax error"),
    ],
    ids=["missing-file", "empty-file", "not-utf8", "yaml-syntax"],
)
def test_unusable_files_exit_3_without_a_traceback(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "helmbot.yaml"
    if content is not None:
        path.write_bytes(content)
    proc = check_config(str(path))
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[1].startswith(message)


def test_usage_error_exits_3() -> None:
    proc = check_config()
    assert proc.returncode == 3
    assert "PATH" in proc.stderr


def test_a_token_in_the_file_is_never_printed(tmp_path: Path) -> None:
    path = tmp_path / "helmbot.yaml"
    path.write_text("slack:\n  team_id: xoxb-1111-2222-secretsecret\n" + BAD.split("\n", 2)[2])
    for output in ("text", "json"):
        proc = check_config(str(path), "-o", output)
        assert proc.returncode == 3
        assert "secretsecret" not in proc.stdout + proc.stderr
        assert "looks like a Slack token" in proc.stdout + proc.stderr
