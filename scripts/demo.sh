#!/usr/bin/env bash
# helmbot's Slack app on this machine, no Slack and no cluster: set up (.venv, helm, kubectl), then
# `helmbot demo`: stand-ins for Kubernetes and Slack, the bot, the example releases, and a local page that
# behaves like a Slack channel (its URL is printed). Ctrl-C stops everything. Arguments go to `helmbot demo`:
#   bash scripts/demo.sh --tour          the stories of helmbot's users, played for you
#   bash scripts/demo.sh --no-browser    the channel in this terminal
#   bash scripts/demo.sh --port 8400     another port (a second demo runs side by side)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/helmbot demo "$@"
