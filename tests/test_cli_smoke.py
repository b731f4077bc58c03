import subprocess
import sys


def test_help_lists_subcommands() -> None:
    out = subprocess.run([sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True)
    assert "watch" in out.stdout
    assert "sim" in out.stdout
