#!/usr/bin/env bash
# Installs what the web UI's build and browser tests need when it is missing: Node.js with npm (to build), and
# Debian's chromium (driven by playwright-core; `npx playwright install` cannot download browsers here).
# Quiet when everything is already there.
set -euo pipefail
pkgs=()
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
[ "${#pkgs[@]}" = 0 ] && exit 0

"$(dirname "$0")/../../../tests/tools/apt-install.sh" "ui prereqs" "${pkgs[@]}"
command -v chromium >/dev/null 2>&1 || { echo "ui prereqs: chromium still missing" >&2; exit 1; }
echo "ui prereqs: $(chromium --version 2>/dev/null | head -1) installed" >&2
