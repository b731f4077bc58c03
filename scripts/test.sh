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
.venv/bin/python -m pytest "$@"
