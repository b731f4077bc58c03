#!/usr/bin/env bash
# Every test: installs what is missing (system packages, venv, helm, kubectl), then lint, import contracts,
# types and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh
.venv/bin/python -m ruff check bot tests benchmarks scripts
.venv/bin/lint-imports
.venv/bin/mypy
# Two workers (pytest-xdist; a test file stays on one worker, so module fixtures are made once):
# HELMBOT_TEST_WORKERS=0 runs everything in this process.
workers=${HELMBOT_TEST_WORKERS:-2}
if [ "$workers" = 0 ]; then
  .venv/bin/python -m pytest "$@"
else
  .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
fi
