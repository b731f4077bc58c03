#!/usr/bin/env bash
# Debian packages the tests need, installed only when missing (quiet, idempotent; sudo when not root).
#   postgresql: the real server the store tests start on loopback (tests/pg.py); nothing is left running.
#   chromium: the real browser the demo page's tests drive headless with Playwright (tests/demo/test_browser.py).
#   fonts-noto-color-emoji: the bot's emoji in the demo's screenshots (tofu boxes without it).
# Add a package: one `need` line below (e.g. `need chromium /usr/bin/chromium`).
set -euo pipefail
missing=()
need() {  # need PACKAGE PATH-GLOB: the package is missing when nothing matches the glob
  local pkg=$1 pattern=$2
  compgen -G "$pattern" >/dev/null || missing+=("$pkg")
}
need postgresql '/usr/lib/postgresql/*/bin/initdb'
need chromium /usr/bin/chromium
need fonts-noto-color-emoji /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "[system-deps] missing ${missing[*]} and no apt-get here: install them with your package manager" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" != 0 ]; then SUDO=(sudo -n); fi
echo "[system-deps] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
